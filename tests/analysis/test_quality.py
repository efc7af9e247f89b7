"""The quality tables of the report, on constructed quality rows where the answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lsh_bench.analysis.load import from_summary
from lsh_bench.analysis.quality import METRICS, quality_tables, unit_quality
from lsh_bench.analysis.report import Settings, run
from lsh_bench.quality.unit_rows import frame_columns
from tests.analysis.conftest import summary_rows

DATASETS = {f"d{i}": 1.5 + i for i in range(9)}


def _rows(summary: pd.DataFrame) -> pd.DataFrame:
    """Quality rows for every unit: LS's detection AUC is its test-F1 margin over SM, plus NaN rows."""
    t = summary.set_index(["dataset", "method"])["test_f1"]
    rows = []
    for (ds, method), _ in t.items():
        for fold in (-1, 0, 1):
            row = {c: 0.5 for c in frame_columns()}
            row.update({"dataset": ds, "scenario": "general", "method": method.upper(), "config_hash": "abc123",
                        "fold": fold, "ratio": 0.6, "reference": "train", "undefined": "",
                        "paper_knn_mean": 2.0, "paper_knn_real_mean": 1.0})
            if method == "ls":
                row["detection_auc"] = t[(ds, "ls")] - t[(ds, "sm")]
            if fold == -1:
                row["detection_auc"] = 99.0          # the refit row never enters a unit's mean
            if fold == 1 and method == "sm":
                row["column_shape"], row["undefined"] = np.nan, "column_shape: constructed"
            rows.append(row)
    return pd.DataFrame(rows)


def test_unit_means_leave_out_the_refit_and_count_undefined_rows():
    summary = summary_rows(DATASETS)
    units = unit_quality(_rows(summary))
    assert len(units) == 9 * 3 and (units["rows"] == 2).all()
    sm = units[units["method"] == "SM"]
    assert (sm["rows_undefined"] == 1).all() and (sm["column_shape"] == 0.5).all()   # NaN left out of the mean
    assert (units["paper_knn_ratio"] == 2.0).all() and (units["detection_auc"] < 99).all()


def test_correlations_find_a_metric_that_is_the_margin():
    summary = summary_rows(DATASETS)
    general = from_summary(summary).general
    tables, missing = quality_tables(_rows(summary), general)
    assert not missing and set(tables) == {"quality", "quality_ir", "quality_correlations"}
    corr = tables["quality_correlations"].set_index(["metric", "margin", "of"])
    assert corr.loc[("detection_auc", "LS-SM", "LS"), "pearson_r"] == pytest.approx(1.0)
    assert corr.loc[("detection_auc", "LS-SM", "LS"), "n"] == 9
    assert np.isnan(corr.loc[("column_shape", "LS-SM", "LS"), "pearson_r"])     # constant: no correlation
    table = tables["quality"]
    assert list(table["method"]) == ["SM", "LM", "LS"] and (table["units"] == 9).all()
    assert set(tables["quality_ir"]["ir_group"]) == {"more", "mid", "less"}
    assert set(METRICS) <= set(table.columns)


def test_the_report_writes_the_quality_tables_or_says_why_not(tmp_path):
    summary = summary_rows(DATASETS)
    inputs = from_summary(summary)
    inputs.quality = _rows(summary)
    report = run(inputs, tmp_path, Settings(nsamples=2000))
    assert (tmp_path / "quality.csv").is_file() and (tmp_path / "quality_correlations.md").is_file()
    assert "Quality of the synthetic rows per method" in (tmp_path / "README.md").read_text()
    inputs.quality = None
    report = run(inputs, tmp_path / "none", Settings(nsamples=2000, only=("quality",)))
    assert any(m.startswith("Quality tables not produced") for m in report.missing)
