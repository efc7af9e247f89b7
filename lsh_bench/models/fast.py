"""Fast exact grid scoring: share model fits between cells where provably identical.

:func:`score_cells_fast` returns, for every cell, the F1 that fitting the cell
on its own would give (``fit_predict_cell``) — bit for bit, not approximately
— while doing less work. Each *family* below recognises the cells it can
serve and proves (in its docstring, and in ``tests/models/``) why the shared
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
  operations in the same order, half the time (measurements:
  ``docs/fast-evaluator.md``).
* everywhere: the post-transform (``preprocess=standard``: one-hot +
  scaling) depends only on the classifier's ``scale`` flag, so it is fitted
  once per flag instead of once per cell (a deterministic fit on the same
  rows).

The contract every family keeps (preconditions checked, library versions
named, sharing through :meth:`FitContext.serve`, seconds in a separate
:class:`~lsh_bench.models.fit_context.CostLedger`) is stated in
:mod:`lsh_bench.models.fit_context`. Per-cell seconds sum to the wall time of
the grid, which is what the results store and the speed-up report need.

Nothing here starts threads: all fits run under
``threadpoolctl.threadpool_limits(1)`` (LightGBM's ``n_jobs=1`` comes from the
config); parallelism belongs to the runner, across (ratio, fold) tasks.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from threadpoolctl import threadpool_limits

from lsh_bench.data.schema import FeatureSchema
from lsh_bench.models import fast_knn, fast_lgbm, fast_lr, fast_tree
from lsh_bench.models.fit_context import Family, FitContext
from lsh_bench.models.grid import Cell
from lsh_bench.models.metrics import MemoF1
from lsh_bench.models.preprocess import Mode

log = logging.getLogger("lsh_bench")

#: The shortcuts, in the order they are offered the cells (each takes what it can prove).
FAMILIES: tuple[Family, ...] = (
    Family("lightgbm n_estimators prefixes", fast_lgbm.MIRRORS, fast_lgbm.score_lgbm),
    Family("kNN one distance matrix", fast_knn.MIRRORS, fast_knn.score_knn),
    Family("decision tree unused max_depth", fast_tree.MIRRORS, fast_tree.score_trees),
    Family("lean lbfgs logistic regression", fast_lr.MIRRORS, fast_lr.score_lr),
)
_warned: set[str] = set()


def active_families(families: tuple[Family, ...] | list[Family] = FAMILIES) -> list[Family]:
    """The families whose mirrored library versions are installed (the others serve nothing)."""
    out = []
    for family in families:
        if family.applies():
            out.append(family)
        elif family.name not in _warned:
            _warned.add(family.name)
            log.warning("fast evaluator: %r checked against %s, other versions installed: its cells are "
                        "fitted separately", family.name, dict(family.mirrors))
    return out


def score_cells_fast(
    cells: list[Cell],
    schema: FeatureSchema,
    mode: Mode,
    X_tr: np.ndarray,
    y_tr: np.ndarray,
    X_va: np.ndarray,
    y_va: np.ndarray,
    families: tuple[Family, ...] | list[Family] = FAMILIES,
) -> tuple[list[float], list[float]]:
    """F1 and seconds per cell, same order as ``cells``; equal to separate fits."""
    ctx = FitContext(list(cells), schema, mode, np.asarray(X_tr), np.asarray(y_tr), np.asarray(X_va))
    with threadpool_limits(1):
        for family in active_families(families):
            todo = [p for p in range(len(cells)) if p not in ctx.predictions]
            if todo:
                family.serve(ctx, todo)
        for pos in range(len(cells)):
            if pos not in ctx.predictions:
                ctx.fit_separately(pos)
    ctx.settle_post_costs()
    f1 = []
    score = MemoF1(np.asarray(y_va))
    for pos in range(len(cells)):
        t0 = time.perf_counter()
        f1.append(score(ctx.predictions[pos]))
        ctx.cost.add(pos, time.perf_counter() - t0)
    return f1, ctx.cost.seconds
