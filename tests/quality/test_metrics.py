"""Each measure against its definition: the paper's notebook verbatim, scipy, or a hand count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from scipy.stats import ks_2samp, pearsonr
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.quality import cost_fields, quality_record
from lsh_bench.quality.detection import grouped_folds, roc_auc
from lsh_bench.quality.fidelity import ks_statistic, pair_trends, real_columns
from lsh_bench.quality.privacy import copy_share, rounded
from tests.quality.conftest import gaussian_part, numeric_schema


def notebook_knn(df_org: pd.DataFrame, df_over: pd.DataFrame) -> list[float]:
    """Cell 4 of the paper's "1. LLM Quality" notebook, verbatim but for the file loading."""
    df_min = df_org[df_org["NEW_LABEL"] == 1].copy()
    X_min = df_min.drop(columns=["NEW_LABEL"]).values
    X_syn = df_over.drop(columns=["NEW_LABEL"], errors="ignore").values
    scaler = StandardScaler()
    X_min_scaled = scaler.fit_transform(X_min)
    X_syn_scaled = scaler.transform(X_syn)
    nn = NearestNeighbors(n_neighbors=5, metric="euclidean")
    nn.fit(X_min_scaled)
    distances, _ = nn.kneighbors(X_syn_scaled)
    distances_avg = []
    for m in range(len(distances)):
        distances_avg.append(np.average(distances[m]))
    return [np.mean(distances_avg), np.median(distances_avg), np.std(distances_avg)]


def notebook_uncertainty(df_org: pd.DataFrame, df_over: pd.DataFrame) -> list[float]:
    """Cells 23-24 of the notebook (LightGBM, the last classifier assigned), verbatim."""
    X = df_org.drop(columns=["NEW_LABEL"]).values
    y = df_org["NEW_LABEL"].values
    scaler = StandardScaler()
    X_scaled = scaler.fit_transform(X)
    clf = LGBMClassifier(random_state=42, verbose=-1)
    clf.fit(X_scaled, y)
    X_syn = df_over.drop(columns=["NEW_LABEL"], errors="ignore").values
    prob = clf.predict_proba(scaler.transform(X_syn))[:, 1]
    unc = np.abs(prob - 0.5)
    return [np.mean(unc), np.median(unc), np.std(unc)]


def test_paper_measures_equal_the_notebook(rng):
    X, y = gaussian_part(rng, n_min=60, n_maj=240, d=5)
    order = rng.permutation(len(y))                   # rows mixed as in a real training part
    X, y = X[order], y[order]
    syn = X[y == 1][rng.integers(0, 60, 90)] * 0.7 + 0.3 * X[y == 1][rng.integers(0, 60, 90)]
    cols = [f"f{j}" for j in range(5)]
    df_org = pd.DataFrame(X, columns=cols).assign(NEW_LABEL=y)
    df_over = pd.DataFrame(syn, columns=cols).assign(NEW_LABEL=1)
    rec = quality_record(X, y, syn, numeric_schema(5), seed=0)
    # equal up to the last bit or two: pandas' ``.values`` hands the scaler a differently laid out array
    assert [rec["paper_knn_mean"], rec["paper_knn_median"], rec["paper_knn_std"]] == pytest.approx(
        notebook_knn(df_org, df_over), rel=1e-13)
    assert [rec["paper_unc_mean"], rec["paper_unc_median"], rec["paper_unc_std"]] == pytest.approx(
        notebook_uncertainty(df_org, df_over), abs=1e-12)


@pytest.mark.parametrize("n_real, n_syn", [(50, 80), (7, 3), (200, 1)])
def test_ks_statistic_is_scipys(rng, n_real, n_syn):
    real = np.round(rng.normal(size=n_real), 1)        # rounded: ties, as in integer-valued columns
    syn = np.round(rng.normal(0.3, 1.2, size=n_syn), 1)
    assert ks_statistic(np.sort(real), syn) == pytest.approx(ks_2samp(real, syn).statistic, abs=1e-15)


def test_correlation_and_contingency_similarity_by_hand():
    schema = FeatureSchema((Column("a", "numeric"), Column("b", "numeric"),
                            Column("c", "categorical", categories=("p", "q"))))
    real = np.array([[0, 0, 0], [1, 2, 0], [2, 4, 1], [3, 5, 1]], dtype=float)
    syn = np.array([[0, 3, 0], [1, 1, 1], [2, 2, 1], [3, 0, 0]], dtype=float)
    ref = real_columns(real, schema)
    scores = pair_trends(ref, syn).scores
    rho_r, rho_s = pearsonr(real[:, 0], real[:, 1])[0], pearsonr(syn[:, 0], syn[:, 1])[0]
    assert scores[0] == pytest.approx(1 - abs(rho_r - rho_s) / 2)
    # (a, c): a binned into 10 equal-width bins of [0, 3]: the values 0, 1, 2, 3 fall in bins 1, 4, 7, 10;
    # real cells (1,p) (4,p) (7,q) (10,q), synthetic (1,p) (4,q) (7,q) (10,p): 2 of 4 cells moved -> TV 0.5
    assert scores[1] == pytest.approx(0.5)
    # (b, c): b in [0, 5], bins of width 0.5: real 0->1 p, 2->5 p, 4->9 q, 5->10 q;
    # synthetic 3->7 p, 1->3 q, 2->5 q, 0->1 p: shared mass only (1,p) = 1/4 -> TV 0.75
    assert scores[2] == pytest.approx(0.25)


def test_exact_copies_at_six_significant_digits():
    real = np.array([[0.1234567, 1e6 + 3.0, -0.0], [2.0, 3.0, 4.0]])
    syn = np.array([[0.123457, 1000000.0, 0.0],       # %.6g of row 0: a copy
                    [0.123458, 1000000.0, 0.0],       # differs in the 6th digit
                    [2.0, 3.0, 4.0000001]])           # equal at 6 digits
    assert rounded(np.array([0.1234567, 123456789.0, -0.0]))[0] == 0.123457
    assert copy_share(syn, real) == pytest.approx(2 / 3)


def test_grouped_folds_keep_identical_rows_together_and_are_seeded():
    real_keys = [bytes([i]) for i in range(30)]
    syn_keys = [bytes([i]) for i in range(10)] + [bytes([100 + i]) for i in range(20)]
    fold = grouped_folds(real_keys, syn_keys, 3, seed=5)
    assert (fold[:10] == fold[30:40]).all()                      # a copy sits in its original's fold
    assert np.ptp(np.bincount(fold[:30])) <= 2                   # real rows spread about evenly
    assert (fold == grouped_folds(real_keys, syn_keys, 3, seed=5)).all()
    assert not (fold == grouped_folds(real_keys, syn_keys, 3, seed=6)).all()
    assert (grouped_folds(real_keys, [b"x"] * 5, 3, seed=5) == 0).all()   # one distinct synthetic row: no folds


def test_cost_fields():
    lm = cost_fields(resample_seconds=2.5, quality_seconds=0.1, n_rows_added=40, llm_rows=40, llm_calls=3,
                     llm_prompt_tokens=3000, llm_completion_tokens=1000)
    assert lm["llm_tokens_per_row"] == 100.0
    sm = cost_fields(resample_seconds=0.01, quality_seconds=0.05, n_rows_added=40)
    assert np.isnan(sm["llm_tokens_per_row"]) and sm["llm_rows"] == 0
    with pytest.raises(ValueError, match="llm_rows"):
        cost_fields(resample_seconds=0, quality_seconds=0, n_rows_added=5, llm_rows=6)


def test_roc_auc_is_sklearns(rng):
    y = rng.integers(0, 2, 300)
    for score in (rng.normal(size=300) + y, np.round(rng.normal(size=300), 1), np.zeros(300)):   # ties too
        assert roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-15)
