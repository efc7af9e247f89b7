"""The paper's few-/zero-shot construction on the mirrored data: the paper's counts and all-minority F1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from lsh_bench.data.scenarios import paper_scenario_split
from lsh_bench.errors import DatasetInvalid


def labels(mirror: Path, file: str) -> np.ndarray:
    """The target of a mirror file; the file has no missing cell, so the cleaning drops no row
    (it only drops near-zero-variance columns, which do not change these counts)."""
    df = pd.read_csv(mirror / file, keep_default_na=False, na_values=[""])
    assert not df.isna().any().any(), f"{file} has missing values: the cleaning would drop rows"
    return df["target"].to_numpy()


def counts(y: np.ndarray, idx: np.ndarray) -> tuple[int, int]:
    return int((y[idx] == 1).sum()), int((y[idx] == 0).sum())


def all_minority_f1(y: np.ndarray, idx: np.ndarray) -> float:
    return round(f1_score(y[idx], np.ones(len(idx), dtype=int)), 4)


FLARE = "40702_flare.csv.gz"
BLOOD = "1464_blood-transfusion-service-center.csv.gz"


def test_flare_fewshot_001(mirror):
    y = labels(mirror, FLARE)
    sc = paper_scenario_split(y, 0.01)
    folds = [counts(y, p.score) for p in sc.split.folds]
    assert sorted(folds) == [(56, 124)] * 4 + [(57, 123)]
    assert counts(y, sc.split.refit.score) == (121, 265)
    assert all_minority_f1(y, sc.split.refit.score) == 0.4773
    d = sc.describe()
    assert (d["n_kept"], d["n_removed"], d["n_extra_validation"], d["n_extra_test"]) == (9, 173, 55, 118)
    assert d["overlap"] == 55                                        # every validation extra row is a test row
    np.testing.assert_array_equal(sc.extra_validation, sc.extra_test[:55])
    # training parts: the reduced data's minority only (9 rows in all), no extra row
    assert sorted(counts(y, p.train)[0] for p in sc.split.folds) == [4, 5, 5, 5, 5]
    assert counts(y, sc.split.refit.train) == (6, 619)
    for p in sc.split.folds:
        assert not set(p.train) & set(sc.extra_validation) and not set(p.train) & set(sc.extra_test)


# 6 minority rows kept, 4 of them in the 70%: fewer than 5 folds (the paper's run warned alike)
@pytest.mark.filterwarnings("ignore:The least populated class:UserWarning")
def test_blood_fewshot_001(mirror):
    y = labels(mirror, BLOOD)
    sc = paper_scenario_split(y, 0.01)
    assert counts(y, sc.split.refit.score) == (119, 171)
    assert all_minority_f1(y, sc.split.refit.score) == 0.5819


def test_flare_zeroshot(mirror):
    y = labels(mirror, FLARE)
    sc = paper_scenario_split(y, 0.0)
    assert counts(y, sc.split.refit.score) == (124, 266)
    assert all_minority_f1(y, sc.split.refit.score) == 0.4825
    assert counts(y, sc.split.refit.train) == (0, 618)
    assert all(counts(y, p.train)[0] == 0 for p in sc.split.folds)
    assert all(counts(y, p.score)[0] == 58 for p in sc.split.folds)


def test_flare_fewshot_005_keeps_enough_for_smote(mirror):
    y = labels(mirror, FLARE)
    sc = paper_scenario_split(y, 0.05)
    assert sc.n_kept == round(884 * 0.05) == 44
    assert min(counts(y, p.train)[0] for p in sc.split.folds) >= 6    # SMOTE's k=5 needs 6


def test_disjoint_extra(mirror):
    y = labels(mirror, FLARE)
    paper = paper_scenario_split(y, 0.01)
    fixed = paper_scenario_split(y, 0.01, disjoint_extra=True)
    assert fixed.overlap == 0 and fixed.describe()["disjoint_extra"] is True
    np.testing.assert_array_equal(fixed.extra_validation, paper.extra_validation)
    assert len(fixed.extra_test) == len(paper.extra_test) == 118
    removed = set(np.flatnonzero(y == 1)) - set(fixed.kept_minority)
    assert set(fixed.extra_validation) | set(fixed.extra_test) == removed
    assert counts(y, fixed.split.refit.score) == (121, 265)            # same counts, other rows


def test_pandas_semantics():
    """N = round(len(df_0) f); df_1.sample(n, random_state=100) = RandomState(100).permutation[:n];
    reduced = all majority rows (file order), then the kept minority rows (sampled order);
    the extra rows come first in every scored part."""
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.25).astype(int)
    sc = paper_scenario_split(y, 0.05)
    maj, mino = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    n = round(len(maj) * 0.05)
    np.testing.assert_array_equal(sc.kept_minority, mino[np.random.RandomState(100).permutation(len(mino))[:n]])
    np.testing.assert_array_equal(sc.reduced, np.concatenate([maj, sc.kept_minority]))
    removed = np.array([i for i in mino if i not in set(sc.kept_minority)])
    n_va = round(len(removed) * 14 / 44)
    np.testing.assert_array_equal(sc.extra_validation, removed[np.random.RandomState(100).permutation(len(removed))[:n_va]])
    for p in sc.split.folds:
        np.testing.assert_array_equal(p.score[:n_va], sc.extra_validation)
    np.testing.assert_array_equal(sc.split.refit.score[: len(sc.extra_test)], sc.extra_test)
    # every row of the reduced data is in exactly one validation fold, and in the 70% or the 30%
    val = np.concatenate([p.score[n_va:] for p in sc.split.folds])
    assert sorted(val) == sorted(sc.split.refit.train)
    assert sorted(np.concatenate([sc.split.refit.train, sc.split.refit.score[len(sc.extra_test):]])) == sorted(sc.reduced)


@pytest.mark.parametrize("y,fraction,match", [
    (np.array([0] * 100 + [1] * 10), 0.01, "single minority row"),
    (np.array([0] * 100 + [1] * 3), 0.05, "keeps 5 minority rows, it has 3"),
    (np.array([0] * 10 + [2] * 10), 0.0, "labels must be 0"),
])
def test_bad_input(y, fraction, match):
    with pytest.raises(DatasetInvalid, match=match):
        paper_scenario_split(y, fraction)
    with pytest.raises(ValueError, match="fraction"):
        paper_scenario_split(np.array([0, 1]), 1.0)
