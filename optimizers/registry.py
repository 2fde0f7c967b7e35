"""Name -> factory registry of optimizers (``optimizers.get/names/register``).

A factory builds a :data:`~optimizers.base.Solver`: a stepwise
:class:`~optimizers.base.Optimizer` or a whole-run solver following
:class:`~optimizers.base.WholeRunSolver` (scipy's ``lbfgs`` and ``bfgs``).
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, TypeVar

from . import frameworks
from .base import Solver

#: A factory: a class or function that builds an optimizer or a whole-run solver.
Factory = Callable[..., Solver]
F = TypeVar("F", bound=Factory)

_FACTORIES: dict[str, Factory] = {}


def register(name: str, factory: F) -> F:
    """Register ``factory`` (a class or function returning an Optimizer or a whole-run
    solver) under ``name``.

    Registering a name again replaces the earlier factory, so a user can override a
    built-in.  Returns the factory, so this can be used as a decorator-like call.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"optimizer name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise ValueError(f"optimizer factory for {name!r} must be callable, got {factory!r}")
    _FACTORIES[name] = factory
    return factory


def names() -> list[str]:
    """Registered optimizer names, sorted."""
    return sorted(_FACTORIES)


def factory(name: str) -> Factory:
    """The factory registered under ``name``, or of the bridged name ``PACKAGE:NAME``
    (``torch:AdamW``, ``optax:adamw``: see :mod:`optimizers.frameworks`); ValueError with
    the nearest names if none."""
    try:
        return _FACTORIES[name]
    except (KeyError, TypeError):
        if frameworks.is_bridged(name):
            return frameworks.factory(name)
        near = difflib.get_close_matches(str(name), names(), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ValueError(
            f"unknown optimizer {name!r}{hint} (known: {', '.join(names())})"
        ) from None


def get(name: str, **params: Any) -> Solver:
    """Build the optimizer ``name`` with ``params``: ``optimizers.get("adam", lr=0.01)``,
    ``optimizers.get("torch:AdamW", lr=1e-3, weight_decay=0.01)``."""
    return factory(name)(**params)
