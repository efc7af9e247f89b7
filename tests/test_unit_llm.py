"""LM and LS through the whole protocol.

* Replayed from a cache recorded from the real embedded model by the
  project's own code (``make record-llm-cache``)::

      python -m lsh_bench method=ls dataset=haberman grid=smoke llm.cache_dir=tests/fixtures/llm_cache_runner
      python -m lsh_bench method=lm dataset=haberman grid=smoke 'ratios=[0.4]' llm.cache_dir=...

  read-only here: a request that was not recorded is an error
  (``LLMCacheMiss``), so a change to prompts or schemas fails these tests
  until the cache is re-recorded.
* The call accounting of LM vs LS over a whole sweep, with a scripted chat
  backend standing in for the model (fast, exact call counts).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest

import lsh_bench.unit as unit
import lsh_bench.samplers.llm.backends as backends
import lsh_bench.samplers.llm.client as client
from lsh_bench.data.loader import load_dataset
from lsh_bench.sweep import run_sweep
from lsh_bench.store import load_ratio_stats
from tests.llm_gen.fakes import ScriptedBackend

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "llm_cache_runner"
# Overrides the cache was recorded with beyond the defaults: none. `make record-llm-cache` recorded it
# under the defaults (the paper's data preparation; reports that end at a loop), from the real model.
RECORDED_WITH: list[str] = []


def replay_cfg(make_cfg, method: str, *extra: str):
    return make_cfg(f"method={method}", "dataset=haberman", "grid=smoke", "llm.cache_mode=readonly",
                    f"llm.cache_dir={FIXTURE}", *RECORDED_WITH, *extra)


@pytest.fixture(autouse=True)
def fresh_clients():
    client._CLIENTS.clear()          # one client per config and process: start each test afresh
    yield
    client._CLIENTS.clear()


@pytest.mark.parametrize("method,extra", [("ls", ()), ("lm", ("ratios=[0.4]",))])
def test_replay_of_real_model_runs_the_whole_protocol(make_cfg, monkeypatch, method: str, extra) -> None:
    if not any(FIXTURE.rglob("*.json")):
        pytest.fail(f"no recorded LLM cache in {FIXTURE}: run `make record-llm-cache`")
    (rec,) = run_sweep(replay_cfg(make_cfg, method, *extra))
    assert rec["status"] == "done", rec.get("reason")
    assert 0 <= rec["test_f1"] <= 1 and 0 < rec["val_f1"] <= 1
    assert rec["llm"]["calls"] == 0 and rec["llm"]["cache_hits"] > 0     # replayed: no model call
    assert rec["provenance"]["llm"]["model"] == "SmolLM2-135M-Instruct-Q4_1"
    assert len(rec["llm"]["keys"]) > 0
    assert sum(rec["llm"]["repairs"].values()) > 0       # the 135M model's answers needed repairs: recorded
    if method == "ls":
        assert rec["seed_ratio"] == 0.4 and rec["ratios_applicable"][0] == 0.6   # LS scored above r0
        stats = load_ratio_stats(make_cfg().run.results_dir)
        folds = stats[stats["fold"] >= 0]
        assert (folds.groupby("ratio")["llm_cache_hits"].sum() > 0).all()
    # Rerunning the finished sweep computes nothing and calls no LLM.
    monkeypatch.setattr(unit, "run_unit", lambda *a, **k: pytest.fail("recomputed a finished unit"))
    assert run_sweep(replay_cfg(make_cfg, method, *extra)) == [rec]


# executions_per_program=1 is the paper (one state-machine run per program): program calls dominate
# LM's cost and LS needs at most a fifth of them. The local default (10 runs per program) cuts program
# calls ~10x for both, so LM's fixed report + variables calls (2 per generation, one generation per
# ratio and fold: 48 of its ~52 calls on haberman) dominate and the bound becomes a third.
# (llm=local's max_executions_per_program, which runs a program as often as the missing rows need, is
# turned off here: with it LM needs one program round per generation whatever executions_per_program is.)
@pytest.mark.parametrize("executions,factor", [(1, 5), (10, 3)])
def test_ls_makes_at_most_a_fifth_of_lm_calls_and_reruns_make_none(make_cfg, tmp_path, monkeypatch,
                                                                    executions: int, factor: int) -> None:
    k = f"llm.executions_per_program={executions}"
    make_cfg = functools.partial(make_cfg, "llm.max_executions_per_program=null")
    cfg = make_cfg("dataset=haberman")
    schema = load_dataset(cfg.dataset["haberman"], cfg.data).schema
    backend_calls: list[ScriptedBackend] = []

    def scripted(llm_cfg):
        backend_calls.append(ScriptedBackend(schema))
        return backend_calls[-1]

    monkeypatch.setattr(backends, "make_backend", scripted)
    records = {}
    for method in ("lm", "ls"):
        cache = tmp_path / f"cache_{method}"
        (rec,) = run_sweep(make_cfg(f"method={method}", "dataset=haberman", "grid=smoke", f"llm.cache_dir={cache}", k))
        assert rec["status"] == "done", rec.get("reason")
        records[method] = rec
    lm, ls = records["lm"]["llm"], records["ls"]["llm"]
    assert len(records["lm"]["ratios_applicable"]) == 4
    assert ls["calls"] > 0 and factor * ls["calls"] <= lm["calls"], (ls["calls"], lm["calls"])
    assert sum(b.calls for b in backend_calls) == ls["calls"] + lm["calls"]   # accounting = real calls
    assert ls["prompt_tokens"] == 100 * ls["calls"]

    # Same sweep again: finished units are skipped, no call at all.
    n_before = sum(b.calls for b in backend_calls)
    for method in ("lm", "ls"):
        (again,) = run_sweep(make_cfg(f"method={method}", "dataset=haberman", "grid=smoke",
                                      f"llm.cache_dir={tmp_path / f'cache_{method}'}", k))
        assert again == records[method]
    # A fresh results directory with the same cache: recomputed, but every answer replayed.
    client._CLIENTS.clear()
    fresh = make_cfg("method=ls", "dataset=haberman", "grid=smoke", f"llm.cache_dir={tmp_path / 'cache_ls'}",
                     f"run.results_dir={tmp_path / 'fresh'}", k)
    (replayed,) = run_sweep(fresh)
    assert replayed["llm"]["calls"] == 0 and replayed["test_f1"] == records["ls"]["test_f1"]
    assert sum(b.calls for b in backend_calls) == n_before


def test_a_failed_llm_unit_records_what_its_calls_cost(make_cfg, tmp_path, monkeypatch) -> None:
    """A unit that fails in its LLM step still spent calls: the record says how many (marked incomplete)."""
    cfg = make_cfg("dataset=haberman")
    schema = load_dataset(cfg.dataset["haberman"], cfg.data).schema
    served: list[ScriptedBackend] = []

    def scripted(llm_cfg):      # every program answer names no column: each generation fails at the program step
        served.append(ScriptedBackend(schema, program=['{"ops":[{"op":"set_to","var":"nope","value":1}]}']))
        return served[-1]

    monkeypatch.setattr(backends, "make_backend", scripted)
    (rec,) = run_sweep(make_cfg("method=lm", "dataset=haberman", "grid=smoke", "ratios=[0.4]",
                                "llm.max_executions_per_program=null", f"llm.cache_dir={tmp_path / 'cache'}"))
    assert rec["status"] == "failed" and "LLMOutputInvalid" in rec["reason"]
    llm = rec["llm"]
    assert llm["complete"] is False and llm["calls"] >= 2 + 1 + 3      # report, variables, 1 + max_retries programs
    assert llm["calls"] <= sum(b.calls for b in served) and len(llm["keys"]) == len(set(llm["keys"])) > 0
    assert llm["prompt_tokens"] == 100 * llm["calls"]                  # the scripted backend's 100 per call
    assert sum(n for k, n in llm["rejected"].items() if k.startswith("program:")) >= 3   # why it failed, counted
    # replayed from the cache: no call, same failure, the rejected answers still counted
    client._CLIENTS.clear()
    (again,) = run_sweep(make_cfg("method=lm", "dataset=haberman", "grid=smoke", "ratios=[0.4]",
                                  "llm.max_executions_per_program=null", f"llm.cache_dir={tmp_path / 'cache'}",
                                  f"run.results_dir={tmp_path / 'replayed'}"))
    assert again["status"] == "failed" and again["llm"]["calls"] == 0 and again["llm"]["cache_hits"] > 0
    assert again["llm"]["rejected"] == llm["rejected"]
    # a unit that fails before any LLM call records no llm section
    (miss,) = run_sweep(make_cfg("method=ls", "dataset=haberman", "grid=smoke", "llm.cache_mode=readonly",
                                 f"llm.cache_dir={tmp_path / 'empty'}", f"run.results_dir={tmp_path / 'r2'}"))
    assert miss["status"] == "failed" and "llm" not in miss


def test_failed_sums_the_finished_groups_and_the_failed_generation(make_cfg) -> None:
    """The pool's path (``sweep._settle``): finished CV groups' usage + the exception's, marked incomplete."""
    from types import SimpleNamespace

    from lsh_bench.config import unit_config_hash
    from lsh_bench.samplers.llm.types import LLMUsage

    cfg = make_cfg("method=lm", "dataset=haberman")
    spec = cfg.dataset["haberman"]
    run = unit.UnitRun(cfg, spec, store=None, config_hash=unit_config_hash(cfg, spec), code={})
    done = [(0, f, SimpleNamespace(usage=LLMUsage(calls=3, prompt_tokens=30, seconds=1.5, keys=[f"k{f}"])))
            for f in range(2)]
    exc = ValueError("the program step failed")
    exc.llm_usage = LLMUsage(calls=4, prompt_tokens=40, seconds=2.0, keys=["k9"])
    run.failed(exc, SimpleNamespace(results=done))
    llm = run.fields["llm"]
    assert (llm["calls"], llm["prompt_tokens"], llm["seconds"], llm["keys"], llm["complete"]) == (
        10, 100, 5.0, ["k0", "k1", "k9"], False)
    assert run.fields["status"] == "failed"


def test_readonly_cache_miss_is_a_recorded_failure_naming_the_cache(make_cfg, tmp_path) -> None:
    (rec,) = run_sweep(make_cfg("method=ls", "dataset=haberman", "grid=smoke", "llm.cache_mode=readonly",
                                f"llm.cache_dir={tmp_path / 'empty_cache'}"))
    assert rec["status"] == "failed"
    assert "LLMCacheMiss" in rec["reason"] and "empty_cache" in rec["reason"]


@pytest.mark.parametrize("scenario", ["fewshot", "zeroshot"])
def test_sm_is_not_applicable_in_few_and_zero_shot(make_cfg, scenario: str) -> None:
    (sm,) = run_sweep(make_cfg("method=sm", f"scenario={scenario}", "dataset=haberman", "grid=smoke"))
    assert sm["status"] == "not_applicable" and "at least 6 real minority rows" in sm["reason"]
    (org,) = run_sweep(make_cfg("method=org", f"scenario={scenario}", "dataset=haberman", "grid=smoke"))
    # the paper's construction keeps round(0.01 * 225) = 2 minority rows of haberman in all: some
    # training part has none, and ORG cannot be scored there
    assert org["status"] == "not_applicable" and "no minority row" in org["reason"]
    if scenario == "fewshot":           # thinned per training part (at least 1 row each), ORG runs
        (org,) = run_sweep(make_cfg("method=org", "scenario=fewshot", "scenario.construction=per_fold",
                                    "dataset=haberman", "grid=smoke"))
        assert org["status"] == "done" and org["choice"]["ratio"] is None



def test_rows_vs_real_replays_the_recorded_lm_rows(make_cfg, mirror, capsys, monkeypatch) -> None:
    """scripts/llm_rows_vs_real.py rebuilds LM's rows from the cache alone and compares them per column."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "scripts"))
    import llm_rows_vs_real

    from lsh_bench.data.splits import make_split

    args = ["method=lm", "dataset=haberman", "grid=smoke", "ratio=0.4", f"data.mirror_dirs=[{mirror}]",
            "data.use_openml=false", f"llm.cache_dir={FIXTURE}", *RECORDED_WITH]
    assert llm_rows_vs_real.main(args) == 0          # readonly cache: a model call would be an LLMCacheMiss
    out = capsys.readouterr().out.splitlines()
    cfg = replay_cfg(make_cfg, "lm")
    ds = load_dataset(cfg.dataset["haberman"], cfg.data, cfg.preprocess.encoding)
    split = make_split(ds.y, cfg.protocol, cfg.seeds, cfg.scenario, ds.name)
    train_min = [int((ds.y[p.train] == 1).sum()) for p in split.folds]
    added = [int((ds.y[p.train] == 0).sum() * 0.4 - m) for p, m in zip(split.folds, train_min)]
    assert out[0].endswith(f"{sum(train_min)} training minority rows, "
                           f"{sum(int((ds.y[p.score] == 1).sum()) for p in split.folds)} held-out minority rows, "
                           f"{sum(added)} LLM rows")
    rows = [r for r in out[3:] if r.startswith("| ")]
    assert [r[2:].split(" | ")[0] for r in rows] == list(ds.schema.names)
    assert not any(" - " in r for r in rows)        # general scenario: every statistic exists
    sys.modules.pop("llm_rows_vs_real", None)
