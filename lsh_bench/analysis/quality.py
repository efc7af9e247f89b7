"""Quality of the synthetic rows in the report: a table per method (and per IR group), and how it relates to F1.

Input: every unit's ``quality.parquet`` (``docs/quality.md``), for the units
the report uses (same config hashes as the scores). One number per unit and
metric: the mean over the unit's **CV rows** (folds 0..4, every applicable
ratio), so every method of a dataset is averaged over the same kind of
training parts; the refit row (fold -1) is left out because its ratio is
the method's own choice. A metric that is NaN in a row (undefined, named in
its ``undefined`` column) is left out of that mean and counted
(``rows_undefined``).

* :func:`quality_table` — per scenario and method: units, and the mean over
  units of each metric;
* :func:`quality_ir_table` — the same for the general scenario per IR group
  (``stats.ir_groups``, the groups of Table 2);
* :func:`quality_correlations` — across datasets of the general scenario:
  Pearson/Spearman of each metric with the test-F1 margin of LS over SM and
  of LM over SM, for the first method's rows (``of = LS``) and for the
  difference of the two methods' metric (``of = LS-SM``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lsh_bench import store
from lsh_bench.analysis.errors import AnalysisInputError
from lsh_bench.analysis.load import method_order
from lsh_bench.analysis.stores import results_dirs
from lsh_bench.analysis.stats import correlation, ir_groups

#: The metrics the report shows (direction and meaning: docs/quality.md).
METRICS: tuple[str, ...] = (
    "paper_knn_mean", "paper_knn_ratio", "paper_unc_mean", "column_shape", "pair_trend", "range_adherence",
    "category_adherence", "copy_share", "shown_copy_share", "unique_share", "dcr_ratio", "detection_auc",
    "llm_tokens_per_row", "quality_seconds",
)
UNIT_KEYS = ["dataset", "scenario", "method", "config_hash"]
MARGIN_PAIRS: tuple[tuple[str, str], ...] = (("LS", "SM"), ("LM", "SM"))


def load_quality(results: str | Path | Sequence[str | Path], units: pd.DataFrame | None) -> pd.DataFrame:
    """Every quality row of the units the report uses, with the unit's identity (method upper-case).

    ``results``: one store or several (:func:`lsh_bench.analysis.stores.results_dirs`).
    """
    frames = []
    used = None
    if units is not None:
        used = set(zip(units["dataset"], units["scenario"], units["method"].str.upper(), units["config_hash"]))
    records = (item for d in results_dirs(results) for item in store.iter_records(d, damaged=[]))
    for unit_dir, rec in records:
        path = unit_dir / "quality.parquet"
        key = (rec["dataset"], rec["scenario"], str(rec["method"]).upper(), rec["config_hash"])
        if rec["status"] != "done" or not path.is_file() or (used is not None and key not in used):
            continue
        frame = pd.read_parquet(path)
        for col, value in zip(UNIT_KEYS, key):
            frame.insert(UNIT_KEYS.index(col), col, value)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=UNIT_KEYS)


def unit_quality(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per unit: the mean of each metric over its CV rows, and how many rows were undefined."""
    cv = rows[rows["fold"] >= 0].copy()
    cv["paper_knn_ratio"] = cv["paper_knn_mean"] / cv["paper_knn_real_mean"]
    grouped = cv.groupby(UNIT_KEYS, sort=True)
    out = grouped[list(METRICS)].mean()
    out["rows"] = grouped.size()
    out["rows_undefined"] = grouped["undefined"].apply(lambda s: int((s.fillna("") != "").sum()))
    return out.reset_index()


def _summary(units: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    grouped = units.groupby(by, sort=False)
    out = grouped[list(METRICS)].mean()
    out.insert(0, "units", grouped.size())
    return out.reset_index()


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    order = {m: i for i, m in enumerate(method_order(set(frame["method"])))}
    return frame.sort_values(["scenario", "method"], key=lambda s: s.map(order) if s.name == "method" else s,
                             kind="stable").reset_index(drop=True)


def quality_table(units: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and method: units and the mean over units of each metric."""
    return _ordered(_summary(units, ["scenario", "method"]))


def quality_ir_table(units: pd.DataFrame, general: pd.DataFrame) -> pd.DataFrame:
    """General scenario, per IR group (Table 2's thirds) and method."""
    groups = ir_groups(general.set_index("dataset")["ir"])
    g = units[units["scenario"] == "general"].assign(ir_group=lambda f: f["dataset"].map(groups))
    g = g[g["ir_group"].notna()]
    table = _summary(g, ["ir_group", "method"])
    rank = {name: i for i, name in enumerate(["more", "mid", "less"])}
    order = {m: i for i, m in enumerate(method_order(set(table["method"])))}
    return table.sort_values(["ir_group", "method"], key=lambda s: s.map(rank if s.name == "ir_group" else order),
                             kind="stable").reset_index(drop=True)


def quality_correlations(units: pd.DataFrame, general: pd.DataFrame) -> pd.DataFrame:
    """Per metric and pair: correlation across datasets of the metric with the test-F1 margin over SM."""
    g = units[units["scenario"] == "general"]
    wide = g.pivot_table(index="dataset", columns="method", values=list(METRICS), aggfunc="first")
    scores = general.set_index("dataset")
    rows = []
    for first, second in MARGIN_PAIRS:
        if f"{first}_t" not in scores or f"{second}_t" not in scores:
            continue
        margin = (scores[f"{first}_t"] - scores[f"{second}_t"]).rename("margin")
        for metric in METRICS:
            value = wide[metric][first] if (metric, first) in wide.columns else pd.Series(dtype=float)
            other = wide[metric][second] if (metric, second) in wide.columns else pd.Series(np.nan, index=value.index)
            for of, series in ((first, value), (f"{first}-{second}", value - other)):
                both = pd.concat([series.rename("x"), margin], axis=1, join="inner")
                rows.append({"metric": metric, "margin": f"{first}-{second}", "of": of,
                             **correlation(both["x"], both["margin"])})
    return pd.DataFrame(rows, columns=["metric", "margin", "of", "n", "pearson_r", "pearson_p", "spearman_rho",
                                       "spearman_p"])


def quality_tables(quality: pd.DataFrame | None, general: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The three quality tables the input allows, and what could not be made (for the README's Missing)."""
    if quality is None or quality.empty:
        return {}, ["Quality tables not produced: no unit in the input has a quality.parquet (a scores CSV has "
                    "none; units finished before the record existed get it on a sweep rerun)."]
    units = unit_quality(quality)
    out = {"quality": quality_table(units)}
    missing = []
    try:
        out["quality_ir"] = quality_ir_table(units, general)
    except AnalysisInputError as exc:   # too few datasets for three IR groups: named, like Table 2
        missing.append(f"Quality by IR group not produced: {exc}.")
    corr = quality_correlations(units, general)
    if corr.empty or not (corr["n"] > 0).any():
        missing.append("Quality correlations not produced: no general-scenario dataset has both the quality "
                       "rows of LS or LM and the test F1 of it and of SM.")
    else:
        out["quality_correlations"] = corr
    return out, missing
