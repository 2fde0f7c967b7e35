"""Newton's method with damping, a positive-definite modification and a line search.

Each ``step`` calls ``oracle.grad(x)`` once and ``oracle.hess(x)`` once, in that
order; with ``line_search=True`` it also calls ``oracle.loss`` once at ``x`` and once
at every trial point of the backtracking search (so between 2 and
``max_backtracks + 2`` times), and without a line search it never calls
``oracle.loss``.  It uses the rate ``lr_at(state.t)``, advances ``state.t``, updates
``x`` in place (an array owned by the caller) and returns it; the arrays the
oracle returns are not modified.

Dtypes.  The Newton system is solved in float64 whatever ``x``'s dtype; the step is
then applied to ``x`` in its own dtype (a float32 ``x`` stays float32), and every
trial point of the line search is rounded to that dtype before its loss is taken, so
that the point accepted is the point evaluated.  Newton has no fused kernel: its cost
is the factorisation, not passes over ``x`` (see :mod:`optimizers.kernels`).

Example
-------
>>> import numpy as np
>>> from optimizers.newton import Newton
>>> class Bowl:                                   # f(x) = 1/2 x^T A x, A = diag(1, 100)
...     a = np.array([1.0, 100.0])
...     def grad(self, x):
...         return self.a * x
...     def hess(self, x):
...         return np.diag(self.a)
>>> opt = Newton()
>>> x = np.array([1.0, -2.0])
>>> state = opt.init(x)
>>> x = opt.step(x, Bowl(), state)                # one full step lands on the minimiser
>>> x, state.t, state.last_shift
(array([0., 0.]), 1, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve

from . import schedules
from .base import Optimizer, State
from .schedules import Schedule
from .validation import (
    HyperparameterTypeError,
    check_bool,
    check_int,
    check_real,
    reject_unknown_hyperparams,
)

__all__ = ["MODIFICATIONS", "Newton", "NewtonState", "shifted_cholesky"]

#: The values of ``Newton(modification=...)``.
MODIFICATIONS = ("shift", "none")

#: ``beta`` of the shift rule, relative to the largest entry of the matrix.
_SHIFT_FRACTION = 1e-3
#: At most this many Cholesky attempts per step (the shift rule needs far fewer).
_MAX_FACTORIZATIONS = 200


@dataclass(eq=False)
class NewtonState(State):
    """The step count ``t`` and diagnostics of the last step.

    Attributes
    ----------
    t : int
        Steps taken so far.
    last_shift : float
        The multiple ``tau`` of the identity added to ``H + damping I`` by the last step
        (0.0 when that matrix was positive definite, and always with
        ``modification="none"``).
    last_alpha : float
        The step length ``a`` taken by the last step (``lr_t`` without a line search;
        0.0 when the line search found no acceptable point and ``x`` did not move).
    last_fallback : bool
        Whether the last step's line search replaced a non-descent Newton direction by
        the steepest-descent direction ``-g``.
    """

    t: int = 0
    last_shift: float = 0.0
    last_alpha: float = math.nan
    last_fallback: bool = False


def shifted_cholesky(m: np.ndarray) -> tuple[tuple[np.ndarray, bool], float]:
    r"""Cholesky factors of :math:`M + \tau I` for the smallest :math:`\tau` the rule tries.

    Nocedal and Wright's Algorithm 3.3 ("Cholesky with added multiple of the
    identity"), with :math:`\beta = 10^{-3} \max_{ij} |M_{ij}|` (:math:`\beta = 1` for
    the zero matrix):

    - :math:`\tau_0 = 0` if :math:`\min_i M_{ii} > 0`, else
      :math:`\tau_0 = \beta - \min_i M_{ii}`;
    - :math:`\tau_{k+1} = \max(2 \tau_k, \beta)`;

    and the first :math:`\tau_k` for which the Cholesky factorisation of
    :math:`M + \tau_k I` succeeds is used.  Scaling :math:`M` scales :math:`\tau`
    alike.  By Gershgorin's theorem any :math:`\tau > n \max |M_{ij}| = 10^3 n \beta`
    makes the matrix positive definite, so a finite ``m`` needs at most about
    :math:`\log_2(10^3 n) + 2` factorisations.

    Parameters
    ----------
    m : ndarray (n, n)
        A finite symmetric matrix (only its upper triangle is read by the factorisation).

    Returns
    -------
    (factors, tau)
        ``factors`` for :func:`scipy.linalg.cho_solve` and the shift ``tau`` used.
    """
    diagonal = np.diag(m)
    largest = float(np.max(np.abs(m))) if m.size else 0.0
    beta = _SHIFT_FRACTION * largest if largest > 0.0 else 1.0
    smallest = float(np.min(diagonal)) if m.size else 1.0
    tau = 0.0 if smallest > 0.0 else beta - smallest
    identity = np.eye(m.shape[0])
    for _ in range(_MAX_FACTORIZATIONS):
        try:
            return cho_factor(m + tau * identity, check_finite=False), tau
        except LinAlgError:
            tau = max(2.0 * tau, beta)
    raise LinAlgError(f"no shift up to {tau:g} makes the matrix positive definite")


def _check_modification(owner: str, value: Any) -> str:
    allowed = " or ".join(repr(m) for m in MODIFICATIONS)
    if not isinstance(value, str):
        raise HyperparameterTypeError(
            f"{owner}: modification must be {allowed}, got {value!r}"
        )
    if value not in MODIFICATIONS:
        raise ValueError(f"{owner}: modification must be {allowed}, got {value!r}")
    return value


class Newton(Optimizer[NewtonState]):
    r"""Newton's method: step to the minimiser of the local quadratic model.

    With :math:`g = \nabla f(x_t)`, :math:`H = \nabla^2 f(x_t)` and the damping
    :math:`\lambda`,

    .. math::

        (H + \lambda I + \tau I)\, p = -g, \qquad x_{t+1} = x_t + a_t\, p,

    solved by a Cholesky factorisation.  :math:`\tau \ge 0` is the extra shift that
    makes the matrix positive definite where :math:`H + \lambda I` is not:

    - ``modification="shift"`` (default): :math:`\tau = 0` when
      :math:`H + \lambda I` is positive definite, else the shift of Nocedal and
      Wright's Algorithm 3.3, starting at :math:`\beta - \min_i (H_{ii} + \lambda)`
      (or at :math:`\beta` if the diagonal is positive) and doubling until the
      Cholesky factorisation succeeds, with
      :math:`\beta = 10^{-3} \max_{ij} |H_{ij} + \lambda \delta_{ij}|`
      (see :func:`shifted_cholesky`).  Then :math:`p` is a descent direction
      wherever :math:`g \ne 0`.
    - ``modification="none"``: :math:`\tau = 0` always; the plain system is solved
      by an LU factorisation (``numpy.linalg.solve``), or, when the matrix is exactly
      singular, by least squares (the minimum-norm solution, ``numpy.linalg.lstsq``).
      At a saddle this heads *to* the saddle point, since the plain Newton step
      solves :math:`\nabla f = 0` and does not tell minima from saddles.

    The step length: without a line search :math:`a_t = \alpha_t`, the learning rate
    (``lr = 1`` is the pure Newton step).  With ``line_search=True``, Armijo
    backtracking on ``oracle.loss``: the first of
    :math:`a = \alpha_t, \alpha_t \gamma, \dots, \alpha_t \gamma^{K}`
    (:math:`\gamma` the ``backtrack`` factor, :math:`K` = ``max_backtracks``) with

    .. math::  f(x_t + a p) \le f(x_t) + c_1\, a\, g^\top p.

    If :math:`g^\top p \ge 0` (possible only with ``modification="none"``) the search
    uses :math:`p = -g` instead (``state.last_fallback``).  If no trial is accepted
    the step is skipped: ``x`` is left unchanged and ``state.last_alpha`` is 0, so the
    loss never increases under the line search.

    A non-finite gradient or Hessian makes :math:`p` all NaN; it is applied with
    :math:`a_t = \alpha_t` and no line search, so the run shows up as diverged
    instead of stalling.

    Oracle calls per step: ``grad`` once, ``hess`` once; ``loss`` only with the line
    search, once at :math:`x_t` plus once per trial point.

    Parameters
    ----------
    lr : float, Schedule or dict, default 1.0
        The learning rate :math:`\alpha_t` (> 0): the step length, or the first trial
        of the line search.
    damping : float, default 0.0
        :math:`\lambda`, added to the Hessian's diagonal at every step; finite, >= 0.
        A large damping turns the step into gradient descent with rate
        :math:`\alpha / \lambda`.
    line_search : bool, default False
        Backtrack from :math:`a = \alpha_t` until the Armijo condition holds.
    modification : {"shift", "none"}, default "shift"
        What to do where :math:`H + \lambda I` is not positive definite (see above).
    c1 : float, default 1e-4
        The Armijo constant, in (0, 1); below 1/2 the unit step is accepted near a
        minimiser with a positive-definite Hessian, which keeps quadratic convergence.
    backtrack : float, default 0.5
        The factor :math:`\gamma` by which a rejected trial is shrunk, in (0, 1).
    max_backtracks : int, default 30
        :math:`K`, the number of shrinks before the step is given up, >= 1.

    References
    ----------
    J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer, 2006:
    Algorithm 3.1 (backtracking) and Algorithm 3.3 (Cholesky with added multiple of
    the identity).
    """

    name = "newton"

    @reject_unknown_hyperparams
    def __init__(self, lr: float | Schedule | dict[str, Any] = 1.0, *, damping: float = 0.0,
                 line_search: bool = False, modification: str = "shift", c1: float = 1e-4,
                 backtrack: float = 0.5, max_backtracks: int = 30) -> None:
        owner = self.name
        self.schedule = schedules.learning_rate(owner, lr)
        self.damping = check_real(owner, "damping", damping, 0.0)
        self.line_search = check_bool(owner, "line_search", line_search)
        self.modification = _check_modification(owner, modification)
        self.c1 = check_real(owner, "c1", c1, 0.0, 1.0, low_closed=False)
        self.backtrack = check_real(owner, "backtrack", backtrack, 0.0, 1.0, low_closed=False)
        self.max_backtracks = check_int(owner, "max_backtracks", max_backtracks, 1)
        self.hyperparams = {"lr": self.schedule.to_spec(), "damping": self.damping,
                            "line_search": self.line_search,
                            "modification": self.modification, "c1": self.c1,
                            "backtrack": self.backtrack,
                            "max_backtracks": self.max_backtracks}
        self.needs = ("loss", "grad", "hess") if self.line_search else ("grad", "hess")

    def init(self, x0: np.ndarray) -> NewtonState:
        return NewtonState()

    def direction(self, g: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, float]:
        """The Newton direction ``p`` for gradient ``g`` and Hessian ``h``, and the shift ``tau``.

        ``p`` solves ``(h + damping I + tau I) p = -g`` by the ``modification`` rule; it
        is all NaN when ``g`` or ``h`` is not finite.
        """
        m = np.array(h, dtype=np.float64)  # a copy: the oracle's array is not modified
        if not (np.all(np.isfinite(m)) and np.all(np.isfinite(g))):
            return np.full(np.shape(g), np.nan), 0.0
        if self.damping:
            m.flat[:: m.shape[0] + 1] += self.damping
        if self.modification == "shift":
            factors, tau = shifted_cholesky(m)
            return cho_solve(factors, -g, check_finite=False), tau
        try:
            return np.linalg.solve(m, -g), 0.0
        except np.linalg.LinAlgError:  # exactly singular: the minimum-norm solution
            return np.linalg.lstsq(m, -g, rcond=None)[0], 0.0

    def step(self, x: np.ndarray, oracle: Any, state: NewtonState) -> np.ndarray:
        g = oracle.grad(x)
        h = oracle.hess(x)
        learning_rate = self.schedule(state.t)
        p, state.last_shift = self.direction(g, h)
        state.last_fallback = False
        if not self.line_search or not np.all(np.isfinite(p)):
            x += learning_rate * p
            state.last_alpha = learning_rate
            state.t += 1
            return x

        slope = float(g @ p)
        if not slope < 0.0 and np.any(g):  # not a descent direction: steepest descent
            p = -g
            slope = -float(g @ g)
            state.last_fallback = True
        f0 = float(oracle.loss(x))
        a = learning_rate
        state.last_alpha = 0.0  # no acceptable trial: no step
        for _ in range(self.max_backtracks + 1):
            trial = (x + a * p).astype(x.dtype, copy=False)
            if float(oracle.loss(trial)) <= f0 + self.c1 * a * slope:
                np.copyto(x, trial)
                state.last_alpha = a
                break
            a *= self.backtrack
        state.t += 1
        return x
