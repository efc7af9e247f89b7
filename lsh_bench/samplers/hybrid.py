"""LS (the LSH hybrid): LLM seeds up to r0, then SMOTE on real + seeds up to r (docs/protocol.md, "Methods").

The expander is ``ls.expander`` (SMOTE by default, the paper's; any registered
plain over-sampler otherwise) and the seed ratio is r0 or ``ls.seed_steps``
ratios above it (:mod:`lsh_bench.samplers.two_stage`, shared with SS).

The seeds are exactly the rows ``LLMOverSampler(sampling_strategy=r0)``
writes on the same data with the same LLM seed: same requests, so the replay
cache shares them across the ratios of a fold and the LLM is called for one
ratio per fold, not five. Every ratio r > r0 is then reached by SMOTE (SMOTENC
when ``categorical_features`` is non-empty; SMOTEN if every column is
categorical) run on real minority + seeds. Output order: original rows,
seeds, SMOTE rows.

With zero or one real minority row SMOTE finds its neighbours among the
seeds. If real + seeds are fewer than ``k_neighbors + 1``, k is lowered to
their number - 1 (recorded in ``k_neighbors_``); with a single minority row
in all, SMOTE cannot interpolate and ``SamplerNotApplicable`` is raised.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from sklearn.utils._param_validation import Interval

from lsh_bench.config import LLMConfig
from lsh_bench.data.schema import FeatureSchema
from lsh_bench.ls_config import DEFAULT_EXPANDER
from lsh_bench.protocol import require_rows_to_add
from lsh_bench.samplers.llm.sampler import LLMOverSampler, minority_majority
from lsh_bench.samplers.llm.types import LLMUsage
from lsh_bench.samplers.two_stage import expand_from_seeds


class LSHSampler(BaseOverSampler):
    """LS: seeds from the LLM up to ``seed_ratio`` (r0), SMOTE from real + seeds up to ``sampling_strategy``.

    Fitted: ``n_seeds_``, ``n_smote_``, ``k_neighbors_`` (the k SMOTE used),
    ``usage_``, ``generation_`` and ``rows_shown_`` (of the seed generation).
    """

    _sampling_type = "over-sampling"
    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "sampling_strategy": [Interval(numbers.Real, 0, 1, closed="right")],
        "seed_ratio": [Interval(numbers.Real, 0, 1, closed="right")],
        "schema": [FeatureSchema, None],
        "llm": [LLMConfig, None],
        "k_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "categorical_features": [list, None],
        "random_state": [numbers.Integral],
        "llm_seed": [numbers.Integral],
        "client": "no_validation",
        "expander": [str],
    }

    def __init__(
        self,
        sampling_strategy: float = 1.0,
        *,
        seed_ratio: float = 0.2,
        schema: FeatureSchema | None = None,
        llm: LLMConfig | None = None,
        k_neighbors: int = 5,
        categorical_features: list[int] | None = None,
        random_state: int = 0,
        llm_seed: int = 0,
        client: Any = None,
        expander: str = DEFAULT_EXPANDER,
    ) -> None:
        super().__init__(sampling_strategy=sampling_strategy)
        self.seed_ratio = seed_ratio
        self.schema = schema
        self.llm = llm
        self.k_neighbors = k_neighbors
        self.categorical_features = categorical_features
        self.random_state = random_state
        self.llm_seed = llm_seed
        self.client = client
        self.expander = expander

    def _seeder(self) -> LLMOverSampler:
        """The LM sampler whose r0 rows are the seeds (same arguments -> same LLM requests)."""
        return LLMOverSampler(
            sampling_strategy=self.seed_ratio, schema=self.schema, llm=self.llm,
            llm_seed=self.llm_seed, client=self.client,
        )

    def fit_resample(self, X, y, **params):
        if float(self.sampling_strategy) < float(self.seed_ratio):
            raise ValueError(
                f"LS: sampling_strategy {self.sampling_strategy} is below seed_ratio {self.seed_ratio} "
                "(r0 is the first applicable ratio)"
            )
        _, _, n_min, _ = minority_majority(np.asarray(y).ravel())
        if n_min > 0:
            return super().fit_resample(X, y, **params)
        self._validate_params()  # zero-shot: imblearn rejects a one-class y (see LLMOverSampler)
        return self._fit_resample(np.asarray(X, dtype=float), np.asarray(y).ravel())

    def _fit_resample(self, X, y):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        label_min, _, n_min, n_maj = minority_majority(y)
        n_total = require_rows_to_add(float(self.sampling_strategy), n_minority=n_min, n_majority=n_maj)
        seeder = self._seeder()
        X1, y1 = seeder.fit_resample(X, y)
        self.usage_: LLMUsage = seeder.usage_
        self.generation_ = seeder.generation_
        self.n_seeds_ = seeder.n_generated_
        self.rows_shown_ = seeder.rows_shown_   # what the LLM was shown for the seeds (quality record)
        self.n_smote_ = n_total - self.n_seeds_
        self.k_neighbors_ = self.k_neighbors
        self.n_features_in_ = X.shape[1]
        if self.n_smote_ <= 0:
            return X1, y1
        X2, y2, self.k_neighbors_ = expand_from_seeds(
            X1, y1, n_pool=n_min + self.n_seeds_, sampling_strategy=float(self.sampling_strategy),
            expander=self.expander, k_neighbors=self.k_neighbors, random_state=self.random_state,
            categorical_features=self.categorical_features, who="LS")
        return X2, y2
