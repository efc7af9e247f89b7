"""scripts/bench_sweep.py and scripts/bench_grid.py on one small dataset (a few seconds each)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import bench_grid  # noqa: E402
import bench_sweep  # noqa: E402


def test_sweep_report_and_store_comparison(tmp_path: Path, mirror: Path) -> None:
    out = tmp_path / "sweep.json"
    rc = bench_sweep.main(["--datasets", "haberman", "--grid", "smoke", "--n-jobs", "1",
                           "--set", f"data.mirror_dirs=[{mirror}]", "--set", "data.use_openml=false",
                           "--results-dir", str(tmp_path / "a"), "--out", str(out),
                           "--check-against", str(tmp_path / "a")])
    report = json.loads(out.read_text())
    assert rc == 0 and report["exit_code"] == 0 and report["units_present_before"] == 0
    assert report["units"] == 1 and report["status_counts"] == {"done": 1}
    assert report["wall_seconds"] > 0 and report["peak_rss_tree_mb"] > 50
    assert report["peak_rss_largest_process_mb"] > 50
    assert set(report["cv_seconds_per_classifier"]) == {"LR", "DT", "SVM", "kNN", "LGBM"}
    (slowest,) = report["slowest"]
    assert slowest["dataset"] == "haberman" and (slowest["n_rows"], slowest["n_features"]) == (306, 3)
    assert slowest["dominant_classifier"] in report["cv_seconds_per_classifier"] and slowest["seconds"] > 0
    assert report["machine"]["cpu_count"] and report["load_average_before"] and report["load_average_after"]
    check = report["check"]          # scripts/compare_stores.py's report
    assert check["cells_compared"] == 200 and check["cells_differing"] == 0 and check["max_abs_f1_difference"] == 0
    assert check["units_compared"] == 1 and check["differences"] == [] and not check["only_a"] + check["only_b"]

    # a store whose F1 differs in one cell is caught, and so is a different choice
    other = tmp_path / "b"
    for src in (tmp_path / "a" / "paper" / "units").rglob("*"):
        if src.is_file() and src.name in ("cells.parquet", "unit.json"):
            dst = other / src.relative_to(tmp_path / "a" / "paper")
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
    (cells_path,) = other.rglob("cells.parquet")
    cells = pd.read_parquet(cells_path)
    cells.loc[7, "f1"] += 1e-9
    cells.to_parquet(cells_path)
    (unit_path,) = other.rglob("unit.json")
    unit = json.loads(unit_path.read_text())
    unit["test_f1"] += 0.1
    unit_path.write_text(json.dumps(unit))
    check = bench_sweep.compare_stores(tmp_path / "a" / "paper", other)
    assert check["cells_differing"] == 1 and check["max_abs_f1_difference"] > 0
    (diff,) = check["differences"]
    assert diff.startswith("general/sm/haberman: test_f1") and f"'cell_index': {cells.loc[7, 'cell_index']}" in diff
    assert bench_sweep.check_failed(check)


def test_grid_parallel_timing_and_equality(tmp_path: Path, mirror: Path, monkeypatch) -> None:
    monkeypatch.setenv("LSH_BENCH_DATA", str(mirror))
    out = tmp_path / "grid.json"
    rc = bench_grid.main(["--datasets", "haberman", "--grid", "smoke", "--folds", "0,1", "--ratios", "0.6,1.0",
                          "--n-jobs", "2", "--out", str(out)])
    report = json.loads(out.read_text())
    assert rc == 0 and report["cells_differing"] == 0 and report["parallel_cells_differing"] == 0
    for key in ("straightforward_seconds", "fast_seconds", "speedup", "fast_parallel_seconds", "speedup_parallel",
                "parallel_pool_start_seconds"):
        assert report[key] > 0, key
    assert report["n_jobs"] == 2 and len(report["datasets"][0]["tasks"]) == 4
