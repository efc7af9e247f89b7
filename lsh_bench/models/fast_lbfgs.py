"""scikit-learn's binary logistic regression, bit for bit, with less Python per evaluation.

The paper's logistic regression (unscaled features, ``max_iter=100000``)
rarely converges on the software-defect datasets: lbfgs stops at scipy's cap
of 15,000 function evaluations, and where it stops decides the model. So
nothing here changes *what* is computed; it removes overhead around it.
Measured on kc3 after SMOTE to ratio 1.0 (830 x 39, one BLAS thread): one
evaluation cost 37 us in ``LinearModelLoss.loss_gradient`` (array-API
namespace lookups, allocations) plus 16 us in ``scipy.optimize``'s L-BFGS-B
driver (``ScalarFunction``, ``MemoizeJac``, copies) around ~15 us of real
arithmetic.

:func:`lean_lbfgs` is a context manager under which
``LogisticRegression.fit`` runs unchanged — its validation, label encoding,
``coef_``/``intercept_``/``n_iter_`` and its ``ConvergenceWarning`` are
scikit-learn's own — except that the ``optimize.minimize`` it calls is
:func:`_minimize`: the same L-BFGS-B loop as
``scipy.optimize._lbfgsb_py._minimize_lbfgsb`` (same ``setulb`` calls, same
arguments, same evaluation counting and stopping rule), evaluating the
objective with :class:`_BinomialObjective`, which performs the same floating
point operations as ``LinearModelLoss.loss_gradient`` for a binary
``HalfBinomialLoss`` with intercept (same BLAS calls, the same compiled
Cython loss, the same sums in the same order) into preallocated buffers.

Anything else (other scipy/scikit-learn versions, sample weights given as
non-ones, callbacks, bounds, multinomial loss, options we do not mirror) is
handed to scipy's own ``minimize``. ``tests/fast/test_fast_lbfgs.py`` checks
``coef_``/``intercept_``/``n_iter_`` with ``np.array_equal`` against plain
scikit-learn on real data, including fits that stop at the evaluation cap;
``scripts/bench_grid.py`` checks every F1 of the grid.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterator

import numpy as np
import scipy
import sklearn
from scipy import optimize as _scipy_optimize
from scipy.optimize import OptimizeResult

# The versions whose code this module mirrors (pinned in pyproject.toml).
MIRRORED_VERSIONS = {"scikit-learn": "1.9.1", "scipy": "1.17.1"}
_MAXCOR = 10        # _minimize_lbfgsb defaults that scikit-learn does not override
_MAXFUN = 15000
_OPTIONS = {"maxiter", "maxls", "gtol", "ftol"}   # what scikit-learn passes for lbfgs

_PATCH_LOCK = threading.RLock()


def versions_match() -> bool:
    """Are the installed scikit-learn and scipy the versions this module mirrors?"""
    return (sklearn.__version__ == MIRRORED_VERSIONS["scikit-learn"]
            and scipy.__version__ == MIRRORED_VERSIONS["scipy"])


class _OptimizeFacade:
    """Stands in for the ``scipy.optimize`` module inside scikit-learn's ``_logistic``."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_scipy_optimize, name)

    @staticmethod
    def minimize(fun: Callable, x0: Any, args: tuple = (), method: str | None = None, jac: Any = None,
                 callback: Any = None, options: dict | None = None, **kwargs: Any) -> OptimizeResult:
        return _minimize(fun, x0, args=args, method=method, jac=jac, callback=callback, options=options,
                         **kwargs)


@contextlib.contextmanager
def lean_lbfgs() -> Iterator[bool]:
    """Within the block, ``LogisticRegression(solver="lbfgs")`` fits use the lean loop.

    Yields whether it is active (False on unmirrored library versions, where
    scikit-learn runs as it is). Not for threads fitting concurrently in one
    process: the swap is of a module attribute (workers here are processes).
    """
    if not versions_match():
        yield False
        return
    from sklearn.linear_model import _logistic

    with _PATCH_LOCK:
        saved = _logistic.optimize
        _logistic.optimize = _OptimizeFacade()
        try:
            yield True
        finally:
            _logistic.optimize = saved


def _minimize(fun: Callable, x0: Any, args: tuple = (), method: str | None = None, jac: Any = None,
              callback: Any = None, options: dict | None = None, **kwargs: Any) -> OptimizeResult:
    options = dict(options or {})
    mirrored = (method == "L-BFGS-B" and jac is True and callback is None and not kwargs
                and set(options) <= _OPTIONS and options.get("maxls", 20) > 0)
    if not mirrored:
        return _scipy_optimize.minimize(fun, x0, args=args, method=method, jac=jac, callback=callback,
                                        options=options, **kwargs)
    x0 = np.atleast_1d(np.asarray(x0))          # what scipy.optimize.minimize does first
    if x0.ndim != 1:
        return _scipy_optimize.minimize(fun, x0, args=args, method=method, jac=jac, options=options)
    if x0.dtype.kind in np.typecodes["AllInteger"]:
        x0 = np.asarray(x0, dtype=float)
    objective = _BinomialObjective.of(fun, args) or (lambda w: fun(w, *args))
    return lbfgsb(objective, x0, maxiter=options.get("maxiter", 15000), maxls=options.get("maxls", 20),
                  gtol=options.get("gtol", 1e-5), ftol=options.get("ftol", 2.2204460492503131e-09))


def lbfgsb(objective: Callable[[np.ndarray], tuple[float, np.ndarray]], x0: np.ndarray, *, maxiter: int,
           maxls: int, gtol: float, ftol: float) -> OptimizeResult:
    """``scipy.optimize._lbfgsb_py._minimize_lbfgsb`` without bounds, ``jac=True``, no callback.

    Same ``setulb`` calls with the same arguments. Evaluation counting as
    ``ScalarFunction`` does it: one evaluation at ``x0`` on construction, a
    request at the last evaluated point is answered from memory, and the
    ``nfev > maxfun`` test runs at each new iteration.
    """
    from scipy.optimize import _lbfgsb

    m = _MAXCOR
    factr = ftol / np.finfo(float).eps
    n = x0.shape[0]
    nbd = np.zeros(n, np.int32)
    low_bnd = np.zeros(n, np.float64)
    upper_bnd = np.zeros(n, np.float64)

    x_seen = x0.astype(np.float64)                 # ScalarFunction's self.x (a copy of x0)
    f_seen, g_seen = _evaluate(objective, x_seen)
    nfev = 1

    x = np.array(x0, dtype=np.float64)
    f: Any = np.array(0.0, dtype=np.float64)
    g = np.zeros((n,), dtype=np.float64)
    wa = np.zeros(2 * m * n + 5 * n + 11 * m * m + 8 * m, np.float64)
    iwa = np.zeros(3 * n, dtype=np.int32)
    task = np.zeros(2, dtype=np.int32)
    ln_task = np.zeros(2, dtype=np.int32)
    lsave = np.zeros(4, dtype=np.int32)
    isave = np.zeros(44, dtype=np.int32)
    dsave = np.zeros(29, dtype=np.float64)
    n_iterations = 0
    setulb = _lbfgsb.setulb
    while True:
        g = g.astype(np.float64)                   # scipy's loop copies g before each call
        setulb(m, x, low_bnd, upper_bnd, nbd, f, g, factr, gtol, wa, iwa, task, lsave, isave, dsave,
               maxls, ln_task)
        if task[0] == 3:
            if not np.array_equal(x, x_seen):
                x_seen = x.astype(np.float64)
                f_seen, g_seen = _evaluate(objective, x_seen)
                nfev += 1
            f, g = f_seen, g_seen
        elif task[0] == 1:
            n_iterations += 1
            if n_iterations >= maxiter:
                task[0], task[1] = 5, 504
            elif nfev > _MAXFUN:
                task[0], task[1] = 5, 502
        else:
            break
    if task[0] == 4:
        warnflag = 0
    elif nfev > _MAXFUN or n_iterations >= maxiter:
        warnflag = 1
    else:
        warnflag = 2
    from scipy.optimize._lbfgsb_py import status_messages, task_messages

    msg = status_messages[task[0]] + ": " + task_messages[task[1]]
    return OptimizeResult(fun=f, jac=g, nfev=nfev, njev=nfev, nit=n_iterations, status=warnflag, message=msg,
                          x=x, success=(warnflag == 0))


def _evaluate(objective: Callable[[np.ndarray], tuple[Any, np.ndarray]], x: np.ndarray) -> tuple[Any, np.ndarray]:
    """One evaluation as ScalarFunction + MemoizeJac return it: scalar f, 1-d gradient (copies of x in)."""
    fx, grad = objective(np.copy(x))
    if not np.isscalar(fx):
        fx = np.asarray(fx).item()
    return fx, np.atleast_1d(grad)


class _BinomialObjective:
    """``LinearModelLoss.loss_gradient`` for binary ``HalfBinomialLoss`` with intercept, lean.

    Every floating-point operation is the one scikit-learn 1.9.1 performs, in
    the same order: ``raw = X @ w + b``; the compiled per-sample loss and
    gradient; ``loss = float(sum(loss) / sw_sum) + float(0.5 * l2 * (w @ w))``;
    ``grad_pointwise /= sw_sum``; ``grad[:-1] = X.T @ grad_pointwise + l2 * w``;
    ``grad[-1] = sum(grad_pointwise)``. Only allocation and dispatch differ.
    """

    def __init__(self, loss: Any, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None,
                 l2_reg_strength: float, n_threads: int) -> None:
        self.closs = loss.base_loss.closs
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.l2 = l2_reg_strength
        self.n_threads = n_threads
        self.n_features = X.shape[1]
        self.sw_sum = X.shape[0] if sample_weight is None else np.sum(sample_weight)
        self.loss_out = np.empty_like(y)
        self.XT = X.T

    @classmethod
    def of(cls, fun: Callable, args: tuple) -> "_BinomialObjective | None":
        """The lean objective if ``fun`` is that bound method on plain numpy inputs, else ``None``."""
        from sklearn._loss.loss import HalfBinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss

        loss = getattr(fun, "__self__", None)
        if (not isinstance(loss, LinearModelLoss) or getattr(fun, "__func__", None) is not LinearModelLoss.loss_gradient
                or type(loss.base_loss) is not HalfBinomialLoss or not loss.fit_intercept or len(args) != 5):
            return None
        X, y, sample_weight, l2, n_threads = args
        arrays = [X, y] + ([] if sample_weight is None else [sample_weight])
        if not all(type(a) is np.ndarray and a.dtype == np.float64 for a in arrays):
            return None
        if X.ndim != 2 or not X.flags.c_contiguous or y.ndim != 1 or not y.flags.c_contiguous:
            return None
        if sample_weight is not None and (sample_weight.ndim != 1 or not sample_weight.flags.c_contiguous):
            return None
        return cls(loss, X, y, sample_weight, float(l2), int(n_threads))

    def __call__(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        weights = coef[:-1]
        raw_prediction = self.X @ weights + np.asarray(coef[-1], dtype=np.float64)
        gradient_out = np.empty_like(raw_prediction)
        self.closs.loss_gradient(y_true=self.y, raw_prediction=raw_prediction, sample_weight=self.sample_weight,
                                 loss_out=self.loss_out, gradient_out=gradient_out, n_threads=self.n_threads)
        loss = float(np.sum(self.loss_out) / self.sw_sum)
        loss += float(0.5 * self.l2 * (weights @ weights))
        gradient_out /= self.sw_sum
        grad = np.empty_like(coef, dtype=weights.dtype)
        grad[: self.n_features] = self.XT @ gradient_out + self.l2 * weights
        grad[-1] = np.sum(gradient_out)
        return loss, grad
