"""The quality record on constructed data where the answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lsh_bench.quality import (
    METRIC_NAMES, QualityConfig, QualityInputError, prepare_reference, quality_record, score_synthetic,
)
from tests.quality.conftest import gaussian_part, mixed_rows, mixed_schema, numeric_schema


def nan_fields(rec: dict) -> set[str]:
    return {k for k, v in rec.items() if isinstance(v, float) and math.isnan(v)}


def assert_nan_only_where_named(rec: dict) -> None:
    """Every NaN in a record is named in ``undefined`` with a reason, and nothing else is."""
    named = set()
    for entry in filter(None, rec["undefined"].split("; ")):
        metric, reason = entry.split(": ", 1)
        assert reason
        for m in metric.split(", "):
            named |= {k for k in rec if k.startswith(m[:-1])} if m.endswith("*") else {m}
    assert nan_fields(rec) == named, rec["undefined"]


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)) or x == y
        for x, y in zip(a.values(), b.values()))


@pytest.fixture
def part(rng):
    X, y = gaussian_part(rng, n_min=200, n_maj=400, d=4)
    return X, y, numeric_schema(4)


def test_record_has_the_documented_fields_in_order(part):
    X, y, schema = part
    rec = quality_record(X, y, X[y == 1][:50] + 0.01, schema, seed=0)
    assert tuple(rec) == METRIC_NAMES
    assert all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in rec.values())
    assert_nan_only_where_named(rec)


def test_copies_of_real_rows(part):
    X, y, schema = part
    real = X[y == 1]
    rec = quality_record(X, y, real.copy(), schema, seed=0)
    assert rec["copy_share"] == 1.0 and rec["unique_share"] == 1.0
    assert rec["dcr_median"] == 0.0 and rec["dcr_ratio"] == 0.0
    assert abs(rec["detection_auc"] - 0.5) < 0.1
    assert rec["column_shape"] == 1.0 and rec["pair_trend"] == pytest.approx(1.0)
    assert rec["range_adherence"] == 1.0
    # the paper's k-NN distance of a real row to its own 5 nearest includes itself at 0:
    # (0 + the 4 nearest others) / 5 is below the real rows' own leave-one-out baseline
    assert rec["paper_knn_mean"] < rec["paper_knn_real_mean"]


def test_far_away_noise(part, rng):
    X, y, schema = part
    noise = rng.normal(50.0, 1.0, size=(150, 4))
    rec = quality_record(X, y, noise, schema, seed=0)
    assert rec["detection_auc"] > 0.99
    assert rec["paper_knn_mean"] > 20 * rec["paper_knn_real_mean"]
    assert rec["dcr_ratio"] > 20
    assert rec["copy_share"] == 0.0 and rec["range_adherence"] == 0.0
    assert rec["column_shape"] == 0.0          # disjoint: the KS statistic is 1 in every column
    # the majority-vs-minority classifier puts rows far on the minority side with confidence
    assert rec["paper_unc_mean"] > 0.4


def test_held_out_real_rows_score_like_the_real_baseline(rng):
    X, y = gaussian_part(rng, n_min=400, n_maj=600, d=4)
    held_out, _ = gaussian_part(rng, n_min=400, n_maj=0, d=4)
    rec = quality_record(X, y, held_out, numeric_schema(4), seed=0)
    assert 0.8 < rec["dcr_ratio"] < 1.25
    assert 0.85 < rec["paper_knn_mean"] / rec["paper_knn_real_mean"] < 1.15
    assert abs(rec["detection_auc"] - 0.5) < 0.08
    assert rec["column_shape"] > 0.9 and rec["pair_trend"] > 0.95
    assert rec["copy_share"] == 0.0 and rec["unique_share"] == 1.0


def test_squared_terms_let_detection_see_a_narrower_spread(part):
    """SMOTE-like rows: the real mean, a third of the spread. A linear model alone would score ~0.5."""
    X, y, schema = part
    real = X[y == 1]
    shrunk = real.mean(axis=0) + 0.3 * (real - real.mean(axis=0))
    rec = quality_record(X, y, shrunk, schema, seed=0)
    assert rec["detection_auc"] > 0.8
    assert rec["copy_share"] == 0.0


def test_deterministic_for_a_seed(part, rng):
    X, y, schema = part
    syn = X[y == 1][:80] + rng.normal(0, 0.3, size=(80, 4))
    a = quality_record(X, y, syn, schema, seed=7)
    b = quality_record(X.copy(), y.copy(), syn.copy(), schema, seed=7)
    assert same(a, b)


def test_prepared_reference_gives_the_one_call_record(part, rng):
    """Once per fold + once per ratio is the same as one call per (fold, ratio)."""
    X, y, schema = part
    ref = prepare_reference(X, y, schema, seed=3)
    for n in (5, 60, 300):
        syn = X[y == 1][rng.integers(0, 200, n)] + rng.normal(0, 0.2, size=(n, 4))
        assert same(score_synthetic(ref, syn), quality_record(X, y, syn, schema, seed=3))


def test_rows_shown_to_the_llm_are_compared_at_six_significant_digits(part):
    X, y, schema = part
    real = X[y == 1]
    shown = real[:30]
    printed = np.array([[float(f"{v:.6g}") for v in row] for row in shown])   # what the prompt carried
    syn = np.vstack([printed[:10], real[100:110] + 0.5])
    rec = quality_record(X, y, syn, schema, seed=0, shown=shown)
    assert rec["shown_copy_share"] == 0.5 and rec["copy_share"] == 0.5 and rec["n_shown"] == 30
    assert "shown_copy_share" not in rec["undefined"]


def test_repeated_synthetic_rows_lower_unique_share(part):
    X, y, schema = part
    row = X[y == 1][:1] + 3.0
    rec = quality_record(X, y, np.repeat(row, 40, axis=0), schema, seed=0)
    assert rec["unique_share"] == 1 / 40
    assert rec["pair_trend_pairs"] == 0 and rec["pair_trend_undefined"] == 6   # every synthetic column constant
    assert math.isnan(rec["pair_trend"]) and "pair_trend: all 6 numeric pairs" in rec["undefined"]
    assert_nan_only_where_named(rec)


def test_categorical_columns(rng):
    schema = mixed_schema()
    real = mixed_rows(rng, 300)
    X = np.vstack([mixed_rows(rng, 500, shift=-2.0), real])
    y = np.concatenate([np.zeros(500, dtype=int), np.ones(300, dtype=int)])
    good = quality_record(X, y, mixed_rows(rng, 300), schema, seed=0)
    assert good["n_categorical"] == 2 and good["category_adherence"] == 1.0
    assert good["column_shape"] > 0.9 and good["pair_trend"] > 0.85
    # 2 numeric pairs? no: one numeric pair (a, b) by correlation, five pairs with a categorical column
    assert good["pair_trend_pairs"] == 6
    assert_nan_only_where_named(good)

    # SMOTE under preprocess=paper interpolates codes: 1.5 is no category
    bad = mixed_rows(rng, 300)
    bad[:150, 2] = 1.5
    rec = quality_record(X, y, bad, schema, seed=0)
    assert rec["category_adherence"] == pytest.approx((0.5 + 1.0) / 2)

    # every synthetic row 'red' (code 2): TV complement of colour = share of red in the real rows
    red = mixed_rows(rng, 300)
    red[:, 2] = 2
    rec = quality_record(X, y, red, schema, seed=0)
    assert rec["column_shape_min"] == pytest.approx(np.mean(real[:, 2] == 2))


def test_one_real_minority_row(rng):
    X, y = gaussian_part(rng, n_min=1, n_maj=50, d=3)
    rec = quality_record(X, y, rng.normal(1, 1, size=(20, 3)), numeric_schema(3), seed=0)
    assert rec["paper_knn_k"] == 1 and not math.isnan(rec["paper_knn_mean"])
    assert {"paper_knn_real_mean", "dcr_real_median", "dcr_ratio", "detection_auc"} <= nan_fields(rec)
    assert rec["detection_folds"] == 0
    assert "one real minority row" in rec["undefined"]
    assert_nan_only_where_named(rec)


def test_fewer_real_rows_than_neighbours(rng):
    X, y = gaussian_part(rng, n_min=3, n_maj=50, d=3)
    rec = quality_record(X, y, rng.normal(1, 1, size=(20, 3)), numeric_schema(3), seed=0)
    assert rec["paper_knn_k"] == 3 and rec["detection_folds"] == 3
    assert_nan_only_where_named(rec)


def test_one_synthetic_row(part):
    X, y, schema = part
    rec = quality_record(X, y, X[y == 1][:1] + 0.1, schema, seed=0)
    assert rec["n_synthetic"] == 1 and rec["detection_folds"] == 0 and math.isnan(rec["detection_auc"])
    assert math.isnan(rec["pair_trend"]) and rec["pair_trend_undefined"] == 6
    assert_nan_only_where_named(rec)


def test_constant_column(rng):
    X, y = gaussian_part(rng, n_min=100, n_maj=100, d=3)
    X[:, 1] = 4.0
    syn = X[y == 1] + rng.normal(0, 0.1, size=(100, 3))
    syn[:, 1] = 4.0
    rec = quality_record(X, y, syn, numeric_schema(3), seed=0)
    assert rec["pair_trend_pairs"] == 1 and rec["pair_trend_undefined"] == 2   # (0,2) scored; pairs with column 1 not
    assert not math.isnan(rec["pair_trend"]) and rec["range_adherence"] == pytest.approx(
        np.mean([np.mean((syn[:, j] >= X[y == 1][:, j].min()) & (syn[:, j] <= X[y == 1][:, j].max()))
                 for j in range(3)]))
    assert not nan_fields(rec) - {"category_adherence", "shown_copy_share"}
    assert_nan_only_where_named(rec)


def test_no_majority_rows_leaves_the_paper_classifier_undefined(rng):
    X, _ = gaussian_part(rng, n_min=50, n_maj=0, d=3)
    rec = quality_record(X, np.ones(50, dtype=int), X + 0.2, numeric_schema(3), seed=0)
    assert {"paper_unc_mean", "paper_unc_median", "paper_unc_std"} <= nan_fields(rec)
    assert "paper_unc_*: no real majority row" in rec["undefined"]
    assert_nan_only_where_named(rec)


@pytest.mark.parametrize("bad, message", [
    ("no_synthetic", "synthetic (rows the sampler added): no rows"),
    ("no_minority", "no real minority row"),
    ("width", "has 2 columns but the feature schema has 3"),
    ("nan", "missing or infinite value"),
    ("labels", "labels must be 0 (majority) or 1 (minority)"),
])
def test_bad_inputs_raise_a_clear_error(rng, bad, message):
    X, y = gaussian_part(rng, n_min=20, n_maj=20, d=3)
    syn = X[y == 1] + 0.1
    schema = numeric_schema(3)
    if bad == "no_synthetic":
        syn = syn[:0]
    elif bad == "no_minority":
        y = np.zeros_like(y)
    elif bad == "width":
        syn = syn[:, :2]
    elif bad == "nan":
        syn[3, 1] = np.nan
    elif bad == "labels":
        y = y * 2
    with pytest.raises(QualityInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        quality_record(X, y, syn, schema, seed=0)


def test_capped_rows_are_a_seeded_subsample(part, rng):
    X, y, schema = part
    syn = X[y == 1][rng.integers(0, 200, 500)] + rng.normal(0, 0.3, size=(500, 4))
    cfg = QualityConfig(max_rows=100)
    a = quality_record(X, y, syn, schema, seed=1, config=cfg)
    b = quality_record(X, y, syn, schema, seed=1, config=cfg)
    full = quality_record(X, y, syn, schema, seed=1)
    assert a["rows_capped"] == 1 and full["rows_capped"] == 0 and same(a, b)
    # the cap touches the detection and the DCR only
    for name in ("paper_knn_mean", "paper_unc_mean", "column_shape", "pair_trend", "copy_share"):
        assert a[name] == full[name]
