"""The lean logistic-regression fit gives scikit-learn's fit bit for bit.

``coef_``, ``intercept_``, ``n_iter_`` are compared with ``np.array_equal``
(never a tolerance) against plain ``LogisticRegression.fit`` on real mirrored
data, in the regimes that matter: a fit that converges, a fit stopped by
scipy's cap of 15,000 function evaluations (unscaled kc3 after SMOTE: where
lbfgs stops decides the model), a fit stopped by ``max_iter``; and the
ConvergenceWarnings scikit-learn raises. Whatever the lean path does not
mirror must go to scikit-learn's own fit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import config_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from lsh_bench.config import ClassifierSpec
from lsh_bench.data.schema import FeatureSchema
from lsh_bench.models import fast, fast_lr
from lsh_bench.models.fast import score_cells_fast
from lsh_bench.models.fast_lr import fit_lean, lean_lr_applies
from lsh_bench.models.grid import expand_grid

from tests.conftest import mirror_dir
from tests.models.test_fast_exact import reference

PAPER_CS = [0.001, 0.01, 0.1, 1, 10, 100, 1000]       # conf/classifier/lr.yaml


def mirror_xy(name: str) -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_csv(mirror_dir() / name)
    return df.drop(columns="target").to_numpy(float), df["target"].to_numpy()


def fit(X, y, *, lean: bool, C: float = 1.0, **kw):
    """(fitted model, ConvergenceWarning messages) of plain scikit-learn or of fit_lean."""
    model = LogisticRegression(C=C, **{"max_iter": 100000, "random_state": 100, **kw})
    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit_lean(model, X, y) if lean else model.fit(X, y)
    return model, [(w.category, str(w.message)) for w in caught]


def assert_same_model(a: LogisticRegression, b: LogisticRegression, X: np.ndarray) -> None:
    for name in ("coef_", "intercept_", "n_iter_", "classes_"):
        va, vb = getattr(a, name), getattr(b, name)
        assert np.array_equal(va, vb) and va.dtype == vb.dtype and va.shape == vb.shape, name
    assert sorted(vars(a)) == sorted(vars(b)) and a.n_features_in_ == b.n_features_in_
    assert np.array_equal(a.predict(X), b.predict(X))
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.fixture
def lean_calls(monkeypatch) -> list[int]:
    """Counts the runs of the lean L-BFGS-B loop."""
    calls: list[int] = []
    real = fast_lr._lbfgsb
    monkeypatch.setattr(fast_lr, "_lbfgsb", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


@pytest.fixture(scope="module")
def kc3_resampled() -> tuple[np.ndarray, np.ndarray]:
    from imblearn.over_sampling import SMOTE

    X, y = mirror_xy("1065_kc3.csv.gz")
    return SMOTE(sampling_strategy=1.0, random_state=0).fit_resample(X, y)


@pytest.fixture(scope="module")
def kc3_capped_reference(kc3_resampled):
    """scikit-learn's fit of kc3 at C=1: stopped by the 15,000-evaluation cap."""
    return fit(*kc3_resampled, lean=False, C=1)


def test_mirrored_versions_are_installed() -> None:
    assert fast_lr.versions_match(), "fast_lr mirrors scikit-learn 1.9.1 / scipy 1.17.1: re-check it before bumping"


def test_kc3_capped_fit_is_bit_identical(kc3_resampled, kc3_capped_reference, lean_calls) -> None:
    X, y = kc3_resampled
    ref, ref_warn = kc3_capped_reference
    lean, lean_warn = fit(X, y, lean=True, C=1)
    assert lean_calls == [1]
    assert_same_model(ref, lean, X)
    assert lean_warn == ref_warn
    assert len(ref_warn) == 1 and ref_warn[0][0] is ConvergenceWarning
    assert "EVALUATIONS EXCEEDS LIMIT" in ref_warn[0][1]          # the regime this module exists for


def test_one_evaluation_more_or_less_changes_the_model(kc3_resampled, kc3_capped_reference, monkeypatch) -> None:
    """The comparison above can fail: stopping at a neighbouring evaluation count gives other bits."""
    X, y = kc3_resampled
    ref, _ = kc3_capped_reference
    monkeypatch.setattr(fast_lr, "_MAXFUN", fast_lr._MAXFUN - 1)
    lean, _ = fit(X, y, lean=True, C=1)
    assert not np.array_equal(ref.coef_, lean.coef_)


def test_kc3_converging_fit_is_bit_identical(kc3_resampled, lean_calls) -> None:
    X, y = kc3_resampled
    ref, ref_warn = fit(X, y, lean=False, C=0.001)
    lean, lean_warn = fit(X, y, lean=True, C=0.001)
    assert lean_calls == [1]
    assert_same_model(ref, lean, X)
    assert ref_warn == lean_warn == []            # converged: CONVERGENCE, no warning


@pytest.mark.parametrize(("name", "C"), [("1510_wdbc.csv.gz", 10), ("1510_wdbc.csv.gz", 0.01),
                                          ("43_haberman.csv.gz", 0.1), ("43_haberman.csv.gz", 1000.0)])
def test_other_datasets_bit_identical(name: str, C: float, lean_calls) -> None:
    X, y = mirror_xy(name)
    ref, ref_warn = fit(X, y, lean=False, C=C)
    lean, lean_warn = fit(X, y, lean=True, C=C)
    assert lean_calls == [1]
    assert_same_model(ref, lean, X)
    assert lean_warn == ref_warn


def test_max_iter_stop_and_its_warning(lean_calls) -> None:
    """Stopped by max_iter (scipy's 504): same n_iter_, same warning text (it names max_iter)."""
    X, y = mirror_xy("1510_wdbc.csv.gz")
    ref, ref_warn = fit(X, y, lean=False, C=1.0, max_iter=7)
    lean, lean_warn = fit(X, y, lean=True, C=1.0, max_iter=7)
    assert lean_calls == [1]
    assert_same_model(ref, lean, X)
    assert ref.n_iter_[0] == 7 and len(ref_warn) == 1 and "max_iter=7" in ref_warn[0][1]
    assert lean_warn == ref_warn


def test_label_encoding_and_memory_layout(lean_calls) -> None:
    """Other binary labels (positive = the larger one), bools, a Fortran-ordered X."""
    X, y = mirror_xy("43_haberman.csv.gz")
    cases = [(X, np.where(y == 1, 7, -2)), (X, y == 0), (np.asfortranarray(X), y), (X[::2], y[::2])]
    for Xc, yc in cases:
        ref, ref_warn = fit(Xc, yc, lean=False, C=0.5)
        lean, lean_warn = fit(Xc, yc, lean=True, C=0.5)
        assert_same_model(ref, lean, np.ascontiguousarray(Xc))
        assert lean_warn == ref_warn
    assert lean_calls == [1] * len(cases)


def _synthetic(seed: int = 0, n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * np.array([1.0, 50.0, 0.01])
    y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    return X, y


class _MyLR(LogisticRegression):
    pass


@pytest.mark.parametrize("make", [
    lambda: LogisticRegression(),
    lambda: LogisticRegression(C=3, max_iter=100000, random_state=100),
    lambda: LogisticRegression(C=0.5, tol=0.0, max_iter=1, random_state=np.random.RandomState(0)),
])
def test_guard_admits_the_mirrored_configuration(make) -> None:
    assert lean_lr_applies(make())


@pytest.mark.parametrize("make", [
    lambda: LogisticRegression(solver="newton-cg"),
    lambda: LogisticRegression(solver="liblinear"),
    lambda: LogisticRegression(penalty="l2"),            # deprecated spelling: FutureWarning path
    lambda: LogisticRegression(l1_ratio=None),           # FutureWarning path
    lambda: LogisticRegression(l1_ratio=0.5, solver="saga"),
    lambda: LogisticRegression(C=np.inf),                # means penalty=None
    lambda: LogisticRegression(C=0.0),                   # invalid: scikit-learn raises
    lambda: LogisticRegression(C=True),
    lambda: LogisticRegression(max_iter=0),
    lambda: LogisticRegression(max_iter=2.5),
    lambda: LogisticRegression(tol=-1.0),
    lambda: LogisticRegression(random_state="nope"),     # invalid: scikit-learn raises
    lambda: LogisticRegression(fit_intercept=False),
    lambda: LogisticRegression(intercept_scaling=2.0),
    lambda: LogisticRegression(class_weight="balanced"),
    lambda: LogisticRegression(class_weight={0: 1.0, 1: 2.0}),
    lambda: LogisticRegression(warm_start=True),
    lambda: LogisticRegression(verbose=1),
    lambda: LogisticRegression(n_jobs=1),
    lambda: LogisticRegression(dual=True, solver="liblinear"),
    lambda: _MyLR(),
    lambda: __import__("sklearn.svm", fromlist=["SVC"]).SVC(),
])
def test_guard_refuses_everything_else(make) -> None:
    assert not lean_lr_applies(make())


def test_guard_refuses_other_versions_and_array_api(monkeypatch) -> None:
    with config_context(array_api_dispatch=False):
        assert lean_lr_applies(LogisticRegression())
    monkeypatch.setattr(fast_lr, "versions_match", lambda: False)
    assert not lean_lr_applies(LogisticRegression())


@pytest.mark.parametrize("case", ["multiclass", "float32", "dataframe", "float_labels", "string_labels",
                                  "one_class", "list", "sparse", "estimator"])
def test_unmirrored_inputs_fall_back_to_scikit_learn(case: str, lean_calls) -> None:
    X, y = _synthetic()
    kw: dict = {}
    if case == "multiclass":
        y = y + (X[:, 1] > 0)
    elif case == "float32":
        X = X.astype(np.float32)
    elif case == "dataframe":
        X = pd.DataFrame(X, columns=["a", "b", "c"])
    elif case == "float_labels":
        y = y.astype(float)
    elif case == "string_labels":
        y = np.where(y == 1, "yes", "no")
    elif case == "one_class":
        y = np.zeros_like(y)
    elif case == "list":
        X = X.tolist()
    elif case == "sparse":
        from scipy import sparse

        X = sparse.csr_matrix(X)
    elif case == "estimator":
        kw = {"class_weight": "balanced"}
    outcomes = []
    for lean in (False, True):
        try:
            model, caught = fit(X, y, lean=lean, C=2.0, **kw)
            outcomes.append((model.coef_.tolist(), model.intercept_.tolist(), model.n_iter_.tolist(),
                             model.classes_.tolist(), caught, getattr(model, "feature_names_in_", None) is None))
        except ValueError as exc:      # one_class: scikit-learn's error, raised by scikit-learn
            outcomes.append(("raised", str(exc)))
    assert outcomes[0] == outcomes[1]
    assert lean_calls == []


def test_non_finite_x_raises_scikit_learns_error(lean_calls) -> None:
    X, y = _synthetic()
    X[3, 1] = np.nan
    with pytest.raises(ValueError) as ref:
        LogisticRegression().fit(X, y)
    with pytest.raises(ValueError) as lean:
        fit_lean(LogisticRegression(), X, y)
    assert str(ref.value) == str(lean.value) and lean_calls == []


def test_synthetic_fits_bit_identical(lean_calls) -> None:
    for seed in range(4):
        X, y = _synthetic(seed)
        for C in (0.01, 1.0, 100.0):
            ref, ref_warn = fit(X, y, lean=False, C=C)
            lean, lean_warn = fit(X, y, lean=True, C=C)
            assert_same_model(ref, lean, X)
            assert lean_warn == ref_warn
    assert len(lean_calls) == 12


# ---------------------------------------------------------------------------------------------
# The family in the fast grid evaluator


def _lr_cells(extra: list[dict] | None = None):
    spec = ClassifierSpec(name="LR", order=1, estimator="sklearn.linear_model.LogisticRegression",
                          fixed={"max_iter": 100000, "random_state": 100}, scale=True, grid={"C": PAPER_CS})
    specs = [spec]
    for i, fixed in enumerate(extra or []):
        specs.append(ClassifierSpec(name=f"LR{i}", order=2 + i, estimator=spec.estimator,
                                    fixed={**spec.fixed, **fixed}, scale=True, grid={"C": [1]}))
    return expand_grid(specs)


def test_family_is_registered() -> None:
    assert any(f.serve is fast_lr.score_lr and f.mirrors == fast_lr.MIRRORS for f in fast.FAMILIES)


@pytest.mark.parametrize("mode", ["paper", "standard"])
def test_score_cells_fast_lr_family_equals_separate_fits(mode: str, lean_calls) -> None:
    """The 7 paper LR cells on (part of) kc3 after SMOTE: same F1, same ConvergenceWarning count.

    ``paper`` feeds unscaled features (the capped regime); ``standard`` the
    scaled matrices from the shared post-transform. A cell with
    ``class_weight`` is not the family's and goes to the separate fit.
    """
    from imblearn.over_sampling import SMOTE

    X, y = mirror_xy("1065_kc3.csv.gz")
    X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)
    X_tr, y_tr = SMOTE(sampling_strategy=1.0, random_state=0).fit_resample(X_tr, y_tr)
    schema = FeatureSchema.infer(pd.DataFrame(X_tr))
    cells = _lr_cells(extra=[{"class_weight": "balanced"}])
    assert len(cells) == 8

    def count_warnings(fn):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            result = fn()
        return result, sum(issubclass(w.category, ConvergenceWarning) for w in caught)

    (fast_f1, seconds), fast_warn = count_warnings(
        lambda: score_cells_fast(cells, schema, mode, X_tr, y_tr, X_va, y_va))
    with threadpool_limits(1):
        ref_f1, ref_warn = count_warnings(lambda: reference(cells, schema, mode, X_tr, y_tr, X_va, y_va))
    assert fast_f1 == ref_f1
    assert fast_warn == ref_warn
    assert len(lean_calls) == 7                         # the class_weight cell was not the family's
    assert len(seconds) == len(cells) and all(s > 0 for s in seconds)
    if mode == "paper":
        assert ref_warn >= 1                            # some cells stop at the evaluation cap
