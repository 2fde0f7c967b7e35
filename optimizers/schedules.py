"""Learning-rate schedules: small callables ``schedule(t) -> float``, ``t`` the 0-based step.

Every optimizer's ``lr`` takes a float (a constant rate), a :class:`Schedule`, or the
plain-data description of one, as it appears in a suite file::

    {"schedule": "step", "lr": 0.1, "factor": 0.5, "every": 100}

:func:`from_spec` (alias :func:`as_schedule`) turns any of these into a schedule and
``schedule.to_dict()`` gives the description back, so ``from_spec(s.to_dict()) == s``.
Any description may carry ``"warmup": n`` to wrap the schedule in a linear warm-up
(:class:`Warmup`).  Schedules are immutable: nothing changes them during a run.

==================  ==============================================================
``constant``        ``lr``
``step``            ``lr * factor ** (t // every)``
``exponential``     ``lr * exp(-k t)``
``inverse_time``    ``lr / (1 + k t)``
``cosine``          ``lr_min + (lr - lr_min) (1 + cos(pi t / steps)) / 2``, then ``lr_min``
``warm_restarts``   the cosine over periods ``T0, T0 T_mult, T0 T_mult^2, ...`` (SGDR)
==================  ==============================================================

Example
-------
>>> from optimizers import schedules
>>> s = schedules.from_spec({"schedule": "step", "lr": 0.1, "factor": 0.5, "every": 100})
>>> s(0), s(99), s(100), s(250)
(0.1, 0.1, 0.05, 0.025)
>>> s.to_dict()
{'schedule': 'step', 'lr': 0.1, 'factor': 0.5, 'every': 100}
"""

from __future__ import annotations

import difflib
import inspect
import math
import numbers
from abc import ABC, abstractmethod
from typing import Any

from .validation import (
    HyperparameterTypeError,
    check_int,
    check_known,
    check_real,
    reject_unknown_hyperparams,
)

__all__ = [
    "Constant",
    "Cosine",
    "Exponential",
    "InverseTime",
    "Schedule",
    "StepDecay",
    "WarmRestarts",
    "Warmup",
    "as_schedule",
    "from_spec",
    "learning_rate",
    "names",
]


def _check_lr(owner: str, value: Any, name: str = "lr") -> float:
    """A learning rate: a finite float > 0."""
    return check_real(owner, name, value, 0.0, low_closed=False)


class Schedule(ABC):
    """Base class: ``schedule(t)`` is the learning rate of step ``t`` (0-based).

    Subclasses set ``name`` (the ``"schedule"`` key of their description) and
    implement ``__call__`` and ``to_dict``; equality compares descriptions.
    """

    name: str = "schedule"

    @abstractmethod
    def __call__(self, t: int) -> float:
        """The learning rate of step ``t`` (``t >= 0``)."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable description, ``{"schedule": name, **parameters}``."""

    def to_spec(self) -> float | dict[str, Any]:
        """The description as an ``lr`` hyper-parameter: the float for a constant."""
        return self.to_dict()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.to_dict().items())))

    def __repr__(self) -> str:
        params = {k: v for k, v in self.to_dict().items() if k != "schedule"}
        args = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """``lr`` at every step."""

    name = "constant"

    @reject_unknown_hyperparams
    def __init__(self, lr: float) -> None:
        self.lr = _check_lr("constant schedule", lr)

    def __call__(self, t: int) -> float:
        return self.lr

    def to_dict(self) -> dict[str, Any]:
        return {"schedule": self.name, "lr": self.lr}

    def to_spec(self) -> float:
        return self.lr


class StepDecay(Schedule):
    """Step decay: ``lr * factor ** (t // every)``, cut by ``factor`` every ``every`` steps.

    Parameters
    ----------
    lr : float
        The initial rate, > 0.
    factor : float, default 0.5
        The multiplier applied at each cut, in (0, 1] (1 gives a constant rate).
    every : int
        Steps between cuts, >= 1: steps ``every, 2 every, ...`` use the reduced rates.
    """

    name = "step"

    @reject_unknown_hyperparams
    def __init__(self, lr: float, *, every: int, factor: float = 0.5) -> None:
        owner = "step schedule"
        self.lr = _check_lr(owner, lr)
        self.factor = check_real(owner, "factor", factor, 0.0, 1.0, low_closed=False,
                                 high_closed=True)
        self.every = check_int(owner, "every", every, 1)

    def __call__(self, t: int) -> float:
        return self.lr * self.factor ** (t // self.every)

    def to_dict(self) -> dict[str, Any]:
        return {"schedule": self.name, "lr": self.lr, "factor": self.factor,
                "every": self.every}


class Exponential(Schedule):
    """Exponential decay: ``lr * exp(-k t)`` (the lecture's ``alpha_0 e^{-kt}``), ``k >= 0``."""

    name = "exponential"

    @reject_unknown_hyperparams
    def __init__(self, lr: float, *, k: float) -> None:
        owner = "exponential schedule"
        self.lr = _check_lr(owner, lr)
        self.k = check_real(owner, "k", k, 0.0)

    def __call__(self, t: int) -> float:
        return self.lr * math.exp(-self.k * t)

    def to_dict(self) -> dict[str, Any]:
        return {"schedule": self.name, "lr": self.lr, "k": self.k}


class InverseTime(Schedule):
    """1/t decay: ``lr / (1 + k t)`` (the lecture's ``alpha_0 / (1 + kt)``), ``k >= 0``."""

    name = "inverse_time"

    @reject_unknown_hyperparams
    def __init__(self, lr: float, *, k: float) -> None:
        owner = "inverse_time schedule"
        self.lr = _check_lr(owner, lr)
        self.k = check_real(owner, "k", k, 0.0)

    def __call__(self, t: int) -> float:
        return self.lr / (1.0 + self.k * t)

    def to_dict(self) -> dict[str, Any]:
        return {"schedule": self.name, "lr": self.lr, "k": self.k}


def _cosine(lr: float, lr_min: float, t: float, steps: float) -> float:
    """Half a cosine from ``lr`` at ``t = 0`` down to ``lr_min`` at ``t = steps``.

    ``lr_min + (lr - lr_min) (1 + cos) / 2`` written as ``lr - (lr - lr_min) (1 - cos) / 2``,
    which is exactly ``lr`` at ``t = 0`` (and so at every warm restart).
    """
    return lr - (lr - lr_min) * (1.0 - math.cos(math.pi * t / steps)) / 2.0


class Cosine(Schedule):
    """Cosine decay over a horizon of ``steps``, then constant ``lr_min``.

    ``lr_min + (lr - lr_min) (1 + cos(pi t / steps)) / 2`` for ``t <= steps`` and
    ``lr_min`` after: ``lr`` at ``t = 0``, ``lr_min`` from ``t = steps`` on.

    Parameters
    ----------
    lr : float
        The initial rate, > 0.
    steps : int
        The horizon, >= 1.
    lr_min : float, default 0.0
        The final rate, in [0, lr].
    """

    name = "cosine"

    @reject_unknown_hyperparams
    def __init__(self, lr: float, *, steps: int, lr_min: float = 0.0) -> None:
        owner = "cosine schedule"
        self.lr = _check_lr(owner, lr)
        self.steps = check_int(owner, "steps", steps, 1)
        self.lr_min = check_real(owner, "lr_min", lr_min, 0.0, self.lr, high_closed=True)

    def __call__(self, t: int) -> float:
        if t >= self.steps:
            return self.lr_min
        return _cosine(self.lr, self.lr_min, t, self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {"schedule": self.name, "lr": self.lr, "steps": self.steps,
                "lr_min": self.lr_min}


class WarmRestarts(Schedule):
    """Cosine annealing with warm restarts (SGDR, Loshchilov and Hutter, 2016).

    The steps are cut into periods of lengths ``T_i = T0 * T_mult**i`` (i = 0, 1, ...);
    inside period ``i``, at ``t_cur`` steps after its start,

        lr_t = lr_min + (lr - lr_min) (1 + cos(pi t_cur / T_i)) / 2,

    so the rate restarts at ``lr`` on the first step of each period: steps
    ``0, T0, T0 + T0 T_mult, ...`` (every ``T0`` steps when ``T_mult == 1``).
    ``T0`` and ``T_mult`` keep the paper's names; both are integers so that every
    restart falls on a step.

    Parameters
    ----------
    lr : float
        The rate at each restart, > 0.
    T0 : int
        The first period, >= 1.
    T_mult : int, default 1
        The growth factor of the periods, >= 1.
    lr_min : float, default 0.0
        The rate approached at the end of each period, in [0, lr].
    """

    name = "warm_restarts"

    @reject_unknown_hyperparams
    def __init__(self, lr: float, *, T0: int, T_mult: int = 1,  # noqa: N803
                 lr_min: float = 0.0) -> None:
        owner = "warm_restarts schedule"
        self.lr = _check_lr(owner, lr)
        self.T0 = check_int(owner, "T0", T0, 1)
        self.T_mult = check_int(owner, "T_mult", T_mult, 1)
        self.lr_min = check_real(owner, "lr_min", lr_min, 0.0, self.lr, high_closed=True)

    def period(self, t: int) -> tuple[int, int]:
        """``(t_cur, T_i)``: steps since the last restart and the current period's length."""
        if self.T_mult == 1:
            return t % self.T0, self.T0
        t_cur, period = t, self.T0
        while t_cur >= period:  # at most log_{T_mult}(t) rounds, exact in integers
            t_cur -= period
            period *= self.T_mult
        return t_cur, period

    def __call__(self, t: int) -> float:
        t_cur, period = self.period(t)
        return _cosine(self.lr, self.lr_min, t_cur, period)

    def to_dict(self) -> dict[str, Any]:
        return {"schedule": self.name, "lr": self.lr, "T0": self.T0, "T_mult": self.T_mult,
                "lr_min": self.lr_min}


class Warmup(Schedule):
    """A linear warm-up in front of any schedule.

    For ``warmup = w`` steps the base schedule is scaled by a factor rising linearly
    from ``1/w`` to 1::

        lr_t = base(t) * (t + 1) / w    for t < w,
        lr_t = base(t)                  for t >= w,

    so step 0 uses ``base(0) / w`` (``lr / w``) and the factor reaches 1 at step
    ``w - 1``.  The base schedule keeps its own clock (its step ``t`` is the run's
    step ``t``); over a constant base the warm-up is exactly linear.

    Its description is the base's with a ``"warmup"`` key added.
    """

    name = "warmup"

    @reject_unknown_hyperparams
    def __init__(self, base: Any, warmup: int) -> None:
        self.base = from_spec(base)
        if isinstance(self.base, Warmup):
            raise ValueError("warmup schedule: base already has a warm-up")
        self.warmup = check_int("warmup schedule", "warmup", warmup, 1)

    def __call__(self, t: int) -> float:
        lr = self.base(t)
        if t < self.warmup:
            return lr * (t + 1) / self.warmup
        return lr

    def to_dict(self) -> dict[str, Any]:
        return {**self.base.to_dict(), "warmup": self.warmup}

    def __repr__(self) -> str:
        return f"Warmup({self.base!r}, warmup={self.warmup})"


_KINDS: dict[str, type[Schedule]] = {
    cls.name: cls
    for cls in (Constant, StepDecay, Exponential, InverseTime, Cosine, WarmRestarts)
}


def names() -> list[str]:
    """The schedule kinds :func:`from_spec` knows (the ``"schedule"`` key)."""
    return list(_KINDS)


def factory(name: str) -> type[Schedule]:
    """The schedule class registered as ``name`` (the ``"schedule"`` key of a description)."""
    try:
        return _KINDS[name]
    except KeyError:
        raise ValueError(f"unknown schedule {name!r} (known: {', '.join(names())})") from None


def from_spec(value: Any) -> Schedule:
    """A schedule from a float (constant rate), a :class:`Schedule` or a description.

    A description is a dict ``{"schedule": kind, **parameters}`` with ``kind`` one of
    :func:`names`, plus an optional ``"warmup": n`` (n >= 0; 0 means none).  Unknown
    kinds or parameter names raise an error naming the valid ones.

    >>> from_spec(0.1)
    Constant(lr=0.1)
    >>> from_spec({"schedule": "cosine", "lr": 0.1, "steps": 1000, "warmup": 10})
    Warmup(Cosine(lr=0.1, steps=1000, lr_min=0.0), warmup=10)
    """
    if isinstance(value, Schedule):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        # Constant's own check, with its error messages, done first to pass it a float
        return Constant(_check_lr("constant schedule", value))
    if not isinstance(value, dict):
        raise HyperparameterTypeError(
            f"a learning rate must be a float, a Schedule or a dict like "
            f"{{'schedule': 'step', 'lr': 0.1, 'every': 100}}, got {value!r}"
        )
    params = dict(value)
    kind = params.pop("schedule", None)
    if kind is None:
        raise ValueError(
            f"schedule description {value!r} has no 'schedule' key (one of {', '.join(_KINDS)})"
        )
    if not isinstance(kind, str) or kind not in _KINDS:
        near = difflib.get_close_matches(str(kind), names(), n=1, cutoff=0.5)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ValueError(f"unknown schedule {kind!r}{hint} (known: {', '.join(names())})")
    warmup = params.pop("warmup", 0)
    cls = _KINDS[kind]
    check_known(f"{kind} schedule", params, inspect.signature(cls).parameters)
    schedule = cls(**params)
    if check_int(f"{kind} schedule", "warmup", warmup, 0) == 0:
        return schedule
    return Warmup(schedule, warmup)


as_schedule = from_spec


def learning_rate(owner: str, value: Any) -> Schedule:
    """An optimizer's ``lr`` argument as a schedule, with errors naming ``owner``.

    ``value`` is a finite float > 0, a :class:`Schedule` or a description for
    :func:`from_spec`.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return Constant(_check_lr(owner, value))
    if isinstance(value, (Schedule, dict)):
        try:
            return from_spec(value)
        except ValueError as exc:
            raise type(exc)(f"{owner}: lr: {exc}") from None
    raise HyperparameterTypeError(
        f"{owner}: lr must be a float in (0, inf), a Schedule or a schedule description, "
        f"got {value!r}"
    )
