"""Gradient descent and its momentum variants: plain SGD, momentum, Nesterov.

Each ``step`` calls ``oracle.grad(x)`` once and nothing else, uses the rate
``lr_at(state.t)`` and advances ``state.t``.  It updates ``x`` in place (an array
owned by the caller) and returns it; the gradient array is never modified.  ``init``
makes the velocity in ``x0``'s dtype (float64 for an integer ``x0``), so a float32
run stays in float32.

Kernels.  Each rule is written twice: ``_step_numpy`` is the reference, the lecture's
formula in in-place numpy operations, and :mod:`optimizers.kernels` holds a fused
numba loop doing the same operations in the same order in one pass over memory.
``step`` takes the fused kernel when the kernel policy selects numba (the default
``"auto"`` does when numba is installed; ``OPTBENCH_KERNELS=numpy``,
``optimizers.kernels.use("numpy")`` or ``opt.with_kernels("numpy")`` select the
reference) and the arrays suit it (C-contiguous float64 or float32); both paths give
the same iterates.

Example
-------
>>> import numpy as np
>>> from optimizers.first_order import Momentum
>>> class Bowl:                                   # f(x) = |x|^2 / 2
...     def grad(self, x):
...         return x.copy()
>>> opt = Momentum(0.1, rho=0.9)
>>> x = np.array([1.0, -2.0])
>>> state = opt.init(x)
>>> for _ in range(200):
...     x = opt.step(x, Bowl(), state)
>>> state.t, bool(np.linalg.norm(x) < 1e-3)
(200, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import kernels, schedules
from .base import Optimizer, State
from .kernels import KernelChoice
from .schedules import Schedule
from .validation import check_real, reject_unknown_hyperparams

__all__ = ["SGD", "Momentum", "MomentumState", "Nesterov", "SGDState"]


@dataclass(eq=False)
class SGDState(State):
    """Plain SGD keeps only the step count ``t``."""

    t: int = 0


@dataclass(eq=False)
class MomentumState(State):
    """The velocity ``v`` (zero at the start) and the step count ``t``."""

    v: np.ndarray
    t: int = 0


def _check_rho(owner: str, rho: Any) -> float:
    return check_real(owner, "rho", rho, 0.0, 1.0)


class SGD(KernelChoice, Optimizer[SGDState]):
    r"""Gradient descent on the oracle's gradient (stochastic when it is a minibatch).

    .. math::  x_{t+1} = x_t - \alpha_t \nabla f(x_t)

    Parameters
    ----------
    lr : float, Schedule or dict
        The learning rate :math:`\alpha_t`: a finite float > 0 or a schedule
        (:mod:`optimizers.schedules`).  Required.
    """

    name = "sgd"
    kernel_rule = "sgd"

    @reject_unknown_hyperparams
    def __init__(self, lr: float | Schedule | dict[str, Any]) -> None:
        self.schedule = schedules.learning_rate(self.name, lr)
        self.hyperparams = {"lr": self.schedule.to_spec()}

    def init(self, x0: np.ndarray) -> SGDState:
        return SGDState()

    def step(self, x: np.ndarray, oracle: Any, state: SGDState) -> np.ndarray:
        dx = oracle.grad(x)
        learning_rate = float(self.schedule(state.t))
        if not self.fused_step(x, dx, (), (learning_rate,)):
            self._step_numpy(x, dx, learning_rate)
        state.t += 1
        return x

    @staticmethod
    def _step_numpy(x: np.ndarray, dx: np.ndarray, learning_rate: float) -> None:
        """The reference update, in place."""
        x -= learning_rate * dx


class _VelocityMethod(KernelChoice, Optimizer[MomentumState]):
    """What momentum and Nesterov share: ``lr``, ``rho`` and a velocity ``v_0 = 0``."""

    @reject_unknown_hyperparams
    def __init__(self, lr: float | Schedule | dict[str, Any], *, rho: float = 0.9) -> None:
        self.schedule = schedules.learning_rate(self.name, lr)
        self.rho = _check_rho(self.name, rho)
        self.hyperparams = {"lr": self.schedule.to_spec(), "rho": self.rho}

    def init(self, x0: np.ndarray) -> MomentumState:
        return MomentumState(v=np.zeros(np.shape(x0), dtype=kernels.state_dtype(x0)))


class Momentum(_VelocityMethod):
    r"""SGD with momentum (the heavy ball): step along a velocity built from gradients.

    .. math::

        v_{t+1} = \rho v_t + \nabla f(x_t), \qquad x_{t+1} = x_t - \alpha_t v_{t+1},

    with :math:`v_0 = 0`.  The velocity is a sum of past gradients decayed by the
    "friction" :math:`\rho`, not an average: with a constant rate the steady step is
    :math:`\alpha / (1 - \rho)` times the gradient.  ``rho = 0`` is plain SGD.

    Parameters
    ----------
    lr : float, Schedule or dict
        The learning rate :math:`\alpha_t` (> 0).  Required.
    rho : float, default 0.9
        The momentum :math:`\rho`, in [0, 1).
    """

    name = "momentum"
    kernel_rule = "momentum"

    def step(self, x: np.ndarray, oracle: Any, state: MomentumState) -> np.ndarray:
        dx = oracle.grad(x)
        learning_rate = float(self.schedule(state.t))
        if not self.fused_step(x, dx, (state.v,), (learning_rate, self.rho)):
            self._step_numpy(x, dx, learning_rate, state)
        state.t += 1
        return x

    def _step_numpy(self, x: np.ndarray, dx: np.ndarray, learning_rate: float,
                    state: MomentumState) -> None:
        """The reference update, in place."""
        v = state.v
        v *= self.rho
        v += dx                      # v = rho * v + dx
        x -= learning_rate * v


class Nesterov(_VelocityMethod):
    r"""Nesterov momentum, in the change-of-variables form that needs only :math:`\nabla f(x_t)`.

    The look-ahead form evaluates the gradient ahead of the iterate,

    .. math::

        v_{t+1} = \rho v_t - \alpha_t \nabla f(x_t + \rho v_t), \qquad
        x_{t+1} = x_t + v_{t+1};

    with :math:`\tilde x_t = x_t + \rho v_t` it becomes

    .. math::

        v_{t+1} = \rho v_t - \alpha_t \nabla f(\tilde x_t), \qquad
        \tilde x_{t+1} = \tilde x_t - \rho v_t + (1 + \rho) v_{t+1},

    which is what ``step`` does: the iterate it receives and returns is
    :math:`\tilde x_t`, the point where the gradient is taken (and the loss recorded).
    With :math:`v_0 = 0` both forms start at ``x0``.  Note the sign convention: here
    the velocity already holds :math:`-\alpha` times the gradients, unlike
    :class:`Momentum`'s.

    Parameters
    ----------
    lr : float, Schedule or dict
        The learning rate :math:`\alpha_t` (> 0).  Required.
    rho : float, default 0.9
        The momentum :math:`\rho`, in [0, 1).
    """

    name = "nesterov"
    kernel_rule = "nesterov"

    def step(self, x: np.ndarray, oracle: Any, state: MomentumState) -> np.ndarray:
        dx = oracle.grad(x)
        learning_rate = float(self.schedule(state.t))
        rho = self.rho
        if not self.fused_step(x, dx, (state.v,), (learning_rate, rho, 1 + rho)):
            self._step_numpy(x, dx, learning_rate, state)
        state.t += 1
        return x

    def _step_numpy(self, x: np.ndarray, dx: np.ndarray, learning_rate: float,
                    state: MomentumState) -> None:
        """The reference update, in place."""
        rho, v = self.rho, state.v
        # x += -rho * old_v + (1 + rho) * v, in two parts around the velocity update
        x -= rho * v                 # v still holds old_v
        v *= rho
        v -= learning_rate * dx      # v = rho * v - learning_rate * dx
        x += (1 + rho) * v
