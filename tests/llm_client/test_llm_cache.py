"""Replay cache: keys, modes, atomic writes, corrupt entries."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import os
from pathlib import Path
from typing import Any

import pytest

from lsh_bench.errors import LLMCacheMiss, LLMError
from lsh_bench.samplers.llm.cache import GenerationCost, ReplayCache, cache_key, generation_cost
from lsh_bench.samplers.llm.client import LLMClient
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.types import ChatRequest, ChatResponse

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
REQ = ChatRequest(messages=(("system", "Answer in JSON."), ("user", "Give a.")), json_schema=SCHEMA,
                  max_tokens=64, temperature=0.8, top_p=0.9, seed=0, draw=0)


class CountingBackend:
    """Answers every request with a numbered text and counts real calls."""

    def __init__(self, model: str = "SmolLM2-135M-Instruct-Q4_1") -> None:
        self.model = model
        self.calls = 0

    def chat(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        return ChatResponse(text=f'{{"a": {self.calls}}}', prompt_tokens=11, completion_tokens=5,
                            seconds=0.25, cached=False, key="", model=self.model)


def client(tmp_path: Path, mode: str = "readwrite", **kw: Any) -> tuple[LLMClient, CountingBackend]:
    backend = CountingBackend()
    cfg = LLMConfig(cache_dir=str(tmp_path / "cache"), cache_mode=mode, **kw)
    return LLMClient(cfg, backend=backend), backend


def response(text: str = '{"a": 1}') -> ChatResponse:
    return ChatResponse(text=text, prompt_tokens=3, completion_tokens=4, seconds=0.5, cached=False, key="", model="m")


# --------------------------------------------------------------------------- keys


def test_key_is_stable_across_processes_and_releases() -> None:
    # A golden value: if this changes, every recorded cache (tests/fixtures/llm_cache) is orphaned.
    assert cache_key("local", "SmolLM2-135M-Instruct-Q4_1", REQ) == (
        "a565948ac91bfa0fea206f9b500d66d009b69dfb2abd9f17003726c62b8ea138")


def test_key_ignores_schema_key_order() -> None:
    reordered = dict(reversed(list(SCHEMA.items())))
    assert list(reordered) != list(SCHEMA)
    assert cache_key("local", "m", REQ) == cache_key("local", "m", dataclasses.replace(REQ, json_schema=reordered))


@pytest.mark.parametrize("change", [
    {"messages": (("system", "Answer in JSON."), ("user", "Give b."))},
    {"messages": (("user", "Answer in JSON."), ("user", "Give a."))},   # role matters
    {"messages": (("system", "Answer in JSON."),)},
    {"json_schema": None},
    {"json_schema": {**SCHEMA, "required": []}},
    {"max_tokens": 65},
    {"temperature": 0.7},
    {"top_p": 0.95},
    {"seed": 1},
    {"draw": 1},
    {"decoding": {"grammar": "root ::= \"{}\""}},
    {"strict_schema": True},
])
def test_every_request_field_changes_the_key(change: dict[str, Any]) -> None:
    assert cache_key("local", "m", REQ) != cache_key("local", "m", dataclasses.replace(REQ, **change))


def test_backend_and_model_change_the_key() -> None:
    base = cache_key("local", "m", REQ)
    assert cache_key("openai", "m", REQ) != base
    assert cache_key("local", "m2", REQ) != base


def test_request_fields_are_all_covered_by_the_key() -> None:
    # A new ChatRequest field must be added to the key (and to the parametrized test above).
    assert {f.name for f in dataclasses.fields(ChatRequest)} == {
        "messages", "json_schema", "max_tokens", "temperature", "top_p", "seed", "draw", "decoding", "strict_schema"}
    # strict_schema=False (every request before it existed) leaves the key as it was: the golden key above holds


# --------------------------------------------------------------------------- modes


def test_readwrite_miss_calls_and_stores_then_hit_replays(tmp_path: Path) -> None:
    c, backend = client(tmp_path)
    first = c.chat(REQ)
    assert (first.cached, backend.calls) == (False, 1)
    assert c.cache.path_for(first.key).is_file()
    second = c.chat(REQ)
    assert (second.cached, backend.calls) == (True, 1)
    assert (second.text, second.prompt_tokens, second.completion_tokens, second.key) == (
        first.text, first.prompt_tokens, first.completion_tokens, first.key)
    assert c.chat(dataclasses.replace(REQ, draw=1)).cached is False  # another draw is a fresh answer
    assert backend.calls == 2


def test_readonly_hit_and_miss(tmp_path: Path) -> None:
    writer, _ = client(tmp_path)
    writer.chat(REQ)
    reader, backend = client(tmp_path, "readonly")
    assert reader.chat(REQ).cached is True
    with pytest.raises(LLMCacheMiss) as err:
        reader.chat(dataclasses.replace(REQ, seed=5))
    key = reader.key(dataclasses.replace(REQ, seed=5))
    assert key in str(err.value) and str(tmp_path / "cache") in str(err.value)
    assert backend.calls == 0
    assert not reader.cache.path_for(key).exists()


def test_off_always_calls_and_stores_nothing(tmp_path: Path) -> None:
    writer, _ = client(tmp_path)
    writer.chat(REQ)  # an entry exists, but "off" must not read it
    c, backend = client(tmp_path, "off")
    assert c.chat(REQ).cached is False
    assert c.chat(REQ).cached is False
    assert backend.calls == 2
    assert c.chat(dataclasses.replace(REQ, seed=9)).cached is False
    assert not c.cache.path_for(c.key(dataclasses.replace(REQ, seed=9))).exists()


def test_entry_is_small_json_under_key_prefix(tmp_path: Path) -> None:
    c, _ = client(tmp_path)
    r = c.chat(REQ)
    path = tmp_path / "cache" / r.key[:2] / f"{r.key}.json"
    entry = json.loads(path.read_text())
    assert entry["key"] == r.key and entry["text"] == r.text and entry["completion_tokens"] == 5
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == [path]  # no temp files left


# --------------------------------------------------------------------------- atomicity


def test_partial_temp_file_is_never_read_as_entry(tmp_path: Path) -> None:
    cache = ReplayCache(tmp_path, "readwrite")
    key = "ab" + "0" * 62
    cache.path_for(key).parent.mkdir(parents=True)
    (cache.path_for(key).parent / ".tmp-crashed.part").write_text('{"key": "ab00', encoding="utf-8")
    assert cache.get(key) is None


def test_crash_before_rename_leaves_no_entry_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ReplayCache(tmp_path, "readwrite")
    key = "cd" + "1" * 62

    def crash(src: str, dst: str) -> None:
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        cache.put(key, response(), backend="local")
    monkeypatch.undo()
    assert cache.get(key) is None
    assert list(cache.path_for(key).parent.iterdir()) == []


def _hammer(cache_dir: str, key: str, writer: int, n: int) -> int:
    """Child process: write the same key n times with a large, writer-specific text."""
    cache = ReplayCache(Path(cache_dir), "readwrite")
    text = json.dumps({"writer": writer, "pad": "x" * 200_000})
    for _ in range(n):
        cache.put(key, response(text), backend="local")
    return writer


def test_concurrent_writers_of_one_key_never_expose_a_partial_entry(tmp_path: Path) -> None:
    key = "ef" + "2" * 62
    cache = ReplayCache(tmp_path, "readwrite")
    ctx = mp.get_context("spawn")
    seen: set[int] = set()
    with ctx.Pool(3) as pool:
        jobs = [pool.apply_async(_hammer, (str(tmp_path), key, w, 40)) for w in range(3)]
        while not all(j.ready() for j in jobs):
            hit = cache.get(key)  # raises on any partial/corrupt file
            if hit is not None:
                seen.add(json.loads(hit.text)["writer"])
        assert sorted(j.get(timeout=30) for j in jobs) == [0, 1, 2]
    final = cache.get(key)
    assert final is not None and json.loads(final.text)["writer"] in {0, 1, 2}
    assert seen <= {0, 1, 2}
    assert [p.name for p in cache.path_for(key).parent.iterdir()] == [f"{key}.json"]  # no temp files left


# --------------------------------------------------------------------------- corrupt entries


@pytest.mark.parametrize("content", [
    "",
    '{"key": "trunc',
    "[1, 2]",
    json.dumps({"key": "K", "text": 5, "prompt_tokens": 1, "completion_tokens": 1, "seconds": 1, "model": "m"}),
    json.dumps({"key": "K", "text": "t", "prompt_tokens": 1, "seconds": 1, "model": "m"}),
    json.dumps({"key": "0" * 64, "text": "t", "prompt_tokens": 1, "completion_tokens": 1, "seconds": 1,
                "model": "m"}),
])
def test_corrupt_entry_is_an_error_naming_the_file(tmp_path: Path, content: str) -> None:
    c, backend = client(tmp_path)
    key = c.key(REQ)
    path = c.cache.path_for(key)
    path.parent.mkdir(parents=True)
    path.write_text(content.replace('"K"', json.dumps(key)), encoding="utf-8")
    with pytest.raises(LLMError) as err:
        c.chat(REQ)
    assert str(path) in str(err.value) and "corrupt" in str(err.value)
    assert backend.calls == 0  # not silently re-asked
    assert path.read_text(encoding="utf-8") == content.replace('"K"', json.dumps(key))  # not overwritten


def test_generation_cost_sums_distinct_recorded_entries_and_counts_missing_ones(tmp_path: Path) -> None:
    cache = ReplayCache(tmp_path / "cache")
    keys = [cache_key("local", "m", dataclasses.replace(REQ, draw=d)) for d in range(3)]
    for key, (p, c, s) in zip(keys, [(100, 20, 1.5), (50, 5, 0.25)]):
        cache.put(key, ChatResponse(text="{}", prompt_tokens=p, completion_tokens=c, seconds=s, cached=False,
                                    key=key, model="m"), "local")
    # a key listed twice is one request; the third key has no entry: its cost is unknown, counted as missing
    cost = generation_cost([keys[0], keys[1], keys[0], keys[2]], tmp_path / "cache")
    assert (cost.requests, cost.tokens, cost.seconds, cost.missing) == (3, 175, 1.75, 1)
    assert generation_cost([], tmp_path / "nowhere") == GenerationCost(0, 0, 0.0, 0)
