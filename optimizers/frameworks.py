"""Bridged names: ``PACKAGE:NAME`` resolves an optimizer of a known package, used as it is.

=====================  ==========================  ==========================================
prefix                 looked up in                bridge
=====================  ==========================  ==========================================
``torch:``             ``torch.optim``             :mod:`optimizers.torch_bridge`
``pytorch_optimizer:`` ``pytorch_optimizer``       :mod:`optimizers.torch_bridge`
``heavyball:``         ``heavyball``               :mod:`optimizers.torch_bridge`
``schedulefree:``      ``schedulefree``            :mod:`optimizers.torch_bridge`
``prodigyopt:``        ``prodigyopt``              :mod:`optimizers.torch_bridge`
``optax:``             ``optax``                   :mod:`optimizers.optax_bridge`
=====================  ==========================  ==========================================

``optimizers.get("torch:AdamW", lr=1e-3, weight_decay=0.01)`` and a suite's
``name = "torch:AdamW"`` build the class with those keyword arguments, which are
ordinary hyper-parameters (a list in a suite is a grid axis).  A suite is data: only
the packages above are imported by name, and only when one of their names is used;
a module of your own comes in through ``--plugin`` and registers its optimizers
with :func:`optimizers.register`.

What a name may resolve to: for the torch packages, a ``torch.optim.Optimizer``
subclass; for optax, a function returning a ``GradientTransformation`` (its
lower-case aliases such as ``adamw``).  Anything else (a module, a constant, a
scheduler) is refused with the nearest valid names.  A package that is not
installed is refused with the extra that brings it.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from typing import Any, Callable

#: prefix -> (module searched for the name, bridge module, the extra that installs it)
PACKAGES: dict[str, tuple[str, str, str]] = {
    "torch": ("torch.optim", "optimizers.torch_bridge", "torch"),
    "pytorch_optimizer": ("pytorch_optimizer", "optimizers.torch_bridge", "torch"),
    "heavyball": ("heavyball", "optimizers.torch_bridge", "torch"),
    "schedulefree": ("schedulefree", "optimizers.torch_bridge", "torch"),
    "prodigyopt": ("prodigyopt", "optimizers.torch_bridge", "torch"),
    "optax": ("optax", "optimizers.optax_bridge", "jax"),
}

_RESOLVED: dict[str, Callable[..., Any]] = {}


def is_bridged(name: Any) -> bool:
    """Whether ``name`` has the ``PACKAGE:NAME`` form (known package or not)."""
    return isinstance(name, str) and ":" in name


def _candidates(module: Any, is_torch: bool) -> list[str]:
    """The public names of ``module`` that can be bridged."""
    found = []
    for attr in dir(module):
        if attr.startswith("_"):
            continue
        obj = getattr(module, attr, None)
        if _usable(obj, is_torch):
            found.append(attr)
    return sorted(found)


def _usable(obj: Any, is_torch: bool) -> bool:
    if is_torch:
        import torch

        return inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer) \
            and obj is not torch.optim.Optimizer
    return inspect.isfunction(obj) or (callable(obj) and not inspect.isclass(obj)
                                        and not inspect.ismodule(obj))


def _import(package: str, module_name: str, extra: str, name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(
            f"optimizer {name!r} needs the package {package!r}, which cannot be imported "
            f"({err}); install it, e.g. pip install 'optbench[{extra}]'"
        ) from None


def target(name: str) -> tuple[Any, str]:
    """``(obj, bridge_module)`` for the bridged name ``PACKAGE:NAME``: the class or
    function it names and the module that bridges it.  ValueError naming the nearest
    valid names when the package is unknown or not installed or the name is not an
    optimizer of it."""
    package, _, attr = name.partition(":")
    if package not in PACKAGES:
        near = difflib.get_close_matches(package, list(PACKAGES), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ValueError(
            f"unknown optimizer package {package!r} in {name!r}{hint} (known: "
            f"{', '.join(PACKAGES)}; an optimizer of your own module comes in with --plugin)"
        )
    module_name, bridge_name, extra = PACKAGES[package]
    module = _import(package, module_name, extra, name)
    is_torch = bridge_name.endswith("torch_bridge")
    obj = getattr(module, attr, None) if attr and not attr.startswith("_") else None
    if not _usable(obj, is_torch):
        choices = _candidates(module, is_torch)
        near = difflib.get_close_matches(attr, choices, n=3)
        hint = f"; did you mean {', '.join(f'{package}:{n}' for n in near)}?" if near else ""
        what = "torch.optim.Optimizer class" if is_torch else "optax transformation"
        raise ValueError(f"{name!r} is not a {what} of {module_name}{hint}")
    return obj, bridge_name


def factory(name: str) -> Callable[..., Any]:
    """The factory of the bridged name ``PACKAGE:NAME``: a function taking the class's
    (or transformation's) keyword arguments, with its real signature, that builds the
    bridged optimizer (see :func:`target` for the errors)."""
    cached = _RESOLVED.get(name)
    if cached is None:
        obj, bridge_name = target(name)
        bridge = importlib.import_module(bridge_name)
        cached = _RESOLVED[name] = bridge.bridge_factory(obj, name)
    return cached
