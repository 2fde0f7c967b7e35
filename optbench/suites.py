"""Suite files (TOML) and built-in suites, expanded into RunSpecs.

A suite's top-level keys set the study (``seeds``, ``steps``, ``record_every`` and
the run options ``tol_grad``, ``tol_subopt``, ``diverge_factor``); each
``[[problems]]`` and ``[[optimizers]]`` table names one family with ``name`` and
sets its parameters.  Inside a table, every list is a grid axis: the table expands
to the cartesian product of its lists.  A parameter whose value is itself a list
is written as a grid of one (``hidden = [[64, 64]]``).  The study is the product
problems x optimizers x seeds; an optimizer table's ``problems = ["quadratic", ...]``
restricts it to those problem families (it is neither a grid nor a parameter), and
pairs that cannot run (a Hessian method on a problem without one) are dropped by
:func:`validate` with a note.  Unknown keys are errors naming the nearest valid
key; nothing is silently ignored.

A problem table of a family that supports selection (see :func:`problems.select`;
today ``cutest``) may choose its instances by a filter instead of a list:
``select = {max_dim = 100, classification = "C-CS*"}`` is replaced, where it stands,
by the grid the filter selects (for cutest the ``problem`` axis, sorted names), and
that grid combines with the table's other lists as any grid does.  The runs carry the
selected values, not the filter, so they are the runs (and have the run ids) of the
same table with ``problem = [...]`` written out; the selection is made when the suite
is read, so a new version of the collection can select other problems.  ``select``
together with a key it sets (``problem``), an unknown filter, a bad filter value or a
filter that selects nothing are errors.
"""

from __future__ import annotations

import difflib
import inspect
import itertools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optimizers
import problems
from optimizers import frameworks

from .build import HARNESS_OPTIMIZER_KEYS, build_optimizer, build_problem
from .spec import RUN_OPTIONS, RunSpec, check_run_option

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
    "tune": "[tune] table: search each optimizer's hyper-parameters before the runs that count",
    **{key: f"run option (default {value!r})" for key, value in RUN_OPTIONS.items()},
}

#: Where the built-in suites (package data) live.
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin_suites"

DEFAULTS = {"seeds": [0], "steps": 100, "record_every": 1}

#: Keys of a suite's [tune] table (see optbench.tuning.tune) and their defaults.
TUNE_DEFAULTS: dict[str, Any] = {
    "method": "random",
    "budget": 20,
    "rounds": 3,
    "shrink": 0.3,
    "grid_points": None,
    "objective": "final",
    "target": 1e-6,
    "search_seeds": [1000],
    "search_seed": 0,
    "space": {},
}


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
    #: Why runs of the grid were left out by :func:`validate` ("6 runs: newton ...").
    skipped: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    steps: int = 100
    record_every: int = 1
    options: dict[str, Any] = field(default_factory=dict)
    #: The [tune] settings with defaults filled in, or None for a suite without one.
    tune: dict[str, Any] | None = None


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


def validate_params(kind: str, name: str, params: dict[str, Any]) -> None:
    """Check parameter names of one problem or optimizer (``kind`` "problems" or
    "optimizers") against its factory: SuiteError naming the nearest valid name."""
    registry = problems if kind == "problems" else optimizers
    try:
        factory = registry.factory(name)
    except ValueError as err:
        raise SuiteError(str(err)) from None
    accepted = _accepted_params(factory)
    if accepted is None:
        return
    if kind == "optimizers":
        accepted = accepted + list(HARNESS_OPTIMIZER_KEYS)
    for key in params:
        if key not in accepted:
            allowed = (f"signature: {name}{inspect.signature(factory)}"
                       if frameworks.is_bridged(name) else f"allowed: {', '.join(accepted)}")
            raise SuiteError(
                f"{kind[:-1]} {name}: unknown parameter {key!r}{_nearest(key, accepted)} ({allowed})"
            )


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


def _only_on(where: str, value: Any) -> frozenset[str]:
    """An optimizer table's ``problems = [...]``: the problem families it runs on."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise SuiteError(f"{where}: problems must be a non-empty list of problem names, got {value!r}")
    for name in value:
        if name not in problems.names():
            raise SuiteError(
                f"{where}: problems: unknown problem {name!r}{_nearest(name, problems.names())}"
            )
    return frozenset(value)


def _selected(where: str, name: str, table: dict[str, Any]) -> dict[str, Any]:
    """A problem table with its ``select = {...}`` replaced, where it stands, by the
    grid the filters select in family ``name`` (:func:`problems.select`)."""
    filters = table["select"]
    if not isinstance(filters, dict):
        raise SuiteError(
            f"{where}: select must be an inline table of filters such as "
            f'{{max_dim = 100, classification = "C-CS*"}}, got {filters!r}'
        )
    shown = "{" + ", ".join(f"{k} = {json.dumps(v, default=str)}" for k, v in filters.items()) + "}"
    try:
        grid = problems.select(name, **filters)
    except (TypeError, ValueError, ImportError) as err:
        raise SuiteError(f"{where}: select: {err}") from None
    both = [key for key in grid if key in table]
    if both:
        raise SuiteError(
            f"{where}: select sets {both[0]!r}, which the table also gives: "
            f"use either select = {shown} or {both[0]} = [...], not both"
        )
    if not grid or not all(grid.values()):
        raise SuiteError(
            f"{where}: select = {shown} selects no {name} problem (an empty grid runs nothing)"
        )
    expanded: dict[str, Any] = {}
    for key, value in table.items():
        if key == "select":
            expanded.update(grid)
        else:
            expanded[key] = value
    return expanded


def _configs(
    source: str, kind: str, tables: Any
) -> list[tuple[str, dict[str, Any], frozenset[str] | None]]:
    """``(name, params, only_on)`` per configuration of the ``[[kind]]`` tables.

    ``only_on`` is the set of problem families an optimizer table is restricted to
    by its ``problems`` key (not a grid, not an optimizer parameter), else None.
    """
    registry = problems if kind == "problems" else optimizers
    if not isinstance(tables, list) or not tables:
        raise SuiteError(f"{source}: needs at least one [[{kind}]] table")
    configs: list[tuple[str, dict[str, Any], frozenset[str] | None]] = []
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
        only_on = None
        if kind == "optimizers" and "problems" in table:
            only_on = _only_on(where, table.pop("problems"))
        if kind == "problems" and "select" in table:
            table = _selected(where, name, table)
        try:
            validate_params(kind, name, table)
        except SuiteError as err:
            raise SuiteError(f"{where}: {err}") from None
        for params in _expand_table(where, table):
            ident = _key(name, params)
            if ident in seen:
                raise SuiteError(f"{where}: duplicates a configuration of {seen[ident]}")
            seen[ident] = where
            configs.append((name, params, only_on))
    return configs


def _int_setting(source: str, data: dict[str, Any], key: str, minimum: int) -> int:
    value = data.get(key, DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SuiteError(f"{source}: {key} must be an integer >= {minimum}, got {value!r}")
    return value


def _check_name(source: str, name: str) -> None:
    """A suite's name names the results folder ``results/NAME``: it is a name, never a
    path (no separator, no ``..``), so a suite cannot write outside ``results/``."""
    if not name.strip() or name in (".", "..") or any(c in name for c in "/\\:\0"):
        raise SuiteError(f"{source}: name must be a plain name (no /, \\, :, and not . or ..; it names "
                         f"the folder results/NAME), got {name!r}")


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
        raise SuiteError(
            f"{source}: seeds must be an integer or a non-empty list of integers >= 0, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise SuiteError(f"{source}: seeds has duplicates: {seeds!r}")
    steps = _int_setting(source, data, "steps", 1)
    record_every = _int_setting(source, data, "record_every", 1)
    options = {key: data[key] for key in RUN_OPTIONS if key in data}
    for key, value in options.items():
        allowed = check_run_option(key, value)
        if allowed is not None:
            raise SuiteError(f"{source}: {key} must be {allowed}, got {value!r}")
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise SuiteError(f"{source}: {key} must be text, got {data[key]!r}")
    _check_name(source, data.get("name", default_name))

    problem_configs = _configs(source, "problems", data.get("problems"))
    optimizer_configs = _configs(source, "optimizers", data.get("optimizers"))
    tune = _tune_settings(source, data["tune"], seeds) if "tune" in data else None
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
        for (pname, pparams, _), (oname, oparams, only_on), seed in itertools.product(
            problem_configs, optimizer_configs, seeds
        )
        if only_on is None or pname in only_on
    ]
    if not specs:
        raise SuiteError(f"{source}: no optimizer table applies to any problem (see their problems keys)")
    return Suite(
        name=data.get("name", default_name),
        source=source,
        description=data.get("description", ""),
        specs=specs,
        problem_configs=[(name, params) for name, params, _ in problem_configs],
        optimizer_configs=[(name, params) for name, params, _ in optimizer_configs],
        seeds=list(seeds),
        steps=steps,
        record_every=record_every,
        options=options,
        tune=tune,
    )


def _tune_settings(source: str, table: Any, seeds: list[int]) -> dict[str, Any]:
    """The [tune] table checked and completed with :data:`TUNE_DEFAULTS`.

    In a suite with a [tune] table the top-level ``seeds`` are the evaluation seeds
    (the runs that count) and ``search_seeds`` (default [1000]) the seeds of the
    search; the two must not overlap.
    """
    from . import tuning

    where = f"{source}: tune"
    if not isinstance(table, dict):
        raise SuiteError(f"{where} must be a table, got {table!r}")
    for key in table:
        if key not in TUNE_DEFAULTS:
            raise SuiteError(
                f"{where}: unknown key {key!r}{_nearest(key, list(TUNE_DEFAULTS))} "
                f"(allowed: {', '.join(TUNE_DEFAULTS)})"
            )
    settings = {**TUNE_DEFAULTS, **table}
    if settings["method"] not in tuning.METHODS:
        raise SuiteError(f"{where}: method must be one of {', '.join(tuning.METHODS)}, "
                         f"got {settings['method']!r}")
    if settings["objective"] not in tuning.OBJECTIVES:
        raise SuiteError(f"{where}: objective must be one of {', '.join(tuning.OBJECTIVES)}, "
                         f"got {settings['objective']!r}")
    budget = settings["budget"]
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise SuiteError(f"{where}: budget must be an integer >= 1 (runs), got {budget!r}")
    search = settings["search_seeds"]
    if isinstance(search, int) and not isinstance(search, bool):
        search = settings["search_seeds"] = [search]
    if (not isinstance(search, list) or not search
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in search)):
        raise SuiteError(f"{where}: search_seeds must be a list of integers >= 0, got {search!r}")
    overlap = sorted(set(search) & set(seeds))
    if overlap:
        raise SuiteError(f"{where}: search_seeds {overlap} are also evaluation seeds (seeds): "
                         "the runs that count must use seeds the search never saw")
    space = settings["space"]
    if not isinstance(space, dict):
        raise SuiteError(f"{where}: space must be a table of optimizer tables, got {space!r}")
    for name, dims in space.items():
        if name not in optimizers.names():
            raise SuiteError(f"{where}: space: unknown optimizer {name!r}"
                             f"{_nearest(name, optimizers.names())}")
        try:
            tuning.spaces_from_dict(dims)
        except (TypeError, ValueError) as err:
            raise SuiteError(f"{where}: space.{name}: {err}") from None
    return settings


def validate(suite: Suite) -> Suite:
    """Build every problem and optimizer configuration once, so that bad values fail
    before anything runs (and serial runs reuse the built problems).

    Pairs that cannot run (a method that needs a Hessian, or Hessian-vector products,
    on a problem without them) are dropped from ``suite.specs`` and described in
    ``suite.skipped``, so that one suite can hold nets and Newton alike.  Returns the
    suite.
    """
    from problems.memory import check_fits

    built_problems = {}
    for name, params in suite.problem_configs:
        try:
            # refuse, before allocating anything, a problem that cannot fit in memory
            check_fits(name, problems.factory(name), params)
            built_problems[_key(name, params)] = build_problem(name, params)
        except (TypeError, ValueError, ImportError) as err:
            raise SuiteError(f"{suite.source}: problem {name} {params}: {err}") from None
    needs = {}
    cannot: dict[str, str] = {}
    for name, params in suite.optimizer_configs:
        try:
            opt = build_optimizer(name, {**_tuned_example(suite, name), **params})
        except (TypeError, ValueError) as err:
            raise SuiteError(f"{suite.source}: optimizer {name} {params}: {err}") from None
        needs[_key(name, params)] = tuple(getattr(opt, "needs", ("grad",)))
        if frameworks.is_bridged(name):
            why = probe_flat_vector(opt)
            if why is not None:
                cannot[_key(name, params)] = why
    kept: list[RunSpec] = []
    dropped: dict[str, int] = {}
    for spec in suite.specs:
        why = cannot.get(_key(spec.optimizer, spec.optimizer_params))
        if why is not None:
            why = f"{spec.optimizer_label} cannot run on a flat parameter vector: {why}"
            dropped[why] = dropped.get(why, 0) + 1
            continue
        problem = built_problems[_key(spec.problem, spec.problem_params)]
        if "hess" in needs[_key(spec.optimizer, spec.optimizer_params)] and not getattr(
            problem, "has_hess", False
        ):
            why = f"{spec.optimizer_label} needs a Hessian, {spec.problem_label} has none"
            dropped[why] = dropped.get(why, 0) + 1
            continue
        if "hvp" in needs[_key(spec.optimizer, spec.optimizer_params)] and not callable(
            getattr(problem, "hvp", None)
        ):
            why = (f"{spec.optimizer_label} needs Hessian-vector products, "
                   f"{spec.problem_label} has no hvp")
            dropped[why] = dropped.get(why, 0) + 1
            continue
        kept.append(spec)
    if not kept:
        raise SuiteError(f"{suite.source}: no run can be done: {'; '.join(dropped)}")
    suite.specs = kept
    suite.skipped = [f"{n} runs: {why}" for why, n in dropped.items()]
    return suite


class _Bowl:
    """``f(x) = |x|^2 / 2`` on a float64 vector: the probe of :func:`probe_flat_vector`."""

    stochastic = False

    def loss(self, x: Any) -> float:
        return 0.5 * float(x @ x)

    def grad(self, x: Any) -> Any:
        return x.copy()

    def loss_and_grad(self, x: Any) -> tuple[float, Any]:
        return self.loss(x), self.grad(x)


def probe_flat_vector(opt: Any) -> str | None:
    """None if the bridged optimizer ``opt`` takes two steps on a 3-element float64 vector
    (optbench's problems are flat vectors with a gradient, and nothing more), else the
    error it raised, in one line.  An optimizer that needs a model, a second backward
    pass (a Hessian from autograd) or its own closure protocol fails here, before any
    run, and its runs are left out of the study with that note."""
    import numpy as np

    x = np.array([1.0, -2.0, 0.5])
    try:
        state = opt.init(x)
        for _ in range(2):
            x = opt.step(x, _Bowl(), state)
    except Exception as exc:  # any failure of foreign code is the note itself
        text = " ".join(str(exc).split()) or "no message"
        return f"{type(exc).__name__}: {text[:200]}"
    return None


def _tuned_example(suite: Suite, name: str) -> dict[str, Any]:
    """For a suite that tunes: one value of each tuned parameter of optimizer
    ``name``, so that a table may leave them out (the search sets them)."""
    if suite.tune is None:
        return {}
    import numpy as np

    from . import tuning

    dims = suite.tune["space"].get(name)
    space = tuning.spaces_from_dict(dims) if dims is not None else tuning.default_space(name)
    rng = np.random.default_rng(0)
    return {key: dim.sample(rng) for key, dim in space.items()}


def _key(name: str, params: dict[str, Any]) -> str:
    return repr((name, sorted(params.items())))
