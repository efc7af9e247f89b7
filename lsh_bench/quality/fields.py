"""The columns of ``quality.parquet``: name, type, range, better direction, source.

One place for the schema, so the record, ``docs/quality.md`` and the tests
cannot drift apart (a test checks that every field here is documented and
that a record has exactly these keys, in this order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Field:
    name: str
    kind: Literal["int", "float", "str"]
    range: str
    better: str            # "higher", "lower", "≈ 1", "none" (a count or a setting), ...
    source: str
    meaning: str


_PAPER = "paper notebook 1. LLM Quality"
_SDM = "SDMetrics 0.32.0 definition"

#: What the metric function computes (deterministic for a seed), in record order.
METRIC_FIELDS: tuple[Field, ...] = (
    Field("n_real", "int", "≥ 1", "none", "input",
          "real minority rows of the training part (the reference every metric compares with)"),
    Field("n_real_majority", "int", "≥ 0", "none", "input",
          "real majority rows of the training part (used by the paper's classifier only)"),
    Field("n_synthetic", "int", "≥ 1", "none", "input", "synthetic minority rows the sampler added"),
    Field("n_shown", "int", "≥ 0", "none", "input",
          "real rows the LLM was shown (0 when not given: SM, or not recorded)"),
    Field("n_features", "int", "≥ 1", "none", "input", "feature columns"),
    Field("n_categorical", "int", "≥ 0", "none", "input", "categorical feature columns"),
    Field("seed", "int", "any", "none", "input", "seed of the detection folds/model and of any subsample"),
    Field("rows_capped", "int", "0 or 1", "none", "setting",
          "1 when the detection and DCR used a seeded subsample of max_rows rows per side"),
    Field("paper_knn_k", "int", "1..5", "none", _PAPER,
          "neighbours per synthetic row: 5, or the number of real minority rows if fewer"),
    Field("paper_knn_mean", "float", "≥ 0", "lower = closer to the real minority", _PAPER,
          "mean over synthetic rows of the average Euclidean distance to the k nearest real minority "
          "rows, StandardScaler fitted on the real minority"),
    Field("paper_knn_median", "float", "≥ 0", "lower = closer", _PAPER, "median of the same per-row averages"),
    Field("paper_knn_std", "float", "≥ 0", "none", _PAPER, "np.std (ddof=0) of the same per-row averages"),
    Field("paper_knn_real_mean", "float", "≥ 0", "reference", "ours (baseline of the paper's measure)",
          "the same mean for each real minority row vs its min(5, n_real-1) nearest other real rows; "
          "a synthetic set drawn like the real rows scores about this"),
    Field("paper_unc_mean", "float", "0..0.5", "lower (the paper's reading: rows nearer the class boundary)",
          _PAPER, "mean over synthetic rows of |P(minority) - 0.5| of LightGBM(random_state=42) fitted on the "
          "real majority vs real minority (StandardScaler on all real rows)"),
    Field("paper_unc_median", "float", "0..0.5", "lower (paper)", _PAPER, "median of the same"),
    Field("paper_unc_std", "float", "≥ 0", "none", _PAPER, "np.std (ddof=0) of the same"),
    Field("column_shape", "float", "0..1", "higher", _SDM,
          "mean over columns of KSComplement (numeric) / TVComplement (categorical)"),
    Field("column_shape_min", "float", "0..1", "higher", _SDM, "the worst column's KS/TV complement"),
    Field("pair_trend", "float", "0..1", "higher", _SDM,
          "mean over column pairs of CorrelationSimilarity (numeric pairs, Pearson) / "
          "ContingencySimilarity (pairs with a categorical column, numeric binned in 10)"),
    Field("pair_trend_pairs", "int", "≥ 0", "none", "ours", "column pairs the pair_trend mean is over"),
    Field("pair_trend_undefined", "int", "≥ 0", "lower",  "ours",
          "numeric pairs left out: a column constant in the real or in the synthetic rows"),
    Field("range_adherence", "float", "0..1", "higher", _SDM,
          "mean over numeric columns of the share of synthetic values within the real [min, max] (BoundaryAdherence)"),
    Field("category_adherence", "float", "0..1", "higher", _SDM,
          "mean over categorical columns of the share of synthetic values that are a category of the real rows "
          "(CategoryAdherence; an interpolated code is not)"),
    Field("copy_share", "float", "0..1", "lower", "ours (NewRowSynthesis question, exact match)",
          "share of synthetic rows equal to a real minority row at 6 significant digits"),
    Field("shown_copy_share", "float", "0..1", "lower", "ours",
          "share of synthetic rows equal to a row the LLM was shown, at 6 significant digits"),
    Field("unique_share", "float", "0..1", "higher", "ours", "distinct synthetic rows / synthetic rows"),
    Field("dcr_median", "float", "≥ 0", "≈ dcr_real_median", "SDMetrics DCR idea, our space",
          "median over synthetic rows of the Euclidean distance to the closest real minority row "
          "(numeric standardised on the real minority, categorical one-hot / √2)"),
    Field("dcr_real_median", "float", "≥ 0", "reference", "ours",
          "median over real minority rows of the distance to the closest *other* real row (leave-one-out)"),
    Field("dcr_ratio", "float", "≥ 0", "≈ 1 (0 = copies, ≫ 1 = far from the real rows)", "ours",
          "dcr_median / dcr_real_median"),
    Field("detection_auc", "float", "0..1", "≈ 0.5 (1 = synthetic rows are told apart perfectly)",
          "SDMetrics LogisticDetection, + squared terms",
          "mean ROC AUC over 3 grouped, stratified folds of logistic regression real minority (0) vs synthetic (1) on "
          "the DCR space (numeric clipped to ±5 sd) plus the squares of the standardised numeric columns"),
    Field("detection_folds", "int", "0..3", "none", "setting",
          "folds scored (training and test rows of both classes; identical rows share a fold); < 2 = undefined"),
    Field("undefined", "str", "text", "empty", "ours",
          "'metric: reason' for every metric that is NaN in this row, separated by '; ' (empty if none)"),
)

#: What the caller fills around the metric call (seconds and rows; LLM tokens).
COST_FIELDS: tuple[Field, ...] = (
    Field("resample_seconds", "float", "≥ 0", "lower", "caller",
          "wall seconds of the sampler's fit_resample on this training part"),
    Field("quality_seconds", "float", "≥ 0", "lower", "caller", "wall seconds of the quality record itself"),
    Field("n_rows_added", "int", "≥ 1", "none", "caller", "rows the sampler added (= n_synthetic)"),
    Field("llm_rows", "int", "≥ 0", "none", "caller",
          "rows written by the LLM: LM all added rows, LS its seeds, SM 0"),
    Field("llm_calls", "int", "≥ 0", "none", "caller", "model calls (cache replays excluded)"),
    Field("llm_cache_hits", "int", "≥ 0", "none", "caller", "answers replayed from the cache"),
    Field("llm_prompt_tokens", "int", "≥ 0", "lower", "caller",
          "prompt tokens of every answer used, replayed answers at their recorded count"),
    Field("llm_completion_tokens", "int", "≥ 0", "lower", "caller", "completion tokens, counted the same way"),
    Field("llm_tokens_per_row", "float", "≥ 0", "lower", "caller",
          "(prompt + completion tokens) / llm_rows; NaN when llm_rows = 0 (no LLM rows: SM)"),
)

#: The identity columns the store adds (one quality row per (fold, ratio) of a unit).
KEY_FIELDS: tuple[Field, ...] = (
    Field("fold", "int", "-1, 0..4", "none", "store", "CV fold; -1 = the refit on the whole 70%"),
    Field("ratio", "float", "0..1", "none", "store", "the ratio r the sampler reached"),
    Field("reference", "str", "train, heldout, none", "none", "store",
          "the real minority compared with: the training part's (train); zero-shot, the scored part's "
          "(heldout: validation rows, the test part for the refit); none: no real minority row, metrics NaN"),
)

METRIC_NAMES: tuple[str, ...] = tuple(f.name for f in METRIC_FIELDS)
COST_NAMES: tuple[str, ...] = tuple(f.name for f in COST_FIELDS)
