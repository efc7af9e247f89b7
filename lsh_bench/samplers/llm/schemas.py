"""What the LLM must answer (*variables*, *program*): the answer models, one per dataset.

The pydantic models are built per dataset with ``pydantic.create_model``: the
column names become a ``Literal`` enum, so under constrained decoding (a
grammar from the JSON schema) even a 135M model can only name real columns.
Lists are bounded (``max_length``) and strings short, so a grammar cannot make
the model ramble past ``max_tokens``. Endpoints receive their JSON schema;
the embedded model decodes with the equivalent grammars of ``grammar.py``.

A grammar is not a guarantee (an OpenAI-compatible endpoint may ignore it, an
answer can be cut by ``max_tokens``), so every answer is read defensively and
repaired where possible: that is ``parse.py``.
"""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.samplers.llm import grammar
from lsh_bench.samplers.llm.grammar import Node
from lsh_bench.samplers.llm.state_machine import DISTRIBUTIONS

UNITS: tuple[str, ...] = ("true or false", "integer", "any number")
DESCRIPTION_CHARS = 100          # short descriptions keep the variables answer within max_tokens
MAX_CATEGORIES_SPELLED = 12      # longer vocabularies are abbreviated in the units text
MAX_OPS_CAP = 64                 # longest program accepted (grammar maxItems)


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


def units_choices(schema: FeatureSchema) -> list[list[str]]:
    """Per column, the units an answer may name: the three kinds (numeric) or the allowed values (categorical)."""
    return [[categorical_units(c)] if c.kind == "categorical" else list(UNITS) for c in schema.columns]


def variables_model(schema: FeatureSchema) -> type[BaseModel]:
    """``{"variables": [{name, description, units, jitter, scale, min, max}, ...]}``, one per column.

    The list is a tuple (JSON ``prefixItems``): item j must name column j, so
    under a grammar the model writes every column once, in order — a 135M
    model given a free list was seen to repeat one column three times. Units
    are the three kinds for a numeric column and the allowed values for a
    categorical one.
    """
    items = []
    for j, (col, units) in enumerate(zip(schema.columns, units_choices(schema))):
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


def ops_bound(min_outputs_per_round: int) -> int:
    """The program's list bound: room for 4 operations per requested output, at least 16, at most 64."""
    return min(MAX_OPS_CAP, max(16, 4 * min_outputs_per_round))


def variables_grammar(schema: FeatureSchema) -> Node:
    """The local decoder's grammar for the variables answer (accepts only ``variables_model`` answers)."""
    return grammar.variables_grammar(schema, units_choices(schema), DESCRIPTION_CHARS)


def program_grammar(schema: FeatureSchema, n_ops: int, min_outputs: int = 0) -> Node:
    """The local decoder's grammar for a program (accepts only ``program_model`` answers).

    ``min_outputs``: the guarded generator's step form (``grammar.program_grammar``).
    """
    return grammar.program_grammar(schema, n_ops, min_outputs)
