"""The protocol's arithmetic (lsh_bench.protocol): row counts, ratio applicability, selection, rounding."""

from __future__ import annotations

import numpy as np
import pytest
from imblearn.over_sampling import SMOTE

from lsh_bench.data.splits import Part, ProtocolSplit
from lsh_bench.errors import RatioNotApplicable
from lsh_bench.protocol import (
    mean_rounded_f1, plan_ratios, require_rows_to_add, round_f1, rows_to_add, select, training_counts,
)
from lsh_bench.samplers.registry import registered_methods

METHODS = registered_methods()
SM = METHODS["sm"]


def test_smote_count_rule_matches_imblearn_on_ilpd_fold() -> None:
    # The ilpd fold of docs/protocol.md: 93 minority / 233 majority; r=0.4 > 0.399 but adds int(0.2) = 0.
    assert rows_to_add(0.4, n_minority=93, n_majority=233) == 0
    X = np.random.default_rng(0).normal(size=(326, 2))
    y = np.r_[np.zeros(233, int), np.ones(93, int)]
    with pytest.raises(ValueError):
        SMOTE(sampling_strategy=0.4, random_state=0).fit_resample(X, y)
    assert rows_to_add(0.6, n_minority=93, n_majority=233) == 46
    _, y_res = SMOTE(sampling_strategy=0.6, random_state=0).fit_resample(X, y)
    assert int(y_res.sum()) - 93 == 46


def _split_with_counts(counts: list[tuple[int, int]]) -> tuple[ProtocolSplit, np.ndarray]:
    """A fake split whose training parts have the given (n_min, n_maj)."""
    y_parts, parts, start = [], [], 0
    for n_min, n_maj in counts:
        idx = np.arange(start, start + n_min + n_maj)
        y_parts.append(np.r_[np.ones(n_min, int), np.zeros(n_maj, int)])
        parts.append(Part(idx, np.array([], int)))
        start += n_min + n_maj
    y = np.concatenate(y_parts)
    return ProtocolSplit(tuple(parts[:-1]), parts[-1]), y


def test_ratio_must_be_applicable_in_every_fold_and_refit() -> None:
    # ilpd-like: folds at 0.399-0.403, the 70% at 0.402 -> 0.4 is skipped.
    split, y = _split_with_counts([(93, 233), (94, 233), (94, 233), (94, 233), (94, 233), (117, 291)])
    plan = plan_ratios(SM, [0.2, 0.4, 0.6, 0.8, 1.0], split, y)
    assert plan.applicable == [0.6, 0.8, 1.0]
    assert set(plan.skipped) == {"0.2", "0.4"}
    assert "fold 0 adds 0" in plan.skipped["0.4"]
    assert plan.not_applicable is None


def test_too_few_minority_rows_is_not_applicable_not_a_crash() -> None:
    split, y = _split_with_counts([(5, 100)] * 5 + [(7, 125)])
    plan = plan_ratios(SM, [0.2, 1.0], split, y)
    assert plan.applicable == [] and "at least 6" in plan.not_applicable
    assert plan_ratios(METHODS["ls"], [0.2, 1.0], split, y).applicable == [1.0]   # above r0 = 0.2 (score_r0)
    assert plan_ratios(METHODS["org"], [0.2], split, y).applicable == [None]


def test_select_first_best_in_tie_break_order_with_exact_ties() -> None:
    scores = {
        (0, 3): [0.5, 0.5, 0.5],
        (1, 0): [0.70004, 0.6, 0.8],       # rounds to 0.7000 + 0.6 + 0.8 = 2.1
        (0, 7): [0.8, 0.6, 0.7],           # same rounded sum, earlier ratio -> wins
        (0, 9): [0.6, 0.8, 0.70001],       # same sum, later cell
        (2, 1): [0.69996, 0.6, 0.8],       # rounds to 0.7 as well
    }
    best, val, n_tied = select(scores, 4)
    assert best == (0, 7)
    assert val == pytest.approx(0.7)
    assert n_tied == 4
    # Without rounding the tiny differences decide.
    best_raw, _, n_raw = select(scores, None)
    assert best_raw == (1, 0) and n_raw == 1


def test_select_is_independent_of_summation_order() -> None:
    # 0.1+0.2+0.3 != 0.3+0.2+0.1 in floating point; rounded-unit sums tie exactly.
    best, _, n = select({(0, 0): [0.1, 0.2, 0.3, 0.4, 0.5], (0, 1): [0.5, 0.4, 0.3, 0.2, 0.1]}, 4)
    assert (best, n) == ((0, 0), 2)




def test_one_row_count_with_keywords_and_its_strict_form() -> None:
    assert rows_to_add(1.0, n_minority=10, n_majority=50) == 40
    with pytest.raises(TypeError):
        rows_to_add(1.0, 10, 50)  # type: ignore[misc]  # the counts are keyword-only: no order to get wrong
    assert require_rows_to_add(1.0, n_minority=10, n_majority=50) == 40
    with pytest.raises(RatioNotApplicable, match=r"int\(233 \* 0.4 - 93\) = 0 rows"):
        require_rows_to_add(0.4, n_minority=93, n_majority=233)


def test_org_needs_a_minority_row_in_every_training_part() -> None:
    split, y = _split_with_counts([(3, 100), (0, 100), (3, 100), (3, 100), (3, 100), (4, 125)])
    assert training_counts(y, split.folds[1]) == (0, 100)
    plan = plan_ratios(METHODS["org"], [0.2], split, y)
    assert plan.applicable == [] and plan.not_applicable == "no minority row in the training part of fold 1"
    assert plan_ratios(METHODS["lm"], [0.2], split, y).applicable == [0.2]   # the LLM writes from the columns alone


def test_rounding_is_the_papers_four_decimals() -> None:
    assert round_f1(0.123456, 4) == 0.1235 and round_f1(0.123456, None) == 0.123456
    assert mean_rounded_f1([0.12344, 0.12346], 4) == pytest.approx(0.12345, abs=1e-15)
    assert mean_rounded_f1([0.1, 0.2], None) == pytest.approx(0.15)
