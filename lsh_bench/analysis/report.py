"""Write every table and figure to ``out`` and a README that shows them.

The one place that does output I/O. It makes what the input allows and
names the rest in the README's "Missing" section (a method with no results,
datasets without a score, no few-shot rows, no ratio statistics), so a
partial results store gives a partial report, never a crash. Nothing
written holds a timestamp: the same input and seed give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lsh_bench.analysis import figures, ranking, ranking_tables, tables
from lsh_bench.analysis.errors import AnalysisInputError
from lsh_bench.analysis.load import Inputs, methods_in
from lsh_bench.analysis.quality import quality_tables
from lsh_bench.analysis.ranking import Ranking
from lsh_bench.analysis.stats import NSAMPLES, PAIRS, paired

#: The synthetic rows' quality (lsh_bench.analysis.quality; made together, from quality.parquet).
QUALITY_TABLES: tuple[str, ...] = ("quality", "quality_ir", "quality_correlations")
#: Artefacts in README order; ``only=`` takes these names.
TABLES: tuple[str, ...] = ("table1", "table2", "signed_rank", "friedman", "ranking",
                           "correlations", "achievement", "table3", "table6", "runtime",
                           "llm_cost", *QUALITY_TABLES)
FIGURES: tuple[str, ...] = ("figure2", "figure3", "figure4", "posteriors", "cd_diagram")
#: Artefacts made from the Friedman/Nemenyi ranking (all or none).
RANKING_ARTEFACTS: tuple[str, ...] = ("friedman", "ranking", "cd_diagram")
ARTEFACTS: tuple[str, ...] = TABLES + ("figures",) + FIGURES

TITLES = {
    "table1": "Table 1 \u2014 pairwise comparison on test F1, all datasets",
    "table2": "Table 2 \u2014 pairwise comparison by IR group (more / mid / less imbalanced)",
    "correlations": "Correlations with IR (margins and achievement rates)",
    "achievement": "Achievement rate (test / validation) per method",
    "table3": "Table 3 \u2014 few-shot and zero-shot test F1",
    "table6": "Table 6 \u2014 validation, test and achievement per dataset",
    "runtime": "Runtime \u2014 LM vs LS resampling cost per ratio (Figure 4 data)",
    "signed_rank": "Bayesian signed-rank test of every pair of methods (test F1 and CV F1)",
    "friedman": "Friedman test over all ranked methods",
    "ranking": "Ranking of all methods \u2014 mean rank and Nemenyi p-values",
    "llm_cost": "LLM cost per method",
    "quality": "Quality of the synthetic rows per method (quality.parquet)",
    "quality_ir": "Quality of the synthetic rows per IR group (general scenario)",
    "quality_correlations": "Quality of the synthetic rows vs the test-F1 margin over SM, across datasets",
}
NOTES = {
    "table1": "W/T/L: first vs second, tie = equal after rounding to {decimals} decimals; "
              "mean_margin = mean(first \u2212 second); Bayesian sign test (baycomp) with "
              "rope {rope:g}, seed {seed}: P(first better), P(practically equal), "
              "P(second better). n = datasets where both have a test F1.",
    "table2": "Datasets sorted by IR descending (ties: dataset name ascending), cut into "
              "thirds by position; a remainder goes to the more imbalanced groups first.",
    "correlations": "scipy.stats pearsonr / spearmanr over datasets with both values; "
                    "margin = first_t \u2212 second_t.",
    "achievement": "std_ddof0: population standard deviation (ddof=0), the paper's np.std; std: sample "
                   "(ddof=1). Paper (mean/np.std): SM 0.9146/0.1888, LM 0.9406/0.1739, LS 0.9380/0.1303.",
    "table3": "SM is N/A by design in these scenarios. ALL1 (not in the paper): F1 of predicting every "
              "row minority, no model; the validation folds are mostly minority here, so a selected "
              "model has to beat it there to have learnt anything. val_is_ALL1: methods whose selected "
              "model scored exactly ALL1 on validation, i.e. did no better than predicting all minority. "
              "llm_generator: the generator/prompt set of the LM and LS rows (paper = the paper's code, "
              "guarded = the harness's; for guarded, which ranges bound a column with no minority row: "
              "declared = the model's own, training = the model's within the training part's).",
    "table6": "N/A: no score (not applicable, not run, or failed; see Missing). llm_generator: the generator/"
              "prompt set of the LM and LS rows (paper = the paper's code, guarded = the harness's).",
    "runtime": "Sums over the CV folds (folds = their count; the refit is left out); "
               "resample_seconds_mean is per fold.",
    "signed_rank": "Bayesian signed-rank test (baycomp.SignedRankTest), rope {rope:g}, seed "
                   "{seed}, scores rounded to {decimals} decimals; n = datasets where both have "
                   "the score. score test: test F1 (*_t). score cv: mean CV fold F1 of each "
                   "method's selected cell (*_v; optimistic for every method alike, as it is "
                   "the score selection maximised) \u2014 baycomp's hierarchical test over the "
                   "folds is not used (unseeded in baycomp 1.0.3 and needs pystan; see "
                   "docs/analysis.md).",
    "friedman": "scipy.stats.friedmanchisquare on test F1 rounded to {decimals} decimals, over "
                "the datasets where every ranked method has a score (n; n_dropped datasets "
                "left out, named under Missing). critical_difference: Nemenyi's CD at alpha "
                "(Demšar 2006): mean ranks further apart than this differ.",
    "ranking": "Per dataset the methods are ranked on test F1 (1 = best, ties share the mean "
               "rank); mean_rank and mean_test_f1 over the Friedman test's datasets. "
               "p_vs_M: Nemenyi post-hoc p-value against M (scikit-posthocs).",
    "llm_cost": "Summed over the units in the store: LLM calls, tokens and seconds the runs "
                "spent on the model (answers replayed from the cache are not counted), cost "
                "where a price is configured (0 for the local model), and the units' wall time.",
    "quality": "Per unit: the mean of each metric over its CV rows (folds 0..4, every applicable ratio; the "
               "refit left out, its ratio is the method's own choice), undefined values left out; then the "
               "mean over units. paper_knn_ratio = paper_knn_mean / paper_knn_real_mean (1: as close as the real "
               "rows are to each other). Columns and directions: docs/quality.md.",
    "quality_ir": "The unit means of the quality table, general scenario, per IR group of Table 2.",
    "quality_correlations": "Across general-scenario datasets: scipy pearsonr / spearmanr of a unit's metric "
                            "(of = LS or LM: that method's rows; of = LS-SM / LM-SM: the difference of the two "
                            "methods' metric) with the test-F1 margin (first_t \u2212 SM_t); n = datasets "
                            "with both.",
}
FIGURE_TITLES = {
    "figure2": "Figure 2 \u2014 margin of test F1 vs IR",
    "figure3": "Figure 3 \u2014 achievement rate vs IR",
    "figure4": "Figure 4 \u2014 LM vs LS cost per ratio",
    "posteriors": "Sign-test posteriors (all datasets)",
    "posterior_bars": "Sign-test probabilities of every test (Tables 1\u20132)",
    "cd_diagram": "Critical-difference diagram \u2014 Friedman/Nemenyi ranking of all methods",
}


@dataclass
class Settings:
    """Knobs of one analysis run (all in the README, so it can be redone)."""

    seed: int = 0
    rope: float = 0.01
    decimals: int = 4
    nsamples: int = NSAMPLES
    only: tuple[str, ...] = ()
    command: str = ""
    rank_methods: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()     # Tables 1/2; empty = the paper's three


@dataclass
class Report:
    """What a run wrote and what it could not make, and why."""

    written: list[Path] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, list[Path]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    ranking: Ranking | None = None


def parse_only(text: str | None) -> tuple[str, ...]:
    """``only=table1,figures`` -> ("table1", "figures"); unknown names are an error."""
    if not text:
        return ()
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if n not in ARTEFACTS]
    if bad:
        raise AnalysisInputError(
            f"only=: unknown name(s) {', '.join(bad)}; choose from {', '.join(ARTEFACTS)}")
    return names


def _wanted(name: str, only: tuple[str, ...]) -> bool:
    if not only:
        return True
    return name in only or (name in FIGURES and "figures" in only)


def _unit_status(status: pd.DataFrame | None, dataset: str, scenario: str, method: str) -> tuple[str, str] | None:
    """(status, reason) of one unit in the store; ("not run", "") if it has none; None without a store."""
    if status is None:
        return None
    st = status[(status["dataset"] == dataset) & (status["scenario"] == scenario) & (status["method"] == method)]
    return (str(st["status"].iloc[0]), str(st["reason"].iloc[0] or "")) if len(st) else ("not run", "")


def _status_tally(status: pd.DataFrame | None, scenarios: list[str], method: str) -> str:
    """" (failed: 3, not_applicable: 1)": how a method's units in these scenarios ended; "" without a store."""
    if status is None:
        return ""
    st = status[status["scenario"].isin(scenarios) & (status["method"] == method)]
    tally = st["status"].value_counts().sort_index()
    return " (" + ", ".join(f"{k}: {v}" for k, v in tally.items()) + ")" if len(tally) else ""


def missing_inputs(inputs: Inputs) -> list[str]:
    """Plain-language lines naming every absent method, dataset score and input."""
    lines: list[str] = []
    general = inputs.general
    n = len(general)
    status = inputs.status
    for m in methods_in(general):
        absent = general.loc[general[f"{m}_t"].isna(), "dataset"].tolist()
        if not absent:
            continue
        if len(absent) == n:
            lines.append(f"{m}: no results on any of the {n} datasets{_status_tally(status, ['general'], m)}.")
            continue
        why = []
        for ds in absent:
            found = _unit_status(status, ds, "general", m)
            reason = "" if found is None else (f"{found[0]}: {found[1]}" if found[1] else found[0])
            why.append(f"{ds} ({reason})" if reason else ds)
        lines.append(f"{m}: no test score on {len(absent)} of {n} datasets: {', '.join(why)}.")
    for first, second in PAIRS:
        k = len(paired(general[f"{first}_t"], general[f"{second}_t"])[0])
        if k < n:
            lines.append(f"{first} vs {second}: compared on n = {k} of {n} datasets.")
    if inputs.fewshot.empty:
        lines.append("Few-/zero-shot: no results in the input, so Table 3 is not produced.")
    else:
        shots = inputs.fewshot
        for m in ("ORG", "LM", "LS"):
            if f"{m}_t" not in shots or shots[f"{m}_t"].isna().all():
                tally = _status_tally(status, sorted(set(shots["scenario"])), m)
                lines.append(f"Few-/zero-shot: no {m} results{tally}.")
                continue
            # Table 3 prints every absent score as N/A: say which are not applicable and which not run
            why = []
            for _, row in shots[shots[f"{m}_t"].isna()].iterrows():
                found = _unit_status(status, row["dataset"], row["scenario"], m)
                why.append(f"{row['dataset']} {row['scenario']}" + (f" ({found[0]})" if found else ""))
            if why:
                lines.append(f"Few-/zero-shot {m}: no test score for {', '.join(why)}.")
    if inputs.ratio_stats is None:
        lines.append("Ratio statistics: none in the input (a scores CSV carries none: pass "
                     "runtime=PATH.csv; a store has them only for done units), so the "
                     "runtime table and Figure 4 are not produced.")
    elif not inputs.ratio_stats["method"].isin(["LM", "LS"]).any():
        lines.append("Ratio statistics: no LM or LS rows, so Figure 4 is not produced.")
    return lines


def _write_table(name: str, df: pd.DataFrame, out: Path, s: Settings) -> list[Path]:
    paths = [out / f"{name}.csv", out / f"{name}.md", out / f"{name}.tex"]
    df.to_csv(paths[0], index=False, lineterminator="\n")
    paths[1].write_text(tables.to_markdown(df, s.decimals), encoding="utf-8")
    paths[2].write_text(tables.to_latex(df, s.decimals, caption=TITLES[name],
                                        label=f"tab:{name}"), encoding="utf-8")
    return paths


def check_pairs(table: pd.DataFrame, pairs: tuple[tuple[str, str], ...]) -> None:
    """``pairs=``: every method named has a score column (an error naming the absent ones otherwise)."""
    absent = sorted({m for pair in pairs for m in pair if f"{m}_t" not in table})
    if absent:
        raise AnalysisInputError(f"pairs=: no scores of {', '.join(absent)}; methods in the input: "
                                 f"{', '.join(methods_in(table))}")


def build_tables(inputs: Inputs, s: Settings, report: Report) -> None:
    """Every table the input allows; reasons for the others go to ``missing``."""
    g = inputs.general
    check_pairs(g, s.pairs)
    kw = dict(rope=s.rope, seed=s.seed, decimals=s.decimals, nsamples=s.nsamples)
    if _wanted("table1", s.only) or _wanted("posteriors", s.only):
        report.tables["table1"] = tables.table1(g, **kw, pairs=s.pairs)
    if _wanted("table2", s.only) or _wanted("posteriors", s.only):
        try:
            report.tables["table2"] = tables.table2(g, **kw, pairs=s.pairs)
        except AnalysisInputError as exc:
            if "table2" in s.only:
                raise
            report.missing.append(f"Table 2 not produced: {exc}.")
    if _wanted("correlations", s.only):
        report.tables["correlations"] = tables.correlations(g)
    if _wanted("achievement", s.only):
        report.tables["achievement"] = tables.achievement(g)
    if _wanted("table3", s.only) and not inputs.fewshot.empty:
        report.tables["table3"] = tables.table3(inputs.fewshot, inputs.provenance)
    if _wanted("table6", s.only):
        report.tables["table6"] = tables.table6(g, inputs.provenance)
    if _wanted("runtime", s.only) and inputs.ratio_stats is not None:
        report.tables["runtime"] = tables.runtime(inputs.ratio_stats)
    if _wanted("signed_rank", s.only):
        methods = ranking_tables.scored_methods(g, s.rank_methods)
        if len(methods) >= 2:
            report.tables["signed_rank"] = ranking_tables.signed_rank(g, methods, **kw)
        else:
            report.missing.append("Signed-rank tests not produced: fewer than 2 methods "
                                  "with test scores.")
    if any(_wanted(n, s.only) for n in RANKING_ARTEFACTS):
        build_ranking(g, s, report)
    if any(_wanted(n, s.only) for n in QUALITY_TABLES):
        made, lacking = quality_tables(inputs.quality, g)
        report.tables.update(made)
        report.missing += lacking
    if _wanted("llm_cost", s.only):
        if inputs.units is not None:
            report.tables["llm_cost"] = tables.llm_cost(inputs.units)
        else:
            report.missing.append("LLM cost: a scores CSV records none (a results store does).")


def build_ranking(general: pd.DataFrame, s: Settings, report: Report) -> None:
    """Friedman/Nemenyi ranking of all methods; what it left out goes to ``missing``.

    Too few methods or datasets is an error when a ranking artefact was
    asked for by name, otherwise the ranking is skipped and named.
    """
    scores = ranking_tables.score_matrix(general, ranking_tables.scored_methods(general, s.rank_methods))
    try:
        r = ranking.rank_methods(scores, decimals=s.decimals)
    except AnalysisInputError as exc:
        if any(n in s.only for n in RANKING_ARTEFACTS):
            raise
        report.missing.append(f"Ranking (Friedman table, CD diagram) not produced: {exc}.")
        return
    report.ranking = r
    report.tables["friedman"] = ranking_tables.friedman_table(r)
    report.tables["ranking"] = ranking_tables.ranking_table(r)
    n_all = len(general)
    if r.unranked:
        report.missing.append(f"Ranking: {', '.join(r.unranked)} left out (no test F1 on any "
                              "dataset).")
    if r.dropped:
        why = [f"{ds} (no {', '.join(ms)})" for ds, ms in sorted(r.dropped.items())]
        report.missing.append(
            f"Ranking: {', '.join(r.mean_ranks.index)} ranked on the {r.n} of {n_all} datasets "
            f"where all have a test F1; dropped {len(r.dropped)}: {', '.join(why)}.")


def build_figures(inputs: Inputs, s: Settings, out: Path, report: Report) -> None:
    g = inputs.general
    if _wanted("figure2", s.only):
        report.figures["figure2"] = figures.figure2_margins(g, out)
    if _wanted("figure3", s.only):
        report.figures["figure3"] = figures.figure3_achievement(g, out)
    if _wanted("figure4", s.only) and inputs.ratio_stats is not None:
        report.figures["figure4"] = figures.figure4_runtime(
            tables.runtime(inputs.ratio_stats), out)
    if _wanted("posteriors", s.only):
        report.figures["posteriors"] = figures.figure_posteriors(
            g, out, rope=s.rope, seed=s.seed, decimals=s.decimals, nsamples=s.nsamples)
        pairs = pd.concat([t for k, t in report.tables.items() if k in ("table1", "table2")])
        report.figures["posterior_bars"] = figures.figure_sign_test_bars(pairs, out)
    if _wanted("cd_diagram", s.only) and report.ranking is not None:
        report.figures["cd_diagram"] = figures.figure_cd_diagram(report.ranking, out)
    for name, paths in report.figures.items():
        if not paths:
            report.missing.append(f"{FIGURE_TITLES[name]}: nothing to draw "
                                  "(no scores for it in the input).")


def readme(inputs: Inputs, s: Settings, report: Report) -> str:
    """All tables (Markdown) and figures of the run, with the Missing section first."""
    lines = ["# LSH benchmark \u2014 paper tables and figures", "",
             f"Input: `{inputs.source}` ({len(inputs.general)} datasets in the general "
             f"scenario, {len(inputs.fewshot)} few-/zero-shot rows). "
             f"Seed {s.seed}, rope {s.rope:g}, decimals {s.decimals}, "
             f"{s.nsamples} posterior samples per sign test.", ""]
    if s.command:
        lines += [f"Regenerate: `{s.command}`", ""]
    lines += ["## Missing", ""]
    lines += [f"- {m}" for m in report.missing] or ["- Nothing: every table and figure "
                                                    "was produced from complete input."]
    lines.append("")
    for name in TABLES:
        if name in report.tables and _wanted(name, s.only):
            lines += [f"## {TITLES[name]}", "",
                      NOTES[name].format(rope=s.rope, seed=s.seed, decimals=s.decimals), "",
                      tables.to_markdown(report.tables[name], s.decimals),
                      f"Files: `{name}.csv`, `{name}.md`, `{name}.tex`.", ""]
    lines += ["## Figures", ""]
    for name, paths in report.figures.items():
        if paths:
            png, pdf = paths
            lines += [f"### {FIGURE_TITLES[name]}", "", f"![{FIGURE_TITLES[name]}]({png.name})",
                      "", f"PDF: `{pdf.name}`", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def run(inputs: Inputs, out: str | Path, settings: Settings | None = None) -> Report:
    """Make every requested artefact in ``out``; README on full runs.

    With ``only=...`` just those artefacts are rewritten and the README is
    left alone (it would otherwise lose the tables not asked for).
    """
    s = settings or Settings()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(missing=missing_inputs(inputs))
    build_tables(inputs, s, report)
    for name, df in report.tables.items():
        if _wanted(name, s.only):
            report.written += _write_table(name, df, out, s)
    build_figures(inputs, s, out, report)
    for paths in report.figures.values():
        report.written += paths
    if not s.only:
        path = out / "README.md"
        path.write_text(readme(inputs, s, report), encoding="utf-8")
        report.written.append(path)
    return report
