r"""Fused update kernels (numba) for the first-order and adaptive rules, and the policy that picks them.

Every rule of :mod:`optimizers.first_order` and :mod:`optimizers.adaptive` has two
implementations of one step:

- the **numpy reference** (``_step_numpy`` in those modules): the lecture's formula
  written with in-place numpy ufuncs, one pass over memory per operation;
- a **fused kernel** (this module): one loop over the elements that reads each array
  once and writes each once, compiled by numba with
  ``njit(cache=True, nogil=True, error_model="numpy")``, single-threaded, without
  ``fastmath`` (IEEE operations, none reassociated or contracted into a fused
  multiply-add; ``error_model="numpy"`` makes a division by zero give inf or nan as
  numpy does instead of raising, a branch that would also keep LLVM from vectorising
  the loop).  Each kernel performs the reference's operations in the reference's
  order, each rounded to the arrays' dtype, so on float64 and float32 it gives the
  reference's result to the last bit (``tests/test_kernels.py`` checks one step bit
  for bit, and whole runs to a relative 1e-12 per step).  ``np.sqrt`` rather than
  ``math.sqrt`` keeps a float32 root in float32 also when the loops run as plain
  Python.

The policy
----------
``"auto"`` (default)
    numba if it can be imported, else numpy.
``"numba"``
    the fused kernels; ``ImportError`` naming the missing package if numba is absent.
``"numpy"``
    the reference path, always available.

The process-wide policy comes from the environment variable ``OPTBENCH_KERNELS``
(read when a step first needs it; worker processes inherit it) unless :func:`use`
sets it; :func:`using` sets it for a ``with`` block.  One optimizer can follow its
own policy: ``opt.with_kernels("numpy")`` is a copy of ``opt`` that does.
:func:`active` names the process-wide path (``"numba"`` or ``"numpy"``) and
:func:`path_of` the path of one optimizer, for a run's metadata.  The kernel never
changes an optimizer's ``hyperparams``, hence not a run's identity: both paths
compute the same numbers.

numba is optional (``pip install optbench[fast]``).  It is imported, and the kernels
compiled, on the first step that uses them, never at ``import optimizers``; with
``cache=True`` the compiled code is kept on disk for later processes.  Even from the
cache, the first fused step of a process costs about a second (numba's import and
code generator start): :func:`warm_up` pays it in advance, before a harness starts
its clock.

Arrays and dtypes
-----------------
A kernel runs when ``x`` and the state arrays are C-contiguous, of one dtype,
float64 or float32, and of one shape; the gradient is used as is when it matches
them and is otherwise first converted to ``x``'s dtype (one extra copy).  Anything
else (float16, a strided view...) takes the numpy path.  A float32 array is updated
in float32 arithmetic: every scalar of the step (the rate, ``rho``, ``1 - beta1``,
the bias corrections ``1 - beta**t``, ``eps``...) is computed in float64 from the
float64 hyper-parameters and rounded once to float32, which is what numpy does with
a Python float and a float32 array.

Example
-------
>>> import numpy as np
>>> from optimizers import kernels
>>> from optimizers.first_order import Momentum
>>> class Bowl:                                   # f(x) = |x|^2 / 2
...     def grad(self, x):
...         return x.copy()
>>> def ten_steps(opt):
...     x = np.array([1.0, -2.0])
...     state = opt.init(x)
...     for _ in range(10):
...         x = opt.step(x, Bowl(), state)
...     return x
>>> with kernels.using("numpy"):
...     reference = ten_steps(Momentum(0.1))
...     kernels.active()
'numpy'
>>> bool(np.array_equal(ten_steps(Momentum(0.1)), reference))    # the default path
True
"""

from __future__ import annotations

import copy
import importlib
import os
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

__all__ = [
    "ENV_VAR",
    "POLICIES",
    "RULES",
    "KernelChoice",
    "active",
    "arrays_for",
    "check_policy",
    "fused",
    "path_of",
    "policy",
    "scalars",
    "state_dtype",
    "use",
    "using",
    "warm_up",
]

#: The environment variable that sets the process-wide policy.
ENV_VAR = "OPTBENCH_KERNELS"
#: The allowed policies.
POLICIES = ("auto", "numba", "numpy")

_FLOAT64, _FLOAT32 = np.dtype(np.float64), np.dtype(np.float32)

_lock = threading.Lock()
_setting: str | None = None      # the policy set by use(); None: the environment's
_path: str | None = None         # the resolved process-wide path, cached
_compiled: dict[str, Callable[..., None]] | None = None


# The policy --------------------------------------------------------------------------


def check_policy(value: Any, source: str = "kernel policy") -> str:
    """``value`` if it is one of :data:`POLICIES`, else ValueError naming the allowed values."""
    if not isinstance(value, str) or value not in POLICIES:
        allowed = ", ".join(repr(p) for p in POLICIES)
        raise ValueError(f"{source} must be one of {allowed}, got {value!r}")
    return value


def policy() -> str:
    """The process-wide policy: the one set by :func:`use`, else ``$OPTBENCH_KERNELS``, else ``"auto"``."""
    if _setting is not None:
        return _setting
    raw = os.environ.get(ENV_VAR, "").strip()
    return check_policy(raw or "auto", source=ENV_VAR)


def _numba_missing() -> ImportError | None:
    """None if numba imports, else the ImportError it raised."""
    try:
        importlib.import_module("numba")
    except ImportError as exc:
        return exc
    return None


def _resolve(choice: str) -> str:
    """The path (``"numba"`` or ``"numpy"``) that the policy ``choice`` selects."""
    if choice == "numpy":
        return "numpy"
    missing = _numba_missing()
    if missing is None:
        return "numba"
    if choice == "numba":
        raise ImportError(
            "optimizers.kernels: the policy 'numba' needs the package 'numba', which cannot be "
            f"imported ({missing}); install it with `pip install optbench[fast]` (or `pip install "
            f"numba`), or choose the policy 'auto' or 'numpy' ({ENV_VAR}=numpy)"
        ) from missing
    return "numpy"


def active(choice: str | None = None) -> str:
    """The path in use, ``"numba"`` or ``"numpy"``: for the process-wide policy, or for ``choice``.

    Raises ImportError for the policy ``"numba"`` without numba, ValueError for an
    unknown policy (also one read from ``OPTBENCH_KERNELS``).
    """
    global _path
    if choice is not None:
        return _resolve(check_policy(choice))
    path = _path
    if path is None:
        with _lock:
            path = _path = _resolve(policy())
    return path


def use(choice: str | None) -> None:
    """Set the process-wide policy (``"auto"``, ``"numba"`` or ``"numpy"``).

    ``use(None)`` goes back to the environment variable (read again).  ``use("numba")``
    raises ImportError at once if numba cannot be imported (the policy is then left
    unchanged).
    """
    global _setting, _path
    if choice is not None:
        check_policy(choice)
        resolved = _resolve(choice)
    with _lock:
        _setting = choice
        _path = resolved if choice is not None else None


@contextmanager
def using(choice: str | None) -> Iterator[str]:
    """``with using("numpy"):`` runs the block under that policy, then restores the previous one.

    Yields the path in use inside the block.
    """
    previous = _setting
    use(choice)
    try:
        yield active()
    finally:
        use(previous)


S = TypeVar("S", bound="KernelChoice")


class KernelChoice:
    """Mixin of the optimizers with fused kernels: a per-instance policy.

    ``kernels`` is ``None`` (follow the process-wide policy) or one of
    :data:`POLICIES`.  It is not a hyper-parameter: it is not in ``hyperparams`` nor
    in ``repr``, so it does not change a run's identity.
    """

    kernels: str | None = None
    #: The key of :data:`RULES` that the optimizer's step runs.
    kernel_rule: str

    def with_kernels(self: S, choice: str | None) -> S:
        """A copy of this optimizer that follows the policy ``choice`` (None: the process-wide one).

        ``"numba"`` without numba raises ImportError here, not at the first step.
        """
        if choice is not None:
            _resolve(check_policy(choice))
        twin = copy.copy(self)
        twin.kernels = choice
        return twin

    def fused_step(self, x: np.ndarray, g: Any, state: tuple[np.ndarray, ...],
                   values: tuple[float, ...]) -> bool:
        """Run this optimizer's fused kernel on ``(x, g, *state)`` with the scalars
        ``values`` (cast to ``x``'s dtype, see :func:`scalars`); False, having done
        nothing, when the policy selects numpy or the arrays do not suit a kernel
        (:func:`arrays_for`): the caller then takes its numpy reference path."""
        kernel = fused(self.kernel_rule, self.kernels)
        if kernel is None:
            return False
        arrays = arrays_for(x, g, *state)
        if arrays is None:
            return False
        kernel(*arrays, *scalars(x.dtype, *values))
        return True


def path_of(optimizer: Any) -> str:
    """The path ``optimizer``'s steps take, ``"numba"`` or ``"numpy"``, for its run's metadata.

    An optimizer with fused kernels (a :class:`KernelChoice`, also inside
    :class:`~optimizers.averaging.Averaged`) follows its own choice or else the
    process-wide policy; a bridge gets its ``update_path`` (``"torch"``, ``"jax"``); every
    other optimizer (Newton, the L-BFGS variants, a user's) runs numpy code and gets
    ``"numpy"``.  This names the policy's path: a
    step on arrays the kernel cannot take (float16, strided) still runs numpy.
    """
    inner = getattr(optimizer, "inner", optimizer)
    if not isinstance(inner, KernelChoice):
        # a bridge names its framework ("torch", "jax"); everything else runs numpy code
        return str(getattr(inner, "update_path", "numpy"))
    return active(inner.kernels)


def warm_up(optimizer: Any, x0: Any) -> str:
    """Get ``optimizer``'s first step on ``x0``'s dtype ready: import numba and compile (or load
    from numba's cache) its kernel for that dtype; returns :func:`path_of`.

    The first fused step of a process otherwise pays this (about a second: numba's
    import and code generator start) inside the step.  A harness that times steps
    calls ``warm_up`` before its clock starts; it does nothing on the numpy path or
    for a dtype without kernels.
    """
    path = path_of(optimizer)
    dtype = state_dtype(x0)
    if path != "numba" or (dtype is not _FLOAT64 and dtype is not _FLOAT32):
        return path
    compiled = _compiled if _compiled is not None else _compile()
    rule = getattr(optimizer, "inner", optimizer).kernel_rule
    arrays = [np.zeros(1, dtype=dtype) for _ in range(_ARRAY_ARGS[rule])]
    scalar_count = RULES[rule].__code__.co_argcount - len(arrays)
    compiled[rule](*arrays, *scalars(dtype, *([0.5] * scalar_count)))
    return path


# Dispatch ----------------------------------------------------------------------------


def fused(rule: str, choice: str | None = None) -> Callable[..., None] | None:
    """The compiled kernel of ``rule`` under the policy ``choice`` (None: the process-wide one),
    or None when that policy selects the numpy path.

    ``rule`` is a key of :data:`RULES`.  The first call under numba imports numba and
    compiles nothing yet; each kernel compiles (or loads from numba's cache) on its
    first call with a given dtype.
    """
    path = _path if choice is None else None
    if path is None:
        path = active(choice)
    if path == "numpy":
        return None
    kernels = _compiled if _compiled is not None else _compile()
    return kernels[rule]


def _compile() -> dict[str, Callable[..., None]]:
    global _compiled
    with _lock:
        if _compiled is None:
            numba = importlib.import_module("numba")
            jit = numba.njit(cache=True, nogil=True, error_model="numpy")
            _compiled = {rule: jit(fn) for rule, fn in RULES.items()}
        return _compiled


def arrays_for(x: np.ndarray, g: Any, *state: np.ndarray) -> tuple[np.ndarray, ...] | None:
    """``(x, g, *state)`` as 1-D arrays a kernel can take, or None if the numpy path must run.

    The kernel needs ``x`` and ``state`` C-contiguous, writeable, of one shape and one
    dtype, native float64 or float32; ``g`` is converted to that dtype and layout if it
    differs (a copy; the caller's array is not modified either way).  The checks are
    cheap attribute tests: a step on a few elements should not cost more than numpy's.
    """
    dtype = x.dtype
    if dtype is not _FLOAT64 and dtype is not _FLOAT32:   # builtin dtypes are singletons
        return None
    shape = x.shape
    flags = x.flags
    if not (flags.c_contiguous and flags.writeable):
        return None
    for a in state:
        flags = a.flags
        if a.dtype is not dtype or a.shape != shape or not (flags.c_contiguous and flags.writeable):
            return None
    if type(g) is not np.ndarray or g.dtype is not dtype or g.shape != shape \
            or not g.flags.c_contiguous:
        g = np.ascontiguousarray(np.broadcast_to(g, shape), dtype=dtype)
    if len(shape) == 1:
        return (x, g, *state)
    return tuple(a.reshape(-1) for a in (x, g, *state))


def state_dtype(x0: Any) -> np.dtype:
    """The dtype of the state arrays for a run from ``x0``: ``x0``'s if it is a float dtype, else float64.

    So a float32 start gives float32 moments and velocities, and an integer start
    float64 ones (as the harness turns an integer start into float64).
    """
    dtype = np.asarray(x0).dtype
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def scalars(dtype: np.dtype, *values: float) -> tuple[Any, ...]:
    """``values`` rounded to ``dtype`` (numpy scalars), so that a float32 kernel stays in float32."""
    if dtype is _FLOAT64:
        return values                     # Python floats are float64 already (and pass faster)
    kind = dtype.type
    return tuple(kind(v) for v in values)


# The kernels: plain Python loops, compiled by numba.njit on first use -------------------
#
# Each one does, element by element, exactly the operations of its numpy reference in
# the same order (the comments give the reference's lines).  Scalars arrive in the
# arrays' dtype (see scalars()).


def sgd_kernel(x, g, lr):
    """``x -= lr * g``."""
    for i in range(x.size):
        x[i] = x[i] - lr * g[i]


def momentum_kernel(x, g, v, lr, rho):
    """``v = rho * v + g; x -= lr * v``."""
    for i in range(x.size):
        vi = v[i] * rho + g[i]
        v[i] = vi
        x[i] = x[i] - lr * vi


def nesterov_kernel(x, g, v, lr, rho, one_plus_rho):
    """``x -= rho * v; v = rho * v - lr * g; x += (1 + rho) * v``."""
    for i in range(x.size):
        vi = v[i]
        xi = x[i] - rho * vi
        vi = vi * rho - lr * g[i]
        v[i] = vi
        x[i] = xi + one_plus_rho * vi


def adagrad_kernel(x, g, grad_squared, lr, eps):
    """``G += g * g; x -= lr * (g / (sqrt(G) + eps))``."""
    for i in range(x.size):
        gi = g[i]
        s = grad_squared[i] + gi * gi
        grad_squared[i] = s
        x[i] = x[i] - (gi / (np.sqrt(s) + eps)) * lr


def rmsprop_kernel(x, g, grad_squared, lr, decay_rate, one_minus_decay, eps):
    """``G = decay * G + ((g * g) * (1 - decay)); x -= lr * (g / (sqrt(G) + eps))``."""
    for i in range(x.size):
        gi = g[i]
        s = grad_squared[i] * decay_rate + (gi * gi) * one_minus_decay
        grad_squared[i] = s
        x[i] = x[i] - (gi / (np.sqrt(s) + eps)) * lr


def adam_kernel(x, g, m, v, step_size, beta1, one_minus_beta1, beta2, one_minus_beta2,
                correction2, eps):
    """Adam with bias correction; ``step_size = lr / (1 - beta1**t)``, ``correction2 = 1 - beta2**t``.

    ``m = beta1 m + (1 - beta1) g; v = beta2 v + ((g g) (1 - beta2));
    x -= step_size * (m / (sqrt(v / correction2) + eps))``.
    """
    for i in range(x.size):
        gi = g[i]
        mi = m[i] * beta1 + gi * one_minus_beta1
        vi = v[i] * beta2 + (gi * gi) * one_minus_beta2
        m[i] = mi
        v[i] = vi
        x[i] = x[i] - (mi / (np.sqrt(vi / correction2) + eps)) * step_size


def adam_uncorrected_kernel(x, g, m, v, lr, beta1, one_minus_beta1, beta2, one_minus_beta2, eps):
    """The lecture's "Adam (almost)": as :func:`adam_kernel` without the two corrections."""
    for i in range(x.size):
        gi = g[i]
        mi = m[i] * beta1 + gi * one_minus_beta1
        vi = v[i] * beta2 + (gi * gi) * one_minus_beta2
        m[i] = mi
        v[i] = vi
        x[i] = x[i] - (mi / (np.sqrt(vi) + eps)) * lr


def adamw_kernel(x, g, m, v, decay, step_size, beta1, one_minus_beta1, beta2, one_minus_beta2,
                 correction2, eps):
    """AdamW: ``x *= decay`` (``decay = 1 - lr * weight_decay``), then :func:`adam_kernel`'s step.

    ``x = decay x; m = beta1 m + (1 - beta1) g; v = beta2 v + ((g g) (1 - beta2));
    x -= step_size * (m / (sqrt(v / correction2) + eps))``.
    """
    for i in range(x.size):
        gi = g[i]
        xi = x[i] * decay
        mi = m[i] * beta1 + gi * one_minus_beta1
        vi = v[i] * beta2 + (gi * gi) * one_minus_beta2
        m[i] = mi
        v[i] = vi
        x[i] = xi - (mi / (np.sqrt(vi / correction2) + eps)) * step_size


def nadam_kernel(x, g, m, v, gradient_step, moment_step, beta1, one_minus_beta1, beta2,
                 one_minus_beta2, correction2, eps):
    """NAdam (torch's form); ``gradient_step = lr (1 - mu_t) / (1 - mu_product)``,
    ``moment_step = lr mu_{t+1} / (1 - mu_product mu_{t+1})``, ``correction2 = 1 - beta2**t``.

    ``m, v`` as Adam's; ``d = sqrt(v / correction2) + eps;
    x -= gradient_step * (g / d); x -= moment_step * (m / d)``.
    """
    for i in range(x.size):
        gi = g[i]
        mi = m[i] * beta1 + gi * one_minus_beta1
        vi = v[i] * beta2 + (gi * gi) * one_minus_beta2
        m[i] = mi
        v[i] = vi
        d = np.sqrt(vi / correction2) + eps
        x[i] = (x[i] - (gi / d) * gradient_step) - (mi / d) * moment_step


#: Rule name -> the number of array arguments of its kernel (x, g and the state arrays).
_ARRAY_ARGS = {"sgd": 2, "momentum": 3, "nesterov": 3, "adagrad": 3, "rmsprop": 3, "adam": 4,
               "adam_uncorrected": 4, "adamw": 4, "nadam": 4}

#: Rule name -> the Python function that numba compiles.
RULES: dict[str, Callable[..., None]] = {
    "sgd": sgd_kernel,
    "momentum": momentum_kernel,
    "nesterov": nesterov_kernel,
    "adagrad": adagrad_kernel,
    "rmsprop": rmsprop_kernel,
    "adam": adam_kernel,
    "adam_uncorrected": adam_uncorrected_kernel,
    "adamw": adamw_kernel,
    "nadam": nadam_kernel,
}
