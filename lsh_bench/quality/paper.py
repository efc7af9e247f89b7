"""The paper's two synthetic-row measures, as its "LLM Quality" notebook computes them.

The notebook (``1. LLM Quality.ipynb`` of the paper's public code) scores the
synthetic rows of one oversampling of the 70% part at the first applicable
ratio. We compute the same numbers for any training part (a CV fold's or the
refit's) and any ratio:

1. *Coverage* ("Measure k-NN distance"): a ``StandardScaler`` fitted on the
   real minority rows, a Euclidean ``NearestNeighbors(n_neighbors=5)`` on the
   scaled real minority; for each synthetic row the average distance to its 5
   nearest real minority rows; then the mean, median and ``np.std`` (ddof=0)
   of those averages. All columns enter as numbers (categorical codes too), as
   in the paper's files.
2. *Classifier uncertainty*: a ``StandardScaler`` fitted on *all* real rows
   of the training part (majority and minority), ``LGBMClassifier(
   random_state=42)`` fitted on them to tell majority (0) from minority (1);
   for each synthetic row ``|P(minority) - 0.5|``; mean, median, std. This is
   *not* a real-vs-synthetic classifier (the notebook's classifier never sees
   a synthetic row): it says how far from the real class boundary the
   synthetic rows fall. The notebook reads smaller as better.

Two departures, both recorded: with fewer than 5 real minority rows (few-shot)
k is the number of rows there are (``paper_knn_k``), where the notebook would
raise; LightGBM runs with one thread (``n_jobs=1``, the harness's rule) and
without its log (``verbose=-1``), which do not change the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from lightgbm import LGBMClassifier
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler


@dataclass(frozen=True)
class KnnReference:
    """The scaled real minority and its neighbour index (fitted once per training part)."""

    scaler: StandardScaler
    index: NearestNeighbors
    k: int                          # neighbours per synthetic row: min(5, n_real)
    real_mean: float                # the same measure for real rows vs the *other* real rows (NaN if 1 row)
    real_k: int                     # neighbours used for that baseline: min(5, n_real - 1)


def fit_knn(real_minority: np.ndarray, k: int = 5) -> KnnReference:
    """Scaler and neighbour index on the real minority, plus its real-vs-real baseline.

    The baseline averages, for every real minority row, its distance to its
    ``min(k, n - 1)`` nearest *other* real rows (scikit-learn's
    ``kneighbors()`` without ``X`` leaves each row out of its own query), so
    a synthetic set drawn like the real rows scores about the same.
    """
    scaler = StandardScaler()
    scaled = scaler.fit_transform(real_minority)
    k_used = min(k, len(scaled))
    index = NearestNeighbors(n_neighbors=k_used, metric="euclidean").fit(scaled)
    real_k = min(k, len(scaled) - 1)
    real_mean = float("nan")
    if real_k >= 1:
        dist, _ = index.kneighbors(n_neighbors=real_k)
        real_mean = float(np.mean(dist.mean(axis=1)))
    return KnnReference(scaler, index, k_used, real_mean, real_k)


def knn_distance(ref: KnnReference, synthetic: np.ndarray) -> dict[str, float]:
    """Mean/median/std over synthetic rows of the average distance to the k nearest real minority rows."""
    distances, _ = ref.index.kneighbors(ref.scaler.transform(synthetic))
    per_row = np.array([np.average(d) for d in distances])   # the notebook's loop, kept verbatim
    return {"mean": float(np.mean(per_row)), "median": float(np.median(per_row)), "std": float(np.std(per_row))}


@dataclass(frozen=True)
class UncertaintyModel:
    """The notebook's scaler + LightGBM, fitted on the real rows of a training part."""

    scaler: StandardScaler
    clf: LGBMClassifier


def fit_uncertainty(real_X: np.ndarray, real_y: np.ndarray, seed: int = 42) -> UncertaintyModel:
    """``StandardScaler`` on all real rows, ``LGBMClassifier(random_state=seed)`` majority (0) vs minority (1)."""
    scaler = StandardScaler()
    clf = LGBMClassifier(random_state=seed, n_jobs=1, verbose=-1)
    clf.fit(scaler.fit_transform(real_X), real_y)
    return UncertaintyModel(scaler, clf)


def classifier_uncertainty(model: UncertaintyModel, synthetic: np.ndarray) -> dict[str, float]:
    """Mean/median/std over synthetic rows of ``|P(minority) - 0.5|`` (the notebook's ``compute_uncertainty``)."""
    col = list(model.clf.classes_).index(1)
    prob = model.clf.predict_proba(model.scaler.transform(synthetic))[:, col]
    unc = np.abs(prob - 0.5)
    return {"mean": float(np.mean(unc)), "median": float(np.median(unc)), "std": float(np.std(unc))}
