"""Reading the variables and program answers: validate every field, repair what can be repaired.

Each answer is read item by item, one named step per field (name, units,
description, range, jitter; operation, variable, value); every repair is
counted by kind in ``repairs`` and what cannot be used is dropped or
rejected with ``AnswerInvalid`` (``parse.py``). The same text always gives
the same result, whether it was just generated or replayed from the cache.
"""

from __future__ import annotations

import math
from typing import Any

from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.samplers.llm.parse import AnswerInvalid, Bounds, Repairs, load_json, text_problem, to_number
from lsh_bench.samplers.llm.schemas import DESCRIPTION_CHARS, data_units
from lsh_bench.samplers.llm.state_machine import DISTRIBUTIONS, Op, Variable


def _kind(col: Column) -> str:
    if col.kind == "categorical":
        return "categorical"
    if col.boolean:
        return "boolean"
    if col.integer:
        return "integer"
    return "number"


def default_variable(col: Column, bounds: Bounds) -> Variable:
    """The variable used when the LLM left a column out: a normal jitter of 5% of the range."""
    kind = _kind(col)
    if kind == "categorical":
        return Variable(col.name, "categorical", bounds.low, bounds.high, "none", 0.0)
    return Variable(col.name, kind, bounds.low, bounds.high, "normal", 0.05 * (bounds.high - bounds.low))  # type: ignore[arg-type]


def _description(item: dict, repairs: Repairs) -> str:
    desc = item.get("description")
    desc = desc if isinstance(desc, str) else ""
    if text_problem(desc):
        repairs["instruction_text"] += 1
        desc = ""
    return desc[:DESCRIPTION_CHARS]


def _observed_range(obs: Bounds, lo_d: float | None, hi_d: float | None, repairs: Repairs) -> tuple[float, float]:
    """The observed range, narrowed by a valid declared range that overlaps it (else repair ``range``)."""
    low, high = obs.low, obs.high
    if lo_d is None or hi_d is None or lo_d > hi_d:
        repairs["range"] += 1
        return low, high
    lo_i, hi_i = max(low, lo_d), min(high, hi_d)
    if lo_i < hi_i:
        if (lo_i, hi_i) != (lo_d, hi_d):
            repairs["range"] += 1
        return lo_i, hi_i
    repairs["range"] += 1
    return low, high


def _variable_range(kind: str, col: Column, obs: Bounds | None, fallback: Bounds, lo_d: float | None,
                    hi_d: float | None, repairs: Repairs) -> tuple[float, float]:
    """Declared ∩ observed (observed widened upstream); zero-shot: declared, else the fallback."""
    if kind == "categorical":
        return 0.0, float(max(len(col.categories) - 1, 0))
    if obs is not None:
        return _observed_range(obs, lo_d, hi_d, repairs)
    if lo_d is not None and hi_d is not None and lo_d < hi_d:
        low, high = float(lo_d), float(hi_d)
        if kind == "boolean":
            low, high = max(low, 0.0), min(high, 1.0)
            if low >= high:
                low, high = 0.0, 1.0
        return low, high
    repairs["range"] += 1
    return fallback.low, fallback.high


def _jitter(item: dict, width: float, repairs: Repairs) -> tuple[str, float]:
    """The jitter distribution (default normal) and its scale, within [0, width] (default 5% of it)."""
    dist = item.get("jitter")
    if dist not in DISTRIBUTIONS:
        repairs["distribution"] += 1
        dist = "normal"
    scale = to_number(item.get("scale"), repairs)
    if scale is None or scale < 0:
        repairs["scale"] += 1
        scale = 0.05 * width
    elif scale > width:
        repairs["scale"] += 1
        scale = width
    return dist, scale


def _read_variable(item: dict, col: Column, obs: Bounds | None, fallback: Bounds,
                   repairs: Repairs) -> tuple[Variable, str]:
    """One named variables item, repaired: (variable, description)."""
    kind = _kind(col)
    if item.get("units") != data_units(col):
        repairs["units"] += 1
    desc = _description(item, repairs)
    lo_d, hi_d = to_number(item.get("min"), repairs), to_number(item.get("max"), repairs)
    low, high = _variable_range(kind, col, obs, fallback, lo_d, hi_d, repairs)
    dist, scale = _jitter(item, high - low, repairs)
    if kind == "categorical":
        dist, scale = "none", 0.0
    return Variable(col.name, kind, float(low), float(high), dist, float(scale)), desc  # type: ignore[arg-type]


def parse_variables(
    text: str,
    schema: FeatureSchema,
    bounds: list[Bounds | None],
    fallback: list[Bounds],
    repairs: Repairs,
) -> tuple[list[Variable], dict[str, str]]:
    """Validated variables (one per column, schema order) and their descriptions.

    ``bounds[j]`` is the observed range of column j (None in zero-shot: no
    rows, unless ``llm.zero_shot_range=training`` put the training part's range
    there); ``fallback[j]`` is what to use when neither the observed nor the
    declared range is usable (zero-shot: the whole training part). The
    effective range is the declared min/max intersected with the observed
    one; an invalid or disjoint declaration is replaced (repair ``range``).
    Units are overwritten by what the data implies (repair ``units``).
    Columns the LLM left out get ``default_variable`` (repair
    ``missing_variable``); if it named no column at all, ``AnswerInvalid``.
    """
    items = load_json(text, "variables", repairs)
    n = len(schema)
    if len(items) > n:
        repairs["truncated_list"] += 1
        items = items[:n]
    index = {c.name: j for j, c in enumerate(schema.columns)}
    got: dict[int, Variable] = {}
    descriptions: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict):
            repairs["bad_item"] += 1
            continue
        name = item.get("name")
        if not isinstance(name, str) or name not in index:
            repairs["unknown_column"] += 1
            continue
        j = index[name]
        if j in got:
            repairs["duplicate_variable"] += 1
            continue
        got[j], descriptions[name] = _read_variable(item, schema.columns[j], bounds[j], fallback[j], repairs)
    if not got:
        raise AnswerInvalid("no_variables", f"the answer names none of the columns {schema.names[:8]}")
    out = []
    for j, col in enumerate(schema.columns):
        if j in got:
            out.append(got[j])
        else:
            repairs["missing_variable"] += 1
            out.append(default_variable(col, bounds[j] or fallback[j]))
            descriptions.setdefault(col.name, "")
    return out, descriptions


# ---------------------------------------------------------------- programs


def _category_code(col: Column, value: Any, repairs: Repairs) -> float | None:
    if isinstance(value, str):
        lookup = {c.strip().lower(): k for k, c in enumerate(col.categories)}
        key = value.strip().lower()
        if key in lookup:
            return float(lookup[key])
    v = to_number(value, repairs)
    if v is not None and float(v).is_integer() and 0 <= v < len(col.categories):
        return float(v)
    return None


def _numeric_value(kind: str, var: Variable, raw: Any, repairs: Repairs) -> float | None:
    """A set_to value clipped to the variable's range, a change_by delta to its width (repairs)."""
    v = to_number(raw, repairs)
    if v is None:
        repairs["bad_number"] += 1
        return None
    if kind == "set_to" and not var.low <= v <= var.high:
        repairs["value_clipped"] += 1
        v = min(max(v, var.low), var.high)
    width = var.high - var.low
    if kind == "change_by" and abs(v) > width:
        repairs["delta_clipped"] += 1
        v = math.copysign(width, v)
    return v


def _read_op(item: Any, schema: FeatureSchema, by_name: dict[str, tuple[int, Variable]],
             repairs: Repairs) -> Op | None:
    """One program operation, repaired, or None when it is unusable (the repair says why)."""
    if not isinstance(item, dict) or item.get("op") not in ("init", "set_to", "change_by", "output"):
        repairs["bad_op"] += 1
        return None
    kind = item["op"]
    if kind in ("init", "output"):
        return Op(kind)
    name = item.get("var")
    if not isinstance(name, str) or name not in by_name:
        repairs["unknown_column"] += 1
        return None
    j, var = by_name[name]
    col = schema.columns[j]
    raw = item.get("value" if kind == "set_to" else "delta", item.get("value", item.get("delta")))
    if kind == "change_by" and col.kind == "categorical":
        repairs["bad_op"] += 1
        return None
    if col.kind == "categorical":
        v = _category_code(col, raw, repairs)
        if v is None:
            repairs["unknown_category"] += 1
            return None
    else:
        v = _numeric_value(kind, var, raw, repairs)
        if v is None:
            return None
    return Op(kind, name, float(v))


def _ensure_output(ops: list[Op], n_items: int, repairs: Repairs) -> list[Op]:
    """Reject programs with nothing usable or no effect; give a changing program without output one."""
    if not ops:
        raise AnswerInvalid("empty_program", f"no usable operation among {n_items}")
    if not any(o.op == "output" for o in ops):
        if not any(o.op in ("set_to", "change_by") for o in ops):
            raise AnswerInvalid("no_output", f"{len(ops)} operations, none is 'output'")
        # A small model often writes the changes of a row and stops before
        # emitting it: emit the final state once (repair ``appended_output``).
        # A program of bare ``init``s says nothing of its own and is retried.
        repairs["appended_output"] += 1
        ops.append(Op("output"))
    return ops


def parse_program(
    text: str,
    schema: FeatureSchema,
    variables: list[Variable],
    max_ops: int,
    repairs: Repairs,
) -> list[Op]:
    """Validated operations, ready for ``state_machine.run_program``.

    Unusable operations are dropped (repairs ``unknown_column``, ``bad_op``,
    ``bad_number``, ``unknown_category``); values outside a variable's range
    are clipped (``value_clipped``), deltas to the range's width
    (``delta_clipped``); more than ``max_ops`` operations are cut
    (``truncated_list``). A program that changes variables but never outputs
    gets one final ``output`` (``appended_output``). A program left empty
    (``empty_program``) or with no output and no change (``no_output``) raises
    ``AnswerInvalid``.
    """
    items = load_json(text, "ops", repairs)
    if len(items) > max_ops:
        repairs["truncated_list"] += 1
        items = items[:max_ops]
    by_name = {v.name: (j, v) for j, v in enumerate(variables)}
    ops = [op for op in (_read_op(item, schema, by_name, repairs) for item in items) if op is not None]
    return _ensure_output(ops, len(items), repairs)
