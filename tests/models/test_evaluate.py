"""The grid evaluators (lsh_bench.models.evaluate): no leakage from validation rows into training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from imblearn.over_sampling import SMOTE

from lsh_bench.config import ClassifierSpec
from lsh_bench.data.schema import FeatureSchema
from lsh_bench.models.evaluate import FoldData, evaluate_shared, evaluate_straightforward
from lsh_bench.models.grid import expand_grid
from lsh_bench.models.preprocess import TableEncoder, post_transform
from tests.models.spy import SpyClassifier


def _toy_fold(rng: np.random.Generator) -> tuple[FoldData, FeatureSchema]:
    n_tr, n_va = 80, 30
    X = pd.DataFrame({
        "a": rng.normal(size=n_tr + n_va),
        "b": rng.choice(["x", "y", "z"], size=n_tr + n_va),
    })
    X.loc[n_tr:, "a"] += 1000.0               # validation rows far away: any leak shows
    X.loc[[3, 90, 95], "a"] = np.nan          # missing in training and validation rows
    y = np.r_[np.r_[np.zeros(60, int), np.ones(20, int)], np.r_[np.zeros(20, int), np.ones(10, int)]]
    schema = FeatureSchema.infer(X)
    fold = FoldData(X.iloc[:n_tr], y[:n_tr], X.iloc[n_tr:], y[n_tr:])
    return fold, schema


@pytest.mark.parametrize("mode", ["paper", "standard"])
@pytest.mark.parametrize("evaluator", ["straightforward", "fast"])
def test_no_leakage_synthetic_rows_and_statistics_stay_in_training(mode: str, evaluator: str) -> None:
    fold, schema = _toy_fold(np.random.default_rng(1))
    spec = ClassifierSpec(name="SPY", order=1, estimator="tests.models.spy.SpyClassifier", scale=True, grid={"k": [0]})
    cells = expand_grid([spec])
    sampler = SMOTE(sampling_strategy=1.0, random_state=0)
    SpyClassifier.seen.clear()
    if evaluator == "straightforward":
        evaluate_straightforward(fold, cells, schema, mode, sampler)
    else:
        evaluate_shared(fold, cells, schema, mode, sampler)      # SPY is no family's: fitted on its own
    (k1, fitted), (k2, predicted) = SpyClassifier.seen
    assert (k1, k2) == ("fit", "predict")
    assert len(fitted) == 60 + 60                 # SMOTE to ratio 1.0 on the training part only
    assert len(predicted) == len(fold.X_val)      # validation rows are never resampled
    enc = TableEncoder(schema, mode).fit(fold.X_train)
    # imputer statistics come from the training rows only
    assert enc.fill_values_[0] == pytest.approx(np.nanmean(fold.X_train["a"].to_numpy()))
    val_matrix = enc.transform(fold.X_val)
    if mode == "standard":
        post = post_transform(schema, mode, True).fit(SMOTE(sampling_strategy=1.0, random_state=0)
                                                      .fit_resample(enc.transform(fold.X_train), fold.y_train)[0])
        # the scaler's mean is that of the resampled training part (validation rows are ~1000 away)
        assert abs(post.named_transformers_["scale"].mean_[0]) < 5
        val_matrix = post.transform(val_matrix)
    np.testing.assert_allclose(predicted, val_matrix)
    # no synthetic or validation row was fitted on: the training part has no value near 1000
    assert np.nanmax(fitted) < 100 if mode == "paper" else True
