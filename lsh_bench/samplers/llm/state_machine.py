"""The state machine that turns an LLM *program* into rows (docs/protocol.md, "The LLM generator", step 3).

Pure numpy, no LLM: a program is a list of operations on a state (one value
per column, in the encoded space the samplers work in — categorical columns
hold their codes):

- ``init``: the state becomes a start row, drawn at random (seeded) from
  ``start_rows``. The generator passes the example sample shown to the LLM in
  that round, so a program starts from a real minority row; in zero-shot it
  passes one row of range mid-points (there is no real row to start from).
  A program also starts initialised, as if it began with ``init``.
- ``set_to(var, value)``: the variable takes ``value``.
- ``change_by(var, delta)``: the variable moves by ``delta`` (numeric only).
- ``output``: emits the current state, jittered per variable by its
  distribution, clipped to its [low, high], integers rounded, booleans in
  {0, 1}, categoricals kept to valid codes (never jittered: a code has no
  neighbours).

After every ``set_to``/``change_by`` the state is clipped to [low, high], so a
long run of ``change_by`` cannot leave the range and pin every later output
to a bound.

Why a program and not rows: the LLM states *how* rows vary (the paper's
design), and every emitted value is checked here, whatever the LLM wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

Kind = Literal["number", "integer", "boolean", "categorical"]
Distribution = Literal["normal", "truncated normal", "uniform", "exponential", "none"]
OpName = Literal["init", "set_to", "change_by", "output"]

DISTRIBUTIONS: tuple[str, ...] = ("normal", "truncated normal", "uniform", "exponential", "none")

# Rejection sampling for the truncated normal: tries before falling back to clipping.
_TRUNC_TRIES = 20


class ProgramError(ValueError):
    """A program or variable list the state machine cannot execute (a bug upstream:
    the generator validates LLM output before it gets here)."""


@dataclass(frozen=True)
class Variable:
    """One column as the state machine sees it (validated LLM *variables* entry).

    ``low``/``high`` bound every emitted value; for categoricals they are codes.
    ``scale`` is the jitter's spread: the standard deviation (normal, truncated
    normal), the half-width (uniform) or the mean absolute jitter (exponential,
    applied with a random sign, i.e. a Laplace jitter — a one-sided jitter
    would shift every row upwards).
    """

    name: str
    kind: Kind
    low: float
    high: float
    distribution: Distribution = "none"
    scale: float = 0.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.low) and np.isfinite(self.high) and self.low <= self.high):
            raise ProgramError(f"variable {self.name!r}: need finite low <= high, got [{self.low}, {self.high}]")
        if self.distribution not in DISTRIBUTIONS:
            raise ProgramError(f"variable {self.name!r}: unknown distribution {self.distribution!r}")
        if not (np.isfinite(self.scale) and self.scale >= 0):
            raise ProgramError(f"variable {self.name!r}: scale must be finite and >= 0, got {self.scale}")


@dataclass(frozen=True)
class Op:
    """One program operation; ``var``/``value`` unused by ``init`` and ``output``."""

    op: OpName
    var: str | None = None
    value: float | None = None


def _jitter(v: Variable, x: float, rng: np.random.Generator) -> float:
    s = v.scale
    if v.kind == "categorical" or v.distribution == "none" or s == 0:
        return x
    if v.distribution == "normal":
        return x + rng.normal(0.0, s)
    if v.distribution == "uniform":
        return x + rng.uniform(-s, s)
    if v.distribution == "exponential":
        return x + rng.choice((-1.0, 1.0)) * rng.exponential(s)
    # truncated normal: normal around x, redrawn until inside [low, high]
    for _ in range(_TRUNC_TRIES):
        y = x + rng.normal(0.0, s)
        if v.low <= y <= v.high:
            return y
    return y


def finish_value(v: Variable, x: float) -> float:
    """Clip to [low, high]; round integers, booleans and categorical codes."""
    x = float(np.clip(x, v.low, v.high))
    if v.kind == "number":
        return x
    r = float(np.round(x))
    if r < v.low:
        r = float(np.ceil(v.low))
    if r > v.high:
        r = float(np.floor(v.high))
    if v.kind == "boolean":
        return float(min(max(r, 0.0), 1.0))
    return r


def run_program(
    ops: Sequence[Op],
    variables: Sequence[Variable],
    start_rows: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Execute ``ops``; one row per ``output`` (shape: n_outputs x n_variables).

    ``variables`` are in column order; ``start_rows`` has one column per
    variable. Unknown variable names, ``change_by`` on a categorical and
    non-finite values raise ``ProgramError``.
    """
    start_rows = np.asarray(start_rows, dtype=float)
    if start_rows.ndim != 2 or start_rows.shape[1] != len(variables) or len(start_rows) == 0:
        raise ProgramError(f"start_rows must be a non-empty (n, {len(variables)}) matrix, got {start_rows.shape}")
    index = {v.name: j for j, v in enumerate(variables)}

    def start() -> np.ndarray:
        row = start_rows[rng.integers(len(start_rows))].copy()
        return np.array([np.clip(x, v.low, v.high) for x, v in zip(row, variables)])

    state = start()
    rows: list[list[float]] = []
    for k, op in enumerate(ops):
        if op.op == "init":
            state = start()
        elif op.op == "output":
            rows.append([finish_value(v, _jitter(v, state[j], rng)) for j, v in enumerate(variables)])
        elif op.op in ("set_to", "change_by"):
            if op.var not in index:
                raise ProgramError(f"op {k} ({op.op}): unknown variable {op.var!r}")
            if op.value is None or not np.isfinite(op.value):
                raise ProgramError(f"op {k} ({op.op} {op.var}): value must be finite, got {op.value}")
            j = index[op.var]
            v = variables[j]
            if op.op == "change_by":
                if v.kind == "categorical":
                    raise ProgramError(f"op {k}: change_by on categorical variable {op.var!r}")
                state[j] = state[j] + op.value
            else:
                state[j] = op.value
            state[j] = np.clip(state[j], v.low, v.high)
        else:
            raise ProgramError(f"op {k}: unknown operation {op.op!r}")
    if not rows:
        return np.empty((0, len(variables)))
    return np.asarray(rows, dtype=float)
