"""A strict saddle: quadratic in some directions, a double well in the others."""

from __future__ import annotations

import numpy as np

from ._validate import (
    MAX_DENSE_DIM,
    as_point,
    check_dense_dim,
    check_int,
    check_real,
    x0_rng,
)
from .base import Problem


class Saddle(Problem):
    r"""``f(x, y) = 1/2 sum_i x_i^2 + sum_j (y_j^4 / 4 - y_j^2 / 2)``.

    The vector is split as ``(x, y)``: the first ``dim - n_neg`` coordinates ``x`` and
    the last ``n_neg`` coordinates ``y``.  The origin is a strict saddle, with gradient
    0 and Hessian ``diag(1, ..., 1, -1, ..., -1)``; the ``2**n_neg`` minima are at
    ``x = 0, y_j = +-1``, with ``f_star = -n_neg / 4`` (Hessian ``diag(1, ..., 2, ...)``).

    Gradient descent with step ``lr < 1`` started near the saddle contracts ``x`` like
    ``(1 - lr)^t`` while ``y_{t+1} = y_t (1 + lr (1 - y_t^2))`` grows like
    ``(1 + lr)^t`` from ``|y_0| = offset``: it needs about
    ``log(1 / offset) / log(1 + lr)`` steps to escape.

    Parameters
    ----------
    dim : int, default 2
        Dimension, >= 1.
    n_neg : int, default 1
        Number of negative-curvature directions at the saddle, in ``[1, dim]``.
    offset : float, default 1e-3
        Distance of the initial point from the saddle along each ``y`` direction;
        finite, >= 0 (0 starts on the saddle's stable manifold, which gradient
        descent never leaves).

    Notes
    -----
    The problem has no data and hence no ``seed`` parameter.  ``x0(seed)``: with
    ``rng = np.random.default_rng([seed, 0x5EED])`` and ``z = rng.standard_normal(dim)``,
    the ``x`` part is ``z[:dim - n_neg]`` and the ``y`` part is
    ``offset * sign(z[dim - n_neg:])``, so every seed starts at the same distance
    ``offset`` from the saddle in each ``y`` direction (the escape time does not depend
    on the seed), on a seeded side.
    """

    name = "saddle"
    has_hess = True
    stochastic = False

    def __init__(self, dim: int = 2, n_neg: int = 1, offset: float = 1e-3) -> None:
        dim = check_int("dim", dim, low=1)
        n_neg = check_int("n_neg", n_neg, low=1, high=dim)
        offset = check_real("offset", offset, low=0.0)
        self.dim = dim
        self.n_neg = n_neg
        self.offset = offset
        self.params = {"dim": dim, "n_neg": n_neg, "offset": offset}
        self.f_star = -n_neg / 4.0
        self._split = dim - n_neg  # x = v[:split], y = v[split:]

    @staticmethod
    def estimated_bytes(dim: int = 2, n_neg: int = 1, offset: float = 1e-3) -> int:
        """Upper-ish estimate of the peak bytes of building the problem plus one oracle
        call, computed without allocating anything.

        ``3 * dim * 8``, plus ``dim**2 * 8`` for ``dim <= 20000``.  The problem holds
        no arrays; ``grad`` needs the point, the gradient and temporaries of length
        ``n_neg``.  ``has_hess`` is True, so the dense ``(dim, dim)`` Hessian that
        ``hess`` returns is counted -- although a first-order method never asks for
        it -- but only where ``hess`` can be called: above ``dim = 20000`` it refuses
        without allocating.  ``offset`` does not change the size and is not checked;
        invalid ``dim`` or ``n_neg`` raise the constructor's ValueError.

        >>> Saddle.estimated_bytes(100_000, n_neg=5)  # no Hessian above dim = 20000
        2400000
        """
        dim = check_int("dim", dim, low=1)
        check_int("n_neg", n_neg, low=1, high=dim)
        hess = 8 * dim * dim if dim <= MAX_DENSE_DIM else 0
        return 3 * 8 * dim + hess

    def loss(self, x: np.ndarray) -> float:
        v = as_point(x, self.dim)
        a, y = v[: self._split], v[self._split :]
        y2 = y * y
        return 0.5 * float(a @ a) + float(np.sum(y2 * (0.25 * y2 - 0.5)))

    def grad(self, x: np.ndarray) -> np.ndarray:
        v = as_point(x, self.dim)
        g = v.copy()
        y = g[self._split :]
        y *= y * y - 1.0  # y^3 - y
        return g

    def hess(self, x: np.ndarray) -> np.ndarray:
        v = as_point(x, self.dim)
        check_dense_dim(self.name, self.dim)
        d = np.ones(self.dim)
        d[self._split :] = 3.0 * v[self._split :] ** 2 - 1.0
        return np.diag(d)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The diagonal Hessian times ``v``."""
        x = as_point(x, self.dim)
        hv = np.array(as_point(v, self.dim), dtype=np.float64, copy=True)
        hv[self._split :] *= 3.0 * x[self._split :] ** 2 - 1.0
        return hv

    def x0(self, seed: int = 0) -> np.ndarray:
        z = x0_rng(seed).standard_normal(self.dim)
        y = z[self._split :]
        y[:] = np.where(y >= 0.0, self.offset, -self.offset)
        return z
