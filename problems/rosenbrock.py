"""The (chained) Rosenbrock function."""

from __future__ import annotations

import numpy as np

from ._validate import (
    MAX_DENSE_DIM,
    as_point,
    check_dense_dim,
    check_int,
    check_seed,
    x0_rng,
)
from .base import Problem


class Rosenbrock(Problem):
    r"""``f(x) = sum_{i=0}^{dim-2} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2``.

    The same function as :func:`scipy.optimize.rosen`.  ``f_star = 0`` at
    ``x = (1, ..., 1)``; for ``dim >= 4`` there is also a local minimum near
    ``(-1, 1, ..., 1)``.  The Hessian is tridiagonal and returned dense.

    Parameters
    ----------
    dim : int, default 2
        Dimension, >= 2.

    Notes
    -----
    ``x0(0)`` is the classic start ``(-1.2, 1, -1.2, 1, ...)`` (-1.2 at even indices,
    1 at odd ones).  For ``seed != 0``, ``x0(seed)`` adds
    ``0.1 * np.random.default_rng([seed, 0x5EED]).standard_normal(dim)`` to it.
    The problem has no data and hence no ``seed`` parameter.
    """

    name = "rosenbrock"
    has_hess = True
    stochastic = False

    def __init__(self, dim: int = 2) -> None:
        dim = check_int("dim", dim, low=2)
        self.dim = dim
        self.params = {"dim": dim}
        self.f_star = 0.0

    @staticmethod
    def estimated_bytes(dim: int = 2) -> int:
        """Upper-ish estimate of the peak bytes of building the problem plus one oracle
        call, computed without allocating anything.

        ``6 * dim * 8``, plus ``dim**2 * 8`` for ``dim <= 20000``.  The problem holds
        no arrays; ``grad`` needs the point, the gradient and a few temporaries of
        length ``dim - 1``.  ``has_hess`` is True, so the dense ``(dim, dim)`` Hessian
        that ``hess`` returns is counted -- although a first-order method never asks
        for it -- but only where ``hess`` can be called: above ``dim = 20000`` it
        refuses without allocating.  An invalid ``dim`` raises the constructor's
        ValueError.

        >>> Rosenbrock.estimated_bytes(100_000)  # no Hessian above dim = 20000
        4800000
        """
        dim = check_int("dim", dim, low=2)
        hess = 8 * dim * dim if dim <= MAX_DENSE_DIM else 0
        return 6 * 8 * dim + hess

    def loss(self, x: np.ndarray) -> float:
        x = as_point(x, self.dim)
        head = x[:-1]
        t = x[1:] - head * head
        u = 1.0 - head
        return 100.0 * float(t @ t) + float(u @ u)

    def grad(self, x: np.ndarray) -> np.ndarray:
        x = as_point(x, self.dim)
        head = x[:-1]
        return self._grad(head, x[1:] - head * head, 1.0 - head)

    def loss_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(loss(x), grad(x))`` sharing ``t = x[1:] - x[:-1]**2`` and ``u = 1 - x[:-1]``
        (bit for bit the two calls)."""
        x = as_point(x, self.dim)
        head = x[:-1]
        t = x[1:] - head * head
        u = 1.0 - head
        return 100.0 * float(t @ t) + float(u @ u), self._grad(head, t, u)

    def _grad(self, head: np.ndarray, t: np.ndarray, u: np.ndarray) -> np.ndarray:
        g = np.zeros(self.dim)
        g[:-1] = -400.0 * head * t - 2.0 * u
        g[1:] += 200.0 * t
        return g

    def hess(self, x: np.ndarray) -> np.ndarray:
        x = as_point(x, self.dim)
        check_dense_dim(self.name, self.dim)
        n = self.dim
        head = x[:-1]
        diag = np.zeros(n)
        diag[:-1] = 1200.0 * head * head - 400.0 * x[1:] + 2.0
        diag[1:] += 200.0
        off = -400.0 * head
        h = np.zeros((n, n))
        flat = h.reshape(-1)  # a view
        flat[:: n + 1] = diag
        flat[1 :: n + 1] = off  # (i, i + 1)
        flat[n :: n + 1] = off  # (i + 1, i)
        return h

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The tridiagonal Hessian times ``v`` in O(dim), no matrix."""
        x = as_point(x, self.dim)
        v = as_point(v, self.dim)
        head = x[:-1]
        diag = np.zeros(self.dim)
        diag[:-1] = 1200.0 * head * head - 400.0 * x[1:] + 2.0
        diag[1:] += 200.0
        off = -400.0 * head
        hv = diag * v
        hv[:-1] += off * v[1:]
        hv[1:] += off * v[:-1]
        return hv

    def x0(self, seed: int = 0) -> np.ndarray:
        seed = check_seed(seed)
        start = np.ones(self.dim)
        start[::2] = -1.2
        if seed != 0:
            start += 0.1 * x0_rng(seed).standard_normal(self.dim)
        return start
