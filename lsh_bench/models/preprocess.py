"""Preprocessing, fitted on training rows only (part of every fitted pipeline).

Two stages, because resampling sits between them:

1. :class:`TableEncoder` (before the sampler): raw table -> float matrix.
   Categoricals become their index in the schema's category order (the
   encoding: Unicode collation for the paper, or plain sorting);
   missing values (only left with ``data.cleaning=none``) are imputed with
   statistics of the *training* rows:
   ``paper`` — column means for every column (codes included), exactly what
   the paper's code did (it used all rows; we do not copy that small leak);
   ``standard`` — means for numeric columns, the most frequent code for
   categoricals (so SMOTENC sees valid categories).
2. :func:`post_transform` (after the sampler, per classifier): ``standard``
   one-hot encodes categoricals and standardises numeric columns for the
   classifiers marked ``scale: true`` (LR, SVM, kNN); every other classifier
   gets the categorical codes of the schema's encoding (index + 1 under
   ``collation``, the paper's 1..k: LR's lbfgs path and SVM's sigmoid kernel
   are not shift-invariant), or the matrix as it is.

A column with no observed value in the training rows cannot be imputed from
them; rather than invent a value for the whole column, :class:`TableEncoder`
refuses it (the data layer already refuses or drops columns that are
constant or empty in the whole dataset).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.errors import DatasetInvalid

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
                raise DatasetInvalid(
                    f"column {self.schema.columns[j].name!r} has no observed value in the {M.shape[0]} training "
                    f"rows, so it cannot be imputed from them; drop it (data.cleaning=paper drops columns with "
                    f">15% missing values) instead of filling the whole column with an invented value"
                )
            if self.mode == "standard" and j in self.schema.categorical_indices:
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


class CodeOffset(TransformerMixin, BaseEstimator):
    """Category indices -> the encoding's codes (``index + code_base``); stateless."""

    def __init__(self, schema: FeatureSchema) -> None:
        self.schema = schema

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> "CodeOffset":
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return self.schema.model_codes(np.asarray(X, dtype=float))


def post_transform(schema: FeatureSchema, mode: Mode, scale: bool) -> ColumnTransformer | CodeOffset | None:
    """Per-classifier step after resampling; ``None`` means the matrix goes in as it is."""
    if mode != "standard" or not scale:
        if schema.code_base != 0 and schema.categorical_indices:
            return CodeOffset(schema)
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
