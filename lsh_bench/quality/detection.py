"""Real-vs-synthetic detection: can a classifier tell the synthetic minority rows from the real ones?

SDMetrics' detection metrics (sdmetrics.single_table.detection: a classifier,
stratified K-fold, ROC AUC per fold, averaged) with these fixed choices:

* **logistic regression** (``LogisticRegression(C=1)``, SDMetrics'
  ``LogisticDetection`` classifier; solver ``newton-cholesky``, which
  converges in a few steps here where lbfgs took hundreds), on the distance
  space of :mod:`lsh_bench.quality.privacy` (numeric columns standardised on
  the real minority, categoricals one-hot) **plus the squares of the
  standardised numeric columns**. Plain linear terms only see shifted means;
  SMOTE rows have the real means but a narrower spread (they lie on
  segments between real rows), which the squared terms let the model see.
  Standardised values are clipped to ±5 first, so one outlier (spambase
  has a value 1000 sd out) cannot dominate its squared column. LightGBM
  was measured as the alternative: 5-25x the cost per call for a metric
  that runs once per (fold, ratio) of every sweep;
* **fixed, grouped folds** (3, as SDMetrics): identical rows (equal at 6
  significant digits, real or synthetic) form a group and a group sits in
  one fold. Without this a synthetic copy of a real row lands in another
  fold than its original, the model learns "this point is real" and
  predicts the copy wrong, and copies score an AUC far *below* 0.5 instead
  of 0.5. Groups are dealt to folds round-robin in a seeded order,
  separately for groups of real rows only, of synthetic rows only and of
  both, which keeps the class shares of the folds close to the whole's
  (stratified). A fold is scored only if its training and test rows hold
  both classes; ``detection_folds`` is the number scored, and fewer than 2
  leave the AUC undefined (e.g. every synthetic row the same row).

We record the mean fold AUC itself (0.5 = indistinguishable, 1 = perfectly
separable; below 0.5 is chance), not SDMetrics' transformed score
``1 - (2·max(AUC, 0.5) - 1)``, which can be derived from it.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression


CLIP_SD = 5.0


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of ``score`` for ``y == 1`` (Mann-Whitney U / (n1 n0), ties at half).

    Equal to ``sklearn.metrics.roc_auc_score`` (tested), without its input
    checks, which cost more than the rest of a fold on small data.
    """
    ranks = rankdata(score)
    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def grouped_folds(real_keys: list[bytes], synthetic_keys: list[bytes], folds: int, seed: int) -> np.ndarray:
    """Fold number of every row (real rows first), identical rows in the same fold.

    ``k = min(folds, groups holding a real row, groups holding a synthetic
    row)``; groups are dealt round-robin within their kind (real only,
    synthetic only, both) in a seeded random order.
    """
    keys = real_keys + synthetic_keys
    kinds: dict[bytes, int] = {}
    for key in real_keys:
        kinds[key] = kinds.get(key, 0) | 1
    for key in synthetic_keys:
        kinds[key] = kinds.get(key, 0) | 2
    k = min(folds, sum(1 for v in kinds.values() if v & 1), sum(1 for v in kinds.values() if v & 2))
    if k < 2:
        return np.zeros(len(keys), dtype=int)
    rng = np.random.default_rng([seed, 3])
    fold_of: dict[bytes, int] = {}
    for kind in (1, 2, 3):
        group = sorted(key for key, v in kinds.items() if v == kind)     # sorted: independent of row order
        for pos, i in enumerate(rng.permutation(len(group))):
            fold_of[group[i]] = pos % k
    return np.array([fold_of[key] for key in keys], dtype=int)


def with_squares(Z: np.ndarray, n_numeric: int) -> np.ndarray:
    """Clip the first ``n_numeric`` (standardised numeric) columns to ±5 and append their squares."""
    num = np.clip(Z[:, :n_numeric], -CLIP_SD, CLIP_SD)
    return np.hstack([num, Z[:, n_numeric:], num ** 2])


def detection_auc(real: np.ndarray, synthetic: np.ndarray, fold: np.ndarray) -> tuple[float, int]:
    """(mean ROC AUC over the scorable folds, number of those folds) of logistic regression real (0) vs synthetic (1).

    ``real`` and ``synthetic`` are already in feature space (see
    :func:`with_squares`), ``fold`` from :func:`grouped_folds`. With fewer
    than 2 scorable folds the AUC is NaN (the caller names the reason).
    """
    X = np.vstack([real, synthetic])
    y = np.concatenate([np.zeros(len(real), dtype=int), np.ones(len(synthetic), dtype=int)])
    aucs = []
    for f in range(int(fold.max()) + 1):
        test = fold == f
        if len(np.unique(y[test])) < 2 or len(np.unique(y[~test])) < 2:
            continue
        clf = LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=1000).fit(X[~test], y[~test])
        aucs.append(roc_auc(y[test], clf.decision_function(X[test])))
    if len(aucs) < 2:
        return float("nan"), len(aucs)
    return float(np.mean(aucs)), len(aucs)
