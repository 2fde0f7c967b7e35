"""Name -> factory registry of problem families (``problems.get/names/register``)."""

from __future__ import annotations

import difflib
from typing import Any, Callable

from .base import Problem

_FACTORIES: dict[str, Callable[..., Problem]] = {}


def register(name: str, factory: Callable[..., Problem]) -> Callable[..., Problem]:
    """Register ``factory`` (a class or function returning a Problem) under ``name``.

    Registering a name again replaces the earlier factory, so a user can override a
    built-in.  Returns the factory, so this can be used as a decorator-like call.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"problem name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise ValueError(f"problem factory for {name!r} must be callable, got {factory!r}")
    _FACTORIES[name] = factory
    return factory


def names() -> list[str]:
    """Registered problem names, sorted."""
    return sorted(_FACTORIES)


def factory(name: str) -> Callable[..., Problem]:
    """The factory registered under ``name``; ValueError with the nearest names if none."""
    try:
        return _FACTORIES[name]
    except (KeyError, TypeError):
        near = difflib.get_close_matches(str(name), names(), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ValueError(
            f"unknown problem {name!r}{hint} (known: {', '.join(names())})"
        ) from None


def get(name: str, **params: Any) -> Problem:
    """Build the problem ``name`` with ``params``: ``problems.get("quadratic", dim=2)``."""
    return factory(name)(**params)
