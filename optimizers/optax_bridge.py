"""Run any optax ``GradientTransformation`` as an optbench stepwise optimizer, unchanged.

``OptaxOptimizer(optax.adamw, learning_rate=1e-3, weight_decay=0.01)`` (or the
registry's ``optimizers.get("optax:adamw", learning_rate=1e-3)``) builds the
transformation with those keyword arguments and drives it through optbench's
contract: ``state = opt.init(x0)``, ``x = opt.step(x, oracle, state)``.  optax's own
update rule runs, with optax's names and defaults (``learning_rate``, ``b1``,
``eps=1e-8``...); nothing is translated.  This module imports jax and optax at its
top: only the registry imports it, lazily, when an ``optax:`` name is used.

Conventions
-----------
Precision.  A float64 run uses jax's x64 mode: the first float64 run (its
``warm_up`` or ``init``) calls ``jax.config.update("jax_enable_x64", True)``, which
is process-wide (every later jax computation in the process defaults to 64 bits)
and never switched back off.  Without it jax would silently round a float64
iterate to float32.  A float32 run computes in float32: its iterate, gradient and
optax state are float32 arrays, whether x64 mode is on or not.

What is jitted.  One function per run shape and dtype: ``transformation.update``
followed by ``optax.apply_updates``, under ``jax.jit``, with the optax state
donated (updated in place).  It is cached on the optimizer per (shape, dtype, x64
mode), so ``warm_up``, ``init`` and every ``step`` of every run of that shape share
one compilation.  ``warm_up(x, oracle)`` takes one throwaway step from a copy of
``x`` with a fresh state: the harness calls it before its clock starts, so the
trace's ``time`` never includes tracing or compiling.

What ``step`` does, and what is timed.  The harness times the whole ``step``: the
oracle call (numpy), one host copy of the gradient, and the jitted update.  After
the first step nothing of ``x``'s size is allocated or copied back to the host: the
optax state stays on the device, and so does the iterate.  ``step`` returns a
read-only numpy view of the jax array holding the new iterate (no copy on the CPU,
one device-to-host copy on an accelerator); when the next step
receives that same view as ``x``, it passes the jax array itself to the update.
Any other ``x`` (the run's first, or an array of the caller's) is copied to the
device first, and is never modified.  Copy a returned iterate (``np.array(x)``) to
change it.  The state keeps two more buffers: ``gradient`` (numpy, 64-byte
aligned, so that jax reads it in place instead of copying it into fresh memory)
and ``spare`` (a jax array, donated, which the update overwrites with the new
iterate: the buffer of the iterate before, once its view is dropped; while a view
of it is still held, jax leaves it alone and allocates).  Fresh memory at every
step instead (``jax.device_put`` of ``x`` and ``g``, a new output array) made an
Adam step at 1e6 coordinates twice as slow (page faults).

A transformation whose new state would hold the parameters or the gradient
themselves, or the new iterate a second time (``optax.lbfgs`` keeps both for its
next differences; one trace at build time looks), gets copies of ``x`` and ``g``
and no donated ``spare``: its state must not share a buffer that the bridge reuses.

Learning rates.  ``learning_rate`` is passed to the factory as given (a float, an
optax schedule...), except an optbench schedule (a :class:`~optimizers.schedules.Schedule`
or its description, ``{"schedule": "step", "lr": 0.1, "every": 100}``): optax then
receives a schedule ``count -> rate`` that returns the rate the bridge passes into
the jitted function at each step, ``lr_at(state.t)``, evaluated on the host in
Python (an optbench schedule is Python code, which jax cannot trace).  This is
exact: the rate used by step ``t`` is the float64 number ``lr_at(t)`` (rounded once
to float32 in a float32 run), the number the trace's ``lr`` column shows, with no
table to size and no recompilation.  It assumes what every optax alias does: the
transformation evaluates its schedule at its current count (a transformation that
looked ahead to ``count + 1`` would see the current rate).  A constant schedule is
passed as its float.  ``lr_at(t)`` is the schedule's value, the float
``learning_rate``, else NaN (no learning rate, or an optax schedule).

Extra arguments (``GradientTransformationExtraArgs``).  The bridge can give the
update three keyword arguments, optax's names for them: ``value`` (the loss at
``x``), ``grad`` (the gradient at ``x``, the array the update already receives) and
``value_fn`` (the loss as a jax function, for line searches).  The rule:

1. a plain ``GradientTransformation`` gets none;
2. an ``ExtraArgs`` transformation is offered the ones its ``update`` accepts: those
   its signature names, or all three when it takes ``**extra_args`` (every optax
   alias does, through ``optax.chain``, so the signature alone says nothing);
3. of these, ``value`` is passed only if the traced update reads it, and
   ``value_fn`` only if the update calls it while being traced (one trace at build
   time decides); ``grad`` costs nothing and is always passed when offered.

So ``optax.adam`` gets ``grad`` only, ``optax.polyak_sgd`` gets ``value`` and
``optax.lbfgs`` all three, without any name being special-cased.

Counts.  Every oracle call is made on the oracle given to the current ``step`` and
is counted there.  When ``value`` is passed, the step calls
``oracle.loss_and_grad(x)`` (one pass, counted as one loss and one grad) instead
of ``oracle.grad(x)``.  ``value_fn`` is a ``jax.custom_jvp`` function whose primal
is a ``jax.pure_callback`` to ``oracle.loss`` and whose derivative comes from one
callback to ``oracle.loss_and_grad``: each evaluation a line search makes (value,
or value and gradient) is one counted oracle call, on the oracle (the minibatch) of
the step that makes it; the callback finds that oracle through a token passed into
the jitted function, so one optimizer can serve several runs at once.  optax's
``value_and_grad_from_state`` (reusing the line search's last evaluation at the next
step) is not used, since on a stochastic problem each step has a new minibatch: so
``optax.lbfgs`` evaluates ``x`` once more per step than scipy's L-BFGS-B does.

Memory.  ``state_bytes(state)`` is the optax state's: the sum of ``nbytes`` over its
array leaves.  The bridge's buffers (the iterate, ``gradient`` and ``spare``: three
times ``x``'s size) are not counted.

Example
-------
>>> import numpy as np, optax
>>> from optimizers.optax_bridge import OptaxOptimizer
>>> class Bowl:                                   # f(x) = |x|^2 / 2
...     def grad(self, x):
...         return x.copy()
>>> opt = OptaxOptimizer(optax.sgd, learning_rate=0.5)
>>> x = np.array([1.0, -2.0])
>>> x = opt.step(x, Bowl(), opt.init(x))
>>> x, x.flags.writeable, opt.name, opt.lr_at(0)
(array([ 0.5, -1. ]), False, 'optax:sgd', 0.5)
"""

from __future__ import annotations

import difflib
import inspect
import itertools
import math
import numbers
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import schedules
from .base import Optimizer, State
from .json_data import as_json
from .schedules import Schedule
from .validation import HyperparameterTypeError

__all__ = ["EXTRA_ARGS", "OptaxOptimizer", "OptaxState", "bridge_factory"]

#: The extra keyword arguments the bridge can give a ``GradientTransformationExtraArgs``.
EXTRA_ARGS = ("value", "grad", "value_fn")

#: jax's warning when a donated state buffer matches no output (a scalar of a line
#: search's state, say); harmless, and silenced while the bridge compiles.
_DONATION_WARNING = "Some donated buffers were not usable"


@dataclass(eq=False)
class OptaxState(State):
    """The optax state (a pytree of jax arrays, kept on the device), the step count ``t``
    and the bridge's buffers: ``gradient`` (the gradient handed to jax), ``spare``
    (the jax array the next update writes the new iterate into), ``current`` (the jax
    array of the last iterate ``step`` returned) and ``view`` (that iterate, as the
    read-only numpy view ``step`` returned)."""

    opt_state: Any
    gradient: np.ndarray = field(repr=False)
    spare: Any = field(repr=False)
    current: Any = field(default=None, repr=False)
    view: np.ndarray | None = field(default=None, repr=False)
    t: int = 0


class _Compiled(NamedTuple):
    """The jitted update of one (shape, dtype), the extra arguments it passes, and whether
    its new state holds its ``x`` or ``g`` input or its new iterate (then ``x`` and ``g``
    are passed as copies and ``spare`` is not donated)."""

    update: Callable[..., Any]
    extras: frozenset[str]
    forwards: bool


class OptaxOptimizer(Optimizer[OptaxState]):
    """An optax ``GradientTransformation`` as a stepwise optimizer (see the module docstring).

    Each ``step`` computes ``updates, opt_state = tx.update(g, opt_state, x, **extras)``
    and ``x = optax.apply_updates(x, updates)`` in one jitted function, ``g`` the
    oracle's gradient at ``x``.

    Parameters
    ----------
    transformation_factory : callable or optax.GradientTransformation
        A function returning a ``GradientTransformation`` (``optax.adamw``,
        ``optax.lbfgs``, a function of your own), called with ``hyperparams``; or an
        already built transformation (then ``hyperparams`` must be empty).
    name : str, optional
        The optimizer's name in tables; default ``"optax:" + factory.__name__``.
    **hyperparams
        The factory's keyword arguments, as optax names them.  ``learning_rate`` may
        also be an optbench schedule or its description.

    Attributes
    ----------
    hyperparams : dict
        The keyword arguments as JSON data: a schedule as its ``to_spec()``, anything
        that is not JSON (a function, a transformation) as its ``repr``.
    """

    needs = ("grad",)
    #: What a run's metadata records as its update path (``meta["kernels"]``).
    update_path = "jax"

    def __init__(self, transformation_factory: Any, /, *, name: str | None = None,
                 **hyperparams: Any) -> None:
        built = isinstance(transformation_factory, optax.GradientTransformation)
        if built and hyperparams:
            raise ValueError(f"{name or 'optax'}: an already built GradientTransformation takes "
                             f"no keyword arguments, got {', '.join(sorted(hyperparams))}")
        if not built and not callable(transformation_factory):
            raise TypeError("transformation_factory must be a function returning an optax "
                            f"GradientTransformation, or one, got {transformation_factory!r}")
        label = "transformation" if built else getattr(transformation_factory, "__name__", "")
        self.name = name if name is not None else f"optax:{label or 'transformation'}"
        self._factory = transformation_factory
        self._kwargs, self.schedule, self.lr = _learning_rate(self.name, hyperparams)
        self.hyperparams = {key: as_json(self._kwargs.get(key, self.schedule))
                            for key in hyperparams}
        self._cache: dict[tuple[Any, ...], _Compiled] = {}
        self._oracles: dict[int, Any] = {}     # token -> the oracle of a step in progress
        self._tokens = itertools.count()
        self._transformation(self.schedule(0) if self.schedule is not None else None)  # validate

    # -- the contract ---------------------------------------------------------------------

    def lr_at(self, t: int) -> float:
        """The rate of step ``t``: the schedule's value, the float ``learning_rate``, else NaN."""
        if self.schedule is not None:
            return float(self.schedule(t))
        return float(self.lr) if self.lr is not None else math.nan

    def init(self, x0: np.ndarray) -> OptaxState:
        """The optax state for a run from ``x0``, on the device, in ``x0``'s dtype, and
        the bridge's buffers.

        Enables x64 mode first for a float64 ``x0``.  Leaves that ``tx.init`` shares
        between two places are copied, so that every buffer can be donated once.
        """
        self._compiled(x0)
        params = jnp.array(x0, copy=True)
        opt_state = self._transformation(self._rate(0, x0.dtype)).init(params)
        return OptaxState(opt_state=_distinct_buffers(opt_state),
                          gradient=_aligned_empty(x0.shape, x0.dtype),
                          spare=jnp.zeros(x0.shape, x0.dtype))

    def step(self, x: np.ndarray, oracle: Any, state: OptaxState) -> np.ndarray:
        """One optax update from ``x``; returns the new iterate as a read-only numpy view.

        ``x`` is not modified.  ValueError if the transformation changes the iterate's
        shape or dtype (found when the update is built: by ``warm_up``, ``init`` or the
        first step).
        """
        compiled = self._cache.get((x.shape, x.dtype, _x64())) or self._compiled(x)
        value = None
        if "value" in compiled.extras:
            loss, g = _loss_and_grad(oracle, x)
            value = np.asarray(loss, dtype=x.dtype)
        else:
            g = oracle.grad(x)
        if np.shape(g) != x.shape:
            raise ValueError(f"the gradient has shape {np.shape(g)}, but x has shape {x.shape}")
        np.copyto(state.gradient, g)
        # the iterate this optimizer returned last is on the device already
        x_in = state.current if x is state.view else jnp.array(x, copy=True)
        g_in: Any = state.gradient
        if compiled.forwards:  # the new state will hold them: buffers of its own
            g_in = jnp.array(g_in, copy=True)
            if x_in is state.current:
                x_in = jnp.array(x_in, copy=True)
        token = None
        if "value_fn" in compiled.extras:
            token = next(self._tokens) % 2**31
            self._oracles[token] = oracle
        try:
            new_x, state.opt_state = compiled.update(
                x_in, state.spare, state.opt_state, g_in, self._rate(state.t, x.dtype),
                value, None if token is None else np.int32(token))
            view = np.asarray(new_x)  # waits for the update (and its callbacks)
        finally:
            if token is not None:
                del self._oracles[token]
        if not compiled.forwards:
            state.spare = x_in      # donated next step, once the caller drops its view
        state.current, state.view = new_x, view
        state.t += 1
        return view

    def warm_up(self, x: np.ndarray, oracle: Any) -> None:
        """Compile for ``x``'s shape and dtype: one throwaway step from a copy of ``x``
        with a fresh state (both discarded); ``x`` is not modified."""
        scratch = np.array(x, copy=True)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_DONATION_WARNING)
            self.step(scratch, oracle, self.init(scratch))

    def state_bytes(self, state: OptaxState) -> int:
        """Bytes held by the optax state: the sum of ``nbytes`` over its array leaves."""
        return sum(int(leaf.nbytes) for leaf in jax.tree_util.tree_leaves(state.opt_state)
                   if hasattr(leaf, "nbytes"))

    # -- building ---------------------------------------------------------------------------

    def _transformation(self, rate: Any) -> Any:
        """The transformation, built with ``learning_rate`` a schedule returning ``rate``
        when an optbench schedule was given (``rate`` a host float or a traced scalar)."""
        if isinstance(self._factory, optax.GradientTransformation):
            return self._factory
        kwargs = dict(self._kwargs)
        if self.schedule is not None:
            kwargs["learning_rate"] = lambda count: rate
        try:
            tx = self._factory(**kwargs)
        except TypeError as err:
            raise HyperparameterTypeError(f"{self.name}: {err}") from err
        if not isinstance(tx, optax.GradientTransformation):
            raise TypeError(f"{self.name}: the factory returned a {type(tx).__name__}, "
                            "not an optax GradientTransformation")
        return tx

    def _rate(self, t: int, dtype: np.dtype) -> np.ndarray | None:
        """The rate of step ``t`` as a scalar of the run's dtype (None without a schedule)."""
        if self.schedule is None:
            return None
        return np.asarray(self.schedule(t), dtype=dtype)

    def _compiled(self, x: np.ndarray) -> _Compiled:
        """The jitted update for ``x``'s shape and dtype, built on first use (x64 mode is
        switched on here for float64)."""
        if x.dtype == np.float64 and not _x64():
            jax.config.update("jax_enable_x64", True)
        key = (x.shape, x.dtype, _x64())
        compiled = self._cache.get(key)
        if compiled is None:
            extras, forwards = self._analyse(x.shape, x.dtype)
            update = jax.jit(self._update_fn(x.shape, x.dtype, extras), keep_unused=True,
                             donate_argnums=(2,) if forwards else (1, 2))
            compiled = self._cache[key] = _Compiled(update, extras, forwards)
        return compiled

    def _update_fn(self, shape: tuple[int, ...], dtype: np.dtype, extras: frozenset[str],
                   called: list[bool] | None = None) -> Callable[..., Any]:
        """``(x, spare, opt_state, g, rate, value, token) -> (new_x, new_opt_state)``, to be
        jitted with ``spare`` and ``opt_state`` donated (``spare`` is not read: its buffer
        receives ``new_x``); ``called`` (when given) records each use of ``value_fn``."""

        def update(x: Any, spare: Any, opt_state: Any, g: Any, rate: Any, value: Any,
                   token: Any) -> Any:
            kwargs: dict[str, Any] = {}
            if "grad" in extras:
                kwargs["grad"] = g
            if "value" in extras:
                kwargs["value"] = value
            if "value_fn" in extras:
                kwargs["value_fn"] = self._value_fn(token, shape, dtype, called)
            updates, opt_state = self._transformation(rate).update(g, opt_state, x, **kwargs)
            return optax.apply_updates(x, updates), opt_state

        return update

    def _analyse(self, shape: tuple[int, ...], dtype: np.dtype) -> tuple[frozenset[str], bool]:
        """From one trace of the update: the extra arguments to pass (the rule of the module
        docstring: those offered, less ``value`` if the update does not read it and
        ``value_fn`` if it does not call it), and whether the new state holds the ``x`` or
        ``g`` input or the new iterate itself.  ValueError if the new iterate has another
        shape or dtype than ``x``."""
        rate = self._rate(0, dtype)
        tx = self._transformation(rate)
        offered = _offered(tx)
        x = jnp.zeros(shape, dtype)
        args = (x, x, _distinct_buffers(tx.init(x)), x, rate, jnp.zeros((), dtype),
                jnp.zeros((), jnp.int32))
        called: list[bool] = []
        jaxpr = jax.make_jaxpr(self._update_fn(shape, dtype, offered, called))(*args).jaxpr
        _check_iterate(x, jaxpr.outvars[0].aval)
        leaves = [len(jax.tree_util.tree_leaves(a)) for a in args]
        x_var, g_var = jaxpr.invars[0], jaxpr.invars[sum(leaves[:3])]
        value_var = jaxpr.invars[sum(leaves[:5])]
        unused = set() if _reads(jaxpr, value_var) else {"value"}
        if not called:
            unused.add("value_fn")
        new_x, new_state = jaxpr.outvars[0], jaxpr.outvars[1:]
        forwards = any(v is x_var or v is g_var or v is new_x for v in new_state)
        return offered - unused, forwards

    def _value_fn(self, token: Any, shape: tuple[int, ...], dtype: np.dtype,
                  called: list[bool] | None) -> Callable[..., Any]:
        """The loss as a differentiable jax function of the iterate, evaluated by the oracle
        of the step that ``token`` names (see "Counts" in the module docstring)."""
        scalar = jax.ShapeDtypeStruct((), dtype)
        vector = jax.ShapeDtypeStruct(shape, dtype)
        oracles = self._oracles

        def host_loss(tok: np.ndarray, p: np.ndarray) -> np.ndarray:
            return np.asarray(oracles[int(tok)].loss(p), dtype=dtype)

        def host_loss_and_grad(tok: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            value, g = _loss_and_grad(oracles[int(tok)], p)
            return np.asarray(value, dtype=dtype), np.asarray(g, dtype=dtype)

        @jax.custom_jvp
        def loss(params: Any, tok: Any) -> Any:
            return jax.pure_callback(host_loss, scalar, tok, params)

        @loss.defjvp
        def loss_jvp(primals: Any, tangents: Any) -> Any:
            (params, tok), (dparams, _) = primals, tangents
            value, g = jax.pure_callback(host_loss_and_grad, (scalar, vector), tok, params)
            return value, jnp.vdot(g, dparams)

        def value_fn(params: Any) -> Any:
            if called is not None:
                called.append(True)
            return loss(params, token)

        return value_fn


def _x64() -> bool:
    """Whether jax's x64 mode is on (process-wide)."""
    return bool(getattr(jax.config, "jax_enable_x64"))  # noqa: B009 (the attribute is untyped)


def _learning_rate(owner: str, hyperparams: dict[str, Any]
                   ) -> tuple[dict[str, Any], Schedule | None, float | None]:
    """``(kwargs for the factory, optbench schedule or None, float rate or None)``.

    An optbench schedule (or description) is taken out of the kwargs (the bridge
    supplies its own optax schedule); a constant one becomes its float.
    """
    kwargs = dict(hyperparams)
    rate = kwargs.get("learning_rate")
    if isinstance(rate, (Schedule, dict)):
        schedule = schedules.learning_rate(owner, rate)
        if isinstance(schedule, schedules.Constant):
            kwargs["learning_rate"] = schedule.lr
            return kwargs, None, schedule.lr
        del kwargs["learning_rate"]
        return kwargs, schedule, None
    if isinstance(rate, numbers.Real) and not isinstance(rate, bool):
        return kwargs, None, float(rate)
    return kwargs, None, None


def _offered(tx: Any) -> frozenset[str]:
    """The extra arguments ``tx.update`` accepts (rules 1 and 2 of the module docstring)."""
    if not isinstance(tx, optax.GradientTransformationExtraArgs):
        return frozenset()
    try:
        parameters = inspect.signature(tx.update).parameters.values()
    except (TypeError, ValueError):  # no signature to read: offer all, as to **extra_args
        return frozenset(EXTRA_ARGS)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return frozenset(EXTRA_ARGS)
    named = {p.name for p in parameters
             if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
    return frozenset(EXTRA_ARGS) & named


def _reads(jaxpr: Any, var: Any) -> bool:
    """Whether ``var`` (an input of ``jaxpr``) is an operand of an equation or an output."""
    return any(var is v for eqn in jaxpr.eqns for v in eqn.invars) or \
        any(var is v for v in jaxpr.outvars)


def _distinct_buffers(tree: Any) -> Any:
    """``tree`` with every array leaf that repeats an earlier one replaced by a copy."""
    seen: set[int] = set()

    def once(leaf: Any) -> Any:
        if not isinstance(leaf, jax.Array):
            return leaf
        if id(leaf) in seen:
            return jnp.array(leaf, copy=True)
        seen.add(id(leaf))
        return leaf

    return jax.tree_util.tree_map(once, tree)


def _loss_and_grad(oracle: Any, x: np.ndarray) -> tuple[Any, Any]:
    """``oracle.loss_and_grad(x)`` where it has one, else ``loss(x)`` then ``grad(x)``."""
    fused = getattr(oracle, "loss_and_grad", None)
    if fused is not None:
        return fused(x)
    return oracle.loss(x), oracle.grad(x)


def _check_iterate(x: Any, new_x: Any) -> None:
    """ValueError naming what changed if ``new_x`` (an array or its abstract value) has not
    ``x``'s shape and dtype."""
    if new_x.shape == x.shape and new_x.dtype == x.dtype:
        return
    changed = " and ".join(
        f"{what} from {before} to {after}"
        for what, before, after in (("shape", x.shape, new_x.shape),
                                    ("dtype", x.dtype, new_x.dtype))
        if before != after)
    raise ValueError(f"the optax transformation changed the iterate's {changed}: "
                     "its updates must have the shape and dtype of the parameters")


def _aligned_empty(shape: tuple[int, ...], dtype: np.dtype, alignment: int = 64) -> np.ndarray:
    """An uninitialised array whose data starts on an ``alignment``-byte boundary (jax
    reads such a numpy array in place on the CPU, where it copies a misaligned one)."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(size + alignment, dtype=np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start:start + size].view(dtype).reshape(shape)


# -- the registry's factories --------------------------------------------------------------


def bridge_factory(transformation_factory: Callable[..., Any],
                   name: str) -> Callable[..., OptaxOptimizer]:
    """A function building ``OptaxOptimizer(transformation_factory, name=name, **kwargs)``.

    Its ``__signature__`` is the factory's own, so that suite validation and
    ``optbench list`` show optax's names and defaults.  An unknown keyword argument
    (unless the factory takes ``**kwargs``) or a missing required one raises a
    one-line ``ValueError`` naming it, the nearest valid names and the signature::

        optax:adamw: unknown keyword argument 'lr'; did you mean 'learning_rate'? \
(optax.adamw(learning_rate, b1=0.9, ...))
    """
    signature = inspect.signature(transformation_factory)
    parameters = signature.parameters
    named = [p.name for p in parameters.values()
             if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    required = [p.name for p in parameters.values()
                if p.default is inspect.Parameter.empty and p.name in named]
    shown = f"{_qualified_name(transformation_factory)}{_short_signature(signature)}"

    def build(*args: Any, **hyperparams: Any) -> OptaxOptimizer:
        if args:  # positional arguments, in the signature's order, become keywords
            if len(args) > len(named):
                raise HyperparameterTypeError(
                    f"{name}: takes at most {len(named)} positional arguments ({shown})")
            for key, value in zip(named, args):
                if key in hyperparams:
                    raise HyperparameterTypeError(f"{name}: {key!r} given twice ({shown})")
                hyperparams[key] = value
        for key in hyperparams:
            if key not in named and not open_ended:
                near = _nearest(key, named)
                hint = f"; did you mean {' or '.join(map(repr, near))}?" if near else ""
                raise HyperparameterTypeError(
                    f"{name}: unknown keyword argument {key!r}{hint} ({shown})")
        missing = [key for key in required if key not in hyperparams]
        if missing:
            raise HyperparameterTypeError(
                f"{name}: missing required argument {', '.join(map(repr, missing))} ({shown})")
        return OptaxOptimizer(transformation_factory, name=name, **hyperparams)

    build.__signature__ = signature  # type: ignore[attr-defined]
    build.__name__ = build.__qualname__ = name
    build.__doc__ = (f"Build the optimizer {name}: {shown}, run by "
                     ":class:`optimizers.optax_bridge.OptaxOptimizer`.")
    return build


def _nearest(key: str, names: list[str]) -> list[str]:
    """Up to three valid names near ``key``: those whose words' initials spell it
    (``lr``: ``learning_rate``), then difflib's closest."""
    initials = [n for n in names if "".join(word[:1] for word in n.split("_")) == key]
    return list(dict.fromkeys(initials + difflib.get_close_matches(key, names, n=3)))[:3]


def _qualified_name(obj: Any) -> str:
    """``optax.adamw`` for a function its top-level package exports, else ``module.qualname``."""
    module = getattr(obj, "__module__", None) or ""
    top = module.partition(".")[0]
    short = getattr(obj, "__name__", "")
    if short and getattr(sys.modules.get(top), short, None) is obj:
        return f"{top}.{short}"
    return f"{module}.{getattr(obj, '__qualname__', short)}" if module else short


def _short_signature(signature: inspect.Signature) -> str:
    """The signature without annotations, long defaults (objects) shown as ``...``."""
    parts = []
    for p in signature.parameters.values():
        bare = p.replace(annotation=inspect.Parameter.empty)
        if p.default is not inspect.Parameter.empty and len(repr(p.default)) > 24:
            bare = bare.replace(default=_Ellipsis())
        parts.append(bare)
    return str(signature.replace(parameters=parts, return_annotation=inspect.Signature.empty))


class _Ellipsis:
    """A default that prints as ``...`` in a signature."""

    def __repr__(self) -> str:
        return "..."
