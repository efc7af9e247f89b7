"""llm.max_concurrency: bounded_map, chat_many, rounds asked ahead, and whole LM/LS units at 1 vs 4 and 8 against a loopback replay endpoint.

The unit test is the acceptance check of the concurrency: the same unit at
``llm.max_concurrency=1`` and ``=4`` (``=8`` with the cache off) must ask the same requests (the second
run's server answers only what the first run recorded: a new request is an
HTTP 404 and fails the unit), write the same cache entries, and give the
same records, cells and per-ratio rows. Times are not compared (and not
asserted anywhere: ``scripts/bench_concurrency.py`` measures them).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lsh_bench.samplers.llm.client as client_mod
from lsh_bench.data.loader import load_dataset
from lsh_bench.samplers.llm.client import LLMClient
from lsh_bench.errors import LLMOutputInvalid
from lsh_bench.samplers.llm.concurrency import bounded_map, bounded_outcomes, is_prefetching, prefetching
from lsh_bench.samplers.llm.config import LLMConfig
from lsh_bench.samplers.llm.generator import generate_rows
from lsh_bench.samplers.llm.replay_server import ReplayEndpoint
from lsh_bench.samplers.llm.types import ChatRequest, ChatResponse
from lsh_bench.store import load_ratio_stats
from lsh_bench.sweep import run_sweep
from tests.llm_gen.fakes import REPORT, ScriptedBackend, good_program, good_variables, step_of
from tests.llm_gen.test_hostile import SCHEMA, X_ALL, X_MIN

REQ = ChatRequest(messages=(("user", "hi"),), json_schema=None, max_tokens=5, temperature=0.8, top_p=0.9, seed=1)


class SlowEcho:
    """Answers the request's draw after ``delay`` s; counts calls and the most at once."""

    model = "echo"

    def __init__(self, delay: float = 0.05) -> None:
        self.delay, self.calls, self.now, self.peak = delay, 0, 0, 0
        self.lock = threading.Lock()

    def chat(self, req: ChatRequest) -> ChatResponse:
        with self.lock:
            self.calls += 1
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.delay)
        with self.lock:
            self.now -= 1
        return ChatResponse(f"draw {req.draw}", 3, 2, self.delay, False, "", self.model)


def test_bounded_map_keeps_order_and_limit() -> None:
    now, peak, lock = [0], [0], threading.Lock()

    def work(x: int) -> int:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.02 * (5 - x % 5))          # later items finish first
        with lock:
            now[0] -= 1
        return x * x

    assert bounded_map(work, list(range(12)), 3) == [x * x for x in range(12)]
    assert 1 < peak[0] <= 3


def test_bounded_map_raises_the_first_failure_in_input_order_after_all_ran() -> None:
    ran: list[int] = []

    def work(x: int) -> int:
        ran.append(x)
        if x in (2, 5):
            raise ValueError(f"item {x}")
        return x

    with pytest.raises(ValueError, match="item 2"):
        bounded_map(work, list(range(8)), 4)
    assert sorted(ran) == list(range(8))
    out = bounded_outcomes(work, [1, 2], 2)
    assert out[0] == 1 and isinstance(out[1], ValueError)
    with pytest.raises(ValueError, match="max_concurrency"):
        bounded_map(work, [1], 0)


def test_bounded_map_in_a_prefetch_pass_keeps_the_flag_on_its_threads() -> None:
    def flag(_: int) -> bool:
        time.sleep(0.01)
        return is_prefetching()

    assert bounded_map(flag, list(range(6)), 3) == [False] * 6
    with prefetching():
        assert bounded_map(flag, list(range(6)), 3) == [True] * 6
    assert not is_prefetching()


def test_calls_in_flight_never_exceed_max_concurrency_whoever_asks(tmp_path: Path) -> None:
    """Prefetch jobs on 4 threads, each asking 6 requests at once on 4 more: still at most 4 calls at once."""
    backend = SlowEcho(delay=0.03)
    c = LLMClient(LLMConfig(cache_dir=str(tmp_path), cache_mode="off", max_concurrency=4), backend=backend)
    reqs = [[dataclasses.replace(REQ, seed=job, draw=d) for d in range(6)] for job in range(4)]

    def job(rs: list[ChatRequest]) -> list[str]:
        return [a.text for a in c.chat_many(rs)]

    with c.prefetched([lambda rs=rs: job(rs) for rs in reqs]) as ready:
        for i in range(len(reqs)):
            ready(i)
        assert backend.calls == 24 and 1 < backend.peak <= 4
        assert [[c.chat(r).text for r in rs] for rs in reqs] == [[f"draw {d}" for d in range(6)]] * 4
    assert backend.calls == 24 and c.usage.calls == 24 and c._prefetched == {}


class SlowScripted(ScriptedBackend):
    """The scripted generator backend, ``delay`` s per call; counts the most calls at once."""

    def __init__(self, *args, delay: float = 0.02, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.delay, self.now, self.peak, self.lock = delay, 0, 0, threading.Lock()

    def chat(self, req: ChatRequest) -> ChatResponse:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.delay)
        with self.lock:
            self.now -= 1
            return super().chat(req)


def _generate(tmp: Path, concurrency: int, n_rows: int = 100, **script):
    """One guarded generation (a program gives at most 16 rows: 7 rounds are sure at first for 100 rows)."""
    backend = SlowScripted(SCHEMA, **script)
    cfg = LLMConfig(cache_dir=str(tmp), max_retries=2, max_rounds=30, min_outputs_per_round=3,
                    max_concurrency=concurrency)
    client = LLMClient(cfg, backend=backend)
    try:
        rows, stats = generate_rows(X_MIN, n_rows, schema=SCHEMA, cfg=cfg, seed=3, client=client, X_train=X_ALL)
    except LLMOutputInvalid as exc:
        rows, stats = None, exc
    return rows, stats, backend, client


def _asked(backend: ScriptedBackend) -> list[tuple[str, int, int]]:
    return sorted((step_of(r), r.seed, r.draw) for r in backend.requests)


def test_a_generation_asks_its_sure_rounds_at_once_and_nothing_else_changes(tmp_path: Path) -> None:
    rows1, stats1, backend1, client1 = _generate(tmp_path / "c1", 1)
    rows4, stats4, backend4, client4 = _generate(tmp_path / "c4", 4)
    assert backend1.peak == 1 and 1 < backend4.peak <= 4          # the rounds overlapped, within the bound
    np.testing.assert_array_equal(rows4, rows1)
    assert stats4.as_dict() == stats1.as_dict()
    assert [len(s) for s in stats4.shown_rows] == [len(s) for s in stats1.shown_rows]
    assert _asked(backend4) == _asked(backend1) and backend1.calls == 2 + stats1.rounds   # no request wasted
    # the same requests, whole: content, seed, draw and decoding fields
    assert sorted(json.dumps(r.as_dict(), sort_keys=True) for r in backend4.requests) == \
        sorted(json.dumps(r.as_dict(), sort_keys=True) for r in backend1.requests)
    u1, u4 = client1.take_usage(), client4.take_usage()
    assert (u4.calls, u4.cache_hits, u4.keys) == (u1.calls, u1.cache_hits, u1.keys)
    assert _entries(tmp_path / "c4") == _entries(tmp_path / "c1")
    assert client4._prefetched == {}


def test_rounds_asked_ahead_and_not_asked_are_dropped_when_the_generation_fails(tmp_path: Path) -> None:
    bad = {"program": ["not a program"]}
    _, err1, backend1, client1 = _generate(tmp_path / "c1", 1, **bad)
    _, err4, backend4, client4 = _generate(tmp_path / "c4", 4, **bad)
    assert isinstance(err1, LLMOutputInvalid) and str(err4) == str(err1)
    assert backend1.calls == 2 + 3 and backend4.calls == 2 + 7     # 7 rounds were sure; 3 failed in a row
    u1, u4 = client1.take_usage(), client4.take_usage()
    assert (u4.calls, u4.keys) == (u1.calls, u1.keys)              # the 4 not asked: never counted,
    assert _entries(tmp_path / "c4") == _entries(tmp_path / "c1")  # never cached,
    assert client4._prefetched == {}                               # and not held


def test_prefetched_generations_asking_rounds_ahead_stay_within_the_bound(tmp_path: Path) -> None:
    """4 generations as prefetch jobs, each asking up to 7 rounds ahead: at most 3 calls at once, nothing else changes.

    Seed 3 twice: with the cache off a sequential run asks all its requests twice, and so does the prefetch
    pass (at once), so the sequential pass then asks nothing.
    """
    seeds = [3, 4, 3, 5]

    def run(concurrency: int):
        backend = SlowScripted(SCHEMA)
        cfg = LLMConfig(cache_dir=str(tmp_path), cache_mode="off", max_retries=2, max_rounds=30,
                        min_outputs_per_round=3, max_concurrency=concurrency)
        client = LLMClient(cfg, backend=backend)

        def gen(seed: int):
            return generate_rows(X_MIN, 100, schema=SCHEMA, cfg=cfg, seed=seed, client=client, X_train=X_ALL)

        if concurrency == 1:
            return [gen(s) for s in seeds], backend, client.take_usage(), client
        out = []
        with client.prefetched([lambda s=s: gen(s) for s in seeds]) as ready:
            for i in range(len(seeds)):
                ready(i)
            prefetch_calls = backend.calls
            out = [gen(s) for s in seeds]
            assert backend.calls == prefetch_calls          # every answer was asked in the prefetch pass
        return out, backend, client.take_usage(), client

    one, backend1, usage1, _ = run(1)
    three, backend3, usage3, client3 = run(3)
    assert backend1.peak == 1 and 1 < backend3.peak <= 3
    assert _asked(backend3) == _asked(backend1)
    assert (usage3.calls, usage3.cache_hits, usage3.keys) == (usage1.calls, usage1.cache_hits, usage1.keys)
    for (rows1, stats1), (rows3, stats3) in zip(one, three):
        np.testing.assert_array_equal(rows3, rows1)
        assert stats3.as_dict() == stats1.as_dict()
    assert client3._prefetched == {}


def test_chat_many_answers_in_request_order_and_counts_like_chat(tmp_path: Path) -> None:
    reqs = [dataclasses.replace(REQ, draw=d) for d in (3, 1, 2, 1, 0)]        # draw 1 asked twice
    backend = SlowEcho()
    many = LLMClient(LLMConfig(cache_dir=str(tmp_path / "a"), max_concurrency=4), backend=backend)
    answers = many.chat_many(reqs)
    assert [a.text for a in answers] == [f"draw {r.draw}" for r in reqs]
    assert backend.calls == 4 and backend.peak > 1        # the repeat was one call, the rest overlapped
    seq = LLMClient(LLMConfig(cache_dir=str(tmp_path / "b")), backend=SlowEcho())
    for r in reqs:
        seq.chat(r)
    got, want = many.take_usage(), seq.take_usage()
    assert (got.calls, got.cache_hits, got.keys) == (want.calls, want.cache_hits, want.keys) == (4, 1, want.keys)
    assert sorted(p.name for p in (tmp_path / "a").rglob("*.json")) == \
        sorted(p.name for p in (tmp_path / "b").rglob("*.json"))


def test_prefetched_answers_are_served_once_as_the_calls_they_were(tmp_path: Path) -> None:
    backend = SlowEcho()
    c = LLMClient(LLMConfig(cache_dir=str(tmp_path), cache_mode="off", max_concurrency=4), backend=backend)
    reqs = [dataclasses.replace(REQ, draw=d) for d in range(6)]
    with c.prefetched([lambda r=r: c.chat(r) for r in reqs]) as ready:
        for i in range(len(reqs)):
            ready(i)
        assert backend.calls == 6 and c.usage.calls == 0 and backend.peak > 1   # the prefetch counts nothing
        assert [c.chat(r).cached for r in reqs] == [False] * 6
        assert backend.calls == 6 and c.usage.calls == 6          # served, counted as the real calls
        c.chat(reqs[0])                                           # cache off: a repeat asks again
        assert backend.calls == 7
    assert c._prefetched == {}


def test_replay_endpoint_records_a_request_asked_twice_at_once_once(tmp_path: Path) -> None:
    def slow_answer(req: ChatRequest) -> str:
        time.sleep(0.1)                 # both asks miss the cache before either records
        return "ok"

    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5,
            "temperature": 0.8, "top_p": 0.9, "seed": 0}
    ep = ReplayEndpoint(tmp_path, "m", 0, answer_missing=slow_answer)
    assert bounded_map(lambda _: ep.answer(body)[0], [0, 1], 2) == [200, 200]
    assert ep.recorded == 1 and ep.answered == 2 and len(list(tmp_path.rglob("*.json"))) == 1


def _scripted_answer(schema):
    def answer(req: ChatRequest) -> str:
        step = step_of(req)
        return REPORT if step == "report" else good_variables(schema) if step == "variables" else good_program(schema)
    return answer


def _run(make_cfg, method: str, endpoint: ReplayEndpoint, cache: Path, results: Path, concurrency: int,
         cache_mode: str = "readwrite"):
    client_mod._CLIENTS.clear()
    (rec,) = run_sweep(make_cfg(
        f"method={method}", "dataset=haberman", "grid=smoke", "llm=vllm", f"llm.base_url={endpoint.base_url}",
        "llm.max_retries=0", f"llm.cache_dir={cache}", f"llm.cache_mode={cache_mode}", f"run.results_dir={results}",
        f"llm.max_concurrency={concurrency}",
        "llm.generator=guarded", "llm.prompts=compact",   # the scripted answers are the guarded generator's
    ))
    assert rec["status"] == "done", rec.get("reason")
    return rec


def _comparable(rec: dict) -> dict:
    """A record without what differs by design: timings, provenance (it holds the config)."""
    out = {k: v for k, v in rec.items() if k not in ("seconds", "started_at", "provenance")}
    out["llm"] = {k: v for k, v in rec["llm"].items() if k != "seconds"}
    if "quality" in rec:
        out["quality"] = {k: v for k, v in rec["quality"].items() if k != "seconds"}
    return out


def _entries(cache: Path) -> dict[str, str]:
    return {p.stem: json.loads(p.read_text())["text"] for p in cache.rglob("*.json")}


@pytest.mark.parametrize("method,cache_mode,concurrency",
                         [("lm", "readwrite", 4), ("ls", "readwrite", 4), ("lm", "off", 8), ("ls", "off", 8)])
def test_unit_at_concurrency_n_equals_concurrency_1(make_cfg, tmp_path: Path, method: str, cache_mode: str,
                                                    concurrency: int) -> None:
    """With the cache off every repeated request is asked again, at any concurrency (LS: one fold's ratios
    share their seed requests; LM: folds with the same N share the variables and program requests)."""
    cfg = make_cfg("dataset=haberman")
    schema = load_dataset(cfg.dataset["haberman"], cfg.data).schema
    # One server (its URL is part of the unit's config hash): recording, then replay only.
    with ReplayEndpoint(tmp_path / "server", "replay", 0, latency_s=0.05,
                        answer_missing=_scripted_answer(schema)) as ep:
        one = _run(make_cfg, method, ep, tmp_path / "c1", tmp_path / "r1", 1, cache_mode)
        assert ep.peak_in_flight == 1 and ep.answered == one["llm"]["calls"]
        recorded, ep.answer_missing, ep.answered, ep.peak_in_flight = ep.recorded, None, 0, 0   # new request: 404
        many = _run(make_cfg, method, ep, tmp_path / "cn", tmp_path / "rn", concurrency, cache_mode)
        assert ep.missing == 0 and ep.answered == one["llm"]["calls"]
        assert 1 < ep.peak_in_flight <= concurrency      # overlapped, never more than the bound
    assert many["llm"]["calls"] == one["llm"]["calls"] > 0
    assert _comparable(many) == _comparable(one)
    assert many["llm"]["keys"] == one["llm"]["keys"]
    assert _entries(tmp_path / "cn") == _entries(tmp_path / "c1")
    if cache_mode == "readwrite":
        assert recorded == one["llm"]["calls"]
        assert set(_entries(tmp_path / "c1")) == set(one["llm"]["keys"])
    else:
        assert recorded < one["llm"]["calls"] and _entries(tmp_path / "c1") == {}   # repeats asked again
    timing = ["resample_seconds", "llm_seconds"]
    pd.testing.assert_frame_equal(load_ratio_stats(tmp_path / "rn").drop(columns=timing),
                                  load_ratio_stats(tmp_path / "r1").drop(columns=timing))


def test_a_failed_sequential_pass_stops_the_prefetch_jobs_at_their_next_call(tmp_path: Path) -> None:
    """When the unit fails, generations still in flight ask nothing more: their answers would be dropped."""
    backend = SlowEcho(delay=0.02)
    c = LLMClient(LLMConfig(cache_dir=str(tmp_path), cache_mode="off", max_concurrency=4), backend=backend)
    # job 0 (the first the sequential pass waits for) is short; the others would ask 30 requests each
    reqs = [[dataclasses.replace(REQ, seed=job, draw=d) for d in range(2 if job == 0 else 30)] for job in range(4)]

    def one_by_one(rs: list[ChatRequest]) -> None:
        for r in rs:
            c.chat(r)

    def in_pairs(rs: list[ChatRequest]) -> None:      # chat_many's threads carry the pass's stop signal too
        for i in range(0, len(rs), 2):
            c.chat_many(rs[i:i + 2], max_concurrency=2)

    jobs = [lambda rs=rs, i=i: (one_by_one if i % 2 else in_pairs)(rs) for i, rs in enumerate(reqs)]
    with pytest.raises(LLMOutputInvalid, match="rejected"):
        with c.prefetched(jobs) as ready:
            ready(0)
            at_failure = backend.calls
            raise LLMOutputInvalid("the sequential pass: answers rejected")
    # each of the 3 other jobs finishes at most the call it was in (a pair: 2); before, all 92 calls ran
    assert 2 <= at_failure <= backend.calls <= at_failure + 6 < 40
    assert c._prefetched == {} and not is_prefetching()
    assert c.chat(reqs[3][29]).text == "draw 29"       # the client works on: nothing stopped outside the pass
