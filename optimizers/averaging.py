"""Polyak averaging: an exponential moving average of the iterates, kept beside a run.

After every step of the wrapped optimizer,

    x_avg = decay * x_avg + (1 - decay) * x,        x_avg = x0 at the start,

the lecture's ``x_test = 0.995*x_test + 0.005*x``, kept in ``x0``'s dtype (float64
for an integer ``x0``).  Started at ``x0``, the average keeps the weight ``decay**t``
on the initial point after ``t`` steps (0.05 after 600 steps at 0.995); a burn-in,
``start = B``, makes it follow the iterate for the first ``B`` steps and average from
``x_B`` on, so nothing of the early path is left in it.  The averaged point does not
feed back into the run: the iterates are exactly the inner optimizer's, and the
average is read with ``opt.average(state)`` (the harness records its loss as
``avg_loss``).  The inner optimizer's step follows the kernel policy of
:mod:`optimizers.kernels` (``opt.with_kernels(choice)`` passes a per-instance choice
on to it); the average itself is two numpy operations.

Example
-------
>>> import numpy as np
>>> from optimizers.averaging import Averaged
>>> from optimizers.first_order import SGD
>>> class Line:                                   # f(x) = -x, a constant gradient
...     def grad(self, x):
...         return -np.ones_like(x)
>>> opt = Averaged(SGD(1.0), decay=0.5)
>>> x = np.zeros(1)
>>> state = opt.init(x)
>>> for _ in range(2):
...     x = opt.step(x, Line(), state)
>>> x, opt.average(state)                         # (0.5*0 + 0.5*1), then 0.5*0.5 + 0.5*2
(array([2.]), array([1.25]))
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import kernels
from .base import Optimizer, State
from .validation import HyperparameterTypeError, check_int, check_real, reject_unknown_hyperparams

__all__ = ["Averaged", "AveragedState"]


@dataclass(eq=False)
class AveragedState(State):
    """The inner optimizer's state, the running average ``x_avg`` and the step count."""

    inner: State
    x_avg: np.ndarray
    t: int = 0


class Averaged(Optimizer[AveragedState]):
    r"""Wrap ``inner`` so that its run also keeps a Polyak (exponential) average.

    .. math::  \bar x_t = x_t \ (t \le B), \qquad \bar x_{t+1} = d\, \bar x_t + (1 - d)\, x_{t+1}
               \ (t \ge B)

    with the burn-in :math:`B` = ``start`` (0: the average starts at :math:`x_0`, the
    lecture's loop).  The wrapper is an optimizer with the inner one's ``name``,
    ``needs``, ``lr_at`` and iterates; its ``hyperparams`` are the inner ones plus
    ``average`` (the decay :math:`d`) and, for a burn-in, ``average_start``.
    ``decay = 0`` makes the average the current iterate.

    Parameters
    ----------
    inner : Optimizer
        A stepwise optimizer.
    decay : float, default 0.995
        The decay :math:`d` of the average, in [0, 1).
    start : int, default 0
        The burn-in :math:`B >= 0`: the steps after which the average starts, from
        that step's iterate.
    """

    name = "averaged"

    @reject_unknown_hyperparams
    def __init__(self, inner: Optimizer[Any], decay: float = 0.995, start: int = 0) -> None:
        if not isinstance(inner, Optimizer):
            raise HyperparameterTypeError(
                f"averaged: inner must be a stepwise Optimizer, got {inner!r}"
            )
        if isinstance(inner, Averaged):
            raise ValueError(f"averaged: {inner!r} is already averaged")
        self.inner = inner
        self.decay = check_real("averaged", "decay", decay, 0.0, 1.0)
        self.start = check_int("averaged", "start", start, 0)
        self.name = inner.name
        self.needs = inner.needs
        self.hyperparams = {**inner.hyperparams, "average": self.decay}
        if self.start:
            self.hyperparams["average_start"] = self.start

    def init(self, x0: np.ndarray) -> AveragedState:
        return AveragedState(inner=self.inner.init(x0),
                             x_avg=np.array(x0, dtype=kernels.state_dtype(x0)))

    def with_kernels(self, choice: str | None) -> Averaged:
        """A copy whose inner optimizer follows the kernel policy ``choice``
        (:meth:`optimizers.kernels.KernelChoice.with_kernels`); an inner optimizer
        without fused kernels is kept as it is."""
        twin = copy.copy(self)
        if hasattr(self.inner, "with_kernels"):
            twin.inner = self.inner.with_kernels(choice)
        else:
            kernels.active(choice)  # still validate the choice
        return twin

    def lr_at(self, t: int) -> float:
        return self.inner.lr_at(t)

    def step(self, x: np.ndarray, oracle: Any, state: AveragedState) -> np.ndarray:
        x = self.inner.step(x, oracle, state.inner)
        x_avg = state.x_avg
        state.t += 1
        if state.t <= self.start:        # burn-in: the average is the iterate
            x_avg[...] = x
        else:
            x_avg *= self.decay
            x_avg += (1 - self.decay) * x    # x_avg = decay * x_avg + (1 - decay) * x
        return x

    def average(self, state: AveragedState) -> np.ndarray:
        """The averaged point: a read-only view of ``state.x_avg``, which later steps update.

        Copy it to keep it.
        """
        view = state.x_avg.view()
        view.flags.writeable = False
        return view
