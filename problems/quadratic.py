"""Convex quadratics with a prescribed condition number, optionally with gradient noise."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
import scipy.linalg.lapack

from ._validate import (
    MAX_DENSE_DIM,
    as_point,
    check_bool,
    check_dense_dim,
    check_dtype,
    check_int,
    check_real,
    check_seed,
    dtype_params,
    x0_rng,
)
from .base import Problem


#: Rows of the Gaussian matrix drawn at a time when it is built in a dtype other than
#: float64 (so that the float64 matrix never exists whole).
ROW_BLOCK = 1024
#: Numbers of a vector drawn (or computed) in float64 at a time for another dtype.
VECTOR_BLOCK = 1 << 16


def random_rotation(dim: int, rng: np.random.Generator, dtype: Any = np.float64) -> np.ndarray:
    """A Haar-distributed orthogonal ``(dim, dim)`` matrix of ``dtype``.

    The QR factorisation ``G = QR`` of a standard Gaussian matrix, with the sign of
    each column of ``Q`` fixed so that ``diag(R) > 0`` (without the fix the
    distribution of ``Q`` is not uniform).  ``G`` is drawn in float64 and factorised
    by :func:`numpy.linalg.qr`.  For another ``dtype`` it is rounded to ``dtype``
    :data:`ROW_BLOCK` rows at a time (the same numbers as one draw) and factorised in
    place, in that precision, by LAPACK's ``geqrf`` and ``orgqr`` (numpy's ``qr``
    would compute in float64 and scipy's holds more copies), so ``Q`` is orthogonal to
    the precision of ``dtype`` and costs one matrix of memory.
    """
    if np.dtype(dtype) != np.float64:
        return _rotation_in_place(dim, rng, dtype)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return q * signs


def standard_normal(
    rng: np.random.Generator, dim: int, dtype: Any = np.float64, shift: np.ndarray | None = None
) -> np.ndarray:
    """``rng.standard_normal(dim)`` (plus ``shift``) rounded to ``dtype``.

    float64: exactly ``rng.standard_normal(dim) + shift``.  Another dtype: the same
    float64 numbers drawn :data:`VECTOR_BLOCK` at a time, ``shift`` added in float64,
    each block rounded to ``dtype`` (no float64 vector of length ``dim``).
    """
    if np.dtype(dtype) == np.float64:
        z = rng.standard_normal(dim)
        if shift is not None:
            z += shift
        return z
    out = np.empty(dim, dtype=dtype)
    for start in range(0, dim, VECTOR_BLOCK):
        stop = min(start + VECTOR_BLOCK, dim)
        z = rng.standard_normal(stop - start)
        if shift is not None:
            z += shift[start:stop]
        out[start:stop] = z
    return out


def log_spaced(condition_number: float, dim: int, dtype: Any = np.float64) -> np.ndarray:
    """``np.geomspace(1, condition_number, dim)`` in ``dtype``.

    float64: :func:`numpy.geomspace` itself.  Another dtype: ``condition_number **
    (k / (dim - 1))`` computed in float64 :data:`VECTOR_BLOCK` at a time and rounded
    (equal to the rounded geomspace up to a tie in the last float64 bit), with the
    ends exactly 1 and ``condition_number`` rounded.
    """
    if np.dtype(dtype) == np.float64:
        return np.geomspace(1.0, condition_number, dim)
    out = np.empty(dim, dtype=dtype)
    if dim == 1:
        out[0] = 1.0
        return out
    log_kappa = np.log(condition_number)
    for start in range(0, dim, VECTOR_BLOCK):
        stop = min(start + VECTOR_BLOCK, dim)
        out[start:stop] = np.exp(np.arange(start, stop) * (log_kappa / (dim - 1)))
    out[0], out[-1] = 1.0, condition_number
    return out


def _rotation_in_place(dim: int, rng: np.random.Generator, dtype: Any) -> np.ndarray:
    """:func:`random_rotation` for a dtype other than float64 (see there)."""
    g = np.empty((dim, dim), dtype=dtype, order="F")  # LAPACK's layout: no copy
    for start in range(0, dim, ROW_BLOCK):
        stop = min(start + ROW_BLOCK, dim)
        g[start:stop] = rng.standard_normal((stop - start, dim))
    geqrf, orgqr = scipy.linalg.lapack.get_lapack_funcs(("geqrf", "orgqr"), (g,))
    work = geqrf(g, lwork=-1)[2]  # workspace query
    qr, tau, _, info = geqrf(g, lwork=int(work[0]), overwrite_a=1)
    if info != 0:  # pragma: no cover - only for invalid arguments
        raise RuntimeError(f"LAPACK geqrf failed with info={info}")
    signs = np.sign(np.diag(qr))
    signs[signs == 0] = 1.0
    work = orgqr(qr, tau, lwork=-1)[1]
    q, _, info = orgqr(qr, tau, lwork=int(work[0]), overwrite_a=1)
    if info != 0:  # pragma: no cover
        raise RuntimeError(f"LAPACK orgqr failed with info={info}")
    q *= signs
    return q


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
        Its ``oracle_kind`` is ``"noisy"``: a method that steps on it sees the exact
        gradient plus noise, not a minibatch.
    dtype : {"float64", "float32"}, default "float64"
        Precision of the stored data (``x*``, ``A`` or its eigenvalues) and of the
        computation.  The random numbers are the float64 ones (so the float32 problem
        is the float64 one rounded, up to the float32 QR factorisation of the rotation,
        which is done in float32 to halve the construction's memory); ``x0``, ``grad``,
        ``hess`` and a noisy oracle's ``grad`` return ``dtype`` arrays, points are
        converted to ``dtype``, ``loss`` returns a Python float.  ``f_star = 0`` and
        ``x*`` (stored rounded) is the exact minimiser in either precision.  The
        random vectors and the eigenvalues are computed in float64 a block at a time
        and rounded, so no float64 vector of length ``dim`` is held.  ``params``
        has a ``"dtype"`` entry only when it is not float64.

    Notes
    -----
    ``x0(seed) = x* + z`` with ``z = np.random.default_rng([seed, 0x5EED])
    .standard_normal(dim)``: a standard normal perturbation from a stream apart from the
    data stream ``default_rng(seed)``; it is drawn in float64 and rounded to ``dtype``.
    :meth:`loss_and_grad` shares the product ``A (x - x*)``: the loss is
    ``1/2 (x - x*) . g`` with ``g`` the gradient (bit for bit :meth:`loss` and
    :meth:`grad`).

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
    oracle_kind = "noisy"

    def __init__(
        self,
        dim: int,
        condition_number: float = 100.0,
        seed: int = 0,
        rotate: bool = True,
        noise: float = 0.0,
        dtype: str = "float64",
    ) -> None:
        dim = check_int("dim", dim, low=1)
        condition_number = check_real("condition_number", condition_number, low=1.0)
        seed = check_seed(seed)
        rotate = check_bool("rotate", rotate)
        noise = check_real("noise", noise, low=0.0)
        self.dtype = dtype_ = check_dtype(dtype)
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
            **dtype_params(dtype_),
        }
        self.condition_number = condition_number
        self.rotate = rotate
        self.noise = noise
        self.f_star = 0.0
        self.stochastic = noise > 0.0

        rng = np.random.default_rng(seed)
        #: The minimiser ``x*``.
        self.x_star = standard_normal(rng, dim, dtype_)
        #: The eigenvalues of ``A``, ascending, from 1 to ``condition_number``.
        self.eigenvalues = log_spaced(condition_number, dim, dtype_)
        if rotate:
            q = random_rotation(dim, rng, dtype_)
            q_lam = q * self.eigenvalues
            a = q_lam @ q.T
            del q, q_lam
            a += a.T  # exactly symmetric
            a *= 0.5
            self._a: np.ndarray | None = a
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
        dtype: str = "float64",
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

        ``dtype="float32"``, ``rotate=True``: ``3 * dim**2 * 4 + (min(1024, dim) + 8)
        * dim * 8``.  The Gaussian matrix is rounded as it is drawn, a block of
        :data:`ROW_BLOCK` float64 rows at a time, and factorised in place (see
        :func:`random_rotation`), so construction peaks at three float32 matrices
        (``Q``, ``Q diag(lam)`` and ``A``); the float64 block and vectors are added.
        ``rotate=False``: ``(5 + 3 * (noise > 0)) * dim * 4 + 2 * min(dim, 65536) * 8``
        plus the float32 ``dim**2 * 4`` Hessian for ``dim <= 20000``: the vectors of
        the float64 case in float32, and two float64 blocks of :data:`VECTOR_BLOCK`
        numbers (the vectors are drawn, or computed, in float64 a block at a time; see
        :func:`standard_normal` and :func:`log_spaced`).

        ``condition_number`` and ``seed`` do not change the size and are not checked;
        invalid ``dim``, ``rotate``, ``noise`` or ``dtype`` raise the constructor's
        ValueError.

        >>> Quadratic.estimated_bytes(1000)  # five 1000 x 1000 matrices, 40 MB
        40064000
        >>> Quadratic.estimated_bytes(1000, dtype="float32")  # 12 MB and an 8 MB float64 block
        20064000
        """
        dim = check_int("dim", dim, low=1)
        rotate = check_bool("rotate", rotate)
        noise = check_real("noise", noise, low=0.0)
        itemsize = check_dtype(dtype).itemsize
        vector = itemsize * dim
        vectors = 5 + (3 if noise > 0.0 else 0)
        if itemsize == 8:
            if rotate:
                return 5 * dim * vector + 8 * vector
            hess = dim * vector if dim <= MAX_DENSE_DIM else 0
            return vectors * vector + hess
        if rotate:
            return 3 * dim * vector + (min(ROW_BLOCK, dim) + 8) * 8 * dim
        hess = dim * vector if dim <= MAX_DENSE_DIM else 0
        return vectors * vector + 2 * 8 * min(dim, VECTOR_BLOCK) + hess

    # The full objective -------------------------------------------------------------

    def _offset(self, x: np.ndarray) -> np.ndarray:
        """``x - x*`` (a new array of the problem's dtype)."""
        return as_point(x, self.dim, self.dtype) - self.x_star

    def loss(self, x: np.ndarray) -> float:
        d = self._offset(x)
        if self._a is not None:
            return 0.5 * float(d @ (self._a @ d))
        return self._diagonal_loss(d)

    def _diagonal_loss(self, d: np.ndarray) -> float:
        """``1/2 sum(lam d^2)`` as ``1/2 |sqrt(lam) d|^2``; overwrites ``d``."""
        assert self._sqrt_lam is not None  # set whenever A is diagonal (rotate=False)
        d *= self._sqrt_lam
        return 0.5 * float(d @ d)

    def grad(self, x: np.ndarray) -> np.ndarray:
        d = self._offset(x)
        if self._a is not None:
            return self._a @ d
        d *= self.eigenvalues
        return d

    def loss_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(loss(x), grad(x))`` with one product ``A d``, bit for bit the same."""
        d = self._offset(x)
        if self._a is not None:
            g = self._a @ d
            return 0.5 * float(d @ g), g
        g = d * self.eigenvalues
        return self._diagonal_loss(d), g

    def hess(self, x: np.ndarray) -> np.ndarray:
        """The dense matrix ``A`` (a copy); ValueError for ``rotate=False, dim > 20000``."""
        as_point(x, self.dim, self.dtype)
        if self._a is not None:
            return self._a.copy()
        check_dense_dim(self.name, self.dim, self.dtype.itemsize)
        return np.diag(self.eigenvalues)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``A v`` (one product with ``A``, or with its eigenvalues when diagonal)."""
        as_point(x, self.dim, self.dtype)
        v = as_point(v, self.dim, self.dtype)
        if self._a is not None:
            return self._a @ v
        return v * self.eigenvalues

    # Initial point and stochastic oracle --------------------------------------------

    def x0(self, seed: int = 0) -> np.ndarray:
        return standard_normal(x0_rng(seed), self.dim, self.dtype, shift=self.x_star)

    def minibatch(self, rng: np.random.Generator) -> Quadratic | NoisyQuadraticOracle:
        """One draw of gradient noise (``self`` when ``noise == 0``)."""
        if not self.stochastic:
            return self
        return NoisyQuadraticOracle(self, standard_normal(rng, self.dim, self.dtype))


class NoisyQuadraticOracle:
    """The quadratic seen through one fixed draw ``xi`` of gradient noise.

    ``loss(x) = f(x) + noise * xi . (x - x*)``, ``grad(x) = A (x - x*) + noise * xi``,
    ``hess(x) = A``: the same draw at every point, so a method can evaluate one
    "minibatch" at several points.  The expectation over ``xi`` is the noiseless
    problem.
    """

    def __init__(self, problem: Quadratic, xi: np.ndarray) -> None:
        self.problem = problem
        #: The standard normal draw of this oracle (in the problem's dtype).
        self.xi = xi
        self._shift = problem.noise * xi

    def loss(self, x: np.ndarray) -> float:
        p = self.problem
        d = p._offset(x)
        return p.loss(x) + float(self._shift @ d)

    def grad(self, x: np.ndarray) -> np.ndarray:
        g = self.problem.grad(x)
        g += self._shift
        return g

    def loss_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(loss(x), grad(x))`` with one product ``A d``, bit for bit the same."""
        p = self.problem
        value, g = p.loss_and_grad(x)
        g += self._shift
        return value + float(self._shift @ p._offset(x)), g

    def hess(self, x: np.ndarray) -> np.ndarray:
        return self.problem.hess(x)
