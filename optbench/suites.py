"""Suite files (TOML) and built-in suites, expanded into RunSpecs.

A suite's top-level keys set the study (``seeds``, ``steps``, ``record_every`` and
the run options ``tol_grad``, ``tol_subopt``, ``diverge_factor``); each
``[[problems]]`` and ``[[optimizers]]`` table names one family with ``name`` and
sets its parameters.  Inside a table, every list is a grid axis: the table expands
to the cartesian product of its lists.  A parameter whose value is itself a list
is written as a grid of one (``hidden = [[64, 64]]``).  The study is the product
problems x optimizers x seeds.  Unknown keys are errors naming the nearest valid
key; nothing is silently ignored.
"""

from __future__ import annotations

import difflib
import inspect
import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optimizers
import problems

from .build import HARNESS_OPTIMIZER_KEYS, build_optimizer, build_problem
from .spec import RUN_OPTIONS, RunSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: Top-level keys of a suite file and what they hold.
TOP_LEVEL_KEYS = {
    "name": "the suite's name (text)",
    "description": "one line on what the suite shows (text)",
    "seeds": "run seeds: an integer or a list of integers >= 0",
    "steps": "step budget per run: an integer >= 1",
    "record_every": "record a trace row every k steps: an integer >= 1",
    "problems": "[[problems]] tables",
    "optimizers": "[[optimizers]] tables",
    **{key: f"run option (default {value!r})" for key, value in RUN_OPTIONS.items()},
}

#: Where the built-in suites (package data) live.
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin_suites"

DEFAULTS = {"seeds": [0], "steps": 100, "record_every": 1}


class SuiteError(ValueError):
    """A suite that cannot be used; the message names the file and what is wrong."""


@dataclass
class Suite:
    name: str
    source: str
    description: str = ""
    specs: list[RunSpec] = field(default_factory=list)
    problem_configs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    optimizer_configs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def builtin_names() -> list[str]:
    """Names of the suites shipped with optbench (``quick``, ``standard``...)."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def _nearest(word: str, choices: list[str]) -> str:
    near = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {near[0]!r}?" if near else ""


def load_suite(name_or_path: str | Path) -> Suite:
    """Read a suite from a TOML file or by built-in name, and expand it."""
    path = Path(name_or_path)
    if path.is_file():
        text, source = path.read_text(encoding="utf-8"), str(path)
    elif str(name_or_path) in builtin_names():
        res = BUILTIN_DIR / f"{name_or_path}.toml"
        text, source = res.read_text(encoding="utf-8"), f"built-in suite {name_or_path!r}"
    else:
        raise SuiteError(
            f"no suite file or built-in suite named {str(name_or_path)!r} "
            f"(built-in: {', '.join(builtin_names())})"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SuiteError(f"{source}: malformed TOML: {err}") from None
    default_name = path.stem if path.is_file() else str(name_or_path)
    return parse_suite(data, source=source, default_name=default_name)


def _accepted_params(factory: Any) -> list[str] | None:
    """Keyword names the factory takes, or None when it takes any (**kwargs)."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    names = []
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            return None
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.append(p.name)
    return names


def _expand_table(where: str, table: dict[str, Any]) -> list[dict[str, Any]]:
    axes = []
    for key, value in table.items():
        if isinstance(value, list):
            if not value:
                raise SuiteError(f"{where}: {key} is an empty list (an empty grid runs nothing)")
            axes.append([(key, v) for v in value])
        else:
            axes.append([(key, value)])
    return [dict(combo) for combo in itertools.product(*axes)]


def _configs(source: str, kind: str, tables: Any) -> list[tuple[str, dict[str, Any]]]:
    registry = problems if kind == "problems" else optimizers
    if not isinstance(tables, list) or not tables:
        raise SuiteError(f"{source}: needs at least one [[{kind}]] table")
    configs: list[tuple[str, dict[str, Any]]] = []
    seen: dict[str, str] = {}
    for i, table in enumerate(tables):
        where = f"{source}: {kind}[{i}]"
        if not isinstance(table, dict):
            raise SuiteError(f"{where}: must be a table, got {table!r}")
        table = dict(table)
        name = table.pop("name", None)
        if not isinstance(name, str):
            raise SuiteError(f"{where}: needs name = one of {', '.join(registry.names())}")
        where = f"{where} ({name})"
        try:
            factory = registry.factory(name)
        except ValueError as err:
            raise SuiteError(f"{where}: {err}") from None
        accepted = _accepted_params(factory)
        if accepted is not None:
            if kind == "optimizers":
                accepted = accepted + list(HARNESS_OPTIMIZER_KEYS)
            for key in table:
                if key not in accepted:
                    raise SuiteError(
                        f"{where}: unknown parameter {key!r}{_nearest(key, accepted)} "
                        f"(allowed: {', '.join(accepted)})"
                    )
        for params in _expand_table(where, table):
            ident = repr((name, sorted(params.items())))
            if ident in seen:
                raise SuiteError(f"{where}: duplicates a configuration of {seen[ident]}")
            seen[ident] = where
            configs.append((name, params))
    return configs


def _int_setting(source: str, data: dict[str, Any], key: str, minimum: int) -> int:
    value = data.get(key, DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SuiteError(f"{source}: {key} must be an integer >= {minimum}, got {value!r}")
    return value


def parse_suite(data: dict[str, Any], *, source: str = "<suite>", default_name: str = "suite") -> Suite:
    """Validate the keys of parsed TOML data and expand it into RunSpecs."""
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise SuiteError(
                f"{source}: unknown key {key!r}{_nearest(key, list(TOP_LEVEL_KEYS))} "
                f"(allowed: {', '.join(TOP_LEVEL_KEYS)})"
            )
    seeds = data.get("seeds", DEFAULTS["seeds"])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if (
        not isinstance(seeds, list)
        or not seeds
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds)
    ):
        raise SuiteError(f"{source}: seeds must be an integer or a non-empty list of integers >= 0, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise SuiteError(f"{source}: seeds has duplicates: {seeds!r}")
    steps = _int_setting(source, data, "steps", 1)
    record_every = _int_setting(source, data, "record_every", 1)
    options = {key: data[key] for key in RUN_OPTIONS if key in data}
    for key, value in options.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise SuiteError(f"{source}: {key} must be a number >= 0, got {value!r}")
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise SuiteError(f"{source}: {key} must be text, got {data[key]!r}")

    problem_configs = _configs(source, "problems", data.get("problems"))
    optimizer_configs = _configs(source, "optimizers", data.get("optimizers"))
    specs = [
        RunSpec(
            problem=pname,
            problem_params=pparams,
            optimizer=oname,
            optimizer_params=oparams,
            seed=seed,
            steps=steps,
            record_every=record_every,
            options=options,
        )
        for (pname, pparams), (oname, oparams), seed in itertools.product(
            problem_configs, optimizer_configs, seeds
        )
    ]
    return Suite(
        name=data.get("name", default_name),
        source=source,
        description=data.get("description", ""),
        specs=specs,
        problem_configs=problem_configs,
        optimizer_configs=optimizer_configs,
    )


def validate(suite: Suite) -> None:
    """Build every problem and optimizer configuration once, so that bad values fail
    before anything runs (and serial runs reuse the built problems)."""
    built_problems = []
    for i, (name, params) in enumerate(suite.problem_configs):
        try:
            built_problems.append(build_problem(name, params))
        except (TypeError, ValueError, ImportError) as err:
            raise SuiteError(f"{suite.source}: problem {name} {params}: {err}") from None
    for name, params in suite.optimizer_configs:
        try:
            opt = build_optimizer(name, params)
        except (TypeError, ValueError) as err:
            raise SuiteError(f"{suite.source}: optimizer {name} {params}: {err}") from None
        if "hess" in getattr(opt, "needs", ()):
            for (pname, pparams), problem in zip(suite.problem_configs, built_problems):
                if not getattr(problem, "has_hess", False):
                    raise SuiteError(
                        f"{suite.source}: optimizer {name} needs a Hessian, "
                        f"but problem {pname} {pparams} has none"
                    )
