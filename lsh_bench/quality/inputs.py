"""Checking and shaping the arrays a quality record is computed from.

All inputs are *encoded* matrices, the representation the samplers work on
(:class:`lsh_bench.models.preprocess.TableEncoder`): one float column per
schema column, categoricals as codes ``0..k-1`` in the schema's category
order, no missing values. Synthetic rows are the rows a sampler *appended*
(imbalanced-learn and our LLM samplers return the original rows first), so a
caller takes ``X_resampled[len(X_train):]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lsh_bench.data.schema import FeatureSchema


class QualityInputError(ValueError):
    """The arrays given to the quality metrics cannot be scored; the message says which and why."""


@dataclass(frozen=True)
class QualityConfig:
    """Settings of the quality record; the defaults are what ``docs/quality.md`` documents.

    ``knn_k`` and ``paper_lgbm_seed`` are the paper notebook's (5 neighbours,
    ``LGBMClassifier(random_state=42)``). ``max_rows`` caps the rows per side
    that the detection classifier and the distance-to-closest-record use (a
    seeded subsample; ``rows_capped`` in the record says when it happened).
    ``copy_digits`` significant digits decide what counts as an exact copy:
    the LLM is shown rows printed with 6 significant digits (``%.6g``).
    """

    knn_k: int = 5
    paper_lgbm_seed: int = 42
    detection_folds: int = 3
    contingency_bins: int = 10
    max_rows: int = 2000
    copy_digits: int = 6


def as_matrix(X: np.ndarray, name: str, schema: FeatureSchema, *, allow_empty: bool = False) -> np.ndarray:
    """A finite float matrix with one column per schema column, or a clear error naming ``name``."""
    M = np.asarray(X, dtype=float)
    if M.ndim == 1 and M.size == 0:
        M = M.reshape(0, len(schema))
    if M.ndim != 2:
        raise QualityInputError(f"{name}: expected a 2-D matrix (rows x {len(schema)} columns), got shape {M.shape}")
    if M.shape[1] != len(schema):
        raise QualityInputError(
            f"{name}: has {M.shape[1]} columns but the feature schema has {len(schema)} ({', '.join(schema.names)})")
    if not allow_empty and len(M) == 0:
        raise QualityInputError(f"{name}: no rows; quality metrics compare rows and need at least one")
    bad = ~np.isfinite(M)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise QualityInputError(
            f"{name}: {int(bad.sum())} missing or infinite value(s), first in row {i}, column "
            f"{schema.names[j]!r}; pass encoded rows (TableEncoder imputes missing values)")
    return M


def category_codes(M: np.ndarray, schema: FeatureSchema) -> dict[int, np.ndarray]:
    """Column index -> integer codes of every categorical column, rounded and clipped to ``0..k-1``.

    Under ``preprocess=paper`` SMOTE interpolates codes (2.4 is no category);
    they are read as the nearest category, as :meth:`FeatureSchema.decode`
    does. Whether a value was a valid code before rounding is what
    ``category_adherence`` measures.
    """
    out = {}
    for j in schema.categorical_indices:
        k = max(len(schema.columns[j].categories), 1)
        out[j] = np.clip(np.round(M[:, j]), 0, k - 1).astype(np.int64)
    return out


def seeded_rows(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most ``cap`` of ``n`` rows (all of them, in order, when ``n <= cap``)."""
    if n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))
