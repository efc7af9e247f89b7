"""The contract of the fast evaluator's shortcuts ("families") and what they share.

A :class:`Family` serves the cells whose models it can prove identical to
fitting each cell on its own (:func:`lsh_bench.models.evaluate.fit_predict_cell`).
Its contract:

* **preconditions stated and checked**: the module docstring gives the proof
  and what it does not cover; the family serves a cell only when every
  precondition holds (estimator class, parameters, data), otherwise the cell
  is fitted separately. A proof reads library code, so each family names the
  versions it was checked against (``mirrors``); with any other version
  installed it serves nothing (:meth:`Family.applies`).
* **sharing**: a family reads the matrices from :meth:`FitContext.matrices`
  and hands each served cell's validation prediction to
  :meth:`FitContext.serve`; nothing else changes the context.
* **timing apart**: seconds go to :class:`CostLedger` only — a computation
  shared by several cells is split equally among them (:meth:`CostLedger.charge`),
  so the per-cell seconds sum to the grid's wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import Any

import numpy as np

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.models.grid import Cell, build_estimator
from lsh_bench.models.preprocess import Mode, post_transform


@lru_cache(maxsize=None)
def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution (``None`` if it is not installed)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def versions_match(mirrors: Mapping[str, str]) -> bool:
    """Are exactly these versions installed (distribution name -> version)?"""
    return all(installed_version(dist) == version for dist, version in mirrors.items())


class CostLedger:
    """Seconds per cell: what the results store records as each cell's cost."""

    def __init__(self, n_cells: int) -> None:
        self.seconds = [0.0] * n_cells

    def add(self, pos: int, seconds: float) -> None:
        """Work done for one cell only (its own fit, its prediction)."""
        self.seconds[pos] += seconds

    def charge(self, positions: Iterable[int], seconds: float) -> None:
        """Split a shared computation's ``seconds`` equally among ``positions``."""
        pos = list(positions)
        for p in pos:
            self.seconds[p] += seconds / len(pos)


@dataclass
class FitContext:
    """One (resampled training part, validation part) pair, its cells, and what they share.

    ``predictions[pos]`` is the validation prediction of ``cells[pos]``, set
    through :meth:`serve`; ``cost`` holds the seconds.
    """

    cells: list[Cell]
    schema: FeatureSchema
    mode: Mode
    X_tr: np.ndarray
    y_tr: np.ndarray
    X_va: np.ndarray
    predictions: dict[int, np.ndarray] = field(default_factory=dict)
    cost: CostLedger = field(init=False)
    _post: dict[bool, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    _post_seconds: dict[bool, float] = field(default_factory=dict)
    _estimators: dict[int, tuple[Any, dict[str, Any]] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cost = CostLedger(len(self.cells))

    def matrices(self, pos: int) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation matrices as the cell's classifier sees them.

        The post-transform (``preprocess=standard``: one-hot + scaling) is a
        function of (schema, mode, the classifier's ``scale`` flag) fitted on
        the same training rows, so one deterministic fit per flag serves all
        cells; its cost is split among the cells with that flag
        (:meth:`settle_post_costs`).
        """
        scale = bool(self.cells[pos].spec.scale)
        post = post_transform(self.schema, self.mode, scale)
        if post is None:
            return self.X_tr, self.X_va
        if scale not in self._post:
            t0 = time.perf_counter()
            post = post.fit(self.X_tr)
            self._post[scale] = (post.transform(self.X_tr), post.transform(self.X_va))
            self._post_seconds[scale] = time.perf_counter() - t0
        return self._post[scale]

    def serve(self, pos: int, prediction: np.ndarray) -> None:
        """Record the validation prediction of ``cells[pos]`` (a family proved it equal to a separate fit)."""
        self.predictions[pos] = prediction

    def settle_post_costs(self) -> None:
        """Split each post-transform fit among the cells of its ``scale`` flag (every one used it)."""
        for scale, seconds in self._post_seconds.items():
            self.cost.charge([p for p, c in enumerate(self.cells) if bool(c.spec.scale) == scale], seconds)

    def estimator(self, pos: int) -> tuple[Any, dict[str, Any]] | None:
        """A fresh estimator of the cell and its ``get_params()``; ``None`` if it cannot be built.

        A cell whose estimator cannot be built is left to :meth:`fit_separately`,
        which builds it again and raises the error there, naming the cell.
        """
        if pos not in self._estimators:
            try:
                est = build_estimator(self.cells[pos])
                self._estimators[pos] = (est, est.get_params())
            except Exception:  # reported by the separate fit, not here
                self._estimators[pos] = None
        return self._estimators[pos]

    def fit_separately(self, pos: int) -> None:
        """The reference computation for one cell (same as ``fit_predict_cell``)."""
        X_tr, X_va = self.matrices(pos)
        t0 = time.perf_counter()
        self.serve(pos, build_estimator(self.cells[pos]).fit(X_tr, self.y_tr).predict(X_va))
        self.cost.add(pos, time.perf_counter() - t0)


@dataclass(frozen=True)
class Family:
    """A shortcut: fills ``ctx.predictions`` (via ``serve``) for the cells of ``positions`` it can prove.

    ``mirrors``: the library versions whose code the proof reads; with other
    versions installed the family serves nothing and every cell is fitted
    separately.
    """

    name: str
    mirrors: Mapping[str, str]
    serve: Callable[[FitContext, list[int]], None]

    def applies(self) -> bool:
        return versions_match(self.mirrors)


def group_by(
    ctx: FitContext, positions: list[int], key: Callable[[Cell, Any], Any | None]
) -> dict[Any, list[tuple[int, Any]]]:
    """Group cells by ``key(cell, estimator)``; a ``None`` key means "not mine"."""
    groups: dict[Any, list[tuple[int, Any]]] = {}
    for pos in positions:
        built = ctx.estimator(pos)
        if built is None:
            continue
        k = key(ctx.cells[pos], built[0])
        if k is not None:
            groups.setdefault(k, []).append((pos, built[0]))
    return groups


def params_key(params: dict[str, Any], exclude: set[str]) -> str | None:
    """A hashable key of all parameters but ``exclude``; ``None`` if a value is not plain data."""
    items = []
    for name in sorted(params):
        if name in exclude:
            continue
        value = params[name]
        if not isinstance(value, (str, int, float, bool, type(None))):
            return None
        items.append((name, type(value).__name__, repr(value)))
    return repr(items)
