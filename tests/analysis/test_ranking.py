"""Friedman/Nemenyi ranking and the signed-rank test, on tables small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from lsh_bench.analysis import ranking_tables
from lsh_bench.analysis.errors import AnalysisInputError
from lsh_bench.analysis.ranking import (
    complete_cases, critical_difference, friedman, nemenyi, rank_methods, rank_per_dataset,
    signed_rank_test,
)


def _scores(rows: dict[str, list[float]], methods=("A", "B", "C")) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(methods))


def test_ranks_are_one_for_the_best_and_ties_share_the_mean():
    s = _scores({"d1": [0.9, 0.8, 0.7], "d2": [0.5, 0.5, 0.9]})
    r = rank_per_dataset(s)
    assert r.loc["d1"].tolist() == [1, 2, 3]
    assert r.loc["d2"].tolist() == [2.5, 2.5, 1]


@pytest.mark.parametrize("k, q", [(2, 1.960), (3, 2.343), (4, 2.569), (5, 2.728),
                                  (6, 2.850), (7, 2.949), (8, 3.031), (10, 3.164)])
def test_critical_difference_matches_demsar_table(k, q):
    """Demšar (2006), Table 5(a): q_0.05 of the Nemenyi test; CD = q sqrt(k(k+1)/6N)."""
    n = 30
    assert critical_difference(k, n) == pytest.approx(q * math.sqrt(k * (k + 1) / (6 * n)),
                                                      abs=2e-3)


def test_friedman_equals_scipy_and_the_textbook_formula():
    rng = np.random.default_rng(3)
    s = pd.DataFrame(rng.uniform(0.4, 0.9, (12, 4)), columns=list("ABCD"))
    s["A"] += 0.15
    chi2, p = friedman(s)
    ref = sps.friedmanchisquare(*(s[c] for c in s.columns))
    assert (chi2, p) == pytest.approx((ref.statistic, ref.pvalue))
    # no ties: chi2_F = 12N/(k(k+1)) [sum R_j^2 - k(k+1)^2/4]
    n, k = s.shape
    rj = rank_per_dataset(s).mean(axis=0)
    by_hand = 12 * n / (k * (k + 1)) * ((rj ** 2).sum() - k * (k + 1) ** 2 / 4)
    assert chi2 == pytest.approx(by_hand)


def test_friedman_all_tied_is_nan_not_a_crash():
    s = _scores({"d1": [0.5, 0.5, 0.5], "d2": [0.7, 0.7, 0.7]})
    assert all(math.isnan(v) for v in friedman(s))
    r = rank_methods(s)
    assert math.isnan(r.p_value) and (r.nemenyi.to_numpy() == 1).all()


def test_nemenyi_p_values_from_the_studentized_range():
    s = _scores({f"d{i}": [0.9 - 0.01 * i, 0.8, 0.7 + 0.005 * i] for i in range(8)})
    p = nemenyi(s)
    assert (p.to_numpy() == p.to_numpy().T).all() and np.diag(p).tolist() == [1, 1, 1]
    # A ranks 1 everywhere, C 3: |1 - 3| / sqrt(k(k+1)/(6N)) * sqrt(2) on the range distribution
    q = 2 / math.sqrt(3 * 4 / (6 * 8)) * math.sqrt(2)
    assert p.loc["A", "C"] == pytest.approx(sps.studentized_range.sf(q, 3, np.inf))
    assert p.loc["A", "C"] < 0.05 < p.loc["A", "B"]


def test_missing_scores_drop_the_dataset_and_say_why():
    s = _scores({"d1": [0.9, np.nan, 0.7], "d2": [0.6, 0.5, 0.4], "d3": [0.2, 0.3, 0.1],
                 "d4": [np.nan, np.nan, 0.3]}, methods=("A", "B", "C"))
    s["D"] = np.nan
    kept, dropped, unranked = complete_cases(s)
    assert list(kept.index) == ["d2", "d3"] and list(kept.columns) == ["A", "B", "C"]
    assert dropped == {"d1": ["B"], "d4": ["A", "B"]} and unranked == ["D"]
    r = rank_methods(s)
    assert (r.n, r.k) == (2, 3) and r.dropped == dropped and r.unranked == ["D"]
    assert r.mean_ranks.to_dict() == {"A": 1.5, "B": 1.5, "C": 3.0}
    assert r.critical_difference == pytest.approx(critical_difference(3, 2))


def test_scores_are_rounded_before_ranking():
    s = _scores({"d1": [0.91234, 0.91231, 0.5], "d2": [0.6, 0.7, 0.5]})
    assert rank_methods(s, decimals=4).ranks.loc["d1"].tolist() == [1.5, 1.5, 3]
    assert rank_methods(s, decimals=5).ranks.loc["d1"].tolist() == [1, 2, 3]


def test_too_few_methods_or_datasets_is_an_error():
    with pytest.raises(AnalysisInputError, match="at least 3 methods with results; have A, B"):
        rank_methods(_scores({"d1": [0.9, 0.8, np.nan], "d2": [0.5, 0.4, np.nan]}))
    with pytest.raises(AnalysisInputError, match="at least 2 datasets where all of A, B, C.*found 1"):
        rank_methods(_scores({"d1": [0.9, 0.8, 0.7], "d2": [0.5, np.nan, 0.4]}))


def test_signed_rank_orientation_rope_and_seed():
    rng = np.random.default_rng(0)
    y = rng.uniform(0.5, 0.8, 20)
    x = y + 0.05
    first = signed_rank_test(x, y, rope=0.01, seed=0, nsamples=3000)
    assert sum(first) == pytest.approx(1.0) and first[0] > 0.99
    assert signed_rank_test(y, x, rope=0.01, seed=0, nsamples=3000)[2] > 0.99
    assert signed_rank_test(y + 0.001, y, rope=0.01, seed=0, nsamples=3000)[1] > 0.99
    z = y + rng.normal(0, 0.03, 20)
    a, b = (signed_rank_test(z, y, seed=s, nsamples=3000) for s in (1, 2))
    assert a == signed_rank_test(z, y, seed=1, nsamples=3000) and a != b
    assert all(math.isnan(v) for v in signed_rank_test(np.array([]), np.array([])))
    no_rope = signed_rank_test(x, y, rope=0.0, seed=0, nsamples=2000)
    assert no_rope[1] == 0 and sum(no_rope) == pytest.approx(1.0)


def test_signed_rank_matches_baycomp():
    import baycomp
    x = np.array([0.8, 0.7, 0.9, 0.6, 0.75, 0.66])
    y = np.array([0.7, 0.7, 0.85, 0.65, 0.70, 0.66])
    ours = signed_rank_test(x, y, rope=0.01, seed=3, nsamples=2000)
    theirs = baycomp.SignedRankTest.probs(x, y, rope=0.01, random_state=3, nsamples=2000)
    assert ours == pytest.approx(tuple(theirs))


def test_method_pairs_put_the_paper_first():
    assert ranking_tables.method_pairs(["SM", "LM", "LS", "ORG"]) == [
        ("LM", "SM"), ("LS", "LM"), ("LS", "SM"), ("ORG", "SM"), ("ORG", "LM"), ("ORG", "LS")]
    assert ranking_tables.method_pairs(["SM", "ADASYN"]) == [("ADASYN", "SM")]


def test_ranking_tables_and_signed_rank_table():
    g = pd.DataFrame({"dataset": [f"d{i}" for i in range(6)], "ir": np.arange(6.0) + 2})
    for m, base in (("SM", 0.6), ("LM", 0.5), ("LS", 0.7), ("ADASYN", 0.55)):
        g[f"{m}_t"] = base + 0.01 * np.arange(6)
        g[f"{m}_v"] = g[f"{m}_t"] + 0.02
    g.loc[0, "ADASYN_t"] = np.nan
    methods = ranking_tables.scored_methods(g)
    assert methods == ["SM", "LM", "LS", "ADASYN"]
    r = rank_methods(ranking_tables.score_matrix(g, methods))
    rt = ranking_tables.ranking_table(r)
    assert rt["method"].tolist() == ["LS", "SM", "ADASYN", "LM"]
    assert rt["mean_rank"].tolist() == [1, 2, 3, 4] and (rt["n"] == 5).all()
    assert list(rt.columns[4:]) == ["p_vs_LS", "p_vs_SM", "p_vs_ADASYN", "p_vs_LM"]
    assert rt.loc[0, "p_vs_LM"] < 0.05
    fr = ranking_tables.friedman_table(r)
    assert fr.loc[0, ["k", "n", "n_dropped"]].tolist() == [4, 5, 1]
    sr = ranking_tables.signed_rank(g, methods, nsamples=1000)
    assert len(sr) == 2 * 6 and sr["score"].tolist() == ["test"] * 6 + ["cv"] * 6
    ad = sr[(sr["first"] == "ADASYN") & (sr["second"] == "SM") & (sr["score"] == "test")].iloc[0]
    assert ad["n"] == 5 and ad["mean_margin"] == pytest.approx(-0.05)
    assert ad["p_second_better"] > 0.95
    with pytest.raises(AnalysisInputError, match="no such method.*BORDERLINE"):
        ranking_tables.scored_methods(g, ("SM", "BORDERLINE"))
    assert ranking_tables.scored_methods(g, ("LS", "SM", "LM")) == ["SM", "LM", "LS"]
