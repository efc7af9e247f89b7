"""The score of the protocol: F1 of the minority class (label 1).

Shared by both grid evaluators, the fast families and the protocol's
all-minority baseline, so that every F1 of the harness comes from one call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import f1_score


def minority_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """F1 of the minority (positive, label 1) class; 0 when nothing is predicted positive."""
    return float(f1_score(y_true, y_pred, pos_label=1, zero_division=0.0))


class MemoF1:
    """:func:`minority_f1` on one validation part, computed once per distinct confusion matrix.

    scikit-learn's binary F1 is a function of the counts (tp, fp, fn) and of
    the label set, so two predictions with equal counts and labels get the
    bit-identical float from the same call; ``f1_score``'s input validation
    costs ~5 ms a call, more than most fits of the fast evaluator.
    """

    def __init__(self, y_true: np.ndarray) -> None:
        self.y_true = y_true
        self.positive = y_true == 1
        self._memo: dict[tuple[Any, ...], float] = {}

    def __call__(self, y_pred: np.ndarray) -> float:
        y_pred = np.asarray(y_pred)
        if y_pred.shape != self.y_true.shape or y_pred.dtype.kind not in "iub":
            return minority_f1(self.y_true, y_pred)
        pred_pos = y_pred == 1
        tp = int(np.count_nonzero(pred_pos & self.positive))
        key = (tp, int(np.count_nonzero(pred_pos)) - tp, int(np.count_nonzero(self.positive)) - tp,
               tuple(np.unique(y_pred).tolist()))
        if key not in self._memo:
            self._memo[key] = minority_f1(self.y_true, y_pred)
        return self._memo[key]
