"""Per-coordinate adaptive step sizes: AdaGrad, RMSProp, Adam, AdamW, NAdam.

Each divides the step by ``sqrt(G) + eps``, ``G`` a running statistic of squared
gradients.  Convention: ``eps`` is added *outside* the square root, as in the lecture,
Kingma and Ba's Algorithm 1 and ``torch.optim``.  Keras' Adam adds its epsilon to
the root of the *uncorrected* second moment (the paper's "epsilon hat"), and optax's
``eps_root`` goes inside the root; neither is done here.  The default ``eps = 1e-7``
is the lecture's.

Each ``step`` calls ``oracle.grad(x)`` once and nothing else, uses the rate
``lr_at(state.t)`` and advances ``state.t``.  It updates ``x`` in place (an array
owned by the caller) and returns it; the gradient array is never modified.  ``init``
makes the state arrays in ``x0``'s dtype (float64 for an integer ``x0``), so a
float32 run stays in float32.  The states' ``work`` buffer is scratch space for the
numpy update, so that a step allocates no temporaries of the size of ``x``.

Kernels.  Each rule is written twice: ``_step_numpy`` is the reference, the formula
in in-place numpy operations (the comments give it in one line), and
:mod:`optimizers.kernels` holds a fused numba loop doing the same operations in the
same order in one pass over memory (for Adam: reads ``x, g, m, v`` and writes
``x, m, v`` once each, where the numpy path makes about twenty passes).  ``step``
takes the fused kernel when the kernel policy selects numba (the default ``"auto"``
does when numba is installed; ``OPTBENCH_KERNELS=numpy``,
``optimizers.kernels.use("numpy")`` or ``opt.with_kernels("numpy")`` select the
reference) and the arrays suit it (C-contiguous float64 or float32); both paths give
the same iterates.

Example
-------
>>> import numpy as np
>>> from optimizers.adaptive import Adam
>>> class Bowl:                                   # f(x) = |x|^2 / 2
...     def grad(self, x):
...         return x.copy()
>>> opt = Adam(0.1)
>>> x = np.array([1.0, -2.0])
>>> state = opt.init(x)
>>> x = opt.step(x, Bowl(), state)                # the first step moves each coordinate by lr
>>> x.round(6)
array([ 0.9, -1.9])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import kernels, schedules
from .base import Optimizer, State
from .kernels import KernelChoice
from .schedules import Schedule
from .validation import check_bool, check_real, reject_unknown_hyperparams

__all__ = ["AdaGrad", "Adam", "AdamState", "AdamW", "NAdam", "NAdamState", "RMSProp",
           "SquaredGradState"]


@dataclass(eq=False)
class SquaredGradState(State):
    """AdaGrad's and RMSProp's ``grad_squared`` (zero at the start) and step count ``t``."""

    grad_squared: np.ndarray
    work: np.ndarray = field(repr=False)
    t: int = 0


@dataclass(eq=False)
class AdamState(State):
    """Adam's ``first_moment`` and ``second_moment`` (zero at the start) and ``t``."""

    first_moment: np.ndarray
    second_moment: np.ndarray
    work: np.ndarray = field(repr=False)
    t: int = 0


@dataclass(eq=False)
class NAdamState(State):
    """NAdam's moments (zero at the start), ``mu_product`` (the product of the momentum
    coefficients of the steps taken, 1 at the start) and ``t``."""

    first_moment: np.ndarray
    second_moment: np.ndarray
    work: np.ndarray = field(repr=False)
    mu_product: float = 1.0
    t: int = 0


def _check_unit(owner: str, name: str, value: Any) -> float:
    return check_real(owner, name, value, 0.0, 1.0)


def _check_eps(owner: str, eps: Any) -> float:
    return check_real(owner, "eps", eps, 0.0, low_closed=False)


def _descend(x: np.ndarray, lr: float, numerator: np.ndarray, second: np.ndarray,
             eps: float, work: np.ndarray) -> None:
    """``x -= lr * numerator / (np.sqrt(second) + eps)`` in place; ``work`` may be ``second``."""
    np.sqrt(second, out=work)
    work += eps
    np.divide(numerator, work, out=work)
    work *= lr
    x -= work


class _AdamHyperparams:
    """What Adam, AdamW and NAdam share: ``beta1``, ``beta2``, ``eps`` and the rate,
    checked with errors naming the optimizer, and ``hyperparams`` holding them."""

    name: str
    schedule: Any
    beta1: float
    beta2: float
    eps: float
    hyperparams: dict[str, Any]

    def _set_adam_hyperparams(self, lr: Any, beta1: Any, beta2: Any, eps: Any) -> None:
        """Check and set the shared four; a subclass then adds its own to ``hyperparams``."""
        self.schedule = schedules.learning_rate(self.name, lr)
        self.beta1 = _check_unit(self.name, "beta1", beta1)
        self.beta2 = _check_unit(self.name, "beta2", beta2)
        self.eps = _check_eps(self.name, eps)
        self.hyperparams = {"lr": self.schedule.to_spec(), "beta1": self.beta1,
                            "beta2": self.beta2, "eps": self.eps}


def _zero_moments(x0: np.ndarray) -> AdamState:
    """Adam's and AdamW's state for a run from ``x0``: zero moments in the state dtype."""
    shape, dtype = np.shape(x0), kernels.state_dtype(x0)
    return AdamState(first_moment=np.zeros(shape, dtype=dtype),
                     second_moment=np.zeros(shape, dtype=dtype),
                     work=np.empty(shape, dtype=dtype))


def _accumulate_moments(dx: np.ndarray, beta1: float, beta2: float, first_moment: np.ndarray,
                        second_moment: np.ndarray, work: np.ndarray) -> None:
    """Adam's two running averages, in place (the fused kernels do the same operations)."""
    # first_moment = beta1 * first_moment + (1 - beta1) * dx
    first_moment *= beta1
    np.multiply(dx, 1 - beta1, out=work)
    first_moment += work
    # second_moment = beta2 * second_moment + (1 - beta2) * dx * dx
    second_moment *= beta2
    np.multiply(dx, dx, out=work)
    work *= 1 - beta2
    second_moment += work


class _SquaredGradMethod(KernelChoice, Optimizer[SquaredGradState]):
    """What AdaGrad and RMSProp share: a squared-gradient statistic ``G_0 = 0``."""

    def init(self, x0: np.ndarray) -> SquaredGradState:
        shape, dtype = np.shape(x0), kernels.state_dtype(x0)
        return SquaredGradState(grad_squared=np.zeros(shape, dtype=dtype),
                                work=np.empty(shape, dtype=dtype))


class AdaGrad(_SquaredGradMethod):
    r"""AdaGrad (Duchi, Hazan and Singer, 2011): divide by the root of all past squared gradients.

    .. math::

        G_{t+1} = G_t + g_t \odot g_t, \qquad
        x_{t+1} = x_t - \alpha_t \, g_t / (\sqrt{G_{t+1}} + \epsilon),

    with :math:`g_t = \nabla f(x_t)`, :math:`G_0 = 0` and the operations taken
    coordinate by coordinate.  Since :math:`G` only grows, each coordinate's
    effective step :math:`\alpha / (\sqrt{G} + \epsilon)` never increases (for a
    non-increasing rate).

    Parameters
    ----------
    lr : float, Schedule or dict
        The learning rate :math:`\alpha_t` (> 0).  Required.
    eps : float, default 1e-7
        Added to :math:`\sqrt{G}` (outside the square root), > 0.
    """

    name = "adagrad"
    kernel_rule = "adagrad"

    @reject_unknown_hyperparams
    def __init__(self, lr: float | Schedule | dict[str, Any], *, eps: float = 1e-7) -> None:
        self.schedule = schedules.learning_rate(self.name, lr)
        self.eps = _check_eps(self.name, eps)
        self.hyperparams = {"lr": self.schedule.to_spec(), "eps": self.eps}

    def step(self, x: np.ndarray, oracle: Any, state: SquaredGradState) -> np.ndarray:
        dx = oracle.grad(x)
        learning_rate = float(self.schedule(state.t))
        if not self.fused_step(x, dx, (state.grad_squared,), (learning_rate, self.eps)):
            self._step_numpy(x, dx, learning_rate, state)
        state.t += 1
        return x

    def _step_numpy(self, x: np.ndarray, dx: np.ndarray, learning_rate: float,
                    state: SquaredGradState) -> None:
        """The reference update, in place."""
        grad_squared, work = state.grad_squared, state.work
        np.multiply(dx, dx, out=work)
        grad_squared += work         # grad_squared += dx * dx
        # x -= learning_rate * dx / (np.sqrt(grad_squared) + eps)
        _descend(x, learning_rate, dx, grad_squared, self.eps, work)


class RMSProp(_SquaredGradMethod):
    r"""RMSProp (Tieleman and Hinton, 2012): AdaGrad with a leaky average of squared gradients.

    .. math::

        G_{t+1} = \beta G_t + (1 - \beta)\, g_t \odot g_t, \qquad
        x_{t+1} = x_t - \alpha_t \, g_t / (\sqrt{G_{t+1}} + \epsilon),

    with :math:`\beta` the ``decay_rate``, :math:`g_t = \nabla f(x_t)` and
    :math:`G_0 = 0` (no bias correction: the first steps are larger than
    :math:`\alpha`, by :math:`1/\sqrt{1 - \beta}` at the first).

    Parameters
    ----------
    lr : float, Schedule or dict
        The learning rate :math:`\alpha_t` (> 0).  Required.
    decay_rate : float, default 0.99
        The decay :math:`\beta` of the squared-gradient average, in [0, 1).
    eps : float, default 1e-7
        Added to :math:`\sqrt{G}` (outside the square root), > 0.
    """

    name = "rmsprop"
    kernel_rule = "rmsprop"

    @reject_unknown_hyperparams
    def __init__(self, lr: float | Schedule | dict[str, Any], *, decay_rate: float = 0.99,
                 eps: float = 1e-7) -> None:
        self.schedule = schedules.learning_rate(self.name, lr)
        self.decay_rate = _check_unit(self.name, "decay_rate", decay_rate)
        self.eps = _check_eps(self.name, eps)
        self.hyperparams = {"lr": self.schedule.to_spec(), "decay_rate": self.decay_rate,
                            "eps": self.eps}

    def step(self, x: np.ndarray, oracle: Any, state: SquaredGradState) -> np.ndarray:
        dx = oracle.grad(x)
        learning_rate = float(self.schedule(state.t))
        decay_rate = self.decay_rate
        if not self.fused_step(x, dx, (state.grad_squared,),
                               (learning_rate, decay_rate, 1 - decay_rate, self.eps)):
            self._step_numpy(x, dx, learning_rate, state)
        state.t += 1
        return x

    def _step_numpy(self, x: np.ndarray, dx: np.ndarray, learning_rate: float,
                    state: SquaredGradState) -> None:
        """The reference update, in place."""
        decay_rate = self.decay_rate
        grad_squared, work = state.grad_squared, state.work
        # grad_squared = decay_rate * grad_squared + (1 - decay_rate) * dx * dx
        grad_squared *= decay_rate
        np.multiply(dx, dx, out=work)
        work *= 1 - decay_rate
        grad_squared += work
        # x -= learning_rate * dx / (np.sqrt(grad_squared) + eps)
        _descend(x, learning_rate, dx, grad_squared, self.eps, work)


class Adam(_AdamHyperparams, KernelChoice, Optimizer[AdamState]):
    r"""Adam (Kingma and Ba, 2015): momentum divided by the root of RMSProp's average.

    With :math:`g_t = \nabla f(x_{t-1})`, zero initial moments and the count
    :math:`t = 1, 2, \dots` (the step index *plus one*, as in the paper),

    .. math::

        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t \odot g_t,

        \hat m_t = m_t / (1 - \beta_1^t), \qquad \hat v_t = v_t / (1 - \beta_2^t),

        x_t = x_{t-1} - \alpha \, \hat m_t / (\sqrt{\hat v_t} + \epsilon).

    The bias correction undoes the moments' start at zero: the first step moves every
    coordinate by about :math:`\alpha`.  With ``bias_correction=False`` the update is
    the lecture's "Adam (almost)", :math:`x -= \alpha\, m_t / (\sqrt{v_t} + \epsilon)`,
    whose first step is :math:`(1 - \beta_1)/\sqrt{1 - \beta_2}` times larger
    (3.16 with the defaults).  :math:`\epsilon` is added after the bias correction and
    outside the root, as in the paper.

    Parameters
    ----------
    lr : float, Schedule or dict, default 1e-3
        The learning rate :math:`\alpha` (> 0); the schedule is indexed by the 0-based
        step, so step ``t`` uses ``lr_at(t)`` and the bias correction of count ``t + 1``.
    beta1 : float, default 0.9
        Decay of the first moment, in [0, 1).
    beta2 : float, default 0.999
        Decay of the second moment, in [0, 1).
    eps : float, default 1e-7
        Added to :math:`\sqrt{\hat v}`, > 0.
    bias_correction : bool, default True
        Divide the moments by :math:`1 - \beta^t`.
    """

    name = "adam"

    @reject_unknown_hyperparams
    def __init__(self, lr: float | Schedule | dict[str, Any] = 1e-3, *, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-7, bias_correction: bool = True) -> None:
        self._set_adam_hyperparams(lr, beta1, beta2, eps)
        self.bias_correction = check_bool(self.name, "bias_correction", bias_correction)
        self.hyperparams["bias_correction"] = self.bias_correction

    @property
    def kernel_rule(self) -> str:  # type: ignore[override]
        """The fused kernel of this Adam: ``"adam"`` or ``"adam_uncorrected"``."""
        return "adam" if self.bias_correction else "adam_uncorrected"

    def init(self, x0: np.ndarray) -> AdamState:
        return _zero_moments(x0)

    def step(self, x: np.ndarray, oracle: Any, state: AdamState) -> np.ndarray:
        dx = oracle.grad(x)
        learning_rate = float(self.schedule(state.t))
        t = state.t + 1              # the paper's count: the bias correction of step 0 uses t = 1
        beta1, beta2 = self.beta1, self.beta2
        if self.bias_correction:
            coefficients: tuple[float, ...] = (
                learning_rate / (1 - beta1**t), beta1, 1 - beta1, beta2, 1 - beta2,
                1 - beta2**t, self.eps)
        else:
            coefficients = (learning_rate, beta1, 1 - beta1, beta2, 1 - beta2, self.eps)
        if not self.fused_step(x, dx, (state.first_moment, state.second_moment), coefficients):
            self._step_numpy(x, dx, learning_rate, t, state)
        state.t += 1
        return x

    def _step_numpy(self, x: np.ndarray, dx: np.ndarray, learning_rate: float, t: int,
                    state: AdamState) -> None:
        """The reference update of count ``t`` (``state.t + 1``), in place."""
        beta1, beta2 = self.beta1, self.beta2
        first_moment, second_moment, work = state.first_moment, state.second_moment, state.work
        _accumulate_moments(dx, beta1, beta2, first_moment, second_moment, work)
        if self.bias_correction:
            # first_unbias = first_moment / (1 - beta1 ** t)
            # second_unbias = second_moment / (1 - beta2 ** t)
            # x -= learning_rate * first_unbias / (np.sqrt(second_unbias) + eps)
            second_unbias = np.divide(second_moment, 1 - beta2**t, out=work)
            _descend(x, learning_rate / (1 - beta1**t), first_moment, second_unbias,
                     self.eps, work)
        else:
            # x -= learning_rate * first_moment / (np.sqrt(second_moment) + eps)
            _descend(x, learning_rate, first_moment, second_moment, self.eps, work)


class AdamW(_AdamHyperparams, KernelChoice, Optimizer[AdamState]):
    r"""AdamW (Loshchilov and Hutter, 2019): Adam with decoupled weight decay.

    With :math:`g_t = \nabla f(x_{t-1})`, zero initial moments, the count
    :math:`t = 1, 2, \dots` (the step index plus one) and :math:`\lambda` the
    ``weight_decay``,

    .. math::

        x' = (1 - \alpha_t \lambda)\, x_{t-1},

        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t \odot g_t,

        x_t = x' - \alpha_t \, \frac{m_t / (1 - \beta_1^t)}
                                    {\sqrt{v_t / (1 - \beta_2^t)} + \epsilon}.

    The gradient is taken at :math:`x_{t-1}`, before the decay.  The decay shrinks
    :math:`x` towards zero by its own factor instead of entering the gradient (as an
    L2 penalty would, which Adam's division then rescales per coordinate): this is
    ``torch.optim.AdamW``'s form, and the Adam step is :class:`Adam`'s (bias
    corrected, :math:`\epsilon` added after the correction and outside the root).
    With ``weight_decay=0`` the iterates are :class:`Adam`'s, bit for bit.

    Conventions elsewhere.  torch, as here, multiplies the decay by the current rate
    :math:`\alpha_t`; the paper multiplies it by a separate schedule multiplier
    :math:`\eta_t` instead (:math:`x' = (1 - \eta_t \lambda) x`, with :math:`\alpha`
    fixed).  optax's ``adamw`` adds :math:`\lambda x` to Adam's direction before
    scaling by the rate, :math:`x_t = x_{t-1} - \alpha_t (\text{direction} + \lambda
    x_{t-1})`, which is the same update in exact arithmetic (not to the last bit).
    Note that :math:`\alpha_t \lambda > 1` flips the sign of :math:`x'`, in torch too.

    Parameters
    ----------
    lr : float, Schedule or dict, default 1e-3
        The learning rate :math:`\alpha_t` (> 0); step ``t`` (0-based) uses
        ``lr_at(t)`` for both the decay and the Adam step, and the bias corrections
        of count ``t + 1``.
    beta1 : float, default 0.9
        Decay of the first moment, in [0, 1).
    beta2 : float, default 0.999
        Decay of the second moment, in [0, 1).
    eps : float, default 1e-7
        Added to :math:`\sqrt{\hat v}`, > 0 (torch's default is 1e-8).
    weight_decay : float, default 1e-2
        The decoupled decay :math:`\lambda`, >= 0 and finite (torch's default).

    Example
    -------
    >>> import numpy as np
    >>> class Bowl:                               # f(x) = |x|^2 / 2
    ...     def grad(self, x):
    ...         return x.copy()
    >>> opt = AdamW(0.1, weight_decay=0.5)
    >>> x = np.array([1.0, -2.0])
    >>> x = opt.step(x, Bowl(), opt.init(x))      # x * (1 - 0.05), then Adam's first step
    >>> x.round(6)
    array([ 0.85, -1.8 ])
    """

    name = "adamw"
    kernel_rule = "adamw"

    @reject_unknown_hyperparams
    def __init__(self, lr: float | Schedule | dict[str, Any] = 1e-3, *, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-7, weight_decay: float = 1e-2) -> None:
        self._set_adam_hyperparams(lr, beta1, beta2, eps)
        self.weight_decay = check_real(self.name, "weight_decay", weight_decay, 0.0)
        self.hyperparams["weight_decay"] = self.weight_decay

    def init(self, x0: np.ndarray) -> AdamState:
        return _zero_moments(x0)

    def step(self, x: np.ndarray, oracle: Any, state: AdamState) -> np.ndarray:
        dx = oracle.grad(x)
        learning_rate = float(self.schedule(state.t))
        t = state.t + 1              # the paper's count: the bias correction of step 0 uses t = 1
        beta1, beta2 = self.beta1, self.beta2
        coefficients = (1 - learning_rate * self.weight_decay, learning_rate / (1 - beta1**t),
                        beta1, 1 - beta1, beta2, 1 - beta2, 1 - beta2**t, self.eps)
        if not self.fused_step(x, dx, (state.first_moment, state.second_moment), coefficients):
            self._step_numpy(x, dx, learning_rate, t, state)
        state.t += 1
        return x

    def _step_numpy(self, x: np.ndarray, dx: np.ndarray, learning_rate: float, t: int,
                    state: AdamState) -> None:
        """The reference update of count ``t`` (``state.t + 1``), in place."""
        beta1, beta2 = self.beta1, self.beta2
        first_moment, second_moment, work = state.first_moment, state.second_moment, state.work
        x *= 1 - learning_rate * self.weight_decay      # x = (1 - learning_rate * weight_decay) * x
        _accumulate_moments(dx, beta1, beta2, first_moment, second_moment, work)
        # x -= learning_rate / (1 - beta1 ** t) * first_moment
        #      / (np.sqrt(second_moment / (1 - beta2 ** t)) + eps)
        second_unbias = np.divide(second_moment, 1 - beta2**t, out=work)
        _descend(x, learning_rate / (1 - beta1**t), first_moment, second_unbias, self.eps, work)


class NAdam(_AdamHyperparams, KernelChoice, Optimizer[NAdamState]):
    r"""NAdam (Dozat, 2016): Adam with Nesterov momentum, in ``torch.optim.NAdam``'s form.

    With :math:`g_t = \nabla f(x_{t-1})`, zero initial moments, the count
    :math:`t = 1, 2, \dots` (the step index plus one), :math:`\psi` the
    ``momentum_decay`` and :math:`\Pi_0 = 1`,

    .. math::

        \mu_t = \beta_1 \bigl(1 - \tfrac12\, 0.96^{t \psi}\bigr), \qquad
        \Pi_t = \Pi_{t-1}\, \mu_t,

        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t \odot g_t,

        d_t = \sqrt{v_t / (1 - \beta_2^t)} + \epsilon,

        x_t = x_{t-1} - \alpha_t \frac{1 - \mu_t}{1 - \Pi_t}\, \frac{g_t}{d_t}
                      - \alpha_t \frac{\mu_{t+1}}{1 - \Pi_t\, \mu_{t+1}}\, \frac{m_t}{d_t}.

    :math:`\mu_t` is the momentum coefficient of step :math:`t`, rising from
    :math:`\beta_1/2` towards :math:`\beta_1` (Dozat's warming schedule, with
    torch's constants 0.96 and :math:`\psi = 0.004`); :math:`\Pi_t` is updated with
    :math:`\mu_t` *before* the step uses it (so the first step divides by
    :math:`1 - \mu_1`), and the second term looks one momentum coefficient ahead: that
    is the Nesterov part.  The update divides by the bias-corrected root with
    :math:`\epsilon` outside it, as :class:`Adam`.  Every detail (the order of the
    updates, the two separate terms) is ``torch.optim.NAdam``'s without weight decay;
    ``mu_product`` is kept as a float64 scalar in the state also for a float32 run
    (torch keeps it in the default dtype, float32 unless changed).

    optax's ``nadam`` is a different, simplified rule: a constant :math:`\beta_1`
    (no :math:`\mu` schedule, no running product) with Adam's bias corrections
    :math:`\beta_1 \hat m_{t+1} + (1 - \beta_1) \hat g_t`; its iterates are not these.

    Parameters
    ----------
    lr : float, Schedule or dict, default 2e-3
        The learning rate :math:`\alpha_t` (> 0); step ``t`` (0-based) uses
        ``lr_at(t)`` with the coefficients of count ``t + 1``.
    beta1 : float, default 0.9
        Decay of the first moment and scale of :math:`\mu_t`, in [0, 1).
    beta2 : float, default 0.999
        Decay of the second moment, in [0, 1).
    eps : float, default 1e-7
        Added to the corrected root, > 0 (torch's default is 1e-8).
    momentum_decay : float, default 4e-3
        :math:`\psi` of the momentum schedule, >= 0 and finite; 0 gives the constant
        :math:`\mu_t = \beta_1 / 2`.

    Example
    -------
    >>> import numpy as np
    >>> class Bowl:                               # f(x) = |x|^2 / 2
    ...     def grad(self, x):
    ...         return x.copy()
    >>> opt = NAdam(0.1)
    >>> x = np.array([1.0, -2.0])
    >>> state = opt.init(x)
    >>> for _ in range(200):
    ...     x = opt.step(x, Bowl(), state)
    >>> bool(np.abs(x).max() < 0.05), state.t
    (True, 200)
    """

    name = "nadam"
    kernel_rule = "nadam"

    @reject_unknown_hyperparams
    def __init__(self, lr: float | Schedule | dict[str, Any] = 2e-3, *, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-7, momentum_decay: float = 4e-3) -> None:
        self._set_adam_hyperparams(lr, beta1, beta2, eps)
        self.momentum_decay = check_real(self.name, "momentum_decay", momentum_decay, 0.0)
        self.hyperparams["momentum_decay"] = self.momentum_decay

    def momentum_at(self, t: int) -> float:
        """The momentum coefficient ``mu_t`` of count ``t`` (1-based):
        ``beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))``."""
        return self.beta1 * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))

    def init(self, x0: np.ndarray) -> NAdamState:
        shape, dtype = np.shape(x0), kernels.state_dtype(x0)
        return NAdamState(first_moment=np.zeros(shape, dtype=dtype),
                          second_moment=np.zeros(shape, dtype=dtype),
                          work=np.empty(shape, dtype=dtype))

    def step(self, x: np.ndarray, oracle: Any, state: NAdamState) -> np.ndarray:
        dx = oracle.grad(x)
        learning_rate = float(self.schedule(state.t))
        t = state.t + 1              # torch's count: step 0 uses mu_1 and 1 - beta2 ** 1
        mu, mu_next = self.momentum_at(t), self.momentum_at(t + 1)
        mu_product = state.mu_product * mu                  # updated before it is used
        gradient_step = learning_rate * (1.0 - mu) / (1.0 - mu_product)
        moment_step = learning_rate * mu_next / (1.0 - mu_product * mu_next)
        beta1, beta2 = self.beta1, self.beta2
        coefficients = (gradient_step, moment_step, beta1, 1 - beta1, beta2, 1 - beta2,
                        1 - beta2**t, self.eps)
        if not self.fused_step(x, dx, (state.first_moment, state.second_moment), coefficients):
            self._step_numpy(x, dx, gradient_step, moment_step, t, state)
        state.mu_product = mu_product
        state.t += 1
        return x

    def _step_numpy(self, x: np.ndarray, dx: np.ndarray, gradient_step: float,
                    moment_step: float, t: int, state: NAdamState) -> None:
        """The reference update of count ``t`` (``state.t + 1``), in place; ``gradient_step``
        is ``lr * (1 - mu_t) / (1 - mu_product)`` and ``moment_step`` is
        ``lr * mu_{t+1} / (1 - mu_product * mu_{t+1})``, ``mu_product`` including ``mu_t``."""
        first_moment, second_moment, work = state.first_moment, state.second_moment, state.work
        _accumulate_moments(dx, self.beta1, self.beta2, first_moment, second_moment, work)
        # denominator = np.sqrt(second_moment / (1 - beta2 ** t)) + eps
        # x -= gradient_step * (dx / denominator)
        self._denominator(second_moment, t, out=work)
        np.divide(dx, work, out=work)
        work *= gradient_step
        x -= work
        # x -= moment_step * (first_moment / denominator)
        self._denominator(second_moment, t, out=work)   # again: one scratch buffer, as Adam's
        np.divide(first_moment, work, out=work)
        work *= moment_step
        x -= work

    def _denominator(self, second_moment: np.ndarray, t: int, out: np.ndarray) -> None:
        """``out = np.sqrt(second_moment / (1 - beta2 ** t)) + eps``, in place."""
        np.divide(second_moment, 1 - self.beta2**t, out=out)
        np.sqrt(out, out=out)
        out += self.eps
