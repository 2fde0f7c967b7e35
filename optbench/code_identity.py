"""The code that makes a run: a fingerprint of the problem's and the optimizer's source.

A run is named by its spec's hash (:meth:`RunSpec.run_id`), which says *what* was
run; :func:`fingerprint` says *with which code*.  Each stored run keeps its
fingerprint (``code`` in its metadata), and a study re-runs a stored run whose
fingerprint differs from the current code's instead of skipping it
(:func:`optbench.study.plan`): a user who edits her optimizer and runs the suite
again gets new numbers, never the old ones.

What is hashed (sha256, 16 hex digits per side):

- a class (a built-in problem or optimizer): the source of every class in its method
  resolution order except Python's own (``object``, ``ABC``, ``Generic``), so an edit
  to ``Adam`` or to the ``Optimizer`` base re-runs Adam's runs, an edit to ``AdamW``
  does not;
- a function: its source;
- a plugin's factory (defined outside ``problems`` and ``optimizers``): its whole
  module's source, since a plugin's helpers live beside it;
- a bridged optimizer (``torch:AdamW``, ``optax:adamw``): the bridged class's or
  function's source as above, its package's version, and the bridge module's source.

Where no source can be read (a compiled extension, a class made at run time) the
module, qualified name and package version stand in for it.  What a class calls in
other modules (the fused kernels, numpy) is not covered: the trace format
(:data:`optbench.spec.TRACE_FORMAT`) and the environment stored with each run cover
those.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import inspect
import sys
from typing import Any, Callable

import optimizers
import problems
from optimizers import frameworks

from .spec import RunSpec

#: Top-level packages whose classes are optbench's own (hashed class by class).
OWN_PACKAGES = ("problems", "optimizers")

_SKIPPED_MODULES = ("builtins", "abc", "typing")

_cache: dict[tuple[str, str], tuple[Any, str]] = {}


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _version_of(module_name: str) -> str:
    top = module_name.split(".")[0]
    module = sys.modules.get(top)
    declared = getattr(module, "__version__", None)
    if isinstance(declared, str):
        return declared
    for dist in importlib.metadata.packages_distributions().get(top, []):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def _object_text(obj: Any) -> str:
    """Source of a class (its own classes in MRO order) or a function."""
    if inspect.isclass(obj):
        return "\n".join(_source(cls) for cls in obj.__mro__
                         if cls.__module__ not in _SKIPPED_MODULES)
    return _source(obj)


def _factory_text(factory: Callable[..., Any]) -> str:
    module_name = getattr(factory, "__module__", None) or ""
    if module_name.split(".")[0] in OWN_PACKAGES:
        return _object_text(factory)
    module = sys.modules.get(module_name)  # a plugin: its whole module
    return _source(module) if module is not None else _object_text(factory)


def _bridged_text(name: str) -> str:
    obj, bridge_module = frameworks.target(name)
    module_name = getattr(obj, "__module__", "") or ""
    bridge = importlib.import_module(bridge_module)
    return "\n".join((_object_text(obj), f"version {_version_of(module_name)}", _source(bridge)))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def code_hash(kind: str, name: str) -> str:
    """Fingerprint of the code behind problem or optimizer ``name`` (``kind`` is
    ``"problem"`` or ``"optimizer"``), cached per registered factory."""
    registry = problems if kind == "problem" else optimizers
    factory = registry.factory(name)
    cached = _cache.get((kind, name))
    if cached is not None and cached[0] is factory:
        return cached[1]
    bridged = kind == "optimizer" and frameworks.is_bridged(name) and name not in optimizers.names()
    digest = _digest(_bridged_text(name) if bridged else _factory_text(factory))
    _cache[(kind, name)] = (factory, digest)
    return digest


def fingerprint(spec: RunSpec) -> dict[str, str]:
    """``{"problem": hash, "optimizer": hash}`` of the code that runs ``spec`` now."""
    return {"problem": code_hash("problem", spec.problem),
            "optimizer": code_hash("optimizer", spec.optimizer)}


def stale_because(stored: Any, spec: RunSpec) -> str | None:
    """Why a stored run of ``spec`` with fingerprint ``stored`` must run again, or None.

    A run stored without a fingerprint (before this existed) runs again too: which
    code made it cannot be known."""
    if not isinstance(stored, dict):
        return "stored without a code fingerprint"
    now = fingerprint(spec)
    changed = [kind for kind in ("problem", "optimizer") if stored.get(kind) != now[kind]]
    if not changed:
        return None
    names = {"problem": spec.problem, "optimizer": spec.optimizer}
    return " and ".join(f"{kind} {names[kind]}" for kind in changed) + " code changed"
