"""LM: the LLM writes every synthetic minority row needed to reach the ratio (docs/protocol.md, "Methods").

An imbalanced-learn over-sampler: hyper-parameters stored unchanged in
``__init__``, all work in ``fit_resample``, fitted state with a trailing
underscore. A float ``sampling_strategy`` is minority/majority after
resampling (imblearn's meaning), and the sampler adds exactly as many rows as
imblearn's SMOTE would for that ratio (:func:`lsh_bench.protocol.rows_to_add`).
The LLM's seed is ``llm_seed`` (``seeds.llm``), as in LS.

Zero-shot: imblearn's input checks need both classes, and a training part
with no minority row has one. ``fit_resample`` then skips imblearn's checks
(it still validates X and y with scikit-learn) and treats the absent class
as the minority: label 1, the harness's minority label, when the present
class is 0.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from sklearn.utils import check_array, column_or_1d
from sklearn.utils._param_validation import Interval

from lsh_bench.config import LLMConfig
from lsh_bench.data.schema import Column, FeatureSchema
from lsh_bench.protocol import require_rows_to_add
from lsh_bench.samplers.llm.client import get_client
from lsh_bench.samplers.llm.generator import generate_rows
from lsh_bench.samplers.llm.paper_generator import generate_rows_paper
from lsh_bench.samplers.llm.types import LLMUsage

MINORITY_LABEL = 1   # the harness's convention (target 1 = minority); used when the class is absent


def minority_majority(y: np.ndarray) -> tuple[Any, Any, int, int]:
    """(minority label, majority label, n_minority, n_majority); the minority may be absent."""
    labels, counts = np.unique(y, return_counts=True)
    if len(labels) == 2:
        i_min, i_maj = (0, 1) if counts[0] < counts[1] else (1, 0)
        if counts[0] == counts[1]:
            i_min, i_maj = (1, 0) if labels[1] == MINORITY_LABEL else (0, 1)
        return labels[i_min], labels[i_maj], int(counts[i_min]), int(counts[i_maj])
    if len(labels) == 1:
        present = labels[0]
        if present == MINORITY_LABEL:
            raise ValueError("y holds only the minority class (1): there is no majority to balance against")
        return type(present)(MINORITY_LABEL), present, 0, int(counts[0])
    raise ValueError(f"the LLM samplers need a binary target, got {len(labels)} classes")


def shown_rows(parts: list[np.ndarray], n_features: int) -> np.ndarray:
    """The distinct rows of every prompt's rows, in first-shown order (0 x n_features if none were shown)."""
    rows = [r for p in parts for r in np.asarray(p, dtype=float).reshape(-1, n_features)]
    if not rows:
        return np.empty((0, n_features))
    _, first = np.unique(np.vstack(rows), axis=0, return_index=True)
    return np.vstack(rows)[np.sort(first)]


def default_schema(n_features: int) -> FeatureSchema:
    """All-numeric schema with names x0, x1, ... (used when none is given, e.g. plain arrays)."""
    return FeatureSchema(tuple(Column(f"x{j}", "numeric") for j in range(n_features)))


def _generate(X_minority: np.ndarray, n_rows: int, *, schema: FeatureSchema, cfg: LLMConfig, seed: int,
              client: Any, X_train: np.ndarray) -> tuple[np.ndarray, Any]:
    """The rows of the generator ``llm.generator`` names, with the prompt set ``llm.prompts``.

    ``paper``: missing, non-finite and unnamed values are filled with the
    training part's column means (the paper's refit ``fillna``) and counted in
    the stats' ``repairs``, which the unit records (``llm.repairs``).
    """
    if cfg.generator == "paper":
        return generate_rows_paper(X_minority, n_rows, schema=schema, cfg=cfg, seed=seed, client=client,
                                   X_train=X_train, prompt_set=cfg.prompts)
    return generate_rows(X_minority, n_rows, schema=schema, cfg=cfg, seed=seed, client=client, X_train=X_train)


class LLMOverSampler(BaseOverSampler):
    """LM: LLM-generated minority rows up to ``sampling_strategy`` (float ratio).

    ``llm_seed``: the seed of every LLM request and of the row draws.
    ``client``: optional chat client (tests, custom endpoints); default
    ``get_client(llm)``. Fitted: ``n_generated_``, ``usage_`` (the client's
    usage of this fit), ``generation_`` (``GenerationStats``, or
    ``PaperGenerationStats`` under ``llm.generator=paper``), ``rows_shown_``
    (the distinct real rows the LLM was shown, in the encoded space; 0 rows
    zero-shot, where it sees column names and types only).
    """

    _sampling_type = "over-sampling"
    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "sampling_strategy": [Interval(numbers.Real, 0, 1, closed="right")],
        "schema": [FeatureSchema, None],
        "llm": [LLMConfig, None],
        "llm_seed": [numbers.Integral],
        "client": "no_validation",
    }

    def __init__(
        self,
        sampling_strategy: float = 1.0,
        *,
        schema: FeatureSchema | None = None,
        llm: LLMConfig | None = None,
        llm_seed: int = 0,
        client: Any = None,
    ) -> None:
        super().__init__(sampling_strategy=sampling_strategy)
        self.schema = schema
        self.llm = llm
        self.llm_seed = llm_seed
        self.client = client

    # -- imblearn entry point, with the zero-shot bypass
    def fit_resample(self, X, y, **params):
        y_arr = column_or_1d(np.asarray(y))
        _, _, n_min, n_maj = minority_majority(y_arr)
        # RatioNotApplicable before imblearn's ValueError
        require_rows_to_add(float(self.sampling_strategy), n_minority=n_min, n_majority=n_maj)
        if n_min > 0:
            return super().fit_resample(X, y, **params)
        # zero-shot: imblearn would reject a one-class y; validate by hand and go straight to the work
        self._validate_params()
        X_arr = check_array(X, dtype=float)
        if len(X_arr) != len(y_arr):
            raise ValueError(f"X has {len(X_arr)} rows but y has {len(y_arr)}")
        self.n_features_in_ = X_arr.shape[1]
        return self._fit_resample(X_arr, y_arr)

    def _schema(self, n_features: int) -> FeatureSchema:
        schema = self.schema if self.schema is not None else default_schema(n_features)
        if len(schema) != n_features:
            raise ValueError(f"schema has {len(schema)} columns but X has {n_features}")
        return schema

    def _client(self, cfg: LLMConfig) -> Any:
        return self.client if self.client is not None else get_client(cfg)

    def _fit_resample(self, X, y):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        label_min, _, n_min, n_maj = minority_majority(y)
        n_new = require_rows_to_add(float(self.sampling_strategy), n_minority=n_min, n_majority=n_maj)
        cfg = self.llm if self.llm is not None else LLMConfig()
        schema = self._schema(X.shape[1])
        client = self._client(cfg)
        take = getattr(client, "take_usage", None)
        if take is not None:
            take()  # resets the client's counter: usage_ is this fit's usage only, what came before is not ours
        try:
            rows, stats = _generate(X[y == label_min], n_new, schema=schema, cfg=cfg, seed=int(self.llm_seed),
                                    client=client, X_train=X)
        except Exception as exc:
            if take is not None:
                # What the failed generation cost (calls, tokens, seconds, cache keys): the failed unit's
                # record carries it (``UnitRun.failed``); an exception's attributes survive pickling.
                exc.llm_usage = take()
            raise
        self.usage_: LLMUsage = take() if take is not None else stats.usage
        self.generation_ = stats
        self.n_generated_ = n_new
        self.rows_shown_ = shown_rows(stats.shown_rows, X.shape[1])
        X_res = np.vstack([X, rows])
        y_res = np.concatenate([y, np.full(n_new, label_min, dtype=y.dtype)])
        return X_res, y_res

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
