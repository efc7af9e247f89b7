"""The paper's tables as DataFrames, and their Markdown/LaTeX renderings.

Each builder takes the layouts of :mod:`lsh_bench.analysis.load` and returns
a DataFrame whose CSV is the machine-readable artefact; ``to_markdown`` and
``to_latex`` render any of them for the README and the paper. Renderers are
written here (no tabulate/jinja2) so output bytes depend only on our code.
The tables that rank every method at once (Friedman/Nemenyi, signed-rank)
are laid out in :mod:`lsh_bench.analysis.ranking_tables`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lsh_bench.analysis.llm_labels import llm_generator_column
from lsh_bench.analysis.load import method_order, methods_in
from lsh_bench.analysis.stats import (
    IR_GROUPS, METHODS, NSAMPLES, PAIRS, achievement_summary, compare, correlation, ir_groups,
)

#: Columns of table1.csv / table2.csv, exactly.
PAIR_COLUMNS: tuple[str, ...] = (
    "first", "second", "group", "n", "wins", "ties", "losses", "mean_margin",
    "p_first_better", "p_rope", "p_second_better",
)


Pairs = tuple[tuple[str, str], ...]


def _pair_rows(table: pd.DataFrame, group: str, *, rope: float, seed: int,
               decimals: int, nsamples: int, pairs: Pairs = PAIRS) -> list[dict]:
    rows = []
    for first, second in pairs:
        s = compare(table[f"{first}_t"], table[f"{second}_t"], rope=rope,
                    seed=seed, decimals=decimals, nsamples=nsamples)
        rows.append({"first": first, "second": second, "group": group, **s.as_dict()})
    return rows


def table1(general: pd.DataFrame, *, rope: float = 0.01, seed: int = 0,
           decimals: int = 4, nsamples: int = NSAMPLES, pairs: Pairs = ()) -> pd.DataFrame:
    """Paper Table 1: each pair on test F1 over all datasets (group "all").

    ``pairs``: the (first, second) methods compared, e.g. ``(("LS", "SS"),)``
    for the SMOTE+SMOTE ablation; empty = the paper's LM-SM, LS-LM, LS-SM.
    """
    rows = _pair_rows(general, "all", rope=rope, seed=seed, decimals=decimals,
                      nsamples=nsamples, pairs=pairs or PAIRS)
    return pd.DataFrame(rows, columns=list(PAIR_COLUMNS))


def with_groups(general: pd.DataFrame) -> pd.DataFrame:
    """The general table with an ``ir_group`` column (see ``stats.ir_groups``)."""
    groups = ir_groups(general.set_index("dataset")["ir"])
    return general.assign(ir_group=general["dataset"].map(groups))


def table2(general: pd.DataFrame, *, rope: float = 0.01, seed: int = 0,
           decimals: int = 4, nsamples: int = NSAMPLES, pairs: Pairs = ()) -> pd.DataFrame:
    """Paper Table 2: Table 1's statistics within each IR group.

    Groups are made from every dataset of the table (scored or not), so a
    method missing on some datasets changes n, not the groups.
    """
    grouped = with_groups(general)
    pairs = pairs or PAIRS
    rows = []
    for group in IR_GROUPS:
        part = grouped[grouped["ir_group"] == group]
        rows += _pair_rows(part, group, rope=rope, seed=seed, decimals=decimals,
                           nsamples=nsamples, pairs=pairs)
    return pd.DataFrame(rows, columns=list(PAIR_COLUMNS))


def margins(general: pd.DataFrame) -> pd.DataFrame:
    """Per dataset margins of test F1 for every pair, e.g. column ``LS-SM``."""
    out = general[["dataset", "ir"]].copy()
    for first, second in PAIRS:
        out[f"{first}-{second}"] = general[f"{first}_t"] - general[f"{second}_t"]
    return out


def correlations(general: pd.DataFrame) -> pd.DataFrame:
    """Pearson/Spearman of each margin vs IR and each achievement rate vs IR."""
    m = margins(general)
    rows = []
    for first, second in PAIRS:
        rows.append({"quantity": "margin", "of": f"{first}-{second}",
                     **correlation(general["ir"], m[f"{first}-{second}"])})
    for method in METHODS:
        rows.append({"quantity": "achievement", "of": method,
                     **correlation(general["ir"], general[f"{method}_a"])})
    return pd.DataFrame(rows)


def achievement(general: pd.DataFrame) -> pd.DataFrame:
    """Mean and std of the achievement rate (``*_a``) per method."""
    rows = [{"method": m, **achievement_summary(general[f"{m}_a"])}
            for m in methods_in(general)]
    return pd.DataFrame(rows, columns=["method", "n", "mean", "std", "std_ddof0"])


def table3(fewshot: pd.DataFrame, provenance: pd.DataFrame | None = None) -> pd.DataFrame:
    """Paper Table 3: few-/zero-shot test F1 of ORG, SM, LM, LS (and ALL1 when recorded).

    SM is N/A by design at 1:0.01 and 1:0.00 (fewer than k+1 minority rows);
    it is still a column, so the layout matches the paper. ``llm_generator``
    says which generator wrote the LM/LS rows (:func:`llm_generator_column`).
    """
    methods = ["ORG", *METHODS] + [m for m in methods_in(fewshot)
                                   if m not in ("ORG", *METHODS, "ALL1")]
    if "ALL1_t" in fewshot:
        methods.append("ALL1")      # no model: every row predicted minority (see the note)
    out = fewshot[["dataset", "scenario", "ir"]].copy()
    for m in methods:
        col = f"{m}_t"
        out[m] = fewshot[col] if col in fewshot else np.nan
    if "ALL1_v" in fewshot:
        out["val_is_ALL1"] = _methods_at_all1(fewshot, [m for m in methods if m != "ALL1"])
    at = list(out.columns).index("ALL1") if "ALL1" in out else len(out.columns)   # ALL1 columns stay last
    out.insert(at, "llm_generator", llm_generator_column(out, provenance))
    return out.sort_values(["scenario", "dataset"], kind="mergesort").reset_index(drop=True)


def _methods_at_all1(fewshot: pd.DataFrame, methods: list[str]) -> pd.Series:
    """Per row, the methods whose selected model scores exactly ALL1 on validation ("" if none).

    Such a selection did no better than predicting every row minority: on
    mostly-minority validation folds it usually *is* that prediction (its
    test F1 then equals ALL1's too). Equality is exact by construction: the
    runner computes ``all_minority.val_f1`` with selection's own arithmetic;
    the tolerance only absorbs a CSV round trip.
    """
    def at_all1(row: pd.Series) -> str:
        base = row["ALL1_v"]
        if pd.isna(base):
            return ""
        return ", ".join(m for m in methods if f"{m}_v" in row and pd.notna(row[f"{m}_v"])
                         and abs(row[f"{m}_v"] - base) <= 1e-9)

    return fewshot.apply(at_all1, axis=1).astype(str)


def table6(general: pd.DataFrame, provenance: pd.DataFrame | None = None) -> pd.DataFrame:
    """Paper Table 6: validation/test/achievement per dataset, IR descending.

    The columns are those of a scores CSV (plus ``llm_generator``, text, which
    the scores reader ignores), so ``table6.csv`` can be fed back to the
    analysis and gives the same tables.
    """
    out = general.sort_values("dataset", kind="mergesort").sort_values(
        "ir", ascending=False, kind="mergesort").reset_index(drop=True)
    return out.assign(llm_generator=llm_generator_column(out, provenance))


def runtime(ratio_stats: pd.DataFrame) -> pd.DataFrame:
    """Paper Figure 4's numbers: LM vs LS resampling cost per ratio.

    One row per (dataset, scenario, method, ratio) over its CV folds
    (``folds`` counts them): mean and total resampling seconds, and total LLM
    calls, seconds and tokens. The refit (fold -1) is left out: it runs only
    at the chosen ratio, so it would make that one ratio look dearer. LS calls
    the LLM only at its first ratio, so its later ratios should show no calls.
    """
    key = ["dataset", "scenario", "method", "ratio"]
    g = ratio_stats[ratio_stats["fold"] >= 0].groupby(key, sort=True)
    out = g.agg(
        folds=("fold", "size"),
        resample_seconds_mean=("resample_seconds", "mean"),
        resample_seconds_total=("resample_seconds", "sum"),
        llm_calls=("llm_calls", "sum"),
        llm_seconds=("llm_seconds", "sum"),
        llm_prompt_tokens=("llm_prompt_tokens", "sum"),
        llm_completion_tokens=("llm_completion_tokens", "sum"),
    ).reset_index()
    return out


# --------------------------------------------------------------------------
# What the runs cost and what made them: LLM cost, provenance
# (the ranking of all methods at once: ranking_tables.py)
# --------------------------------------------------------------------------

def llm_cost(units: pd.DataFrame) -> pd.DataFrame:
    """LLM cost per scenario and method, summed over the units in the store.

    ``units``/``done`` count units; calls, tokens and seconds are what the
    runs spent on the model (answers replayed from the cache cost nothing
    and are not counted); ``cost`` is the priced cost where a price is
    configured (0 for the local model); ``unit_seconds`` the units' wall time.
    """
    key = ["scenario", "method"]
    u = units.assign(done=(units["status"] == "done").astype(int))
    for col in ("llm_calls", "llm_prompt_tokens", "llm_completion_tokens", "llm_seconds",
                "llm_cost", "seconds"):
        u[col] = pd.to_numeric(u[col], errors="coerce").fillna(0.0)
    out = u.groupby(key, sort=False).agg(
        units=("dataset", "size"), done=("done", "sum"), llm_calls=("llm_calls", "sum"),
        llm_prompt_tokens=("llm_prompt_tokens", "sum"),
        llm_completion_tokens=("llm_completion_tokens", "sum"),
        llm_seconds=("llm_seconds", "sum"), llm_cost=("llm_cost", "sum"),
        unit_seconds=("seconds", "sum"),
    ).reset_index()
    order = {s: i for i, s in enumerate(("general", "fewshot", "zeroshot"))}
    methods = {m: i for i, m in enumerate(method_order(set(out["method"])))}
    return out.sort_values(
        ["scenario", "method"], key=lambda c: c.map(order if c.name == "scenario" else methods),
        kind="mergesort").reset_index(drop=True)


def _joined_counts(values: pd.Series) -> str:
    """"a (3), b": each distinct value, most frequent first, with how many units
    carry it when more than one."""
    counts = values.astype(str).value_counts()
    counts = counts.sort_index(kind="mergesort").sort_values(ascending=False, kind="mergesort")
    return ", ".join(f"{v} ({n})" if n > 1 else v for v, n in counts.items())


def provenance_tables(prov: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """What the unit records say made the results: config hashes per
    scenario/method, git commits, package versions and LLM models, each with
    the number of units that carry it (a mix shows up as several values)."""
    key = ["scenario", "method"]
    configs = prov.groupby(key, sort=True).agg(
        units=("dataset", "size"),
        config_hashes=("config_hash", _joined_counts)).reset_index()
    dirty = prov["git_dirty"].map({True: "dirty", False: "clean"}).fillna("unknown")
    commits = prov.assign(tree=dirty).groupby(["git_commit", "tree"], sort=True).agg(
        units=("dataset", "size"),
        methods=("method", lambda m: ", ".join(sorted(set(m))))).reset_index()
    pk = prov[["packages"]].explode("packages").dropna()
    if len(pk):
        pk = pd.DataFrame(pk["packages"].tolist(), columns=["package", "version"])
        packages = pk.groupby("package", sort=True).agg(
            versions=("version", _joined_counts)).reset_index()
    else:
        packages = pd.DataFrame(columns=["package", "versions"])
    llm = prov[prov["llm_model"].fillna("") != ""]
    models = llm.groupby(["llm_backend", "llm_model"], sort=True).agg(
        units=("dataset", "size"),
        methods=("method", lambda m: ", ".join(sorted(set(m))))).reset_index()
    return {"configs": configs, "commits": commits, "packages": packages, "models": models}


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------

def _cell(value: object, column: str, decimals: int) -> str:
    """One cell as text: missing -> N/A, p-values in 3 significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "N/A"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if column.endswith("_p") or column == "p_value" or column.startswith("p_vs_"):
            return f"{v:.3g}"
        if column == "unit_seconds":
            return f"{v:.1f}"   # wall time of whole units: tenths are plenty
        if column == "ir":
            return f"{v:.2f}"  # Table 5 gives IR to 2 decimals
        if column == "ratio":
            return f"{v:g}"
        if column in ("paper_row", "fold", "folds") or column.startswith("llm_calls") \
                or column.endswith("_tokens"):
            return f"{v:.0f}"
        return f"{v:.{decimals}f}"
    return str(value)


def to_markdown(df: pd.DataFrame, decimals: int = 4) -> str:
    """A GitHub Markdown table; numbers right-aligned."""
    cols = [str(c) for c in df.columns]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    lines = ["| " + " | ".join(c.replace("|", "\\|") for c in cols) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    for row in df.itertuples(index=False):
        cells = [_cell(v, c, decimals).replace("|", "\\|") for v, c in zip(row, cols)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$",
                  "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}", "\u2014": "---", "\u2013": "--",
                  "\u2212": "$-$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(df: pd.DataFrame, decimals: int = 4, caption: str = "", label: str = "") -> str:
    """A booktabs ``table`` environment (needs ``\\usepackage{booktabs}``)."""
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    spec = "".join("r" if n else "l" for n in numeric)
    out = ["\\begin{table}[ht]", "\\centering"]
    if caption:
        out.append(f"\\caption{{{latex_escape(caption)}}}")
    if label:
        out.append(f"\\label{{{label}}}")
    out += [f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
            " & ".join(latex_escape(str(c)) for c in df.columns) + " \\\\", "\\midrule"]
    for row in df.itertuples(index=False):
        cells = [latex_escape(_cell(v, str(c), decimals)) for v, c in zip(row, df.columns)]
        out.append(" & ".join(cells) + " \\\\")
    out += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(out) + "\n"
