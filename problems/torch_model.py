"""Nets written as PyTorch modules, as optbench problems: ``mlp_torch``, ``cnn``,
``transformer`` and the generic :class:`TorchModelProblem`.

torch is optional (``pip install 'optbench[torch]'``): this module never imports it at
its top, so ``import problems`` stays torch-free; torch is imported when a problem of
this module is built, by :func:`_torch`, which raises ImportError naming the extra.

Conventions
-----------
Flat parameters.  The point ``x`` is one flat numpy vector of the problem's dtype
(float64 by default, float32 allowed).  The module's own ``torch.nn.Parameter`` objects
are never used to evaluate: every call builds, with :func:`torch.func.functional_call`,
a dict of views into one flat tensor and runs the module with them.  That flat tensor
*is* ``x``'s memory (``torch.from_numpy(x)``, no copy) when ``x`` is a writable,
C-contiguous vector of the problem's dtype, as the harness's iterates are; any other
``x`` (another dtype, strided, read-only, a list) is converted once, by one copy.
The module's parameters take ``named_parameters()`` order, each one row-major in its
own shape, except the names given as ``transposed`` (2-D parameters stored as their
transpose, so that ``mlp_torch`` keeps :class:`~problems.mlp.MLP`'s ``(fan_in,
fan_out)`` weights on torch's ``(out, in)`` :class:`torch.nn.Linear`).

Objective.  ``f(x) = mean loss_fn(module(X), y) + reg/2 sum_W |W|^2`` over the training
rows, where the penalty covers the *weights* only -- the parameters with two or more
dimensions (linear and convolution weights) -- and not the biases, as ``mlp`` does.
The module is evaluated in ``eval()`` mode (no dropout; a batch norm layer uses its
stored running statistics), so ``f`` is a pure function of ``x``.  ``grad``,
``loss_and_grad`` (one forward, one backward) and ``hvp`` (double backward of the full
objective) come from autograd; there is no dense Hessian (``has_hess`` is False).

Determinism.  Every evaluation first makes sure torch runs on one thread
(``torch.set_num_threads(1)``) with ``torch.use_deterministic_algorithms(True)``.  Both
settings are process-wide: they are set at the first construction or evaluation that
finds them otherwise and are never restored (as the torch optimizer bridge does with
the thread count); when they already hold, the check costs two function calls.  So the
same ``x`` gives the same bits at every call, and ``loss_and_grad(x)`` equals
``(loss(x), grad(x))`` bit for bit.  Building a module draws from torch's global
generator; the families do it inside ``torch.random.fork_rng``, so building a problem
leaves torch's global random state as it was.
"""

from __future__ import annotations

import copy
import math
import numbers
from typing import Any, Callable, Collection, NamedTuple

import numpy as np

from . import mlp_data
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
from .mlp import ACTIVATIONS, LEAKY_SLOPE, MLP

#: How to install the optional dependency, quoted in every error about a missing torch.
INSTALL = "pip install 'optbench[torch]'"

#: The activations ``mlp_torch`` supports: those of ``mlp`` that torch has as a layer.
TORCH_ACTIVATIONS = tuple(a for a in ACTIVATIONS if a != "maxout")

#: ``init`` of :class:`TorchModelProblem`: the module's own initialisation, or He.
INITS = ("module", "he")


def _torch() -> Any:
    """The ``torch`` module, or ImportError saying how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            f"this problem is a PyTorch model and needs torch; install it with `{INSTALL}`"
        ) from exc
    return torch


def _deterministic(torch: Any) -> None:
    """One thread and deterministic algorithms, process-wide (see the module notes)."""
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    if not torch.are_deterministic_algorithms_enabled():
        torch.use_deterministic_algorithms(True)


class Slot(NamedTuple):
    """Where one module parameter sits in the flat vector: ``x[start:stop]``, stored
    row-major with shape ``stored`` (the parameter's shape, or its transpose)."""

    name: str
    start: int
    stop: int
    shape: tuple[int, ...]
    transposed: bool

    @property
    def stored(self) -> tuple[int, ...]:
        return self.shape[::-1] if self.transposed else self.shape


class TorchModelProblem(Problem):
    r"""A ``torch.nn.Module`` classifier (or regressor) as a Problem over a flat vector.

    ``f(x) = mean_i loss_fn(module_x(X)_i, y_i) + reg/2 sum_W |W|^2`` over the training
    rows, the penalty on the parameters with two or more dimensions only (see the
    module notes for the layout, the memory sharing and determinism).

    Parameters
    ----------
    module : torch.nn.Module
        The net, already constructed.  The problem keeps a deep copy in ``dtype``, in
        ``eval()`` mode; the module passed in is left unchanged.
    X_train, y_train, X_val, y_val : array or tensor
        Inputs (first axis: rows) and targets (int64 class labels for the default
        loss) of the training and validation splits; copied into tensors of ``dtype``
        (the targets keep an integer type).
    loss_fn : callable, default ``torch.nn.functional.cross_entropy``
        ``loss_fn(outputs, targets) -> scalar tensor``, the *mean* over the rows.
    batch_size : int or None, default None
        Rows per minibatch, in ``[1, n_train]``; None or ``n_train`` is full batch
        (``stochastic`` False, :meth:`minibatch` returns the problem).
    reg : float, default 0.0
        The L2 penalty on the weights, finite and >= 0.
    seed : int, default 0
        Recorded in ``params``: the seed the caller drew its data with.
    dtype : {"float64", "float32"}, default "float64"
        Precision of the parameters, the inputs and the computation.
    init : {"module", "he"} or callable, default "module"
        ``x0(seed)``: ``"module"`` re-runs every submodule's ``reset_parameters()``
        (on a copy) after ``torch.manual_seed(seed)``, inside ``fork_rng``;
        ``"he"`` draws every weight as ``sqrt(2 / fan_in) N(0, 1)`` (``fan_in`` the
        product of its shape but the first, after transposition for ``transposed``
        names), biases 0, from ``np.random.default_rng([seed, 0x5EED])`` in flat
        order; a callable ``init(seed) -> array`` of shape ``(dim,)`` is used as is.
    transposed : collection of str, default ()
        Names of 2-D parameters stored transposed in the flat vector.
    name : str, default "torch_model"
    params : dict, optional
        JSON-able description of the problem, merged into ``params``.

    Attributes
    ----------
    dim, params, stochastic, has_hess (False), f_star (None), dtype
        As every Problem.
    layout : list of Slot
        Where every module parameter sits in the flat vector.
    n_train, n_val : int
        Rows of each split.
    """

    has_hess = False
    f_star = None

    def __init__(
        self,
        module: Any,
        X_train: Any,
        y_train: Any,
        X_val: Any,
        y_val: Any,
        *,
        loss_fn: Callable[..., Any] | None = None,
        batch_size: int | None = None,
        reg: float = 0.0,
        seed: int = 0,
        dtype: Any = "float64",
        init: str | Callable[[int], np.ndarray] = "module",
        transposed: Collection[str] = (),
        name: str = "torch_model",
        params: dict[str, Any] | None = None,
    ) -> None:
        torch = _torch()
        if not isinstance(module, torch.nn.Module):
            raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        if loss_fn is not None and not callable(loss_fn):
            raise ValueError(f"loss_fn must be callable or None, got {loss_fn!r}")
        if not callable(init):
            init = check_choice("init", init, INITS)
        self.reg = check_real("reg", reg, low=0.0)
        seed = check_seed(seed)
        self.dtype = check_dtype(dtype)
        self.name = name
        self._torch_dtype = getattr(torch, self.dtype.name)
        _deterministic(torch)

        self._X_train = self._inputs(torch, X_train, "X_train")
        self._X_val = self._inputs(torch, X_val, "X_val")
        self._y_train = self._targets(torch, y_train, self._X_train, "y_train")
        self._y_val = self._targets(torch, y_val, self._X_val, "y_val")
        self.n_train, self.n_val = len(self._X_train), len(self._X_val)
        if self.n_train == 0 or self.n_val == 0:
            raise ValueError("X_train and X_val must each have at least one row")
        if batch_size is not None:
            batch_size = check_int("batch_size", batch_size, low=1, high=self.n_train)
        self.batch_size = batch_size
        self.stochastic = batch_size is not None and batch_size < self.n_train

        self._module = copy.deepcopy(module).to(dtype=self._torch_dtype).eval()
        self._loss_fn = loss_fn if loss_fn is not None else torch.nn.functional.cross_entropy
        self.layout = self._build_layout(dict(self._module.named_parameters()), transposed)
        self.dim = self.layout[-1].stop if self.layout else 0
        if self.dim == 0:
            raise ValueError("module must have at least one parameter")
        self._weights = [s for s in self.layout if len(s.shape) >= 2]
        self._init = init
        self.params = {
            **(params or {}),
            "batch_size": batch_size,
            "reg": self.reg,
            "seed": seed,
            **dtype_params(self.dtype),
        }

    # Construction helpers ------------------------------------------------------------

    def _inputs(self, torch: Any, a: Any, label: str) -> Any:
        t = a.detach() if isinstance(a, torch.Tensor) else torch.tensor(np.array(a))
        if t.ndim < 1:
            raise ValueError(f"{label} must have a first axis of rows, got a scalar")
        return t.to(dtype=self._torch_dtype, copy=True)

    @staticmethod
    def _targets(torch: Any, a: Any, X: Any, label: str) -> Any:
        t = a.detach() if isinstance(a, torch.Tensor) else torch.tensor(np.array(a))
        if t.ndim < 1 or len(t) != len(X):
            raise ValueError(f"{label} must have one entry per row ({len(X)}), got shape "
                             f"{tuple(t.shape)}")
        return t.clone()

    @staticmethod
    def _build_layout(named: dict[str, Any], transposed: Collection[str]) -> list[Slot]:
        unknown = sorted(set(transposed) - set(named))
        if unknown:
            raise ValueError(f"transposed names unknown parameters {unknown}; the module "
                             f"has {sorted(named)}")
        layout, start = [], 0
        for key, p in named.items():
            shape = tuple(int(s) for s in p.shape)
            flip = key in transposed
            if flip and len(shape) != 2:
                raise ValueError(f"transposed: parameter {key!r} has shape {shape}, not 2-D")
            stop = start + math.prod(shape)
            layout.append(Slot(key, start, stop, shape, flip))
            start = stop
        return layout

    # Parameters ----------------------------------------------------------------------

    def _flat(self, x: np.ndarray, requires_grad: bool) -> Any:
        """``x`` as a flat tensor: ``x``'s own memory where possible (see the notes)."""
        torch = _torch()
        x = as_point(x, self.dim, self.dtype)
        if not (x.flags.c_contiguous and x.flags.writeable):
            x = np.array(x, order="C")
        flat = torch.from_numpy(x)
        return flat.requires_grad_(True) if requires_grad else flat

    def _views(self, flat: Any) -> dict[str, Any]:
        views = {}
        for s in self.layout:
            v = flat[s.start:s.stop].view(s.stored)
            views[s.name] = v.t() if s.transposed else v
        return views

    def x0(self, seed: int = 0) -> np.ndarray:
        init = self._init
        if callable(init):
            x = np.array(init(seed), dtype=self.dtype)
            if x.shape != (self.dim,):
                raise ValueError(f"init({seed!r}) must return shape ({self.dim},), got {x.shape}")
            return x
        if init == "he":
            rng = x0_rng(seed)
            x = np.zeros(self.dim, dtype=self.dtype)
            for s in self._weights:
                std = math.sqrt(2.0 / math.prod(s.stored[1:]))
                x[s.start:s.stop] = std * rng.standard_normal(s.stop - s.start)
            return x
        torch = _torch()
        module = copy.deepcopy(self._module)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(check_seed(seed))
            for m in module.modules():
                reset = getattr(m, "reset_parameters", None)
                if callable(reset):
                    reset()
        x = np.empty(self.dim, dtype=self.dtype)
        named = dict(module.named_parameters())
        for s in self.layout:
            p = named[s.name].detach()
            x[s.start:s.stop] = (p.t() if s.transposed else p).reshape(-1).numpy()
        return x

    # The objective -------------------------------------------------------------------

    def _objective(self, flat: Any, X: Any, y: Any) -> Any:
        """The objective on the rows ``(X, y)`` as a 0-d tensor (with its graph)."""
        torch = _torch()
        out = torch.func.functional_call(self._module, self._views(flat), (X,))
        value = self._loss_fn(out, y)
        if self.reg:
            total = sum(torch.dot(flat[s.start:s.stop], flat[s.start:s.stop])
                        for s in self._weights)
            value = value + 0.5 * self.reg * total
        return value

    def _value(self, x: np.ndarray, X: Any, y: Any) -> float:
        torch = _torch()
        _deterministic(torch)
        with torch.no_grad():
            return float(self._objective(self._flat(x, False), X, y))

    def _value_and_grad(self, x: np.ndarray, X: Any, y: Any) -> tuple[float, np.ndarray]:
        torch = _torch()
        _deterministic(torch)
        with torch.enable_grad():
            flat = self._flat(x, True)
            value = self._objective(flat, X, y)
            (g,) = torch.autograd.grad(value, flat)
        return float(value.detach()), g.numpy()

    def _hvp(self, x: np.ndarray, v: np.ndarray, X: Any, y: Any) -> np.ndarray:
        torch = _torch()
        _deterministic(torch)
        v_t = torch.from_numpy(np.array(as_point(v, self.dim, self.dtype)))
        with torch.enable_grad():
            flat = self._flat(x, True)
            (g,) = torch.autograd.grad(self._objective(flat, X, y), flat, create_graph=True)
            (hv,) = torch.autograd.grad(g, flat, grad_outputs=v_t)
        return hv.numpy()

    def loss(self, x: np.ndarray) -> float:
        return self._value(x, self._X_train, self._y_train)

    def grad(self, x: np.ndarray) -> np.ndarray:
        return self._value_and_grad(x, self._X_train, self._y_train)[1]

    def loss_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(loss(x), grad(x))`` from one forward and one backward pass (bit for bit)."""
        return self._value_and_grad(x, self._X_train, self._y_train)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The Hessian of the full objective at ``x`` times ``v``, by double backward."""
        return self._hvp(x, v, self._X_train, self._y_train)

    def hess(self, x: np.ndarray) -> np.ndarray:
        raise ValueError(f"problem {self.name!r} has no dense Hessian (has_hess is False); "
                         "use hvp(x, v)")

    def minibatch(self, rng: np.random.Generator) -> TorchModelProblem | TorchBatchOracle:
        """``batch_size`` distinct training rows drawn with ``rng`` (``self`` when full
        batch): ``rng.choice(n_train, batch_size, replace=False)``, as ``mlp``."""
        if not self.stochastic:
            return self
        return TorchBatchOracle(self, rng.choice(self.n_train, self.batch_size, replace=False))

    def metrics(self, x: np.ndarray) -> dict[str, float]:
        """``train_acc``, ``val_loss`` (mean ``loss_fn``, no penalty) and ``val_acc``.

        The accuracies are the share of rows whose arg-max output is the label (for
        class logits of shape ``(n, classes)``).
        """
        torch = _torch()
        _deterministic(torch)
        with torch.no_grad():
            views = self._views(self._flat(x, False))
            train = torch.func.functional_call(self._module, views, (self._X_train,))
            val = torch.func.functional_call(self._module, views, (self._X_val,))
            return {
                "train_acc": float((train.argmax(dim=1) == self._y_train).double().mean()),
                "val_loss": float(self._loss_fn(val, self._y_val)),
                "val_acc": float((val.argmax(dim=1) == self._y_val).double().mean()),
            }


class TorchBatchOracle:
    """The objective of a :class:`TorchModelProblem` on the training rows ``indices``
    (penalty unchanged): ``loss``, ``grad``, ``loss_and_grad``, ``hvp``."""

    def __init__(self, problem: TorchModelProblem, indices: np.ndarray) -> None:
        torch = _torch()
        self.problem = problem
        #: The training rows of this minibatch, distinct.
        self.indices = indices
        rows = torch.from_numpy(np.asarray(indices, dtype=np.int64))
        self._X = problem._X_train.index_select(0, rows)
        self._y = problem._y_train.index_select(0, rows)

    def loss(self, x: np.ndarray) -> float:
        return self.problem._value(x, self._X, self._y)

    def grad(self, x: np.ndarray) -> np.ndarray:
        return self.problem._value_and_grad(x, self._X, self._y)[1]

    def loss_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(loss(x), grad(x))`` on this minibatch, one forward and one backward."""
        return self.problem._value_and_grad(x, self._X, self._y)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The Hessian of this minibatch's objective at ``x`` times ``v``."""
        return self.problem._hvp(x, v, self._X, self._y)

    def hess(self, x: np.ndarray) -> np.ndarray:
        return self.problem.hess(x)


# Built-in families ---------------------------------------------------------------------


class MLPTorch(TorchModelProblem):
    """The ``mlp`` family's net written in PyTorch: the same data, layout, init and loss.

    For the same parameters and the same ``x``, ``mlp_torch`` and ``mlp`` give the
    same loss and gradient up to round-off (about 1e-15 relative in float64), the same
    ``x0(seed)`` bit for bit and the same minibatches for the same generator state.
    The parameters and their defaults are :class:`~problems.mlp.MLP`'s (``reg=1e-4``,
    ``batch_size=64``...), and ``params`` is the ``mlp`` problem's.  The hidden layers
    are ``torch.nn.Linear`` with their weights stored transposed in the flat vector
    (``W`` of shape ``(fan_in, fan_out)``, row-major, then ``b``, layer after layer).

    Not supported: ``activation="maxout"`` (torch has no such layer) and
    ``batchnorm=True`` (the ``mlp`` family's batch norm is a pure function of ``x``
    with full-split statistics; torch's keeps running averages); both raise
    ValueError.  At a kink the one-sided derivatives are torch's: they agree with
    ``mlp``'s for relu (0) and leaky relu (0.1) at 0; ELU's at exactly 0 is ``alpha``
    in torch and 1 in ``mlp`` (they differ only where ``alpha != 1``).
    """

    name = "mlp_torch"

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
        if check_bool("batchnorm", batchnorm):
            raise ValueError("batchnorm=True is not supported by mlp_torch (use the mlp "
                             "family); mlp_torch takes batchnorm=False only")
        if activation == "maxout":
            raise ValueError("activation='maxout' is not supported by mlp_torch (torch has "
                             f"no maxout layer; use mlp); supported: {TORCH_ACTIVATIONS}")
        torch = _torch()
        ref = MLP(dataset, hidden, activation, init, False, preprocess, reg, batch_size, seed,
                  val_fraction=val_fraction, n_samples=n_samples, classes=classes,
                  alpha=alpha, dtype=dtype)
        #: The numpy ``mlp`` problem of the same parameters (data, init, reference).
        self.reference = ref
        nn = torch.nn
        layers: list[Any] = []
        with torch.random.fork_rng(devices=[]):  # nn.Linear draws its own init
            for i, (fan_in, fan_out) in enumerate(zip(ref.widths[:-1], ref.widths[1:])):
                if i > 0:
                    layers.append(_activation_layer(nn, ref.activation, ref.alpha))
                layers.append(nn.Linear(fan_in, fan_out))
            module = nn.Sequential(*layers)
        weights = [key for key, p in module.named_parameters() if p.ndim == 2]
        super().__init__(
            module, ref.X_train, ref.y_train, ref.X_val, ref.y_val,
            batch_size=ref.batch_size, reg=ref.reg, seed=seed, dtype=ref.dtype,
            init=ref.x0, transposed=weights, name=self.name,
        )
        self.params = dict(ref.params)


def _activation_layer(nn: Any, activation: str, alpha: float) -> Any:
    if activation == "sigmoid":
        return nn.Sigmoid()
    if activation == "tanh":
        return nn.Tanh()
    if activation == "relu":
        return nn.ReLU()
    if activation == "leaky_relu":
        return nn.LeakyReLU(LEAKY_SLOPE)
    if activation == "elu":
        return nn.ELU(alpha)
    raise ValueError(f"activation must be one of {TORCH_ACTIVATIONS}, got {activation!r}")


def _check_channels(channels: Any) -> list[int]:
    message = f"channels must be two integers >= 1, got {channels!r}"
    if isinstance(channels, (str, bytes)) or not hasattr(channels, "__iter__"):
        raise ValueError(message)
    values = list(channels)
    if len(values) != 2 or any(
        isinstance(c, (bool, np.bool_)) or not isinstance(c, numbers.Integral) or c < 1
        for c in values
    ):
        raise ValueError(message)
    return [int(c) for c in values]


class CNN(TorchModelProblem):
    """A small LeNet-style convolutional net on scikit-learn's 8x8 digits.

    ``conv3x3(1 -> c1, pad 1) -> relu -> maxpool 2 -> conv3x3(c1 -> c2, pad 1) -> relu
    -> maxpool 2 -> linear(4 c2 -> 10)``, images of shape ``(N, 1, 8, 8)``, softmax
    cross-entropy plus ``reg/2`` times the squared weights (not the biases).  The data
    are ``mlp``'s digits (:mod:`problems.mlp_data`): the same stratified split for the
    same ``seed`` and ``val_fraction`` (1347 training, 450 validation images) and the
    same per-pixel ``preprocess`` fitted on the training split.  ``x0(seed)`` is He:
    ``sqrt(2 / fan_in) N(0, 1)`` weights (``fan_in = in_channels * 9`` for a
    convolution), zero biases, drawn in flat order from
    ``np.random.default_rng([seed, 0x5EED])``.

    Parameters
    ----------
    batch_size : int or None, default 64
        Rows per minibatch, in [1, 1347]; None (or 1347) is full batch.
    channels : pair of int, default (8, 16)
        Output channels of the two convolutions.
    reg : float, default 0.0
        L2 penalty on the weights, finite and >= 0.
    seed : int, default 0
        Seeds the train/validation split.
    preprocess : {"none", "center", "standardize"}, default "standardize"
        As ``mlp``'s (keyword only).
    val_fraction : float, default 0.25
        As ``mlp``'s (keyword only).
    dtype : {"float64", "float32"}, default "float64"
    """

    name = "cnn"

    def __init__(
        self,
        batch_size: int | None = 64,
        channels: Any = (8, 16),
        reg: float = 0.0,
        seed: int = 0,
        *,
        preprocess: str = "standardize",
        val_fraction: float = 0.25,
        dtype: str = "float64",
    ) -> None:
        c1, c2 = _check_channels(channels)
        preprocess = check_choice("preprocess", preprocess, mlp_data.PREPROCESS)
        val_fraction = check_real("val_fraction", val_fraction, low=0.0, strict=True)
        if val_fraction >= 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
        seed = check_seed(seed)
        torch = _torch()
        x, y = mlp_data.load_digits(mlp_data.DIGITS_CLASSES)
        train, val = mlp_data.stratified_split(y, val_fraction, seed)
        scaling = mlp_data.fit_preprocess(preprocess, x[train])
        images = [scaling.apply(x[rows]).reshape(-1, 1, 8, 8) for rows in (train, val)]
        nn = torch.nn
        with torch.random.fork_rng(devices=[]):  # the layers draw their own init
            module = nn.Sequential(
                nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(), nn.Linear(4 * c2, mlp_data.DIGITS_CLASSES),
            )
        super().__init__(
            module, images[0], y[train], images[1], y[val], batch_size=batch_size, reg=reg,
            seed=seed, dtype=dtype, init="he", name=self.name,
            params={"channels": [c1, c2], "preprocess": preprocess,
                    "val_fraction": val_fraction},
        )


#: Largest ``p`` of ``transformer`` (all p * p pairs are built in memory, 3 int64 tokens each).
MAX_P = 1000


def grokking_split(p: int, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The pair indices ``i = a * p + b`` of the training and validation splits of
    ``transformer``: ``np.random.default_rng(seed).permutation(p * p)``, its first
    ``round(train_fraction * p * p)`` entries training, the rest validation, each sorted.

    >>> train, val = grokking_split(5, 0.3, 0)
    >>> len(train), len(val), sorted(set(train) | set(val)) == list(range(25))
    (8, 17, True)
    """
    perm = np.random.default_rng(seed).permutation(p * p)
    n_train = int(round(train_fraction * p * p))
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


def _grokking_net(torch: Any, p: int, d_model: int, heads: int, layers: int,
                  norm_first: bool) -> Any:
    """The ``transformer`` family's module (built with torch's global generator)."""
    nn = torch.nn
    Module: Any = nn.Module  # a base class of type Any for mypy (torch is not imported here)
    head_dim = d_model // heads
    scale = 1.0 / math.sqrt(head_dim)

    class SelfAttention(Module):
        """Multi-head self-attention written out (matmul, softmax, matmul): the same
        code with and without autograd, and twice differentiable (``hvp``), which
        ``scaled_dot_product_attention``'s CPU flash kernel is not."""

        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(d_model, 3 * d_model)
            self.out = nn.Linear(d_model, d_model)

        def forward(self, h: Any, last: bool) -> Any:
            """``h`` ``(N, T, d_model)`` to ``(N, T, d_model)``, or to the last
            position's ``(N, 1, d_model)`` only with ``last`` (its query only)."""
            n, t, _ = h.shape
            q, k, v = self.qkv(h).view(n, t, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
            if last:
                q, t = q[:, :, -1:], 1
            weights = torch.softmax((q @ k.transpose(-2, -1)) * scale, dim=-1)
            return self.out((weights @ v).transpose(1, 2).reshape(n, t, d_model))

    class Block(Module):
        """Self-attention then a relu MLP (width 4 d_model), each with a residual and
        a LayerNorm before (``norm_first``) or after the residual sum."""

        def __init__(self) -> None:
            super().__init__()
            self.norm1 = nn.LayerNorm(d_model)
            self.attn = SelfAttention()
            self.norm2 = nn.LayerNorm(d_model)
            self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.ReLU(),
                                     nn.Linear(4 * d_model, d_model))

        def forward(self, h: Any, last: bool = False) -> Any:
            """Every position, or the last one only (``last``: the final block, whose
            other positions the output does not read)."""
            rest = h[:, -1:] if last else h
            if norm_first:
                rest = rest + self.attn(self.norm1(h), last)
                return rest + self.mlp(self.norm2(rest))
            rest = self.norm1(rest + self.attn(h, last))
            return self.norm2(rest + self.mlp(rest))

    class Net(Module):
        """Tokens ``(N, 3)`` (int64) to the logits ``(N, p)`` at the last position."""

        def __init__(self) -> None:
            super().__init__()
            self.tokens = nn.Embedding(p + 1, d_model)
            self.positions = nn.Embedding(3, d_model)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
            self.unembed = nn.Linear(d_model, p, bias=False)

        def forward(self, tokens: Any) -> Any:
            h = self.tokens(tokens) + self.positions.weight
            for i, block in enumerate(self.blocks):
                h = block(h, last=i == len(self.blocks) - 1)
            return self.unembed(self.norm(h[:, -1]))

    return Net()


class Transformer(TorchModelProblem):
    """A small transformer on addition modulo ``p``: the "grokking" task.

    Every pair ``(a, b)``, ``0 <= a, b < p``, is the token sequence ``[a, b, =]``
    (``=`` is token ``p``); the target is ``(a + b) mod p``, predicted from the last
    position: softmax cross-entropy over ``p`` classes plus ``reg/2`` times the squared
    weights (the embeddings and the linear weights, not the biases nor the LayerNorm
    gains and shifts).  The ``p * p`` pairs are generated, not downloaded, and split
    by :func:`grokking_split` (a seeded permutation, ``round(train_fraction p^2)``
    training pairs).  With a small training share, weight decay (``reg``) decides
    whether the net generalises to the validation pairs long after it fits the
    training ones.

    The net: token and position embeddings (``d_model``), ``layers`` blocks of
    ``heads``-head self-attention (no mask) and a relu MLP of width ``4 d_model``,
    each with a residual and a LayerNorm (pre-norm by default, then a final
    LayerNorm), and a linear unembedding without bias to ``p`` logits.  The attention
    is written out with matmuls (see the module notes: autograd's double backward for
    ``hvp``, the same code with and without gradients); the last block computes the
    last position only, the one the output reads (the same function, a third of the
    work of a 1-block net).  At the defaults (19104 parameters) a full-batch
    ``loss`` takes about 10 ms and ``loss_and_grad`` about 40 ms in float64 on one
    thread, a 512-row minibatch's ``loss_and_grad`` about 6 ms.  ``x0(seed)`` is torch's
    own initialisation (``init="module"`` of :class:`TorchModelProblem`): embeddings
    ``N(0, 1)``, linear layers torch's uniform, LayerNorm gains 1 and shifts 0.  The
    token inputs stay int64.

    Parameters
    ----------
    p : int, default 97
        The modulus, in ``[2, 1000]``: ``p * p`` pairs, ``p`` classes.
    d_model : int, default 32
        Width of the embeddings and the residual stream, >= 1.
    heads : int, default 4
        Attention heads, >= 1, dividing ``d_model``.
    layers : int, default 1
        Transformer blocks, >= 1.
    train_fraction : float, default 0.3
        Share of the pairs in the training split, in (0, 1), such that both splits
        have at least one pair (2823 of 9409 pairs at the defaults).
    batch_size : int or None, default 512
        Rows per minibatch, in ``[1, n_train]``; None (or ``n_train``) is full batch.
    reg : float, default 0.0
        L2 penalty (weight decay) on the weights, finite and >= 0.
    seed : int, default 0
        Seeds the split (and the module's construction, inside ``fork_rng``).
    dtype : {"float64", "float32"}, default "float64"
    norm_first : bool, default True
        Pre-norm blocks (and a final LayerNorm); False for post-norm (keyword only).
    """

    name = "transformer"

    def __init__(
        self,
        p: int = 97,
        d_model: int = 32,
        heads: int = 4,
        layers: int = 1,
        train_fraction: float = 0.3,
        batch_size: int | None = 512,
        reg: float = 0.0,
        seed: int = 0,
        dtype: str = "float64",
        *,
        norm_first: bool = True,
    ) -> None:
        p = check_int("p", p, low=2, high=MAX_P)
        d_model = check_int("d_model", d_model, low=1)
        heads = check_int("heads", heads, low=1)
        if d_model % heads:
            raise ValueError(f"heads must divide d_model ({d_model}), got {heads}")
        layers = check_int("layers", layers, low=1)
        train_fraction = check_real("train_fraction", train_fraction, low=0.0, strict=True)
        n_train = int(round(train_fraction * p * p))
        if train_fraction >= 1.0 or not 1 <= n_train < p * p:
            raise ValueError(f"train_fraction must be in (0, 1) and leave at least one "
                             f"pair in each split of the {p * p} pairs, got {train_fraction!r}")
        norm_first = check_bool("norm_first", norm_first)
        seed = check_seed(seed)
        torch = _torch()
        train, val = grokking_split(p, train_fraction, seed)
        splits = []
        for rows in (train, val):
            a, b = np.divmod(rows, p)
            splits.append((np.stack([a, b, np.full_like(a, p)], axis=1), (a + b) % p))
        with torch.random.fork_rng(devices=[]):  # the layers draw their own init
            torch.manual_seed(seed)
            module = _grokking_net(torch, p, d_model, heads, layers, norm_first)
        super().__init__(
            module, splits[0][0], splits[0][1], splits[1][0], splits[1][1],
            batch_size=batch_size, reg=reg, seed=seed, dtype=dtype, init="module",
            name=self.name,
            params={"p": p, "d_model": d_model, "heads": heads, "layers": layers,
                    "train_fraction": train_fraction, "norm_first": norm_first},
        )

    def _inputs(self, torch: Any, a: Any, label: str) -> Any:
        """The token sequences stay int64 (embedding indices), whatever ``dtype``."""
        return torch.as_tensor(np.asarray(a), dtype=torch.int64).clone()
