"""The rows around an LLM generation: the ranges values may take, and the minority rows shown as CSV.

Ranges: a value may lie in the range observed in the training minority,
widened by ``MARGIN`` of its width on each side (not below 0 if the observed
minimum is >= 0; a constant column is widened by ``MARGIN`` x max(|value|,
1)); the LLM's declared min/max can only narrow it (``parse.parse_variables``).
Zero-shot has no observed range: the declared min/max is used when valid,
and as a last resort the widened range of the whole training part (both
classes), which the LLM never sees.

Rows shown are capped so the prompt fits ``n_ctx``, counting conservatively
one token per ``CHARS_PER_TOKEN`` characters (digits are often a token each);
when not all rows fit, a seeded random subset (kept in original order) is
shown.
"""

from __future__ import annotations

import math

import numpy as np

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.samplers.llm.parse import Bounds
from lsh_bench.samplers.llm.state_machine import Variable

MARGIN = 0.1                 # widening of the observed range, as a fraction of its width
CHARS_PER_TOKEN = 2          # conservative prompt-size estimate


def _widen(lo: float, hi: float) -> tuple[float, float]:
    width = hi - lo
    m = MARGIN * width if width > 0 else MARGIN * max(abs(hi), 1.0)
    low = lo - m
    if lo >= 0:
        low = max(low, 0.0)
    return low, hi + m


def column_bounds(X: np.ndarray, schema: FeatureSchema, source: str) -> list[Bounds | None]:
    """Per column: widened observed range; codes for categoricals, [0, 1] for booleans; None if no rows."""
    out: list[Bounds | None] = []
    for j, col in enumerate(schema.columns):
        if col.kind == "categorical":
            out.append(Bounds(0.0, float(max(len(col.categories) - 1, 0)), "codes"))
        elif col.boolean:
            out.append(Bounds(0.0, 1.0, "codes"))
        elif len(X) == 0:
            out.append(None)
        else:
            low, high = _widen(float(np.min(X[:, j])), float(np.max(X[:, j])))
            if col.integer:
                low, high = math.floor(low), math.ceil(high)
            out.append(Bounds(float(low), float(high), source))
    return out


def to_csv(X: np.ndarray, schema: FeatureSchema) -> str:
    if len(X) == 0:
        return ""
    return schema.decode(X).to_csv(index=False, float_format="%.6g")


def rows_that_fit(X: np.ndarray, schema: FeatureSchema, budget_tokens: int, cap: int,
                  rng: np.random.Generator) -> np.ndarray:
    """At most ``cap`` rows whose CSV fits ``budget_tokens`` (seeded subset, original order)."""
    n = len(X)
    if n == 0:
        return X
    per_row = max(len(line) for line in to_csv(X[: min(n, 50)], schema).splitlines()[1:]) / CHARS_PER_TOKEN + 1
    header = len(",".join(schema.names)) / CHARS_PER_TOKEN
    k = int(max(0, budget_tokens - header) // per_row)
    k = max(1, min(n, cap, k))
    if k == n:
        return X
    idx = np.sort(rng.choice(n, size=k, replace=False))
    return X[idx]


def estimated_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


def midpoint(v: Variable) -> float:
    """Zero-shot start value: the middle of the range (rounded for codes and integers)."""
    m = (v.low + v.high) / 2
    return float(np.floor(m)) if v.kind != "number" else m
