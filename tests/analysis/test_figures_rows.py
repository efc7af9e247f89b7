"""Figures 1 and 6: shared axes, the PCA of the real rows, byte-stable files."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from lsh_bench.analysis.figures_rows import (
    RowsView, build_figure1, build_figure6, figure1_rows, figure6_rows, project,
)


def view(seed: int, name: str = "toy", methods: tuple[str, ...] = ("SM", "LM", "LS"), n_min: int = 30,
         heldout: bool = False) -> RowsView:
    rng = np.random.default_rng(seed)
    real_min = rng.normal(1.0, 1.0, size=(n_min, 4))
    real_maj = rng.normal(-1.0, 1.0, size=(90, 4))
    synthetic = {m: rng.normal(1.0 + 3 * i, 0.5 + i, size=(25, 4)) for i, m in enumerate(methods)}
    held = rng.normal(1.0, 1.0, size=(15, 4)) if heldout else None
    return RowsView(name, "fold 0", real_min, real_maj, synthetic, held)


def test_pca_is_fitted_on_the_real_rows_only():
    v = view(1)
    alone = project(RowsView(v.dataset, v.part, v.real_minority, v.real_majority))
    with_methods = project(v)
    assert np.array_equal(alone.minority, with_methods.minority)
    assert np.array_equal(alone.majority, with_methods.majority)
    # the far LS rows widen the shared limits instead of falling off the panel
    pts = np.vstack([with_methods.minority, with_methods.majority, *with_methods.synthetic.values()])
    assert with_methods.xlim[0] < pts[:, 0].min() and pts[:, 0].max() < with_methods.xlim[1]
    assert with_methods.ylim[0] < pts[:, 1].min() and pts[:, 1].max() < with_methods.ylim[1]


def test_figure1_panels_share_axes_and_fit_the_canvas(tmp_path: Path):
    fig = build_figure1(view(2))
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["ORG", "SM", "LM", "LS"]
    assert len({ax.get_xlim() for ax in axes}) == 1 and len({ax.get_ylim() for ax in axes}) == 1
    assert fig.get_suptitle()
    # nothing is cut at the edges of the saved picture (the y label once was, on the first draw)
    png, _ = figure1_rows(view(2), tmp_path)
    ink = matplotlib.image.imread(png)[:, :, :3].mean(axis=2) < 0.6
    assert not ink[:, :2].any() and not ink[:, -2:].any() and not ink[:2].any()


def test_figure6_rows_share_axes_within_a_row():
    views = [view(3, "a"), view(4, "b", methods=("LM", "LS"), n_min=0, heldout=True), view(5, "c")]
    fig = build_figure6(views)
    axes = np.array(fig.axes).reshape(3, 4)
    for row, v in zip(axes, views):
        used = row[: 1 + len(v.synthetic)]
        assert len({ax.get_xlim() for ax in used}) == 1 and len({ax.get_ylim() for ax in used}) == 1
        assert all(not ax.axison for ax in row[len(used):])        # a row with fewer methods leaves blanks
    assert axes[1][0].get_title() == "ORG: b, fold 0"
    legend = [t.get_text() for t in axes[1][0].get_legend().get_texts()]
    assert "held-out real minority (15)" in legend and "real minority (0)" in legend


def test_files_are_byte_stable(tmp_path: Path):
    small = [view(7, methods=("SM",)), view(8, methods=("LS",))]
    a = figure1_rows(view(6), tmp_path / "a") + figure6_rows(small, tmp_path / "a")
    b = figure1_rows(view(6), tmp_path / "b") + figure6_rows(small, tmp_path / "b")
    assert [p.name for p in a] == ["figure1_rows.png", "figure1_rows.pdf", "figure6_rows.png", "figure6_rows.pdf"]
    for x, y in zip(a, b):
        assert x.read_bytes() == y.read_bytes(), x.name
    c = figure1_rows(view(9), tmp_path / "c")
    assert c[0].read_bytes() != a[0].read_bytes()


def test_bad_views_raise():
    v = view(10)
    with pytest.raises(ValueError, match="same number of columns"):
        project(RowsView("x", "fold 0", v.real_minority, v.real_majority[:, :3]))
    with pytest.raises(ValueError, match="at least 2 real rows"):
        project(RowsView("x", "fold 0", v.real_minority[:1], v.real_majority[:0]))
    with pytest.raises(ValueError, match="at least one view"):
        build_figure6([])
