"""Fidelity of synthetic rows to the real minority: column shapes, pair trends, adherence.

The definitions are SDMetrics' (sdv-dev/SDMetrics 0.32.0, MIT licence;
module paths given per function), written here with numpy/scipy instead of
imported: SDMetrics 0.32.0 requires ``pandas<3`` (the harness pins pandas
3.1.1) and scores pairs and rows through per-pair pandas group-bys, far too
slow to run once per (fold, ratio) of a sweep. ``tests/quality`` checks
these functions on cases whose answer is known by hand.

Every function returns ``(value, n_scored, n_undefined)``-style results so the
record can say how many columns or pairs an average is over; a column or
pair where the measure is undefined is left out *and counted*, never turned
into a NaN inside an average.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from lsh_bench.data.schema import FeatureSchema
from lsh_bench.quality.inputs import category_codes


@dataclass(frozen=True)
class RealColumns:
    """What the fidelity measures need from the real minority, computed once per training part."""

    schema: FeatureSchema
    real: np.ndarray                       # real minority, encoded
    real_sorted: np.ndarray                # the same, every column sorted (for the KS statistic)
    codes: dict[int, np.ndarray]           # categorical column -> integer codes of the real rows
    bins: dict[int, np.ndarray]            # numeric column -> bin edges (10 equal-width bins on the real values)
    real_discrete: dict[int, np.ndarray]   # every column -> discrete values of the real rows (codes or bins)
    n_levels: dict[int, int]               # every column -> number of discrete values
    real_corr: np.ndarray                  # Pearson correlation of the numeric columns (NaN where constant)


def real_columns(real: np.ndarray, schema: FeatureSchema, bins: int = 10) -> RealColumns:
    """Pre-compute category codes, bin edges and correlations of the real minority."""
    codes = category_codes(real, schema)
    edges, discrete, levels = {}, {}, {}
    for j in range(len(schema)):
        if j in codes:
            discrete[j] = codes[j]
            levels[j] = max(len(schema.columns[j].categories), 1)
        else:
            # sdmetrics.utils.discretize_column: histogram edges of the real values, outer edges open
            e = np.histogram_bin_edges(real[:, j], bins=bins)
            e[0], e[-1] = -np.inf, np.inf
            edges[j] = e
            discrete[j] = np.digitize(real[:, j], e)
            levels[j] = len(e) + 1
    return RealColumns(schema, real, np.sort(real, axis=0), codes, edges, discrete, levels,
                       _pearson(real[:, schema.numeric_indices]))


def _pearson(M: np.ndarray) -> np.ndarray:
    """Pearson correlation matrix; rows/columns of constant columns are NaN (correlation undefined)."""
    n_cols = M.shape[1]
    out = np.full((n_cols, n_cols), np.nan)
    if len(M) < 2 or n_cols == 0:
        return out
    centred = M - M.mean(axis=0)
    norm = np.sqrt((centred ** 2).sum(axis=0))
    ok = norm > 1e-12 * np.maximum(1.0, np.abs(M).max(axis=0))
    z = centred[:, ok] / norm[ok]
    sub = np.clip(z.T @ z, -1.0, 1.0)
    idx = np.flatnonzero(ok)
    out[np.ix_(idx, idx)] = sub
    return out


def ks_statistic(real_sorted: np.ndarray, synthetic: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov D: the largest gap between the two empirical CDFs.

    The computation of ``scipy.stats.ks_2samp``'s statistic (both ECDFs
    evaluated at every pooled value), without its p-value: the test
    checks equality with scipy.
    """
    syn_sorted = np.sort(synthetic)
    pooled = np.concatenate([real_sorted, syn_sorted])
    cdf_real = np.searchsorted(real_sorted, pooled, side="right") / len(real_sorted)
    cdf_syn = np.searchsorted(syn_sorted, pooled, side="right") / len(syn_sorted)
    return float(np.max(np.abs(cdf_real - cdf_syn)))


def column_shapes(ref: RealColumns, synthetic: np.ndarray) -> np.ndarray:
    """Per column: KS complement (numeric) or TV complement (categorical), in schema order.

    * numeric — ``1 - D``, D the two-sample Kolmogorov-Smirnov statistic of
      real vs synthetic values (sdmetrics.single_column.statistical.KSComplement);
    * categorical — ``1 - ½ Σ_c |p_real(c) - p_syn(c)|`` over the categories
      (sdmetrics.single_column.statistical.TVComplement), synthetic codes read
      as their nearest category.

    1 = same distribution, 0 = disjoint. Defined whenever both sides have a row.
    """
    out = np.empty(len(ref.schema))
    syn_codes = category_codes(synthetic, ref.schema)
    for j in ref.schema.numeric_indices:
        out[j] = 1.0 - ks_statistic(ref.real_sorted[:, j], synthetic[:, j])
    for j, real_codes in ref.codes.items():
        k = ref.n_levels[j]
        p_real = np.bincount(real_codes, minlength=k) / len(real_codes)
        p_syn = np.bincount(syn_codes[j], minlength=k) / len(syn_codes[j])
        out[j] = 1.0 - 0.5 * np.abs(p_real - p_syn).sum()
    return out


@dataclass(frozen=True)
class PairTrends:
    scores: np.ndarray      # one similarity per scored pair
    n_undefined: int        # numeric pairs left out: a column constant in the real or the synthetic rows


def pair_trends(ref: RealColumns, synthetic: np.ndarray) -> PairTrends:
    """Similarity of every column pair's relation in real vs synthetic rows.

    * numeric x numeric — correlation similarity ``1 - |ρ_real - ρ_syn| / 2``
      with Pearson's ρ (sdmetrics.column_pairs.CorrelationSimilarity, its
      default coefficient); undefined when a column is constant on either
      side (counted in ``n_undefined``);
    * a pair with a categorical column — contingency similarity ``1 - ½ Σ
      |q_real - q_syn|`` over the cells of the pair's normalised contingency
      table, numeric columns cut into 10 equal-width bins of the real values
      (sdmetrics.column_pairs.ContingencySimilarity, ``num_discrete_bins=10``).

    1 = same relation, 0 = opposite (correlation) or disjoint (contingency).
    """
    schema = ref.schema
    scores: list[np.ndarray] = []
    undefined = 0
    num = schema.numeric_indices
    if len(num) >= 2:
        syn_corr = _pearson(synthetic[:, num])
        iu = np.triu_indices(len(num), k=1)
        r, s = ref.real_corr[iu], syn_corr[iu]
        ok = ~(np.isnan(r) | np.isnan(s))
        scores.append(1.0 - np.abs(r[ok] - s[ok]) / 2.0)
        undefined = int((~ok).sum())
    if schema.categorical_indices:
        syn_codes = category_codes(synthetic, schema)
        syn_discrete = {j: syn_codes[j] if j in syn_codes else np.digitize(synthetic[:, j], ref.bins[j])
                        for j in range(len(schema))}
        cat = set(schema.categorical_indices)
        contingency = []
        for a in range(len(schema)):
            for b in range(a + 1, len(schema)):
                if a not in cat and b not in cat:
                    continue
                kb = ref.n_levels[b]
                size = ref.n_levels[a] * kb
                q_real = np.bincount(ref.real_discrete[a] * kb + ref.real_discrete[b], minlength=size)
                q_syn = np.bincount(syn_discrete[a] * kb + syn_discrete[b], minlength=size)
                tv = 0.5 * np.abs(q_real / len(ref.real) - q_syn / len(synthetic)).sum()
                contingency.append(1.0 - tv)
        scores.append(np.asarray(contingency))
    return PairTrends(np.concatenate(scores) if scores else np.empty(0), undefined)


def range_adherence(real: np.ndarray, synthetic: np.ndarray, schema: FeatureSchema) -> np.ndarray:
    """Per numeric column: share of synthetic values inside [min, max] of the real values.

    sdmetrics.single_column.statistical.BoundaryAdherence. 1 = every value
    inside the real range.
    """
    num = schema.numeric_indices
    lo, hi = real[:, num].min(axis=0), real[:, num].max(axis=0)
    inside = (synthetic[:, num] >= lo) & (synthetic[:, num] <= hi)
    return inside.mean(axis=0)


def category_adherence(real: np.ndarray, synthetic: np.ndarray, schema: FeatureSchema) -> np.ndarray:
    """Per categorical column: share of synthetic values that are a category seen in the real rows.

    sdmetrics.single_column.statistical.CategoryAdherence, on codes: a value
    adheres only if it *is* the code of a real row's category (an
    interpolated 2.4, or a category the real minority never shows, does not).
    """
    out = [np.isin(synthetic[:, j], np.unique(real[:, j])).mean() for j in schema.categorical_indices]
    return np.asarray(out, dtype=float)
