"""The paper's state machine, operation for operation (``llm.generator=paper``).

A faithful port of the paper's ``datagen/mcutil/state_obj_ops.py`` and
``datagen/mcutil/dists.py`` (github doheonhan/LSH). The guarded machine
(``state_machine.py``) starts from real rows, clips and rounds; this one
does what the paper's code did, so LM and LS can be rerun as the paper ran
them:

- the state is a dict, empty before the first ``init``;
- ``init``: every declared variable becomes 0 (``False`` for units
  ``"true or false"``) — not a real row;
- ``set_to(var, value)``: ``state[var] = value`` (a name that is not a
  declared variable is added to the state as it is);
- ``change_by(var, value)``: ``state[var] += value``;
- ``output``: emits a copy of the state in which every variable is drawn
  from its declared distribution around its current value:

  ========================  ============================================
  ``normal``                normal(loc=value, scale)
  ``exponential``           value + exponential(scale) — one-sided
  ``uniform``               uniform(vmin, vmax) — ignores the value
  ``truncated normal``      scipy truncnorm((vmin-value)/scale,
                            (vmax-value)/scale, loc=value, scale)
  ``none``                  value
  ========================  ============================================

  Nothing is clipped or rounded; a variable's ``units`` only matter to
  ``init``.

Randomness: the paper drew from numpy's global ``RandomState``
(``np.random.*``, and scipy's ``rvs`` without ``random_state``), unseeded.
Here every draw comes from the ``rng`` passed in — a seeded
``np.random.Generator`` in the harness. A ``np.random.RandomState`` works
too and then gives exactly the paper's draws for the same seed (the tests
check value for value against the paper's functions on the global state).
``uniform`` is computed as ``vmin + (vmax - vmin) * rng.random()``, which is
``RandomState.uniform``'s own formula (so it matches value for value) and
keeps its behaviour for ``vmin > vmax`` (a value in (vmax, vmin]), where
``Generator.uniform`` would raise instead.

Where the paper's code raised (and its notebook's ``except: continue``
dropped the whole fold's generation), this machine raises
:class:`PaperProgramError` with a ``reason``, at the same operation:

- ``change_by_before_init``: ``change_by`` on a variable the state does not
  hold yet (the paper's ``KeyError``: state ``{}`` before any ``init``);
- ``unknown_variable``: ``change_by`` on a name that is no declared
  variable, or ``output`` of a state holding such a name after ``set_to``
  (the paper's ``KeyError`` looking up its distribution);
- ``degenerate_distribution``: a draw numpy/scipy refuse — ``scale < 0``
  for normal/exponential/truncated normal, ``scale == 0`` for truncated
  normal (the paper's ``ZeroDivisionError``), ``vmin >= vmax`` or a NaN
  bound for truncated normal, a non-finite ``vmax - vmin`` for uniform.

What the generator does with these errors (it never skips a fold silently)
is its business: see ``paper_generator.py``.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable, Sequence, Union

import numpy as np
import scipy.stats as stats

from lsh_bench.samplers.llm.paper_schemas import (
    ChangeByOp,
    InitOp,
    OutputOp,
    SetToOp,
    StateObjectOpSequence,
    VariableDistribution,
    VariableSpec,
    VariableSpecs,
)

Rng = Union[np.random.Generator, np.random.RandomState]
Value = Union[float, int, bool]


class PaperProgramError(ValueError):
    """An operation the paper's code could not execute; ``reason`` names the kind."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# ---------------------------------------------------------------- the distributions of dists.py

def _exponential(prev: Value, d: VariableDistribution, rng: Rng) -> float:
    if d.scale < 0:  # numpy: "scale < 0"
        raise PaperProgramError("degenerate_distribution", f"exponential with scale {d.scale} < 0")
    return prev + rng.exponential(d.scale)


def _normal(prev: Value, d: VariableDistribution, rng: Rng) -> float:
    if d.scale < 0:
        raise PaperProgramError("degenerate_distribution", f"normal with scale {d.scale} < 0")
    return rng.normal(loc=prev, scale=d.scale)


def _truncated_normal(prev: Value, d: VariableDistribution, rng: Rng) -> float:
    if d.scale == 0:  # the paper's (vmin - prev) / 0.0 -> ZeroDivisionError
        raise PaperProgramError("degenerate_distribution", "truncated normal with scale 0")
    a = (d.vmin - prev) / d.scale
    b = (d.vmax - prev) / d.scale
    try:
        # The paper froze the distribution first (stats.truncnorm(a, b, loc, scale).rvs(1)): the same
        # draws (the frozen rvs calls this one), ~3x slower; tests compare value for value.
        return float(stats.truncnorm.rvs(a, b, loc=prev, scale=d.scale, size=1, random_state=rng).squeeze())
    except ValueError as exc:  # scipy: "Domain error in arguments" (scale < 0, a >= b, NaN)
        raise PaperProgramError(
            "degenerate_distribution",
            f"truncated normal with scale {d.scale}, vmin {d.vmin}, vmax {d.vmax} around {prev}: {exc}",
        ) from None


def _none(prev: Value, d: VariableDistribution, rng: Rng) -> Value:
    return prev


def _uniform(prev: Value, d: VariableDistribution, rng: Rng) -> float:
    width = d.vmax - d.vmin
    if not math.isfinite(width):  # RandomState.uniform: OverflowError("Range exceeds valid bounds")
        raise PaperProgramError("degenerate_distribution", f"uniform on [{d.vmin}, {d.vmax}]")
    return d.vmin + width * rng.random()


DISTRIBUTIONS: dict[str, Callable[[Value, VariableDistribution, Rng], Value]] = {
    "exponential": _exponential,
    "normal": _normal,
    "truncated normal": _truncated_normal,
    "uniform": _uniform,
    "none": _none,
}


def draw(prev: Value, dist: VariableDistribution, rng: Rng) -> Value:
    """One value of ``output``: ``dist`` around ``prev`` (the paper's ``MC_FN_MAP[name](prev, dist)``)."""
    return DISTRIBUTIONS[dist.name.value](prev, dist, rng)


def degenerate_reason(spec: VariableSpec) -> str | None:
    """Why ``output`` would raise for *every* value of this variable, or None.

    The generator uses it to reject a variables answer at once instead of
    failing every program round on it (see ``paper_generator.py``).
    """
    d = spec.dist
    name = d.name.value
    if name in ("normal", "exponential") and d.scale < 0:
        return f"{name} with scale {d.scale} < 0"
    if name == "truncated normal":
        if not (math.isfinite(d.scale) and d.scale > 0):
            return f"truncated normal with scale {d.scale} (needs a finite scale > 0)"
        if not (d.vmin < d.vmax):
            return f"truncated normal with vmin {d.vmin} >= vmax {d.vmax}"
    if name == "uniform" and not math.isfinite(d.vmax - d.vmin):
        return f"uniform on [{d.vmin}, {d.vmax}]"
    return None


# ---------------------------------------------------------------- the state object

class PaperStateMachine:
    """The paper's ``StateObject``: executes a program and returns its outputs.

    ``run`` returns one dict per ``output`` (variable name -> value, in the
    state's insertion order: the declared order after ``init``, names added
    by ``set_to`` after them), exactly the list the paper turned into a
    DataFrame. A state without ``init`` holds only what ``set_to`` put there,
    so such outputs lack the other variables (the paper's NaN columns).
    """

    def __init__(self, variables: VariableSpecs, rng: Rng) -> None:
        self.variables = variables
        self.rng = rng
        self.var_dict = {v.name: v for v in variables.variables}
        self.state: dict[str, Value] = {}

    def init(self) -> None:
        self.state = {}
        for v in self.variables.variables:
            # the paper compared the str-enum with the string; same result
            self.state[v.name] = False if v.units == "true or false" else 0

    def change_by(self, var_name: str, value: float, k: int) -> None:
        if var_name not in self.state:
            reason = "unknown_variable" if var_name not in self.var_dict else "change_by_before_init"
            raise PaperProgramError(reason, f"op {k}: change_by({var_name!r}, {value}) with state keys {list(self.state)}")
        self.state[var_name] += value

    def set_to(self, var_name: str, value: float) -> None:
        self.state[var_name] = value

    def output(self, k: int) -> dict[str, Value]:
        out = copy.copy(self.state)
        for name in out:
            spec = self.var_dict.get(name)
            if spec is None:
                raise PaperProgramError("unknown_variable", f"op {k}: output of {name!r}, which is no declared variable")
            try:
                out[name] = draw(out[name], spec.dist, self.rng)
            except PaperProgramError as exc:
                raise PaperProgramError(exc.reason, f"op {k}, variable {name!r}: {exc.detail}") from None
        return out

    def run(self, program: StateObjectOpSequence | Sequence[Any]) -> list[dict[str, Value]]:
        ops = program.op_seq if isinstance(program, StateObjectOpSequence) else program
        rows: list[dict[str, Value]] = []
        for k, item in enumerate(ops):
            op = getattr(item, "op", item)
            if isinstance(op, InitOp):
                self.init()
            elif isinstance(op, OutputOp):
                rows.append(self.output(k))
            elif isinstance(op, ChangeByOp):
                self.change_by(op.var_name, op.value, k)
            elif isinstance(op, SetToOp):
                self.set_to(op.var_name, op.value)
            else:
                raise TypeError(f"op {k}: not an operation of the paper's schema: {op!r}")
        return rows


def run_program(program: StateObjectOpSequence, variables: VariableSpecs, rng: Rng) -> list[dict[str, Value]]:
    """Execute ``program`` on a fresh state object (the paper made one per round)."""
    return PaperStateMachine(variables, rng).run(program)
