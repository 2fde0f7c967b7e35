"""The harness's side of the stepwise contract, for optimizers it did not write.

:func:`optbench.run` drives any object with ``init(x0)`` and ``step(x, oracle,
state)`` (see :mod:`optimizers.base`).  Three things it does around those calls
live here:

- :func:`warm_up`, before the clock starts: an optimizer's first call may pay a
  one-off start-up (torch's dispatcher, a jit compilation, a lazy import: 2-3 s for
  torch) that is no part of the method's work.  A bridge says how to warm itself up
  (its ``warm_up(x, oracle)``); any other optimizer from outside the ``optimizers``
  package (a ``--plugin``'s) takes one throwaway step from a copy of ``x`` with a
  fresh state.  Built-in rules need neither (their fused kernels are compiled by
  :func:`optimizers.kernels.warm_up`).
- :func:`check_iterate`, after the first step and every recorded one: the step must
  return a numpy array of the start's shape and dtype; anything else ends the run
  with an error naming what changed.
- :func:`state_bytes`, at the end: the memory the optimizer's state holds, stored in
  the run's metadata so that memory is compared beside time.

The warm-up's oracle is the problem itself, or for a stochastic problem one
minibatch drawn from a generator of its own (:data:`WARM_UP_SEED`): it never draws
from the run's generator and none of its calls are counted, so a run's trace is the
same with or without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Seed of the generator that draws the warm-up step's minibatch (never the run's).
WARM_UP_SEED = 2**31 - 1


def _is_builtin(optimizer: Any) -> bool:
    return type(optimizer).__module__.split(".")[0] == "optimizers"


def warm_up(optimizer: Any, problem: Any, x: np.ndarray, stochastic: bool) -> None:
    """Pay ``optimizer``'s first-call start-up on a copy of ``x`` before the clock starts.

    ``optimizer.warm_up(x, oracle)`` if it has one; else, for an optimizer defined
    outside the ``optimizers`` package, one step from ``x.copy()`` with a fresh
    ``init``; else nothing.  ``x`` is not modified.
    """
    # an averaged bridge (a suite's average = ...) warms its inner optimizer up
    hook = getattr(optimizer, "warm_up", None) or getattr(getattr(optimizer, "inner", None),
                                                          "warm_up", None)
    if hook is None and _is_builtin(optimizer):
        return
    oracle = problem.minibatch(np.random.default_rng(WARM_UP_SEED)) if stochastic else problem
    if hook is not None:
        hook(x, oracle)
        return
    scratch = x.copy()
    optimizer.step(scratch, oracle, optimizer.init(scratch))


def seed_framework(optimizer: Any, seed: int) -> None:
    """``optimizer.seed_run(seed)`` where it (or the optimizer it wraps) has one: a bridge
    seeds its framework's global generator with the run's seed, so that an optimizer
    drawing random numbers there is reproducible too."""
    hook = getattr(optimizer, "seed_run", None) or getattr(getattr(optimizer, "inner", None),
                                                           "seed_run", None)
    if hook is not None:
        hook(seed)


def check_iterate(x: Any, shape: tuple[int, ...], dtype: np.dtype, optimizer: Any, step: int) -> None:
    """ValueError unless ``x`` is a numpy array of ``shape`` and ``dtype`` (what step ``step`` returned)."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"optimizer {optimizer!r}: step {step} returned a {type(x).__name__}, "
                         "not a numpy array: step(x, oracle, state) must return the new iterate as one")
    if x.shape != shape or x.dtype != dtype:
        raise ValueError(f"optimizer {optimizer!r}: step {step} changed the iterate from shape "
                         f"{shape} {dtype} to shape {x.shape} {x.dtype}")


def state_bytes(optimizer: Any, state: Any) -> int:
    """Bytes of ``state``: ``optimizer.state_bytes(state)`` where it has one (the bridges
    count their framework's tensors), else the ``nbytes`` of every numpy array among the
    state's attributes, also inside nested states and lists (an averaged optimizer's
    inner state).  Scratch buffers a rule keeps in its state count too: they are memory
    the method holds."""
    own = getattr(optimizer, "state_bytes", None)
    if own is not None:
        return int(own(state))
    inner = getattr(optimizer, "inner", None)
    if inner is not None and hasattr(state, "inner"):  # a wrapper (Polyak averaging): its
        rest = {k: v for k, v in vars(state).items() if k != "inner"}  # arrays and the inner's
        return state_bytes(inner, state.inner) + _nbytes(rest, set())
    return _nbytes(state, set())


def _nbytes(value: Any, seen: set[int]) -> int:
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v, seen) for v in value)
    if isinstance(value, dict):
        return sum(_nbytes(v, seen) for v in value.values())
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return sum(_nbytes(v, seen) for v in vars(value).values())
    return 0
