"""``--plugin MODULE``: the user's modules, imported by name, and what each run records of them.

A plugin is a Python module that registers problems, optimizers or claims
(``problems.register``, ``optimizers.register``, ``optbench.claims.register``).  It is
found as ``python -m`` finds a module: the working directory first, then
``sys.path``; so ``optbench run my_suite.toml --plugin lion_opt`` finds
``./lion_opt.py``.  Every worker process imports the same modules before its first
run (it starts in the same working directory; a remote dask worker needs the module
installed).

Each run stores the plugins it was made with (:func:`provenance`: the module name,
its version where it declares one, and a hash of its source file), so that
``optbench verify`` can say that a plugin is missing instead of reporting a
mismatch, and so that a run made by other code is never mistaken for this code's
(:mod:`optbench.code_identity`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any, Iterable


class PluginError(ImportError):
    """A ``--plugin`` module that cannot be imported; the message says where it was looked for."""


def _working_directory_on_path() -> None:
    """Put the working directory first on ``sys.path``, as ``python -m`` does (once)."""
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)


#: What ``--plugin`` takes: a dotted module name, as ``python -m`` takes (never a path).
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def check_plugin_name(name: str) -> None:
    """PluginError unless ``name`` is a dotted module name (``lion_opt``, ``mypkg.lion``):
    a path (``../x``, ``lion_opt.py``) or a relative name (``..x``) is refused."""
    if isinstance(name, str) and MODULE_NAME.fullmatch(name) and not name.endswith(".py"):
        return
    hint = ""
    if isinstance(name, str) and name.endswith(".py") and MODULE_NAME.fullmatch(Path(name).stem):
        hint = f" (for the file {name}, give --plugin {Path(name).stem} from its folder)"
    raise PluginError(f"plugin must be a module name such as lion_opt or mypkg.lion (found as "
                      f"python -m finds modules, never a path), got {name!r}{hint}")


def _where(err: BaseException, name: str) -> str:
    """`` (FILE, line N)`` of the plugin's own frame that raised ``err``, or ""."""
    if isinstance(err, SyntaxError) and err.filename:
        return f" ({err.filename}, line {err.lineno})"
    frames = traceback.extract_tb(err.__traceback__)
    own = [f for f in frames if "importlib" not in f.filename and "<frozen" not in f.filename]
    return f" ({own[-1].filename}, line {own[-1].lineno})" if own else ""


def _import_one(name: str) -> None:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name is not None and name.split(".")[0] != err.name.split(".")[0]:
            raise PluginError(f"plugin {name!r} failed while importing: ModuleNotFoundError: "
                              f"{err}{_where(err, name)}") from None
        raise PluginError(
            f"plugin {name!r} cannot be imported: No module named {err.name!r} (looked in the "
            f"working directory, {os.getcwd()}, and on sys.path)"
        ) from None
    except Exception as err:  # the plugin's own code raised, or is not valid Python
        message = err.msg if isinstance(err, SyntaxError) else str(err)
        text = " ".join(str(message).split()) or "no message"
        raise PluginError(f"plugin {name!r} failed while importing: {type(err).__name__}: "
                          f"{text}{_where(err, name)}") from None


def import_plugins(plugins: Iterable[str]) -> None:
    """Import the modules a user named explicitly (``--plugin``), so that the problems,
    optimizers and claims they register exist in this process.

    PluginError (an ImportError), in one line, when a name is not a module name (a
    path is refused before anything is imported), when a module cannot be found
    (naming where it was looked for), or when importing it raised (naming the error
    and the plugin's file and line, SyntaxError included)."""
    plugins = list(plugins)
    if not plugins:
        return
    for name in plugins:
        check_plugin_name(name)
    _working_directory_on_path()
    for name in plugins:
        if name not in sys.modules:
            _import_one(name)


def _version(module: Any) -> str | None:
    declared = getattr(module, "__version__", None)
    if isinstance(declared, str):
        return declared
    top = module.__name__.split(".")[0]
    for dist in importlib.metadata.packages_distributions().get(top, []):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def source_hash(module: Any) -> str | None:
    """sha256 (16 hex digits) of the module's source file, or None where it has none."""
    path = getattr(module, "__file__", None)
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()[:16]
    except OSError:
        return None


def provenance(plugins: Iterable[str]) -> list[dict[str, Any]]:
    """``[{"module": name, "version": ..., "source": sha}]`` of the imported plugins, in order.

    ``version`` is the module's ``__version__`` or its distribution's version, else
    None; ``source`` hashes the module's file (a plugin edited in place changes it)."""
    found = []
    for name in plugins:
        module = sys.modules.get(name)
        if module is None:
            continue
        found.append({"module": name, "version": _version(module), "source": source_hash(module)})
    return found
