"""The protocol's pieces: ratio applicability, selection tie-break, splits, no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from imblearn.over_sampling import SMOTE

from lsh_bench.config import ClassifierSpec, MethodSpec, ProtocolSpec, ScenarioSpec, SeedsSpec
from lsh_bench.data.schema import FeatureSchema
from lsh_bench.data.splits import Part, ProtocolSplit, make_split, smote_rows_to_add
from lsh_bench.errors import DatasetInvalid
from lsh_bench.models.evaluate import FoldData, evaluate_shared, evaluate_straightforward
from lsh_bench.models.grid import expand_grid
from lsh_bench.models.preprocess import TableEncoder, post_transform
from lsh_bench.runner import plan_ratios, select
from tests.core.spy import SpyClassifier

SM = MethodSpec(name="sm", kind="smote", k_neighbors=5)


def test_smote_count_rule_matches_imblearn_on_ilpd_fold() -> None:
    # The ilpd fold of SPEC: 93 minority / 233 majority; r=0.4 > 0.399 but adds int(0.2) = 0.
    assert smote_rows_to_add(233, 93, 0.4) == 0
    X = np.random.default_rng(0).normal(size=(326, 2))
    y = np.r_[np.zeros(233, int), np.ones(93, int)]
    with pytest.raises(ValueError):
        SMOTE(sampling_strategy=0.4, random_state=0).fit_resample(X, y)
    assert smote_rows_to_add(233, 93, 0.6) == 46
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
    ls = MethodSpec(name="ls", kind="hybrid")
    assert plan_ratios(ls, [0.2, 1.0], split, y).applicable == [0.2, 1.0]
    org = MethodSpec(name="org", kind="none")
    assert plan_ratios(org, [0.2], split, y).applicable == [None]


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


def test_split_is_stratified_disjoint_and_seeded() -> None:
    y = np.r_[np.zeros(200, int), np.ones(50, int)]
    s = make_split(y, ProtocolSpec(), SeedsSpec(), ScenarioSpec(name="general"), "toy")
    train, test = s.refit.train, s.refit.score
    assert len(test) == 75 and not set(train) & set(test)
    for part in s.folds:
        assert not set(part.train) & set(part.score)
        assert set(part.train) | set(part.score) == set(train)
        assert y[part.score].sum() == 7            # 35 training minority rows / 5 folds
    again = make_split(y, ProtocolSpec(), SeedsSpec(), ScenarioSpec(name="general"), "toy")
    assert all((a.train == b.train).all() for a, b in zip(s.folds, again.folds))


@pytest.mark.parametrize("scenario,fraction", [("fewshot", 0.01), ("zeroshot", 0.0)])
def test_fewshot_zeroshot_move_minority_to_scored_parts(scenario: str, fraction: float) -> None:
    y = np.r_[np.zeros(400, int), np.ones(60, int)]
    general = make_split(y, ProtocolSpec(), SeedsSpec(), ScenarioSpec(name="general"), "toy")
    s = make_split(y, ProtocolSpec(), SeedsSpec(), ScenarioSpec(name=scenario, minority_fraction=fraction), "toy")
    for g, p in zip([*general.folds, general.refit], [*s.folds, s.refit]):
        n_maj = int((y[p.train] == 0).sum())
        expected = max(int(np.floor(fraction * n_maj)), 1) if fraction > 0 else 0
        assert y[p.train].sum() == expected
        assert n_maj == int((y[g.train] == 0).sum())          # majority untouched
        assert sorted(np.r_[p.train, p.score]) == sorted(np.r_[g.train, g.score])  # nothing lost
        assert y[p.score].sum() > y[g.score].sum()             # removed minority moved here


def test_dataset_with_too_few_minority_rows_is_a_clear_error() -> None:
    y = np.r_[np.zeros(100, int), np.ones(4, int)]
    with pytest.raises(DatasetInvalid, match="'tiny': 4 minority rows"):
        make_split(y, ProtocolSpec(), SeedsSpec(), ScenarioSpec(name="general"), "tiny")


# ------------------------------------------------------------ leakage ---
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
@pytest.mark.parametrize("evaluator", ["straightforward", "shared"])
def test_no_leakage_synthetic_rows_and_statistics_stay_in_training(mode: str, evaluator: str) -> None:
    fold, schema = _toy_fold(np.random.default_rng(1))
    spec = ClassifierSpec(name="SPY", order=1, estimator="tests.core.spy.SpyClassifier", scale=True, grid={"k": [0]})
    cells = expand_grid([spec])
    sampler = SMOTE(sampling_strategy=1.0, random_state=0)
    SpyClassifier.seen.clear()
    if evaluator == "straightforward":
        evaluate_straightforward(fold, cells, schema, mode, sampler)
    else:
        evaluate_shared(fold, cells, schema, mode, sampler, fast=False)
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
