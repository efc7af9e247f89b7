"""The local decoder's request part and the generator's per-step budgets (no model: scripted backend)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.samplers.llm import compact_prompts
from lsh_bench.samplers.llm.cache import cache_key
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.decoding import decoding_request
from lsh_bench.samplers.llm.generator import generate_rows
from lsh_bench.samplers.llm.grammar import from_json, lit, max_bytes
from lsh_bench.samplers.llm.schemas import ops_bound, program_grammar
from lsh_bench.samplers.llm.types import ChatRequest

from .fakes import ScriptedBackend, step_of

SCHEMA = FeatureSchema((Column("age", "numeric", integer=True), Column("dose", "numeric"),
                        Column("sex", "categorical", categories=("f", "m"))))
REQ = ChatRequest(messages=(("user", "Give a."),), json_schema={"type": "object"}, max_tokens=64,
                  temperature=0.8, top_p=0.9, seed=0, draw=0)


def test_decoding_is_part_of_the_key_and_absent_decoding_keeps_old_keys() -> None:
    plain = cache_key("local", "m", REQ)
    assert plain == cache_key("local", "m", dataclasses.replace(REQ, decoding=None))
    a = dataclasses.replace(REQ, decoding=decoding_request(grammar=lit("{}")))
    b = dataclasses.replace(REQ, decoding=decoding_request(grammar=lit("[]")))
    c = dataclasses.replace(REQ, decoding=decoding_request(grammar=lit("{}"), prefix_until=["x"]))
    keys = {plain, cache_key("local", "m", a), cache_key("local", "m", b), cache_key("local", "m", c)}
    assert len(keys) == 4
    json.dumps(a.as_dict())      # plain data: the key is computed from it


def test_decoding_request_needs_exactly_one_answer_kind() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        decoding_request()
    with pytest.raises(ValueError, match="exactly one"):
        decoding_request(grammar=lit("{}"), prose=(10, 15))


def run_generation(backend: str) -> list[ChatRequest]:
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(30, 60, 20), rng.uniform(1, 3, 20), rng.integers(0, 2, 20)]).astype(float)
    cfg = LLMConfig(backend=backend, cache_mode="off", min_outputs_per_round=5, max_rounds=10,
                    base_url="http://127.0.0.1:1/v1")
    fake = ScriptedBackend(SCHEMA)
    generate_rows(X, 30, schema=SCHEMA, cfg=cfg, seed=3, client=fake)
    return fake.requests


def test_local_requests_carry_grammars_sized_budgets_and_a_program_prefix() -> None:
    requests = run_generation("local")
    by_step = {step_of(r): r for r in requests}
    report, variables, program = by_step["report"], by_step["variables"], by_step["program"]
    assert report.decoding["prose"] == {"min_words": 500, "max_words": 750,
                                        "loop": {"min_chars": 64, "max_period": 200, "min_repeats": 4}}
    assert report.decoding["grammar"] is None
    assert report.max_tokens == 3 * 750 + 64
    grammar = from_json(program.decoding["grammar"])
    assert grammar == program_grammar(SCHEMA, ops_bound(5), 5)         # the step form: >= 5 outputs
    assert program.max_tokens == max_bytes(grammar)           # the longest answer fits: never cut
    assert variables.max_tokens == max_bytes(from_json(variables.decoding["grammar"]))
    assert program.decoding["prefix_until"] == list(compact_prompts.PROGRAM_ROUND_PART)
    user = program.messages[-1][1]
    assert user.rfind(compact_prompts.PROGRAM_ROUND_PART[0]) > user.find("Format example")   # round part last
    rounds = [r for r in requests if step_of(r) == "program"]
    cut = [r.messages[-1][1].rfind(compact_prompts.PROGRAM_ROUND_PART[0]) for r in rounds]
    assert len({r.messages[-1][1][:c] for r, c in zip(rounds, cut)}) == 1    # shared by every round


def test_endpoint_requests_are_unchanged_in_form() -> None:
    requests = run_generation("openai")
    assert all(r.decoding is None for r in requests)
    assert {r.max_tokens for r in requests if step_of(r) == "program"} == {LLMConfig().max_tokens}
