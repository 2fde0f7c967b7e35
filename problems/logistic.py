"""L2-regularised binary logistic regression on synthetic or bundled data."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from ._validate import (
    as_point,
    check_bool,
    check_choice,
    check_int,
    check_real,
    check_seed,
    x0_rng,
)
from .base import Problem

DATASETS = ("synthetic", "breast_cancer")

_DEFAULT_N_SAMPLES = 1000
_DEFAULT_N_FEATURES = 20

# (minimiser, minimum) of the full objective, keyed by the parameters that define it
# (every parameter but batch_size), shared by all instances in the process.
_SOLUTIONS: dict[tuple[Any, ...], tuple[np.ndarray, float]] = {}


# The objective on a set of rows -----------------------------------------------------
#
# ``yx`` holds the rows ``y_i x_i`` (labels folded into the features), so the margins
# are ``yx @ w`` and, since ``y_i^2 = 1``, the Hessian is ``yx^T D yx``.


def logistic_loss(yx: np.ndarray, w: np.ndarray, reg: float) -> float:
    """``mean_i log(1 + exp(-m_i)) + reg/2 |w|^2`` with margins ``m = yx @ w``."""
    return float(np.mean(np.logaddexp(0.0, -(yx @ w)))) + 0.5 * reg * float(w @ w)


def logistic_grad(yx: np.ndarray, w: np.ndarray, reg: float) -> np.ndarray:
    """``-yx^T sigma(-m) / n + reg w`` with ``sigma = scipy.special.expit``."""
    s = expit(-(yx @ w))
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


# Data --------------------------------------------------------------------------------


def synthetic_data(
    n_samples: int, n_features: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded features ``X`` (n_samples, n_features) and labels ``y`` in {-1, +1}.

    With ``rng = np.random.default_rng(seed)``: standard normal latent features ``Z``;
    feature ``j`` is ``X_j = scale_j Z_j + offset_j`` with
    ``scale = np.geomspace(0.1, 10, n_features)`` (two decades) and offsets of 2 to 8
    units with a random sign, so the raw features are off-center and badly scaled.
    Labels follow a logistic model, ``P(y = +1) = expit(Z @ v + b)``, with a seeded
    ``v`` of norm 3 and ``b ~ N(0, 0.5^2)``; in the raw features this is the logistic
    model with weights ``v / scale`` and intercept ``b - offset @ (v / scale)``.
    """
    rng = np.random.default_rng(seed)
    scale = np.geomspace(0.1, 10.0, n_features)
    offset = rng.uniform(2.0, 8.0, n_features) * rng.choice([-1.0, 1.0], n_features)
    z = rng.standard_normal((n_samples, n_features))
    v = rng.standard_normal(n_features)
    v *= 3.0 / np.linalg.norm(v)
    b = 0.5 * rng.standard_normal()
    y = np.where(rng.random(n_samples) < expit(z @ v + b), 1.0, -1.0)
    return z * scale + offset, y


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
    """Each column centered and scaled to unit variance (constant columns only centered)."""
    std = x.std(axis=0)
    std[std == 0.0] = 1.0
    return (x - x.mean(axis=0)) / std


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

    Attributes
    ----------
    X : ndarray (n_samples, dim)
        The rows ``x_i``, intercept column last.
    y : ndarray (n_samples,)
        The labels, -1.0 or +1.0.
    f_star : float
        The minimum of the full objective, computed on first access by L-BFGS-B then
        Newton steps to a gradient norm of about 1e-10 or below, and cached for every
        instance with the same parameters (``batch_size`` aside).

    Notes
    -----
    :meth:`minibatch` draws ``batch_size`` distinct rows,
    ``rng.choice(n_samples, batch_size, replace=False)``, and returns a
    :class:`LogisticBatchOracle`: the same formula with the mean over those rows (the
    ``reg`` term unchanged).  ``x0(seed) = 0.01 * np.random.default_rng([seed, 0x5EED])
    .standard_normal(dim)``: a small perturbation of zero, different for every seed.
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
    ) -> None:
        dataset = check_choice("dataset", dataset, DATASETS)
        n_samples = check_int("n_samples", n_samples, low=1)
        n_features = check_int("n_features", n_features, low=1)
        reg = check_real("reg", reg, low=0.0, strict=True)
        if batch_size is not None:
            batch_size = check_int("batch_size", batch_size, low=1)
        standardize = check_bool("standardize", standardize)
        seed = check_seed(seed)

        if dataset == "synthetic":
            x, y = synthetic_data(n_samples, n_features, seed)
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

        self.X = np.hstack([x, np.ones((n_samples, 1))])
        self.y = y
        self._yx = self.X * y[:, None]
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
        }
        self._key = (
            dataset,
            n_samples,
            n_features,
            reg,
            standardize,
            seed if dataset == "synthetic" else None,
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

        ``dataset="breast_cancer"`` uses the data's own 569 x 30 (``n_samples`` and
        ``n_features`` are then ignored here; the one-time import of scikit-learn is
        not counted).  ``reg``, ``standardize`` and ``seed`` do not change the size and
        are not checked; invalid ``dataset``, ``n_samples``, ``n_features`` or
        ``batch_size`` raise the constructor's ValueError.

        >>> Logistic.estimated_bytes(100_000, 99, batch_size=None)  # 3 * 80 MB and change
        244228736
        """
        dataset = check_choice("dataset", dataset, DATASETS)
        n = check_int("n_samples", n_samples, low=1)
        d = check_int("n_features", n_features, low=1)
        if batch_size is not None:
            batch_size = check_int("batch_size", batch_size, low=1)
        if dataset == "breast_cancer":
            n, d = 569, 30  # load_breast_cancer's shape
        m = d + 1
        b = 0 if batch_size is None else min(batch_size, n)
        return 8 * (3 * n * m + 2 * m * m + 5 * n + b * m + 4 * m) + 65536

    # The full objective -------------------------------------------------------------

    def loss(self, x: np.ndarray) -> float:
        return logistic_loss(self._yx, as_point(x, self.dim), self.reg)

    def grad(self, x: np.ndarray) -> np.ndarray:
        return logistic_grad(self._yx, as_point(x, self.dim), self.reg)

    def hess(self, x: np.ndarray) -> np.ndarray:
        return logistic_hess(self._yx, as_point(x, self.dim), self.reg)

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
            found = _SOLUTIONS[self._key] = _solve(self._yx, self.reg)
        return found

    # Initial point and minibatches --------------------------------------------------

    def x0(self, seed: int = 0) -> np.ndarray:
        return 0.01 * x0_rng(seed).standard_normal(self.dim)

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

    def loss(self, x: np.ndarray) -> float:
        return logistic_loss(self._yx, as_point(x, self.problem.dim), self.problem.reg)

    def grad(self, x: np.ndarray) -> np.ndarray:
        return logistic_grad(self._yx, as_point(x, self.problem.dim), self.problem.reg)

    def hess(self, x: np.ndarray) -> np.ndarray:
        return logistic_hess(self._yx, as_point(x, self.problem.dim), self.problem.reg)


def _solve(yx: np.ndarray, reg: float) -> tuple[np.ndarray, float]:
    """Minimise the full objective: L-BFGS-B, then Newton steps with backtracking.

    Newton stops when the gradient norm is <= 1e-12 or no longer decreases (round-off).
    """
    w0 = np.zeros(yx.shape[1])
    result = minimize(
        lambda w: (logistic_loss(yx, w, reg), logistic_grad(yx, w, reg)),
        w0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 2000, "gtol": 1e-10, "ftol": 1e-15},
    )
    w = result.x
    f = logistic_loss(yx, w, reg)
    g = logistic_grad(yx, w, reg)
    gnorm = float(np.linalg.norm(g))
    for _ in range(50):
        if gnorm <= 1e-12:
            break
        step = np.linalg.solve(logistic_hess(yx, w, reg), g)
        t = 1.0
        while True:  # backtracking (Armijo) on the loss; t = 1 near the optimum
            w_new = w - t * step
            f_new = logistic_loss(yx, w_new, reg)
            if f_new <= f - 1e-4 * t * float(g @ step) or t < 1e-10:
                break
            t *= 0.5
        g_new = logistic_grad(yx, w_new, reg)
        gnorm_new = float(np.linalg.norm(g_new))
        if not gnorm_new < gnorm:
            break
        w, f, g, gnorm = w_new, f_new, g_new, gnorm_new
    return w, f
