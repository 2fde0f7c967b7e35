"""The lecture's claims as executable experiments with verdicts.

>>> from optbench import claims
>>> claim = claims.get(claims.names()[0])
>>> claim.number >= 1
True

Built-in claims live in the modules listed in :data:`BUILTIN_MODULES`, each of which
defines ``CLAIMS``, a list of :class:`Claim`; :func:`register` adds a user's claim
(from a ``--plugin`` module) to the same registry.  See :mod:`optbench.claims.base`
for what a claim is.
"""

from __future__ import annotations

import importlib

from .base import (FAILS, HOLDS, INCONCLUSIVE, KINDS, OUTCOMES, Arm, Budget, Claim, Evidence,
                   Verdict, map_text, verdict_text)

__all__ = [
    "Arm", "Budget", "Claim", "Evidence", "FAILS", "HOLDS", "INCONCLUSIVE", "KINDS", "OUTCOMES",
    "Verdict", "get", "map_text", "names", "register", "unregister", "verdict_text",
]

#: Modules (in this package) that hold the built-in claims, each a list ``CLAIMS``.
BUILTIN_MODULES = ("dynamics", "adaptive", "nets")

_REGISTRY: dict[str, Claim] = {}
_loaded = False


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN_MODULES:
        for claim in importlib.import_module(f"{__name__}.{module}").CLAIMS:
            register(claim)


def register(claim: Claim, *, replace: bool = False) -> Claim:
    """Add ``claim`` to the registry (refused if its key is taken, unless ``replace``)."""
    if not isinstance(claim, Claim):
        raise TypeError(f"register() takes a Claim, got {type(claim).__name__}")
    _load_builtin()
    if claim.key in _REGISTRY and not replace and _REGISTRY[claim.key] is not claim:
        raise ValueError(f"a claim named {claim.key!r} is already registered")
    _REGISTRY[claim.key] = claim
    return claim


def unregister(key: str) -> Claim:
    """Remove the claim named ``key`` from the registry and return it (a test, or a
    user replacing a claim, puts the registry back as it was)."""
    _load_builtin()
    try:
        return _REGISTRY.pop(key)
    except KeyError:
        raise ValueError(f"unknown claim {key!r}; known: {', '.join(names())}") from None


def names() -> list[str]:
    """Keys of every registered claim, built-in ones by number, then users' by key."""
    _load_builtin()
    return [c.key for c in sorted(_REGISTRY.values(), key=lambda c: (c.number or 10**6, c.key))]


def get(key: str) -> Claim:
    """The claim named ``key``; the error lists the known names."""
    _load_builtin()
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ValueError(f"unknown claim {key!r}; known: {', '.join(names())}") from None
