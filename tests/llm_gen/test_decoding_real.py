"""The local decoder with the REAL embedded model (SmolLM2-135M): short answers, marked ``llm``.

* the grammar ends an answer at its closing brace (nothing sampled after it, far below max_tokens);
* an answer depends on (request, seed) only: the kept prompt prefix gives bit-identical logits,
  whatever was decoded before (another prompt with the same prefix, the legacy chat path).
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.samplers.llm import compact_prompts
from lsh_bench.samplers.llm.backends import LocalBackend
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.decoding import decoding_request
from lsh_bench.samplers.llm.grammar import max_bytes
from lsh_bench.samplers.llm.parse import strict_ok
from lsh_bench.samplers.llm.schemas import json_schema, program_grammar, program_model
from lsh_bench.samplers.llm.types import ChatRequest

pytestmark = pytest.mark.llm

SCHEMA = FeatureSchema((Column("age", "numeric", integer=True), Column("nodes", "numeric", integer=True),
                        Column("sex", "categorical", categories=("f", "m"))))
N_OPS = 8
SHARED = ("Write a program that creates new rows of patients. Operations: init, set_to, change_by, output. "
          "Use at least 3 output operations.\nFormat example: "
          '{"ops":[{"op":"init"},{"op":"change_by","var":"age","delta":2},{"op":"output"}]}\n\n')


def request(rows: str, draw: int = 0) -> ChatRequest:
    grammar = program_grammar(SCHEMA, N_OPS)
    return ChatRequest(
        messages=(("system", "You are a careful data scientist."),
                  ("user", SHARED + f"{compact_prompts.PROGRAM_ROUND_PART[0]}\n<data>\n{rows}</data>")),
        json_schema=json_schema(program_model(SCHEMA, N_OPS)), max_tokens=max_bytes(grammar),
        temperature=0.8, top_p=0.9, seed=7, draw=draw,
        decoding=decoding_request(grammar=grammar, prefix_until=compact_prompts.PROGRAM_ROUND_PART))


ROWS_A = "age,nodes,sex\n61,4,f\n45,12,m\n"
ROWS_B = "age,nodes,sex\n38,0,m\n70,2,f\n52,7,f\n"


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    return LocalBackend(LLMConfig(cache_mode="off", n_ctx=2048))


def test_grammar_ends_the_answer_at_the_closing_brace(backend: LocalBackend) -> None:
    req = request(ROWS_A)
    r = backend.chat(req)
    assert r.text.endswith("]}") and " " not in r.text.replace('"set_to"', "")   # no whitespace from the model
    json.loads(r.text)
    assert strict_ok(program_model(SCHEMA, N_OPS), r.text)
    assert r.completion_tokens < req.max_tokens                         # ended by the grammar, not the cap
    assert r.completion_tokens == r.timings["forced_tokens"] + r.timings["sampled_tokens"]
    assert r.timings["forced_tokens"] > 0                               # keys and names were not sampled


def test_answer_depends_on_request_and_seed_only(backend: LocalBackend) -> None:
    a, b = request(ROWS_A), request(ROWS_B)
    first = backend.chat(a)
    other = backend.chat(b)                  # same prefix: kept in the KV cache
    again = backend.chat(a)
    assert other.timings.get("prefix_reused_tokens", 0) > 0 and again.timings.get("prefix_reused_tokens", 0) > 0
    assert again.text == first.text and again.timings["logit_sum"] == first.timings["logit_sum"]
    # the legacy path (llama.cpp's schema grammar) overwrites the KV cache; the prefix is evaluated anew
    backend.chat(dataclasses.replace(a, decoding=None, max_tokens=16))
    fresh = backend.chat(a)
    assert "prefix_reused_tokens" not in fresh.timings
    assert fresh.text == first.text and fresh.timings["logit_sum"] == first.timings["logit_sum"]
    # a different draw is a different sample of the same prompt
    assert backend.chat(dataclasses.replace(a, draw=1)).timings["logit_sum"] != first.timings["logit_sum"]


def test_a_retried_lean_report_rereads_only_its_instruction_with_the_q8_0_weights(tmp_path, monkeypatch) -> None:
    """llm=local's defaults for real: the Q8_0 copy answers, and a report asked again (the next draw)
    re-evaluates only the text after the lean set's marker, while a fresh model gives the same answer."""
    from lsh_bench.samplers.llm import local_backend

    monkeypatch.setenv(local_backend.MODEL_CACHE_ENV, str(tmp_path))
    q8 = LocalBackend(LLMConfig(cache_mode="off", n_ctx=2048, weights="Q8_0", prompts="lean"))
    assert q8.model == "SmolLM2-135M-Instruct-Q4_1+Q8_0" and q8.model_path.parent == tmp_path
    marker = compact_prompts.prefix_until("report", "lean")
    user = compact_prompts.report(SCHEMA, ROWS_B, 3, 3, 20, "lean")
    assert user.count(marker[0]) == 1

    def report(draw: int) -> ChatRequest:
        return ChatRequest(messages=(("system", compact_prompts.system(5, "lean")), ("user", user)),
                           json_schema=None, max_tokens=120, temperature=0.8, top_p=0.9, seed=7, draw=draw,
                           decoding=decoding_request(prose=(20, 30), prefix_until=marker))

    first = q8.chat(report(0))
    retry = q8.chat(report(1))
    assert first.text.strip() and retry.timings["prefix_reused_tokens"] > 0
    assert retry.timings["prompt_eval_tokens"] < 80 < retry.timings["prefix_reused_tokens"]
    q8._forget_prefix()
    assert q8.chat(report(1)).text == retry.text           # the kept prefix changed nothing
