"""Copies and closeness: does a sampler hand back real rows instead of new ones?

* **Exact copies** (SDMetrics' NewRowSynthesis asks the same question with a
  1% tolerance per value; we ask for equality at ``digits`` significant
  digits, 6 by default, because that is how rows are printed to the LLM —
  a row copied from the prompt comes back at that precision — and because
  a tolerance would count SMOTE rows interpolated between two close
  neighbours as copies).
* **Distance to closest record** (DCR, as in SDMetrics'
  DCRBaselineProtection / DCROverfittingProtection: each synthetic row's
  distance to its nearest real row), *relative to the real rows' own
  spread*: the median DCR of the synthetic rows over the median distance of
  each real row to its nearest *other* real row (leave-one-out). A set of
  new rows drawn like the real ones scores about 1; copies score 0; rows far
  from every real row score much more than 1. The leave-one-out baseline
  uses the same reference rows (less one), so it needs no split: a seeded
  half/half split would measure against half the rows and overstate the
  real spread by about ``2**(1/d)``.

The distance space is mixed: numeric columns standardised with the real
minority's mean and standard deviation (a constant column keeps its unit
scale), categorical columns one-hot encoded and scaled by ``1/√2`` so that a
different category counts as much as one standard deviation of a numeric
column; Euclidean distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.quality.inputs import category_codes


def rounded(M: np.ndarray, digits: int = 6) -> np.ndarray:
    """Values rounded to ``digits`` significant digits (``%.{digits}g``'s value), -0.0 as 0.0."""
    out = np.zeros_like(M, dtype=float)
    nz = M != 0
    if nz.any():
        v = M[nz]
        exponent = np.floor(np.log10(np.abs(v)))
        scale = 10.0 ** (digits - 1 - exponent)
        out[nz] = np.round(v * scale) / scale
    return out + 0.0


def row_keys(M: np.ndarray, digits: int = 6) -> list[bytes]:
    """One hashable key per row: the bytes of its rounded values."""
    R = np.ascontiguousarray(rounded(M, digits))
    return [row.tobytes() for row in R]


def copy_share(synthetic: np.ndarray, reference: np.ndarray, digits: int = 6) -> float:
    """Share of synthetic rows equal to some reference row at ``digits`` significant digits (0 = none copied)."""
    keys = set(row_keys(reference, digits))
    return float(np.mean([k in keys for k in row_keys(synthetic, digits)]))


def unique_share(synthetic: np.ndarray, digits: int = 6) -> float:
    """Distinct synthetic rows / synthetic rows (1 = no row repeated)."""
    return len(set(row_keys(synthetic, digits))) / len(synthetic)


@dataclass(frozen=True)
class MixedSpace:
    """Standardisation and one-hot layout learnt from the real minority."""

    schema: FeatureSchema
    mean: np.ndarray
    scale: np.ndarray

    def transform(self, M: np.ndarray) -> np.ndarray:
        num = self.schema.numeric_indices
        parts = [(M[:, num] - self.mean) / self.scale]
        for j, codes in category_codes(M, self.schema).items():
            k = max(len(self.schema.columns[j].categories), 1)
            onehot = np.zeros((len(M), k))
            onehot[np.arange(len(M)), codes] = 1.0 / np.sqrt(2.0)
            parts.append(onehot)
        return np.hstack(parts)


def mixed_space(real: np.ndarray, schema: FeatureSchema) -> MixedSpace:
    num = schema.numeric_indices
    mean = real[:, num].mean(axis=0)
    std = real[:, num].std(axis=0)
    scale = np.where(std > 0, std, 1.0)
    return MixedSpace(schema, mean, scale)


@dataclass(frozen=True)
class DcrReference:
    space: MixedSpace
    index: NearestNeighbors
    real_median: float      # median leave-one-out DCR of the real rows (NaN with one real row)


def fit_dcr(real: np.ndarray, schema: FeatureSchema) -> DcrReference:
    space = mixed_space(real, schema)
    index = NearestNeighbors(n_neighbors=1).fit(space.transform(real))
    real_median = float("nan")
    if len(real) >= 2:
        dist, _ = index.kneighbors(n_neighbors=1)   # without X: each row's nearest *other* row
        real_median = float(np.median(dist[:, 0]))
    return DcrReference(space, index, real_median)


def dcr_median(ref: DcrReference, synthetic: np.ndarray) -> float:
    """Median over synthetic rows of the distance to the nearest real row."""
    dist, _ = ref.index.kneighbors(ref.space.transform(synthetic), n_neighbors=1)
    return float(np.median(dist[:, 0]))
