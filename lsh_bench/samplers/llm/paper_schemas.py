"""The answer formats of the paper's generator, as its code declared them.

Copied field for field from the paper's ``datagen/config/data_model.py``
(github doheonhan/LSH, ``datagen.zip``): the class names, field names,
descriptions and enum values are part of the prompts (the variables prompt
embeds ``VariableSpec``'s JSON schema, the program prompt
``StateObjectOpSequence``'s) and of the structured-output requests, so any
change here changes what the LLM reads. Do not "improve" them: the guarded
generator has its own, stricter models (``schemas.py``).

Two things of the paper's models are kept on purpose although they are
loose: ``VariableSpec.name`` is any string (not an enum of the columns), and
the operation union has no discriminator (pydantic picks the first member
that validates; extra keys are ignored).
"""

from __future__ import annotations

from enum import Enum
from typing import Any, List, Literal, Union

from pydantic import BaseModel, Field


class ChangeByOp(BaseModel):
    name: Literal["change_by"]
    var_name: str = Field(..., description="The name of the variable to change")
    value: float = Field(..., description="The size of the change in variable's units")


class SetToOp(BaseModel):
    name: Literal["set_to"]
    var_name: str = Field(..., description="The name of the variable to set")
    value: float = Field(..., description="The new value of the variable")


class OutputOp(BaseModel):
    name: Literal["output"]


class InitOp(BaseModel):
    name: Literal["init"]


class StateObjectOp(BaseModel):
    op: Union[ChangeByOp, SetToOp, OutputOp, InitOp] = Field(
        description="The operation to execute on the state object",
    )


class StateObjectOpSequence(BaseModel):
    op_seq: List[StateObjectOp] = Field(
        description="The sequence of operations to execute on the state object"
    )


class VariableUnits(str, Enum):
    boolean = "true or false"
    integer = "integer"
    anynum = "any number"


class VariableDistributionName(str, Enum):
    normal = "normal"
    uniform = "uniform"
    exponential = "exponential"
    tnormal = "truncated normal"
    none = "none"


class VariableDistribution(BaseModel):
    name: VariableDistributionName = Field(..., description="The name of the distribution")
    scale: float = Field(..., description="The scale of the distribution")
    vmin: float = Field(..., description="The minimum value of the variable")
    vmax: float = Field(..., description="The maximum value of the variable")


class VariableSpec(BaseModel):
    name: str = Field(..., description="The name of the variable")
    units: VariableUnits = Field(..., description="The units of the variable")
    dist: VariableDistribution = Field(..., description="The distribution of the variable")
    description: str = Field(..., description="A description of the variable")


class VariableSpecs(BaseModel):
    variables: List[VariableSpec] = Field(description="The list of variables in the dataset")


def response_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema a structured-output request carries for ``model``.

    The paper called ``client.beta.chat.completions.parse(response_format=model)``;
    the openai library turns the model into a *strict* schema
    (``additionalProperties: false``, every property required) before
    sending it. We send the same schema, built by the same library function,
    so an OpenAI endpoint constrains the answer exactly as it did for the
    paper; a local grammar accepts it too.
    """
    from openai.lib._pydantic import to_strict_json_schema

    return to_strict_json_schema(model)
