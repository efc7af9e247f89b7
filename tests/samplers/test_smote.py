"""SM picks SMOTE, SMOTENC or SMOTEN from the columns it must keep categorical."""

from __future__ import annotations

import pytest
from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC

from lsh_bench.samplers.smote import smote_for
from lsh_bench.sweep import run_sweep


@pytest.mark.parametrize("cats,kind", [(None, SMOTE), ([], SMOTE), ([0, 2], SMOTENC), ([0, 1, 2], SMOTEN)])
def test_smote_variant_follows_categorical_columns(cats, kind):
    s = smote_for(0.5, k_neighbors=5, random_state=0, categorical_features=cats, n_features=3)
    assert type(s) is kind and s.sampling_strategy == 0.5 and s.random_state == 0


def test_all_categorical_dataset_runs_under_standard_preprocessing(make_cfg):
    """tic-tac-toe has no numeric column: SMOTENC refuses it, so it failed before SMOTEN was used."""
    (rec,) = run_sweep(make_cfg("method=sm", "dataset=tic-tac-toe", "preprocess=standard", "grid=smoke"))
    assert rec["status"] == "done", rec.get("reason")
    assert 0.0 < rec["test_f1"] <= 1.0
