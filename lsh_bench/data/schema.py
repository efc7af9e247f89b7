"""What each feature column is, independent of any split.

The schema is schema-level knowledge (like an ARFF header): column names,
numeric vs categorical, the category vocabulary (sorted, which fixes the
ordinal codes of ``preprocess=paper``) and whether a numeric column only
holds whole numbers. It carries no statistics of the rows, so deriving it
from the whole table leaks nothing into validation or test folds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Column:
    name: str
    kind: Literal["numeric", "categorical"]
    categories: tuple[str, ...] = ()   # categorical only; code i <-> categories[i]
    integer: bool = False              # numeric column holding whole numbers only
    boolean: bool = False              # numeric column holding only 0/1


@dataclass(frozen=True)
class FeatureSchema:
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c.kind == "categorical"]

    @property
    def numeric_indices(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c.kind == "numeric"]

    def __len__(self) -> int:
        return len(self.columns)

    @classmethod
    def infer(cls, X: pd.DataFrame) -> "FeatureSchema":
        """Categorical = non-numeric (string) column; vocabulary sorted as strings."""
        cols = []
        for name in X.columns:
            s = X[name]
            if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                v = s.dropna().to_numpy(dtype=float)
                integer = bool(v.size) and bool(np.all(np.isfinite(v)) and np.all(v == np.round(v)))
                boolean = bool(v.size) and bool(np.isin(v, (0.0, 1.0)).all())
                cols.append(Column(str(name), "numeric", integer=integer, boolean=boolean))
            else:
                cats = tuple(sorted({str(x) for x in s.dropna()}))
                cols.append(Column(str(name), "categorical", categories=cats))
        return cls(tuple(cols))

    def decode(self, X: np.ndarray) -> pd.DataFrame:
        """Encoded matrix -> readable table (categorical codes back to their values).

        Non-integer or out-of-range codes (SMOTE under ``preprocess=paper``
        interpolates codes) are rounded and clipped to the nearest category.
        """
        out = {}
        for i, col in enumerate(self.columns):
            v = X[:, i]
            if col.kind == "categorical" and col.categories:
                codes = np.clip(np.round(v), 0, len(col.categories) - 1).astype(int)
                out[col.name] = [col.categories[c] for c in codes]
            else:
                out[col.name] = v
        return pd.DataFrame(out)

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        """Readable table -> matrix: categorical values to codes (unknown -> NaN)."""
        X = np.empty((len(df), len(self.columns)), dtype=float)
        for i, col in enumerate(self.columns):
            s = df[col.name]
            if col.kind == "categorical":
                lookup = {c: float(k) for k, c in enumerate(col.categories)}
                X[:, i] = [lookup.get(str(x), np.nan) if pd.notna(x) else np.nan for x in s]
            else:
                X[:, i] = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
        return X
