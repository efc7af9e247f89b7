"""A classifier that remembers what it was fitted on and asked to predict (leakage tests)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class SpyClassifier(ClassifierMixin, BaseEstimator):
    seen: ClassVar[list[tuple[str, np.ndarray]]] = []

    def __init__(self, k: int = 0) -> None:
        self.k = k

    def fit(self, X, y):
        SpyClassifier.seen.append(("fit", np.array(X, dtype=float)))
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        SpyClassifier.seen.append(("predict", np.array(X, dtype=float)))
        return np.ones(len(X), dtype=int)
