"""Score every grid cell on one (training part, validation part) pair.

Two evaluators give identical F1 by construction and by test:

* :func:`evaluate_straightforward` — the reference: for each cell a fresh
  ``imblearn.pipeline.Pipeline(encode -> resample -> post -> classifier)`` is
  fitted on the raw training rows, exactly as a user would write it.
* :func:`evaluate_shared` — encodes and resamples once per (fold, ratio) and
  hands the same resampled matrix to every cell; :mod:`lsh_bench.models.fast`
  then shares work between cells where the models are provably identical
  (:func:`fit_predict_cell` is what it must equal, cell by cell).

Validation rows are never resampled in either: imblearn pipelines only
resample during ``fit``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline
from sklearn.base import clone

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.models.fast import score_cells_fast
from lsh_bench.models.grid import Cell, build_estimator
from lsh_bench.models.metrics import minority_f1
from lsh_bench.models.preprocess import Mode, TableEncoder, post_transform
from lsh_bench.samplers.llm.types import LLMUsage


@dataclass
class FoldData:
    """One training part and the part it is scored on (raw tables, target 1 = minority)."""

    X_train: pd.DataFrame
    y_train: np.ndarray
    X_val: pd.DataFrame
    y_val: np.ndarray


@dataclass
class GridScores:
    """F1 per cell (raw, unrounded) plus what it cost."""

    f1: list[float]
    seconds: list[float]
    resample_seconds: float = 0.0
    n_train_resampled: int = 0
    usage: LLMUsage = field(default_factory=LLMUsage)
    sampler_info: dict[str, Any] = field(default_factory=dict)
    convergence_warnings: int = 0
    quality: dict[str, Any] | None = None   # the (fold, ratio)'s quality row (lsh_bench.quality.unit_rows)


def _usage_of(sampler: Any) -> LLMUsage:
    usage = getattr(sampler, "usage_", None)
    return usage if isinstance(usage, LLMUsage) else LLMUsage()


def _info_of(sampler: Any) -> dict[str, Any]:
    """What an LLM generation went through: program rounds, rejected answers and repairs by kind."""
    gen = getattr(sampler, "generation_", None)
    if gen is None or not hasattr(gen, "as_dict"):
        return {}
    d = gen.as_dict()
    return {"rounds": d.get("rounds", 0), "rejected": d.get("rejected", {}), "repairs": d.get("repairs", {})}


def make_pipeline(
    cell: Cell, schema: FeatureSchema, mode: Mode, sampler: Any | None
) -> Pipeline:
    """The reference pipeline of one cell: encode -> resample -> post -> classifier."""
    steps: list[tuple[str, Any]] = [("encode", TableEncoder(schema, mode))]
    if sampler is not None:
        steps.append(("resample", clone(sampler)))
    post = post_transform(schema, mode, cell.spec.scale)
    if post is not None:
        steps.append(("post", post))
    steps.append(("clf", build_estimator(cell)))
    return Pipeline(steps)


def evaluate_straightforward(
    fold: FoldData, cells: list[Cell], schema: FeatureSchema, mode: Mode, sampler: Any | None
) -> GridScores:
    """Fit every cell separately, each in its own imblearn Pipeline (the reference)."""
    out = GridScores([], [])
    for cell in cells:
        t0 = time.perf_counter()
        pipe = make_pipeline(cell, schema, mode, sampler)
        pipe.fit(fold.X_train, fold.y_train)
        out.f1.append(minority_f1(fold.y_val, pipe.predict(fold.X_val)))
        out.seconds.append(time.perf_counter() - t0)
        if sampler is not None:
            out.usage.add(_usage_of(pipe.named_steps["resample"]))
            out.sampler_info = _info_of(pipe.named_steps["resample"])
    return out


@dataclass
class Resampled:
    """One encoding and resampling of a training part: what the cells and the quality record share.

    ``X_train``/``y_train`` are the encoded rows *before* resampling (the
    sampler appends, so ``X_res[len(X_train):]`` are the rows it added);
    ``sampler`` is the fitted clone (``rows_shown_``, ``usage_``, ...), None for ORG.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_res: np.ndarray
    y_res: np.ndarray
    X_val: np.ndarray
    seconds: float
    sampler: Any | None


def resample_part(fold: FoldData, schema: FeatureSchema, mode: Mode, sampler: Any | None) -> Resampled:
    """Encode with training-row statistics, resample the training part once (a fitted clone of ``sampler``)."""
    enc = TableEncoder(schema, mode).fit(fold.X_train)
    X_tr, X_va = enc.transform(fold.X_train), enc.transform(fold.X_val)
    y_tr = np.asarray(fold.y_train)
    t0 = time.perf_counter()
    X_res, y_res, fitted = X_tr, y_tr, None
    if sampler is not None:
        fitted = clone(sampler)
        X_res, y_res = fitted.fit_resample(X_tr, y_tr)
    return Resampled(X_tr, y_tr, np.asarray(X_res), np.asarray(y_res), X_va, time.perf_counter() - t0, fitted)


def encode_and_resample(
    fold: FoldData, schema: FeatureSchema, mode: Mode, sampler: Any | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, LLMUsage, dict[str, Any]]:
    """Encode with training-row statistics, resample the training part once."""
    r = resample_part(fold, schema, mode, sampler)
    usage, info = (_usage_of(r.sampler), _info_of(r.sampler)) if r.sampler is not None else (LLMUsage(), {})
    return r.X_res, r.y_res, r.X_val, r.seconds, usage, info


def fit_predict_cell(
    cell: Cell, schema: FeatureSchema, mode: Mode, X_tr: np.ndarray, y_tr: np.ndarray, X_va: np.ndarray
) -> np.ndarray:
    """Post-transform (if any) and classifier of one cell, on already resampled data."""
    post = post_transform(schema, mode, cell.spec.scale)
    if post is not None:
        post = post.fit(X_tr)
        X_tr, X_va = post.transform(X_tr), post.transform(X_va)
    return build_estimator(cell).fit(X_tr, y_tr).predict(X_va)


def evaluate_shared(
    fold: FoldData, cells: list[Cell], schema: FeatureSchema, mode: Mode, sampler: Any | None,
    observe: Callable[[Resampled], None] | None = None,
) -> GridScores:
    """One encoding and one resampling for all cells; model fits shared where provably identical.

    ``observe`` is handed the resampled part once, before the cells are fitted
    (the quality record is computed from it, not per cell).
    """
    r = resample_part(fold, schema, mode, sampler)
    if observe is not None:
        observe(r)
    usage, info = (_usage_of(r.sampler), _info_of(r.sampler)) if r.sampler is not None else (LLMUsage(), {})
    f1, seconds = score_cells_fast(cells, schema, mode, r.X_res, r.y_res, r.X_val, np.asarray(fold.y_val))
    return GridScores(f1, seconds, r.seconds, len(r.y_res), usage, info)
