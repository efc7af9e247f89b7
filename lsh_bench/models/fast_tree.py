"""Decision trees: a tree that never reached its ``max_depth`` is the tree of every larger one.

Why it is exact (scikit-learn 1.9.1, ``sklearn/tree/_tree.pyx``,
``DepthFirstTreeBuilder.build``): ``max_depth`` enters the build only in
``is_leaf = (depth >= max_depth or ...)``; every node is visited in the same
order and draws the same random numbers whatever ``max_depth`` is, as long as
that test never fires. The fitted ``tree_.max_depth`` is the deepest node
built; if it is below ``max_depth`` no node had ``depth >= max_depth``, so a
build with any larger ``max_depth`` (or ``None``) takes every branch the
same way and returns the identical tree.

Only the depth-first builder is served (``max_leaf_nodes=None``) and only
without cost-complexity pruning (``ccp_alpha=0``: the pruned tree's depth
says nothing about the unpruned one). Cells are grouped by every parameter
but ``max_depth`` and fitted in increasing ``max_depth`` until a tree stops
short of its limit; the remaining cells reuse it.

Preconditions (checked by ``_key``, else the cell is fitted separately):
exactly ``DecisionTreeClassifier``, ``max_leaf_nodes=None``,
``ccp_alpha=0``, an integer ``max_depth >= 1`` or ``None``, plain-data
parameters; the installed scikit-learn is :data:`MIRRORS`'s.
"""

from __future__ import annotations

import time
from typing import Any

from sklearn.tree import DecisionTreeClassifier

from lsh_bench.models.fit_context import FitContext, group_by, params_key

#: The scikit-learn whose tree builder the proof above reads.
MIRRORS = {"scikit-learn": "1.9.1"}


def _depth_rank(est: Any) -> float:
    d = est.max_depth
    return float("inf") if d is None else float(d)


def _key(cell: Any, est: Any) -> str | None:
    if type(est) is not DecisionTreeClassifier:
        return None
    params = est.get_params()
    if params.get("max_leaf_nodes") is not None or params.get("ccp_alpha") != 0.0:
        return None
    d = params.get("max_depth")
    if d is not None and (not isinstance(d, int) or isinstance(d, bool) or d < 1):
        return None
    key = params_key(params, exclude={"max_depth"})
    return None if key is None else f"{key}|scale={bool(cell.spec.scale)}"


def score_trees(ctx: FitContext, positions: list[int]) -> None:
    """Serve decision-tree cells that differ only in ``max_depth``."""
    for members in group_by(ctx, positions, _key).values():
        members = sorted(members, key=lambda m: _depth_rank(m[1]))
        i = 0
        while i < len(members):
            pos, est = members[i]
            X_tr, X_va = ctx.matrices(pos)
            t0 = time.perf_counter()
            est.fit(X_tr, ctx.y_tr)
            pred = est.predict(X_va)
            # Cells with a larger max_depth get the same tree if this one stopped short.
            j = len(members) if est.tree_.max_depth < _depth_rank(est) else i + 1
            served = [p for p, _ in members[i:j]]
            ctx.cost.charge(served, time.perf_counter() - t0)
            for p in served:
                ctx.serve(p, pred)
            i = j
