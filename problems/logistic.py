"""L2-regularised binary logistic regression on synthetic or bundled data."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from ._validate import (
    as_point,
    check_bool,
    check_choice,
    check_dtype,
    check_int,
    check_real,
    check_seed,
    dtype_params,
    x0_rng,
)
from .base import Problem

DATASETS = ("synthetic", "breast_cancer")

_DEFAULT_N_SAMPLES = 1000
_DEFAULT_N_FEATURES = 20

#: Rows per block where data of a dtype other than float64 are generated, standardised
#: or evaluated in float64 (the ``f_star`` solve) a block at a time.
ROW_BLOCK = 4096

# (minimiser, minimum) of the full objective, keyed by the parameters that define it
# (every parameter but batch_size), shared by all instances in the process.
_SOLUTIONS: dict[tuple[Any, ...], tuple[np.ndarray, float]] = {}


# The objective on a set of rows -----------------------------------------------------
#
# ``yx`` holds the rows ``y_i x_i`` (labels folded into the features), so the margins
# are ``yx @ w`` and, since ``y_i^2 = 1``, the Hessian is ``yx^T D yx``.


def logistic_loss(yx: np.ndarray, w: np.ndarray, reg: float) -> float:
    """``mean_i log(1 + exp(-m_i)) + reg/2 |w|^2`` with margins ``m = yx @ w``."""
    return logistic_loss_and_grad(yx, w, reg, need_grad=False)[0]


def logistic_grad(yx: np.ndarray, w: np.ndarray, reg: float) -> np.ndarray:
    """``-yx^T sigma(-m) / n + reg w`` with ``sigma = scipy.special.expit``."""
    z = yx @ w
    np.negative(z, out=z)  # z = -m, in place
    return _grad_from(yx, expit(z, out=z), w, reg)


def logistic_loss_and_grad(
    yx: np.ndarray, w: np.ndarray, reg: float, need_grad: bool = True
) -> tuple[float, np.ndarray | None]:
    """Loss and gradient from one product ``m = yx @ w`` (the gradient None unless
    ``need_grad``); the same numbers as :func:`logistic_loss` and :func:`logistic_grad`.

    With ``z = -m`` (negated in place): the loss is ``mean(log(1 + exp(z))) + reg/2
    |w|^2`` (see :func:`log1p_exp`, finite for any margin); then ``z`` is overwritten
    by ``sigma(z) = expit(z)`` (stable on both sides) and the gradient is
    ``-yx^T sigma(z) / n + reg w``.  So a call makes two passes over ``yx`` (one
    product each way) and holds two length-n vectors.
    """
    z = yx @ w
    np.negative(z, out=z)
    loss = float(np.mean(log1p_exp(z))) + 0.5 * reg * float(w @ w)
    if not need_grad:
        return loss, None
    return loss, _grad_from(yx, expit(z, out=z), w, reg)


def log1p_exp(z: np.ndarray) -> np.ndarray:
    """``log(1 + exp(z))`` elementwise, stable for any finite ``z`` (a new array).

    float64: ``np.logaddexp(0, z)``, the reference form (kept so that float64 losses
    stay bit for bit what they were).  Other dtypes: the same formula written out as
    ``max(z, 0) + log1p(exp(-|z|))`` with in-place ufuncs, which numpy vectorises in
    float32 (about twice as fast as float32 ``logaddexp``); the two agree to a few
    float32 ulps.
    """
    if z.dtype == np.float64:
        return np.logaddexp(0.0, z)
    t = np.abs(z)
    np.negative(t, out=t)
    np.exp(t, out=t)
    np.log1p(t, out=t)
    t += np.maximum(z, 0.0)
    return t


def _grad_from(yx: np.ndarray, s: np.ndarray, w: np.ndarray, reg: float) -> np.ndarray:
    """``-yx^T s / n + reg w`` (a new array)."""
    g = yx.T @ s
    g *= -1.0 / yx.shape[0]
    g += reg * w
    return g


def logistic_hess(yx: np.ndarray, w: np.ndarray, reg: float) -> np.ndarray:
    """``yx^T diag(d) yx / n + reg I`` with ``d = sigma(m) sigma(-m)``, no n x n matrix."""
    m = yx @ w
    d = expit(m) * expit(-m)
    h = (yx.T * d) @ yx
    h += h.T  # exactly symmetric (the product is only up to round-off)
    h *= 0.5 / yx.shape[0]
    h.flat[:: h.shape[0] + 1] += reg
    return h


def logistic_hvp(yx: np.ndarray, w: np.ndarray, v: np.ndarray, reg: float) -> np.ndarray:
    """``yx^T (d * (yx v)) / n + reg v`` with ``d = sigma(m) sigma(-m)``, ``m = yx w``:
    the Hessian times ``v`` from three products with the data, no d x d matrix."""
    m = yx @ w
    d = expit(m) * expit(-m)
    hv = yx.T @ (d * (yx @ v))
    hv /= yx.shape[0]
    hv += reg * v
    return hv


# Data --------------------------------------------------------------------------------


def synthetic_data(
    n_samples: int, n_features: int, seed: int, dtype: Any = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded features ``X`` (n_samples, n_features) and float64 labels ``y`` in {-1, +1}.

    With ``rng = np.random.default_rng(seed)``: standard normal latent features ``Z``;
    feature ``j`` is ``X_j = scale_j Z_j + offset_j`` with
    ``scale = np.geomspace(0.1, 10, n_features)`` (two decades) and offsets of 2 to 8
    units with a random sign, so the raw features are off-center and badly scaled.
    Labels follow a logistic model, ``P(y = +1) = expit(Z @ v + b)``, with a seeded
    ``v`` of norm 3 and ``b ~ N(0, 0.5^2)``; in the raw features this is the logistic
    model with weights ``v / scale`` and intercept ``b - offset @ (v / scale)``.

    ``dtype`` other than float64: ``X`` is the float64 features rounded to ``dtype``,
    built :data:`ROW_BLOCK` rows at a time so that the float64 matrix never exists
    whole; the margins ``Z @ v`` are computed in float64 from a replay of the same
    stream (block by block, so a label could differ from the float64 one only for a
    margin within round-off of its threshold).
    """
    rng = np.random.default_rng(seed)
    scale = np.geomspace(0.1, 10.0, n_features)
    offset = rng.uniform(2.0, 8.0, n_features) * rng.choice([-1.0, 1.0], n_features)
    if np.dtype(dtype) == np.float64:
        z = rng.standard_normal((n_samples, n_features))
        v, b = _label_weights(rng, n_features)
        y = np.where(rng.random(n_samples) < expit(z @ v + b), 1.0, -1.0)
        return z * scale + offset, y
    z_state = rng.bit_generator.state
    x = np.empty((n_samples, n_features), dtype=dtype)
    for rows in _row_blocks(n_samples):
        z = rng.standard_normal((rows.stop - rows.start, n_features))
        z *= scale
        z += offset
        x[rows] = z
    v, b = _label_weights(rng, n_features)
    u = rng.random(n_samples)
    replay = np.random.default_rng(seed)
    replay.bit_generator.state = z_state
    margins = np.empty(n_samples)
    for rows in _row_blocks(n_samples):
        margins[rows] = replay.standard_normal((rows.stop - rows.start, n_features)) @ v
    margins += b
    return x, np.where(u < expit(margins), 1.0, -1.0)


def _label_weights(rng: np.random.Generator, n_features: int) -> tuple[np.ndarray, float]:
    """The label model's ``v`` (norm 3) and ``b``, drawn after the features."""
    v = rng.standard_normal(n_features)
    v *= 3.0 / np.linalg.norm(v)
    return v, 0.5 * rng.standard_normal()


def _row_blocks(n: int) -> list[slice]:
    """``slice(start, start + ROW_BLOCK)`` covering ``range(n)``."""
    return [slice(start, min(start + ROW_BLOCK, n)) for start in range(0, n, ROW_BLOCK)]


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A bundled scikit-learn dataset as float64 ``X`` and labels ``y`` in {-1, +1}.

    ``"breast_cancer"``: :func:`sklearn.datasets.load_breast_cancer`, 569 samples,
    30 features, ``y = +1`` for benign (target 1) and -1 for malignant.
    """
    try:
        from sklearn import datasets
    except ImportError as exc:
        raise ImportError(
            f"dataset={name!r} needs scikit-learn; install it with "
            "`pip install optbench[datasets]`"
        ) from exc
    if name == "breast_cancer":
        x, target = datasets.load_breast_cancer(return_X_y=True)
    else:  # pragma: no cover - guarded by check_choice
        raise ValueError(f"unknown dataset {name!r}")
    return np.asarray(x, dtype=np.float64), np.where(target == 1, 1.0, -1.0)


def standardize_columns(x: np.ndarray) -> np.ndarray:
    """Each column centered and scaled to unit variance (constant columns only centered).

    A float64 ``x`` gives a new array; any other dtype is standardised in place, with
    the column means and standard deviations accumulated in float64 block by block
    (no float64 copy of ``x``).
    """
    if x.dtype == np.float64:
        std = x.std(axis=0)
        std[std == 0.0] = 1.0
        return (x - x.mean(axis=0)) / std
    n = x.shape[0]
    mean = np.zeros(x.shape[1])
    for rows in _row_blocks(n):
        mean += x[rows].sum(axis=0, dtype=np.float64)
    mean /= n
    var = np.zeros(x.shape[1])
    for rows in _row_blocks(n):
        block = x[rows].astype(np.float64)
        block -= mean
        var += np.einsum("ij,ij->j", block, block)
    std = np.sqrt(var / n)
    std[std == 0.0] = 1.0
    x -= mean.astype(x.dtype)
    x /= std.astype(x.dtype)
    return x


# The problem ------------------------------------------------------------------------


class Logistic(Problem):
    r"""``f(w) = 1/n sum_i log(1 + exp(-y_i w . x_i)) + reg/2 |w|^2``, y_i in {-1, +1}.

    Each row ``x_i`` is the feature vector with a 1 appended (the intercept column),
    so ``dim = n_features + 1``; the intercept weight ``w[-1]`` is regularised like the
    others, which keeps ``f`` ``reg``-strongly convex.  The log-loss is computed
    stably with ``np.logaddexp`` and ``scipy.special.expit`` (finite for any margin).

    Parameters
    ----------
    n_samples : int, default 1000
        Number of rows, >= 1 (synthetic data only).
    n_features : int, default 20
        Number of features before the intercept column, >= 1 (synthetic data only).
    reg : float, default 1e-3
        L2 regularisation, finite and > 0, so that the minimiser exists and is unique.
    batch_size : int or None, default 32
        Rows per minibatch, >= 1.  ``None`` or ``>= n_samples`` means full batch:
        ``stochastic`` is False and :meth:`minibatch` returns the problem itself.
    standardize : bool, default False
        Center each feature and scale it to unit variance (with the mean and standard
        deviation of the data itself) before the intercept column is appended.
    seed : int, default 0
        Seeds the synthetic data (see :func:`synthetic_data`); unused for a bundled
        dataset.
    dataset : {"synthetic", "breast_cancer"}, default "synthetic"
        ``"breast_cancer"`` loads scikit-learn's bundled data (scikit-learn is an
        optional dependency: ``pip install optbench[datasets]``).  Its size fixes
        ``n_samples`` and ``n_features``: leave them at their defaults (or pass the
        data's own sizes); ``params`` records the data's sizes.
    dtype : {"float64", "float32"}, default "float64"
        Precision of the stored data and of the computation: the data are generated
        (or loaded and standardised) in float64 and rounded to ``dtype`` (see
        :func:`synthetic_data` for how float32 data are built without a float64 copy),
        ``x0`` and ``grad`` return ``dtype`` arrays and a point is converted to
        ``dtype`` before use; ``loss`` returns a Python float.  ``f_star`` is computed in
        float64 on the stored (rounded) data, so near the optimum ``loss - f_star``
        bottoms out at float32 round-off (about ``1e-7 * f_star``, of either sign).
        ``params`` has a ``"dtype"`` entry only when it is not float64.

    Attributes
    ----------
    X : ndarray (n_samples, dim)
        The rows ``x_i``, intercept column last.
    y : ndarray (n_samples,)
        The labels, -1.0 or +1.0.
    f_star : float
        The minimum of the full objective, computed on first access by L-BFGS-B then
        Newton steps to a gradient norm of about 1e-10 or below, and cached for every
        instance with the same parameters (``batch_size`` aside).  For a dtype other
        than float64 the solve evaluates the stored data in float64, a block of
        :data:`ROW_BLOCK` rows at a time.

    Notes
    -----
    :meth:`minibatch` draws ``batch_size`` distinct rows,
    ``rng.choice(n_samples, batch_size, replace=False)``, and returns a
    :class:`LogisticBatchOracle`: the same formula with the mean over those rows (the
    ``reg`` term unchanged).  ``x0(seed) = 0.01 * np.random.default_rng([seed, 0x5EED])
    .standard_normal(dim)`` (drawn in float64, then rounded to ``dtype``): a small
    perturbation of zero, different for every seed.  :meth:`loss_and_grad` (on the
    problem and on its minibatch oracles) shares the margins ``yx @ w`` between the
    loss and the gradient, see :func:`logistic_loss_and_grad`.
    """

    name = "logistic"
    has_hess = True

    def __init__(
        self,
        n_samples: int = _DEFAULT_N_SAMPLES,
        n_features: int = _DEFAULT_N_FEATURES,
        reg: float = 1e-3,
        batch_size: int | None = 32,
        standardize: bool = False,
        seed: int = 0,
        dataset: str = "synthetic",
        dtype: str = "float64",
    ) -> None:
        dataset = check_choice("dataset", dataset, DATASETS)
        n_samples = check_int("n_samples", n_samples, low=1)
        n_features = check_int("n_features", n_features, low=1)
        reg = check_real("reg", reg, low=0.0, strict=True)
        if batch_size is not None:
            batch_size = check_int("batch_size", batch_size, low=1)
        standardize = check_bool("standardize", standardize)
        seed = check_seed(seed)
        self.dtype = dtype_ = check_dtype(dtype)

        if dataset == "synthetic":
            x, y = synthetic_data(n_samples, n_features, seed, dtype_)
        else:
            x, y = load_dataset(dataset)
            for pname, value, default, actual in (
                ("n_samples", n_samples, _DEFAULT_N_SAMPLES, x.shape[0]),
                ("n_features", n_features, _DEFAULT_N_FEATURES, x.shape[1]),
            ):
                if value not in (default, actual):
                    raise ValueError(
                        f"{pname} is fixed by dataset={dataset!r} to {actual}, got "
                        f"{value}; leave it at its default"
                    )
            n_samples, n_features = x.shape
        if standardize:
            x = standardize_columns(x)

        if dtype_ == np.float64:
            self.X = np.hstack([x, np.ones((n_samples, 1))])
            self.y = y
        else:  # fill X in place and drop x: two (n, dim) matrices of dtype at most
            self.X = np.empty((n_samples, n_features + 1), dtype=dtype_)
            self.X[:, :-1] = x
            self.X[:, -1] = 1.0
            del x
            self.y = y.astype(dtype_)
        self._yx = self.X * self.y[:, None]
        self.dim = n_features + 1
        self.n_samples = n_samples
        self.n_features = n_features
        self.reg = reg
        self.batch_size = batch_size
        self.stochastic = batch_size is not None and batch_size < n_samples
        self.params = {
            "n_samples": n_samples,
            "n_features": n_features,
            "reg": reg,
            "batch_size": batch_size,
            "standardize": standardize,
            "seed": seed,
            "dataset": dataset,
            **dtype_params(dtype_),
        }
        self._key = (
            dataset,
            n_samples,
            n_features,
            reg,
            standardize,
            seed if dataset == "synthetic" else None,
            dtype_.name,
        )

    @staticmethod
    def estimated_bytes(
        n_samples: int = _DEFAULT_N_SAMPLES,
        n_features: int = _DEFAULT_N_FEATURES,
        reg: float = 1e-3,
        batch_size: int | None = 32,
        standardize: bool = False,
        seed: int = 0,
        dataset: str = "synthetic",
        dtype: str = "float64",
    ) -> int:
        """Upper-ish estimate of the peak bytes of building the problem plus one oracle
        call (loss, grad, hess, a minibatch oracle or the ``f_star`` solve), computed
        without generating or loading the data.

        With ``n`` rows, ``m = n_features + 1`` columns and ``b = min(batch_size, n)``
        (0 for full batch): ``8 * (3 n m + 2 m**2 + 5 n + b m + 4 m) + 65536``.  Three
        ``(n, m)`` matrices at once: during construction the raw features (alive to the
        end of ``__init__``), ``X`` with its intercept column and the label-folded copy
        ``yx`` (generating or standardising the features also peaks at three
        ``(n, n_features)`` matrices); once built ``X`` and ``yx`` stay, and ``hess``
        adds the ``(n, m)`` product ``yx.T * d`` and two ``(m, m)`` matrices.  Plus
        length-``n`` vectors (labels, margins, sigmoids), the ``b`` rows a minibatch
        oracle copies, a few weight vectors and 64 kB for the Python objects and
        fixed-size temporaries (measured: they matter below about 10000 rows).

        ``dtype="float32"``: ``4 * (3 n m + b m) + 8 * (2 m**2 + 5 n + 4 m + 2 B m) +
        65536`` with ``B = min(n,`` :data:`ROW_BLOCK` ``)``: the matrices take half the room, and the
        raw features are generated block by block straight into float32 and dropped
        once ``X`` is filled, so construction holds two ``(n, m)`` float32 matrices and
        ``hess`` brings the peak to three; the length-``n`` vectors of the label model
        stay float64, and the ``f_star`` solve adds two float64 blocks of ``B`` rows (a
        block and its scaled transpose).

        ``dataset="breast_cancer"`` uses the data's own 569 x 30 (``n_samples`` and
        ``n_features`` are then ignored here; the one-time import of scikit-learn is
        not counted).  ``reg``, ``standardize`` and ``seed`` do not change the size and
        are not checked; invalid ``dataset``, ``n_samples``, ``n_features``,
        ``batch_size`` or ``dtype`` raise the constructor's ValueError.

        >>> Logistic.estimated_bytes(100_000, 99, batch_size=None)  # 3 * 80 MB and change
        244228736
        >>> Logistic.estimated_bytes(100_000, 99, batch_size=None, dtype="float32")
        130782336
        """
        dataset = check_choice("dataset", dataset, DATASETS)
        itemsize = check_dtype(dtype).itemsize
        n = check_int("n_samples", n_samples, low=1)
        d = check_int("n_features", n_features, low=1)
        if batch_size is not None:
            batch_size = check_int("batch_size", batch_size, low=1)
        if dataset == "breast_cancer":
            n, d = 569, 30  # load_breast_cancer's shape
        m = d + 1
        b = 0 if batch_size is None else min(batch_size, n)
        if itemsize == 8:
            return 8 * (3 * n * m + 2 * m * m + 5 * n + b * m + 4 * m) + 65536
        blocks = 2 * min(ROW_BLOCK, n) * m
        return itemsize * (3 * n * m + b * m) + 8 * (2 * m * m + 5 * n + 4 * m + blocks) + 65536

    # The full objective -------------------------------------------------------------

    def loss(self, x: np.ndarray) -> float:
        return logistic_loss(self._yx, as_point(x, self.dim, self.dtype), self.reg)

    def grad(self, x: np.ndarray) -> np.ndarray:
        return logistic_grad(self._yx, as_point(x, self.dim, self.dtype), self.reg)

    def loss_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(loss(x), grad(x))`` from one product ``yx @ w``, bit for bit the same."""
        return _fused(self._yx, as_point(x, self.dim, self.dtype), self.reg)

    def hess(self, x: np.ndarray) -> np.ndarray:
        return logistic_hess(self._yx, as_point(x, self.dim, self.dtype), self.reg)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        return logistic_hvp(self._yx, as_point(x, self.dim, self.dtype),
                            as_point(v, self.dim, self.dtype), self.reg)

    # Optimum ------------------------------------------------------------------------

    @property
    def f_star(self) -> float:  # type: ignore[override]
        """The minimum of the full objective (computed once, then cached)."""
        return self._solution()[1]

    @property
    def w_star(self) -> np.ndarray:
        """The minimiser of the full objective (a copy)."""
        return self._solution()[0].copy()

    def _solution(self) -> tuple[np.ndarray, float]:
        found = _SOLUTIONS.get(self._key)
        if found is None:
            found = _SOLUTIONS[self._key] = _solve(*_objective64(self._yx, self.reg), self.dim)
        return found

    # Initial point and minibatches --------------------------------------------------

    def x0(self, seed: int = 0) -> np.ndarray:
        return (0.01 * x0_rng(seed).standard_normal(self.dim)).astype(self.dtype, copy=False)

    def minibatch(self, rng: np.random.Generator) -> Logistic | LogisticBatchOracle:
        """``batch_size`` distinct rows drawn with ``rng`` (``self`` when full batch)."""
        if not self.stochastic:
            return self
        return LogisticBatchOracle(
            self, rng.choice(self.n_samples, self.batch_size, replace=False)
        )


class LogisticBatchOracle:
    """The logistic objective on the rows ``indices`` (the ``reg`` term unchanged)."""

    def __init__(self, problem: Logistic, indices: np.ndarray) -> None:
        self.problem = problem
        #: The rows of this minibatch, distinct.
        self.indices = indices
        self._yx = problem._yx[indices]

    def _point(self, x: np.ndarray) -> np.ndarray:
        return as_point(x, self.problem.dim, self.problem.dtype)

    def loss(self, x: np.ndarray) -> float:
        return logistic_loss(self._yx, self._point(x), self.problem.reg)

    def grad(self, x: np.ndarray) -> np.ndarray:
        return logistic_grad(self._yx, self._point(x), self.problem.reg)

    def loss_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(loss(x), grad(x))`` on this minibatch from one product, bit for bit the same."""
        return _fused(self._yx, self._point(x), self.problem.reg)

    def hess(self, x: np.ndarray) -> np.ndarray:
        return logistic_hess(self._yx, self._point(x), self.problem.reg)


def _fused(yx: np.ndarray, w: np.ndarray, reg: float) -> tuple[float, np.ndarray]:
    loss, g = logistic_loss_and_grad(yx, w, reg)
    assert g is not None  # need_grad=True returns the gradient
    return loss, g


def _objective64(
    yx: np.ndarray, reg: float
) -> tuple[Callable[[np.ndarray], float], Callable[[np.ndarray], np.ndarray],
           Callable[[np.ndarray], np.ndarray]]:
    """``(loss, grad, hess)`` of the full objective on ``yx``, evaluated in float64.

    float64 data: :func:`logistic_loss`, :func:`logistic_grad`, :func:`logistic_hess`
    themselves.  Other dtypes: the same formulas summed over blocks of
    :data:`ROW_BLOCK` rows, each block converted to float64 (no float64 copy of the
    whole matrix).
    """
    if yx.dtype == np.float64:
        return (lambda w: logistic_loss(yx, w, reg), lambda w: logistic_grad(yx, w, reg),
                lambda w: logistic_hess(yx, w, reg))
    n, m = yx.shape

    def blocks() -> Iterator[np.ndarray]:
        for rows in _row_blocks(n):
            yield yx[rows].astype(np.float64)

    def loss(w: np.ndarray) -> float:
        total = sum(float(np.sum(np.logaddexp(0.0, -(b @ w)))) for b in blocks())
        return total / n + 0.5 * reg * float(w @ w)

    def grad(w: np.ndarray) -> np.ndarray:
        g = np.zeros(m)
        for b in blocks():
            g += b.T @ expit(-(b @ w))
        g *= -1.0 / n
        g += reg * w
        return g

    def hess(w: np.ndarray) -> np.ndarray:
        h = np.zeros((m, m))
        for b in blocks():
            margins = b @ w
            h += (b.T * (expit(margins) * expit(-margins))) @ b
        h += h.T
        h *= 0.5 / n
        h.flat[:: m + 1] += reg
        return h

    return loss, grad, hess


def _solve(
    loss: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], np.ndarray],
    hess: Callable[[np.ndarray], np.ndarray],
    dim: int,
) -> tuple[np.ndarray, float]:
    """Minimise the full objective (float64 callables, see :func:`_objective64`):
    L-BFGS-B, then Newton steps with backtracking.

    Newton stops when the gradient norm is <= 1e-12 or no longer decreases (round-off).
    """
    w0 = np.zeros(dim)
    result = minimize(
        lambda w: (loss(w), grad(w)),
        w0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 2000, "gtol": 1e-10, "ftol": 1e-15},
    )
    w = result.x
    f = loss(w)
    g = grad(w)
    gnorm = float(np.linalg.norm(g))
    for _ in range(50):
        if gnorm <= 1e-12:
            break
        step = np.linalg.solve(hess(w), g)
        t = 1.0
        while True:  # backtracking (Armijo) on the loss; t = 1 near the optimum
            w_new = w - t * step
            f_new = loss(w_new)
            if f_new <= f - 1e-4 * t * float(g @ step) or t < 1e-10:
                break
            t *= 0.5
        g_new = grad(w_new)
        gnorm_new = float(np.linalg.norm(g_new))
        if not gnorm_new < gnorm:
            break
        w, f, g, gnorm = w_new, f_new, g_new, gnorm_new
    return w, f
