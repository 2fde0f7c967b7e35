"""Data of the ``mlp`` family: the datasets, the stratified split and the preprocessing.

Everything here is seeded and deterministic: the same arguments give the same arrays,
bit for bit.  Labels are int64 class indices ``0 .. classes-1``; features are float64.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

DATASETS = ("digits", "spiral")
PREPROCESS = ("none", "center", "standardize")

#: Classes of scikit-learn's digits data (``load_digits`` takes ``n_class`` <= 10).
DIGITS_CLASSES = 10
#: Default size of the spiral data: ``SPIRAL_SAMPLES`` points on ``SPIRAL_CLASSES`` arms.
SPIRAL_SAMPLES = 300
SPIRAL_CLASSES = 3
#: Standard deviation of the angular noise of the spiral, in radians.
SPIRAL_NOISE = 0.2
#: Second word of the split generator's seed, ``np.random.default_rng([seed, SPLIT_STREAM])``,
#: which keeps the split's stream apart from the spiral's data stream ``default_rng(seed)``.
SPLIT_STREAM = 0x5B17


@functools.lru_cache(maxsize=None)
def load_digits(classes: int = DIGITS_CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits, ``X`` (n, 64) float64 in [0, 16] and ``y``.

    ``classes`` keeps the digits ``0 .. classes-1`` (``load_digits(n_class=classes)``);
    all ten give 1797 images.  scikit-learn is an optional dependency, imported here
    only (``pip install optbench[datasets]``); nothing is downloaded.  The arrays are
    read once per process and shared, so they are read-only.
    """
    try:
        from sklearn import datasets
    except ImportError as exc:
        raise ImportError(
            "dataset='digits' needs scikit-learn; install it with "
            "`pip install optbench[datasets]`"
        ) from exc
    x, y = datasets.load_digits(n_class=classes, return_X_y=True)
    x = np.array(x, dtype=np.float64)
    y = np.array(y, dtype=np.int64)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def spiral(n_samples: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The classic K-arm spiral in 2-D: ``X`` (n_samples, 2) float64 and ``y``.

    Arm ``k`` holds ``n_k`` points (``n_samples // classes``, one more for the first
    ``n_samples % classes`` arms) at radii ``t = np.linspace(0, 1, n_k)`` and angles
    ``4 (k + t) + SPIRAL_NOISE * N(0, 1)``, i.e. ``x = (t sin(angle), t cos(angle))``.
    The noise is drawn from ``np.random.default_rng(seed)``, arm after arm.
    """
    rng = np.random.default_rng(seed)
    base, extra = divmod(n_samples, classes)
    xs, ys = [], []
    for k in range(classes):
        n_k = base + (k < extra)
        t = np.linspace(0.0, 1.0, n_k)
        angle = 4.0 * (k + t) + SPIRAL_NOISE * rng.standard_normal(n_k)
        xs.append(np.column_stack([t * np.sin(angle), t * np.cos(angle)]))
        ys.append(np.full(n_k, k, dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def stratified_split(
    y: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified ``(train_indices, val_indices)``, each sorted ascending.

    The validation split has ``n_val = ceil(val_fraction * n)`` rows (scikit-learn's
    ``train_test_split`` rounds its test size the same way).  They are shared among
    the classes in proportion to their sizes by largest remainders: class ``c`` with
    ``n_c`` members gets ``floor(q_c)`` or ``floor(q_c) + 1`` of them, ``q_c = n_val
    n_c / n``, the extra ones going to the largest fractional parts (ties in a seeded
    random order).  Within each class the members are chosen by a seeded permutation.
    The generator is ``np.random.default_rng([seed, SPLIT_STREAM])``.
    """
    rng = np.random.default_rng([seed, SPLIT_STREAM])
    classes, counts = np.unique(y, return_counts=True)
    n_val = int(np.ceil(val_fraction * y.size))
    quota = n_val * counts / y.size
    per_class = np.floor(quota).astype(np.int64)
    tie_break = rng.permutation(classes.size)
    order = np.lexsort((tie_break, -(quota - per_class)))  # largest remainder first
    per_class[order[: n_val - per_class.sum()]] += 1
    train, val = [], []
    for c, k in zip(classes, per_class):
        members = rng.permutation(np.flatnonzero(y == c))
        val.append(members[:k])
        train.append(members[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


class Scaling(NamedTuple):
    """``X -> (X - mean) / scale``, the preprocessing fitted on the training split."""

    mean: np.ndarray
    scale: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.scale


def fit_preprocess(method: str, x_train: np.ndarray) -> Scaling:
    """The :class:`Scaling` of ``method``, from the training features ``x_train`` only.

    ``"none"``: mean 0, scale 1.  ``"center"``: the training mean, scale 1.
    ``"standardize"``: the training mean and the training standard deviation
    (``ddof=0``); a feature constant on the training split (standard deviation 0, such
    as the always-blank corner pixels of digits) gets scale 1, so it is only centered
    and stays 0 on the training split.
    """
    d = x_train.shape[1]
    if method == "none":
        return Scaling(np.zeros(d), np.ones(d))
    mean = x_train.mean(axis=0)
    if method == "center":
        return Scaling(mean, np.ones(d))
    if method == "standardize":
        scale = x_train.std(axis=0)
        scale[scale == 0.0] = 1.0
        return Scaling(mean, scale)
    raise ValueError(f"unknown preprocess {method!r}")  # pragma: no cover - checked by caller
