"""A scripted chat backend for tests of validation, repair and retry (never for results).

Answers are scripted per step (``report`` = free text, ``variables``,
``program``); each step pops its answers in order and repeats the last one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Callable

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.samplers.llm.schemas import data_units
from lsh_bench.samplers.llm.types import ChatRequest, ChatResponse

REPORT = "The minority rows are older patients with more positive nodes; the variables rise together."


def step_of(req: ChatRequest) -> str:
    if req.json_schema is None:
        return "report"
    return "variables" if "variables" in req.json_schema.get("properties", {}) else "program"


def good_variables(schema: FeatureSchema, **over) -> str:
    items = []
    for c in schema.columns:
        item = {"name": c.name, "description": f"the {c.name}", "units": data_units(c),
                "jitter": "normal", "scale": 0.5, "min": -1e9, "max": 1e9}
        item.update(over)
        items.append(item)
    return json.dumps({"variables": items})


def good_program(schema: FeatureSchema, outputs: int = 12) -> str:
    num = [schema.columns[i].name for i in schema.numeric_indices]
    ops: list[dict] = [{"op": "init"}]
    for k in range(outputs):
        if num:
            ops.append({"op": "change_by", "var": num[k % len(num)], "delta": 0.5})
        ops.append({"op": "output"})
    return json.dumps({"ops": ops})


class ScriptedBackend:
    model = "scripted"

    def __init__(self, schema: FeatureSchema, **script: list[str] | Callable[[ChatRequest], str]):
        self.schema = schema
        self.script = {"report": [REPORT], "variables": [good_variables(schema)],
                       "program": [good_program(schema)]}
        self.script.update(script)
        self.requests: list[ChatRequest] = []
        self.served: dict[str, int] = {"report": 0, "variables": 0, "program": 0}

    @property
    def calls(self) -> int:
        return len(self.requests)

    def chat(self, req: ChatRequest) -> ChatResponse:
        self.requests.append(req)
        step = step_of(req)
        answers = self.script[step]
        i = self.served[step]
        self.served[step] += 1
        text = answers(req) if callable(answers) else answers[min(i, len(answers) - 1)]
        key = hashlib.sha256(json.dumps(req.as_dict(), sort_keys=True).encode()).hexdigest()
        return ChatResponse(text=text, prompt_tokens=100, completion_tokens=20, seconds=0.01,
                            cached=False, key=key, model=self.model)

    def __deepcopy__(self, memo):  # sklearn.clone deep-copies params: keep one call log
        return self
