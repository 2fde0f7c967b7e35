"""Whole-run solvers from :func:`scipy.optimize.minimize`: the quasi-Newton L-BFGS-B
and BFGS, and the Hessian-free Newton-CG and trust-region Krylov methods.

These are not stepwise optimizers: scipy owns the loop (its line search, its
stopping tests) and the harness follows it through the callback.  A solver here is
used as::

    result = solver.minimize(oracle, x0, max_iter, callback)

where ``oracle`` has ``loss`` and ``grad`` (the harness passes its counting wrapper
around the *full* objective: a whole-run solver never sees a minibatch, also on a
stochastic problem, which is the lecture's "full batch, deterministic mode"), and
``callback(xk)`` is called with a copy of the iterate after every scipy iteration.
The callback may raise ``StopIteration`` to end the run (the harness does so on its
step budget, on convergence or on divergence).

Counting convention.  scipy is given ``jac=True`` and a function returning the
pair ``(loss, grad)``: ``oracle.loss_and_grad(x)`` when the oracle has that fused
method (one product with the data serves both; see :mod:`problems.base`), else
``(oracle.loss(x), oracle.grad(x))``.  Either way each evaluation scipy asks for
counts as exactly one ``loss`` and one ``grad`` call on the oracle (the harness's
counting oracle counts a ``loss_and_grad`` call as one of each), so the harness's
counts ``n_loss`` and ``n_grad`` equal scipy's ``nfev`` and ``njev``.  Each scipy
iteration is one harness step: ``nit`` equals the steps taken.

Callback style and ``StopIteration``.  The callback is passed to scipy in the
old style, ``callback(xk)``, which every scipy >= 1.10 accepts for both methods.
From scipy 1.11 on, both methods catch a ``StopIteration`` raised by the callback,
stop after that iteration and return a result with ``success=False``,
``status=99`` and ``message="`callback` raised `StopIteration`."``.  Older scipy
lets the exception through :func:`scipy.optimize.minimize`; :meth:`minimize` then
catches it and returns a result of the same shape built from its own counts (the
last iterate, ``nit`` callbacks, ``nfev = njev`` evaluations), so callers see one
behaviour on every supported scipy.

Hessian-free methods (``newton_cg``, ``trust_krylov``) also get ``hessp=``, a
function calling ``oracle.hvp(x, v)``: each product counts as one ``n_hvp`` on the
harness's oracle (priced at two gradients in the cost model, :mod:`optbench.cost`), and
the Hessian itself is never formed, which is what makes Newton's method possible on a
net.  scipy's ``nhev`` is then the number of products.

There is no learning rate: the line search (or the trust region) chooses every step, so these solvers
have no ``lr_at`` and the harness records ``lr`` as NaN.

Example
-------
>>> import numpy as np
>>> from optimizers.scipy_adapters import LBFGS
>>> class Bowl:                                   # f(x) = |x|^2 / 2
...     def loss(self, x):
...         return 0.5 * float(x @ x)
...     def grad(self, x):
...         return x.copy()
>>> result = LBFGS().minimize(Bowl(), np.array([1.0, -2.0]), 100, None)
>>> bool(result.success), bool(np.allclose(result.x, 0.0)), result.nfev == result.njev
(True, True, True)
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from typing import Any, Callable

import numpy as np
import scipy.optimize
from scipy.optimize import OptimizeResult

from .validation import check_bool, check_int, check_real, reject_unknown_hyperparams

__all__ = ["BFGS", "LBFGS", "NewtonCG", "ScipySolver", "TrustKrylov", "loss_and_grad_of"]

#: The message scipy (>= 1.11) gives a run ended by the callback's StopIteration.
STOPPED_BY_CALLBACK = "`callback` raised `StopIteration`."


def loss_and_grad_of(oracle: Any) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """``oracle.loss_and_grad`` where the oracle has it, else ``x -> (oracle.loss(x),
    oracle.grad(x))``: the optional fused method is looked up, never required."""
    fused = getattr(oracle, "loss_and_grad", None)
    if fused is not None:
        return fused

    def separate(x: np.ndarray) -> tuple[float, np.ndarray]:
        return oracle.loss(x), oracle.grad(x)

    return separate


class ScipySolver(ABC):
    """What the scipy adapters share: the ``minimize`` contract and the counting.

    Subclasses set ``name``, ``method`` (scipy's method name), ``hyperparams`` and
    :meth:`options` (scipy's ``options`` for a budget of ``max_iter`` iterations).

    Attributes
    ----------
    name : str
        Registry name.
    hyperparams : dict
        The hyper-parameters, JSON-serializable.
    needs : tuple of str
        ``("loss", "grad")``: scipy asks for both at every evaluation; Hessian-free
        methods add ``"hvp"`` and are given ``hessp=``.
    """

    name: str = "scipy"
    method: str = ""
    hyperparams: dict[str, Any]
    needs: tuple[str, ...] = ("loss", "grad")

    @abstractmethod
    def options(self, max_iter: int) -> dict[str, Any]:
        """scipy's ``options`` for a run of at most ``max_iter`` iterations."""

    def minimize(
        self,
        oracle: Any,
        x0: np.ndarray,
        max_iter: int,
        callback: Callable[[np.ndarray], None] | None = None,
    ) -> OptimizeResult:
        """Minimise ``oracle.loss`` from ``x0`` with scipy; returns scipy's OptimizeResult.

        Parameters
        ----------
        oracle
            Anything with ``loss(x)`` and ``grad(x)``; both are called once per scipy
            evaluation, at the same point, or, where the oracle has it,
            ``loss_and_grad(x)`` is called once instead.
        x0 : ndarray
            The initial point (not modified).
        max_iter : int
            scipy's ``maxiter``.
        callback : callable, optional
            Called as ``callback(xk)`` with a copy of the iterate after every
            iteration; raising ``StopIteration`` ends the run after that iteration.

        Returns
        -------
        scipy.optimize.OptimizeResult
            With ``x``, ``success``, ``status``, ``message``, ``nit``, ``nfev`` and
            ``njev`` (and ``fun``, ``jac`` when scipy itself returned).
        """
        evaluations = 0
        iterations = 0
        last_x = np.array(x0, dtype=np.float64, copy=True)
        evaluate = loss_and_grad_of(oracle)
        extra: dict[str, Any] = {}
        if "hvp" in self.needs:
            extra["hessp"] = oracle.hvp

        def fun_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
            nonlocal evaluations
            evaluations += 1
            return evaluate(x)

        def report(xk: np.ndarray) -> None:  # old style: one positional iterate
            nonlocal iterations, last_x
            iterations += 1
            last_x = xk
            if callback is not None:
                callback(xk)

        try:
            return scipy.optimize.minimize(
                fun_and_grad,
                x0,
                jac=True,
                method=self.method,
                callback=report,
                options=self.options(max_iter),
                **extra,
            )
        except StopIteration:
            # scipy < 1.11 does not catch the callback's StopIteration: describe the
            # run as scipy >= 1.11 would
            return OptimizeResult(
                x=np.array(last_x, dtype=np.float64, copy=True),
                success=False,
                status=99,
                message=STOPPED_BY_CALLBACK,
                nit=iterations,
                nfev=evaluations,
                njev=evaluations,
            )

    def __repr__(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.hyperparams.items())
        return f"{self.name}[{args}]"


class LBFGS(ScipySolver):
    r"""L-BFGS-B from scipy (Byrd, Lu, Nocedal and Zhu, 1995), without bounds.

    scipy keeps the ``m`` most recent pairs :math:`s_k = x_{k+1} - x_k`,
    :math:`y_k = \nabla f(x_{k+1}) - \nabla f(x_k)` as a compact limited-memory
    inverse-Hessian approximation, and steps along its quasi-Newton direction with a
    line search satisfying the strong Wolfe conditions (Moré and Thuente), starting
    at the unit step.  It stops when
    :math:`\max_i |\nabla f(x)_i| \le` ``gtol``, when
    :math:`(f_k - f_{k+1}) / \max(|f_k|, |f_{k+1}|, 1) \le` ``ftol``, after
    ``max_iter`` iterations, after scipy's default ``maxfun = 15000`` evaluations,
    or when the callback raises ``StopIteration``.

    It always runs on the full objective (full batch): the harness hands it the
    problem itself, never a minibatch.  One evaluation is one ``loss`` and one
    ``grad`` call.

    ==================  ======================================================
    hyper-parameter     ``scipy.optimize.minimize(method="L-BFGS-B")`` option
    ==================  ======================================================
    ``m``               ``maxcor``
    ``gtol``            ``gtol``
    ``ftol``            ``ftol``
    ``maxls``           ``maxls``
    (the step budget)   ``maxiter``
    ==================  ======================================================

    Parameters
    ----------
    m : int, default 10
        Number of stored correction pairs, >= 1.
    gtol : float, default 1e-5
        Projected-gradient tolerance (infinity norm), >= 0.
    ftol : float, default 2.220446049250313e-09
        Relative reduction of ``f`` below which scipy stops, >= 0 (scipy's default,
        ``factr = 1e7`` times the machine epsilon).
    maxls : int, default 20
        Maximum number of line-search evaluations per iteration, >= 1.
    """

    name = "lbfgs"
    method = "L-BFGS-B"

    @reject_unknown_hyperparams
    def __init__(self, *, m: int = 10, gtol: float = 1e-5,
                 ftol: float = 2.220446049250313e-09, maxls: int = 20) -> None:
        self.m = check_int(self.name, "m", m, 1)
        self.gtol = check_real(self.name, "gtol", gtol, 0.0)
        self.ftol = check_real(self.name, "ftol", ftol, 0.0)
        self.maxls = check_int(self.name, "maxls", maxls, 1)
        self.hyperparams = {"m": self.m, "gtol": self.gtol, "ftol": self.ftol,
                            "maxls": self.maxls}

    def options(self, max_iter: int) -> dict[str, Any]:
        return {"maxcor": self.m, "gtol": self.gtol, "ftol": self.ftol,
                "maxls": self.maxls, "maxiter": int(max_iter)}


class BFGS(ScipySolver):
    r"""BFGS from scipy: a dense inverse-Hessian approximation updated every iteration.

    scipy starts from :math:`H_0 = I`, steps along :math:`p_k = -H_k \nabla f(x_k)`
    with a Wolfe line search (MINPACK's, falling back to a pure-Python one), and
    applies the BFGS update
    :math:`H_{k+1} = (I - \rho s y^\top) H_k (I - \rho y s^\top) + \rho s s^\top`,
    :math:`\rho = 1 / y^\top s`.  It stops when :math:`\max_i |\nabla f(x)_i| \le`
    ``gtol``, after ``max_iter`` iterations, when the line search fails (precision
    loss), or when the callback raises ``StopIteration``.  Memory and time per
    iteration are :math:`O(n^2)`.

    It always runs on the full objective (full batch).  One evaluation is one
    ``loss`` and one ``grad`` call.

    ==================  ======================================================
    hyper-parameter     ``scipy.optimize.minimize(method="BFGS")`` option
    ==================  ======================================================
    ``gtol``            ``gtol`` (with scipy's default ``norm = inf``)
    (the step budget)   ``maxiter``
    ==================  ======================================================

    Parameters
    ----------
    gtol : float, default 1e-5
        Gradient tolerance (infinity norm), >= 0.
    """

    name = "bfgs"
    method = "BFGS"

    @reject_unknown_hyperparams
    def __init__(self, *, gtol: float = 1e-5) -> None:
        self.gtol = check_real(self.name, "gtol", gtol, 0.0)
        self.hyperparams = {"gtol": self.gtol}

    def options(self, max_iter: int) -> dict[str, Any]:
        return {"gtol": self.gtol, "maxiter": int(max_iter)}


class NewtonCG(ScipySolver):
    r"""Newton-CG from scipy: a truncated Newton method with a line search, Hessian-free.

    At each iteration scipy solves the Newton system :math:`H(x_k) p = -\nabla f(x_k)`
    approximately by conjugate gradients, touching :math:`H` only through products
    :math:`H v` (``hessp``), stopping CG at a relative residual
    :math:`\min(1/2, \sqrt{\|g\|}) \|g\|` or at negative curvature, then takes a
    backtracking (Wolfe) line search along :math:`p`.  It stops when the mean absolute
    step :math:`\operatorname{mean}|\alpha p|` falls below ``xtol``, after ``max_iter``
    iterations, or when the callback raises ``StopIteration``.

    Each product is one ``hvp`` call on the harness's oracle (``n_hvp``); each line-search
    evaluation is one ``loss`` and one ``grad`` call.  Always on the full objective.

    ==================  ======================================================
    hyper-parameter     ``scipy.optimize.minimize(method="Newton-CG")`` option
    ==================  ======================================================
    ``xtol``            ``xtol``
    (the step budget)   ``maxiter``
    ==================  ======================================================

    Parameters
    ----------
    xtol : float, default 1e-5
        Average relative error in the solution below which scipy stops, > 0
        (scipy's default).
    """

    name = "newton_cg"
    method = "Newton-CG"
    needs: tuple[str, ...] = ("loss", "grad", "hvp")

    @reject_unknown_hyperparams
    def __init__(self, *, xtol: float = 1e-5) -> None:
        self.xtol = check_real(self.name, "xtol", xtol, 0.0, low_closed=False)
        self.hyperparams = {"xtol": self.xtol}

    def options(self, max_iter: int) -> dict[str, Any]:
        return {"xtol": self.xtol, "maxiter": int(max_iter)}


class TrustKrylov(ScipySolver):
    r"""The trust-region method with Krylov subproblem solves (scipy's ``trust-krylov``,
    Gould, Lucidi, Roma and Toint's GLTR as implemented in trlib), Hessian-free.

    Each iteration minimises the quadratic model
    :math:`m(p) = f + g^\top p + \tfrac12 p^\top H p` over :math:`\|p\| \le \Delta`
    in a Krylov subspace built from products :math:`H v` (``hessp``), then accepts or
    rejects the step and grows or shrinks :math:`\Delta` by the ratio of actual to
    predicted reduction.  It stops when :math:`\|g\| \le` ``gtol`` (2-norm), after
    ``max_iter`` iterations, or when the callback raises ``StopIteration``.

    Each product is one ``hvp`` call (``n_hvp``); each evaluation one ``loss`` and one
    ``grad`` call.  Always on the full objective.

    ==================  ======================================================
    hyper-parameter     ``scipy.optimize.minimize(method="trust-krylov")`` option
    ==================  ======================================================
    ``gtol``            ``gtol``
    ``inexact``         ``inexact`` (solve the subproblem loosely)
    (the step budget)   ``maxiter``
    ==================  ======================================================

    Parameters
    ----------
    gtol : float, default 1e-8
        Gradient-norm tolerance, >= 0 (scipy's default).
    inexact : bool, default True
        Solve each subproblem only approximately (fewer products per iteration).
    """

    name = "trust_krylov"
    method = "trust-krylov"
    needs: tuple[str, ...] = ("loss", "grad", "hvp")

    @reject_unknown_hyperparams
    def __init__(self, *, gtol: float = 1e-8, inexact: bool = True) -> None:
        self.gtol = check_real(self.name, "gtol", gtol, 0.0)
        self.inexact = check_bool(self.name, "inexact", inexact)
        self.hyperparams = {"gtol": self.gtol, "inexact": self.inexact}

    def options(self, max_iter: int) -> dict[str, Any]:
        return {"gtol": self.gtol, "inexact": self.inexact, "maxiter": int(max_iter)}
