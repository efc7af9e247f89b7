"""scripts/bench_quality.py and scripts/figure_rows.py on haberman (a few seconds each)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import bench_quality  # noqa: E402
import figure_rows  # noqa: E402


def test_bench_quality_report(tmp_path: Path, mirror: Path) -> None:
    out = tmp_path / "quality.json"
    rc = bench_quality.main(["--datasets", "haberman", "--compare-datasets", "haberman", "--grid-datasets", "haberman",
                             "--set", f"data.mirror_dirs=[{mirror}]", "--set", "data.use_openml=false",
                             "--out", str(out)])
    report = json.loads(out.read_text())
    assert rc == 0 and report["one_call"]["identical_records"] is True
    (row,) = report["per_dataset"]
    # haberman under the paper's seeds: ratios 0.4-1.0 apply in every part, 5 folds + the refit
    assert row["status"] == "done" and row["parts"] == 6 and row["ratios"] == 4 and row["pairs"] == 24
    assert row["quality_seconds"] > 0 and row["one_call"]["seconds"] > 0
    proj = report["projection"]
    assert proj["pairs_total"] == 24 and proj["datasets_matched"] == 1
    assert 0 < proj["share_of_matched_units"] and "haberman" not in proj["missing_from_this_run"]
    assert report["machine"]["load_average_at_start"]
    share = report["same_run"]["share"]
    (grid,) = report["same_run"]["per_dataset"]
    assert grid["dataset"] == "haberman" and grid["pairs"] == 1 and grid["cells"] == 139 and grid["grid_seconds"] > 0
    assert share["datasets"] == 1 and share["pairs_weighted"] == 24
    assert share["quality_over_grid"] == round(grid["quality_seconds"] / grid["grid_seconds"], 4)


def test_figure_rows_script(tmp_path: Path, mirror: Path) -> None:
    rc = figure_rows.main(["--dataset", "haberman", "--fold", "0", "--out", str(tmp_path),
                           "--set", f"data.mirror_dirs=[{mirror}]", "--set", "data.use_openml=false"])
    assert rc == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure1_rows_haberman_fold0.pdf",
                                                          "figure1_rows_haberman_fold0.png"]
