"""Any ``torch.optim.Optimizer`` as an optbench stepwise optimizer, used unchanged.

The bridge drives an optimizer only through torch's public contract (``param_groups``,
``state``, ``step(closure=None)``), so a class of ``torch.optim``, ``pytorch_optimizer``,
``heavyball``, ``schedulefree``, ``prodigyopt`` or a user's runs as it is.  The
registry reaches it through :func:`bridge_factory` (``optimizers.get("torch:AdamW",
...)``); nothing imports this module unless a torch optimizer is used, which is why it
may import torch at its top.

Conventions
-----------
Shared memory.  The iterate is one flat parameter, a leaf ``torch.nn.Parameter`` made by
``torch.from_numpy(x0)``: it *is* the run's numpy array (same data pointer), so a step
updates ``x`` in place and nothing is copied on the step path.  Its dtype is ``x0``'s
(float64 by default, float32 for a ``dtype="float32"`` problem).  ``init`` keeps the
array it is given; a ``step`` handed another array (a different data pointer) copies it
into the parameter first and returns the parameter's own array.  An ``x0`` that torch
cannot share (read-only, strided, not floating) is copied once, at ``init``.  What an
optimizer keeps in its state is its own business: torch keeps scalar state (``step``,
NAdam's ``mu_product``) in its default dtype, float32 unless ``torch.set_default_dtype``
says otherwise, and heavyball stores its moments in float32; the bridge changes neither.

Gradients.  ``step`` calls ``oracle.grad(x)`` once and puts the array itself into
``param.grad`` (``torch.from_numpy``, no copy when it is a contiguous array of ``x``'s
dtype; a gradient returned twice as the same buffer is wrapped once).  An optimizer that
writes into ``p.grad`` therefore writes into the oracle's array; optbench's problems
return a fresh array per call.  ``needs = ("grad",)``.

Closures.  An optimizer whose ``step`` *requires* a closure (its ``closure`` parameter
has no default, as ``torch.optim.LBFGS``) gets one: each call evaluates
``oracle.loss_and_grad`` at the parameter's current values, writes the gradient into
``param.grad`` and returns the loss as a tensor of the parameter's dtype.  Every call
is counted by the harness's oracle (one ``loss`` and one ``grad``), so a step of L-BFGS
counts all its line-search evaluations.  ``closure=True`` or ``False`` (a bridge option,
never passed to the class) overrides the signature rule.  All other optimizers are
stepped as ``optimizer.step()``, under ``torch.no_grad()``.

Learning rates.  ``lr`` may be an optbench schedule (a :class:`~optimizers.schedules.
Schedule` or its description): the optimizer is built with ``lr=schedule(0)`` and
every param group's ``lr`` is set to ``schedule(t)`` before step ``t``.  A float (or a
constant schedule) is passed to the class and left alone, so the optimizer's own rate
and its internal schedules (warm-up, schedule-free, Prodigy's ``d``) rule.
``lr_at(t)`` is the schedule's value, else the ``lr`` given, else the class's default
``lr``, else NaN: the rate hyper-parameter, not the optimizer's effective step.

Timing and threads.  ``init`` calls ``torch.set_num_threads(1)``, process-wide and not
restored: runs are single-threaded like BLAS in the harness.  :meth:`TorchOptimizer.
warm_up` takes one throwaway step on a copy, so that torch's first-call start-up
(lazy imports, the dispatcher, a lazy compilation) is paid before the harness starts
its clock; the timed step is the gradient call, the wrapping and ``optimizer.step()``.

Checks.  After each step the parameter must keep its storage, shape and dtype; an
optimizer that replaced them raises ``ValueError`` saying what changed.  Non-finite
values are left to the harness (the run is marked diverged); errors raised by the
optimizer propagate unchanged.

Schedule-free optimizers (classes with ``train()`` and ``eval()``) are put in train
mode at ``init``, and the bridge has ``average(state)``: the evaluation point, recorded
by the harness as ``avg_loss`` (the iterate itself is then the point where gradients
are taken).  Reading it leaves the parameter bit for bit as it was.  For other
optimizers ``average`` is None.  ``state_bytes(state)`` is the memory the optimizer's
state holds (every tensor in ``optimizer.state``), stored in the run's metadata.

Example
-------
>>> import numpy as np, torch
>>> from optimizers.torch_bridge import TorchOptimizer
>>> opt = TorchOptimizer(torch.optim.SGD, lr=0.1)
>>> opt
torch:SGD[lr=0.1]
>>> class Bowl:                                   # f(x) = |x|^2 / 2
...     def grad(self, x):
...         return x.copy()
>>> x = np.array([1.0, -2.0])
>>> state = opt.init(x)
>>> x = opt.step(x, Bowl(), state)                # x -= 0.1 * grad, in place
>>> x
array([ 0.9, -1.8])
>>> state.param.data_ptr() == x.ctypes.data       # the parameter is the array
True
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import numbers
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from . import schedules
from .base import Optimizer, State
from .json_data import as_json
from .schedules import Schedule

__all__ = ["TorchOptimizer", "TorchState", "bridge_factory"]

#: Dtypes a parameter can share with a numpy array (others are copied to float64).
_SHARED_DTYPES = (np.float16, np.float32, np.float64)

#: Parameters shown in an error message's signature before "...".
_SHOWN_PARAMETERS = 4


@dataclass(eq=False)
class TorchState(State):
    """One run's torch objects: the parameter, the optimizer built on it, and ``t``.

    ``param`` shares memory with ``x`` (the array ``init`` was given, or the
    parameter's own array when that could not be shared).  The other fields are what
    the step checks and caches: the parameter's data pointer, shape and dtype, and the
    last gradient array with the tensor wrapping it.
    """

    param: torch.nn.Parameter
    optimizer: torch.optim.Optimizer
    x: np.ndarray = field(repr=False)
    data_ptr: int = field(repr=False)
    shape: torch.Size = field(repr=False)
    dtype: torch.dtype = field(repr=False)
    grad_array: Any = field(default=None, repr=False)
    grad_tensor: Any = field(default=None, repr=False)
    t: int = 0


# Names, signatures and hyper-parameters ---------------------------------------------


def _public_path(obj: Any) -> str:
    """``obj``'s shortest public dotted path: ``torch.optim.AdamW``, not ``torch.optim.adamw.AdamW``."""
    qualname = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    module = getattr(obj, "__module__", None) or ""
    parts = module.split(".")
    for end in range(1, len(parts) + 1):
        prefix = ".".join(parts[:end])
        if getattr(sys.modules.get(prefix), qualname, None) is obj:
            return f"{prefix}.{qualname}"
    return f"{module}.{qualname}" if module else qualname


def _default_name(optimizer_class: Any) -> str:
    """``torch:AdamW`` for a class of ``torch.optim``, else the public dotted path."""
    path = _public_path(optimizer_class)
    head, _, tail = path.rpartition(".")
    return f"torch:{tail}" if head == "torch.optim" else path


def _keyword_signature(optimizer_class: Any) -> inspect.Signature | None:
    """The class's (or factory's) parameters after the first positional one (``params``),
    all keyword-only; None when Python cannot tell (a builtin)."""
    try:
        signature = inspect.signature(optimizer_class)
    except (TypeError, ValueError):
        return None
    kept = []
    skipped_params = False
    for p in signature.parameters.values():
        positional = p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        if positional and not skipped_params:
            skipped_params = True
            continue
        if p.kind is p.VAR_POSITIONAL or p.kind is p.POSITIONAL_ONLY:
            continue
        kind = p.VAR_KEYWORD if p.kind is p.VAR_KEYWORD else p.KEYWORD_ONLY
        kept.append(p.replace(kind=kind))
    return signature.replace(parameters=kept, return_annotation=inspect.Signature.empty)


def _takes_any_keyword(signature: inspect.Signature) -> bool:
    return any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())


def _shown_signature(optimizer_class: Any, signature: inspect.Signature) -> str:
    """``torch.optim.AdamW(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01, ...)``."""
    parts = []
    for p in signature.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
        else:
            parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    if len(parts) > _SHOWN_PARAMETERS:
        parts = parts[:_SHOWN_PARAMETERS] + ["..."]
    return f"{_public_path(optimizer_class)}({', '.join(parts)})"


def _check_keywords(name: str, optimizer_class: Any, signature: inspect.Signature,
                    given: dict[str, Any]) -> None:
    """ValueError, in one line, for the first keyword the class does not take."""
    if _takes_any_keyword(signature):
        return
    valid = list(signature.parameters)
    for key in given:
        if key in signature.parameters:
            continue
        near = difflib.get_close_matches(key, valid, n=3)
        hint = f"; did you mean {' or '.join(map(repr, near))}?" if near else ""
        raise ValueError(f"{name}: unknown keyword argument {key!r}{hint} "
                         f"({_shown_signature(optimizer_class, signature)})")


def _class_arguments(signature: inspect.Signature | None, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` with a list turned into a tuple where the class's default is a tuple
    (JSON and TOML have no tuples: ``betas = [0.9, 0.999]``)."""
    arguments = dict(given)
    if signature is None:
        return arguments
    for key, value in given.items():
        p = signature.parameters.get(key)
        if p is not None and isinstance(value, list) and isinstance(p.default, tuple):
            arguments[key] = tuple(value)
    return arguments


def _optimizer_type(optimizer_class: Any) -> type | None:
    """The class a factory builds, where it can be told without building one: the
    class itself, a ``functools.partial`` of one, or a function's return annotation."""
    if inspect.isclass(optimizer_class):
        return optimizer_class
    if isinstance(optimizer_class, functools.partial):
        return _optimizer_type(optimizer_class.func)
    annotation = getattr(optimizer_class, "__annotations__", {}).get("return")
    return annotation if inspect.isclass(annotation) else None


def _is_schedule_free(kind: Any) -> bool:
    """Whether an optimizer (class or instance) has ``train()`` and ``eval()`` modes."""
    return callable(getattr(kind, "train", None)) and callable(getattr(kind, "eval", None))


def _requires_closure(step: Callable[..., Any]) -> bool:
    """Whether ``step``'s ``closure`` parameter exists and has no default."""
    try:
        p = inspect.signature(step).parameters.get("closure")
    except (TypeError, ValueError):
        return False
    return p is not None and p.default is p.empty


def _real_or_nan(value: Any) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _tensor_bytes(value: Any, seen: set[int]) -> int:
    """Bytes of every tensor in ``value`` (nested lists, tuples, dicts), each counted once."""
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (list, tuple)):
        return sum(_tensor_bytes(v, seen) for v in value)
    if isinstance(value, dict):
        return sum(_tensor_bytes(v, seen) for v in value.values())
    return 0


# The bridge -------------------------------------------------------------------------


class TorchOptimizer(Optimizer[TorchState]):
    """A ``torch.optim.Optimizer`` (class or factory ``f(params, **kwargs)``) on a flat vector.

    Parameters
    ----------
    optimizer_class
        A ``torch.optim.Optimizer`` subclass or a function ``f(params, **kwargs)``
        returning one; built as ``optimizer_class([param], **hyperparams)``.
    name : str, optional
        Defaults to ``torch:NAME`` for a class of ``torch.optim``, else its public
        dotted path (``pytorch_optimizer.Lion``).
    closure : bool, optional
        Call ``step(closure)`` (True) or ``step()`` (False); None (default) decides by
        the signature of ``step``: a closure parameter without default asks for one.
        A bridge option, not passed to the class.
    **hyperparams
        The class's keyword arguments, passed on as they are, except: ``lr`` may be a
        schedule (see the module's conventions), and a list is made a tuple where the
        class's default is a tuple.  A keyword the class does not take raises
        ValueError naming the nearest valid ones (classes taking ``**kwargs`` take any).

    Attributes
    ----------
    hyperparams : dict
        The keyword arguments as JSON data (a schedule as its ``to_spec()``; ``closure``
        only when given).
    average : callable
        Only for schedule-free classes (with ``train()``/``eval()``): see
        :meth:`evaluation_point`.
    """

    needs = ("grad",)
    #: What a run's metadata records as its update path (``meta["kernels"]``).
    update_path = "torch"
    #: The evaluation point of a schedule-free optimizer, else None (what the harness reads).
    average: Callable[[TorchState], np.ndarray] | None = None

    def __init__(self, optimizer_class: Any, /, *, name: str | None = None,
                 closure: bool | None = None, **hyperparams: Any) -> None:
        if not callable(optimizer_class):
            raise ValueError(f"optimizer_class must be a torch.optim.Optimizer class or a "
                             f"factory f(params, **kwargs), got {optimizer_class!r}")
        if closure is not None and not isinstance(closure, (bool, np.bool_)):
            raise ValueError(f"closure must be True, False or None, got {closure!r}")
        self.optimizer_class = optimizer_class
        self.name = name if name is not None else _default_name(optimizer_class)
        signature = _keyword_signature(optimizer_class)
        if signature is not None:
            _check_keywords(self.name, optimizer_class, signature, hyperparams)
        self._arguments = _class_arguments(signature, hyperparams)
        self.hyperparams = {key: as_json(value) for key, value in hyperparams.items()}
        self._lr_schedule = self._take_schedule()
        given_lr = self._arguments.get("lr", inspect.Parameter.empty)
        if given_lr is inspect.Parameter.empty and signature is not None and "lr" in signature.parameters:
            given_lr = signature.parameters["lr"].default
        self._lr = _real_or_nan(given_lr)
        self.schedule = self._lr_schedule if self._lr_schedule is not None else self._constant_lr
        self._closure = None if closure is None else bool(closure)
        if closure is not None:
            self.hyperparams["closure"] = bool(closure)
        kind = _optimizer_type(optimizer_class)
        if kind is not None and _is_schedule_free(kind):
            self.average = self.evaluation_point

    def _take_schedule(self) -> Schedule | None:
        """The ``lr`` schedule set before every step, or None (the optimizer's own rate).

        A constant schedule is passed on as its float."""
        lr = self._arguments.get("lr")
        if not isinstance(lr, (Schedule, dict)):
            return None
        schedule = schedules.learning_rate(self.name, lr)
        self.hyperparams["lr"] = schedule.to_spec()
        if isinstance(schedule, schedules.Constant):
            self._arguments["lr"] = schedule.lr
            return None
        self._arguments["lr"] = float(schedule(0))
        return schedule

    def _constant_lr(self, t: int) -> float:
        return self._lr

    def lr_at(self, t: int) -> float:
        """The schedule's rate at step ``t``, else the ``lr`` given, else the class's
        default ``lr``, else NaN."""
        return float(self.schedule(t))

    # init and step ---------------------------------------------------------------------

    def init(self, x0: np.ndarray) -> TorchState:
        """Build the parameter over ``x0``'s memory and the optimizer on it (``x0`` is not
        modified); sets torch to one thread; a schedule-free optimizer is put in train mode."""
        torch.set_num_threads(1)
        x = x0
        if not (isinstance(x0, np.ndarray) and x0.dtype.type in _SHARED_DTYPES
                and x0.dtype.isnative and x0.flags.c_contiguous and x0.flags.writeable):
            given = np.asarray(x0)
            dtype = given.dtype.type if given.dtype.type in _SHARED_DTYPES else np.float64
            x = np.array(given, dtype=dtype, copy=True)
        param = torch.nn.Parameter(torch.from_numpy(x))
        optimizer = self.optimizer_class([param], **self._arguments)
        if self._closure is None:
            self._closure = _requires_closure(optimizer.step)
        if _is_schedule_free(optimizer):
            optimizer.train()
        return TorchState(param=param, optimizer=optimizer, x=x, data_ptr=param.data_ptr(),
                          shape=param.shape, dtype=param.dtype)

    def step(self, x: np.ndarray, oracle: Any, state: TorchState) -> np.ndarray:
        """One ``optimizer.step()`` (or ``step(closure)``) at ``x``; updates ``x`` in place
        and returns it (the parameter's own array if ``x`` was another array)."""
        if x is not state.x:
            x = self._adopt(x, state)
        if self._lr_schedule is not None:
            lr = float(self._lr_schedule(state.t))
            for group in state.optimizer.param_groups:
                group["lr"] = lr
        if self._closure:
            self._step_with_closure(x, oracle, state)
        else:
            state.param.grad = self._grad_tensor(oracle.grad(x), state)
            with torch.no_grad():
                state.optimizer.step()
        param = state.param
        if param.data_ptr() != state.data_ptr or param.dtype != state.dtype \
                or param.shape != state.shape:
            self._refuse_replaced(state)
        state.t += 1
        return x

    def _adopt(self, x: np.ndarray, state: TorchState) -> np.ndarray:
        """Make ``x`` the parameter's values: the state's array when ``x`` is not it."""
        if isinstance(x, np.ndarray) and x.ctypes.data == state.data_ptr \
                and x.shape == state.x.shape and x.dtype == state.x.dtype \
                and x.strides == state.x.strides:
            return x
        state.x[...] = x
        return state.x

    @staticmethod
    def _grad_tensor(g: Any, state: TorchState) -> torch.Tensor:
        """``g`` as a tensor of the parameter's dtype, sharing ``g``'s memory where it can."""
        if g is state.grad_array:
            return state.grad_tensor
        array = np.ascontiguousarray(g, dtype=state.x.dtype)
        tensor = torch.from_numpy(array)
        if array is g:  # an array returned again is wrapped once (a converted one, never)
            state.grad_array, state.grad_tensor = g, tensor
        return tensor

    def _step_with_closure(self, x: np.ndarray, oracle: Any, state: TorchState) -> None:
        """``optimizer.step(closure)``: each closure call is one counted ``loss_and_grad``
        at the parameter's current values (``x`` is their numpy view)."""
        param = state.param

        def closure() -> Any:  # a 0-d tensor, as torch's closures return (typed float there)
            value, g = oracle.loss_and_grad(x)
            param.grad = self._grad_tensor(g, state)
            return torch.tensor(float(value), dtype=param.dtype)

        with torch.no_grad():
            state.optimizer.step(closure)

    def _refuse_replaced(self, state: TorchState) -> None:
        param = state.param
        changes = []
        if param.dtype != state.dtype:
            changes.append(f"dtype {state.dtype} -> {param.dtype}")
        if param.shape != state.shape:
            changes.append(f"shape {tuple(state.shape)} -> {tuple(param.shape)}")
        if param.data_ptr() != state.data_ptr:
            changes.append("storage (p.data was replaced: the parameter no longer shares "
                           "memory with the iterate)")
        raise ValueError(f"{self.name}: step {state.t} changed the parameter's "
                         f"{', '.join(changes)}; an optimizer must update its parameters "
                         "in place")

    # What the harness asks of a bridge ------------------------------------------------

    def seed_run(self, seed: int) -> None:
        """Seed torch's global generator with the run's seed (the harness calls this after
        the warm-up, before ``init``), so that an optimizer drawing random numbers from it
        (noise, random projections) gives the same trace in every process."""
        torch.manual_seed(seed)

    def warm_up(self, x: np.ndarray, oracle: Any) -> None:
        """One throwaway step from a copy of ``x`` with a fresh state, so that torch's
        first-call start-up is paid before the clock starts; ``x`` is not modified."""
        scratch = np.array(x, copy=True)
        self.step(scratch, oracle, self.init(scratch))

    def state_bytes(self, state: TorchState) -> int:
        """Bytes of every tensor in ``optimizer.state`` (moments, ``step`` counters, the
        histories of L-BFGS), each counted once; the parameter and its gradient are not."""
        seen: set[int] = set()
        return sum(_tensor_bytes(s, seen) for s in state.optimizer.state.values())

    def evaluation_point(self, state: TorchState) -> np.ndarray:
        """A schedule-free optimizer's evaluation point (``eval()`` mode), as a new array.

        The parameter is then restored bit for bit (``train()`` alone would round), so
        that recording does not change the run.  Before the first step it is the
        parameter itself (nothing is averaged yet; some classes' ``eval()`` needs a step).
        """
        if state.t == 0:
            return state.param.detach().numpy().copy()
        saved = state.param.detach().clone()
        schedule_free: Any = state.optimizer  # has eval() and train(), unlike the base class
        schedule_free.eval()
        point = state.param.detach().numpy().copy()
        schedule_free.train()
        with torch.no_grad():
            state.param.copy_(saved)
        return point


def bridge_factory(optimizer_class: Any, name: str) -> Callable[..., TorchOptimizer]:
    """A factory taking ``optimizer_class``'s keyword arguments and returning the bridge.

    Its ``__signature__`` is the class's own minus ``params``, so that suites and
    ``optbench list`` see the real parameters and defaults; an unknown keyword raises
    ValueError naming the nearest valid ones and the signature.  It also takes the
    bridge's ``closure`` option.
    """
    signature = _keyword_signature(optimizer_class)

    def build(**hyperparams: Any) -> TorchOptimizer:
        return TorchOptimizer(optimizer_class, name=name, **hyperparams)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"{name}: {_public_path(optimizer_class)} through optimizers.torch_bridge."
    if signature is not None:
        build.__signature__ = _with_closure_option(signature)  # type: ignore[attr-defined]
    return build


def _with_closure_option(signature: inspect.Signature) -> inspect.Signature:
    """``signature`` plus the bridge's keyword-only ``closure=None`` (before any ``**kwargs``),
    so that a suite may set it like any hyper-parameter."""
    params = list(signature.parameters.values())
    if any(p.name == "closure" for p in params):
        return signature
    option = inspect.Parameter("closure", inspect.Parameter.KEYWORD_ONLY, default=None)
    at = len(params) - 1 if params and params[-1].kind is inspect.Parameter.VAR_KEYWORD else len(params)
    return signature.replace(parameters=[*params[:at], option, *params[at:]])
