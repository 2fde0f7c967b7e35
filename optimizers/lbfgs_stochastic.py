r"""A stepwise L-BFGS that runs on whatever oracle it is given, minibatches included.

Unlike :class:`optimizers.scipy_adapters.LBFGS` (scipy owns the loop and always sees
the full objective), this is a stepwise optimizer: the harness calls ``step`` with
one oracle per step, for a stochastic problem a fresh minibatch, and the method does
everything of that step on that one oracle.  It is the plain algorithm, with no
variance reduction or other stochastic-quasi-Newton fix, so that the suite can show
the lecture's point: L-BFGS works very well in full batch, deterministic mode and
does not transfer well to the minibatch setting.

One step, exactly as :meth:`LBFGSStochastic.step` does it (``oracle`` the step's
oracle, ``alpha = lr_at(t)``)::

    g = oracle.grad(x)                                   # grad call 1
    p = -two_loop(pairs, g)                  # -H g; p = -g while there is no pair
    if g @ p >= 0:                           # not a descent direction
        p = -g
    if line_search:                          # Armijo backtracking on the same oracle
        f = oracle.loss(x)                               # loss call 1
        step = alpha
        for i in range(max_backtracks + 1):  # trial steps alpha, alpha b, alpha b^2...
            x_new = x + step * p                         # loss calls 2, 3, ...
            if oracle.loss(x_new) <= f + c1 * step * (g @ p):
                break
            if i < max_backtracks:
                step *= backtrack            # after the last trial, keep the smallest
    else:
        x_new = x + alpha * p
    s = x_new - x
    y = oracle.grad(x_new) - g                           # grad call 2
    if s @ y > curvature_eps * |s| |y|:      # keep the pair, dropping the oldest
        pairs.append((s, y))                 # beyond m
    x = x_new

Oracle calls per step: exactly 2 ``grad`` calls (at ``x`` and at ``x_new``, on the
same oracle object, hence the same minibatch) and no ``hess`` call; with
``line_search=True`` also 1 + k ``loss`` calls, ``k`` in ``1 .. max_backtracks + 1``
the number of trial steps; with ``line_search=False`` no ``loss`` call.  The
harness counts every one of them, so comparisons with first-order methods (one
``grad`` call per step) are fair in gradient evaluations (and, with the loss calls
priced in, in optbench's cost column).  On a full-batch problem
the second gradient equals the next step's first one, which this method does not
reuse (it cannot know that the next oracle is the same function): it spends about
twice the gradients per iteration of scipy's L-BFGS-B.

The two-loop recursion (Nocedal and Wright, *Numerical Optimization*, Algorithm
7.4) applies the inverse-Hessian approximation built from the stored pairs
:math:`(s_i, y_i)`, oldest to newest, with :math:`\rho_i = 1 / s_i^\top y_i` and
the initial matrix :math:`H_0 = \gamma I`,
:math:`\gamma = s^\top y / y^\top y` of the newest pair::

    q = g
    for i newest .. oldest:  a_i = rho_i s_i @ q;  q -= a_i y_i
    r = gamma q
    for i oldest .. newest:  b = rho_i y_i @ r;  r += (a_i - b) s_i
    return r                 # = H g

Dtypes.  The two-loop recursion runs in float64; every new point ``x_new`` (the
step, and each trial point of the line search) is rounded to ``x``'s dtype before the
oracle sees it, so a float32 ``x`` stays float32 and ``s = x_new - x`` is the step
actually taken (in ``x``'s dtype).  This method has no fused
kernel (:mod:`optimizers.kernels`): its cost is the ``2 m`` dot products of the
recursion.

Curvature skip rule.  A pair is stored only if
:math:`s^\top y > \epsilon_c \lVert s \rVert \lVert y \rVert` (``curvature_eps``),
i.e. the cosine between ``s`` and ``y`` exceeds :math:`\epsilon_c`.  Every stored
pair thus has :math:`s^\top y > 0`, which keeps :math:`H` positive definite (so
``p`` is a descent direction for the ``g`` it was built from); a pair with
negative curvature along ``s`` (a non-convex region), from a step that did not
move, or with ``s`` and ``y`` nearly orthogonal is dropped.  ``state.skipped`` counts the dropped pairs and
``state.resets`` the steps whose quasi-Newton direction was replaced by ``-g``.

Example
-------
>>> import numpy as np
>>> from optimizers.lbfgs_stochastic import LBFGSStochastic
>>> class Valley:                                 # f(x) = (x_0^2 + 100 x_1^2) / 2
...     a = np.array([1.0, 100.0])
...     def loss(self, x):
...         return 0.5 * float(self.a @ (x * x))
...     def grad(self, x):
...         return self.a * x
>>> opt = LBFGSStochastic()
>>> x = np.array([1.0, 1.0])
>>> state = opt.init(x)
>>> for _ in range(6):
...     x = opt.step(x, Valley(), state)
>>> state.t, len(state.pairs), bool(Valley().loss(x) < 1e-12)
(6, 6, True)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import schedules
from .base import Optimizer, State
from .schedules import Schedule
from .validation import check_bool, check_int, check_real, reject_unknown_hyperparams

__all__ = ["LBFGSState", "LBFGSStochastic", "two_loop"]


@dataclass(eq=False)
class LBFGSState(State):
    """The curvature pairs and the step count.

    Attributes
    ----------
    pairs : deque of (s, y)
        At most ``m`` pairs of arrays, oldest first; appending beyond ``m`` drops
        the oldest.
    t : int
        Steps taken.
    skipped : int
        Pairs not stored by the curvature skip rule.
    resets : int
        Steps whose quasi-Newton direction was not a descent direction and was
        replaced by ``-g``.
    """

    pairs: deque
    t: int = 0
    skipped: int = 0
    resets: int = 0


def two_loop(pairs: Any, g: np.ndarray) -> np.ndarray:
    """``H g`` by the two-loop recursion over ``pairs`` (oldest first), ``H_0 = gamma I``.

    ``gamma = s @ y / (y @ y)`` of the newest pair; with no pair, ``H = I`` and the
    result is a copy of ``g``.  Every pair must have ``s @ y > 0``.
    """
    q = np.array(g, dtype=np.float64, copy=True)
    if not pairs:
        return q
    rhos = [1.0 / float(s @ y) for s, y in pairs]
    alphas = [0.0] * len(pairs)
    for i in range(len(pairs) - 1, -1, -1):          # newest to oldest
        s, y = pairs[i]
        alphas[i] = rhos[i] * float(s @ q)
        q -= alphas[i] * y
    s, y = pairs[-1]
    gamma = float(s @ y) / float(y @ y)
    r = q
    r *= gamma                                       # r = H_0 q
    for i in range(len(pairs)):                      # oldest to newest
        s, y = pairs[i]
        beta = rhos[i] * float(y @ r)
        r += (alphas[i] - beta) * s
    return r


class LBFGSStochastic(Optimizer[LBFGSState]):
    r"""L-BFGS as a stepwise method, every step on the oracle it is given (one minibatch).

    The direction is :math:`p = -H g`, :math:`H` the limited-memory inverse-Hessian
    approximation from the last ``m`` curvature pairs (two-loop recursion,
    :math:`H_0 = \gamma I`), reset to :math:`-g` when it is not a descent direction;
    the step size is the rate :math:`\alpha_t` or, with ``line_search=True``, the
    first of :math:`\alpha_t, \alpha_t b, \alpha_t b^2, \dots` that satisfies the
    Armijo condition :math:`f(x + \tau p) \le f(x) + c_1 \tau\, g^\top p` on the same
    oracle; the new pair :math:`s = x_{new} - x`, :math:`y = g(x_{new}) - g(x)` is
    taken on the same oracle too (the same minibatch at both points).  See the module
    docstring for the exact pseudo-code, the skip rule and the oracle calls per step
    (2 ``grad``, plus ``1 + k`` ``loss`` with the line search).

    Parameters
    ----------
    lr : float, Schedule or dict, default 1.0
        The step :math:`\alpha_t` (> 0): the fixed step, or the first trial step of
        the line search.  1 is the natural scale of a quasi-Newton step.
    m : int, default 10
        Number of stored curvature pairs, >= 1.
    line_search : bool, default True
        Backtrack on the oracle's loss (Armijo) instead of taking the step ``lr_t``.
    c1 : float, default 1e-4
        Armijo's sufficient-decrease constant, in (0, 1).
    backtrack : float, default 0.5
        Factor :math:`b` by which a rejected trial step is shrunk, in (0, 1).
    max_backtracks : int, default 20
        Maximum number of shrinks, >= 1; when even
        :math:`\alpha_t b^{\text{max\_backtracks}}` fails, that smallest step is taken.
    curvature_eps : float, default 1e-10
        A pair is stored only if :math:`s^\top y > \epsilon\, |s|\, |y|`, >= 0.
    """

    name = "lbfgs_stochastic"

    @reject_unknown_hyperparams
    def __init__(self, lr: float | Schedule | dict[str, Any] = 1.0, *, m: int = 10,
                 line_search: bool = True, c1: float = 1e-4, backtrack: float = 0.5,
                 max_backtracks: int = 20, curvature_eps: float = 1e-10) -> None:
        owner = self.name
        self.schedule = schedules.learning_rate(owner, lr)
        self.m = check_int(owner, "m", m, 1)
        self.line_search = check_bool(owner, "line_search", line_search)
        self.c1 = check_real(owner, "c1", c1, 0.0, 1.0, low_closed=False)
        self.backtrack = check_real(owner, "backtrack", backtrack, 0.0, 1.0, low_closed=False)
        self.max_backtracks = check_int(owner, "max_backtracks", max_backtracks, 1)
        self.curvature_eps = check_real(owner, "curvature_eps", curvature_eps, 0.0)
        self.needs = ("loss", "grad") if self.line_search else ("grad",)
        self.hyperparams = {"lr": self.schedule.to_spec(), "m": self.m,
                            "line_search": self.line_search, "c1": self.c1,
                            "backtrack": self.backtrack,
                            "max_backtracks": self.max_backtracks,
                            "curvature_eps": self.curvature_eps}

    def init(self, x0: np.ndarray) -> LBFGSState:
        return LBFGSState(pairs=deque(maxlen=self.m))

    def step(self, x: np.ndarray, oracle: Any, state: LBFGSState) -> np.ndarray:
        g = oracle.grad(x)
        p = two_loop(state.pairs, g)
        p *= -1.0                                    # p = -H g
        slope = float(g @ p)
        if not slope < 0.0:                          # also catches NaN
            p = -g
            slope = -float(g @ g)
            if state.pairs:
                state.resets += 1
        learning_rate = self.schedule(state.t)
        if self.line_search:
            x_new = self._armijo(x, oracle, p, slope, learning_rate)
        else:
            x_new = (x + learning_rate * p).astype(x.dtype, copy=False)
        s = x_new - x
        y = oracle.grad(x_new) - g
        sy = float(s @ y)
        if sy > self.curvature_eps * float(np.linalg.norm(s)) * float(np.linalg.norm(y)):
            state.pairs.append((s, y))
        else:
            state.skipped += 1
        x[...] = x_new
        state.t += 1
        return x

    def _armijo(self, x: np.ndarray, oracle: Any, p: np.ndarray, slope: float,
                step: float) -> np.ndarray:
        """The first trial point ``x + step p`` (``step`` shrinking) with Armijo's decrease.

        After ``max_backtracks`` shrinks the last (smallest) trial point is returned
        even if it fails the test.
        """
        f = oracle.loss(x)
        for i in range(self.max_backtracks + 1):
            x_new = (x + step * p).astype(x.dtype, copy=False)
            if oracle.loss(x_new) <= f + self.c1 * step * slope:
                break
            if i < self.max_backtracks:
                step *= self.backtrack
        return x_new
