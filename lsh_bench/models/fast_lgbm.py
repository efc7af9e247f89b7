"""LightGBM: one boosting run serves every ``n_estimators`` of a grid.

Why it is exact:

* Boosting iteration *t* depends only on iterations 1..t-1 (the total
  number of iterations is not an input of any tree), so a run to
  ``n_max`` passes through the state of a run to ``n`` < ``n_max``.
* gbdt and goss never change a tree once it is added, so the model after
  *n* iterations is the first *n* trees of the ``n_max`` model:
  ``predict(X, num_iteration=n)``.
* dart rescales earlier trees when it drops them, so the ``n``-tree model is
  *not* a prefix of the ``n_max`` model (differences up to 0.17 were seen).
  Instead a callback predicts the validation rows with the booster as it
  stands at the end of iteration *n* — the very model a run to ``n`` ends
  with. At ``n_max`` the callback's prediction is compared with the fitted
  model's ordinary ``predict``; if they are not identical (bit for bit) the
  group falls back to separate fits, so a LightGBM change cannot silently
  break exactness.

Preconditions (checked; whatever fails them is fitted separately): exactly
``lightgbm.LGBMClassifier``; no early stopping and no alias of the
iteration count among the parameters; boosting type gbdt, goss or dart
(``rf`` averages trees); two classes; groups of two cells or more; the
installed LightGBM is :data:`MIRRORS`'s (the tree learner and the predict
path read above). Only public API is used: the booster, its model text and
``classes_``.

``max_depth`` is shared too when it provably did not act: see
:func:`_depth_unused` (the same argument as for decision trees).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from lightgbm import LGBMClassifier
from sklearn.base import clone

from lsh_bench.models.fit_context import FitContext, group_by, params_key

#: The LightGBM whose boosting loop, tree learner and ``predict`` the proof above reads.
MIRRORS = {"lightgbm": "4.7.0"}

PREFIX_TYPES = {"gbdt", "goss"}
RECORDED_TYPES = {"dart"}

# Parameters that make the iteration count or stopping point depend on something
# other than n_estimators (LightGBM aliases, see lightgbm.basic._ConfigAliases).
_ITERATION_PARAMS = {
    "num_iterations", "num_iteration", "n_iter", "num_tree", "num_trees", "num_round",
    "num_rounds", "nrounds", "num_boost_round", "max_iter",
    "early_stopping_round", "early_stopping_rounds", "early_stopping", "n_iter_no_change",
    "validation_fraction", "first_metric_only",
}


def _key(cell: Any, est: Any) -> str | None:
    if type(est) is not LGBMClassifier:
        return None
    params = est.get_params()
    if any(params.get(p) not in (None, False) for p in _ITERATION_PARAMS):
        return None
    if params.get("boosting_type") not in PREFIX_TYPES | RECORDED_TYPES:
        return None
    n = params.get("n_estimators")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        return None
    key = params_key(params, exclude={"n_estimators", "max_depth"})
    return None if key is None else f"{key}|scale={bool(cell.spec.scale)}"   # one run sees one matrix


def _labels_from_proba(est: Any, proba: np.ndarray) -> np.ndarray:
    """What ``LGBMClassifier.predict`` does with the booster's binary probabilities.

    ``predict`` maps the argmax through its label encoder, whose
    ``inverse_transform`` takes from the encoder's ``classes_`` — the array
    the public ``classes_`` returns: the same labels, the same dtype.
    """
    result = np.vstack((1.0 - proba, proba)).transpose()
    return np.take(est.classes_, np.argmax(result, axis=1), axis=0)


def _fit_recording(est: Any, X_tr: np.ndarray, y_tr: np.ndarray, X_va: np.ndarray, at: set[int]) -> dict[int, np.ndarray]:
    """Fit ``est`` and record the booster's validation probabilities after the iterations in ``at``."""
    recorded: dict[int, np.ndarray] = {}

    def record(env: Any) -> None:
        n = env.iteration - env.begin_iteration + 1
        if n in at:
            recorded[n] = np.asarray(env.model.predict(X_va, num_threads=1))

    record.order = 100  # type: ignore[attr-defined]  # after any built-in callback
    est.fit(X_tr, y_tr, callbacks=[record])
    return recorded


def _depth_rank(est: Any) -> float:
    d = est.max_depth
    return float("inf") if d is None or d <= 0 else float(d)


def max_leaf_depth(est: Any) -> int:
    """Deepest leaf (edges from the root) over all trees of a fitted model.

    Read from the model text (``left_child``/``right_child`` arrays of each
    tree; a negative child is a leaf), which is much cheaper than ``dump_model``.
    """
    deepest = 0
    left: list[int] = []
    for line in est.booster_.model_to_string().splitlines():
        if line.startswith("left_child="):
            left = [int(v) for v in line[len("left_child="):].split()]
        elif line.startswith("right_child="):
            right = [int(v) for v in line[len("right_child="):].split()]
            depth = {0: 0}
            for node in range(len(left)):  # parents come before their children
                for child in (left[node], right[node]):
                    if child < 0:
                        deepest = max(deepest, depth[node] + 1)
                    else:
                        depth[child] = depth[node] + 1
    return deepest


def _depth_unused(est: Any) -> bool:
    """True if ``max_depth`` never stopped a split in this fit, so any larger one gives the same model.

    LightGBM (``SerialTreeLearner::BeforeFindBestSplit``) refuses to split a
    leaf whose depth is ``>= max_depth``; ``max_depth`` also caps
    ``num_leaves`` at ``2**max_depth`` (``Config::CheckParamConflict``). If no
    leaf of any tree reached ``max_depth`` and the cap did not bind, a larger
    ``max_depth`` takes every decision the same way.
    """
    limit = _depth_rank(est)
    if limit == float("inf"):
        return True
    num_leaves = est.num_leaves
    return 2 ** limit >= num_leaves and max_leaf_depth(est) < limit


def score_lgbm(ctx: FitContext, positions: list[int]) -> None:
    """Serve LightGBM cells that differ only in ``n_estimators`` (and unused ``max_depth``) with one run."""
    if len(np.unique(ctx.y_tr)) != 2:
        return
    for members in group_by(ctx, positions, _key).values():
        if len(members) < 2:
            continue  # nothing to share
        members = sorted(members, key=lambda m: _depth_rank(m[1]))
        wanted = {int(e.n_estimators) for _, e in members}
        i = 0
        while i < len(members):
            depth = _depth_rank(members[i][1])
            served = [m for m in members[i:] if _depth_rank(m[1]) == depth]
            est = clone(members[i][1]).set_params(n_estimators=max(wanted))
            predictions, seconds = _run(ctx, members[i][0], est, wanted)
            if predictions is not None and _depth_unused(est):
                served = members[i:]
            ctx.cost.charge([p for p, _ in served], seconds)
            if predictions is None:
                break  # not provably identical: the rest are fitted separately
            for pos, member in served:
                ctx.serve(pos, predictions[int(member.n_estimators)])
            i += len(served)


def _run(ctx: FitContext, pos0: int, est: Any, wanted: set[int]) -> tuple[dict[int, np.ndarray] | None, float]:
    """One boosting run to ``max(wanted)``: validation labels after each wanted iteration count."""
    X_tr, X_va = ctx.matrices(pos0)
    n_max = max(wanted)
    t0 = time.perf_counter()
    if est.boosting_type in PREFIX_TYPES:
        est.fit(X_tr, ctx.y_tr)
        out = {n: est.predict(X_va, num_iteration=n) for n in wanted}
        return out, time.perf_counter() - t0
    recorded = _fit_recording(est, X_tr, ctx.y_tr, X_va, wanted)
    final = np.asarray(est.predict_proba(X_va))[:, 1]
    seconds = time.perf_counter() - t0
    if (
        est.booster_.current_iteration() != n_max
        or set(recorded) != wanted
        or not np.array_equal(recorded[n_max], final)
    ):
        return None, seconds  # e.g. training stopped early: not provably the same models
    return {n: _labels_from_proba(est, p) for n, p in recorded.items()}, seconds
