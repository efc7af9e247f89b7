"""scripts/bench_sweep.py: times a real sweep subprocess and compares stores cell by cell."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import bench_sweep  # noqa: E402


def test_sweep_report_and_store_comparison(tmp_path: Path) -> None:
    out = tmp_path / "sweep.json"
    rc = bench_sweep.main(["--datasets", "haberman", "--grid", "smoke", "--n-jobs", "1",
                           "--results-dir", str(tmp_path / "a"), "--out", str(out),
                           "--check-against", str(tmp_path / "a")])
    report = json.loads(out.read_text())
    assert rc == 0 and report["units"] == 1 and report["status_counts"] == {"done": 1}
    assert report["wall_seconds"] > 0 and report["peak_rss_tree_mb"] > 50
    assert set(report["cv_seconds_per_classifier"]) == {"LR", "DT", "SVM", "kNN", "LGBM"}
    assert report["check"]["cells_compared"] == 200 and report["check"]["cells_differing"] == 0

    # a store whose F1 differs in one cell is caught
    other = tmp_path / "b"
    for src in (tmp_path / "a" / "paper").rglob("cells.parquet"):
        dst = other / src.relative_to(tmp_path / "a" / "paper")
        dst.parent.mkdir(parents=True)
        cells = pd.read_parquet(src)
        cells.loc[7, "f1"] += 1e-9
        cells.to_parquet(dst)
    check = bench_sweep.compare_stores(tmp_path / "a" / "paper", other)
    assert check["cells_differing"] == 1 and check["max_abs_f1_difference"] > 0
