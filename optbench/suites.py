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

Limits.  Bad input is refused with one :class:`SuiteError` naming the file, the
table and the key, before anything is expanded or run:

- a suite file is at most :data:`MAX_SUITE_BYTES` (512 KiB, checked with the file's
  size before it is read, so that Python's TOML parser never takes more than about
  half a second), UTF-8 text, and nested no deeper than that parser can recurse
  (about 490 levels of ``[...]``, 330 of ``{a = ...}``);
- a study is at most ``max_runs`` runs (:data:`MAX_RUNS`; the command line's
  ``--max-runs N`` raises it), counted before any grid is expanded: a table makes
  the product of its lists' lengths (after ``select`` is substituted), the study
  the sum over problem x optimizer configurations that apply (an optimizer table's
  ``problems`` restriction respected) times the seeds.  Each table alone, and the
  tables of each kind together, must also make at most ``max_runs``
  configurations, and so must a [tune] ``budget``;
- ``steps`` and ``record_every`` are integers from 1 to :data:`MAX_STEPS`, and
  ``points_per_decade`` at most :data:`MAX_POINTS_PER_DECADE`;
- every number in a table (lists and inline tables included) and every run option
  is finite: no ``nan``, ``inf``, nor an integer beyond the float range.
"""

from __future__ import annotations

import difflib
import inspect
import itertools
import json
import math
import sys
from collections import Counter
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

#: The most runs a study may make (and configurations a table, and runs a [tune]
#: budget) unless the caller raises it: ``load_suite(..., max_runs=N)``, ``--max-runs N``.
MAX_RUNS = 100_000

#: The largest suite file read, in bytes: 512 KiB, a hundred times the built-in suites
#: (about 4 KB), and a few hundred thousand values.  Python's TOML parser is slowest on
#: one long list of small integers: 0.5 s for 512 KiB, 1 s for 1 MiB, 2.6 s for 2 MiB
#: (3.11, one core); a larger file is refused before it is read.
MAX_SUITE_BYTES = 512 * 2**10

#: The largest ``steps`` and ``record_every``: a run of 1e9 steps takes a quarter of an
#: hour even at a microsecond a step (and its trace, recorded every step, 1e9 rows);
#: anything larger is a slip of the keyboard.
MAX_STEPS = 10**9

#: The largest ``points_per_decade`` (``record = "log"``): from 10_000 on, every step
#: below 4_000 is recorded anyway, and choosing the recorded steps costs
#: ``points_per_decade * log10(steps)`` loop turns per run.
MAX_POINTS_PER_DECADE = 10_000

#: How a refusal for size ends: what the user can do.
_RAISE_LIMIT = ("; shorten the lists (every list in a table is a grid axis) or raise the limit "
                "with --max-runs N")

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


def load_suite(name_or_path: str | Path, *, max_runs: int = MAX_RUNS) -> Suite:
    """Read a suite from a TOML file or by built-in name, and expand it.

    ``max_runs`` bounds the study (see the module docstring: Limits); the file must be
    at most :data:`MAX_SUITE_BYTES` of UTF-8 TOML.
    """
    path = Path(name_or_path)
    if path.is_file():
        source, default_name = str(path), path.stem
    elif str(name_or_path) in builtin_names():
        path = BUILTIN_DIR / f"{name_or_path}.toml"
        source, default_name = f"built-in suite {name_or_path!r}", str(name_or_path)
    else:
        raise SuiteError(
            f"no suite file or built-in suite named {str(name_or_path)!r} "
            f"(built-in: {', '.join(builtin_names())})"
        )
    data = _read_toml(path, source)
    return parse_suite(data, source=source, default_name=default_name, max_runs=max_runs)


def _read_toml(path: Path, source: str) -> dict[str, Any]:
    """The parsed TOML of ``path``; SuiteError for a file too large (checked with its
    size, before reading), not UTF-8, malformed, or nested too deep for tomllib."""
    size = path.stat().st_size
    if size > MAX_SUITE_BYTES:
        raise SuiteError(
            f"{source}: a suite file must be at most {MAX_SUITE_BYTES} bytes "
            f"({MAX_SUITE_BYTES / 2**20:g} MiB: Python's TOML parser reads about a MiB a second), "
            f"this one has {size} bytes"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise SuiteError(
            f"{source}: not UTF-8 text: byte 0x{raw[err.start]:02x} at line {line}, column "
            f"{column} ({err.reason}); save the file as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise SuiteError(
            f"{source}: malformed TOML: nested deeper than Python's parser can read (its "
            f"recursion limit, {sys.getrecursionlimit()}, allows a few hundred levels of [ ] or {{ }})"
        ) from None
    except ValueError as err:  # TOMLDecodeError, or an integer of more than 4300 digits
        raise SuiteError(f"{source}: malformed TOML: {err}") from None


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


def _grid_size(where: str, params: dict[str, Any]) -> int:
    """How many configurations a table's lists make (the product of their lengths),
    counted without expanding them; an empty list is an error (it runs nothing)."""
    for key, value in params.items():
        if isinstance(value, list) and not value:
            raise SuiteError(f"{where}: {key} is an empty list (an empty grid runs nothing)")
    return math.prod(len(v) for v in params.values() if isinstance(v, list))


def _expand_table(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The cartesian product of a table's lists (each other value an axis of one)."""
    axes = [[(key, v) for v in value] if isinstance(value, list) else [(key, value)]
            for key, value in params.items()]
    return [dict(combo) for combo in itertools.product(*axes)]


def _number_problem(value: Any) -> str | None:
    """Why a number in a suite cannot be used (nan, inf, an integer beyond the float
    range), else None; lists and inline tables are searched all the way down."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, float) and not math.isfinite(item):
            return f"got {item!r}"
        elif isinstance(item, int) and abs(item) > sys.float_info.max:
            return f"got an integer too large for a float (about 10^{int(item.bit_length() * 0.30103)})"
    return None


def _check_finite(where: str, params: dict[str, Any]) -> None:
    """SuiteError naming the key of the first non-finite number in ``params``."""
    for key, value in params.items():
        why = _number_problem(value)
        if why is not None:
            raise SuiteError(f"{where}: {key} must be a finite number, {why}")


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


@dataclass
class _Table:
    """One ``[[problems]]`` or ``[[optimizers]]`` table: checked and counted, not expanded.

    ``params`` has ``select`` substituted and no ``name`` or ``problems`` key;
    ``only_on`` is the set of problem families an optimizer table is restricted to by
    its ``problems`` key (not a grid, not an optimizer parameter), else None;
    ``size`` is the number of configurations its lists make.
    """

    where: str
    name: str
    params: dict[str, Any]
    only_on: frozenset[str] | None
    size: int


def _table(where: str, kind: str, table: Any) -> _Table:
    """One table of ``kind`` checked: its name, keys and numbers, and counted."""
    registry = problems if kind == "problems" else optimizers
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
    _check_finite(where, table)
    return _Table(where, name, table, only_on, _grid_size(where, table))


def _tables(source: str, kind: str, tables: Any, max_runs: int) -> list[_Table]:
    """The ``[[kind]]`` tables checked and counted; SuiteError if one table, or all of
    them together, make more than ``max_runs`` configurations."""
    if not isinstance(tables, list) or not tables:
        raise SuiteError(f"{source}: needs at least one [[{kind}]] table")
    out: list[_Table] = []
    total = 0
    for i, table in enumerate(tables):
        t = _table(f"{source}: {kind}[{i}]", kind, table)
        if t.size > max_runs:
            axes = " x ".join(f"{k} ({len(v)} values)" for k, v in t.params.items()
                              if isinstance(v, list))
            raise SuiteError(f"{t.where}: its lists make {t.size} configurations ({axes}), "
                             f"more than the limit of {max_runs} runs{_RAISE_LIMIT}")
        out.append(t)
        total += t.size
        if total > max_runs:
            raise SuiteError(f"{source}: the [[{kind}]] tables make {total} configurations "
                             f"together, more than the limit of {max_runs} runs{_RAISE_LIMIT}")
    return out


def _check_run_count(source: str, problem_tables: list[_Table], optimizer_tables: list[_Table],
                     n_seeds: int, max_runs: int) -> None:
    """SuiteError if the study makes more than ``max_runs`` runs, counted from the
    tables' sizes (problem x optimizer configurations that apply, times the seeds)."""
    per_family: dict[str, int] = {}
    for t in problem_tables:
        per_family[t.name] = per_family.get(t.name, 0) + t.size
    pairs = sum(
        o.size * sum(n for name, n in per_family.items() if o.only_on is None or name in o.only_on)
        for o in optimizer_tables
    )
    if pairs * n_seeds > max_runs:
        raise SuiteError(
            f"{source}: the suite makes {pairs * n_seeds} runs ({pairs} problem x optimizer "
            f"configurations x {n_seeds} seeds), more than the limit of {max_runs} runs{_RAISE_LIMIT}"
        )


def _configs(tables: list[_Table]) -> list[tuple[str, dict[str, Any], frozenset[str] | None]]:
    """``(name, params, only_on)`` per configuration of the tables, expanded (their
    sizes were checked); SuiteError for a configuration given twice."""
    configs: list[tuple[str, dict[str, Any], frozenset[str] | None]] = []
    seen: dict[str, str] = {}
    for t in tables:
        for params in _expand_table(t.params):
            ident = _key(t.name, params)
            if ident in seen:
                raise SuiteError(f"{t.where}: duplicates a configuration of {seen[ident]}")
            seen[ident] = t.where
            configs.append((t.name, params, t.only_on))
    return configs


def _int_setting(source: str, data: dict[str, Any], key: str, minimum: int, maximum: int) -> int:
    """The integer top-level setting ``key`` (default :data:`DEFAULTS`), checked to lie
    in ``[minimum, maximum]``."""
    value = data.get(key, DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise SuiteError(
            f"{source}: {key} must be an integer >= {minimum} and <= {maximum}, got {value!r}")
    return value


def _seeds(source: str, data: dict[str, Any]) -> list[int]:
    """The top-level ``seeds``: an integer or a non-empty list of distinct integers >= 0."""
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
    twice = sorted(s for s, n in Counter(seeds).items() if n > 1)
    if twice:
        more = " ..." if len(twice) > 10 else ""
        raise SuiteError(f"{source}: seeds has duplicates: {twice[:10]}{more}")
    return seeds


def _run_options(source: str, data: dict[str, Any]) -> dict[str, Any]:
    """The run options set at the top level (:data:`RUN_OPTIONS`), checked: allowed
    values, finite numbers, ``points_per_decade <=`` :data:`MAX_POINTS_PER_DECADE`."""
    options = {key: data[key] for key in RUN_OPTIONS if key in data}
    for key, value in options.items():
        allowed = check_run_option(key, value)
        if allowed is not None:
            raise SuiteError(f"{source}: {key} must be {allowed}, got {value!r}")
    _check_finite(source, options)
    ppd = options.get("points_per_decade", 1)
    if ppd > MAX_POINTS_PER_DECADE:
        raise SuiteError(f"{source}: points_per_decade must be an integer >= 1 and <= "
                         f"{MAX_POINTS_PER_DECADE}, got {ppd!r}")
    return options


def _check_name(source: str, name: str) -> None:
    """A suite's name names the results folder ``results/NAME``: it is a name, never a
    path (no separator, no ``..``), so a suite cannot write outside ``results/``."""
    if not name.strip() or name in (".", "..") or any(c in name for c in "/\\:\0"):
        raise SuiteError(f"{source}: name must be a plain name (no /, \\, :, and not . or ..; it names "
                         f"the folder results/NAME), got {name!r}")


def parse_suite(data: dict[str, Any], *, source: str = "<suite>", default_name: str = "suite",
                max_runs: int = MAX_RUNS) -> Suite:
    """Validate the keys of parsed TOML data and expand it into RunSpecs.

    The study is counted before any grid is expanded and refused (SuiteError) above
    ``max_runs`` runs; see the module docstring (Limits) for what else is bounded.
    """
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise SuiteError(
                f"{source}: unknown key {key!r}{_nearest(key, list(TOP_LEVEL_KEYS))} "
                f"(allowed: {', '.join(TOP_LEVEL_KEYS)})"
            )
    seeds = _seeds(source, data)
    steps = _int_setting(source, data, "steps", 1, MAX_STEPS)
    record_every = _int_setting(source, data, "record_every", 1, MAX_STEPS)
    options = _run_options(source, data)
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise SuiteError(f"{source}: {key} must be text, got {data[key]!r}")
    _check_name(source, data.get("name", default_name))

    problem_tables = _tables(source, "problems", data.get("problems"), max_runs)
    optimizer_tables = _tables(source, "optimizers", data.get("optimizers"), max_runs)
    _check_run_count(source, problem_tables, optimizer_tables, len(seeds), max_runs)
    tune = _tune_settings(source, data["tune"], seeds, max_runs) if "tune" in data else None
    problem_configs = _configs(problem_tables)
    optimizer_configs = _configs(optimizer_tables)
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


def _tune_settings(source: str, table: Any, seeds: list[int], max_runs: int) -> dict[str, Any]:
    """The [tune] table checked and completed with :data:`TUNE_DEFAULTS`.

    In a suite with a [tune] table the top-level ``seeds`` are the evaluation seeds
    (the runs that count) and ``search_seeds`` (default [1000]) the seeds of the
    search; the two must not overlap.  Every setting is checked here, with the
    suite, so that nothing is tuned before a bad one is found (:func:`tuning.tune`
    checks them again for its Python callers); ``budget`` counts runs and so is at
    most ``max_runs``.
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
    settings["search_seeds"] = _search_seeds(where, settings["search_seeds"], seeds)
    _check_tune_numbers(where, settings, max_runs)
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


def _search_seeds(where: str, search: Any, seeds: list[int]) -> list[int]:
    """[tune] ``search_seeds``: distinct integers >= 0, none of them an evaluation seed."""
    if isinstance(search, int) and not isinstance(search, bool):
        search = [search]
    if (not isinstance(search, list) or not search
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in search)):
        raise SuiteError(f"{where}: search_seeds must be a list of integers >= 0, got {search!r}")
    if len(set(search)) != len(search):
        raise SuiteError(f"{where}: search_seeds has duplicates: {search!r}")
    overlap = sorted(set(search) & set(seeds))
    if overlap:
        raise SuiteError(f"{where}: search_seeds {overlap} are also evaluation seeds (seeds): "
                         "the runs that count must use seeds the search never saw")
    return search


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_tune_numbers(where: str, settings: dict[str, Any], max_runs: int) -> None:
    """[tune] budget, rounds, shrink, target, grid_points and search_seed, as
    :func:`tuning.tune` allows them; budget at most ``max_runs`` runs, grid_points at
    most the budget (a grid never has more points on one axis than trials)."""
    budget = settings["budget"]
    if not _is_int(budget) or not 1 <= budget <= max_runs:
        raise SuiteError(f"{where}: budget must be an integer >= 1 and <= {max_runs} (runs; "
                         f"--max-runs N raises the limit), got {budget!r}")
    n_seeds = len(settings["search_seeds"])
    if budget < n_seeds:
        raise SuiteError(f"{where}: a budget of {budget} runs is less than one trial on "
                         f"{n_seeds} search seeds")
    rounds = settings["rounds"]
    if not _is_int(rounds) or rounds < 1:
        raise SuiteError(f"{where}: rounds must be an integer >= 1, got {rounds!r}")
    if settings["method"] == "coarse_to_fine" and budget // n_seeds < rounds:
        raise SuiteError(f"{where}: coarse_to_fine needs at least one trial per round: "
                         f"{budget // n_seeds} trials (budget / search seeds) for {rounds} rounds")
    shrink = settings["shrink"]
    if not _is_real(shrink) or not 0 < shrink <= 1:
        raise SuiteError(f"{where}: shrink must be a number in (0, 1], got {shrink!r}")
    target = settings["target"]
    if not _is_real(target) or _number_problem(target) is not None or target < 0:
        raise SuiteError(f"{where}: target must be a finite number >= 0, got {target!r}")
    search_seed = settings["search_seed"]
    if not _is_int(search_seed) or search_seed < 0:
        raise SuiteError(f"{where}: search_seed must be an integer >= 0, got {search_seed!r}")
    _check_grid_points(where, settings["grid_points"], budget)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_grid_points(where: str, points: Any, budget: int) -> None:
    """[tune] grid_points: None, an integer in ``[1, budget]`` or a table of them."""
    if points is None:
        return
    for name, n in points.items() if isinstance(points, dict) else [("", points)]:
        if not _is_int(n) or not 1 <= n <= budget:
            key = f"grid_points.{name}" if name else "grid_points"
            raise SuiteError(f"{where}: {key} must be an integer >= 1 and <= the budget "
                             f"({budget}), or a table of them per dimension, got {n!r}")


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
