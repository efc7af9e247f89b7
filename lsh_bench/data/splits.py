"""The protocol's splits (docs/protocol.md, "Protocol") and the few-/zero-shot scenarios.

* stratified 70/30 train/test split (``random_state=seeds.split``, paper: 100);
* stratified, shuffled 5-fold CV on the 70% (``random_state=seeds.cv``, paper: 2);
* scenarios ``fewshot`` / ``zeroshot``: each training part (every fold's and
  the whole 70% used for the refit) keeps only ⌊fraction × n_majority⌋ of its
  minority rows (few-shot: at least 1; zero-shot: 0). The removed minority
  rows move to the part it is scored on — the fold's validation part, or the
  test part for the refit — so both still hold real minority rows. Which
  minority rows stay is a seeded draw (``seeds.split``).

Indices always refer to rows of the full dataset, in the order scikit-learn's
splitters return them (the order matters: SMOTE's neighbours and the folds
depend on it, and the paper's known answers are reproduced with it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from lsh_bench.config import ProtocolSpec, ScenarioSpec, SeedsSpec
from lsh_bench.errors import DatasetInvalid


@dataclass(frozen=True)
class Part:
    """A training part and the part it is scored on (row indices of the full data)."""

    train: np.ndarray
    score: np.ndarray


@dataclass(frozen=True)
class ProtocolSplit:
    folds: tuple[Part, ...]      # CV: training part -> validation part
    refit: Part                  # the whole 70% -> the 30% test part


def keep_minority(part: Part, y: np.ndarray, fraction: float | None, rng: np.random.Generator) -> Part:
    """Few/zero-shot: thin the training minority, move the removed rows to the scored part."""
    if fraction is None:
        return part
    tr_min = part.train[y[part.train] == 1]
    n_maj = int((y[part.train] == 0).sum())
    keep = int(np.floor(fraction * n_maj))
    if fraction > 0:
        keep = max(keep, 1)
    keep = min(keep, len(tr_min))
    kept = set(rng.choice(tr_min, size=keep, replace=False).tolist()) if keep else set()
    moved = np.array([i for i in tr_min if i not in kept], dtype=int)
    train = np.array([i for i in part.train if y[i] == 0 or i in kept], dtype=int)
    return Part(train, np.concatenate([part.score, moved]))


def make_split(y: np.ndarray, protocol: ProtocolSpec, seeds: SeedsSpec, scenario: ScenarioSpec, name: str) -> ProtocolSplit:
    """Split, folds and scenario for one dataset."""
    n_min = int(y.sum())
    # Stratification needs at least two rows of each class in each of the 70% and
    # n_folds folds; say so instead of letting scikit-learn raise a generic error.
    need = protocol.n_folds + 2
    if n_min < need:
        raise DatasetInvalid(
            f"dataset {name!r}: {n_min} minority rows, need at least {need} for a stratified "
            f"{1 - protocol.test_size:.0%}/{protocol.test_size:.0%} split and {protocol.n_folds}-fold CV"
        )
    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=protocol.test_size, random_state=seeds.split, stratify=y)
    skf = StratifiedKFold(protocol.n_folds, shuffle=True, random_state=seeds.cv)
    folds = [Part(train[tr], train[va]) for tr, va in skf.split(train, y[train])]
    refit = Part(train, test)
    if scenario.minority_fraction is not None:
        rng = np.random.default_rng(seeds.split)
        folds = [keep_minority(p, y, scenario.minority_fraction, rng) for p in folds]
        refit = keep_minority(refit, y, scenario.minority_fraction, rng)
    return ProtocolSplit(tuple(folds), refit)

