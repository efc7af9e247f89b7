"""The fast grid evaluator gives exactly the F1 of fitting every cell on its own.

Equality is exact (``==`` on floats), never a tolerance. The grids are small
but touch every sharing rule: LightGBM gbdt/goss/dart with several
n_estimators and a max_depth that does and one that does not bind, kNN with
every metric spelling, odd and even k, on data full of distance ties and
duplicated rows; decision trees whose max_depth does and does not bind.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.model_selection import train_test_split

from lsh_bench.config import ClassifierSpec
from lsh_bench.data.loader import read_mirror_file
from lsh_bench.data.schema import FeatureSchema
from lsh_bench.models.evaluate import FoldData, evaluate_shared, evaluate_straightforward, fit_predict_cell
from lsh_bench.models.fast import score_cells_fast
from lsh_bench.models.fast_knn import predict_all_k, sorted_distances
from lsh_bench.models.grid import expand_grid
from lsh_bench.models.metrics import minority_f1
from lsh_bench.models.preprocess import categorical_for_sampler
from lsh_bench.samplers.smote import smote_for

from tests.conftest import compose_config

LGBM_FIXED = {"objective": "binary", "random_state": 100, "n_jobs": 1, "verbose": -1, "min_child_samples": 3}


def small_grid(*, knn_ks: tuple[int, ...] = (1, 2, 3, 4, 5, 8, 9)) -> list[ClassifierSpec]:
    return [
        ClassifierSpec(name="LR", order=1, estimator="sklearn.linear_model.LogisticRegression",
                       fixed={"max_iter": 100000, "random_state": 100}, scale=True, grid={"C": [0.01, 10]}),
        ClassifierSpec(name="DT", order=2, estimator="sklearn.tree.DecisionTreeClassifier",
                       fixed={"random_state": 100}, scale=False,
                       grid={"max_depth": [2, 10, 30, None], "min_samples_leaf": [1, 3]}),
        ClassifierSpec(name="SVM", order=3, estimator="sklearn.svm.SVC", fixed={"random_state": 100},
                       scale=True, grid={"C": [1], "gamma": ["scale"]}),
        ClassifierSpec(name="kNN", order=4, estimator="sklearn.neighbors.KNeighborsClassifier", fixed={},
                       scale=True, grid={"n_neighbors": list(knn_ks), "p": [1, 2],
                                         "metric": ["euclidean", "manhattan", "minkowski"]}),
        ClassifierSpec(name="LGBM", order=5, estimator="lightgbm.LGBMClassifier", fixed=LGBM_FIXED,
                       scale=False, grid={"boosting_type": ["gbdt", "dart", "goss"], "max_depth": [2, 20],
                                          "learning_rate": [0.1], "n_estimators": [5, 12, 30]}),
        # a user-defined classifier no family recognises: plain separate fits
        ClassifierSpec(name="NB", order=6, estimator="sklearn.naive_bayes.GaussianNB", fixed={},
                       scale=True, grid={"var_smoothing": [1e-9, 1e-3]}),
    ]


def reference(cells, schema, mode, X_tr, y_tr, X_va, y_va) -> list[float]:
    return [minority_f1(y_va, fit_predict_cell(c, schema, mode, X_tr, y_tr, X_va)) for c in cells]


def tie_data(seed: int, consistent: bool = False, levels: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Small integer features, many duplicated rows: distance ties everywhere.

    ``consistent``: a duplicated row keeps its label (ties often cannot change the vote).
    """
    rng = np.random.default_rng(seed)
    base = rng.integers(0, levels, size=(40, 3)).astype(float)
    X = np.vstack([base, base[:25], base[:10]])
    y = (rng.random(len(X)) < 0.4).astype(int)
    y[:5] = 1
    if consistent:
        y = np.concatenate([y[:40], y[:25], y[:10]])
    X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.35, random_state=seed, stratify=y)
    return X_tr, y_tr, X_va, y_va


@pytest.mark.parametrize("levels", [2, 6])
@pytest.mark.parametrize("consistent", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_equals_separate_fits_on_tied_duplicated_data(seed: int, consistent: bool, levels: int) -> None:
    X_tr, y_tr, X_va, y_va = tie_data(seed, consistent, levels)
    schema = FeatureSchema.infer(pd.DataFrame(X_tr))
    cells = expand_grid(small_grid())
    fast, _ = score_cells_fast(cells, schema, "paper", X_tr, y_tr, X_va, y_va)
    assert fast == reference(cells, schema, "paper", X_tr, y_tr, X_va, y_va)


def test_tie_data_exercises_both_tie_paths() -> None:
    """On the tie data some k are resolved despite ties and some need the separate fit."""
    resolved_with_ties = fallbacks = 0
    for seed, consistent in [(s, c) for s in range(3) for c in (False, True)]:
        X_tr, y_tr, X_va, _ = tie_data(seed, consistent)
        for metric in ("euclidean", "manhattan"):
            s, order, tol = sorted_distances(X_tr, X_va, metric)
            by_k = predict_all_k(s, order, tol, y_tr, [1, 2, 3, 4, 5, 8, 9])
            for k, pred in by_k.items():
                tied = bool(np.any(s[:, k] - s[:, k - 1] <= 2 * tol))
                fallbacks += pred is None
                resolved_with_ties += pred is not None and tied
    assert resolved_with_ties > 0 and fallbacks > 0


def test_knn_vote_ties_even_k() -> None:
    """Even k, a 1-1 vote goes to classes_[0] as in scikit-learn; no distance ties here."""
    X_tr = np.array([[0.0], [1.1], [5.0], [6.3], [20.0], [21.7]])
    y_tr = np.array([0, 1, 1, 0, 1, 0])
    X_va = np.array([[0.5], [5.6], [20.9], [10.0]])
    y_va = np.array([1, 1, 0, 1])
    schema = FeatureSchema.infer(pd.DataFrame(X_tr))
    spec = ClassifierSpec(name="kNN", order=4, estimator="sklearn.neighbors.KNeighborsClassifier",
                          fixed={}, scale=True, grid={"n_neighbors": [2, 4], "metric": ["euclidean"]})
    cells = expand_grid([spec])
    fast, _ = score_cells_fast(cells, schema, "paper", X_tr, y_tr, X_va, y_va)
    assert fast == reference(cells, schema, "paper", X_tr, y_tr, X_va, y_va)


def test_lightgbm_runs_are_shared() -> None:
    """48 paper-grid LightGBM cells would be 48 fits; the fast path needs at most 12."""
    X_tr, y_tr, X_va, y_va = tie_data(0)
    rng = np.random.default_rng(0)
    X_tr = X_tr + rng.normal(size=X_tr.shape)
    X_va = X_va + rng.normal(size=X_va.shape)
    schema = FeatureSchema.infer(pd.DataFrame(X_tr))
    cells = [c for c in expand_grid(small_grid()) if c.classifier == "LGBM"]
    real_fit = LGBMClassifier.fit
    with mock.patch.object(LGBMClassifier, "fit", autospec=True, side_effect=real_fit) as fit:
        fast, _ = score_cells_fast(cells, schema, "paper", X_tr, y_tr, X_va, y_va)
    assert fit.call_count <= 6 < len(cells)
    assert fast == reference(cells, schema, "paper", X_tr, y_tr, X_va, y_va)


def _fold(mirror: Path, name: str, n: int, seed: int) -> tuple[FoldData, FeatureSchema]:
    cfg = compose_config([f"dataset={name}", f"data.mirror_dirs=[{mirror}]"])
    spec = next(iter(cfg.dataset.values()))
    ds = read_mirror_file(spec, mirror / spec.file)
    idx = np.random.default_rng(seed).choice(len(ds.y), size=min(n, len(ds.y)), replace=False)
    X, y = ds.X.iloc[idx].reset_index(drop=True), ds.y[idx]
    tr, va = train_test_split(np.arange(len(y)), test_size=0.3, random_state=100, stratify=y)
    return FoldData(X.iloc[tr], y[tr], X.iloc[va], y[va]), ds.schema


@pytest.mark.parametrize(
    ("name", "mode", "ratio"),
    [("haberman", "paper", 1.0), ("credit-g", "standard", 0.8), ("analcatdata_apnea3", "standard", 1.0)],
)
def test_fast_equals_straightforward_pipelines(mirror: Path, name: str, mode: str, ratio: float) -> None:
    """Real mirrored data (subsampled), SMOTE / SMOTENC, against per-cell imblearn Pipelines."""
    fold, schema = _fold(mirror, name, 220, 0)
    sampler = smote_for(ratio, k_neighbors=5, random_state=0, categorical_features=categorical_for_sampler(schema, mode),
                        n_features=len(schema))
    cells = expand_grid(small_grid(knn_ks=(3, 4, 9)))
    ref = evaluate_straightforward(fold, cells, schema, mode, sampler)
    fast = evaluate_shared(fold, cells, schema, mode, sampler)
    assert fast.f1 == ref.f1
    assert len(fast.seconds) == len(cells) and all(s >= 0 for s in fast.seconds)
