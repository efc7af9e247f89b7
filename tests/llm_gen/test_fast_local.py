"""The embedded model's fast defaults (issue #15): report rows capped, the report prompt split before its
instruction (``lean`` set), programs run as often as the missing rows need, converted weights.

No model except in the weights test (llama.cpp's own converter on the shipped file); the rest uses
the scripted backend, so what is checked is the requests the generator sends and the rows it keeps.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.errors import ConfigError
from lsh_bench.samplers.llm import compact_prompts
from lsh_bench.samplers.llm.cache import cache_key
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.generator import executions, generate_rows
from lsh_bench.samplers.llm.prompt_files import PromptSetError, load_prompt_set

from .fakes import ScriptedBackend, good_program, step_of

SCHEMA = FeatureSchema((Column("age", "numeric", integer=True), Column("dose", "numeric"),
                        Column("sex", "categorical", categories=("f", "m"))))
REPORT_MARKER = "Write a plain-language report"


def minority(n: int = 40) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.column_stack([rng.integers(30, 60, n), rng.uniform(1, 3, n), rng.integers(0, 2, n)]).astype(float)


def generation(n_rows: int = 30, **cfg: object) -> tuple[ScriptedBackend, np.ndarray]:
    fake = ScriptedBackend(SCHEMA, program=[good_program(SCHEMA, outputs=5)])
    config = LLMConfig(backend="local", cache_mode="off", min_outputs_per_round=5, max_rounds=50, **cfg)
    rows, _ = generate_rows(minority(), n_rows, schema=SCHEMA, cfg=config, seed=3, client=fake)
    return fake, rows


def csv_rows(user_message: str) -> list[str]:
    block = user_message.split("<data>\n", 1)[1].split("</data>", 1)[0]
    return block.strip().splitlines()[1:]          # without the header


def test_report_rows_caps_the_rows_the_report_shows_and_none_shows_all() -> None:
    capped, _ = generation(report_rows=7)
    report = next(r for r in capped.requests if step_of(r) == "report")
    assert len(csv_rows(report.messages[-1][1])) == 7
    assert "7 of the 40 (a random sample)" in report.messages[-1][1]
    every, _ = generation()
    report = next(r for r in every.requests if step_of(r) == "report")
    assert len(csv_rows(report.messages[-1][1])) == 40


def test_lean_set_splits_the_report_before_its_instruction_and_compact_keeps_its_requests() -> None:
    lean, _ = generation(prompts="lean")
    report = next(r for r in lean.requests if step_of(r) == "report")
    assert report.decoding["prefix_until"] == [REPORT_MARKER]
    user = report.messages[-1][1]
    assert user.count(REPORT_MARKER) == 1 and user.find("</data>") < user.find(REPORT_MARKER)
    compact, _ = generation(prompts="compact")
    old = next(r for r in compact.requests if step_of(r) == "report")
    assert old.decoding["prefix_until"] == []          # compact's report requests (and keys) as before
    program = next(r for r in lean.requests if step_of(r) == "program")
    assert program.decoding["prefix_until"] == list(compact_prompts.PROGRAM_ROUND_PART)
    # same words as compact: only where the prompt splits differs
    assert [r.messages for r in lean.requests] == [r.messages for r in compact.requests]


def test_a_prompt_set_with_malformed_prefix_until_is_refused(tmp_path: Path) -> None:
    src = load_prompt_set("lean")
    for key, text in src.templates.items():
        (tmp_path / f"{key}.txt").write_text(text, encoding="utf-8")
    (tmp_path / "set.json").write_text(json.dumps({"answer_format": "guarded", "prefix_until": {"report": "x"}}))
    with pytest.raises(PromptSetError, match="prefix_until must map a step to a list"):
        load_prompt_set(str(tmp_path))


def test_executions_fill_the_missing_rows_between_the_bounds() -> None:
    legacy = LLMConfig(executions_per_program=10)
    assert executions(legacy, 5, 1000) == 10                         # None: always executions_per_program
    fill = LLMConfig(executions_per_program=10, max_executions_per_program=40)
    assert executions(fill, 5, 20) == 10                             # never fewer than executions_per_program
    assert executions(fill, 5, 101) == 21                            # ceil(101 / 5)
    assert executions(fill, 5, 1000) == 40                           # at most the maximum
    assert executions(fill, 0, 1000) == 10


def test_max_executions_gives_the_rows_in_one_program_round() -> None:
    few, rows = generation(n_rows=180, executions_per_program=10, max_executions_per_program=40)
    many, rows_many = generation(n_rows=180, executions_per_program=10)
    assert sum(step_of(r) == "program" for r in few.requests) == 1
    assert sum(step_of(r) == "program" for r in many.requests) == 4      # 5 outputs x 10 runs = 50 rows a round
    assert rows.shape == rows_many.shape == (180, 3) and np.isfinite(rows).all()


def test_weights_enter_the_model_id_and_the_cache_key_and_need_the_local_backend() -> None:
    assert LLMConfig().model_id == "SmolLM2-135M-Instruct-Q4_1"
    q8 = LLMConfig(weights="Q8_0")
    assert q8.model_id == "SmolLM2-135M-Instruct-Q4_1+Q8_0"
    from lsh_bench.samplers.llm.client import LLMClient
    from lsh_bench.samplers.llm.types import ChatRequest

    req = ChatRequest(messages=(("user", "x"),), json_schema=None, max_tokens=8, temperature=0.8, top_p=0.9,
                      seed=0, draw=0)
    assert LLMClient(q8, backend=object()).key(req) == cache_key("local", q8.model_id, req)
    assert LLMClient(q8, backend=object()).key(req) != LLMClient(LLMConfig(), backend=object()).key(req)
    with pytest.raises(ValueError, match="llm.weights=Q8_0 converts the local model's file"):
        LLMConfig(backend="openai", weights="Q8_0")


def test_converted_weights_are_made_once_by_llama_cpp_and_named_after_their_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("llama_cpp")
    from lsh_bench.samplers.llm import local_backend

    monkeypatch.setenv(local_backend.MODEL_CACHE_ENV, str(tmp_path))
    shipped = local_backend.resolve_model_path(LLMConfig())
    out = local_backend.converted_model(shipped, "Q8_0")
    assert out.parent == tmp_path and out.name.endswith(".Q8_0.gguf") and out.read_bytes()[:4] == b"GGUF"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]        # no temporary file left behind
    stamp = out.stat().st_mtime_ns
    assert local_backend.converted_model(shipped, "Q8_0") == out and out.stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="no tensor type"):
        local_backend.converted_model(shipped, "Q3_NOPE")


def test_start_rows_minority_starts_programs_from_every_minority_row() -> None:
    from lsh_bench.samplers.llm.generator import _Generation, start_rows

    X, example, mid = minority(), minority()[:5], np.zeros((1, 3))

    def gen(**cfg: object) -> _Generation:
        return _Generation(session=None, schema=SCHEMA, cfg=LLMConfig(**cfg), seed=0, n_rows=10, X_minority=X,
                           observed=[], fallback=[], local=True)

    assert start_rows(gen(), example, mid) is example                       # "shown": the round's examples
    assert start_rows(gen(start_rows="minority"), example, mid) is X
    zero = gen(start_rows="minority")
    zero.X_minority = X[:0]
    assert start_rows(zero, example[:0], mid) is mid                        # zero-shot: the midpoints
