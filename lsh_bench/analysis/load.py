"""Turn the analysis inputs into the paper's layouts.

Two inputs, one layout:
- a scores CSV in the paper's Table 6 layout (``dataset, ir, SM_v, SM_t,
  LM_v, LM_t, LS_v, LS_t``; ``*_a`` read if present, else test/validation);
- the harness's results store, through ``lsh_bench.store.load_summary`` and
  ``load_ratio_stats`` (one row per unit / per ratio and fold).

Both become :class:`Inputs`: a *general* table (one row per dataset, columns
``dataset, ir, <M>_v, <M>_t, <M>_a`` per method M), a *few/zero-shot* table
(same, one row per dataset and scenario) and, from the store, the ratio
statistics and each unit's status. The adapters take DataFrames, so they are
tested without a store; :func:`load_results` is the thin I/O edge.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lsh_bench import store
from lsh_bench.analysis.errors import AnalysisInputError
from lsh_bench.analysis.load_records import unit_provenance
from lsh_bench.analysis.stores import check_no_unit_in_two_stores, results_dirs
from lsh_bench.analysis.stats import METHODS, achievement_rate

#: Columns a scores CSV must have (the paper's Table 6 without ``*_a``).
REQUIRED_SCORE_COLUMNS: tuple[str, ...] = (
    "dataset", "ir", "SM_v", "SM_t", "LM_v", "LM_t", "LS_v", "LS_t",
)
#: Cell texts that mean "no score" (the paper prints N/A).
MISSING_TOKENS = frozenset({"", "n/a", "na", "nan", "none", "-", "\u2014", "\u2013"})
#: Scenarios of the spec; "general" is Table 6, the other two Table 3.
SCENARIOS: tuple[str, ...] = ("general", "fewshot05", "fewshot", "zeroshot")
SHOT_SCENARIOS: tuple[str, ...] = ("fewshot05", "fewshot", "zeroshot")

SUMMARY_COLUMNS: tuple[str, ...] = (
    "dataset", "ir", "scenario", "method", "status", "val_f1", "test_f1",
)
RATIO_STATS_COLUMNS: tuple[str, ...] = (
    "dataset", "scenario", "method", "ratio", "fold", "resample_seconds",
    "llm_calls", "llm_seconds", "llm_prompt_tokens", "llm_completion_tokens",
)
#: ``<M>_v`` / ``<M>_t`` / ``<M>_a``: the method is everything before the last
#: ``_`` (so ``LS_S2_t`` is method ``LS_S2``); any name the store holds flows through.
_SCORE_COLUMN = re.compile(r"^(.+)_([vta])$")


@dataclass
class Inputs:
    """Everything the tables and figures are made from.

    ``general``: Table 6 layout, index-free, one row per dataset.
    ``fewshot``: the same columns plus ``scenario``, few/zero-shot rows.
    ``ratio_stats``: per (dataset, scenario, method, ratio, fold) costs, or
    None when the input has none (a scores CSV).
    ``status``: per (dataset, scenario, method) status and reason from the
    store, or None; used to say *why* a score is missing.
    ``units``: the store's summary rows that were used (one per unit, with
    its LLM accounting), or None for a scores CSV.
    ``provenance``: per unit, what made it
    (:data:`lsh_bench.analysis.load_records.PROVENANCE_COLUMNS`), read from
    the unit records, or None.
    """

    general: pd.DataFrame
    fewshot: pd.DataFrame
    ratio_stats: pd.DataFrame | None = None
    status: pd.DataFrame | None = None
    source: str = ""
    units: pd.DataFrame | None = None
    provenance: pd.DataFrame | None = None
    quality: pd.DataFrame | None = None     # quality.parquet rows of the units used (analysis.quality)


def method_order(methods: list[str] | set[str]) -> list[str]:
    """The paper's SM, LM, LS first, then ORG, then any others by name."""
    head = [m for m in (*METHODS, "ORG") if m in methods]
    return head + sorted(set(methods) - set(head))


def methods_in(table: pd.DataFrame) -> list[str]:
    """Methods that have a score column (``<M>_t``) in a layout table."""
    found = {m.group(1) for c in table.columns if (m := _SCORE_COLUMN.match(str(c)))}
    return method_order(found)


def _finish_layout(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Order columns (keys, paper methods' v/t, then their a) and fill ``*_a``.

    Every method gets ``_v``, ``_t`` and ``_a``, and SM/LM/LS always exist
    (all NaN if absent), so later code never has to ask whether a column is
    there: a missing method is simply missing scores.
    """
    methods = method_order(set(methods_in(table)) | set(METHODS))
    for m in methods:
        for s in ("v", "t", "a"):
            if f"{m}_{s}" not in table:
                table[f"{m}_{s}"] = np.nan
        computed = achievement_rate(table[f"{m}_v"], table[f"{m}_t"])
        table[f"{m}_a"] = table[f"{m}_a"].astype(float).fillna(computed)
    extra = [c for c in ("paper_row",) if c in table]
    cols = keys + extra + [f"{m}_{s}" for m in methods for s in ("v", "t")]
    cols += [f"{m}_a" for m in methods]
    sort = [k for k in ("scenario", "dataset") if k in keys]
    return table[cols].sort_values(sort, kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------
# Scores CSV
# --------------------------------------------------------------------------

def _to_number(cell: str, column: str, line: int, dataset: str) -> float:
    text = cell.strip()
    if text.lower() in MISSING_TOKENS:
        return np.nan
    try:
        return float(text)
    except ValueError:
        raise AnalysisInputError(
            f"column {column}, line {line} (dataset {dataset!r}): "
            f"{text!r} is not a number"
        ) from None


def read_scores_text(text: str, name: str = "scores") -> Inputs:
    """Parse a scores CSV given as text (see :func:`read_scores_csv`).

    Leading lines starting with ``#`` are comments (the synthetic fixture
    labels itself that way). Error messages give the *file line* of a bad
    cell, counting comments and the header, so an editor jumps straight to it.
    """
    lines = text.splitlines()
    n_comments = 0
    while n_comments < len(lines) and lines[n_comments].lstrip().startswith("#"):
        n_comments += 1
    body = "\n".join(lines[n_comments:])
    if not body.strip():
        raise AnalysisInputError(f"{name}: no header line (empty file)")
    raw = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in REQUIRED_SCORE_COLUMNS if c not in raw.columns]
    if missing:
        raise AnalysisInputError(f"{name}: missing column(s): {', '.join(missing)}")
    if raw.empty:
        raise AnalysisInputError(f"{name}: no data rows")
    raw["dataset"] = raw["dataset"].str.strip()
    first_line = n_comments + 2  # header is line n_comments + 1
    if (raw["dataset"] == "").any():
        i = int(np.flatnonzero(raw["dataset"] == "")[0])
        raise AnalysisInputError(f"column dataset, line {first_line + i}: empty dataset name")
    if "scenario" in raw:
        raw["scenario"] = raw["scenario"].str.strip().replace("", "general")
        bad = sorted(set(raw["scenario"]) - set(SCENARIOS))
        if bad:
            raise AnalysisInputError(
                f"column scenario: unknown value(s) {', '.join(bad)} "
                f"(expected {', '.join(SCENARIOS)})"
            )
    else:
        raw["scenario"] = "general"
    dup = raw.duplicated(["dataset", "scenario"], keep=False)
    if dup.any():
        names = sorted(set(raw.loc[dup, "dataset"]))
        raise AnalysisInputError(f"{name}: duplicate datasets: {', '.join(names)}")

    numeric = ["ir"] + [c for c in raw.columns if c == "paper_row" or _SCORE_COLUMN.match(c)]
    table = raw[["dataset", "scenario"]].copy()
    for col in numeric:
        table[col] = [
            _to_number(cell, col, first_line + i, ds)
            for i, (cell, ds) in enumerate(zip(raw[col], raw["dataset"]))
        ]
    if table["ir"].isna().any():
        i = int(np.flatnonzero(table["ir"].isna())[0])
        raise AnalysisInputError(
            f"column ir, line {first_line + i} (dataset {raw['dataset'][i]!r}): "
            "IR is empty; every dataset needs its majority/minority ratio"
        )
    return _split_scenarios(table, source=name)


def read_scores_csv(path: str | Path) -> Inputs:
    """Read a scores CSV in the paper's Table 6 layout.

    Required columns: :data:`REQUIRED_SCORE_COLUMNS`. Optional: ``*_a``
    (achievement rate; computed as test/validation where empty), any other
    method as ``<M>_v/<M>_t`` (e.g. ``ORG_t``), ``paper_row``, and
    ``scenario`` (general/fewshot/zeroshot; default general) so a single
    file can also carry Table 3. Empty or "N/A" cells are missing scores.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AnalysisInputError(f"cannot read scores file {path}: {exc.strerror}") from None
    return read_scores_text(text, name=str(path))


def _split_scenarios(table: pd.DataFrame, source: str) -> Inputs:
    general = table[table["scenario"] == "general"].drop(columns="scenario")
    shots = table[table["scenario"].isin(SHOT_SCENARIOS)]
    return Inputs(
        general=_finish_layout(general.copy(), ["dataset", "ir"]),
        fewshot=_finish_layout(shots.copy(), ["dataset", "ir", "scenario"]),
        source=source,
    )


# --------------------------------------------------------------------------
# Results store
# --------------------------------------------------------------------------

def _check_columns(df: pd.DataFrame, required: tuple[str, ...], what: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise AnalysisInputError(f"{what}: missing column(s): {', '.join(missing)}")


def select_config(summary: pd.DataFrame, config_hash: str | None = None) -> pd.DataFrame:
    """Keep one configuration per (dataset, scenario, method).

    Two configurations of the same unit (e.g. a rerun with another grid)
    must not be mixed silently into one table: without a ``config_hash``
    filter that is an error listing them.
    """
    if "config_hash" not in summary:
        summary = summary.assign(config_hash="")
    summary = summary.assign(config_hash=summary["config_hash"].fillna("").astype(str))
    if config_hash is not None:
        kept = summary[summary["config_hash"] == config_hash]
        if kept.empty:
            have = ", ".join(sorted(set(summary["config_hash"]))) or "none"
            raise AnalysisInputError(
                f"no results with config_hash {config_hash}; available: {have}"
            )
        summary = kept
    key = ["dataset", "scenario", "method"]
    hashes = summary.groupby(key, sort=True)["config_hash"].unique()
    several = hashes[hashes.map(len) > 1]
    if len(several):
        shown = [f"{d}/{s}/{m}: {', '.join(sorted(h))}" for (d, s, m), h in several.items()]
        more = f" (and {len(shown) - 5} more)" if len(shown) > 5 else ""
        raise AnalysisInputError(
            "several config_hash values for the same unit; choose one with "
            f"config_hash=...: {'; '.join(shown[:5])}{more}"
        )
    dup = summary.duplicated(key, keep=False)
    if dup.any():
        units = sorted({"/".join(map(str, r)) for r in summary.loc[dup, key].to_numpy()})
        raise AnalysisInputError(f"duplicate units in the results store: {', '.join(units[:5])}")
    return summary


def from_summary(
    summary: pd.DataFrame,
    ratio_stats: pd.DataFrame | None = None,
    config_hash: str | None = None,
    source: str = "results store",
) -> Inputs:
    """Adapter: ``store.load_summary`` (+ ``load_ratio_stats``) -> :class:`Inputs`.

    Scores count only where ``status == "done"``; every other status keeps
    its row in ``Inputs.status`` so the report can say why a score is
    missing. Datasets are those with any general-scenario unit, done or not,
    so a dataset whose units all failed still counts in the IR groups.
    """
    _check_columns(summary, SUMMARY_COLUMNS, "results summary")
    summary = select_config(summary.copy(), config_hash)
    summary["method"] = summary["method"].astype(str).str.upper()
    summary["scenario"] = summary["scenario"].astype(str)
    done = summary["status"] == "done"
    val = summary["val_f1"].astype(float).where(done)
    test = summary["test_f1"].astype(float).where(done)
    ach = summary["achievement"].astype(float).where(done) if "achievement" in summary \
        else pd.Series(np.nan, index=summary.index)
    long = pd.DataFrame({
        "dataset": summary["dataset"].astype(str), "scenario": summary["scenario"],
        "method": summary["method"], "v": val, "t": test, "a": ach,
    })
    wide = long.pivot(index=["dataset", "scenario"], columns="method", values=["v", "t", "a"])
    wide.columns = [f"{m}_{s}" for s, m in wide.columns]
    per = summary.groupby(["dataset", "scenario"], sort=True)
    wide["ir"] = per["ir"].first().astype(float)
    if "paper_row" in summary:
        wide["paper_row"] = per["paper_row"].first()
    table = wide.reset_index()
    unknown = sorted(set(table["scenario"]) - set(SCENARIOS))
    if unknown:
        raise AnalysisInputError(f"results summary: unknown scenario(s) {', '.join(unknown)}")
    inputs = _split_scenarios(table, source=source)
    _add_all_minority(inputs, summary)
    reason = summary["reason"] if "reason" in summary else ""
    inputs.status = pd.DataFrame({
        "dataset": summary["dataset"].astype(str), "scenario": summary["scenario"],
        "method": summary["method"], "status": summary["status"].astype(str),
        "reason": pd.Series(reason, index=summary.index).fillna("").astype(str),
    }).sort_values(["scenario", "dataset", "method"], kind="mergesort").reset_index(drop=True)
    inputs.ratio_stats = normalise_ratio_stats(ratio_stats, config_hash)
    inputs.units = summary.sort_values(["scenario", "method", "dataset"],
                                       kind="mergesort").reset_index(drop=True)
    return inputs


def _add_all_minority(inputs: Inputs, summary: pd.DataFrame) -> None:
    """Few-/zero-shot layout: ``ALL1_v``/``ALL1_t``, F1 of predicting every row minority.

    Recorded with each unit since version 0.1 (``all_minority``); the same for
    every method of a (dataset, scenario), as it depends on the split only.
    Not added to the general layout, where it is no method to compare with.
    """
    cols = {"all_minority_val_f1": "ALL1_v", "all_minority_test_f1": "ALL1_t"}
    if inputs.fewshot.empty or not set(cols) <= set(summary.columns):
        return
    per = summary[summary["scenario"].isin(SHOT_SCENARIOS)].groupby(["dataset", "scenario"])
    base = per[list(cols)].first().rename(columns=cols).astype(float)
    if base.isna().all().all():
        return          # a store written before the field existed
    shots = inputs.fewshot.drop(columns=[c for c in cols.values() if c in inputs.fewshot])
    inputs.fewshot = shots.merge(base.reset_index(), on=["dataset", "scenario"], how="left")


def normalise_ratio_stats(
    stats: pd.DataFrame | None, config_hash: str | None = None
) -> pd.DataFrame | None:
    """Validate ``store.load_ratio_stats`` output (or a CSV of it).

    ``fold`` is 0-4 for CV folds and -1 for the refit on the whole 70%.
    An empty table is treated as no table.
    """
    if stats is None or len(stats) == 0:
        return None
    _check_columns(stats, RATIO_STATS_COLUMNS, "ratio stats")
    stats = stats.copy()
    if config_hash is not None and "config_hash" in stats:
        stats = stats[stats["config_hash"].astype(str) == config_hash]
    stats["method"] = stats["method"].astype(str).str.upper()
    for col in RATIO_STATS_COLUMNS[3:]:
        values = pd.to_numeric(stats[col], errors="coerce")
        bad = values.isna() & stats[col].notna()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise AnalysisInputError(
                f"ratio stats: column {col}, row {i + 1}: {stats[col].iloc[i]!r} is not a number"
            )
        stats[col] = values
    cols = list(RATIO_STATS_COLUMNS)
    return stats[cols].sort_values(cols[:5], kind="mergesort").reset_index(drop=True)


def read_ratio_stats_csv(path: str | Path) -> pd.DataFrame | None:
    """Ratio statistics saved as CSV (same columns as the store's)."""
    try:
        return normalise_ratio_stats(pd.read_csv(path))
    except OSError as exc:
        raise AnalysisInputError(f"cannot read ratio stats {path}: {exc.strerror}") from None


def load_results(results: str | Path | Sequence[str | Path], config_hash: str | None = None) -> Inputs:
    """Read the harness's results store(s) (the I/O edge of :func:`from_summary`).

    Several stores are read as one; a unit (dataset, scenario, method,
    config hash) present in two of them is an error naming both, since
    counting it twice or keeping either copy silently would misreport.
    """
    dirs = results_dirs(results)
    summaries = []
    for results_dir in dirs:
        if not results_dir.exists():
            raise AnalysisInputError(f"results directory {results_dir} does not exist")
        summary = store.load_summary(results_dir)
        if summary is None or len(summary) == 0:
            raise AnalysisInputError(f"results directory {results_dir} holds no results")
        summaries.append(summary.assign(_store=str(results_dir)))
    summary = pd.concat(summaries, ignore_index=True)
    check_no_unit_in_two_stores(summary)
    frames = [f for f in (store.load_ratio_stats(d) for d in dirs) if len(f)]   # empty: no unit wrote any
    ratio_stats = pd.concat(frames, ignore_index=True) if frames else None
    inputs = from_summary(summary.drop(columns="_store"), ratio_stats, config_hash, source=",".join(map(str, dirs)))
    records = [rec for d in dirs for _, rec in store.iter_records(d)]
    inputs.provenance = unit_provenance(records, inputs.units)
    return inputs
