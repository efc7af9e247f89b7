"""The paper's Figures 1 and 6: real and synthetic minority rows in two dimensions.

Each view is one dataset and one training part (a CV fold or the refit):
its real majority and minority rows and, per method, the synthetic minority
rows the method added. The 2-D map is a PCA fitted on the *real* rows of the
training part (both classes) after standardising every column with those
rows' mean and standard deviation, so no synthetic row moves the axes and
every method is drawn in the same coordinates. All panels of a view share
their x and y limits, which cover the real rows and every synthetic row up to
``FAR`` times the real rows' extent beyond them (an LLM row somewhat off
widens the axes rather than vanishing); a row further out (zero-shot LLM
rows were seen 10^15 standard deviations away) is drawn on the edge with
another marker and counted in the legend, so the real rows stay readable.

* Figure 1 (:func:`figure1_rows`): one view, panels ORG (the real rows
  alone), then one panel per method (real rows faint, that method's
  synthetic rows on top).
* Figure 6 (:func:`figure6_rows`): a grid, one row per view (the paper: the
  four few-/zero-shot datasets), the same panels per row; each row has its
  own PCA and axes. Where the training part holds (almost) no minority row,
  a view can carry the held-out real minority, drawn hollow, for reference.

Inputs are plain arrays (encoded rows as the samplers see them); where they
come from (samplers, the LLM cache) is the caller's business. Figures are
saved through :func:`lsh_bench.analysis.figures.save` (no timestamps), so the
same arrays give byte-identical PNG and PDF files.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from lsh_bench.analysis.figures import _RC, COLOURS, save  # noqa: E402

MAJORITY = "#c7c7c7"
MINORITY = "#222222"
HELDOUT = "#9467bd"
MARGIN = 0.05
FAR = 3.0          # synthetic rows up to this many real extents beyond the real rows widen the axes


@dataclass(frozen=True)
class RowsView:
    """The rows of one dataset and training part (encoded; one column per feature)."""

    dataset: str
    part: str                                   # e.g. "fold 0", "refit"
    real_minority: np.ndarray
    real_majority: np.ndarray
    synthetic: dict[str, np.ndarray] = field(default_factory=dict)   # method label -> added rows, panel order
    heldout_minority: np.ndarray | None = None  # real minority rows outside the training part (few-/zero-shot)

    def check(self) -> None:
        widths = {a.shape[1] for a in self._arrays() if a.ndim == 2}
        if len(widths) != 1 or any(a.ndim != 2 for a in self._arrays()):
            raise ValueError(f"RowsView {self.dataset}/{self.part}: every array must be 2-D with the same number "
                             f"of columns; got shapes {[a.shape for a in self._arrays()]}")
        if len(self.real_minority) + len(self.real_majority) < 2:
            raise ValueError(f"RowsView {self.dataset}/{self.part}: the PCA needs at least 2 real rows")

    def _arrays(self) -> list[np.ndarray]:
        extra = [] if self.heldout_minority is None else [self.heldout_minority]
        return [self.real_minority, self.real_majority, *self.synthetic.values(), *extra]


@dataclass(frozen=True)
class Projection:
    """A view's rows mapped by the PCA of its real rows."""

    minority: np.ndarray
    majority: np.ndarray
    synthetic: dict[str, np.ndarray]            # rows beyond the axes are moved onto the edge
    heldout: np.ndarray | None
    beyond: dict[str, np.ndarray]               # per method: which rows lie beyond the axes
    explained: tuple[float, float]              # share of variance on each axis
    xlim: tuple[float, float]
    ylim: tuple[float, float]


def _two_columns(Z: np.ndarray) -> np.ndarray:
    return Z if Z.shape[1] == 2 else np.column_stack([Z, np.zeros(len(Z))])


def project(view: RowsView) -> Projection:
    """Standardise on the real rows, PCA (2 components, exact SVD) fitted on them, map every set."""
    view.check()
    real = np.vstack([view.real_majority, view.real_minority]).astype(float)
    mean, std = real.mean(axis=0), real.std(axis=0)
    scale = np.where(std > 0, std, 1.0)
    n_comp = min(2, real.shape[1], len(real))
    pca = PCA(n_components=n_comp, svd_solver="full").fit((real - mean) / scale)

    def mapped(M: np.ndarray) -> np.ndarray:
        if len(M) == 0:
            return np.empty((0, 2))
        return _two_columns(pca.transform((np.asarray(M, dtype=float) - mean) / scale))

    explained = tuple(float(v) for v in pca.explained_variance_ratio_) + (0.0,) * (2 - n_comp)
    minority, majority = mapped(view.real_minority), mapped(view.real_majority)
    synthetic = {name: mapped(rows) for name, rows in view.synthetic.items()}
    heldout = None if view.heldout_minority is None else mapped(view.heldout_minority)
    real_points = np.vstack([minority, majority, *([] if heldout is None else [heldout])])
    r_lo, r_hi = real_points.min(axis=0), real_points.max(axis=0)
    span = np.maximum(r_hi - r_lo, 1e-9)
    allowed_lo, allowed_hi = r_lo - FAR * span, r_hi + FAR * span
    beyond = {name: ((rows < allowed_lo) | (rows > allowed_hi)).any(axis=1) for name, rows in synthetic.items()}
    near = [rows[~beyond[name]] for name, rows in synthetic.items()]
    points = np.vstack([real_points, *near])
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = np.maximum((hi - lo) * MARGIN, 1e-9)
    lo, hi = lo - pad, hi + pad
    synthetic = {name: np.clip(rows, lo, hi) for name, rows in synthetic.items()}
    return Projection(minority, majority, synthetic, heldout, beyond, (explained[0], explained[1]),
                      (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1])))


def _draw_real(ax, p: Projection, faint: bool) -> None:
    alpha = 0.5 if faint else 0.8
    ax.scatter(p.majority[:, 0], p.majority[:, 1], s=6, color=MAJORITY, alpha=alpha, linewidths=0,
               label=f"real majority ({len(p.majority)})")
    if p.heldout is not None and len(p.heldout):
        ax.scatter(p.heldout[:, 0], p.heldout[:, 1], s=16, facecolors="none", edgecolors=HELDOUT,
                   linewidths=0.6, alpha=0.6 if faint else 0.9, label=f"held-out real minority ({len(p.heldout)})")
    ax.scatter(p.minority[:, 0], p.minority[:, 1], s=18, facecolors="none", edgecolors=MINORITY,
               linewidths=0.7, alpha=0.55 if faint else 1.0, label=f"real minority ({len(p.minority)})")


def _panels(axes, view: RowsView, p: Projection) -> None:
    methods = list(view.synthetic)
    for ax, name in zip(axes, ["ORG", *methods]):
        _draw_real(ax, p, faint=name != "ORG")
        if name != "ORG":
            rows, far = p.synthetic[name], p.beyond[name]
            colour = COLOURS.get(name, "#d62728")
            ax.scatter(rows[~far, 0], rows[~far, 1], s=10, marker="^", color=colour,
                       alpha=0.8, linewidths=0, label=f"{name} synthetic ({len(rows)})", zorder=3)
            if far.any():
                ax.scatter(rows[far, 0], rows[far, 1], s=28, marker="X", color=colour, alpha=0.9, linewidths=0,
                           label=f"{int(far.sum())} of them beyond the axes (on the edge)", zorder=4)
        ax.set_xlim(*p.xlim)
        ax.set_ylim(*p.ylim)
        ax.set_title(name)
        ax.set_xlabel(f"PC1 ({p.explained[0]:.0%} of real variance)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False, markerscale=1.5)
        ax.grid(True, alpha=0.25)
    axes[0].set_ylabel(f"PC2 ({p.explained[1]:.0%} of real variance)")


def _suptitle(fig: Figure, text: str, width_in: float) -> None:
    """A figure title wrapped to the figure's width: a title wider than the figure makes the
    constrained layout give up and push the y label off the canvas."""
    lines = [textwrap.fill(line, max(20, int(width_in * 10))) for line in text.split("\n")]
    fig.suptitle("\n".join(lines))


def _settled(fig: Figure) -> Figure:
    """Lay the figure out once before it is saved.

    On a figure's first draw matplotlib places the y label from tick labels
    that the tick locator then drops (the label landed off the canvas on
    haberman); after one layout pass the saved PNG and PDF agree.
    """
    fig.draw_without_rendering()
    return fig


def build_figure1(view: RowsView) -> Figure:
    """Figure 1 for one view: ORG, then one panel per method, shared axes."""
    p = project(view)
    n = 1 + len(view.synthetic)
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(3.6 * n, 4.3), layout="constrained")
        axes = list(fig.subplots(1, n, squeeze=False, sharex=True, sharey=True)[0])
        _panels(axes, view, p)
        _suptitle(fig, f"{view.dataset}, {view.part}\nPCA of the real rows (standardised); every panel on the same "
                  "axes", 3.6 * n)
    return _settled(fig)


def build_figure6(views: list[RowsView]) -> Figure:
    """Figure 6: one row per view (dataset), ORG then the methods; each row shares its axes."""
    if not views:
        raise ValueError("figure 6 needs at least one view")
    n = 1 + max(len(v.synthetic) for v in views)
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(3.4 * n, 3.9 * len(views)), layout="constrained")
        grid = fig.subplots(len(views), n, squeeze=False)
        for row, view in zip(grid, views):
            p = project(view)
            used = 1 + len(view.synthetic)
            for ax in row[1:used]:
                ax.sharex(row[0])
                ax.sharey(row[0])
            _panels(list(row[:used]), view, p)
            for ax in row[used:]:
                ax.axis("off")
            row[0].set_title(textwrap.fill(f"ORG: {view.dataset}, {view.part}", 42))
        _suptitle(fig, "Real and synthetic minority rows, PCA of each training part's real rows (standardised); "
                  "the panels of a row share their axes", 3.4 * n)
    return _settled(fig)


def figure1_rows(view: RowsView, out: Path, stem: str = "figure1_rows") -> list[Path]:
    """Write Figure 1 (PNG + PDF) for one dataset and training part; returns the paths."""
    return save(build_figure1(view), out, stem)


def figure6_rows(views: list[RowsView], out: Path, stem: str = "figure6_rows") -> list[Path]:
    """Write Figure 6 (PNG + PDF) for the few-/zero-shot views; returns the paths."""
    return save(build_figure6(views), out, stem)
