"""Constructed data whose quality is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from lsh_bench.data.schema import Column, FeatureSchema


def numeric_schema(d: int) -> FeatureSchema:
    return FeatureSchema(tuple(Column(f"x{j}", "numeric") for j in range(d)))


def mixed_schema() -> FeatureSchema:
    """Two numeric columns and two categorical ones (3 and 4 categories)."""
    return FeatureSchema((
        Column("a", "numeric"), Column("b", "numeric"),
        Column("colour", "categorical", categories=("blue", "green", "red")),
        Column("size", "categorical", categories=("L", "M", "S", "XL")),
    ))


def gaussian_part(rng: np.random.Generator, n_min: int, n_maj: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """A training part: correlated Gaussian minority around +1, majority around -1."""
    cov = 0.5 * np.eye(d) + 0.5
    minority = rng.multivariate_normal(np.ones(d), cov, size=n_min)
    majority = rng.multivariate_normal(-np.ones(d), cov, size=n_maj)
    X = np.vstack([majority, minority])
    y = np.concatenate([np.zeros(n_maj, dtype=int), np.ones(n_min, dtype=int)])
    return X, y


def mixed_rows(rng: np.random.Generator, n: int, shift: float = 0.0) -> np.ndarray:
    """Rows for :func:`mixed_schema`: b depends on a, size depends on colour."""
    a = rng.normal(shift, 1.0, n)
    b = 2 * a + rng.normal(0, 0.5, n)
    colour = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    size = np.where(rng.random(n) < 0.8, colour, rng.choice(4, size=n))
    return np.column_stack([a, b, colour, size]).astype(float)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20260516)
