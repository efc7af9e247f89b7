"""The quality record inside a unit: one row per resampled (fold, ratio) + the refit, beside cells.parquet.

Small units on haberman (2 ratios, one classifier, smoke grid); LM/LS with
the scripted chat backend (``tests/llm_gen/fakes.py``), never a model.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import lsh_bench.samplers.llm.backends as backends
import lsh_bench.samplers.llm.client as client
from lsh_bench.config import unit_config_hash
from lsh_bench.data.loader import load_dataset
from lsh_bench.provenance import code_state
from lsh_bench.quality.fields import METRIC_NAMES
from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.models.evaluate import Resampled
from lsh_bench.quality.unit_rows import frame_columns, part_row
from lsh_bench.quality_config import QualitySpec
from lsh_bench.store import UnitStore
from lsh_bench.sweep import run_sweep
from lsh_bench.unit import compute_unit
from tests.llm_gen.fakes import ScriptedBackend

SMALL = ("dataset=haberman", "grid=smoke", "classifier=[dt]", "ratios=[0.6,1.0]")
TIMING = {"quality_seconds", "resample_seconds", "llm_calls", "llm_cache_hits"}   # differ between runs


@pytest.fixture
def scripted_llm(monkeypatch, make_cfg):
    schema = load_dataset(make_cfg("dataset=haberman").dataset["haberman"], make_cfg().data).schema
    monkeypatch.setattr(backends, "make_backend", lambda cfg: ScriptedBackend(schema))
    client._CLIENTS.clear()
    yield
    client._CLIENTS.clear()


def _unit(cfg, results_dir=None):
    spec = cfg.dataset["haberman"]
    store = UnitStore(results_dir or cfg.run.results_dir, cfg.scenario.name, cfg.method.name, spec.name,
                      unit_config_hash(cfg, spec))
    record = compute_unit(cfg, spec, store, unit_config_hash(cfg, spec), code_state())
    path = store.dir / "quality.parquet"
    return record, (pd.read_parquet(path) if path.is_file() else None), store


def _metrics_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    cols = [c for c in a.columns if c not in TIMING]
    return a[cols].equals(b[cols])


def test_an_sm_unit_stores_one_quality_row_per_fold_and_ratio_plus_the_refit(make_cfg):
    cfg = make_cfg("method=sm", *SMALL)
    record, quality, store = _unit(cfg)
    assert record["status"] == "done"
    assert list(quality.columns) == frame_columns()
    assert len(quality) == 2 * 5 + 1 and record["quality"]["rows"] == len(quality)
    assert record["quality"]["status"] == "recorded"
    refit = quality[quality["fold"] == -1]
    assert len(refit) == 1 and refit["ratio"].item() == record["choice"]["ratio"]
    ratios = pd.read_parquet(store.dir / "ratios.parquet")
    merged = quality.merge(ratios, on=["fold", "ratio"])
    # the rows scored are exactly the rows the sampler added to the training part
    assert (merged["n_synthetic"] == merged["n_train_resampled"] - merged["n_real"] - merged["n_real_majority"]).all()
    assert (quality["reference"] == "train").all() and (quality["n_shown"] == 0).all()
    assert quality["llm_tokens_per_row"].isna().all() and (quality["llm_rows"] == 0).all()
    assert quality["detection_auc"].between(0, 1).all() and (quality["paper_knn_mean"] > 0).all()


def test_quality_changes_neither_the_hash_nor_a_score(make_cfg, tmp_path):
    on, off = make_cfg("method=sm", *SMALL), make_cfg("method=sm", *SMALL, "quality=none")
    spec = on.dataset["haberman"]
    assert unit_config_hash(on, spec) == unit_config_hash(off, spec)
    rec_on, q_on, store_on = _unit(on, tmp_path / "on")
    rec_off, q_off, store_off = _unit(off, tmp_path / "off")
    assert q_off is None and rec_off["quality"]["status"] == "disabled" and rec_off["quality"]["rows"] == 0
    assert rec_on["test_f1"] == rec_off["test_f1"] and rec_on["choice"] == rec_off["choice"]
    assert store_on.cells()["f1"].equals(store_off.cells()["f1"])


def test_straightforward_evaluator_gives_the_same_quality_rows(make_cfg, tmp_path):
    fast = _unit(make_cfg("method=sm", *SMALL), tmp_path / "fast")[1]
    straight = _unit(make_cfg("method=sm", *SMALL, "run.evaluator=straightforward"), tmp_path / "straight")[1]
    assert _metrics_equal(fast, straight)


def test_org_has_no_quality_rows(make_cfg):
    record, quality, _ = _unit(make_cfg("method=org", *SMALL))
    assert quality is None and record["quality"]["status"] == "no_synthetic_rows"


@pytest.mark.parametrize("method", ["lm", "ls"])
def test_llm_units_record_rows_shown_and_tokens_also_when_replayed(method, make_cfg, scripted_llm, tmp_path):
    cfg = make_cfg(f"method={method}", *SMALL, "llm.cache_mode=readwrite")
    first = _unit(cfg, tmp_path / "first")[1]
    replay = _unit(cfg, tmp_path / "replay")[1]          # same cache: every answer replayed
    assert first["llm_calls"].sum() > 0 and replay["llm_calls"].sum() == 0 and replay["llm_cache_hits"].sum() > 0
    # tokens per row count replayed answers at their recorded counts: the replay costs what the run did
    assert first["llm_prompt_tokens"].tolist() == replay["llm_prompt_tokens"].tolist()
    assert (first["llm_tokens_per_row"] > 0).all()
    assert _metrics_equal(first, replay)
    # the LLM was shown the training minority (haberman fits the prompt): every shown row is a real one
    assert (first["n_shown"] > 0).all() and (first["n_shown"] <= first["n_real"]).all()
    assert first["shown_copy_share"].notna().all()
    assert (first["shown_copy_share"] <= first["copy_share"] + 1e-12).all()
    if method == "ls":   # LS: the LLM wrote the seeds, SMOTE the rest
        assert (first["llm_rows"] < first["n_rows_added"]).any()
    else:
        assert (first["llm_rows"] == first["n_rows_added"]).all()


def test_zero_shot_rows_are_scored_against_the_held_out_minority(make_cfg, scripted_llm):
    record, quality, _ = _unit(make_cfg("method=lm", *SMALL, "scenario=zeroshot", "llm.cache_mode=off"))
    assert record["status"] == "done", record.get("reason")
    assert (quality["reference"] == "heldout").all() and (quality["n_shown"] == 0).all()
    assert (quality["n_real"] > 0).all() and quality["paper_knn_mean"].notna().all()
    assert quality["undefined"].str.contains("shown_copy_share").all()


def test_zero_shot_reference_none_records_why(make_cfg, scripted_llm):
    _, quality, _ = _unit(make_cfg("method=lm", *SMALL, "scenario=zeroshot", "llm.cache_mode=off",
                                   "quality.zero_shot_reference=none"))
    assert (quality["reference"] == "none").all()
    assert quality["undefined"].str.startswith("all metrics: no real minority row").all()
    assert quality["paper_knn_mean"].isna().all() and set(METRIC_NAMES) <= set(quality.columns)


def test_rows_no_metric_can_use_are_recorded_not_fatal():

    schema = FeatureSchema((Column("a", "numeric"), Column("b", "numeric")))
    X = np.arange(20, dtype=float).reshape(10, 2)
    y = np.r_[np.zeros(7, int), np.ones(3, int)]
    r = Resampled(X, y, X.copy(), y.copy(), X[:2], 0.0, None)          # the sampler added no row
    row = part_row(QualitySpec(), schema, r, np.array([0, 1]), ratio=0.6, fold=0)
    assert row["undefined"].startswith("all metrics: synthetic") and math.isnan(row["paper_knn_mean"])
    assert row["n_synthetic"] == 0 and row["reference"] == "train"


def test_the_pooled_sweep_stores_the_same_quality_rows(make_cfg, tmp_path):
    one, pooled = tmp_path / "one", tmp_path / "pooled"
    run_sweep(make_cfg("method=sm", *SMALL, f"run.results_dir={one}"))
    run_sweep(make_cfg("method=sm", *SMALL, f"run.results_dir={pooled}", "run.n_jobs=2"))
    frames = [pd.read_parquet(next((d / "units").glob("*/*/*/*/quality.parquet"))) for d in (one, pooled)]
    assert len(frames[0]) == 11 and _metrics_equal(*frames)
