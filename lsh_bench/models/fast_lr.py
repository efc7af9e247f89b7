"""Binary L2 logistic regression (lbfgs), scikit-learn's fit bit for bit, leaner.

The paper's logistic regression (``max_iter=100000``, unscaled features)
rarely converges on the software-defect datasets: lbfgs runs until scipy's
cap of 15,000 function evaluations, and *where* it stops decides the model.
So nothing here changes a floating-point value that reaches L-BFGS-B — the
same function values, the same gradients, the same ``x`` sequence, the same
evaluation count — it only removes the machinery around them.

:func:`fit_lean` is ``LogisticRegression.fit`` of scikit-learn 1.9.1 with
scipy 1.17.1 (``_logistic_regression_path`` -> ``scipy.optimize.minimize``
-> ``_minimize_lbfgsb`` -> ``ScalarFunction``/``MemoizeJac`` ->
``LinearModelLoss.loss_gradient``), written out for the one case the grid
uses, with every buffer allocated once per fit:

* preprocessing as scikit-learn does it: ``X`` float64 C-ordered,
  ``classes_ = unique_values(y)``, target ``1.0`` where ``y == classes_[1]``
  else ``0.0``, no sample weights (``sw_sum = n_samples``, an int),
  ``l2_reg_strength = 1.0 / (C * sw_sum)``, ``w0`` zeros including the
  intercept;
* the objective performs ``LinearModelLoss.loss_gradient``'s operations in
  its order, with the same numpy/BLAS kernels writing into preallocated
  outputs: ``raw = X @ w`` (``np.matmul(..., out=)``, the same gufunc loop)
  ``+ intercept``; the compiled ``CyHalfBinomialLoss.loss_gradient`` (the
  float64 specialisation the fused dispatcher would select);
  ``loss = float(np.sum(loss) / n) + float(0.5 * l2 * (w @ w))``;
  ``grad_pointwise /= n``; ``grad[:-1] = X.T @ grad_pointwise + l2 * w``;
  ``grad[-1] = np.sum(grad_pointwise)``. No exp/log of our own;
* the driver calls ``scipy.optimize._lbfgsb.setulb`` with the arguments
  ``_minimize_lbfgsb`` passes (``m=10``, ``factr = 64 * eps / eps``,
  ``pgtol = tol``, ``maxls=50``), counts evaluations as ``ScalarFunction``
  does (one at ``x0`` on construction; a request at an ``x`` equal — in the
  ``np.array_equal`` sense, so ``-0.0 == 0.0`` and NaN never equal — to the
  last evaluated point is answered from memory) and stops as it does
  (``n_iterations >= maxiter`` -> 504, else ``nfev > 15000`` -> 502, both
  checked at each new iteration). The result goes through scikit-learn's
  own ``_check_optimize_result``, so the ``ConvergenceWarning`` (category,
  text, one per non-converged fit) and ``n_iter_`` are scikit-learn's.

The fitted object is a ``LogisticRegression`` with ``classes_``, ``coef_``,
``intercept_`` (views of one stacked array, as scikit-learn leaves them),
``n_iter_`` (int32) and ``n_features_in_``; ``predict`` is scikit-learn's.

:func:`lean_lr_applies` admits only that configuration (see its docstring);
:func:`fit_lean` also checks the data (dense float64 finite ``X``, binary
``y`` of integers/bools, no sample weight) and otherwise calls the
estimator's own ``fit``. ``tests/models/test_fast_lr.py`` compares ``coef_``,
``intercept_``, ``n_iter_`` with ``np.array_equal`` against plain
scikit-learn on real data, including fits that stop at the evaluation cap.

Private scikit-learn/scipy API (the compiled loss, scipy's ``setulb``,
``_check_optimize_result``, ``get_namespace``, ``_validate_params``) is used
only where :func:`lean_lr_applies` has checked that the installed versions
are :data:`MIRRORS`'s; if the imports themselves fail (another version),
the module still loads and admits nothing.

Measurements (per-fit timings against scikit-learn, a sweep of 238 fits
over the mirrored datasets): ``docs/fast-evaluator.md``.

(``lean_lbfgs`` was an earlier approach that swapped the optimiser inside
scikit-learn's fit; this module replaced it. LR fits this family does not
claim are scikit-learn's own.)
"""

from __future__ import annotations

import numbers
import time
from typing import Any

import numpy as np
from sklearn import get_config
from sklearn.linear_model import LogisticRegression

from lsh_bench.models.fit_context import FitContext
from lsh_bench.models.fit_context import versions_match as _installed

try:  # private API of the mirrored versions (see above); other versions: the module admits nothing
    from scipy.optimize import OptimizeResult
    from scipy.optimize import _lbfgsb as scipy_lbfgsb
    from scipy.optimize._lbfgsb_py import status_messages, task_messages
    from sklearn._loss.loss import HalfBinomialLoss
    from sklearn.linear_model._logistic import _LOGISTIC_SOLVER_CONVERGENCE_MSG
    from sklearn.utils._array_api import get_namespace
    from sklearn.utils.optimize import _check_optimize_result
    _PRIVATE_API = True
except ImportError:  # pragma: no cover - only with other scikit-learn/scipy versions
    _PRIVATE_API = False

#: The versions whose code this module mirrors (pinned in pyproject.toml).
MIRRORS = {"scikit-learn": "1.9.1", "scipy": "1.17.1"}


def versions_match() -> bool:
    """Are the installed scikit-learn and scipy the versions this module mirrors (and their API importable)?"""
    return _PRIVATE_API and _installed(MIRRORS)

_M = 10                     # _minimize_lbfgsb's maxcor default (scikit-learn does not set it)
_MAXFUN = 15000             # _minimize_lbfgsb's maxfun default
_MAXLS = 50                 # scikit-learn's choice
_FTOL = 64 * np.finfo(float).eps
# np.sum(a) of an ndarray is np.add.reduce(a, None, None, None): the same ufunc reduction
# (pairwise summation, same blocking), without np.sum's Python-level dispatch.
_sum = np.add.reduce
_TASK_FG, _TASK_NEW_X, _TASK_CONVERGENCE, _TASK_STOP = 3, 1, 4, 5

# Parameters that may take any valid value; every other one must be the default.
_FREE = {"C", "max_iter", "tol", "random_state"}
_DEFAULTS = {"penalty": "deprecated", "l1_ratio": 0.0, "dual": False, "fit_intercept": True,
             "intercept_scaling": 1, "class_weight": None, "solver": "lbfgs", "verbose": 0,
             "warm_start": False, "n_jobs": None}


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def lean_lr_applies(estimator: Any) -> bool:
    """Is ``estimator`` the configuration :func:`fit_lean` mirrors?

    Exactly ``sklearn.linear_model.LogisticRegression`` (no subclass) with
    solver lbfgs, L2 penalty spelled the 1.9.1 default way (``penalty`` left
    ``"deprecated"``, ``l1_ratio=0``), ``fit_intercept=True``,
    ``intercept_scaling=1``, no ``class_weight``, ``dual=False``,
    ``warm_start=False``, ``verbose=0``, ``n_jobs=None``, no callbacks;
    ``0 < C < inf``; ``tol >= 0``; integer ``max_iter >= 1``; any valid
    ``random_state`` (lbfgs does not use it); array-API dispatch off; and
    the installed scikit-learn/scipy are the mirrored 1.9.1/1.17.1.
    """
    if type(estimator) is not LogisticRegression or not versions_match():
        return False
    if get_config().get("array_api_dispatch", False) or getattr(estimator, "_skl_callbacks", None):
        return False
    params = estimator.get_params(deep=False)
    if set(params) != _FREE | set(_DEFAULTS):
        return False
    for name, default in _DEFAULTS.items():
        value = params[name]
        if type(value) is not type(default) or value != default:
            return False
    C, tol, max_iter = params["C"], params["tol"], params["max_iter"]
    if not (_is_real(C) and 0 < C < np.inf) or not (_is_real(tol) and 0 <= tol < np.inf):
        return False
    if not isinstance(max_iter, numbers.Integral) or isinstance(max_iter, (bool, np.bool_)) or max_iter < 1:
        return False
    try:
        estimator._validate_params()     # what fit's _fit_context does (random_state etc.)
    except Exception:
        return False
    return True


def _binary_data(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(X, classes_, target)`` as scikit-learn's fit derives them, or ``None`` if not mirrored."""
    if type(X) is not np.ndarray or type(y) is not np.ndarray:
        return None
    if X.dtype != np.float64 or X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        return None
    if y.ndim != 1 or y.shape[0] != X.shape[0] or y.dtype.kind not in "iub":
        return None
    if not np.isfinite(X).all():
        return None
    xp_y, _ = get_namespace(y)
    classes = xp_y.unique_values(y)          # LogisticRegression.fit: self.classes_
    if classes.shape[0] != 2:
        return None
    X = np.asarray(X, order="C")             # validate_data(order="C"); no copy if already C
    target = np.ones(y.shape, dtype=np.float64)
    target[~(y == classes[1])] = 0.0         # _logistic_regression_path: y_bin
    return X, classes, target


def _specialised(fused: Any) -> Any:
    """The float64-in/float64-out specialisation the fused-type dispatcher would pick."""
    try:
        return fused["double|double"]
    except Exception:       # pragma: no cover - other Cython builds
        return fused


class _Objective:
    """``LinearModelLoss.loss_gradient`` (binary, intercept, no sample weight) into fixed buffers.

    ``coef`` is bound once (the array ``setulb`` updates in place);
    :meth:`evaluate` returns the loss and leaves the gradient in ``grad``.
    """

    def __init__(self, X: np.ndarray, target: np.ndarray, l2_reg_strength: float, coef: np.ndarray) -> None:
        n, p = X.shape
        self.X, self.XT, self.y = X, X.T, target
        self.n, self.p = n, p                       # n: an int, like sw_sum = n_samples
        self.l2 = l2_reg_strength
        self.half_l2 = 0.5 * l2_reg_strength        # l2_penalty: 0.5 * l2 * (w @ w), left to right
        self.coef = coef
        self.weights = coef[:p]                     # LinearModelLoss.weight_intercept: coef[:-1]
        self.raw = np.empty(n)
        self.loss_out = np.empty(n)
        self.grad_pointwise = np.empty(n)
        self.X_grad = np.empty(p)
        self.penalty_grad = np.empty(p)
        self.grad = np.empty(p + 1)
        self.grad_weights = self.grad[:p]
        self.closs = _specialised(HalfBinomialLoss().closs.loss_gradient)

    def evaluate(self) -> float:
        w, raw, gp, n = self.weights, self.raw, self.grad_pointwise, self.n
        np.matmul(self.X, w, out=raw)                       # X @ weights
        np.add(raw, self.coef[self.p], out=raw)             # + intercept
        self.closs(self.y, raw, None, self.loss_out, gp, 1)
        loss = float(_sum(self.loss_out) / n)                # np.sum(loss_out) / sw_sum
        loss += float(self.half_l2 * (w @ w))
        np.divide(gp, n, out=gp)                            # grad_pointwise /= sw_sum
        np.matmul(self.XT, gp, out=self.X_grad)             # X.T @ grad_pointwise
        np.multiply(self.l2, w, out=self.penalty_grad)      # l2_reg_strength * weights
        np.add(self.X_grad, self.penalty_grad, out=self.grad_weights)
        self.grad[self.p] = _sum(gp)                        # np.sum(grad_pointwise)
        return loss


def _lbfgsb(objective: _Objective, x: np.ndarray, *, maxiter: int, gtol: float) -> tuple[int, int, str]:
    """``_minimize_lbfgsb``'s loop; ``x`` (the start, zeros) is updated in place.

    Returns ``(nit, status, message)`` as in scipy's ``OptimizeResult``.
    """
    m, n = _M, x.shape[0]
    factr = _FTOL / np.finfo(float).eps
    nbd = np.zeros(n, np.int32)
    low_bnd = np.zeros(n, np.float64)
    upper_bnd = np.zeros(n, np.float64)
    f: Any = np.array(0.0, dtype=np.float64)
    g = np.zeros((n,), dtype=np.float64)
    wa = np.zeros(2 * m * n + 5 * n + 11 * m * m + 8 * m, np.float64)
    iwa = np.zeros(3 * n, dtype=np.int32)
    task = np.zeros(2, dtype=np.int32)
    ln_task = np.zeros(2, dtype=np.int32)
    lsave = np.zeros(4, dtype=np.int32)
    isave = np.zeros(44, dtype=np.int32)
    dsave = np.zeros(29, dtype=np.float64)

    # ScalarFunction.__init__: one evaluation at (a copy of) x0.
    x_seen = x.copy()
    f_seen = objective.evaluate()
    grad = objective.grad
    nfev = 1
    same = np.empty(n, dtype=bool)
    n_iterations = 0
    setulb, equal, copyto, evaluate = scipy_lbfgsb.setulb, np.equal, np.copyto, objective.evaluate
    all_true = np.logical_and.reduce        # same.all() without ndarray.all's Python-level wrapper
    while True:
        # scipy passes a fresh float64 copy of g each call; g only changes at an evaluation
        # (copied in below) or inside setulb (kept, as scipy keeps its copy), so one buffer does.
        setulb(m, x, low_bnd, upper_bnd, nbd, f, g, factr, gtol, wa, iwa, task, lsave, isave, dsave,
               _MAXLS, ln_task)
        t = task[0]
        if t == _TASK_FG:
            equal(x, x_seen, out=same)                      # ScalarFunction: np.array_equal(x, self.x)
            if not all_true(same):
                copyto(x_seen, x)
                f_seen = evaluate()
                nfev += 1
            f = f_seen
            copyto(g, grad)
        elif t == _TASK_NEW_X:
            n_iterations += 1
            if n_iterations >= maxiter:
                task[0], task[1] = _TASK_STOP, 504
            elif nfev > _MAXFUN:
                task[0], task[1] = _TASK_STOP, 502
        else:
            break
    if task[0] == _TASK_CONVERGENCE:
        warnflag = 0
    elif nfev > _MAXFUN or n_iterations >= maxiter:
        warnflag = 1
    else:
        warnflag = 2
    return n_iterations, warnflag, status_messages[task[0]] + ": " + task_messages[task[1]]


def fit_lean(estimator: Any, X: Any, y: Any) -> Any:
    """``estimator.fit(X, y)``, through the lean path when it is mirrored; returns the estimator."""
    data = _binary_data(X, y) if lean_lr_applies(estimator) else None
    if data is None:
        return estimator.fit(X, y)
    return _fit_mirrored(estimator, *data)


def _fit_mirrored(estimator: Any, X: np.ndarray, classes: np.ndarray, target: np.ndarray) -> Any:
    """The lean fit, once :func:`lean_lr_applies` and :func:`_binary_data` have admitted the case."""
    n_samples, n_features = X.shape
    max_iter = estimator.max_iter
    l2_reg_strength = 1.0 / (estimator.C * n_samples)
    w0 = np.zeros(n_features + 1, dtype=np.float64)
    nit, status, message = _lbfgsb(_Objective(X, target, l2_reg_strength, w0), w0, maxiter=max_iter,
                                   gtol=estimator.tol)
    n_iter_i = _check_optimize_result(
        "lbfgs", OptimizeResult(nit=nit, status=status, message=message), max_iter,
        extra_warning_msg=_LOGISTIC_SOLVER_CONVERGENCE_MSG)
    n_iter = np.zeros(1, dtype=np.int32)
    n_iter[0] = n_iter_i
    coefs = np.stack([np.asarray(w0.copy(order="K"), dtype=X.dtype)])
    estimator.n_features_in_ = n_features
    estimator.classes_ = classes
    estimator.n_iter_ = np.asarray(n_iter, dtype=np.int32)
    coef = coefs[0, ...]
    estimator.intercept_ = coef[-1:]
    estimator.coef_ = coef[:-1][None, :]
    return estimator


def score_lr(ctx: FitContext, positions: list[int]) -> None:
    """Serve the logistic-regression cells :func:`lean_lr_applies` admits (one lean fit each)."""
    for pos in positions:
        built = ctx.estimator(pos)
        if built is None or not lean_lr_applies(built[0]):
            continue
        X_tr, X_va = ctx.matrices(pos)
        data = _binary_data(X_tr, ctx.y_tr)
        if data is None:
            continue
        t0 = time.perf_counter()
        ctx.serve(pos, _fit_mirrored(built[0], *data).predict(X_va))
        ctx.cost.add(pos, time.perf_counter() - t0)
