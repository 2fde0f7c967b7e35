"""Checks shared by the optimizers and schedules: one message format for every error.

A bad hyper-parameter value raises ``ValueError`` naming the owner, the parameter,
the allowed range and the value given::

    adam: beta2 must be in [0, 1), got 1.5

A value of the wrong type, an unknown hyper-parameter name or a missing one raises
:class:`HyperparameterTypeError`, which is both a ``TypeError`` (what Python raises
for an unexpected keyword argument) and a ``ValueError`` (so that one
``except ValueError`` catches every bad hyper-parameter).  Unknown names come with the
nearest valid name::

    adam: unknown hyper-parameter 'betta1'; did you mean 'beta1'? (valid: lr, beta1, ...)
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import numbers
from typing import Any, Callable, Iterable, TypeVar

import numpy as np

__all__ = [
    "HyperparameterTypeError",
    "check_bool",
    "check_int",
    "check_known",
    "check_real",
    "interval",
    "reject_unknown_hyperparams",
]

F = TypeVar("F", bound=Callable[..., Any])


class HyperparameterTypeError(TypeError, ValueError):
    """A hyper-parameter of the wrong type, with an unknown name, or missing."""


def _shown(value: Any) -> str:
    """``value`` as it appears in messages: plain numbers, repr for the rest."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return repr(float(value))  # "1.5", "nan", "inf", also for numpy scalars
    return repr(value)


def _bound(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def interval(low: float, high: float, *, low_closed: bool, high_closed: bool) -> str:
    """Interval notation: ``interval(0, 1, low_closed=True, high_closed=False) == "[0, 1)"``."""
    left = "[" if low_closed and not math.isinf(low) else "("
    right = "]" if high_closed and not math.isinf(high) else ")"
    return f"{left}{_bound(low)}, {_bound(high)}{right}"


def check_real(
    owner: str,
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_closed: bool = True,
    high_closed: bool = False,
) -> float:
    """``value`` as a float if it is a real number in the interval, else an error.

    An infinite bound is never included, so ``check_real(o, "lr", v, 0,
    low_closed=False)`` asks for a finite ``v > 0``; NaN is never in range.
    Booleans are not numbers here.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise HyperparameterTypeError(
            f"{owner}: {name} must be a real number, got {_shown(value)}"
        )
    x = float(value)
    above = x > low if not low_closed or low == -math.inf else x >= low
    below = x < high if not high_closed or high == math.inf else x <= high
    if not (above and below):  # also catches NaN
        allowed = interval(low, high, low_closed=low_closed, high_closed=high_closed)
        raise ValueError(f"{owner}: {name} must be in {allowed}, got {_shown(value)}")
    return x


def check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    """``value`` as an int if it is an integer ``>= minimum`` (``100.0`` is accepted)."""
    integral = isinstance(value, numbers.Integral) or (
        isinstance(value, numbers.Real) and float(value).is_integer()
    )
    if isinstance(value, bool) or not integral:
        raise HyperparameterTypeError(
            f"{owner}: {name} must be an integer >= {minimum}, got {_shown(value)}"
        )
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}, got {_shown(value)}")
    return int(value)


def check_bool(owner: str, name: str, value: Any) -> bool:
    """``value`` if it is a bool (Python's or numpy's); ``1`` or ``"yes"`` are refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise HyperparameterTypeError(
            f"{owner}: {name} must be True or False, got {_shown(value)}"
        )
    return bool(value)


def check_known(owner: str, given: Iterable[str], allowed: Iterable[str]) -> None:
    """Refuse any name of ``given`` not in ``allowed``, suggesting the nearest valid one."""
    allowed = list(allowed)
    for key in given:
        if key not in allowed:
            near = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.5)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise HyperparameterTypeError(
                f"{owner}: unknown hyper-parameter {key!r}{hint} (valid: {', '.join(allowed)})"
            )


def reject_unknown_hyperparams(init: F) -> F:
    """Decorate an ``__init__`` so that bad keyword names get a helpful error.

    Unknown keyword arguments raise :class:`HyperparameterTypeError` naming the nearest
    valid hyper-parameter; a missing or surplus argument raises the same error with
    Python's own explanation.  The owner in the message is the instance's ``name``.
    The signature seen by :func:`inspect.signature` is unchanged.
    """
    signature = inspect.signature(init)
    allowed = [
        p.name
        for p in list(signature.parameters.values())[1:]  # skip self
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]

    @functools.wraps(init)
    def checked(self: Any, *args: Any, **kwargs: Any) -> None:
        owner = getattr(self, "name", type(self).__name__)
        check_known(owner, kwargs, allowed)
        try:
            signature.bind(self, *args, **kwargs)
        except TypeError as exc:
            raise HyperparameterTypeError(f"{owner}: {exc}") from None
        init(self, *args, **kwargs)

    return checked  # type: ignore[return-value]
