"""A finished unit without quality rows gets them on a rerun, without new scores (lsh_bench.quality.backfill)."""

from __future__ import annotations

import json

import pandas as pd

import lsh_bench.samplers.llm.backends as backends
import lsh_bench.samplers.llm.client as client
from lsh_bench.data.loader import load_dataset
from lsh_bench.sweep import run_sweep
from tests.llm_gen.fakes import ScriptedBackend

SMALL = ("dataset=haberman", "grid=smoke", "classifier=[dt]", "ratios=[0.6,1.0]")
TIMING = ["quality_seconds", "resample_seconds", "llm_calls", "llm_cache_hits"]


def _unit_dir(results_dir, method="sm"):
    (d,) = (results_dir / "units" / "general" / method / "haberman").iterdir()
    return d


def test_a_rerun_fills_in_quality_without_touching_the_scores(make_cfg, tmp_path):
    results = tmp_path / "store"
    run_sweep(make_cfg("method=sm", *SMALL, "quality=none", f"run.results_dir={results}"))
    unit = _unit_dir(results)
    cells_before, record_before = (unit / "cells.parquet").read_bytes(), json.loads((unit / "unit.json").read_text())
    assert not (unit / "quality.parquet").exists() and record_before["quality"]["status"] == "disabled"

    (rec,) = run_sweep(make_cfg("method=sm", *SMALL, f"run.results_dir={results}"))
    assert (unit / "cells.parquet").read_bytes() == cells_before         # not recomputed
    after = json.loads((unit / "unit.json").read_text())
    assert after["quality"]["status"] == "recorded" and after["quality"]["backfilled"] is True
    assert rec["quality"]["status"] == "recorded"
    same = {k: v for k, v in after.items() if k != "quality"} == {k: v for k, v in record_before.items() if k != "quality"}
    assert same
    filled = pd.read_parquet(unit / "quality.parquet")

    fresh_dir = tmp_path / "fresh"
    run_sweep(make_cfg("method=sm", *SMALL, f"run.results_dir={fresh_dir}"))
    fresh = pd.read_parquet(_unit_dir(fresh_dir) / "quality.parquet")
    assert filled.drop(columns=TIMING).equals(fresh.drop(columns=TIMING))   # the rows the unit scored


def test_an_llm_unit_whose_answers_are_not_cached_is_listed_not_called(make_cfg, tmp_path, monkeypatch):
    results = tmp_path / "store"
    schema = load_dataset(make_cfg("dataset=haberman").dataset["haberman"], make_cfg().data).schema
    monkeypatch.setattr(backends, "make_backend", lambda cfg: ScriptedBackend(schema))
    client._CLIENTS.clear()
    run_sweep(make_cfg("method=lm", *SMALL, "quality=none", "llm.cache_mode=off", f"run.results_dir={results}"))

    def no_model(cfg):
        raise AssertionError("the backfill must never call a model")

    monkeypatch.setattr(backends, "make_backend", no_model)
    client._CLIENTS.clear()
    (rec,) = run_sweep(make_cfg("method=lm", *SMALL, f"run.results_dir={results}"))
    client._CLIENTS.clear()
    unit = _unit_dir(results, "lm")
    assert not (unit / "quality.parquet").exists()
    q = json.loads((unit / "unit.json").read_text())["quality"]
    assert q["status"] == "missing" and "LLMCacheMiss" in q["reason"] and rec["quality"]["status"] == "missing"
