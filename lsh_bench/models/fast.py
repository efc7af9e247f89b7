"""Fast exact grid scoring: share model fits between cells where provably identical.

:func:`score_cells_fast` returns, for every cell, the F1 that fitting the cell
on its own would give (``fit_predict_cell``) — bit for bit, not approximately
— while doing less work. Each *family* below recognises the cells it can
serve and proves (in its docstring, and in ``tests/fast/``) why the shared
computation equals the separate fits; whatever no family claims is fitted as
it is (user-defined classifiers, unusual parameters, ties that cannot be
resolved):

* :mod:`~lsh_bench.models.fast_lgbm` — one boosting run per (all params but
  ``n_estimators``) at the largest ``n_estimators``; gbdt/goss predict tree
  prefixes, dart records validation predictions during training.
* :mod:`~lsh_bench.models.fast_knn` — one exact distance computation per
  effective metric serves every ``n_neighbors``; rows whose neighbour set is
  ambiguous under distance ties are resolved only when the vote cannot
  depend on tie-breaking, otherwise that cell is fitted separately.
* :mod:`~lsh_bench.models.fast_tree` — a decision tree that never reached
  its ``max_depth`` is the tree of every larger ``max_depth``.
* :mod:`~lsh_bench.models.fast_lr` — logistic regression is fitted per
  cell, by scikit-learn 1.9.1's binary lbfgs fit written out with
  preallocated buffers and a direct ``setulb`` loop: the same floating-point
  operations in the same order, half the time.
* everywhere: the post-transform (``preprocess=standard``: one-hot +
  scaling) depends only on the classifier's ``scale`` flag, so it is fitted
  once per flag instead of once per cell (a deterministic fit on the same
  rows).

Per-cell seconds: a shared computation (a boosting run, a distance matrix, a
post-transform fit) is apportioned in equal parts among the cells it served;
work done for one cell only (its prediction, its own fit) is charged to it.
The per-cell seconds therefore sum to the wall time of the grid, which is
what the results store and the speed-up report need.

Nothing here starts threads: all fits run under
``threadpoolctl.threadpool_limits(1)`` (LightGBM's ``n_jobs=1`` comes from the
config); parallelism belongs to the runner, across (ratio, fold) tasks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from threadpoolctl import threadpool_limits

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.models.grid import Cell, build_estimator
from lsh_bench.models.preprocess import Mode, post_transform


@dataclass
class FitContext:
    """One (resampled training part, validation part) pair and the shared bookkeeping.

    ``predictions[pos]`` is the validation prediction of ``cells[pos]``;
    ``seconds[pos]`` accumulates its (apportioned) cost.
    """

    cells: list[Cell]
    schema: FeatureSchema
    mode: Mode
    X_tr: np.ndarray
    y_tr: np.ndarray
    X_va: np.ndarray
    predictions: dict[int, np.ndarray] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)
    _post: dict[bool, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    _post_users: dict[bool, list[int]] = field(default_factory=dict)
    _post_seconds: dict[bool, float] = field(default_factory=dict)
    _estimators: dict[int, tuple[Any, dict[str, Any]] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.seconds = [0.0] * len(self.cells)

    def charge(self, positions: Iterable[int], seconds: float) -> None:
        """Split ``seconds`` equally among ``positions`` (a shared computation's cost)."""
        pos = list(positions)
        for p in pos:
            self.seconds[p] += seconds / len(pos)

    def matrices(self, pos: int) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation matrices as the cell's classifier sees them.

        The post-transform is a function of (schema, mode, scale) fitted on
        the same training rows, so one fit per ``scale`` flag serves all
        cells; its cost is apportioned among the cells that used it.
        """
        scale = bool(self.cells[pos].spec.scale)
        if post_transform(self.schema, self.mode, scale) is None:
            return self.X_tr, self.X_va
        if scale not in self._post:
            t0 = time.perf_counter()
            post = post_transform(self.schema, self.mode, scale)
            assert post is not None
            post = post.fit(self.X_tr)
            self._post[scale] = (post.transform(self.X_tr), post.transform(self.X_va))
            self._post_users[scale] = []
            self._post_seconds[scale] = time.perf_counter() - t0
        self._post_users[scale].append(pos)
        return self._post[scale]

    def settle_post_costs(self) -> None:
        """Apportion each post-transform fit among the cells that used it."""
        for scale, users in self._post_users.items():
            self.charge(sorted(set(users)), self._post_seconds[scale])

    def estimator(self, pos: int) -> tuple[Any, dict[str, Any]] | None:
        """A fresh estimator of the cell and its ``get_params()`` (built once; ``None`` if it cannot be built)."""
        if pos not in self._estimators:
            try:
                est = build_estimator(self.cells[pos])
                self._estimators[pos] = (est, est.get_params())
            except Exception:  # unimportable / bad params: the separate fit reports it
                self._estimators[pos] = None
        return self._estimators[pos]

    def fit_separately(self, pos: int) -> None:
        """The reference computation for one cell (same as ``fit_predict_cell``)."""
        X_tr, X_va = self.matrices(pos)
        t0 = time.perf_counter()
        self.predictions[pos] = build_estimator(self.cells[pos]).fit(X_tr, self.y_tr).predict(X_va)
        self.seconds[pos] += time.perf_counter() - t0


class Family(Protocol):
    """A group of cells whose fits can be shared; fills ``ctx.predictions`` for what it serves."""

    def __call__(self, ctx: FitContext, positions: list[int]) -> None: ...


def _families() -> list[Family]:
    from lsh_bench.models.fast_knn import score_knn
    from lsh_bench.models.fast_lgbm import score_lgbm
    from lsh_bench.models.fast_lr import score_lr
    from lsh_bench.models.fast_tree import score_trees

    return [score_lgbm, score_knn, score_trees, score_lr]


def score_cells_fast(
    cells: list[Cell],
    schema: FeatureSchema,
    mode: Mode,
    X_tr: np.ndarray,
    y_tr: np.ndarray,
    X_va: np.ndarray,
    y_va: np.ndarray,
    families: list[Family] | None = None,
) -> tuple[list[float], list[float]]:
    """F1 and seconds per cell, same order as ``cells``; equal to separate fits."""
    ctx = FitContext(list(cells), schema, mode, np.asarray(X_tr), np.asarray(y_tr), np.asarray(X_va))
    with threadpool_limits(1):
        for family in _families() if families is None else families:
            todo = [p for p in range(len(cells)) if p not in ctx.predictions]
            if todo:
                family(ctx, todo)
        for pos in range(len(cells)):
            if pos not in ctx.predictions:
                ctx.fit_separately(pos)
    ctx.settle_post_costs()
    f1 = []
    score = MemoF1(np.asarray(y_va))
    for pos in range(len(cells)):
        t0 = time.perf_counter()
        f1.append(score(ctx.predictions[pos]))
        ctx.seconds[pos] += time.perf_counter() - t0
    return f1, ctx.seconds


class MemoF1:
    """``minority_f1``, computed once per distinct confusion matrix.

    scikit-learn's binary F1 is a function of the counts (tp, fp, fn) and of
    the label set, so two predictions with equal counts and labels get the
    bit-identical float from the same call; ``f1_score``'s input validation
    costs ~5 ms a call, more than most fits here.
    """

    def __init__(self, y_true: np.ndarray) -> None:
        self.y_true = y_true
        self.positive = y_true == 1
        self._memo: dict[tuple[Any, ...], float] = {}

    def __call__(self, y_pred: np.ndarray) -> float:
        from lsh_bench.models.evaluate import minority_f1

        y_pred = np.asarray(y_pred)
        if y_pred.shape != self.y_true.shape or y_pred.dtype.kind not in "iub":
            return minority_f1(self.y_true, y_pred)
        pred_pos = y_pred == 1
        tp = int(np.count_nonzero(pred_pos & self.positive))
        key = (tp, int(np.count_nonzero(pred_pos)) - tp, int(np.count_nonzero(self.positive)) - tp,
               tuple(np.unique(y_pred).tolist()))
        if key not in self._memo:
            self._memo[key] = minority_f1(self.y_true, y_pred)
        return self._memo[key]


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
