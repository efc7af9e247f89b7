"""The lean L-BFGS-B loop gives scikit-learn's logistic regression bit for bit.

Compared with ``np.array_equal`` (not a tolerance) on real mirrored data, in
the regimes that matter: a fit that converges, fits that stop at scipy's cap
of 15,000 function evaluations (unscaled kc3 after SMOTE: where lbfgs stops
decides the model), and the ConvergenceWarning scikit-learn raises for them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.linear_model import _logistic

import pandas as pd

from lsh_bench.models import fast_lbfgs
from lsh_bench.models.fast_lbfgs import lean_lbfgs, versions_match
from tests.conftest import mirror_dir


def mirror_xy(name: str) -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_csv(mirror_dir() / name)
    return df.drop(columns="target").to_numpy(float), df["target"].to_numpy()


def fit(X, y, C: float, lean: bool, **kw) -> tuple[LogisticRegression, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model = LogisticRegression(C=C, max_iter=100000, random_state=100, **kw)
        if lean:
            with lean_lbfgs() as active:
                assert active
                model.fit(X, y)
        else:
            model.fit(X, y)
    return model, [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]


def assert_same_model(a: LogisticRegression, b: LogisticRegression) -> None:
    assert np.array_equal(a.coef_, b.coef_) and np.array_equal(a.intercept_, b.intercept_)
    assert np.array_equal(a.n_iter_, b.n_iter_) and np.array_equal(a.classes_, b.classes_)


@pytest.fixture(scope="module")
def kc3_resampled():
    from imblearn.over_sampling import SMOTE

    X, y = mirror_xy("1065_kc3.csv.gz")
    return SMOTE(sampling_strategy=1.0, random_state=0).fit_resample(X, y)


def test_mirrored_versions_are_installed():
    assert versions_match(), "fast_lbfgs mirrors scikit-learn 1.9.1 / scipy 1.17.1: re-check it before bumping"


@pytest.mark.parametrize("C", [0.001, 1.0])
def test_kc3_converging_and_capped_fits_are_bit_identical(kc3_resampled, C):
    X, y = kc3_resampled
    ref, ref_warn = fit(X, y, C, lean=False)
    lean, lean_warn = fit(X, y, C, lean=True)
    assert_same_model(ref, lean)
    assert lean_warn == ref_warn
    if C == 1.0:     # the regime the module exists for: stopped by the evaluation cap, with a warning
        assert len(ref_warn) == 1 and "EVALUATIONS EXCEEDS LIMIT" in ref_warn[0]
    else:
        assert ref_warn == []
    assert _logistic.optimize is fast_lbfgs._scipy_optimize    # restored after the block


@pytest.mark.parametrize("name,C", [("1510_wdbc.csv.gz", 10.0), ("43_haberman.csv.gz", 0.01)])
def test_other_datasets_bit_identical(name, C):
    X, y = mirror_xy(name)
    assert_same_model(fit(X, y, C, lean=False)[0], fit(X, y, C, lean=True)[0])


def test_lean_loop_really_runs_and_unmirrored_cases_fall_back(kc3_resampled, monkeypatch):
    X, y = kc3_resampled
    calls = []
    real = fast_lbfgs.lbfgsb
    monkeypatch.setattr(fast_lbfgs, "lbfgsb", lambda *a, **k: calls.append(1) or real(*a, **k))
    fit(X[:200], y[:200], 0.1, lean=True)
    assert calls == [1]
    # sample weights and class weights still go through the lean loop (same objective code path
    # or the generic one) and stay identical; a callback-free scipy minimize is the only solver used
    w = np.linspace(0.5, 2.0, 200)
    with lean_lbfgs():
        a = LogisticRegression(C=0.1, max_iter=100000).fit(X[:200], y[:200], sample_weight=w)
    b = LogisticRegression(C=0.1, max_iter=100000).fit(X[:200], y[:200], sample_weight=w)
    assert_same_model(a, b)
    # other versions: the block is inactive and scikit-learn runs as it is
    monkeypatch.setattr(fast_lbfgs, "versions_match", lambda: False)
    with lean_lbfgs() as active:
        assert not active and _logistic.optimize is fast_lbfgs._scipy_optimize


def test_multiclass_and_other_solvers_are_untouched():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = rng.integers(0, 3, 120)
    for kw in ({}, {"solver": "newton-cg"}):
        with lean_lbfgs():
            a = LogisticRegression(max_iter=1000, **kw).fit(X, y)
        b = LogisticRegression(max_iter=1000, **kw).fit(X, y)
        assert_same_model(a, b)
