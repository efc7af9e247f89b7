"""The paper's Figures 2-4 and the sign-test posteriors, as PNG and PDF.

Figures are built on ``matplotlib.figure.Figure`` (Agg canvas, no pyplot
global state) and saved without timestamps or version stamps, so the same
inputs and seed give byte-identical files. Each function returns the paths
it wrote, or an empty list when there is nothing to draw (the report then
names the figure as missing).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import scikit_posthocs  # noqa: E402

from lsh_bench.analysis.ranking import Ranking  # noqa: E402
from lsh_bench.analysis.stats import (  # noqa: E402
    IR_GROUPS, METHODS, NSAMPLES, PAIRS, correlation, paired, sign_test_posterior,
)

COLOURS = {"SM": "#1f77b4", "LM": "#ff7f0e", "LS": "#2ca02c", "ORG": "#7f7f7f"}
#: Colours for methods beyond the paper's (tab10 without the four above), by name order.
EXTRA_COLOURS = ("#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")


def method_colours(methods: list[str]) -> dict[str, str]:
    """A fixed colour per method: the paper's four keep theirs, others get the
    next free colour in name order (cycling), so a colour never depends on
    which figure a method appears in first."""
    others = sorted(m for m in methods if m not in COLOURS)
    extra = {m: EXTRA_COLOURS[i % len(EXTRA_COLOURS)] for i, m in enumerate(others)}
    return {m: COLOURS.get(m) or extra[m] for m in methods}
_RC = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
       "svg.hashsalt": "lsh-bench"}
PNG_METADATA = {"Software": None}
PDF_METADATA = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}


def save(fig: Figure, out: Path, stem: str) -> list[Path]:
    """Write ``stem.png`` (150 dpi) and ``stem.pdf`` without timestamps."""
    out.mkdir(parents=True, exist_ok=True)
    png, pdf = out / f"{stem}.png", out / f"{stem}.pdf"
    fig.savefig(png, dpi=150, metadata=PNG_METADATA)
    fig.savefig(pdf, metadata=PDF_METADATA)
    return [png, pdf]


def _new(ncols: int, width: float = 4.2, height: float = 4.0) -> tuple[Figure, list]:
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(width * ncols, height), layout="constrained")
        axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _scatter_fit(ax, x: np.ndarray, y: np.ndarray, colour: str, label: str) -> None:
    """Points, least-squares line and Pearson r (the paper's Figures 2-3)."""
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    ax.scatter(x, y, s=14, color=colour, alpha=0.75, label=f"{label} (n={len(x)})")
    c = correlation(x, y)
    if not math.isnan(c["pearson_r"]):
        slope, icept = np.polyfit(x, y, 1)
        xs = np.linspace(x.min(), x.max(), 50)
        ax.plot(xs, slope * xs + icept, color="black", lw=1.2,
                label=f"fit: r = {c['pearson_r']:.3f}, \u03c1 = {c['spearman_rho']:.3f}")
    # Below the axes: a legend inside would hide points wherever it goes.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False, ncol=1)
    ax.grid(True, alpha=0.3)


def figure2_margins(general: pd.DataFrame, out: Path) -> list[Path]:
    """Figure 2: margin of test F1 (first - second) vs IR, one panel per pair."""
    if not any(len(paired(general[f"{a}_t"], general[f"{b}_t"])[0]) for a, b in PAIRS):
        return []
    with matplotlib.rc_context(_RC):
        fig, axes = _new(len(PAIRS))
        for ax, (first, second) in zip(axes, PAIRS):
            margin = (general[f"{first}_t"] - general[f"{second}_t"]).to_numpy(float)
            ax.set_title(f"{first} \u2212 {second}")
            if np.all(np.isnan(margin)):
                _no_data(ax, f"no datasets with both {first} and {second}")
                continue
            ax.axhline(0, color="0.5", lw=0.8, ls="--")
            _scatter_fit(ax, general["ir"].to_numpy(float), margin, COLOURS[first], "datasets")
            ax.set_xlabel("IR (majority / minority)")
            ax.set_ylabel(f"margin of test F1 ({first}_t \u2212 {second}_t)")
        return save(fig, out, "figure2_margin_vs_ir")


def figure3_achievement(general: pd.DataFrame, out: Path) -> list[Path]:
    """Figure 3: achievement rate (test / validation) vs IR per method."""
    if general[[f"{m}_a" for m in METHODS]].isna().all().all():
        return []
    with matplotlib.rc_context(_RC):
        fig, axes = _new(len(METHODS))
        for ax, m in zip(axes, METHODS):
            ax.set_title(f"{m} achievement rate")
            values = general[f"{m}_a"].to_numpy(float)
            if np.all(np.isnan(values)):
                _no_data(ax, f"no {m} results")
                continue
            ax.axhline(1, color="0.5", lw=0.8, ls="--")
            _scatter_fit(ax, general["ir"].to_numpy(float), values, COLOURS[m], m)
            ax.set_xlabel("IR (majority / minority)")
            ax.set_ylabel(f"{m}_a = {m}_t / {m}_v")
        return save(fig, out, "figure3_achievement_vs_ir")


def figure4_runtime(runtime: pd.DataFrame, out: Path) -> list[Path]:
    """Figure 4: LM vs LS resampling seconds and LLM calls per ratio.

    Per-fold means over datasets (line) with the range over datasets (bars),
    so one dataset reproduces the paper's figure and many still read.
    """
    part = runtime[runtime["method"].isin(["LM", "LS"]) & (runtime["scenario"] == "general")]
    if part.empty:
        return []
    per_fold = part.assign(
        seconds=part["resample_seconds_mean"], calls=part["llm_calls"] / part["folds"])
    n_datasets = part["dataset"].nunique()
    with matplotlib.rc_context(_RC):
        fig, axes = _new(2)
        for ax, col, label in ((axes[0], "seconds", "resampling time per fold (s)"),
                               (axes[1], "calls", "LLM calls per fold")):
            for m in ("LM", "LS"):
                d = per_fold[per_fold["method"] == m].groupby("ratio")[col]
                if d.ngroups == 0:
                    continue
                mean, lo, hi = d.mean(), d.min(), d.max()
                ax.errorbar(mean.index, mean.to_numpy(),
                            yerr=[mean - lo, hi - mean], color=COLOURS[m], marker="o",
                            capsize=3, label=m)
            ax.set_xlabel("ratio r (minority / majority after resampling)")
            ax.set_ylabel(label)
            ax.set_xticks(sorted(part["ratio"].unique()))
            ax.legend(loc="best")
            ax.grid(True, alpha=0.3)
        fig.suptitle(f"LM vs LS cost per ratio (mean over {n_datasets} dataset(s), "
                     "bars: min\u2013max)")
        return save(fig, out, "figure4_runtime")


def _project(p: np.ndarray) -> np.ndarray:
    """Barycentric (first, rope, second) -> 2-D triangle: first bottom-left,
    second bottom-right, rope at the top."""
    x = p[:, 2] + 0.5 * p[:, 1]
    y = p[:, 1] * math.sqrt(3) / 2
    return np.column_stack([x, y])


def figure_posteriors(general: pd.DataFrame, out: Path, *, rope: float, seed: int,
                      decimals: int = 4, nsamples: int = NSAMPLES) -> list[Path]:
    """Posterior of each pair's sign test (all datasets) on the simplex.

    Each point is one posterior draw of (P(first better), P(rope),
    P(second better)); the corner a cloud sits in is the conclusion.
    """
    usable = [(a, b) for a, b in PAIRS if len(paired(general[f"{a}_t"], general[f"{b}_t"])[0])]
    if not usable:
        return []
    h = math.sqrt(3) / 2
    with matplotlib.rc_context(_RC):
        fig, axes = _new(len(PAIRS), width=3.8, height=3.9)
        for ax, (first, second) in zip(axes, PAIRS):
            ax.set_title(f"{first} vs {second}: sign test, rope {rope:g}")
            x, y = paired(general[f"{first}_t"], general[f"{second}_t"])
            if not len(x):
                _no_data(ax, f"no datasets with both {first} and {second}")
                continue
            sample = sign_test_posterior(np.round(x, decimals), np.round(y, decimals),
                                         rope, seed, nsamples)
            probs = np.bincount(sample.argmax(axis=1), minlength=3) / len(sample)
            pts = _project(sample)
            ax.hexbin(pts[:, 0], pts[:, 1], gridsize=40, mincnt=1, cmap="Blues",
                      extent=(0, 1, 0, h), bins="log")
            ax.plot([0, 1, 0.5, 0], [0, 0, h, 0], color="black", lw=1)
            centre = np.array([0.5, h / 3])
            for mid in ([0.5, 0], [0.25, h / 2], [0.75, h / 2]):
                ax.plot([centre[0], mid[0]], [centre[1], mid[1]], color="0.6", lw=0.8)
            ax.text(0, -0.06, f"{first} better\n{probs[0]:.3f}", ha="center", va="top")
            ax.text(1, -0.06, f"{second} better\n{probs[2]:.3f}", ha="center", va="top")
            ax.text(0.5, h + 0.04, f"practically equal {probs[1]:.3f}", ha="center",
                    va="bottom")
            ax.text(0.5, -0.06, f"n = {len(x)}", ha="center", va="top", color="0.3")
            ax.set_xlim(-0.2, 1.2)
            ax.set_ylim(-0.22, h + 0.12)
            ax.set_aspect("equal")
            ax.axis("off")
        return save(fig, out, "figure_sign_test_posteriors")


def figure_sign_test_bars(pairs: pd.DataFrame, out: Path) -> list[Path]:
    """Stacked bars of the three sign-test probabilities for every test
    (each pair, over all datasets and per IR group): Tables 1-2 at a glance."""
    rows = pairs.dropna(subset=["p_first_better"])
    if rows.empty:
        return []
    order = {g: i for i, g in enumerate(("all", *IR_GROUPS))}
    rows = rows.assign(_g=rows["group"].map(order)).sort_values(["_g"], kind="mergesort")
    labels = [f"{r.first} vs {r.second} ({r.group}, n={r.n})" for r in rows.itertuples()]
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(8, 0.38 * len(rows) + 1.4), layout="constrained")
        ax = fig.subplots()
        ypos = np.arange(len(rows))[::-1]
        left = np.zeros(len(rows))
        for col, name, colour in (("p_first_better", "P(first better)", "#2ca02c"),
                                  ("p_rope", "P(practically equal)", "#bbbbbb"),
                                  ("p_second_better", "P(second better)", "#d62728")):
            vals = rows[col].to_numpy(float)
            ax.barh(ypos, vals, left=left, color=colour, label=name, height=0.7)
            for yv, lv, v in zip(ypos, left, vals):
                if v >= 0.08:
                    ax.text(lv + v / 2, yv, f"{v:.2f}", ha="center", va="center", fontsize=7)
            left += vals
        ax.set_yticks(ypos, labels)
        ax.set_xlim(0, 1)
        ax.set_xlabel("posterior probability (Bayesian sign test)")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
        return save(fig, out, "figure_sign_test_probabilities")


def figure_cd_diagram(ranking: Ranking, out: Path) -> list[Path]:
    """Critical-difference diagram (Demšar 2006) of the Friedman/Nemenyi ranking.

    Drawn by ``scikit_posthocs.critical_difference_diagram`` on our own
    Axes: mean ranks on the axis (1 = best test F1), a bar joins methods
    the Nemenyi test cannot tell apart at ``alpha``, and the CD segment
    shows the smallest mean-rank gap that counts.
    """
    k = ranking.k
    names = list(ranking.mean_ranks.index)
    colours = method_colours(names)
    # scikit-posthocs finds the crossbars as sets of labels and draws them in set
    # order; for strings that order changes with Python's hash seed (so would the
    # PNG bytes, from one process to the next). Integer labels iterate the same way
    # in every process; the method names are put on the labels afterwards.
    ranks = pd.Series(ranking.mean_ranks.to_numpy(float), index=range(k))
    sig = pd.DataFrame(ranking.nemenyi.loc[names, names].to_numpy(float),
                       index=range(k), columns=range(k))
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(7.0, 1.6 + 0.32 * k), layout="constrained")
        ax = fig.subplots()
        drawn = scikit_posthocs.critical_difference_diagram(
            ranks, sig, ax=ax, alpha=ranking.alpha,
            color_palette={i: colours[m] for i, m in enumerate(names)},
            label_fmt_left="{label}", label_fmt_right="{label}",
            text_h_margin=0.05, label_props={"fontsize": 9},
        )
        for label in drawn["labels"]:
            i = int(label.get_text())
            name, rank = names[i], ranks[i]
            label.set_text(f"{name} ({rank:.2f})" if label.get_ha() == "right"
                           else f"({rank:.2f}) {name}")
        # The CD segment from rank 1, as in Demšar's figures (scikit-posthocs would
        # start it at the best mean rank, where it can run off the axis).
        cd = ranking.critical_difference
        ax.plot([1, 1 + cd], [0.9, 0.9], color="black", lw=1.5)
        ax.plot([1, 1], [0.75, 1.05], color="black", lw=1.5)
        ax.plot([1 + cd, 1 + cd], [0.75, 1.05], color="black", lw=1.5)
        ax.text(1 + cd / 2, 1.1, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8)
        ax.set_xlim(0.6, max(k, 1 + cd) + 0.4)
        ax.set_ylim(top=1.6)
        ax.set_xticks(range(1, k + 1))
        p = ranking.p_value
        ptext = "all tied" if math.isnan(p) else f"p = {p:.3g}"
        ax.set_title(
            f"mean rank on test F1 (1 = best), {ranking.n} datasets; Friedman {ptext}; "
            f"Nemenyi CD = {ranking.critical_difference:.2f} (\u03b1 = {ranking.alpha:g})",
            fontsize=9, pad=20)
        return save(fig, out, "figure_cd_diagram")
