"""``data.cleaning=none data.column_types=inferred preprocess.encoding=sorted`` is the harness before
the paper's preparation: it reproduces the scores the previous code computed (values recorded by
running commit e82e2e2 on the same mirror files: SM, grid=smoke, full records in the unit store)."""

from __future__ import annotations

import pytest

from lsh_bench.sweep import run_sweep

LEGACY = ["data.cleaning=none", "data.column_types=inferred", "preprocess.encoding=sorted"]

# (preprocess, dataset) -> (val_f1, test_f1, ratio, classifier) from commit e82e2e2
BEFORE = {
    ("paper", "haberman"): (0.50246, 0.4364, 1.0, "kNN"),
    ("paper", "analcatdata_apnea3"): (0.75902, 0.6667, 0.4, "LGBM"),   # two nominal columns
    ("paper", "credit-g"): (0.55774, 0.5701, 1.0, "LR"),               # 13 nominal columns
    ("standard", "haberman"): (0.49502, 0.4688, 1.0, "SVM"),
    ("standard", "analcatdata_apnea3"): (0.78298, 0.6286, 0.8, "SVM"),
}


@pytest.mark.parametrize("preprocess", ["paper", "standard"])
def test_legacy_options_reproduce_the_previous_scores(make_cfg, preprocess: str) -> None:
    names = [d for p, d in BEFORE if p == preprocess]
    cfg = make_cfg(f"dataset=[{','.join(names)}]", "method=sm", "grid=smoke", f"preprocess={preprocess}", *LEGACY)
    for rec in run_sweep(cfg):
        val, test, ratio, clf = BEFORE[(preprocess, rec["dataset"])]
        assert rec["status"] == "done", rec["reason"]
        assert (rec["choice"]["ratio"], rec["choice"]["classifier"]) == (ratio, clf), rec["dataset"]
        assert rec["val_f1"] == pytest.approx(val, abs=1e-12) and rec["test_f1"] == test, rec["dataset"]
        assert rec["provenance"]["cleaning"]["rule"] == "none"
