"""What each feature column is, independent of any split.

The schema is schema-level knowledge (like an ARFF header): column names,
numeric vs categorical, the category vocabulary in code order and whether a
numeric column only holds whole numbers. It carries no statistics of the
rows, so deriving it from the whole (cleaned) table leaks nothing into
validation or test folds.

Which columns are categorical comes from the dataset's config (its
``nominal`` list, OpenML's typing) or, for tables without one, from pandas'
guess (non-numeric columns). The category order is the *encoding*:

* ``collation`` (the paper's files): levels present after cleaning in Unicode
  collation order (UCA: punctuation and symbols before digits, digits before
  letters, case-insensitive first; numeric-looking labels sorted as text, so
  ``'10' < '9'``), coded 1..k — R's ``as.integer(factor(x))`` under an ICU
  collation. Reproduces the paper's published meta-features.
* ``sorted`` (this harness before the paper's encoding was known): levels in
  Python string (code point) order, coded 0..k-1.

Inside the pipeline a categorical is carried as its *index* 0..k-1 into
``categories`` (what the samplers and :meth:`FeatureSchema.decode` use); the
classifier sees ``index + code_base`` (:meth:`FeatureSchema.model_codes`).
Resampling is unaffected up to floating-point rounding: SMOTE interpolates
differences of codes, which a constant shift does not change. (The samplers
work on indices so that their category lookups need no encoding.)
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pyuca import Collator

Encoding = Literal["collation", "sorted"]
ENCODINGS: tuple[Encoding, ...] = ("collation", "sorted")


@functools.lru_cache(maxsize=1)
def _collator() -> Collator:
    """Built once, on first use: reading the DUCET table takes ~0.3 s."""
    return Collator()


def collation_order(labels: Iterable[str]) -> tuple[str, ...]:
    """Labels in Unicode collation order (DUCET, via ``pyuca``); exact ties broken by code points."""
    col = _collator()
    return tuple(sorted(set(labels), key=lambda s: (col.sort_key(s), s)))


def category_order(labels: Iterable[str], encoding: Encoding) -> tuple[str, ...]:
    if encoding == "collation":
        return collation_order(labels)
    if encoding == "sorted":
        return tuple(sorted(set(labels)))
    raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")


def code_base(encoding: Encoding) -> int:
    """First code of a categorical: 1 for the paper's files (R factors), 0 for ``sorted``."""
    return 1 if encoding == "collation" else 0


@dataclass(frozen=True)
class Column:
    name: str
    kind: Literal["numeric", "categorical"]
    categories: tuple[str, ...] = ()   # categorical only; index i <-> categories[i]
    integer: bool = False              # numeric column holding whole numbers only
    boolean: bool = False              # numeric column holding only 0/1


@dataclass(frozen=True)
class FeatureSchema:
    columns: tuple[Column, ...]
    encoding: Encoding = "sorted"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c.kind == "categorical"]

    @property
    def numeric_indices(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c.kind == "numeric"]

    @property
    def code_base(self) -> int:
        return code_base(self.encoding)

    def __len__(self) -> int:
        return len(self.columns)

    @classmethod
    def infer(cls, X: pd.DataFrame, nominal: Iterable[str] | None = None,
              encoding: Encoding = "sorted") -> "FeatureSchema":
        """Column kinds and vocabularies of a (cleaned) table.

        ``nominal``: the categorical columns (their values are labels, read as
        text); ``None`` = every non-numeric column (pandas' guess). A nominal
        column's vocabulary is the labels present in ``X``.
        """
        wanted = None if nominal is None else {str(n) for n in nominal}
        cols = []
        for name in X.columns:
            s = X[name]
            numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
            if (wanted is None and numeric) or (wanted is not None and str(name) not in wanted):
                v = pd.to_numeric(s, errors="raise").dropna().to_numpy(dtype=float)
                integer = bool(v.size) and bool(np.all(np.isfinite(v)) and np.all(v == np.round(v)))
                boolean = bool(v.size) and bool(np.isin(v, (0.0, 1.0)).all())
                cols.append(Column(str(name), "numeric", integer=integer, boolean=boolean))
            else:
                cats = category_order((str(x) for x in s.dropna()), encoding)
                cols.append(Column(str(name), "categorical", categories=cats))
        return cls(tuple(cols), encoding)

    def decode(self, X: np.ndarray) -> pd.DataFrame:
        """Matrix of category indices -> readable table (categorical indices back to their labels).

        Non-integer or out-of-range indices (SMOTE under ``preprocess=paper``
        interpolates them) are rounded and clipped to the nearest category.
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
        """Readable table -> matrix: categorical labels to their index (unknown -> NaN)."""
        X = np.empty((len(df), len(self.columns)), dtype=float)
        for i, col in enumerate(self.columns):
            s = df[col.name]
            if col.kind == "categorical":
                lookup = {c: float(k) for k, c in enumerate(col.categories)}
                X[:, i] = [lookup.get(str(x), np.nan) if pd.notna(x) else np.nan for x in s]
            else:
                X[:, i] = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
        return X

    def model_codes(self, X: np.ndarray) -> np.ndarray:
        """Index matrix -> the codes a classifier sees (``index + code_base`` on categoricals)."""
        if self.code_base == 0 or not self.categorical_indices:
            return X
        out = np.array(X, dtype=float, copy=True)
        out[:, self.categorical_indices] += self.code_base
        return out
