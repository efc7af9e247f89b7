"""The second stage of the two-stage methods, and SS, the SMOTE+SMOTE ablation of LS.

LS (:mod:`lsh_bench.samplers.hybrid`) reaches the seed ratio with LLM rows
and every higher ratio with an expander run on real + seed rows. SS does the
same with SMOTE rows as the seeds: SMOTE to the seed ratio, then the
expander (SMOTE by default) again from there — the paper code's ablation,
which asks whether LS's gain comes from the LLM's rows or from expanding in
two stages. Same seed ratio, same expander, same counts as LS: only the
seeds differ.

:func:`expand_from_seeds` is the one expansion step both use. The expander
is ``ls.expander`` (SMOTE, the paper's, or any registered plain over-sampler:
:func:`lsh_bench.samplers.registry.build_expander`), run on the real rows
plus the seeds, with its ``k_neighbors`` lowered to (real + seed minority
rows) - 1 when they are fewer than k + 1; with a single minority row in all
nothing can be interpolated and :class:`SamplerNotApplicable` is raised.
"""

from __future__ import annotations

import numbers

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from sklearn.utils._param_validation import Interval

from lsh_bench.errors import SamplerNotApplicable
from lsh_bench.ls_config import DEFAULT_EXPANDER
from lsh_bench.protocol import require_rows_to_add, rows_to_add
from lsh_bench.samplers.registry import build_expander
from lsh_bench.samplers.smote import smote_for


def expand_from_seeds(X1: np.ndarray, y1: np.ndarray, *, n_pool: int, sampling_strategy: float, expander: str,
                      k_neighbors: int, random_state: int, categorical_features: list[int] | None,
                      who: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Real + seed rows (``X1``, ``y1``; ``n_pool`` minority rows among them) expanded to ``sampling_strategy``.

    Returns the resampled data (``X1`` first, unchanged, then the expander's
    rows) and the k the expander used. ``who`` names the method in errors.
    """
    if n_pool < 2:
        raise SamplerNotApplicable(
            f"{who}: {n_pool} minority row(s) in real + seeds: the expander ({expander}) needs at least 2 "
            "to interpolate")
    k_used = min(k_neighbors, n_pool - 1)
    sampler = build_expander(expander, sampling_strategy=float(sampling_strategy), k_neighbors=k_used,
                             random_state=random_state, categorical_features=list(categorical_features or []),
                             n_features=X1.shape[1])
    X2, y2 = sampler.fit_resample(X1, y1)
    return np.asarray(X2), np.asarray(y2), k_used


class SMOTETwoStageSampler(BaseOverSampler):
    """SS: SMOTE from the real minority to ``seed_ratio``, then ``expander`` on real + those rows to
    ``sampling_strategy``.

    Fitted: ``n_seeds_`` (stage 1), ``n_expanded_`` (stage 2), ``k_neighbors_``
    (the expander's k). Output order: original rows, stage-1 rows, stage-2 rows.
    """

    _sampling_type = "over-sampling"
    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "sampling_strategy": [Interval(numbers.Real, 0, 1, closed="right")],
        "seed_ratio": [Interval(numbers.Real, 0, 1, closed="right")],
        "expander": [str],
        "k_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "categorical_features": [list, None],
        "random_state": [numbers.Integral],
    }

    def __init__(self, sampling_strategy: float = 1.0, *, seed_ratio: float = 0.2,
                 expander: str = DEFAULT_EXPANDER, k_neighbors: int = 5,
                 categorical_features: list[int] | None = None, random_state: int = 0) -> None:
        super().__init__(sampling_strategy=sampling_strategy)
        self.seed_ratio = seed_ratio
        self.expander = expander
        self.k_neighbors = k_neighbors
        self.categorical_features = categorical_features
        self.random_state = random_state

    def _fit_resample(self, X, y):
        if float(self.sampling_strategy) < float(self.seed_ratio):
            raise ValueError(f"SS: sampling_strategy {self.sampling_strategy} is below seed_ratio {self.seed_ratio}")
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        labels, counts = np.unique(y, return_counts=True)
        n_min, n_maj = int(counts.min()), int(counts.max())
        n_total = require_rows_to_add(float(self.sampling_strategy), n_minority=n_min, n_majority=n_maj)
        self.n_features_in_ = X.shape[1]
        self.k_neighbors_ = self.k_neighbors
        self.n_seeds_ = max(0, rows_to_add(float(self.seed_ratio), n_minority=n_min, n_majority=n_maj))
        categorical = list(self.categorical_features or [])
        if self.n_seeds_ > 0:
            stage1 = smote_for(float(self.seed_ratio), k_neighbors=self.k_neighbors, random_state=self.random_state,
                               categorical_features=categorical, n_features=X.shape[1])
            X1, y1 = stage1.fit_resample(X, y)
        else:
            X1, y1 = X, y
        self.n_expanded_ = n_total - self.n_seeds_
        if self.n_expanded_ <= 0:
            return X1, y1
        X2, y2, self.k_neighbors_ = expand_from_seeds(
            X1, y1, n_pool=n_min + self.n_seeds_, sampling_strategy=float(self.sampling_strategy),
            expander=self.expander, k_neighbors=self.k_neighbors, random_state=self.random_state,
            categorical_features=categorical, who="SS")
        return X2, y2
