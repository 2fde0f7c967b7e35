"""Small multilayer perceptrons: softmax classifiers on digits or a toy spiral.

The family of the lecture's neural-network experiments (activation functions, weight
initialisation, preprocessing, batch normalisation) as a :class:`~problems.base.Problem`
over one flat float64 (or float32) parameter vector.  The building blocks are plain functions over
arrays (:func:`activation_forward`, :func:`batchnorm_forward`,
:func:`softmax_cross_entropy` and their backward passes); :class:`MLP` composes them.
"""

from __future__ import annotations

import difflib
import math
import numbers
from typing import Any, Literal, NamedTuple, overload

import numpy as np
from scipy.special import expit

from . import mlp_data
from ._validate import (
    as_point,
    check_bool,
    check_dtype,
    check_int,
    check_real,
    check_seed,
    dtype_params,
    x0_rng,
)
from .base import Problem
from .mlp_data import DATASETS, PREPROCESS

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "maxout")
INITS = ("small", "large", "xavier", "he", "msra")

#: The epsilon of batch normalisation, ``x_hat = (z - mu) / sqrt(var + BN_EPS)``.
BN_EPS = 1e-5
#: Slope of leaky ReLU on the negative side, ``max(LEAKY_SLOPE * z, z)``.
LEAKY_SLOPE = 0.1


def _check_name(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``; else ValueError with the nearest one."""
    if isinstance(value, str) and value in choices:
        return value
    near = difflib.get_close_matches(str(value), choices, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    allowed = ", ".join(repr(c) for c in choices)
    raise ValueError(f"{name} must be one of {allowed}, got {value!r}{hint}")


def _check_hidden(hidden: Any) -> list[int]:
    """Layer widths as a list of ints >= 1 (an int is one hidden layer)."""
    message = f"hidden must be a non-empty list of layer widths >= 1, got {hidden!r}"
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, (bool, np.bool_)):
        hidden = [hidden]
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise ValueError(message)
    widths = list(hidden)
    if not widths:
        raise ValueError(message)
    for w in widths:
        if isinstance(w, (bool, np.bool_)) or not isinstance(w, numbers.Integral) or w < 1:
            raise ValueError(message)
    return [int(w) for w in widths]


# Building blocks ---------------------------------------------------------------------


def init_std(init: str, fan_in: int) -> float:
    """Standard deviation of the initial weights of a layer with ``fan_in`` inputs.

    ``small``: 0.01; ``large``: 1.0; ``xavier``: ``1/sqrt(fan_in)``; ``he`` and
    ``msra`` (two names for one scheme): ``sqrt(2/fan_in)``.
    """
    if init == "small":
        return 0.01
    if init == "large":
        return 1.0
    if init == "xavier":
        return 1.0 / math.sqrt(fan_in)
    if init in ("he", "msra"):
        return math.sqrt(2.0 / fan_in)
    raise ValueError(f"unknown init {init!r}")  # pragma: no cover - checked by MLP


def activation_forward(name: str, z: np.ndarray, alpha: float = 1.0) -> tuple[np.ndarray, Any]:
    """``h = f(z)`` row-wise, and what :func:`activation_backward` needs.

    ``sigmoid`` ``1/(1+exp(-z))``, ``tanh``, ``relu`` ``max(0, z)``, ``leaky_relu``
    ``max(0.1 z, z)``, ``elu`` ``z`` for ``z >= 0`` else ``alpha (exp(z) - 1)``, and
    ``maxout``: ``z`` holds two pieces side by side, ``z = [z1 | z2]`` with ``w``
    columns each, and ``h = max(z1, z2)`` has ``w`` columns.
    """
    if name == "relu":
        h = np.maximum(z, 0.0)
        return h, h
    if name == "tanh":
        h = np.tanh(z)
        return h, h
    if name == "sigmoid":
        h = expit(z)
        return h, h
    if name == "leaky_relu":
        return np.maximum(z, LEAKY_SLOPE * z), z
    if name == "elu":
        h = np.where(z >= 0.0, z, alpha * np.expm1(np.minimum(z, 0.0)))
        return h, (z, h)
    if name == "maxout":
        w = z.shape[1] // 2
        first = z[:, :w] >= z[:, w:]
        return np.where(first, z[:, :w], z[:, w:]), first
    raise ValueError(f"unknown activation {name!r}")  # pragma: no cover - checked by MLP


def activation_backward(name: str, dh: np.ndarray, cache: Any, alpha: float = 1.0) -> np.ndarray:
    """``dL/dz`` from ``dL/dh``; ``dh`` may be overwritten.

    Where ``f`` has a kink the one-sided derivative of the right is used: relu has
    derivative 0 at 0, leaky relu 0.1, elu 1; maxout routes to ``z1`` on a tie.
    """
    if name == "relu":
        dh *= cache > 0.0
        return dh
    if name == "tanh":
        dh *= 1.0 - cache * cache
        return dh
    if name == "sigmoid":
        dh *= cache * (1.0 - cache)
        return dh
    if name == "leaky_relu":
        dh *= np.where(cache > 0.0, 1.0, LEAKY_SLOPE)
        return dh
    if name == "elu":
        z, h = cache
        dh *= np.where(z >= 0.0, 1.0, h + alpha)
        return dh
    if name == "maxout":
        first = cache
        w = first.shape[1]
        dz = np.empty((dh.shape[0], 2 * w), dtype=dh.dtype)
        np.multiply(dh, first, out=dz[:, :w])
        np.multiply(dh, ~first, out=dz[:, w:])
        return dz
    raise ValueError(f"unknown activation {name!r}")  # pragma: no cover


class BatchNormCache(NamedTuple):
    """What the backward pass of a training-mode batch norm layer needs."""

    x_hat: np.ndarray
    inv_std: np.ndarray
    gamma: np.ndarray


def batchnorm_forward(
    z: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    mean: np.ndarray | None = None,
    var: np.ndarray | None = None,
    eps: float = BN_EPS,
) -> tuple[np.ndarray, BatchNormCache, np.ndarray, np.ndarray]:
    """``y = gamma * (z - mean) / sqrt(var + eps) + beta`` per column of ``z`` (N, D).

    Training mode (``mean`` and ``var`` None): the batch's own statistics,
    ``mean_j = 1/N sum_i z_ij`` and the biased ``var_j = 1/N sum_i (z_ij - mean_j)^2``.
    Evaluation mode: the given ``mean`` and ``var``.  Returns ``(y, cache, mean, var)``;
    the cache serves :func:`batchnorm_backward` in training mode only.
    """
    if mean is None:
        mean = z.mean(axis=0)
        centered = z - mean
        var = np.mean(centered * centered, axis=0)
    elif var is None:
        raise TypeError("batchnorm_forward: evaluation mode needs both mean and var")
    else:
        centered = z - mean
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = centered
    x_hat *= inv_std
    y = x_hat * gamma
    y += beta
    return y, BatchNormCache(x_hat, inv_std, gamma), mean, var


def batchnorm_backward(
    dy: np.ndarray,
    cache: BatchNormCache,
    dgamma: np.ndarray | None = None,
    dbeta: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact backward pass of training-mode batch norm: ``(dz, dgamma, dbeta)``.

    With the batch statistics depending on ``z``::

        dbeta  = sum_i dy_i                  dgamma = sum_i dy_i * x_hat_i
        dx_hat = gamma * dy
        dz     = inv_std * (dx_hat - mean_i(dx_hat) - x_hat * mean_i(dx_hat * x_hat))

    ``dgamma`` and ``dbeta``, where given, receive the results in place.
    """
    x_hat, inv_std, gamma = cache
    dbeta = np.sum(dy, axis=0, out=dbeta)
    dgamma = np.sum(dy * x_hat, axis=0, out=dgamma)
    dx_hat = dy * gamma
    dz = x_hat * np.mean(dx_hat * x_hat, axis=0)
    np.subtract(dx_hat, dz, out=dz)
    dz -= dx_hat.mean(axis=0)
    dz *= inv_std
    return dz, dgamma, dbeta


def softmax_cross_entropy(
    logits: np.ndarray, y: np.ndarray, grad: bool = True
) -> tuple[float, np.ndarray | None]:
    """Mean cross-entropy of softmax(logits) against labels ``y``, and its gradient.

    Computed stably through the log-sum-exp of the logits shifted by their row
    maximum, so any finite logits give a finite loss.  The gradient with respect to
    the logits is ``(softmax(logits) - onehot(y)) / N`` (None when ``grad`` is False).
    ``logits`` is left unchanged.
    """
    n = logits.shape[0]
    rows = np.arange(n)
    shifted = logits - logits.max(axis=1, keepdims=True)
    picked = shifted[rows, y]
    exp = np.exp(shifted, out=shifted)
    total = exp.sum(axis=1)
    loss = float((np.log(total) - picked).sum()) / n
    if not grad:
        return loss, None
    exp /= total[:, None]  # the probabilities
    exp[rows, y] -= 1.0
    exp /= n
    return loss, exp


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for any finite logits."""
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


# Parameter layout --------------------------------------------------------------------


class Block(NamedTuple):
    """One parameter array inside the flat vector: ``x[start:stop].reshape(shape)``."""

    layer: int
    name: str
    start: int
    stop: int
    shape: tuple[int, ...]


class Layer(NamedTuple):
    """The parameters of one affine layer, as views into the flat vector.

    ``W`` is (fan_in, fan_out) so that a layer maps ``A -> A @ W + b``; ``gamma`` and
    ``beta`` are the batch norm parameters (None without batch norm and for the
    output layer).
    """

    W: np.ndarray
    b: np.ndarray
    gamma: np.ndarray | None = None
    beta: np.ndarray | None = None


class _Forward(NamedTuple):
    """A forward pass: logits, the inputs of every affine layer and the caches."""

    logits: np.ndarray
    inputs: list[np.ndarray]  # inputs[l] is what layer l multiplies (inputs[0] = X)
    pre: list[np.ndarray]  # the activation's input per hidden layer
    act_caches: list[Any]
    bn_caches: list[BatchNormCache | None]
    stats: list[tuple[np.ndarray, np.ndarray]] | None  # batch norm (mean, var) used


# The problem -------------------------------------------------------------------------


class MLP(Problem):
    r"""Softmax classifier ``x -> [affine -> (batch norm) -> activation] * L -> affine``.

    The objective on a set of rows ``(X, y)`` is the mean softmax cross-entropy of the
    logits plus an L2 penalty on the weights::

        f(x) = 1/N sum_i -log softmax(net(X_i))_{y_i} + reg/2 sum_l |W_l|^2

    The penalty covers the weight matrices only: not the biases and not the batch norm
    ``gamma``/``beta``.  The full objective :meth:`loss` is this on the whole training
    split (in training mode, see below); :meth:`minibatch` gives it on ``batch_size``
    rows drawn without replacement.

    Parameters
    ----------
    dataset : {"digits", "spiral"}, default "digits"
        ``"digits"``: scikit-learn's bundled 8x8 digits (1797 images, 64 features, 10
        classes; scikit-learn is optional: ``pip install optbench[datasets]``).
        ``"spiral"``: a seeded K-arm spiral in 2-D (:func:`problems.mlp_data.spiral`).
    hidden : list of int, default (64,)
        Widths of the hidden layers, at least one, each >= 1 (an int is one layer).
        ``params`` records it as a list.
    activation : {"sigmoid", "tanh", "relu", "leaky_relu", "elu", "maxout"}, default "relu"
        Applied after every hidden affine (or batch norm) layer.  ``leaky_relu`` is
        ``max(0.1 z, z)``; ``elu`` uses ``alpha`` (and is differentiable at 0 only for
        ``alpha = 1``; relu, leaky_relu and maxout have kinks too, where the gradient
        is a one-sided derivative, see :func:`activation_backward`); a ``maxout`` unit is
        ``max(W1 a + b1, W2 a + b2)``, so a maxout layer has two affine pieces and
        twice the parameters (``W`` is (fan_in, 2 width): piece 1 in the first
        ``width`` columns, piece 2 in the last).
    init : {"small", "large", "xavier", "he", "msra"}, default "he"
        Weights of every affine layer (the output layer too) drawn as
        ``std * N(0, 1)`` with ``std`` = 0.01, 1.0, ``1/sqrt(fan_in)``, ``sqrt(2/fan_in)``,
        ``sqrt(2/fan_in)`` (see :func:`init_std`); biases 0, ``gamma`` 1, ``beta`` 0.
    batchnorm : bool, default False
        A batch norm layer after each hidden affine layer, before the activation
        (``eps = 1e-5``, learnable ``gamma``, ``beta``; for maxout it normalises each
        of the two pieces of every unit); see the Notes for its two modes.
    preprocess : {"none", "center", "standardize"}, default "standardize"
        Feature scaling fitted on the training split only and applied to both splits
        (:func:`problems.mlp_data.fit_preprocess`): ``center`` subtracts the training
        mean, ``standardize`` also divides by the training standard deviation; a
        feature constant on the training split is only centered (it stays 0 there).
    reg : float, default 1e-4
        L2 penalty on the weights, finite and >= 0.
    batch_size : int or None, default 64
        Rows per minibatch, between 1 (2 with batch norm) and the training split's
        size.  ``None`` or the training size means full batch: ``stochastic`` is False
        and :meth:`minibatch` returns the problem itself.
    seed : int, default 0
        Seeds the data: the train/validation split (and the spiral's noise).  The
        initial weights come from the run seed of :meth:`x0`.
    val_fraction : float, default 0.25
        Share of the rows in the validation split, in (0, 1): ``ceil(val_fraction *
        n)`` rows, shared among the classes in proportion to their sizes
        (:func:`problems.mlp_data.stratified_split`); digits by default: 1347 training
        and 450 validation rows.
    n_samples : int or None, default None
        Spiral: number of points (default 300), at least 2 per class.  Digits: fixed by
        the data; leave None (or pass the data's own size).
    classes : int or None, default None
        Number of classes, >= 2.  Spiral: arms (default 3).  Digits: keep the digits
        ``0 .. classes-1`` (default all 10).
    alpha : float, default 1.0
        The ELU's ``alpha``, > 0 (recorded, unused, for other activations).
    dtype : {"float64", "float32"}, default "float64"
        Precision of the features and of the computation (keyword only).  The data
        are loaded and preprocessed in float64, then rounded; ``x0`` (the float64
        draws rounded), ``grad``, the activations and the logits are ``dtype``, a
        point is converted to ``dtype``; ``loss`` and :meth:`metrics` return Python
        floats.  ``params`` has a ``"dtype"`` entry only when it is not float64.

    Attributes
    ----------
    X_train, y_train, X_val, y_val : ndarray
        The preprocessed features (of ``dtype``, read-only) and int64 labels of each
        split.
    train_rows, val_rows : ndarray
        The rows of the dataset in each split (sorted), a partition of all rows.
    scaling : problems.mlp_data.Scaling
        The preprocessing ``(X - mean) / scale``, fitted on the training split.
    layout : list of Block
        Where every parameter array sits in the flat vector.
    widths : list of int
        Layer sizes ``[n_features, *hidden, n_classes]``.

    Notes
    -----
    **Parameter layout.**  One flat vector (of ``dtype``) of length ``dim``; layer after layer
    (the hidden layers, then the output layer), each stores ``W`` (fan_in, fan_out),
    row-major, then ``b`` (fan_out,), then with batch norm ``gamma`` (fan_out,) and
    ``beta`` (fan_out,), where fan_out is the width, twice the width for maxout, and
    the number of classes for the output layer (which has no batch norm).
    :meth:`layers` returns the arrays as views into the vector.  Under batch norm the
    bias ``b`` is redundant (the batch mean removes it): it is kept for a uniform
    layout and its gradient is zero up to round-off.

    **Batch norm modes.**  A Problem is a pure function of ``x``, so there are no
    running averages.  *Training mode* -- :meth:`loss`, :meth:`grad` and the minibatch
    oracles -- normalises with the statistics of the rows at hand (the whole training
    split for the full objective, the batch for a minibatch), with the exact backward
    pass through them.  *Evaluation mode* -- :meth:`metrics`, :meth:`predict_proba`,
    :meth:`accuracy`, :meth:`forward_activations` and :meth:`pre_activations` (unless
    asked for training mode) -- normalises with the population statistics of the
    full training split computed from ``x``: layer after layer, the
    per-feature mean and biased (1/N) variance of the pre-normalisation values of all
    training rows, the earlier layers also in evaluation mode.  This is the limit that
    running averages estimate.  So the evaluation-mode output on the training split
    equals the training-mode output of the full objective, and the evaluation of one
    row does not depend on the other rows evaluated with it.

    :meth:`minibatch` draws ``rng.choice(n_train, batch_size, replace=False)``.
    ``x0(seed)`` draws the weights, layer after layer, from
    ``np.random.default_rng([seed, 0x5EED])``.  ``has_hess`` is False and ``f_star``
    None (the minimum is unknown).

    Examples
    --------
    >>> p = MLP(dataset="spiral", hidden=(8,), batch_size=None)
    >>> p.widths, p.dim
    ([2, 8, 3], 51)
    >>> sorted(p.metrics(p.x0(0)))
    ['train_acc', 'val_acc', 'val_loss']
    """

    name = "mlp"
    has_hess = False
    f_star = None

    def __init__(
        self,
        dataset: str = "digits",
        hidden: Any = (64,),
        activation: str = "relu",
        init: str = "he",
        batchnorm: bool = False,
        preprocess: str = "standardize",
        reg: float = 1e-4,
        batch_size: int | None = 64,
        seed: int = 0,
        *,
        val_fraction: float = 0.25,
        n_samples: int | None = None,
        classes: int | None = None,
        alpha: float = 1.0,
        dtype: str = "float64",
    ) -> None:
        dataset = _check_name("dataset", dataset, DATASETS)
        hidden = _check_hidden(hidden)
        activation = _check_name("activation", activation, ACTIVATIONS)
        init = _check_name("init", init, INITS)
        batchnorm = check_bool("batchnorm", batchnorm)
        preprocess = _check_name("preprocess", preprocess, PREPROCESS)
        reg = check_real("reg", reg, low=0.0)
        seed = check_seed(seed)
        val_fraction = check_real("val_fraction", val_fraction, low=0.0, strict=True)
        if val_fraction >= 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
        alpha = check_real("alpha", alpha, low=0.0, strict=True)
        if n_samples is not None:
            n_samples = check_int("n_samples", n_samples, low=1)
        if classes is not None:
            classes = check_int("classes", classes, low=2)
        self.dtype = dtype_ = check_dtype(dtype)

        x, y = self._load(dataset, n_samples, classes, seed)
        n_samples, classes = x.shape[0], int(y.max()) + 1
        train, val = mlp_data.stratified_split(y, val_fraction, seed)
        if train.size == 0 or val.size == 0:
            raise ValueError(
                f"val_fraction={val_fraction!r} leaves an empty split of the "
                f"{n_samples} samples; choose a value further from 0 and 1"
            )
        self.train_rows, self.val_rows = train, val
        self.scaling = mlp_data.fit_preprocess(preprocess, x[train])
        self.X_train = self.scaling.apply(x[train]).astype(dtype_, copy=False)
        self.X_val = self.scaling.apply(x[val]).astype(dtype_, copy=False)
        self.y_train = y[train]
        self.y_val = y[val]
        for a in (self.X_train, self.X_val, self.y_train, self.y_val):
            a.flags.writeable = False
        self.n_train, self.n_val = train.size, val.size
        self.n_features = x.shape[1]
        self.n_classes = classes

        if batch_size is not None:
            low = 2 if batchnorm else 1
            batch_size = check_int("batch_size", batch_size, low=low)
            if batch_size > self.n_train:
                raise ValueError(
                    f"batch_size must be at most the training split's {self.n_train} "
                    f"rows (or None for full batch), got {batch_size!r}"
                )

        self.hidden = hidden
        self.activation = activation
        self.init = init
        self.batchnorm = batchnorm
        self.reg = reg
        self.alpha = alpha
        self.batch_size = batch_size
        self.stochastic = batch_size is not None and batch_size < self.n_train
        self.widths = [self.n_features, *hidden, classes]
        self.layout = self._build_layout()
        self.dim = self.layout[-1].stop
        # (start, stop, shape) of W, b[, gamma, beta] per layer, for layers()
        self._layer_blocks = [
            [(blk.start, blk.stop, blk.shape) for blk in self.layout if blk.layer == layer]
            for layer in range(len(self.widths) - 1)
        ]
        self._weight_slices = [(blk.start, blk.stop) for blk in self.layout if blk.name == "W"]
        self.params = {
            "dataset": dataset,
            "hidden": hidden,
            "activation": activation,
            "init": init,
            "batchnorm": batchnorm,
            "preprocess": preprocess,
            "reg": reg,
            "batch_size": batch_size,
            "seed": seed,
            "val_fraction": val_fraction,
            "n_samples": n_samples,
            "classes": classes,
            "alpha": alpha,
            **dtype_params(dtype_),
        }

    @staticmethod
    def estimated_bytes(
        dataset: str = "digits",
        hidden: Any = (64,),
        activation: str = "relu",
        init: str = "he",
        batchnorm: bool = False,
        preprocess: str = "standardize",
        reg: float = 1e-4,
        batch_size: int | None = 64,
        seed: int = 0,
        *,
        val_fraction: float = 0.25,
        n_samples: int | None = None,
        classes: int | None = None,
        alpha: float = 1.0,
        dtype: str = "float64",
    ) -> int:
        """Upper-ish estimate of the peak bytes of building the problem plus one oracle
        call (full loss and grad, :meth:`metrics`, or a minibatch's grad), computed
        without loading or generating the data: the sizes are known constants (digits:
        1797 x 64, 10 classes of known sizes; spiral: ``n_samples`` x 2).

        With ``n`` rows of ``d`` features (``n_train`` of them in the training split),
        ``C`` classes, ``b`` the batch size (0 for full batch), ``fo_l`` the fan-out of
        hidden layer ``l`` (twice its width for maxout) and ``w_l`` its width, in
        float64 numbers (times 8)::

            construction = [1797 * 65] + 4 n d + 4 n
            held         = n d [+ n d + n] + 3 n
            call         = 3 dim + b (d + 1) + n forward + n_train backward
            forward      = sum_l ((1 + batchnorm) fo_l + w_l) + 2 C
            backward     = max_l (2 + 2 batchnorm) fo_l + C
            estimate     = 8 max(construction, held + call)

        The bracketed terms are for digits: scikit-learn's loader parses the whole
        1797 x 65 file, and :func:`problems.mlp_data.load_digits` keeps ``X`` and ``y``
        for the rest of the process.  ``construction`` also covers the raw data and
        the preprocessing's temporaries; ``held`` the two splits, the labels and the
        split's row indices.  ``forward`` are the per-row activations a forward pass
        keeps (pre-activations, batch norm's normalised copy, outputs, logits),
        counted for all ``n`` rows since :meth:`metrics` (called by the harness at
        every recorded step) runs over both splits at once; ``backward`` the per-row
        temporaries of the backward pass over the training split.  The one-time
        import of scikit-learn is not counted.

        ``dtype="float32"``: ``held + call`` counts the splits' features and every
        term of ``call`` at 4 bytes (labels, row indices and the digits cache stay 8);
        ``construction`` stays float64 (loading and preprocessing) plus the rounded
        copy of the features, ``4 n d``.

        ``init``, ``preprocess``, ``reg``, ``seed`` and ``alpha`` do not change the
        size and are not checked; invalid ``dataset``, ``hidden``, ``activation``,
        ``batchnorm``, ``batch_size``, ``val_fraction``, ``n_samples``, ``classes``
        or ``dtype`` raise the constructor's ValueError (not the
        constraints that need the data's split: ``batch_size`` at most the training
        rows, non-empty splits, at least two spiral points per class).

        >>> MLP.estimated_bytes()  # digits, one hidden layer of 64 relu units
        5661088
        """
        dataset = _check_name("dataset", dataset, DATASETS)
        hidden = _check_hidden(hidden)
        activation = _check_name("activation", activation, ACTIVATIONS)
        batchnorm = check_bool("batchnorm", batchnorm)
        val_fraction = check_real("val_fraction", val_fraction, low=0.0, strict=True)
        if val_fraction >= 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
        if n_samples is not None:
            n_samples = check_int("n_samples", n_samples, low=1)
        if classes is not None:
            classes = check_int("classes", classes, low=2)
        if batch_size is not None:
            batch_size = check_int("batch_size", batch_size, low=2 if batchnorm else 1)
        itemsize = check_dtype(dtype).itemsize

        if dataset == "spiral":
            c = mlp_data.SPIRAL_CLASSES if classes is None else classes
            n = mlp_data.SPIRAL_SAMPLES if n_samples is None else n_samples
            d, loader, cached = 2, 0, 0
        else:
            c = mlp_data.DIGITS_CLASSES if classes is None else classes
            if c > mlp_data.DIGITS_CLASSES:
                raise ValueError(
                    f"classes must be an integer in [2, {mlp_data.DIGITS_CLASSES}] for "
                    f"dataset='digits', got {classes!r}"
                )
            # images per digit 0..9 in scikit-learn's digits (1797 in all)
            n = sum((178, 182, 177, 183, 181, 182, 181, 179, 174, 180)[:c])
            d = 64
            loader = 1797 * 65  # the whole file, parsed before the classes are kept
            cached = n * d + n  # load_digits keeps X and y for the whole process

        widths = [d, *hidden, c]
        fan_outs = [2 * w if activation == "maxout" else w for w in hidden] + [c]
        dim = sum(fi * fo + fo for fi, fo in zip(widths[:-1], fan_outs))
        if batchnorm:
            dim += 2 * sum(fan_outs[:-1])
        forward = sum((2 if batchnorm else 1) * fo + w for fo, w in zip(fan_outs, hidden))
        forward += 2 * c
        backward = max((4 if batchnorm else 2) * fo for fo in fan_outs[:-1]) + c
        b = 0 if batch_size is None else batch_size
        n_train = n - math.ceil(val_fraction * n)

        construction = loader + 4 * n * d + 4 * n
        held = n * d + cached + 3 * n
        call = 3 * dim + b * (d + 1) + n * forward + n_train * backward
        if itemsize == 8:
            return 8 * max(construction, held + call)
        return max(8 * construction + itemsize * n * d,
                   8 * (cached + 3 * n) + itemsize * (n * d + call))

    @staticmethod
    def _load(
        dataset: str, n_samples: int | None, classes: int | None, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if dataset == "spiral":
            classes = mlp_data.SPIRAL_CLASSES if classes is None else classes
            n_samples = mlp_data.SPIRAL_SAMPLES if n_samples is None else n_samples
            if n_samples < 2 * classes:
                raise ValueError(
                    f"n_samples must be at least 2 per class ({2 * classes} for "
                    f"classes={classes}), got {n_samples!r}"
                )
            return mlp_data.spiral(n_samples, classes, seed)
        if classes is not None and classes > mlp_data.DIGITS_CLASSES:
            raise ValueError(
                f"classes must be an integer in [2, {mlp_data.DIGITS_CLASSES}] for "
                f"dataset='digits', got {classes!r}"
            )
        x, y = mlp_data.load_digits(mlp_data.DIGITS_CLASSES if classes is None else classes)
        if n_samples is not None and n_samples != x.shape[0]:
            raise ValueError(
                f"n_samples is fixed by dataset='digits' to {x.shape[0]}, got "
                f"{n_samples!r}; leave it at None"
            )
        return x, y

    def _build_layout(self) -> list[Block]:
        blocks: list[Block] = []
        start = 0

        def add(layer: int, name: str, shape: tuple[int, ...]) -> None:
            nonlocal start
            stop = start + math.prod(shape)
            blocks.append(Block(layer, name, start, stop, shape))
            start = stop

        n_hidden = len(self.hidden)
        for layer, (fan_in, width) in enumerate(zip(self.widths[:-1], self.widths[1:])):
            is_hidden = layer < n_hidden
            fan_out = 2 * width if is_hidden and self.activation == "maxout" else width
            add(layer, "W", (fan_in, fan_out))
            add(layer, "b", (fan_out,))
            if is_hidden and self.batchnorm:
                add(layer, "gamma", (fan_out,))
                add(layer, "beta", (fan_out,))
        return blocks

    # Parameters ---------------------------------------------------------------------

    def layers(self, x: np.ndarray) -> list[Layer]:
        """The parameters of every affine layer (hidden layers, then output) of ``x``.

        The arrays are views into ``x`` when ``x`` is a vector of the problem's dtype
        and shape ``(dim,)`` (writing to them changes ``x``); otherwise into its copy
        in that dtype.
        """
        x = as_point(x, self.dim, self.dtype)
        return [
            Layer(*(x[start:stop].reshape(shape) for start, stop, shape in blocks))
            for blocks in self._layer_blocks
        ]

    def x0(self, seed: int = 0) -> np.ndarray:
        rng = x0_rng(seed)
        x = np.zeros(self.dim, dtype=self.dtype)
        for layer in self.layers(x):
            layer.W[...] = init_std(self.init, layer.W.shape[0]) * rng.standard_normal(
                layer.W.shape
            )
            if layer.gamma is not None:
                layer.gamma[...] = 1.0
        return x

    def penalty(self, x: np.ndarray) -> float:
        """The L2 term ``reg/2 sum_l |W_l|^2`` of the objective at ``x``."""
        x = as_point(x, self.dim, self.dtype)
        total = 0.0
        for start, stop in self._weight_slices:
            w = x[start:stop]
            total += float(w @ w)
        return 0.5 * self.reg * total

    # Forward and backward -----------------------------------------------------------

    def _forward(
        self,
        layers: list[Layer],
        X: np.ndarray,
        stats: list[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> _Forward:
        """Training mode when ``stats`` is None (batch statistics), else evaluation."""
        inputs, pre, act_caches, bn_caches = [X], [], [], []
        used: list[tuple[np.ndarray, np.ndarray]] = []
        a = X
        for i, layer in enumerate(layers[:-1]):
            z = a @ layer.W
            z += layer.b
            cache = None
            if self.batchnorm:
                # with batch norm every hidden layer has gamma and beta
                assert layer.gamma is not None and layer.beta is not None
                mean, var = (None, None) if stats is None else stats[i]
                z, cache, mean, var = batchnorm_forward(z, layer.gamma, layer.beta, mean, var)
                used.append((mean, var))
            a, act_cache = activation_forward(self.activation, z, self.alpha)
            pre.append(z)
            act_caches.append(act_cache)
            bn_caches.append(cache)
            inputs.append(a)
        out = layers[-1]
        logits = a @ out.W
        logits += out.b
        return _Forward(logits, inputs, pre, act_caches, bn_caches,
                        used if self.batchnorm else None)

    @overload
    def _value_and_grad(
        self, x: np.ndarray, X: np.ndarray, y: np.ndarray, need_grad: Literal[True]
    ) -> tuple[float, np.ndarray]: ...

    @overload
    def _value_and_grad(
        self, x: np.ndarray, X: np.ndarray, y: np.ndarray, need_grad: Literal[False]
    ) -> tuple[float, None]: ...

    def _value_and_grad(
        self, x: np.ndarray, X: np.ndarray, y: np.ndarray, need_grad: bool
    ) -> tuple[float, np.ndarray | None]:
        """The training-mode objective on the rows ``(X, y)`` and its gradient (None
        unless ``need_grad``)."""
        x = as_point(x, self.dim, self.dtype)
        layers = self.layers(x)
        fwd = self._forward(layers, X)
        data_loss, d = softmax_cross_entropy(fwd.logits, y, grad=need_grad)
        value = data_loss + self.penalty(x)
        if not need_grad:
            return value, None
        assert d is not None  # softmax_cross_entropy(grad=True) returns the gradient
        g = np.empty(self.dim, dtype=self.dtype)  # every entry is written below
        grads = self.layers(g)
        last = len(layers) - 1
        for i in range(last, -1, -1):
            layer, gl = layers[i], grads[i]
            if i < last:
                d = activation_backward(self.activation, d, fwd.act_caches[i], self.alpha)
                if self.batchnorm:
                    bn_cache = fwd.bn_caches[i]
                    assert bn_cache is not None  # set for every hidden layer with batch norm
                    d, _, _ = batchnorm_backward(d, bn_cache, gl.gamma, gl.beta)
            gW = np.matmul(fwd.inputs[i].T, d, out=gl.W)
            if self.reg:
                gW += self.reg * layer.W
            np.sum(d, axis=0, out=gl.b)
            if i > 0:
                d = d @ layer.W.T
        return value, g

    def loss(self, x: np.ndarray) -> float:
        return self._value_and_grad(x, self.X_train, self.y_train, False)[0]

    def grad(self, x: np.ndarray) -> np.ndarray:
        return self._value_and_grad(x, self.X_train, self.y_train, True)[1]

    def loss_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(loss(x), grad(x))`` from one forward and one backward pass (bit for bit)."""
        return self._value_and_grad(x, self.X_train, self.y_train, True)

    def minibatch(self, rng: np.random.Generator) -> MLP | MLPBatchOracle:
        """``batch_size`` distinct training rows drawn with ``rng`` (``self`` when full batch)."""
        if not self.stochastic:
            return self
        return MLPBatchOracle(self, rng.choice(self.n_train, self.batch_size, replace=False))

    # Evaluation mode ----------------------------------------------------------------

    def _evaluate(self, x: np.ndarray, X: np.ndarray | None) -> _Forward:
        """Evaluation-mode forward pass on ``X`` (the training split when None)."""
        layers = self.layers(x)
        if X is None:  # the training split: its population statistics are its own
            return self._forward(layers, self.X_train)
        stats = self._forward(layers, self.X_train).stats if self.batchnorm else None
        return self._forward(layers, X, stats)

    def _features(self, X: Any) -> np.ndarray | None:
        if X is None:
            return None
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X must have shape (n, {self.n_features}) (preprocessed features), "
                f"got shape {X.shape}"
            )
        return X

    def _split(self, split: str) -> tuple[np.ndarray | None, np.ndarray]:
        split = _check_name("split", split, ("train", "val"))
        return (None, self.y_train) if split == "train" else (self.X_val, self.y_val)

    def predict_proba(self, x: np.ndarray, split: str = "val") -> np.ndarray:
        """Evaluation-mode class probabilities (n_rows, n_classes) of ``"val"`` or ``"train"``.

        The softmax of the logits; an ensemble averages these over members.
        """
        X, _ = self._split(split)
        return softmax(self._evaluate(x, X).logits)

    def accuracy(self, x: np.ndarray, split: str = "val") -> float:
        """Evaluation-mode share of the rows of ``split`` whose arg-max logit is the label."""
        X, y = self._split(split)
        return float(np.mean(self._evaluate(x, X).logits.argmax(axis=1) == y))

    def metrics(self, x: np.ndarray) -> dict[str, float]:
        """``train_acc``, ``val_loss`` (mean cross-entropy, no penalty) and ``val_acc``.

        All in evaluation mode on the full splits; the harness adds them to the trace.
        """
        layers = self.layers(x)
        train = self._forward(layers, self.X_train)
        val = self._forward(layers, self.X_val, train.stats)
        val_loss, _ = softmax_cross_entropy(val.logits, self.y_val, grad=False)
        return {
            "train_acc": float(np.mean(train.logits.argmax(axis=1) == self.y_train)),
            "val_loss": val_loss,
            "val_acc": float(np.mean(val.logits.argmax(axis=1) == self.y_val)),
        }

    def forward_activations(
        self, x: np.ndarray, X: Any = None, *, training: bool = False
    ) -> list[np.ndarray]:
        """Post-activation outputs of every hidden layer, each (n_rows, width).

        ``X`` holds preprocessed features (like ``X_train`` or ``X_val``; default the
        training split).  Evaluation mode by default; ``training=True`` normalises with
        the statistics of ``X`` itself, as one batch (it matters with batch norm only).
        """
        return self._hidden(x, X, training)[1]

    def pre_activations(
        self, x: np.ndarray, X: Any = None, *, training: bool = False
    ) -> list[np.ndarray]:
        """The inputs of every hidden layer's activation (after batch norm where present).

        For maxout each array has the two pieces side by side, (n_rows, 2 width).
        Arguments as in :meth:`forward_activations`.
        """
        return self._hidden(x, X, training)[0]

    def _hidden(self, x: np.ndarray, X: Any, training: bool) -> tuple[list, list]:
        X = self._features(X)
        if training:
            fwd = self._forward(self.layers(x), self.X_train if X is None else X)
        else:
            fwd = self._evaluate(x, X)
        return fwd.pre, fwd.inputs[1:]


class MLPBatchOracle:
    """The training-mode objective on the training rows ``indices`` (penalty unchanged)."""

    def __init__(self, problem: MLP, indices: np.ndarray) -> None:
        self.problem = problem
        #: The training rows of this minibatch, distinct.
        self.indices = indices
        self._X = problem.X_train[indices]
        self._y = problem.y_train[indices]

    def loss(self, x: np.ndarray) -> float:
        return self.problem._value_and_grad(x, self._X, self._y, False)[0]

    def grad(self, x: np.ndarray) -> np.ndarray:
        return self.problem._value_and_grad(x, self._X, self._y, True)[1]

    def loss_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(loss(x), grad(x))`` on this minibatch from one forward pass (bit for bit)."""
        return self.problem._value_and_grad(x, self._X, self._y, True)

    def hess(self, x: np.ndarray) -> np.ndarray:
        raise ValueError("problem 'mlp' has no Hessian (has_hess is False)")
