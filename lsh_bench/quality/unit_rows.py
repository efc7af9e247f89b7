"""The quality rows of a unit: one per (fold, ratio) it resampled, computed in the worker that resampled it.

:func:`part_row` is called by :mod:`lsh_bench.unit` with the resampled part
(:class:`lsh_bench.models.evaluate.Resampled`) once per task, before any
classifier is fitted, so the metrics are computed once per (fold, ratio) and
never per grid cell. What depends on the real rows alone
(:func:`~lsh_bench.quality.record.prepare_reference`) is kept per process
for the few most recent training parts: the ratios of a fold share it
whichever worker call they arrive in. The reference is a pure function of
its inputs, so sharing it changes no number.

Reference policy (``quality.zero_shot_reference``): the real minority of the
training part; where it has none (zero-shot) the real minority of the part
the rows are scored on (validation rows for a CV fold, the test part for the
refit; ``heldout``), else no metric (``none``, the row says why).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Any

import numpy as np

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.models.evaluate import Resampled
from lsh_bench.quality.cost import cost_fields
from lsh_bench.quality.fields import KEY_FIELDS, METRIC_FIELDS
from lsh_bench.quality.inputs import QualityConfig, QualityInputError
from lsh_bench.quality.record import RealReference, prepare_reference, score_synthetic
from lsh_bench.quality_config import QualitySpec
from lsh_bench.samplers.llm.types import LLMUsage

_REFERENCES: OrderedDict[str, RealReference] = OrderedDict()
_KEEP = 8     # training parts whose reference a worker process keeps (a fold's ratios arrive close together)


def metric_config(spec: QualitySpec) -> QualityConfig:
    """The metric settings of a ``quality.*`` config."""
    return QualityConfig(max_rows=spec.max_rows, detection_folds=spec.detection_folds)


def reference_rows(spec: QualitySpec, r: Resampled, y_val: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """The real rows the metrics compare with (labels 1 = minority) and the policy that chose them."""
    if (r.y_train == 1).any():
        return r.X_train, r.y_train, "train"
    held = r.X_val[np.asarray(y_val) == 1]
    if spec.zero_shot_reference == "heldout" and len(held):
        majority = r.X_train[r.y_train == 0]
        return np.vstack([majority, held]), np.r_[np.zeros(len(majority), int), np.ones(len(held), int)], "heldout"
    return r.X_train, r.y_train, "none"


def _fingerprint(X: np.ndarray, y: np.ndarray, schema: FeatureSchema, spec: QualitySpec) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in (np.ascontiguousarray(X, dtype=float), np.ascontiguousarray(y, dtype=np.int64)):
        h.update(str(part.shape).encode())
        h.update(part.tobytes())
    h.update(repr((schema, spec)).encode())
    return h.hexdigest()


def shared_reference(X: np.ndarray, y: np.ndarray, schema: FeatureSchema, spec: QualitySpec) -> RealReference:
    """``prepare_reference`` of these rows, reused while the process still holds it."""
    key = _fingerprint(X, y, schema, spec)
    ref = _REFERENCES.get(key)
    if ref is None:
        ref = prepare_reference(X, y, schema, seed=spec.seed, config=metric_config(spec))
        _REFERENCES[key] = ref
        while len(_REFERENCES) > _KEEP:
            _REFERENCES.popitem(last=False)
    _REFERENCES.move_to_end(key)
    return ref


def _undefined_metrics(n_synthetic: int, schema: FeatureSchema, spec: QualitySpec, why: str) -> dict[str, Any]:
    rec: dict[str, Any] = {f.name: (float("nan") if f.kind != "str" else "") for f in METRIC_FIELDS}
    rec.update({"n_real": 0, "n_real_majority": 0, "n_synthetic": n_synthetic, "n_shown": 0,
                "n_features": len(schema), "n_categorical": len(schema.categorical_indices), "seed": spec.seed,
                "rows_capped": 0, "undefined": f"all metrics: {why}"})
    return rec


def llm_cost(sampler: Any) -> dict[str, int]:
    """Rows the LLM wrote and what they cost: tokens of every answer used, replays at their recorded count."""
    if sampler is None or not hasattr(sampler, "generation_"):
        return {}
    usage = getattr(sampler, "usage_", None) or LLMUsage()
    gen = sampler.generation_
    rows = getattr(sampler, "n_seeds_", getattr(sampler, "n_generated_", 0))
    return {"llm_rows": int(rows), "llm_calls": usage.calls, "llm_cache_hits": usage.cache_hits,
            "llm_prompt_tokens": int(getattr(gen, "answer_prompt_tokens", usage.prompt_tokens)),
            "llm_completion_tokens": int(getattr(gen, "answer_completion_tokens", usage.completion_tokens))}


def part_row(spec: QualitySpec, schema: FeatureSchema, r: Resampled, y_val: np.ndarray, *,
             ratio: float, fold: int) -> dict[str, Any]:
    """The ``quality.parquet`` row of one resampled (fold, ratio): key, reference, metrics, cost."""
    t0 = time.perf_counter()
    added = r.X_res[len(r.X_train):]
    X_ref, y_ref, reference = reference_rows(spec, r, y_val)
    if reference == "none":
        metrics = _undefined_metrics(len(added), schema, spec, "no real minority row in the training part or "
                                     f"(quality.zero_shot_reference={spec.zero_shot_reference}) none held out")
    else:
        try:
            ref = shared_reference(X_ref, y_ref, schema, spec)
            metrics = score_synthetic(ref, added, shown=getattr(r.sampler, "rows_shown_", None))
        except QualityInputError as exc:   # rows no metric can use (none added, non-finite): recorded, the unit goes on
            metrics = _undefined_metrics(len(added), schema, spec, str(exc))
    cost = cost_fields(resample_seconds=r.seconds, quality_seconds=time.perf_counter() - t0,
                       n_rows_added=len(added), **llm_cost(r.sampler))
    row = {"fold": fold, "ratio": ratio, "reference": reference, **metrics, **cost}
    assert tuple(row)[:len(KEY_FIELDS)] == tuple(f.name for f in KEY_FIELDS)
    return row


def frame_columns() -> list[str]:
    """The columns of ``quality.parquet``, in order (``docs/quality.md``)."""
    return [f.name for f in (*KEY_FIELDS, *METRIC_FIELDS)] + list(cost_fields(resample_seconds=0, quality_seconds=0,
                                                                                n_rows_added=0))


def record_section(spec: QualitySpec, rows: list[dict[str, Any]], resamples: bool) -> dict[str, Any]:
    """The ``quality`` section of ``unit.json``: whether the unit has its rows in ``quality.parquet``.

    ``status``: ``recorded`` (one row per resampled (fold, ratio)), ``disabled``
    (``quality.enabled=false``) or ``no_synthetic_rows`` (ORG resamples nothing).
    """
    if not resamples:
        status = "no_synthetic_rows"
    else:
        status = "recorded" if spec.enabled else "disabled"
    return {"status": status, "rows": len(rows),
            "rows_without_reference": sum(r["reference"] == "none" for r in rows),
            "seconds": round(sum(r["quality_seconds"] for r in rows), 3), "settings": spec.model_dump()}
