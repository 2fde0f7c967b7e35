"""Convex quadratics with a prescribed condition number, optionally with gradient noise."""

from __future__ import annotations

import numpy as np

from ._validate import (
    MAX_DENSE_DIM,
    as_point,
    check_bool,
    check_dense_dim,
    check_int,
    check_real,
    check_seed,
    x0_rng,
)
from .base import Problem


def random_rotation(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed orthogonal ``(dim, dim)`` matrix.

    The QR factorisation ``G = QR`` of a standard Gaussian matrix, with the sign of
    each column of ``Q`` fixed so that ``diag(R) > 0`` (without the fix the
    distribution of ``Q`` is not uniform).
    """
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return q * signs


class Quadratic(Problem):
    r"""``f(x) = 1/2 (x - x*)^T A (x - x*)`` with ``A = Q diag(lam) Q^T``.

    The eigenvalues are log-spaced, ``lam = np.geomspace(1, condition_number, dim)``
    (ascending), so ``A`` has condition number ``condition_number`` (for ``dim = 1`` the
    single eigenvalue is 1).  ``f_star = 0``, attained at ``x*``.

    Parameters
    ----------
    dim : int
        Dimension, >= 1.
    condition_number : float, default 100.0
        Ratio of the largest to the smallest eigenvalue; finite, >= 1.
    seed : int, default 0
        Seeds the data: ``rng = np.random.default_rng(seed)`` draws first
        ``x* = rng.standard_normal(dim)``, then (if ``rotate``) the Gaussian matrix
        whose QR factor is ``Q``.  So ``x*`` does not depend on ``rotate``.
    rotate : bool, default True
        True: ``Q`` is a seeded random rotation and ``A`` is stored dense
        (``dim <= 20000``).  False: ``Q = I``, ``A = diag(lam)`` is stored as the
        vector ``lam`` and loss/grad cost O(dim) time and memory, so ``dim`` can reach
        1e7; ``hess`` then returns the dense ``np.diag(lam)`` and raises ValueError for
        ``dim > 20000``.
    noise : float, default 0.0
        Standard deviation of additive gradient noise, >= 0.  With ``noise > 0`` the
        problem is stochastic: :meth:`minibatch` returns a
        :class:`NoisyQuadraticOracle` holding one draw ``xi ~ N(0, I)``, with gradient
        ``A (x - x*) + noise * xi`` and the consistent loss
        ``f(x) + noise * xi . (x - x*)``.  The full ``loss/grad/hess`` stay noiseless.

    Notes
    -----
    ``x0(seed) = x* + z`` with ``z = np.random.default_rng([seed, 0x5EED])
    .standard_normal(dim)``: a standard normal perturbation from a stream apart from the
    data stream ``default_rng(seed)``.

    Examples
    --------
    >>> p = Quadratic(3, condition_number=10.0)
    >>> p.loss(p.x_star)
    0.0
    >>> bool(np.allclose(np.linalg.eigvalsh(p.hess(p.x_star)), [1.0, 10**0.5, 10.0]))
    True
    """

    name = "quadratic"
    has_hess = True

    def __init__(
        self,
        dim: int,
        condition_number: float = 100.0,
        seed: int = 0,
        rotate: bool = True,
        noise: float = 0.0,
    ) -> None:
        dim = check_int("dim", dim, low=1)
        condition_number = check_real("condition_number", condition_number, low=1.0)
        seed = check_seed(seed)
        rotate = check_bool("rotate", rotate)
        noise = check_real("noise", noise, low=0.0)
        if rotate and dim > MAX_DENSE_DIM:
            raise ValueError(
                f"dim must be <= {MAX_DENSE_DIM} with rotate=True (A is stored dense), "
                f"got {dim}; use rotate=False for a diagonal A stored as a vector"
            )
        self.dim = dim
        self.params = {
            "dim": dim,
            "condition_number": condition_number,
            "seed": seed,
            "rotate": rotate,
            "noise": noise,
        }
        self.condition_number = condition_number
        self.rotate = rotate
        self.noise = noise
        self.f_star = 0.0
        self.stochastic = noise > 0.0

        rng = np.random.default_rng(seed)
        #: The minimiser ``x*``.
        self.x_star = rng.standard_normal(dim)
        #: The eigenvalues of ``A``, ascending, from 1 to ``condition_number``.
        self.eigenvalues = np.geomspace(1.0, condition_number, dim)
        if rotate:
            q = random_rotation(dim, rng)
            a = (q * self.eigenvalues) @ q.T
            self._a: np.ndarray | None = 0.5 * (a + a.T)  # exactly symmetric
            self._sqrt_lam: np.ndarray | None = None
        else:
            self._a = None
            self._sqrt_lam = np.sqrt(self.eigenvalues)

    @staticmethod
    def estimated_bytes(
        dim: int,
        condition_number: float = 100.0,
        seed: int = 0,
        rotate: bool = True,
        noise: float = 0.0,
    ) -> int:
        """Upper-ish estimate of the peak bytes of building the problem plus one oracle
        call (loss, grad, hess or a noisy minibatch's grad), computed without
        allocating anything.

        ``rotate=True``: ``5 * dim**2 * 8 + 8 * dim * 8``.  The construction peak is
        about five dense ``(dim, dim)`` float64 matrices at once: the Gaussian matrix,
        LAPACK's copy of it and the factors ``Q`` and ``R`` inside the QR
        factorisation, then ``Q``, ``Q diag(lam)`` and ``A`` with its symmetrised copy.
        Once built only ``A`` stays, and ``hess`` (a copy of ``A``) brings it to two
        matrices, under the construction peak; ``8 * dim * 8`` covers the vectors
        (``x*``, the eigenvalues, the point, the gradient, the noise draw).  This is
        also returned for ``dim > 20000``, which the constructor refuses.

        ``rotate=False``: ``(5 + 3 * (noise > 0)) * dim * 8``, plus ``dim**2 * 8`` for
        ``dim <= 20000`` only.  Three vectors are held (``x*``, the eigenvalues and
        their square roots); a call adds the point and the gradient, a noisy oracle
        its draw, its scaled copy and one more gradient.  ``has_hess`` is True, and
        ``hess`` returns the dense ``np.diag(lam)``, which is counted; above ``dim =
        20000`` ``hess`` refuses without allocating.

        ``condition_number`` and ``seed`` do not change the size and are not checked;
        invalid ``dim``, ``rotate`` or ``noise`` raise the constructor's ValueError.

        >>> Quadratic.estimated_bytes(1000)  # five 1000 x 1000 matrices, 40 MB
        40064000
        """
        dim = check_int("dim", dim, low=1)
        rotate = check_bool("rotate", rotate)
        noise = check_real("noise", noise, low=0.0)
        vector = 8 * dim
        if rotate:
            return 5 * dim * vector + 8 * vector
        hess = dim * vector if dim <= MAX_DENSE_DIM else 0
        return (5 + (3 if noise > 0.0 else 0)) * vector + hess

    # The full objective -------------------------------------------------------------

    def loss(self, x: np.ndarray) -> float:
        d = as_point(x, self.dim) - self.x_star
        if self._a is not None:
            return 0.5 * float(d @ (self._a @ d))
        assert self._sqrt_lam is not None  # set whenever A is diagonal (rotate=False)
        d *= self._sqrt_lam  # in place: sum(lam d^2) = |sqrt(lam) d|^2
        return 0.5 * float(d @ d)

    def grad(self, x: np.ndarray) -> np.ndarray:
        d = as_point(x, self.dim) - self.x_star
        if self._a is not None:
            return self._a @ d
        d *= self.eigenvalues
        return d

    def hess(self, x: np.ndarray) -> np.ndarray:
        """The dense matrix ``A`` (a copy); ValueError for ``rotate=False, dim > 20000``."""
        as_point(x, self.dim)
        if self._a is not None:
            return self._a.copy()
        check_dense_dim(self.name, self.dim)
        return np.diag(self.eigenvalues)

    # Initial point and stochastic oracle --------------------------------------------

    def x0(self, seed: int = 0) -> np.ndarray:
        return self.x_star + x0_rng(seed).standard_normal(self.dim)

    def minibatch(self, rng: np.random.Generator) -> Quadratic | NoisyQuadraticOracle:
        """One draw of gradient noise (``self`` when ``noise == 0``)."""
        if not self.stochastic:
            return self
        return NoisyQuadraticOracle(self, rng.standard_normal(self.dim))


class NoisyQuadraticOracle:
    """The quadratic seen through one fixed draw ``xi`` of gradient noise.

    ``loss(x) = f(x) + noise * xi . (x - x*)``, ``grad(x) = A (x - x*) + noise * xi``,
    ``hess(x) = A``: the same draw at every point, so a method can evaluate one
    "minibatch" at several points.  The expectation over ``xi`` is the noiseless
    problem.
    """

    def __init__(self, problem: Quadratic, xi: np.ndarray) -> None:
        self.problem = problem
        #: The standard normal draw of this oracle.
        self.xi = xi
        self._shift = problem.noise * xi

    def loss(self, x: np.ndarray) -> float:
        p = self.problem
        d = as_point(x, p.dim) - p.x_star
        return p.loss(x) + float(self._shift @ d)

    def grad(self, x: np.ndarray) -> np.ndarray:
        g = self.problem.grad(x)
        g += self._shift
        return g

    def hess(self, x: np.ndarray) -> np.ndarray:
        return self.problem.hess(x)
