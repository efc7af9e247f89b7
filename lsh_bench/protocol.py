"""The protocol's arithmetic (docs/protocol.md), as pure functions.

Everything a unit decides that is not fitting a model lives here:

* :func:`rows_to_add` — the one row count: SMOTE's ``int(n_majority * r -
  n_minority)``; every sampler adds exactly that many rows;
* :func:`plan_ratios` — which ratios a unit evaluates (applicable in every
  fold's training part *and* at the refit) and why the others are not; when
  the whole method is not applicable (the paper's N/A);
* :func:`select` — the choice: highest mean of the rounded fold F1s, ties to
  the first cell in the order ratio ascending, classifier LR, DT, SVM, kNN,
  LGBM, grid order (the cell index of :mod:`lsh_bench.models.grid`);
* :func:`round_f1`, :func:`mean_rounded_f1` — the paper's 4-decimal F1;
* :func:`all_minority_scores` — the ALL1 baseline (predict every row minority).

No I/O and no randomness: :mod:`lsh_bench.unit` calls these with the
split and the scores, ``tests/protocol/`` checks them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lsh_bench.config import K_PLUS_ONE, MethodSpec
from lsh_bench.data.splits import Part, ProtocolSplit
from lsh_bench.errors import RatioNotApplicable
from lsh_bench.models.metrics import minority_f1
from lsh_bench.samplers.ls_ratios import LSRatios, ls_ratios


# ------------------------------------------------------------ row counts ---
def rows_to_add(ratio: float, *, n_minority: int, n_majority: int) -> int:
    """Rows an oversampler adds to reach ``ratio`` = minority/majority: ``int(n_majority * ratio - n_minority)``.

    imbalanced-learn's SMOTE adds this many and raises when it is below 1, so a
    ratio is applicable iff it is >= 1 (ilpd: 93 minority / 233 majority,
    r = 0.4 adds int(0.2) = 0). LM and LS add exactly as many as SMOTE would.
    """
    return int(n_majority * ratio - n_minority)


def require_rows_to_add(ratio: float, *, n_minority: int, n_majority: int) -> int:
    """:func:`rows_to_add`, or :class:`RatioNotApplicable` when it is below one row."""
    n = rows_to_add(ratio, n_minority=n_minority, n_majority=n_majority)
    if n < 1:
        raise RatioNotApplicable(
            f"ratio {ratio} adds int({n_majority} * {ratio} - {n_minority}) = {n} rows (< 1): "
            f"the minority/majority is already {n_minority / max(n_majority, 1):.4f}"
        )
    return n


def training_counts(y: np.ndarray, part: Part) -> tuple[int, int]:
    """(n_minority, n_majority) of a part's training rows (target 1 = minority)."""
    yt = y[part.train]
    return int((yt == 1).sum()), int((yt == 0).sum())


# --------------------------------------------------------------- ratios ---
@dataclass
class RatioPlan:
    """Which ratios a unit evaluates, and why the others are not."""

    applicable: list[float | None]
    skipped: dict[str, str] = field(default_factory=dict)
    not_applicable: str | None = None      # the whole method cannot run (the paper's N/A)
    seed_ratio: float | None = None        # seeds_at_r0 methods (LS): the ratio the LLM seeds reach


def plan_ratios(method: MethodSpec, ratios: list[float], split: ProtocolSplit, y: np.ndarray,
                seed_step: int = 0) -> RatioPlan:
    """The ratios of ``ratios`` that enter selection: applicable in every fold *and* at the refit.

    First the method's ``min_minority`` trait: a training part with fewer real
    minority rows makes the method not applicable. A method without a sampler
    (ORG) then runs once, at no ratio (``[None]``). A method with seeds at r0
    (LS) is scored only above its seed ratio unless ``method.score_r0``
    (:func:`lsh_bench.samplers.ls_ratios.ls_ratios`; ``seed_step`` = the
    paper's S1..S4).
    """
    parts = [*split.folds, split.refit]
    counts = [training_counts(y, p) for p in parts]
    labels = [f"fold {i}" for i in range(len(split.folds))] + ["refit (whole 70%)"]
    need = method.min_minority()
    short = [(lab, n_min) for lab, (n_min, _) in zip(labels, counts) if n_min < need]
    if short:
        return RatioPlan([], not_applicable=_too_few_minority(method, need, short))
    if not method.resamples:
        return RatioPlan([None])
    plan = RatioPlan([])
    for r in ratios:
        adds = [rows_to_add(r, n_minority=n_min, n_majority=n_maj) for n_min, n_maj in counts]
        if min(adds) >= 1:
            plan.applicable.append(r)
        else:
            where = [f"{lab} adds {a}" for lab, a in zip(labels, adds) if a < 1]
            plan.skipped[f"{r:g}"] = "not above the current minority/majority: " + "; ".join(where)
    if not plan.applicable:
        plan.not_applicable = "no ratio is applicable (the data are already at or above every ratio)"
    elif method.traits.seeds_at_r0:
        apply_seed_ratios(plan, ls_ratios(plan.applicable, score_r0=method.score_r0, seed_step=seed_step))
    return plan


def apply_seed_ratios(plan: RatioPlan, ls: LSRatios) -> None:
    """Restrict ``plan`` to the ratios a seeded method is scored at (``ls``, from
    :func:`~lsh_bench.samplers.ls_ratios.ls_ratios`); the others are skipped with the reason."""
    plan.seed_ratio = ls.seed_ratio
    plan.applicable = list(ls.scored)
    plan.skipped.update({f"{r:g}": why for r, why in ls.skipped.items()})
    if not plan.applicable:
        plan.not_applicable = ("no ratio above the seed ratio to score LS at: " +
                               "; ".join(f"{r:g}: {why}" for r, why in ls.skipped.items()))


def _too_few_minority(method: MethodSpec, need: int, short: list[tuple[str, int]]) -> str:
    if need == 1:
        return f"no minority row in the training part of {', '.join(lab for lab, _ in short)}"
    why = " (k_neighbors + 1)" if method.traits.min_minority == K_PLUS_ONE else ""
    found = "; ".join(f"{lab}: {n}" for lab, n in short)
    return f"{method.name} needs at least {need} real minority rows{why} in every training part; found {found}"


# ------------------------------------------------------------ selection ---
def select(fold_f1: dict[tuple[int, int], list[float]], decimals: int | None) -> tuple[tuple[int, int], float, int]:
    """Best (ratio position, cell index) by mean fold F1, first in tie-break order.

    Returns the key, its validation score (mean of the rounded fold F1s) and
    how many cells tie with it. Means are compared as integer sums of
    ``10**-decimals`` units, so a tie is an exact tie, independent of
    summation order.
    """
    keys = sorted(fold_f1)  # ratio ascending, then cell index = tie-break order
    totals = {k: _rounded_total(fold_f1[k], decimals) for k in keys}
    best_total = max(totals.values())
    best = next(k for k in keys if totals[k] == best_total)
    return best, _mean_from_total(best_total, len(fold_f1[best]), decimals), sum(
        1 for k in keys if totals[k] == best_total)


# ------------------------------------------------------------- rounding ---
def _rounded_total(scores: list[float], decimals: int | None) -> float | int:
    """Sum of the fold F1s in integer units of ``10**-decimals`` (exact, order-free); the mean if unrounded."""
    if decimals is None:
        return float(np.mean(scores))
    return sum(round(round(s, decimals) * 10**decimals) for s in scores)


def _mean_from_total(total: float | int, n: int, decimals: int | None) -> float:
    return float(total / n / 10**decimals) if decimals is not None else float(total)


def mean_rounded_f1(scores: list[float], decimals: int | None) -> float:
    """Mean of the rounded fold F1s, computed exactly as selection computes a unit's ``val_f1``."""
    return _mean_from_total(_rounded_total(scores, decimals), len(scores), decimals)


def round_f1(x: float, decimals: int | None) -> float:
    """An F1 as the paper reports it (``protocol.f1_decimals``; ``None`` = unrounded)."""
    return round(x, decimals) if decimals is not None else x


# ------------------------------------------------------------- baseline ---
def all_minority_scores(y: np.ndarray, split: ProtocolSplit, decimals: int | None) -> dict[str, float]:
    """F1 of predicting *every* row minority, on the unit's validation folds and its test part.

    No model reaches below this on a validation set that is mostly minority,
    which is what few-/zero-shot produce (the removed minority rows move to
    validation and test, docs/protocol.md "Scenarios"): there it is the bar a
    selected model has to clear, so it is recorded with every unit (``ALL1``
    in Table 3). ``val_f1`` is the mean of the rounded fold F1s computed as
    selection computes it, so a selected cell that predicts all minority has
    *equal* ``val_f1`` (not just close).
    """
    def f1_all(part_rows: np.ndarray) -> float:
        yy = y[part_rows]
        return minority_f1(yy, np.ones_like(yy))

    folds = [f1_all(part.score) for part in split.folds]
    return {"val_f1": mean_rounded_f1(folds, decimals), "test_f1": round_f1(f1_all(split.refit.score), decimals)}
