"""kNN: one exact distance computation per effective metric serves every ``n_neighbors``.

Which cells compute the same model (scikit-learn 1.9.1,
``sklearn/neighbors/_base.py::NeighborsBase._fit``): ``p`` is only read when
``metric == "minkowski"``, where p=1 becomes ``effective_metric_ =
"manhattan"`` and p=2 ``"euclidean"``; for a named metric ``p`` is ignored.
So euclidean ≡ minkowski p=2 and manhattan ≡ minkowski p=1.

Why one query serves every k, *including distance ties*: with uniform
weights a prediction depends only on the labels of the k nearest training
rows (the vote; a tie goes to ``classes_[0]``, the first argmax — in both
``predict`` paths: ``ArgKminClassMode`` probabilities and ``_mode``).
scikit-learn computes distances differently from us (kd-tree: direct sums;
brute force: ``|x|² - 2x·y + |y|²`` through BLAS), so each distance may
differ from ours by some error ``e``. We compute exact-ish distances
(``scipy.spatial.distance.cdist``, direct sums) and bound ``e`` generously
(``TOL`` relative to the norms involved, >10⁴ times the float64 rounding of
either path). For one validation row, sort our distances ``s`` and look at
position k-1 (the k-th neighbour):

* if ``s[k] - s[k-1] > 2e`` the set of the k nearest is the same under any
  computation within ``e`` — whatever order scikit-learn breaks ties in;
* otherwise let G be the chain of positions around k-1 whose consecutive
  gaps are ``<= 2e`` and In the positions before G. Every point of In is
  more than 2e closer than every point of G and every point after G more
  than 2e farther, so scikit-learn picks all of In, ``m = k - |In|`` points
  of G (which ones depends on tie-breaking we do not reproduce) and nothing
  after G. The minority count lies in
  ``[pos(In) + max(0, m - neg(G)), pos(In) + min(m, pos(G))]``; if both ends
  give the same vote the prediction is determined. If not, for any row,
  that cell is fitted separately (the reference computation).

Preconditions (checked; whatever fails them is fitted separately):
exactly ``KNeighborsClassifier``, uniform weights, no ``metric_params``,
metric euclidean/manhattan (or their minkowski/l1/l2/cityblock spellings),
two classes, k at most the training part's size, and the installed
scikit-learn is :data:`MIRRORS`'s.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.neighbors import KNeighborsClassifier

from lsh_bench.models.fit_context import FitContext, group_by, params_key

#: The scikit-learn whose neighbour search and vote the proof above reads.
MIRRORS = {"scikit-learn": "1.9.1"}

TOL = 1e-9            # bound on any path's distance error, relative to the norms involved
CHUNK = 4_000_000     # distance-matrix entries computed at once

_EUCLIDEAN = {"euclidean", "l2"}
_MANHATTAN = {"manhattan", "l1", "cityblock"}


def effective_metric(params: dict[str, Any]) -> str | None:
    """scikit-learn's ``effective_metric_`` for the metrics served here, else ``None``."""
    metric, p = params.get("metric", "minkowski"), params.get("p", 2)
    if p is not None and (isinstance(p, bool) or not isinstance(p, (int, float)) or not p > 0):
        return None  # invalid p: let scikit-learn raise in a separate fit
    if metric in _EUCLIDEAN:
        return "euclidean"
    if metric in _MANHATTAN:
        return "manhattan"
    if metric == "minkowski":
        return {1: "manhattan", 2: "euclidean"}.get(p if p is not None else 2)  # type: ignore[arg-type]
    return None


def _key(cell: Any, est: Any) -> tuple[str, str, bool] | None:
    if type(est) is not KNeighborsClassifier:
        return None
    params = est.get_params()
    if params.get("weights") != "uniform" or params.get("metric_params") is not None:
        return None
    k = params.get("n_neighbors")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        return None
    metric = effective_metric(params)
    if metric is None:
        return None
    rest = params_key(params, exclude={"n_neighbors", "p", "metric", "algorithm", "leaf_size", "n_jobs"})
    if rest is None:
        return None
    return metric, rest, bool(cell.spec.scale)


def sorted_distances(X_tr: np.ndarray, X_va: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per validation row: sorted distances, the training rows in that order, and the error bound.

    Euclidean works with squared distances (monotone, so the same neighbour
    sets, and the brute-force path's error is naturally bounded there).
    """
    X_tr = np.asarray(X_tr, dtype=np.float64)
    X_va = np.asarray(X_va, dtype=np.float64)
    if metric == "euclidean":
        name, tr_size, va_size = "sqeuclidean", (X_tr**2).sum(1), (X_va**2).sum(1)
    else:
        name, tr_size, va_size = "cityblock", np.abs(X_tr).sum(1), np.abs(X_va).sum(1)
    tol = TOL * (va_size + tr_size.max(initial=0.0)) + np.finfo(np.float64).tiny
    rows = max(1, CHUNK // max(1, len(X_tr)))
    dist, order = [], []
    for start in range(0, len(X_va), rows):
        D = cdist(X_va[start:start + rows], X_tr, metric=name)
        o = np.argsort(D, axis=1, kind="stable")
        order.append(o)
        dist.append(np.take_along_axis(D, o, axis=1))
    return np.vstack(dist), np.vstack(order), tol


def vote(ones: np.ndarray, k: int) -> np.ndarray:
    """Index into ``classes_`` of a uniform vote: 1 iff strictly more ones than zeros."""
    return (2 * ones > k).astype(np.intp)


def predict_all_k(
    s: np.ndarray, order: np.ndarray, tol: np.ndarray, y_idx: np.ndarray, ks: list[int]
) -> dict[int, np.ndarray | None]:
    """Class index per validation row for each k, or ``None`` if some row's vote is undetermined."""
    labels = y_idx[order]                     # 0/1 labels of the neighbours, nearest first
    ones_prefix = np.cumsum(labels, axis=1)
    n_tr = s.shape[1]
    out: dict[int, np.ndarray | None] = {}
    for k in ks:
        pred = vote(ones_prefix[:, k - 1], k)
        if k < n_tr:
            ambiguous = np.nonzero(s[:, k] - s[:, k - 1] <= 2 * tol)[0]
        else:
            ambiguous = np.array([], dtype=int)
        ok = True
        for i in ambiguous:
            decided = _resolve(s[i], labels[i], float(tol[i]), k)
            if decided is None:
                ok = False
                break
            pred[i] = decided
        out[k] = pred if ok else None
    return out


def _resolve(s: np.ndarray, labels: np.ndarray, tol: float, k: int) -> int | None:
    """The vote of a row whose k-th neighbour is tied, if every tie-break gives the same vote."""
    lo = k - 1
    while lo > 0 and s[lo] - s[lo - 1] <= 2 * tol:
        lo -= 1
    hi = k - 1
    while hi + 1 < len(s) and s[hi + 1] - s[hi] <= 2 * tol:
        hi += 1
    ones_in = int(labels[:lo].sum())
    group = labels[lo:hi + 1]
    m = k - lo
    ones_g = int(group.sum())
    zeros_g = len(group) - ones_g
    low = ones_in + max(0, m - zeros_g)
    high = ones_in + min(m, ones_g)
    a, b = int(2 * low > k), int(2 * high > k)
    return a if a == b else None


def score_knn(ctx: FitContext, positions: list[int]) -> None:
    """Serve uniform-weight kNN cells: one distance matrix per effective metric."""
    classes = np.unique(ctx.y_tr)
    if len(classes) != 2:
        return
    y_idx = np.searchsorted(classes, ctx.y_tr)
    for members in group_by(ctx, positions, _key).values():
        X_tr, X_va = ctx.matrices(members[0][0])      # the same matrices for every member (same scale flag)
        ks = sorted({int(est.n_neighbors) for _, est in members})
        ks = [k for k in ks if k <= len(X_tr)]
        t0 = time.perf_counter()
        metric = effective_metric(members[0][1].get_params())
        assert metric is not None
        s, order, tol = sorted_distances(X_tr, X_va, metric)
        by_k = predict_all_k(s, order, tol, y_idx, ks)
        # The distance matrix is charged to every member, served or not (an
        # unserved member pays for its separate fit on top).
        ctx.cost.charge([pos for pos, _ in members], time.perf_counter() - t0)
        for pos, est in members:
            pred = by_k.get(int(est.n_neighbors))
            if pred is not None:
                ctx.serve(pos, classes[pred])
