"""The real model: in-process (LocalBackend) and behind llama-cpp-python's OpenAI-style server.

Small on purpose (one core, short answers): these run in CI by default.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from lsh_bench.errors import LLMError
from lsh_bench.samplers.llm.backends import OpenAIBackend
from lsh_bench.samplers.llm.client import LLMClient
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.types import ChatRequest

from .conftest import LlamaServer

pytestmark = pytest.mark.llm


class Column(BaseModel):
    name: Literal["age", "income"]
    units: Literal["integer", "any number"]


class Columns(BaseModel):
    columns: list[Column] = Field(min_length=1, max_length=2)


REQUEST = ChatRequest(
    messages=(("system", "You describe table columns as JSON."),
              ("user", "The table has the columns age (years) and income (dollars). Describe both.")),
    json_schema=Columns.model_json_schema(), max_tokens=80, temperature=0.8, top_p=0.9, seed=0, draw=0,
)


def local_cfg(tmp_path: Path, **kw) -> LLMConfig:
    return LLMConfig(cache_dir=str(tmp_path / "cache"), n_ctx=1024, n_threads=1, **kw)


def test_local_constrained_json_then_cache_hit(tmp_path: Path) -> None:
    client = LLMClient(local_cfg(tmp_path))
    first = client.chat(REQUEST)
    Columns.model_validate_json(first.text)  # valid against the schema (the grammar guarantees the form)
    usage = client.take_usage()
    assert (usage.calls, usage.cache_hits) == (1, 0)
    assert first.prompt_tokens > 10 and 0 < first.completion_tokens <= 80
    assert usage.completion_tokens == first.completion_tokens and usage.seconds > 0
    assert first.model == "SmolLM2-135M-Instruct-Q4_1" and not first.cached

    second = client.chat(REQUEST)
    usage = client.take_usage()
    assert (usage.calls, usage.cache_hits, usage.completion_tokens) == (0, 1, 0)
    assert second.cached and second.text == first.text and second.key == first.key


def test_local_same_request_same_answer_regardless_of_history(tmp_path: Path) -> None:
    """Seeded sampling is reproducible whatever was asked before (the KV cache is reset per call).

    Without the reset, llama-cpp-python reuses the previous prompt's KV cache
    and the repeated request got a different answer (seen with 0.3.36).
    """
    client = LLMClient(local_cfg(tmp_path, cache_mode="off"))
    numbers = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20},
                                                "values": {"type": "array", "items": {"type": "integer"},
                                                           "maxItems": 40}},
               "required": ["name", "values"]}
    ask = dataclasses.replace(REQUEST, messages=(("user", "List forty integers from 1 upward with a name."),),
                              json_schema=numbers, max_tokens=160)
    texts = [client.chat(ask).text, client.chat(ask).text]
    assert texts[0] == texts[1]
    assert client.usage.calls == 2


def test_local_prompt_over_context_is_an_llm_error(tmp_path: Path) -> None:
    client = LLMClient(local_cfg(tmp_path, cache_mode="off"))
    huge = dataclasses.replace(REQUEST, json_schema=None, messages=(("user", "word " * 2000),), max_tokens=4)
    with pytest.raises(LLMError, match="n_ctx=1024"):
        client.chat(huge)


def test_openai_backend_against_loopback_llama_server(
    llama_server: LlamaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LSH_TEST_KEY", llama_server.api_key)
    cfg = LLMConfig(backend="openai", model="SmolLM2-135M-Instruct-Q4_1", base_url=llama_server.base_url,
                    api_key_env="LSH_TEST_KEY", timeout_s=60, max_retries=1, retry_backoff_s=0.1,
                    cache_dir=str(tmp_path / "cache"))
    with caplog.at_level(logging.DEBUG):
        client = LLMClient(cfg)
        response = client.chat(REQUEST)
        Columns.model_validate_json(response.text)  # json_object + schema: the server applied the grammar
        backend = client.backend
        assert isinstance(backend, OpenAIBackend)
        assert backend.json_schema_supported is False  # llama-cpp-python's server rejected json_schema
        usage = client.take_usage()
        assert (usage.calls, usage.cache_hits) == (1, 0)
        assert usage.prompt_tokens > 10 and 0 < usage.completion_tokens <= 80 and usage.seconds > 0
        assert client.chat(REQUEST).cached and client.take_usage().calls == 0

        # A wrong key is refused by the server (proves the key from the environment is what is sent).
        monkeypatch.setenv("LSH_TEST_KEY", "sk-wrong")
        with pytest.raises(LLMError, match="401"):
            OpenAIBackend(cfg).chat(REQUEST)

    out, err = capfd.readouterr()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written, "the cache should hold the answer"
    for path in written:
        assert llama_server.api_key not in path.read_text(errors="replace"), path
    for text in (caplog.text, out, err, repr(backend), repr(vars(backend))):
        assert llama_server.api_key not in text
