"""Preprocessing, fitted on training rows only (part of every fitted pipeline).

Two stages, because resampling sits between them:

1. :class:`TableEncoder` (before the sampler): raw table -> float matrix.
   Categoricals become ordinal codes in the schema's (sorted) category order;
   missing values are imputed with statistics of the *training* rows:
   ``paper`` — column means for every column (codes included), exactly what
   the paper's code did (it used all rows; we do not copy that small leak);
   ``standard`` — means for numeric columns, the most frequent code for
   categoricals (so SMOTENC sees valid categories).
2. :func:`post_transform` (after the sampler, per classifier): ``standard``
   one-hot encodes categoricals and standardises numeric columns for the
   classifiers marked ``scale: true`` (LR, SVM, kNN); otherwise nothing.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from lsh_bench.data.schema import FeatureSchema

Mode = Literal["paper", "standard"]


class TableEncoder(TransformerMixin, BaseEstimator):
    """Raw DataFrame -> float matrix with codes for categoricals and no NaN."""

    def __init__(self, schema: FeatureSchema, mode: Mode = "paper") -> None:
        self.schema = schema
        self.mode = mode

    def fit(self, X: pd.DataFrame, y: np.ndarray | None = None) -> "TableEncoder":
        M = self.schema.encode(X)
        fill = np.zeros(M.shape[1])
        for j in range(M.shape[1]):
            col = M[:, j]
            seen = col[~np.isnan(col)]
            if seen.size == 0:
                fill[j] = 0.0  # column empty in these training rows
            elif self.mode == "standard" and j in self.schema.categorical_indices:
                values, counts = np.unique(seen, return_counts=True)
                fill[j] = values[np.argmax(counts)]  # ties: smallest code
            else:
                fill[j] = seen.mean()
        self.fill_values_ = fill
        self.n_features_in_ = M.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        M = self.schema.encode(X)
        missing = np.isnan(M)
        if missing.any():
            M[missing] = np.take(self.fill_values_, np.nonzero(missing)[1])
        return M


def post_transform(schema: FeatureSchema, mode: Mode, scale: bool) -> ColumnTransformer | None:
    """Per-classifier step after resampling; ``None`` means the matrix goes in as it is."""
    if mode != "standard" or not scale:
        return None
    cat = schema.categorical_indices
    num = schema.numeric_indices
    parts = []
    if cat:
        cats = [np.arange(len(schema.columns[i].categories), dtype=float) for i in cat]
        parts.append(("onehot", OneHotEncoder(categories=cats, handle_unknown="ignore", sparse_output=False), cat))
    if num:
        parts.append(("scale", StandardScaler(), num))
    return ColumnTransformer(parts, remainder="drop")


def categorical_for_sampler(schema: FeatureSchema, mode: Mode) -> list[int] | None:
    """Columns SMOTENC must treat as categorical (``standard`` only; ``paper`` interpolates codes)."""
    if mode == "standard" and schema.categorical_indices:
        return schema.categorical_indices
    return None
