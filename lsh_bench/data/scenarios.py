"""The paper's few-/zero-shot construction (Table 3): reduce the whole dataset, then split as usual.

What the paper's notebook ``2. Data Generation`` ("Very Imbalanced Data
Generation") and ``3. Training and Testing`` ("Very Imbalanced") did, with
``df_0`` = the majority rows and ``df_1`` = the minority rows of the whole
(cleaned) dataset, in file order, and f = 0.05, 0.01 or 0.00:

1. ``N = round(len(df_0) * f)``; ``df_1_samp = df_1.sample(n=N, random_state=100)``;
   the reduced dataset is ``concat([df_0, df_1_samp])`` — all majority rows
   in file order, then the kept minority rows in sampled order. This row
   order is what the 70/30 split and the folds see.
2. The removed minority rows ``R = df_1.drop(df_1_samp.index)`` (file order):
   ``N_va = round(len(R) * 14/44)``; ``R.sample(n=N_va, random_state=100)``
   is appended to **every** validation fold, ``R.sample(n=len(R) - N_va,
   random_state=100)`` to the test part. Both samples draw the same
   permutation, so the validation rows are the first ``N_va`` of the test
   rows (``N_va <= len(R) - N_va``): the paper's overlap, reproduced by
   default; ``disjoint_extra=True`` gives the test part the rows of R not
   used for validation instead (same count).
3. The reduced dataset is split exactly like a general one: stratified
   70/30 (``random_state=100``), ``StratifiedKFold(5, shuffle=True,
   random_state=2)`` on the 70%. In zero-shot the reduced data hold one
   class; both splitters accept that.
4. The paper put the extra rows first: validation = extra rows + the fold's
   rows, test = extra test rows + the 30%. Kept here (F1 does not depend on
   order, but it is what the paper scored).

The samples use pandas' own ``sample`` (numpy ``RandomState(100)``), so they
pick the paper's rows whenever the file order is the paper's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from lsh_bench.config import ProtocolSpec, ScenarioSpec, SeedsSpec
from lsh_bench.data.splits import Part, ProtocolSplit, make_split
from lsh_bench.errors import ConfigError, DatasetInvalid

EXTRA_VALIDATION_SHARE = 14 / (14 + 30)   # the paper: validation 14% and test 30% of the data
PAPER_SAMPLE_SEED = 100                    # random_state of both pandas samples in the paper's notebook


@dataclass(frozen=True)
class PaperScenario:
    """One dataset under the paper's few-/zero-shot construction; all indices are rows of the full data."""

    fraction: float
    disjoint_extra: bool
    sample_seed: int
    n_majority: int
    n_minority: int
    kept_minority: np.ndarray      # df_1_samp, in sampled order (N rows)
    reduced: np.ndarray            # the reduced dataset in the paper's row order
    extra_validation: np.ndarray   # appended to every validation fold (sampled order)
    extra_test: np.ndarray         # appended to the test part
    split: ProtocolSplit = field(repr=False)

    @property
    def n_kept(self) -> int:
        return len(self.kept_minority)

    @property
    def overlap(self) -> int:
        """Rows that are in every validation fold *and* in the test part (the paper's bug)."""
        return len(np.intersect1d(self.extra_validation, self.extra_test))

    def describe(self) -> dict[str, Any]:
        """What a result's provenance records about the construction."""
        return {
            "construction": "paper",
            "minority_fraction": self.fraction,
            "disjoint_extra": self.disjoint_extra,
            "sample_seed": self.sample_seed,
            "n_majority": self.n_majority,
            "n_minority": self.n_minority,
            "n_kept": self.n_kept,
            "n_removed": self.n_minority - self.n_kept,
            "n_extra_validation": len(self.extra_validation),
            "n_extra_test": len(self.extra_test),
            "overlap": self.overlap,
        }


def paper_scenario_split(
    y: np.ndarray,
    fraction: float,
    *,
    test_size: float = 0.3,
    n_folds: int = 5,
    split_seed: int = 100,
    cv_seed: int = 2,
    sample_seed: int = PAPER_SAMPLE_SEED,
    disjoint_extra: bool = False,
    name: str = "dataset",
) -> PaperScenario:
    """The paper's few-/zero-shot data for labels ``y`` (1 = minority) of the whole cleaned dataset.

    ``fraction``: the paper's f (0.05, 0.01, 0.00). The seeds default to the
    paper's (split 100, CV 2, both samples 100).
    """
    y = np.asarray(y)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must lie in [0, 1), got {fraction}")
    if not np.isin(y, (0, 1)).all():
        raise DatasetInvalid(f"dataset {name!r}: labels must be 0 (majority) and 1 (minority), got {np.unique(y)}")
    majority = np.flatnonzero(y == 0)
    minority = pd.Series(np.flatnonzero(y == 1))
    n_kept = round(len(majority) * fraction)
    if n_kept > len(minority):
        raise DatasetInvalid(f"dataset {name!r}: f = {fraction} keeps {n_kept} minority rows, it has {len(minority)}")
    if n_kept == 1:
        raise DatasetInvalid(f"dataset {name!r}: f = {fraction} keeps a single minority row; the stratified "
                             "70/30 split needs at least 2 (or 0: zero-shot)")
    kept = minority.sample(n=n_kept, random_state=sample_seed)
    removed = minority.drop(kept.index)
    if len(removed) == 0:
        raise DatasetInvalid(f"dataset {name!r}: f = {fraction} removes no minority row; nothing to score on")
    n_val = round(len(removed) * EXTRA_VALIDATION_SHARE)
    extra_val = removed.sample(n=n_val, random_state=sample_seed)
    if disjoint_extra:
        extra_test = removed.drop(extra_val.index)
    else:
        extra_test = removed.sample(n=len(removed) - n_val, random_state=sample_seed)

    reduced = np.concatenate([majority, kept.to_numpy()])
    positions = np.arange(len(reduced))
    y_reduced = y[reduced]
    train, test = train_test_split(positions, test_size=test_size, random_state=split_seed, stratify=y_reduced)
    skf = StratifiedKFold(n_folds, shuffle=True, random_state=cv_seed)
    ev, et = extra_val.to_numpy(), extra_test.to_numpy()
    folds = tuple(
        Part(reduced[train[tr]], np.concatenate([ev, reduced[train[va]]]))
        for tr, va in skf.split(train, y_reduced[train])
    )
    refit = Part(reduced[train], np.concatenate([et, reduced[test]]))
    return PaperScenario(
        fraction=fraction, disjoint_extra=disjoint_extra, sample_seed=sample_seed,
        n_majority=len(majority), n_minority=len(minority), kept_minority=kept.to_numpy(),
        reduced=reduced, extra_validation=ev, extra_test=et, split=ProtocolSplit(folds, refit),
    )


def scenario_split(y: np.ndarray, protocol: ProtocolSpec, seeds: SeedsSpec, scenario: ScenarioSpec,
                   name: str) -> tuple[ProtocolSplit, dict[str, Any]]:
    """A unit's split under ``scenario.construction``, and what its record says about the construction.

    ``paper``: :func:`paper_scenario_split` with the unit's split and CV seeds;
    both pandas samples use ``seeds.split`` (the paper's 100 for both).
    ``per_fold`` (and the general scenario): :func:`lsh_bench.data.splits.make_split`.
    """
    if scenario.construction == "per_fold" or scenario.minority_fraction is None:
        if scenario.construction == "paper":
            raise ConfigError(f"scenario {scenario.name!r}: construction=paper needs a minority_fraction "
                              "(the paper's f: 0.05, 0.01, 0.00); the general scenario has none")
        split = make_split(y, protocol, seeds, scenario, name)
        return split, {"construction": "per_fold" if scenario.minority_fraction is not None else "none",
                       "minority_fraction": scenario.minority_fraction}
    paper = paper_scenario_split(y, scenario.minority_fraction, test_size=protocol.test_size,
                                 n_folds=protocol.n_folds, split_seed=seeds.split, cv_seed=seeds.cv,
                                 sample_seed=seeds.split, disjoint_extra=scenario.disjoint_extra, name=name)
    return paper.split, paper.describe()
