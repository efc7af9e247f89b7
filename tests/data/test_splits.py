"""The protocol's splits (lsh_bench.data.splits): stratified, seeded, and the few-/zero-shot scenarios."""

from __future__ import annotations

import numpy as np
import pytest

from lsh_bench.config import ProtocolSpec, ScenarioSpec, SeedsSpec
from lsh_bench.data.splits import make_split
from lsh_bench.errors import DatasetInvalid


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
