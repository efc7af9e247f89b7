"""One quality record per (training part, ratio): how the synthetic minority rows compare with the real ones.

Two steps, so that what depends only on the real rows is computed once per
training part (a CV fold's, or the refit's) and not once per ratio:

    ref = prepare_reference(X_train, y_train, schema, seed=seed)     # once per fold
    row = score_synthetic(ref, X_added, shown=rows_shown)            # once per ratio

``quality_record`` does both in one call. ``X_train``/``y_train`` are the
training part *before* resampling, encoded as the samplers see it; the real
minority is ``X_train[y_train == 1]``, the real majority (needed only by the
paper's classifier) ``X_train[y_train == 0]``. ``X_added`` are the rows the
sampler appended. The record is a flat ``dict`` whose keys and meaning are
:data:`lsh_bench.quality.fields.METRIC_FIELDS` (``docs/quality.md``); it is
the same for the same inputs and seed.

A metric that cannot be computed on the given rows (the paper's classifier
without majority rows, correlations of one synthetic row, detection with one
real row, category adherence without a categorical column) is NaN and named
with its reason in the ``undefined`` field; inputs no metric can use (no
real minority row, no synthetic row, wrong width, missing values) raise
:class:`QualityInputError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.quality import detection, fidelity, paper, privacy
from lsh_bench.quality.fields import METRIC_NAMES
from lsh_bench.quality.inputs import QualityConfig, QualityInputError, as_matrix, seeded_rows

NAN = float("nan")


@dataclass(frozen=True)
class RealReference:
    """Everything the record needs from the real rows of one training part (see :func:`prepare_reference`)."""

    schema: FeatureSchema
    seed: int
    config: QualityConfig
    real: np.ndarray                       # real minority, encoded
    n_majority: int
    knn: paper.KnnReference
    uncertainty: paper.UncertaintyModel | None
    uncertainty_reason: str                # why ``uncertainty`` is None
    columns: fidelity.RealColumns
    dcr: privacy.DcrReference
    dcr_rows: np.ndarray                   # indices of the real rows in the DCR/detection reference
    real_keys: frozenset[bytes]
    real_key_list: list[bytes]             # key of every real minority row, in order


def prepare_reference(X_train: np.ndarray, y_train: np.ndarray, schema: FeatureSchema, *, seed: int,
                      config: QualityConfig = QualityConfig()) -> RealReference:
    """Fit everything that depends only on the real rows of a training part (once per fold).

    ``y_train`` holds 1 for minority and 0 for majority rows (the harness's
    labels). Raises :class:`QualityInputError` without a real minority row
    (zero-shot: pass the held-out minority as ``X_train`` rows labelled 1 if
    a reference is wanted, and record that choice beside the row).
    """
    X = as_matrix(X_train, "X_train (real training rows)", schema, allow_empty=True)
    y = np.asarray(y_train).ravel()
    if len(y) != len(X):
        raise QualityInputError(f"y_train: {len(y)} labels for {len(X)} rows of X_train")
    if not np.isin(y, (0, 1)).all():
        raise QualityInputError(f"y_train: labels must be 0 (majority) or 1 (minority), found {np.unique(y)[:5]}")
    real = X[y == 1]
    if len(real) == 0:
        raise QualityInputError(
            "X_train: no real minority row (y_train == 1); every quality metric compares synthetic rows "
            "with the real minority (zero-shot: pass the held-out minority as the reference)")
    n_major = int((y == 0).sum())
    uncertainty, reason = None, ""
    if n_major == 0:
        reason = "no real majority row to fit the paper's majority-vs-minority classifier"
    else:
        uncertainty = paper.fit_uncertainty(X, y, config.paper_lgbm_seed)
    keys = privacy.row_keys(real, config.copy_digits)
    rng = np.random.default_rng([seed, 1])
    dcr_rows = seeded_rows(len(real), config.max_rows, rng)
    return RealReference(
        schema=schema, seed=seed, config=config, real=real, n_majority=n_major,
        knn=paper.fit_knn(real, config.knn_k), uncertainty=uncertainty, uncertainty_reason=reason,
        columns=fidelity.real_columns(real, schema, config.contingency_bins),
        dcr=privacy.fit_dcr(real[dcr_rows], schema), dcr_rows=dcr_rows,
        real_keys=frozenset(keys), real_key_list=keys,
    )


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else NAN


def _paper_fields(ref: RealReference, S: np.ndarray, undefined: list[str]) -> dict[str, Any]:
    """The notebook's kNN distance and majority-vs-minority classifier confidence."""
    rec: dict[str, Any] = {"paper_knn_k": ref.knn.k}
    rec.update({f"paper_knn_{k}": v for k, v in paper.knn_distance(ref.knn, S).items()})
    rec["paper_knn_real_mean"] = ref.knn.real_mean
    if np.isnan(ref.knn.real_mean):
        undefined.append("paper_knn_real_mean: one real minority row has no other row to compare with")
    if ref.uncertainty is not None:
        unc = paper.classifier_uncertainty(ref.uncertainty, S)
    else:
        unc = {"mean": NAN, "median": NAN, "std": NAN}
        undefined.append(f"paper_unc_*: {ref.uncertainty_reason}")
    rec.update({f"paper_unc_{k}": v for k, v in unc.items()})
    return rec


def _fidelity_fields(ref: RealReference, S: np.ndarray, undefined: list[str]) -> dict[str, Any]:
    """Column shapes, pair trends, range and category adherence (SDMetrics' definitions)."""
    schema = ref.schema
    shapes = fidelity.column_shapes(ref.columns, S)
    rec: dict[str, Any] = {"column_shape": float(np.mean(shapes)), "column_shape_min": float(np.min(shapes))}
    trends = fidelity.pair_trends(ref.columns, S)
    rec["pair_trend"] = _mean(trends.scores)
    rec["pair_trend_pairs"], rec["pair_trend_undefined"] = len(trends.scores), trends.n_undefined
    if not len(trends.scores):
        why = ("fewer than 2 columns" if len(schema) < 2 else
               f"all {trends.n_undefined} numeric pairs have a constant column (real or synthetic)")
        undefined.append(f"pair_trend: {why}")
    rec["range_adherence"] = _mean(fidelity.range_adherence(ref.real, S, schema)) if schema.numeric_indices else NAN
    if not schema.numeric_indices:
        undefined.append("range_adherence: no numeric column")
    rec["category_adherence"] = _mean(fidelity.category_adherence(ref.real, S, schema))
    if not schema.categorical_indices:
        undefined.append("category_adherence: no categorical column")
    return rec


def _copy_fields(ref: RealReference, syn_keys: list[bytes], shown: np.ndarray | None,
                 undefined: list[str]) -> dict[str, Any]:
    """Exact copies of real rows and of the rows shown to the LLM, and repeated synthetic rows."""
    rec: dict[str, Any] = {"copy_share": float(np.mean([k in ref.real_keys for k in syn_keys]))}
    if shown is None or len(shown) == 0:
        rec["shown_copy_share"] = NAN
        undefined.append("shown_copy_share: no rows shown to an LLM were given")
    else:
        shown_keys = set(privacy.row_keys(shown, ref.config.copy_digits))
        rec["shown_copy_share"] = float(np.mean([k in shown_keys for k in syn_keys]))
    rec["unique_share"] = len(set(syn_keys)) / len(syn_keys)
    return rec


def _dcr_fields(ref: RealReference, S_sub: np.ndarray, undefined: list[str]) -> dict[str, Any]:
    """Distance to the closest real row, against the real rows' own leave-one-out spread."""
    rec: dict[str, Any] = {"dcr_median": privacy.dcr_median(ref.dcr, S_sub), "dcr_real_median": ref.dcr.real_median}
    if np.isnan(ref.dcr.real_median):
        rec["dcr_ratio"] = NAN
        undefined.append("dcr_real_median, dcr_ratio: one real minority row has no other row to compare with")
    elif ref.dcr.real_median == 0:
        rec["dcr_ratio"] = NAN
        undefined.append("dcr_ratio: at least half of the real minority rows have an exact duplicate "
                         "(real-vs-real median distance 0)")
    else:
        rec["dcr_ratio"] = rec["dcr_median"] / ref.dcr.real_median
    return rec


def _detection_fields(ref: RealReference, S_sub: np.ndarray, sub_keys: list[bytes],
                      undefined: list[str]) -> dict[str, Any]:
    """Real-vs-synthetic logistic detection AUC on grouped, seeded folds."""
    n_num = len(ref.schema.numeric_indices)
    real_feat = detection.with_squares(ref.dcr.space.transform(ref.real[ref.dcr_rows]), n_num)
    syn_feat = detection.with_squares(ref.dcr.space.transform(S_sub), n_num)
    fold = detection.grouped_folds([ref.real_key_list[i] for i in ref.dcr_rows], sub_keys,
                                   ref.config.detection_folds, ref.seed)
    auc, n_folds = detection.detection_auc(real_feat, syn_feat, fold)
    if n_folds < 2:
        undefined.append(
            f"detection_auc: fewer than 2 folds hold both classes ({len(set(ref.real_key_list))} distinct real and "
            f"{len(set(sub_keys))} distinct synthetic rows, identical rows share a fold)")
    return {"detection_auc": auc, "detection_folds": n_folds}


def score_synthetic(ref: RealReference, synthetic: np.ndarray, *, shown: np.ndarray | None = None) -> dict[str, Any]:
    """The quality record of one set of synthetic rows against a prepared reference (once per ratio)."""
    schema, cfg = ref.schema, ref.config
    S = as_matrix(synthetic, "synthetic (rows the sampler added)", schema)
    shown_m = None if shown is None else as_matrix(shown, "shown (rows shown to the LLM)", schema, allow_empty=True)
    undefined: list[str] = []
    syn_rows = seeded_rows(len(S), cfg.max_rows, np.random.default_rng([ref.seed, 2]))
    syn_keys = privacy.row_keys(S, cfg.copy_digits)
    rec: dict[str, Any] = {
        "n_real": len(ref.real), "n_real_majority": ref.n_majority, "n_synthetic": len(S),
        "n_shown": 0 if shown_m is None else len(shown_m), "n_features": len(schema),
        "n_categorical": len(schema.categorical_indices), "seed": ref.seed,
        "rows_capped": int(len(syn_rows) < len(S) or len(ref.dcr_rows) < len(ref.real)),
        **_paper_fields(ref, S, undefined),
        **_fidelity_fields(ref, S, undefined),
        **_copy_fields(ref, syn_keys, shown_m, undefined),
        **_dcr_fields(ref, S[syn_rows], undefined),
        **_detection_fields(ref, S[syn_rows], [syn_keys[i] for i in syn_rows], undefined),
    }
    rec["undefined"] = "; ".join(undefined)
    assert tuple(rec) == METRIC_NAMES, "record keys drifted from lsh_bench.quality.fields.METRIC_FIELDS"
    return rec


def quality_record(X_train: np.ndarray, y_train: np.ndarray, synthetic: np.ndarray, schema: FeatureSchema, *,
                   seed: int, shown: np.ndarray | None = None,
                   config: QualityConfig = QualityConfig()) -> dict[str, Any]:
    """:func:`prepare_reference` then :func:`score_synthetic`, for one (training part, ratio)."""
    return score_synthetic(prepare_reference(X_train, y_train, schema, seed=seed, config=config), synthetic,
                           shown=shown)
