"""scripts/project_llm_time.py: the cost model read from a bench report, and the projection on real data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import project_llm_time  # noqa: E402

STEP = {"calls": 1, "seconds": 0.0}


def bench(report_s: float, variables_s: float, program_s: float, rounds: int, rows: int) -> dict:
    steps = {"report": {**STEP, "seconds": report_s}, "variables": {**STEP, "seconds": variables_s},
             "program": {"calls": rounds, "seconds": program_s}}
    return {"datasets": [{"dataset": "d", "new": {"per_step": steps, "rows_generated": rows}}]}


def test_cost_model_splits_fixed_and_per_round_seconds() -> None:
    (m,) = project_llm_time.cost_model(bench(8.0, 7.0, 40.0, 2, 240)).values()
    assert m == {"fixed_s": 15.0, "round_s": 20.0, "rows_per_round": 120.0}
    # a generation pays the fixed steps once and one round per 120 rows (rounded up); none for 0 rows
    assert project_llm_time.seconds([1, 120, 121, 0], m) == 3 * 15.0 + (1 + 1 + 2) * 20.0


def test_no_new_measurement_is_an_error() -> None:
    with pytest.raises(SystemExit, match="no 'new' measurement"):
        project_llm_time.cost_model({"datasets": [{"dataset": "d", "old": {}}]})


def test_projection_on_haberman_counts_the_protocol_generations(tmp_path: Path, mirror: Path) -> None:
    src = tmp_path / "llm.json"
    src.write_text(json.dumps(bench(8.0, 7.0, 20.0, 1, 120)))
    out = tmp_path / "p.json"
    assert project_llm_time.main(["--datasets", "haberman", "--bench", str(src), "--out", str(out)]) == 0
    methods = json.loads(out.read_text())["methods"]
    # haberman: 4 ratios above its minority share in 5 folds + refit (LM); LS only at its seed ratio
    assert methods["lm"]["generations"] == 6 * 4 and methods["ls"]["generations"] == 6
    assert methods["lm"]["rows"] > methods["ls"]["rows"] > 0


# --measured: a projection calibrated on a real sweep's finished units

MODEL = {"fixed_s": 10.0, "round_s": 10.0, "rows_per_round": 100.0}   # 1 generation of <= 100 rows: 20 s


def _records(monkeypatch: pytest.MonkeyPatch, measured: dict[str, float], status: dict[str, str]) -> None:
    """A stand-in store: one general LS unit per dataset whose answers cost ``measured[dataset]`` seconds."""
    from lsh_bench.samplers.llm.cache import GenerationCost

    recs = [{"dataset": d, "method": "ls", "scenario": "general", "status": status.get(d, "done"),
             "llm": {"keys": [d]}} for d in measured]
    monkeypatch.setattr(project_llm_time, "iter_records", lambda path: iter((Path(path), r) for r in recs))
    monkeypatch.setattr(project_llm_time, "generation_cost",
                        lambda keys, cache_dir: GenerationCost(1, 0, measured[keys[0]], 0))


def test_calibration_fits_the_factor_in_the_features_and_counts_measured_units_as_measured(monkeypatch, tmp_path):
    # measured / projected = 1 + 0.1 * features on the three measured datasets
    features = {"a": 10, "b": 20, "c": 30, "wide": 50, "narrow": 0}
    _records(monkeypatch, {"a": 40.0, "b": 60.0, "c": 80.0}, {})
    gens = {d: {"lm": [], "ls": [50]} for d in features}
    out = project_llm_time.calibrate(tmp_path, tmp_path, gens, features, MODEL, n_jobs=2)["ls"]
    assert [u["factor"] for u in out["units"]] == [2.0, 3.0, 4.0]
    assert out["factor_fit"]["intercept"] == pytest.approx(1.0) and out["factor_fit"]["per_feature"] == pytest.approx(0.1)
    # wide: factor 6 -> 120 s; narrow: the line gives 1.0, below the smallest measured factor 2.0 -> 40 s
    assert out["projected_rest_hours"] == round((120 + 40) / 3600, 1)
    assert out["llm_hours_total"] == round((180 + 160) / 3600, 1) and out["units_done"] == 3
    assert "note" in project_llm_time.calibrate(tmp_path, tmp_path, gens, features, MODEL, n_jobs=2)["lm"]


def test_a_failed_unit_counts_its_cost_but_does_not_calibrate(monkeypatch, tmp_path):
    features = {"a": 10, "b": 20}
    _records(monkeypatch, {"a": 40.0, "b": 999.0}, {"b": "failed"})
    gens = {d: {"lm": [], "ls": [50]} for d in features}
    out = project_llm_time.calibrate(tmp_path, tmp_path, gens, features, MODEL, n_jobs=1)["ls"]
    assert out["units_measured"] == 2 and out["units_done"] == 1
    assert out["factor_fit"] == {"intercept": 2.0, "per_feature": 0.0, "floor": 2.0}     # fewer than 3 widths: mean
    assert out["measured_hours"] == round(1039 / 3600, 2)
