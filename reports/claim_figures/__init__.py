"""The figures of the built-in claims, drawn from their evidence.

A claim (:mod:`optbench.claims`) is an experiment and a criterion; its figure lives
here, with the other figures, so that the harness never imports :mod:`reports`.
Each module of this package draws the figures of one family of claims and defines
``FIGURES``, a dict ``{claim key: figure(evidence) -> Figure | None}``;
:func:`figure_for` looks a key up in all of them.  A claim registered by a user
(``--plugin``) may still bring its own ``figure``, which the report prefers
(:func:`reports.claims.claim_figure`).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import Any, Callable

Figure = Any  # matplotlib.figure.Figure: imported by the figure modules only


@functools.lru_cache(maxsize=1)
def _figures() -> dict[str, Callable[[Any], Figure | None]]:
    """Every module's ``FIGURES``, merged (a key drawn twice is an error)."""
    merged: dict[str, Callable[[Any], Figure | None]] = {}
    for module in pkgutil.iter_modules(__path__):
        figures = getattr(importlib.import_module(f"{__name__}.{module.name}"), "FIGURES", {})
        twice = set(merged) & set(figures)
        if twice:
            raise ValueError(f"claim figures drawn by two modules: {sorted(twice)}")
        merged.update(figures)
    return merged


def figure_for(key: str) -> Callable[[Any], Figure | None] | None:
    """The figure function of the built-in claim ``key`` (None if it has none)."""
    return _figures().get(key)


def keys() -> list[str]:
    """The claim keys that have a figure here."""
    return sorted(_figures())
