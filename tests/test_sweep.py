"""The sweep (lsh_bench.sweep): resume, retry of failed units, and the pooled scheduler (``run.n_jobs > 1``)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from joblib.externals.loky import ProcessPoolExecutor

import lsh_bench.sweep as sweep
import lsh_bench.unit as unit
from lsh_bench.data.loader import load_dataset
from lsh_bench.store import UnitStore, load_summary
from lsh_bench.sweep import run_sweep
from lsh_bench.unit import UnitJob

DATASETS = "dataset=[haberman,vertebra-column,analcatdata_apnea3,ionosphere]"


def _cells(rec: dict, results_dir: str) -> pd.DataFrame:
    store = UnitStore(results_dir, rec["scenario"], rec["method"], rec["dataset"], rec["config_hash"])
    cells = pd.read_parquet(store.dir / "cells.parquet").drop(columns="seconds")
    return cells.sort_values(["ratio", "fold", "cell_index"]).reset_index(drop=True)


_COMPARED = ("status", "choice", "val_f1", "test_f1", "fold_f1", "n_tied_best", "n_cells", "ratios_applicable",
             "ratios_skipped", "config_hash")


def test_rerun_recomputes_nothing_and_failed_units_are_retried(make_cfg, monkeypatch) -> None:
    cfg = make_cfg("dataset=[haberman,vertebra-column]", "grid=smoke")
    first = run_sweep(cfg)
    assert [r["status"] for r in first] == ["done", "done"]
    calls = []
    monkeypatch.setattr(unit, "run_job", lambda *a, **k: calls.append(a) or (_ for _ in ()).throw(AssertionError))
    again = run_sweep(cfg)
    assert calls == [] and again == first
    # A failed unit is recorded with its traceback, and retried (only it) on the next run.
    cfg2 = make_cfg("dataset=[haberman,vertebra-column]", "grid=smoke", "method=org")
    monkeypatch.setattr(unit, "run_job", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    failed = run_sweep(cfg2)
    assert [r["status"] for r in failed] == ["failed", "failed"]
    assert "RuntimeError: boom" in failed[0]["reason"] and "Traceback" in failed[0]["traceback"]
    monkeypatch.undo()
    retried = run_sweep(cfg2)
    assert [r["status"] for r in retried] == ["done", "done"]
    summary = load_summary(cfg.run.results_dir)
    assert sorted(summary["method"]) == ["org", "org", "sm", "sm"]
    assert summary["config_hash"].nunique() == 4


def test_pooled_sweep_equals_the_one_unit_at_a_time_sweep(make_cfg, tmp_path) -> None:
    serial_cfg = make_cfg(DATASETS, "grid=smoke", f"run.results_dir={tmp_path / 'serial'}")
    pooled_cfg = make_cfg(DATASETS, "grid=smoke", f"run.results_dir={tmp_path / 'pooled'}", "run.n_jobs=2")
    serial, pooled = run_sweep(serial_cfg), run_sweep(pooled_cfg)
    assert [r["dataset"] for r in pooled] == [r["dataset"] for r in serial]     # config order, not finish order
    assert [r["status"] for r in pooled] == ["done"] * 4
    for a, b in zip(serial, pooled):
        assert {k: a[k] for k in _COMPARED} == {k: b[k] for k in _COMPARED}
        pd.testing.assert_frame_equal(_cells(a, serial_cfg.run.results_dir), _cells(b, pooled_cfg.run.results_dir))
    # Resume: nothing left to compute.
    assert run_sweep(pooled_cfg) == pooled


def test_pooled_sweep_records_a_failing_unit_and_finishes_the_others(make_cfg, monkeypatch) -> None:
    cfg = make_cfg(DATASETS, "grid=smoke", "run.n_jobs=2")
    add_cv = UnitJob.add_cv

    def broken_for_vertebra(self: UnitJob, out: list) -> object:
        if self.ds.name == "vertebra-column":
            raise RuntimeError("boom in vertebra")
        return add_cv(self, out)

    monkeypatch.setattr(UnitJob, "add_cv", broken_for_vertebra)
    records = {r["dataset"]: r for r in run_sweep(cfg)}
    assert records["vertebra-column"]["status"] == "failed"
    assert "RuntimeError: boom in vertebra" in records["vertebra-column"]["reason"]
    assert "Traceback" in records["vertebra-column"]["traceback"]
    assert {n: r["status"] for n, r in records.items() if n != "vertebra-column"} == {
        "haberman": "done", "analcatdata_apnea3": "done", "ionosphere": "done"}
    monkeypatch.undo()
    again = {r["dataset"]: r for r in run_sweep(cfg)}        # only the failed unit is retried
    assert again["vertebra-column"]["status"] == "done"
    assert all(again[n] == records[n] for n in ("haberman", "analcatdata_apnea3", "ionosphere"))


def test_pooled_sweep_interrupted_leaves_no_lock_no_partial_unit_and_no_worker(make_cfg, monkeypatch) -> None:
    cfg = make_cfg(DATASETS, "grid=smoke", "run.n_jobs=2")
    add_cv = UnitJob.add_cv
    pools: list[ProcessPoolExecutor] = []
    workers: list[int] = []

    class Recorded(ProcessPoolExecutor):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            pools.append(self)

    def interrupted_in_apnea3(self: UnitJob, out: list) -> object:
        if self.ds.name == "analcatdata_apnea3":
            workers.extend(pools[0]._processes)      # pids (loky keeps no public list)
            raise KeyboardInterrupt
        return add_cv(self, out)

    monkeypatch.setattr(sweep, "ProcessPoolExecutor", Recorded)
    monkeypatch.setattr(UnitJob, "add_cv", interrupted_in_apnea3)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(cfg)
    monkeypatch.undo()
    assert len(pools) == 1 and len(workers) == 2
    assert [pid for pid in workers if Path(f"/proc/{pid}").exists()] == []   # stopped and reaped on the way out
    units = list(Path(cfg.run.results_dir, "units").rglob("unit.json"))
    assert all("analcatdata_apnea3" not in str(u) for u in units)   # nothing written for the interrupted unit
    records = run_sweep(cfg)                                        # every lock was released: all complete
    assert [r["status"] for r in records] == ["done"] * 4


def test_sm_tasks_start_with_the_largest_ratio(make_cfg) -> None:
    cfg = make_cfg("dataset=haberman", "grid=smoke")
    job = UnitJob(cfg, load_dataset(cfg.dataset["haberman"], cfg.data))
    ratios = [item.tasks[0].ratio for item in job.cv_items]
    assert ratios == sorted(ratios, reverse=True) and len(set(ratios)) > 1


def test_pooled_sweep_does_not_wait_for_the_items_of_a_failed_unit(make_cfg, monkeypatch) -> None:
    """At the end of a sweep, items still running for a unit that already failed are stopped, not awaited.

    An LLM unit failed at one generation while its others ran on for minutes. The pool here is a
    thread pool (the slow item can be released from the test); ``end_pool`` is recorded.
    """
    cfg = make_cfg("dataset=haberman", "method=sm", "grid=smoke", "run.n_jobs=2")
    release = threading.Event()
    calls: list[int] = []
    ended: list[tuple[int, bool]] = []

    def tasks(*args: object) -> object:
        calls.append(len(calls))
        if len(calls) > 1:          # every item after the first: still running when the unit fails
            release.wait(60)
        return unit.run_tasks(*args)

    def broken(self: UnitJob, out: list) -> object:
        raise RuntimeError("boom in the first item")

    def end(pool: object, futures: dict, cleanly: bool) -> None:
        ended.append((len(futures), cleanly))
        release.set()
        pool.shutdown(wait=True)

    monkeypatch.setattr(sweep, "run_tasks", tasks)
    monkeypatch.setattr(sweep, "new_pool", lambda n_jobs: ThreadPoolExecutor(n_jobs))
    monkeypatch.setattr(sweep, "end_pool", end)
    monkeypatch.setattr(UnitJob, "add_cv", broken)
    t0 = time.monotonic()
    (record,) = run_sweep(cfg)
    assert time.monotonic() - t0 < 30
    assert record["status"] == "failed" and "boom in the first item" in record["reason"]
    assert len(calls) == 2 and ended == [(1, False)]     # one orphan in flight: an unclean end, not a wait
