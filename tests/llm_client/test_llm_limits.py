"""Bounded LLM requests: a whole-request deadline for every backend, a cap on an answer's size,
and a clear, retried error for a 200 answer that is not a chat completion."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lsh_bench.errors import LLMError
from lsh_bench.samplers.llm import local_backend
from lsh_bench.samplers.llm.backends import LocalBackend, OpenAIBackend
from lsh_bench.samplers.llm.cache import ReplayCache, entry_size_limit
from lsh_bench.samplers.llm.client import LLMClient
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.types import ChatRequest, ChatResponse
from lsh_bench.store import load_summary

from .conftest import FakeEndpoint
from .test_llm_cache import REQ

KEY_ENV = "LSH_TEST_FAKE_KEY"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-fake-0123456789")


def endpoint_cfg(base_url: str, tmp_path: Path, **kw: Any) -> LLMConfig:
    values: dict[str, Any] = dict(backend="openai", model="fake-model", base_url=base_url, api_key_env=KEY_ENV,
                                  timeout_s=2.0, request_deadline_s=60.0, max_retries=1, retry_backoff_s=0.01,
                                  cache_dir=str(tmp_path / "cache"))
    values.update(kw)
    return LLMConfig(**values)


def cache_entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").rglob("*.json")) if (tmp_path / "cache").exists() else []


# --------------------------------------------------------------------------- deadline, endpoint


def test_trickling_endpoint_fails_within_the_deadline(tmp_path: Path, fake_endpoint: FakeEndpoint) -> None:
    """1 byte every 0.5 s: no single wait reaches timeout_s=2, so only a whole-request deadline ends it
    (before: still blocked after 1 min 46 s)."""
    fake_endpoint.script = [("trickle", 0.5)] * 3
    client = LLMClient(endpoint_cfg(fake_endpoint.base_url, tmp_path, request_deadline_s=1.5, max_retries=1))
    assert client.backend is not None        # built (openai imported) before the clock starts
    t0 = time.monotonic()
    with pytest.raises(LLMError) as err:
        client.chat(REQ)
    elapsed = time.monotonic() - t0
    assert elapsed < 2 * 1.5 + 0.5, f"took {elapsed:.1f} s for 2 attempts of a 1.5 s deadline"
    assert elapsed >= 2 * 1.5 - 0.1                  # both attempts ran to their deadline
    text = str(err.value)
    assert fake_endpoint.base_url in text and "after 2 attempt(s)" in text
    assert "no complete answer within llm.request_deadline_s=1.5 s" in text
    assert fake_endpoint.attempts == 2 and cache_entries(tmp_path) == []


def test_slow_but_complete_answer_within_the_deadline_is_accepted(tmp_path: Path,
                                                                  fake_endpoint: FakeEndpoint) -> None:
    fake_endpoint.script = [("sleep", 0.3)]
    r = OpenAIBackend(endpoint_cfg(fake_endpoint.base_url, tmp_path, request_deadline_s=5.0)).chat(REQ)
    assert r.text == '{"ok": true}' and fake_endpoint.attempts == 1


def test_a_deadline_miss_is_retried_then_succeeds(tmp_path: Path, fake_endpoint: FakeEndpoint) -> None:
    fake_endpoint.script = [("trickle", 0.2)]
    r = OpenAIBackend(endpoint_cfg(fake_endpoint.base_url, tmp_path, request_deadline_s=1.0)).chat(REQ)
    assert r.text == '{"ok": true}' and fake_endpoint.attempts == 2


def test_unit_with_a_trickling_endpoint_is_recorded_failed_naming_it(make_cfg, fake_endpoint: FakeEndpoint,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from lsh_bench.sweep import run_sweep

    # Every request trickles: at llm.max_concurrency=8 (the preset) the unit's 20 generations
    # ask their first request at once, and the sequential pass meets the recorded failure.
    fake_endpoint.script = [("trickle", 0.5)] * 40
    cfg = make_cfg("method=lm", "dataset=haberman", "grid=smoke", "llm=openai",
                   f"llm.base_url={fake_endpoint.base_url}", f"llm.api_key_env={KEY_ENV}",
                   "llm.request_deadline_s=1", "llm.max_retries=0", "llm.timeout_s=5")
    t0 = time.monotonic()
    (rec,) = run_sweep(cfg)
    assert time.monotonic() - t0 < 30
    assert rec["status"] == "failed"
    assert fake_endpoint.base_url in rec["reason"] and "request_deadline_s=1 s" in rec["reason"]
    row = load_summary(cfg.run.results_dir).iloc[0]
    assert row["status"] == "failed" and fake_endpoint.base_url in row["reason"]


# --------------------------------------------------------------------------- answers that are not completions


def test_non_json_200_names_the_endpoint_and_is_retried(tmp_path: Path, fake_endpoint: FakeEndpoint) -> None:
    """Before: AttributeError: 'str' object has no attribute 'choices', endpoint not named, not retried."""
    fake_endpoint.script = [("raw", b"<html>proxy error</html>"), "ok"]
    backend = OpenAIBackend(endpoint_cfg(fake_endpoint.base_url, tmp_path, max_retries=1))
    assert backend.chat(REQ).text == '{"ok": true}' and fake_endpoint.attempts == 2

    fake_endpoint.script = [("raw", b"<html>proxy error</html>")] * 3
    with pytest.raises(LLMError) as err:
        backend.chat(dataclasses.replace(REQ, draw=1))
    text = str(err.value)
    assert fake_endpoint.base_url in text and "after 2 attempt(s)" in text
    assert "answered HTTP 200 with a body that is not JSON (24 bytes, starting b'<html>proxy error</html>')" in text


def test_json_that_is_not_a_chat_completion_is_named(tmp_path: Path, fake_endpoint: FakeEndpoint) -> None:
    fake_endpoint.script = [("raw", b'{"error": "overloaded"}')] * 2
    with pytest.raises(LLMError, match=r"JSON that is not a chat completion \(keys \['error'\]"):
        OpenAIBackend(endpoint_cfg(fake_endpoint.base_url, tmp_path)).chat(REQ)
    assert fake_endpoint.attempts == 2


def test_a_54_mb_answer_is_refused_unread_and_not_cached(tmp_path: Path, fake_endpoint: FakeEndpoint) -> None:
    """Before: a 54 MB answer was cached as it was (cache 155 MB)."""
    body = json.dumps({"choices": [{"message": {"role": "assistant", "content": "x" * (54 * 2**20)}}]}).encode()
    fake_endpoint.script = [("raw", body)] * 2
    client = LLMClient(endpoint_cfg(fake_endpoint.base_url, tmp_path, max_retries=0))
    assert client.cfg.max_answer_bytes == 1_000_000              # the default cap
    with pytest.raises(LLMError) as err:
        client.chat(REQ)
    assert fake_endpoint.base_url in str(err.value)
    assert "answer larger than llm.max_answer_bytes=1000000 bytes" in str(err.value)
    assert cache_entries(tmp_path) == [] and client.usage.calls == 0


def test_client_caps_the_answer_of_any_backend_before_caching(tmp_path: Path) -> None:
    class Verbose:
        model = "m"

        def chat(self, request: ChatRequest) -> ChatResponse:
            return ChatResponse(text="y" * 5000, prompt_tokens=1, completion_tokens=1, seconds=0.1, cached=False,
                                key="", model="m")

    client = LLMClient(LLMConfig(cache_dir=str(tmp_path / "cache"), max_answer_bytes=4096), backend=Verbose())
    with pytest.raises(LLMError, match=r"is 5000 bytes, more than llm.max_answer_bytes=4096; not parsed, not cached"):
        client.chat(REQ)
    assert cache_entries(tmp_path) == []


def test_an_oversized_cache_entry_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    cache = ReplayCache(tmp_path / "cache", max_entry_bytes=entry_size_limit(1000))
    key = "ab" * 32
    path = cache.path_for(key)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"key": key, "text": "z" * 80_000}))
    with pytest.raises(LLMError) as err:
        cache.get(key)
    assert str(path) in str(err.value) and "not read" in str(err.value)
    assert entry_size_limit(1000) > 6 * 1000            # any answer within the cap still fits


# --------------------------------------------------------------------------- deadline, local model


class FakeLlama:
    """Stands in for llama_cpp.Llama: one decode step every 10 ms, asking the abort callback before each,
    failing as llama-cpp-python does when the callback aborts a decode."""

    def reset(self) -> None:
        self.tokens = 0

    def __init__(self, busy: bool = True) -> None:
        self.busy = busy                      # compute (CPU time passes) or wait (only wall time passes)
        self.tokens = 0
        self.abort: Any = lambda _: False

    def create_chat_completion(self, **kwargs: Any) -> dict[str, Any]:
        while self.tokens < kwargs["max_tokens"]:
            if self.busy:
                spin_until = time.thread_time() + 0.01
                while time.thread_time() < spin_until:
                    pass
            else:
                time.sleep(0.01)
            if self.abort(None):
                raise RuntimeError("llama_decode returned 2")
            self.tokens += 1
        return {"choices": [{"message": {"content": "{" * self.tokens}, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": self.tokens}}


def test_local_generation_stops_at_the_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeLlama()
    monkeypatch.setattr(local_backend, "resolve_model_path", lambda cfg: tmp_path / "fake.gguf")
    monkeypatch.setattr(local_backend, "load_llama", lambda path, n_ctx, n_threads: fake)
    monkeypatch.setattr(local_backend, "_set_abort_callback", lambda llm, callback: setattr(llm, "abort", callback))
    backend = LocalBackend(LLMConfig(cache_dir=str(tmp_path), request_deadline_s=0.3))
    t0 = time.monotonic()
    with pytest.raises(LLMError) as err:
        backend.chat(dataclasses.replace(REQ, max_tokens=10_000))     # 100 s of tokens without the deadline
    assert time.monotonic() - t0 < 1.0
    assert ("did not finish its answer within llm.request_deadline_s=0.3 s of the decoding thread's CPU time"
            in str(err.value))
    # the next request gets its own deadline: a short answer finishes normally
    assert backend.chat(dataclasses.replace(REQ, max_tokens=3)).completion_tokens == 3
    assert backend._deadline is None and fake.abort(None) is False        # no deadline between requests


def test_local_deadline_counts_compute_not_waiting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A decoding thread that is not running (load, a paused process) does not use up its request's deadline."""
    fake = FakeLlama(busy=False)
    monkeypatch.setattr(local_backend, "resolve_model_path", lambda cfg: tmp_path / "fake.gguf")
    monkeypatch.setattr(local_backend, "load_llama", lambda path, n_ctx, n_threads: fake)
    monkeypatch.setattr(local_backend, "_set_abort_callback", lambda llm, callback: setattr(llm, "abort", callback))
    backend = LocalBackend(LLMConfig(cache_dir=str(tmp_path), request_deadline_s=0.3))
    t0 = time.monotonic()
    answer = backend.chat(dataclasses.replace(REQ, max_tokens=60))         # ~0.6 s of waiting, little compute
    assert time.monotonic() - t0 > 0.3 and answer.completion_tokens == 60
    # with several llama.cpp threads the compute is not on the calling thread: wall time decides
    assert local_backend.deadline_clock(2) is time.monotonic and local_backend.deadline_clock(1) is time.thread_time
    other = LocalBackend(LLMConfig(cache_dir=str(tmp_path), request_deadline_s=0.3, n_threads=2))
    fake.tokens = 0
    with pytest.raises(LLMError, match="0.3 s of wall time"):
        other.chat(dataclasses.replace(REQ, max_tokens=60))


def test_a_deadline_asked_from_another_thread_uses_wall_time() -> None:
    deadline = local_backend.GenerationDeadline(0.05, clock=lambda: 0.0)      # a clock that never moves
    seen: list[bool] = []
    time.sleep(0.06)
    assert deadline.expired() is False                 # on its own thread: its clock decides
    worker = threading.Thread(target=lambda: seen.append(local_backend.GenerationDeadline.expired(deadline)))
    worker.start()
    worker.join()
    assert seen == [True] and deadline.expired() is True   # elsewhere: wall time, and it stays expired


@pytest.mark.llm
def test_local_real_model_honours_the_deadline(tmp_path: Path) -> None:
    """llama.cpp really consults the abort callback (prompt and tokens), and the model works afterwards."""
    request = ChatRequest(messages=(("user", "Count from 1 to 500, one number per line."),), json_schema=None,
                          max_tokens=400, temperature=0.0, top_p=1.0, seed=0, draw=0)
    backend = LocalBackend(LLMConfig(cache_dir=str(tmp_path), n_ctx=1024, request_deadline_s=0.5))
    t0 = time.monotonic()
    with pytest.raises(LLMError, match=r"request_deadline_s=0.5 s of the decoding thread's CPU time \(stopped after "
                                       r"\d+\.\d s wall\)"):
        backend.chat(request)
    assert time.monotonic() - t0 < 5.0          # 400 tokens take 30-60 s on this model and machine
    relaxed = LocalBackend(LLMConfig(cache_dir=str(tmp_path), n_ctx=1024, request_deadline_s=120))
    answer = relaxed.chat(dataclasses.replace(request, max_tokens=8))
    assert answer.text.strip() and answer.completion_tokens == 8
