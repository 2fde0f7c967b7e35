"""Name -> factory registry of problem families (``problems.get/names/register``),
and the selectors of the families that choose their instances by a filter
(``problems.select``)."""

from __future__ import annotations

import difflib
import functools
import inspect
from typing import Any, Callable

from .base import Problem

_FACTORIES: dict[str, Callable[..., Problem]] = {}

#: Selectors given to :func:`register`, by family name (see :func:`select`).
_SELECTORS: dict[str, Callable[..., dict[str, list[Any]]]] = {}


def register(
    name: str,
    factory: Callable[..., Problem],
    select: Callable[..., dict[str, list[Any]]] | None = None,
) -> Callable[..., Problem]:
    """Register ``factory`` (a class or function returning a Problem) under ``name``.

    ``select``, optional, is the family's selector: a function of keyword filters
    returning the grid they select as ``{parameter: [values]}`` (see :func:`select`).
    Registering a name again replaces the earlier factory and selector, so a user can
    override a built-in.  Returns the factory, so this can be used as a decorator-like
    call.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"problem name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise ValueError(f"problem factory for {name!r} must be callable, got {factory!r}")
    if select is not None and not callable(select):
        raise ValueError(f"problem selector for {name!r} must be callable, got {select!r}")
    _FACTORIES[name] = factory
    _SELECTORS.pop(name, None)
    if select is not None:
        _SELECTORS[name] = select
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


def _selector(name: str) -> Callable[..., dict[str, list[Any]]] | None:
    """The selector given to :func:`register` for ``name``, else the factory's own
    ``select`` attribute (a classmethod or staticmethod), else None."""
    if name in _SELECTORS:
        return _SELECTORS[name]
    own = getattr(factory(name), "select", None)
    return own if callable(own) else None


def select(name: str, /, **filters: Any) -> dict[str, list[Any]]:
    """The grid that ``filters`` select in the family ``name``, as parameter values.

    ``problems.select("cutest", max_dim=10)`` is ``{"problem": ["ALLINITU", ...]}``: a
    suite's ``select = {max_dim = 10}`` expands to exactly that grid, so its runs are
    those of a hand-written ``problem = [...]`` list.  A family supports selection
    when it was registered with ``register(name, factory, select=selector)`` (the
    cutest family: ``axis_selector("problem", problems.cutest.select)``), or when its factory
    has a callable ``select`` attribute (a classmethod or staticmethod); either one
    takes the filters as keyword arguments and returns ``{parameter: [values]}``.

    Every family also takes the filter ``exclude``, a list of values dropped from the
    selection after the family's own filters (``exclude = ["DIAMON2DLS"]``); each must
    be one that the other filters select, so that a misspelt name is an error, not a
    silent no-op.

    Raises ValueError for a family without selection, for a filter the selector does
    not take (naming the filters it takes) and for a bad filter value (the selector's
    own error, naming the filter).  The result may hold empty lists: a filter that
    selects nothing is not an error here.
    """
    exclude = filters.pop("exclude", None)
    if exclude is not None and (not isinstance(exclude, (list, tuple))
                                or not all(isinstance(v, str) for v in exclude)):
        raise ValueError(f"problem {name!r}: exclude must be a list of names, got {exclude!r}")
    chooser = _selector(name)
    if chooser is None:
        able = [n for n in names() if _selector(n) is not None]
        raise ValueError(
            f"problem {name!r} has no select (families with select: {', '.join(able) or 'none'})"
        )
    allowed = _keyword_names(chooser)
    if allowed is not None:
        for key in filters:
            if key not in allowed:
                near = difflib.get_close_matches(key, [*allowed, "exclude"], n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise ValueError(
                    f"problem {name!r}: unknown filter {key!r}{hint} "
                    f"(filters: {', '.join([*allowed, 'exclude'])})"
                )
    grid = chooser(**filters)
    if not isinstance(grid, dict) or not all(isinstance(v, list) for v in grid.values()):
        raise TypeError(
            f"the selector of problem {name!r} must return a dict of lists, got {grid!r}"
        )
    if exclude:
        chosen = {v for values in grid.values() for v in values}
        unknown = [v for v in exclude if v not in chosen]
        if unknown:
            raise ValueError(f"problem {name!r}: exclude names {', '.join(map(repr, unknown))}, "
                             "which the other filters do not select")
        grid = {key: [v for v in values if v not in exclude] for key, values in grid.items()}
    return grid


def _keyword_names(func: Callable[..., Any]) -> list[str] | None:
    """Keyword names ``func`` takes, or None when it takes any (``**kwargs``)."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return [p.name for p in sig.parameters.values() if p.kind in kinds]


def axis_selector(
    parameter: str, choose: Callable[..., list[Any]]
) -> Callable[..., dict[str, list[Any]]]:
    """A selector from ``choose``, a function of filters returning the values of one
    parameter: ``axis_selector("problem", cutest.select)`` returns
    ``{"problem": cutest.select(**filters)}``, with ``choose``'s signature (so the
    filters it takes are known)."""

    @functools.wraps(choose)
    def selector(**filters: Any) -> dict[str, list[Any]]:
        return {parameter: list(choose(**filters))}

    # choose's filters (wraps would give choose's return annotation too)
    selector.__signature__ = inspect.signature(choose).replace(  # type: ignore[attr-defined]
        return_annotation="dict[str, list[Any]]")
    return selector
