"""What the LLM must answer (*variables*, *program*), and how an answer is checked.

The pydantic models are built per dataset with ``pydantic.create_model``: the
column names become a ``Literal`` enum, so under constrained decoding (a
grammar from the JSON schema) even a 135M model can only name real columns.
Lists are bounded (``max_length``) and strings short, so a grammar cannot make
the model ramble past ``max_tokens``.

A grammar is not a guarantee (an OpenAI-compatible endpoint may ignore it, an
answer can be cut by ``max_tokens``), so ``parse_variables`` and
``parse_program`` read any text defensively and repair what they can,
counting each repair by kind (``Repairs``); what cannot be repaired raises
``AnswerInvalid`` with the reason, and the generator retries.

Answers are data: nothing in them is executed; free-text fields that try to
instruct a model are blanked (they are shown to the LLM in later prompts).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.samplers.llm.state_machine import DISTRIBUTIONS, Op, Variable

UNITS: tuple[str, ...] = ("true or false", "integer", "any number")
DESCRIPTION_CHARS = 100          # short descriptions keep the variables answer within max_tokens
MAX_CATEGORIES_SPELLED = 12      # longer vocabularies are abbreviated in the units text

Repairs = Counter  # kind -> count


class AnswerInvalid(ValueError):
    """An LLM answer that cannot be repaired; ``reason`` is a short kind (for retry stats)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# ---------------------------------------------------------------- models

def categorical_units(col: Column) -> str:
    """The units text of a categorical column: its allowed values."""
    cats = list(col.categories)
    if len(cats) > MAX_CATEGORIES_SPELLED:
        return "one of: " + ", ".join(cats[:MAX_CATEGORIES_SPELLED]) + f", ... ({len(cats)} values)"
    return "one of: " + ", ".join(cats)


def data_units(col: Column) -> str:
    """The units the data itself implies (the schema is the authority)."""
    if col.kind == "categorical":
        return categorical_units(col)
    if col.boolean:
        return "true or false"
    if col.integer:
        return "integer"
    return "any number"


def _literal(values: list[str]) -> Any:
    return Literal[tuple(values)]  # type: ignore[valid-type]


def variables_model(schema: FeatureSchema) -> type[BaseModel]:
    """``{"variables": [{name, description, units, jitter, scale, min, max}, ...]}``, one per column.

    The list is a tuple (JSON ``prefixItems``): item j must name column j, so
    under a grammar the model writes every column once, in order — a 135M
    model given a free list was seen to repeat one column three times. Units
    are the three kinds for a numeric column and the allowed values for a
    categorical one.
    """
    items = []
    for j, col in enumerate(schema.columns):
        units = [categorical_units(col)] if col.kind == "categorical" else list(UNITS)
        items.append(create_model(
            f"Variable{j}",
            __config__=ConfigDict(extra="forbid"),
            name=(_literal([col.name]), ...),
            description=(str, Field(..., max_length=DESCRIPTION_CHARS)),
            units=(_literal(units), ...),
            jitter=(_literal(list(DISTRIBUTIONS)), ...),
            scale=(float, ...),
            min=(float, ...),
            max=(float, ...),
        ))
    return create_model(
        "Variables",
        __config__=ConfigDict(extra="forbid"),
        variables=(tuple[tuple(items)], ...),  # type: ignore[misc]
    )


def program_model(schema: FeatureSchema, max_ops: int) -> type[BaseModel]:
    """``{"ops": [...]}`` with ops ``init`` / ``set_to`` / ``change_by`` (numeric columns) / ``output``."""
    cfg = ConfigDict(extra="forbid")
    names = _literal(schema.names)
    value_type: Any = Union[float, str] if schema.categorical_indices else float
    init = create_model("Init", __config__=cfg, op=(Literal["init"], ...))
    set_to = create_model("SetTo", __config__=cfg, op=(Literal["set_to"], ...), var=(names, ...), value=(value_type, ...))
    output = create_model("Output", __config__=cfg, op=(Literal["output"], ...))
    kinds: list[Any] = [init, set_to]
    numeric = [schema.columns[i].name for i in schema.numeric_indices]
    if numeric:
        kinds.append(create_model(
            "ChangeBy", __config__=cfg, op=(Literal["change_by"], ...), var=(_literal(numeric), ...), delta=(float, ...),
        ))
    kinds.append(output)
    op_type = Union[tuple(kinds)]  # type: ignore[valid-type]
    return create_model(
        "Program",
        __config__=cfg,
        ops=(list[op_type], Field(..., min_length=1, max_length=max_ops)),  # type: ignore[valid-type]
    )


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


# ---------------------------------------------------------------- reading answers

_REFUSAL = re.compile(
    r"\b(i'?m sorry|i am sorry|i cannot|i can'?t|i'?m unable|i am unable|as an ai\b|i won'?t)", re.I)
_INSTRUCTION = re.compile(
    r"(ignore (all |any )?(the )?(previous|prior|above|earlier) (instructions|prompts?)|disregard (all |the )?"
    r"(previous|prior|above)|system prompt|you are now|new instructions?:|</?(system|assistant)>)", re.I)


def text_problem(text: str) -> str | None:
    """``"refusal"`` / ``"instruction"`` when free text refuses or tries to instruct a model."""
    if _INSTRUCTION.search(text):
        return "instruction"
    if _REFUSAL.search(text):
        return "refusal"
    return None


def load_json(text: str, list_key: str, repairs: Repairs) -> list[Any]:
    """The list under ``list_key`` of a JSON answer; a bare list is accepted.

    An answer cut off by ``max_tokens`` is salvaged: the longest prefix that
    ends after a complete list item is closed and parsed (repair
    ``truncated_json``). Anything else that is not JSON raises
    ``AnswerInvalid("invalid_json")`` (refusals and instructions are named).
    """
    stripped = text.strip()
    start = min([i for i in (stripped.find("{"), stripped.find("[")) if i >= 0], default=-1)
    if start < 0:
        problem = text_problem(stripped)
        raise AnswerInvalid(problem or "invalid_json", f"no JSON in answer {stripped[:80]!r}")
    body = stripped[start:]
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        data = None
        ends = [m.start() for m in re.finditer(r"\}", body)][::-1][:400]
        for e in ends:
            for tail in ("]}", "]"):
                try:
                    data = json.loads(body[: e + 1] + tail)
                    break
                except json.JSONDecodeError:
                    continue
            if data is not None:
                repairs["truncated_json"] += 1
                break
        if data is None:
            problem = text_problem(stripped)
            raise AnswerInvalid(problem or "invalid_json", f"not JSON: {stripped[:80]!r}")
    if isinstance(data, dict):
        items = data.get(list_key)
        if items is None:
            lists = [v for v in data.values() if isinstance(v, list)]
            if len(lists) != 1:
                raise AnswerInvalid("invalid_json", f"no {list_key!r} list in the answer (keys {list(data)[:5]})")
            repairs["shape"] += 1
            items = lists[0]
    elif isinstance(data, list):
        repairs["shape"] += 1
        items = data
    else:
        raise AnswerInvalid("invalid_json", f"expected an object with {list_key!r}, got {type(data).__name__}")
    if not isinstance(items, list):
        raise AnswerInvalid("invalid_json", f"{list_key!r} is not a list")
    return items


def to_number(x: Any, repairs: Repairs) -> float | None:
    """A finite float, or None. Numeric strings are coerced (repair ``string_number``)."""
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, (int, float)):
        v = float(x)
    elif isinstance(x, str):
        try:
            v = float(x.strip().replace(",", ""))
        except ValueError:
            return None
        repairs["string_number"] += 1
    else:
        return None
    return v if math.isfinite(v) else None


def strict_ok(model: type[BaseModel], text: str) -> bool:
    """Whether the raw answer validates against the model as it stands (first-try validity)."""
    try:
        model.model_validate_json(text.strip())
        return True
    except (ValidationError, ValueError):
        return False


@dataclass(frozen=True)
class Bounds:
    """The range a column's values may take: [low, high] and its origin (for the docs/stats)."""

    low: float
    high: float
    source: str   # "observed" (training minority, widened), "declared", "training", "codes"


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


def parse_variables(
    text: str,
    schema: FeatureSchema,
    bounds: list[Bounds | None],
    fallback: list[Bounds],
    repairs: Repairs,
) -> tuple[list[Variable], dict[str, str]]:
    """Validated variables (one per column, schema order) and their descriptions.

    ``bounds[j]`` is the observed range of column j (None in zero-shot: no
    rows); ``fallback[j]`` is what to use when neither the observed nor the
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
        col = schema.columns[j]
        kind = _kind(col)
        if item.get("units") != data_units(col):
            repairs["units"] += 1
        desc = item.get("description")
        desc = desc if isinstance(desc, str) else ""
        if text_problem(desc):
            repairs["instruction_text"] += 1
            desc = ""
        descriptions[name] = desc[:DESCRIPTION_CHARS]
        # range: declared ∩ observed (observed widened upstream); zero-shot: declared, else fallback
        obs = bounds[j]
        lo_d, hi_d = to_number(item.get("min"), repairs), to_number(item.get("max"), repairs)
        if kind == "categorical":
            low, high = 0.0, float(max(len(col.categories) - 1, 0))
        else:
            declared_ok = lo_d is not None and hi_d is not None and lo_d <= hi_d
            if obs is not None:
                low, high = obs.low, obs.high
                if declared_ok:
                    lo_i, hi_i = max(low, lo_d), min(high, hi_d)  # type: ignore[type-var]
                    if lo_i < hi_i:
                        if (lo_i, hi_i) != (lo_d, hi_d):
                            repairs["range"] += 1
                        low, high = lo_i, hi_i
                    else:
                        repairs["range"] += 1
                else:
                    repairs["range"] += 1
            elif declared_ok and lo_d < hi_d:  # type: ignore[operator]
                low, high = float(lo_d), float(hi_d)  # type: ignore[arg-type]
                if kind == "boolean":
                    low, high = max(low, 0.0), min(high, 1.0)
                    if low >= high:
                        low, high = 0.0, 1.0
            else:
                repairs["range"] += 1
                low, high = fallback[j].low, fallback[j].high
        dist = item.get("jitter")
        if dist not in DISTRIBUTIONS:
            repairs["distribution"] += 1
            dist = "normal"
        width = high - low
        scale = to_number(item.get("scale"), repairs)
        if scale is None or scale < 0:
            repairs["scale"] += 1
            scale = 0.05 * width
        elif scale > width:
            repairs["scale"] += 1
            scale = width
        if kind == "categorical":
            dist, scale = "none", 0.0
        got[j] = Variable(name, kind, float(low), float(high), dist, float(scale))  # type: ignore[arg-type]
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
    ops: list[Op] = []
    for item in items:
        if not isinstance(item, dict) or item.get("op") not in ("init", "set_to", "change_by", "output"):
            repairs["bad_op"] += 1
            continue
        kind = item["op"]
        if kind in ("init", "output"):
            ops.append(Op(kind))
            continue
        name = item.get("var")
        if not isinstance(name, str) or name not in by_name:
            repairs["unknown_column"] += 1
            continue
        j, var = by_name[name]
        col = schema.columns[j]
        raw = item.get("value" if kind == "set_to" else "delta", item.get("value", item.get("delta")))
        if kind == "change_by" and col.kind == "categorical":
            repairs["bad_op"] += 1
            continue
        if col.kind == "categorical":
            v = _category_code(col, raw, repairs)
            if v is None:
                repairs["unknown_category"] += 1
                continue
        else:
            v = to_number(raw, repairs)
            if v is None:
                repairs["bad_number"] += 1
                continue
            if kind == "set_to" and not var.low <= v <= var.high:
                repairs["value_clipped"] += 1
                v = min(max(v, var.low), var.high)
            width = var.high - var.low
            if kind == "change_by" and abs(v) > width:
                repairs["delta_clipped"] += 1
                v = math.copysign(width, v)
        ops.append(Op(kind, name, float(v)))
    if not ops:
        raise AnswerInvalid("empty_program", f"no usable operation among {len(items)}")
    if not any(o.op == "output" for o in ops):
        if not any(o.op in ("set_to", "change_by") for o in ops):
            raise AnswerInvalid("no_output", f"{len(ops)} operations, none is 'output'")
        # A small model often writes the changes of a row and stops before
        # emitting it: emit the final state once (repair ``appended_output``).
        # A program of bare ``init``s says nothing of its own and is retried.
        repairs["appended_output"] += 1
        ops.append(Op("output"))
    return ops
