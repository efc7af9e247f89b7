"""The all-minority baseline: F1 of predicting every row minority, recorded per unit, in Table 3."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from lsh_bench.analysis.load import load_results
from lsh_bench.analysis.tables import table3
from lsh_bench.data.loader import load_dataset
from lsh_bench.data.splits import make_split
from lsh_bench.protocol import all_minority_scores, select
from lsh_bench.store import iter_records
from lsh_bench.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[2]


def _by_hand(y: np.ndarray) -> float:
    pos, neg = int((y == 1).sum()), int((y == 0).sum())
    return round(2 * pos / (2 * pos + neg), 4)


@pytest.mark.parametrize("scenario", ["general", "fewshot", "zeroshot"])
def test_all_minority_is_two_p_over_two_p_plus_n(make_cfg, scenario) -> None:
    cfg = make_cfg("dataset=haberman", f"scenario={scenario}")
    ds = load_dataset(cfg.dataset["haberman"], cfg.data)
    split = make_split(ds.y, cfg.protocol, cfg.seeds, cfg.scenario, ds.name)
    got = all_minority_scores(ds.y, split, cfg.protocol.f1_decimals)
    folds = [_by_hand(ds.y[p.score]) for p in split.folds]
    assert got == {"val_f1": pytest.approx(np.mean(folds), abs=1e-12), "test_f1": _by_hand(ds.y[split.refit.score])}
    # Bit-equal to the val_f1 selection gives a cell with these fold scores (a selected all-minority cell).
    assert got["val_f1"] == select({(0, 0): folds}, cfg.protocol.f1_decimals)[1]
    if scenario != "general":   # the removed minority rows went to validation: mostly minority there
        assert got["val_f1"] > 2 / 3


def test_units_and_table3_carry_all1_and_old_records_are_backfilled(make_cfg, mirror, monkeypatch) -> None:
    # per_fold: haberman keeps a minority row in every training part (the paper's construction keeps
    # round(0.01 * 225) = 2 in all, and ORG is then not applicable)
    thin = "scenario.construction=per_fold"
    cfg = make_cfg("dataset=haberman", "scenario=fewshot", thin, "grid=smoke", "method=org")
    (org,) = run_sweep(cfg)
    (sm,) = run_sweep(make_cfg("dataset=haberman", "scenario=fewshot", thin, "grid=smoke", "method=sm"))
    assert org["status"] == "done" and sm["status"] == "not_applicable"
    assert org["all_minority"] == sm["all_minority"]            # a property of the split, not of the method
    t3 = table3(load_results(cfg.run.results_dir).fewshot)
    assert t3.loc[0, "ALL1"] == org["all_minority"]["test_f1"] and list(t3.columns)[-2:] == ["ALL1", "val_is_ALL1"]
    assert t3.loc[0, "val_is_ALL1"] == ("ORG" if org["val_f1"] == org["all_minority"]["val_f1"] else "")

    # A record written before the field existed gets exactly the same values back.
    for unit_dir, rec in iter_records(cfg.run.results_dir):
        rec.pop("all_minority")
        (unit_dir / "unit.json").write_text(json.dumps(rec))
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import backfill_all_minority

    sets = ["--set", f"data.mirror_dirs=[{mirror}]", "--set", "data.use_openml=false", "--set", "grid=smoke",
            "--set", thin]
    assert backfill_all_minority.main([str(cfg.run.results_dir), *sets]) == 0
    restored = {rec["method"]: rec["all_minority"] for _, rec in iter_records(cfg.run.results_dir)}
    assert restored == {"org": org["all_minority"], "sm": sm["all_minority"]}
    # A stale value (e.g. last-digit noise of an older mean) is corrected; a second run changes nothing.
    for unit_dir, rec in iter_records(cfg.run.results_dir):
        rec["all_minority"]["val_f1"] = float(np.nextafter(rec["all_minority"]["val_f1"], 1.0))
        (unit_dir / "unit.json").write_text(json.dumps(rec))
    assert backfill_all_minority.main([str(cfg.run.results_dir), *sets]) == 0
    assert {rec["method"]: rec["all_minority"] for _, rec in iter_records(cfg.run.results_dir)} == restored
    mtimes = [(d / "unit.json").stat().st_mtime_ns for d, _ in iter_records(cfg.run.results_dir)]
    assert backfill_all_minority.main([str(cfg.run.results_dir), *sets]) == 0
    assert [(d / "unit.json").stat().st_mtime_ns for d, _ in iter_records(cfg.run.results_dir)] == mtimes
    # Without grid=smoke the composed config is not the units' one: they are left alone.
    for unit_dir, rec in iter_records(cfg.run.results_dir):
        rec.pop("all_minority")
        (unit_dir / "unit.json").write_text(json.dumps(rec))
    assert backfill_all_minority.main([str(cfg.run.results_dir), *sets[:4]]) == 0
    assert all("all_minority" not in rec for _, rec in iter_records(cfg.run.results_dir))
    sys.modules.pop("backfill_all_minority", None)
