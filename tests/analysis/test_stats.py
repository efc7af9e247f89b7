"""Every statistic on inputs small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from lsh_bench.analysis.errors import AnalysisInputError
from lsh_bench.analysis.stats import (
    achievement_rate, achievement_summary, compare, correlation, group_sizes,
    ir_groups, mean_margin, paired, sign_test, sign_test_posterior, win_tie_loss,
)


def test_win_tie_loss_counts_by_hand():
    x = np.array([0.9, 0.5, 0.7, 0.3])
    y = np.array([0.8, 0.5, 0.75, 0.3])
    assert win_tie_loss(x, y) == (1, 2, 1)


def test_tie_is_equality_after_rounding():
    x, y = np.array([0.91234, 0.91236]), np.array([0.91231, 0.91231])
    assert win_tie_loss(x, y, decimals=4) == (1, 1, 0)  # 0.9123 = 0.9123; 0.9124 > 0.9123
    assert win_tie_loss(x, y, decimals=3) == (0, 2, 0)
    assert win_tie_loss(x, y, decimals=5) == (2, 0, 0)


def test_mean_margin_is_first_minus_second():
    assert mean_margin(np.array([0.9, 0.5]), np.array([0.8, 0.7])) == pytest.approx(-0.05)
    assert math.isnan(mean_margin(np.array([]), np.array([])))


def test_pairs_use_only_datasets_where_both_exist():
    a = pd.Series([0.9, np.nan, 0.7, 0.6])
    b = pd.Series([0.8, 0.5, np.nan, 0.6])
    x, y = paired(a, b)
    assert x.tolist() == [0.9, 0.6] and y.tolist() == [0.8, 0.6]
    s = compare(a, b, seed=1, nsamples=2000)
    assert (s.n, s.wins, s.ties, s.losses) == (2, 1, 1, 0)
    assert s.mean_margin == pytest.approx(0.05)


def test_sign_test_probabilities_sum_to_one_and_follow_the_dominant_side():
    rng = np.random.default_rng(0)
    y = rng.uniform(0.5, 0.8, 30)
    x = y + 0.05  # first clearly better on every dataset
    p_first, p_rope, p_second = sign_test(x, y, rope=0.01, seed=0)
    assert p_first + p_rope + p_second == pytest.approx(1.0)
    assert p_first > 0.99 and p_second < 0.01
    # swapping sides swaps the outer probabilities: the order is (first, rope, second)
    q_first, q_rope, q_second = sign_test(y, x, rope=0.01, seed=0)
    assert q_second > 0.99 and q_first < 0.01
    # all differences inside the rope: practically equal
    assert sign_test(y + 0.001, y, rope=0.01, seed=0)[1] > 0.99


def test_sign_test_matches_baycomp_and_its_posterior():
    import baycomp
    x = np.array([0.8, 0.7, 0.9, 0.6, 0.75, 0.66])
    y = np.array([0.7, 0.7, 0.85, 0.65, 0.70, 0.66])
    ours = sign_test(x, y, rope=0.01, seed=3, nsamples=4000)
    theirs = baycomp.SignTest.probs(x, y, rope=0.01, random_state=3, nsamples=4000)
    assert ours == pytest.approx(tuple(theirs))
    sample = sign_test_posterior(x, y, 0.01, 3, 4000)
    freq = np.bincount(sample.argmax(axis=1), minlength=3) / 4000
    assert tuple(freq) == pytest.approx(ours)


def test_sign_test_edge_cases():
    assert all(math.isnan(p) for p in sign_test(np.array([]), np.array([])))
    p = sign_test(np.array([0.9, 0.8, 0.7]), np.array([0.5, 0.5, 0.5]), rope=0.0, seed=0)
    assert len(p) == 3 and sum(p) == pytest.approx(1.0)


def test_sign_test_is_seeded():
    x, y = np.array([0.8, 0.7, 0.6, 0.9]), np.array([0.7, 0.7, 0.65, 0.8])
    assert sign_test(x, y, seed=5) == sign_test(x, y, seed=5)
    a, b = sign_test(x, y, seed=5), sign_test(x, y, seed=6)
    assert a != b and max(abs(u - v) for u, v in zip(a, b)) < 0.01


@pytest.mark.parametrize("n, sizes", [(60, (20, 20, 20)), (61, (21, 20, 20)),
                                      (62, (21, 21, 20)), (9, (3, 3, 3)), (10, (4, 3, 3))])
def test_group_sizes_put_the_remainder_on_the_more_imbalanced_side(n, sizes):
    assert group_sizes(n) == sizes and sum(sizes) == n


def test_ir_groups_sort_descending_and_break_ties_by_name():
    # 9 datasets; IR 5.0 is tied across the more/mid edge and 2.0 across mid/less.
    ir = pd.Series({"zeta": 9.0, "alpha": 8.0, "mu": 5.0, "beta": 5.0, "c": 5.0,
                    "d": 3.0, "y": 2.0, "x": 2.0, "e": 1.0})
    g = ir_groups(ir)
    assert list(g.index) == ["zeta", "alpha", "beta", "c", "mu", "d", "x", "y", "e"]
    assert g.to_dict() == {"zeta": "more", "alpha": "more", "beta": "more",
                           "c": "mid", "mu": "mid", "d": "mid",
                           "x": "less", "y": "less", "e": "less"}
    # the input order does not matter
    assert ir_groups(ir.iloc[::-1]).to_dict() == g.to_dict()


def test_ir_groups_need_three_datasets_each():
    with pytest.raises(AnalysisInputError, match=r"at least 3 datasets.*3/3/2"):
        ir_groups(pd.Series({f"d{i}": float(i) for i in range(8)}))


def test_correlation_equals_scipy():
    rng = np.random.default_rng(1)
    x = rng.uniform(1.5, 12, 25)
    y = 0.01 * x + rng.normal(0, 0.02, 25)
    c = correlation(x, y)
    assert c["n"] == 25
    assert c["pearson_r"] == pytest.approx(sps.pearsonr(x, y).statistic)
    assert c["pearson_p"] == pytest.approx(sps.pearsonr(x, y).pvalue)
    assert c["spearman_rho"] == pytest.approx(sps.spearmanr(x, y).statistic)
    assert c["spearman_p"] == pytest.approx(sps.spearmanr(x, y).pvalue)


def test_correlation_by_hand_and_degenerate_inputs():
    c = correlation(np.array([1.0, 2, 3, np.nan]), np.array([2.0, 4, 6, 1]))
    assert c["n"] == 3 and c["pearson_r"] == pytest.approx(1.0)
    assert c["spearman_rho"] == pytest.approx(1.0)
    assert math.isnan(correlation(np.array([1.0, 2]), np.array([1.0, 2]))["pearson_r"])
    assert math.isnan(correlation(np.array([1.0, 2, 3]), np.array([1.0, 1, 1]))["pearson_r"])


def test_achievement_rate_and_summary_by_hand():
    a = achievement_rate(pd.Series([0.8, 0.5, 0.0, np.nan]), pd.Series([0.6, 0.5, 0.3, 0.4]))
    assert a.iloc[:2].tolist() == pytest.approx([0.75, 1.0])
    assert a.iloc[2:].isna().all()
    s = achievement_summary(np.array([0.5, 1.0, np.nan]))
    assert s["n"] == 2 and s["mean"] == pytest.approx(0.75)
    assert s["std"] == pytest.approx(math.sqrt(0.125))  # ddof=1
    assert s["std_ddof0"] == pytest.approx(0.25)
