"""asv's configuration and the numbers the asv suites track.

asv builds its own environment from ``asv.conf.json``: the project's wheel (with the
dependencies in ``pyproject.toml``) plus the packages of its ``matrix``.  A package
that a benchmark needs but neither lists fails that benchmark on every commit, while
``asv run --python=same`` (CI) still passes, so the check is made here.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the tomli dependency on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("optbench", "problems", "optimizers", "reports", "benchmarks")

#: Run in a fresh interpreter, so that no first-party module is imported before the
#: hook.  Records each ``import`` statement and ``importlib.import_module`` call made by
#: first-party code while the benchmark modules load and every benchmark class's
#: ``setup_cache`` and ``setup`` run (for each combination of its ``params``); prints
#: the third-party top-level names, each with its first importer, as JSON.  The
#: benchmark methods themselves are not run: an import made only inside one is missed.
PROBE = r"""
import builtins, importlib, inspect, itertools, json, pkgutil, sys

FIRST_PARTY = set(sys.argv[1].split(","))
seen = {}
real_import, real_import_module = builtins.__import__, importlib.import_module


def record(name, importer):
    top = name.partition(".")[0]
    if (importer.partition(".")[0] in FIRST_PARTY and top not in FIRST_PARTY
            and top not in sys.stdlib_module_names):
        seen.setdefault(top, importer)


def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0:
        record(name, (globals or {}).get("__name__") or "")
    return real_import(name, globals, locals, fromlist, level)


def recording_import_module(name, package=None):
    if not name.startswith("."):
        record(name, sys._getframe(1).f_globals.get("__name__") or "")
    return real_import_module(name, package)


def combinations(cls):
    params = getattr(cls, "params", [])
    if params and not all(isinstance(p, (list, tuple)) for p in params):
        params = [params]
    return itertools.product(*params) if params else [()]


def is_benchmark(cls, module):
    return cls.__module__ == module.__name__ and any(
        name.startswith(("time_", "timeraw_", "track_", "peakmem_", "mem_")) for name in dir(cls))


builtins.__import__, importlib.import_module = recording_import, recording_import_module
import benchmarks
for info in pkgutil.iter_modules(benchmarks.__path__, "benchmarks."):
    module = importlib.import_module(info.name)
    if not info.name.startswith("benchmarks.bench_"):
        continue
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if not is_benchmark(cls, module):
            continue
        bench = cls()
        cache = (bench.setup_cache(),) if hasattr(bench, "setup_cache") else ()
        for args in combinations(cls):
            if hasattr(bench, "setup"):
                bench.setup(*cache, *args)
print(json.dumps(seen))
"""


def _normalize(name: str) -> str:
    """PEP 503's normal form of a distribution name (``Scikit_Learn`` -> ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _load_asv_config(path: Path) -> dict:
    """``asv.conf.json`` as a dict; asv allows ``//`` comment lines, json does not."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return json.loads("\n".join(line for line in lines if not line.lstrip().startswith("//")))


def _project_dependencies() -> set[str]:
    """Normalised names of ``[project] dependencies`` (what the wheel install brings)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_normalize(re.match(r"[A-Za-z0-9._-]+", req).group(0)) for req in project["dependencies"]}


def _imported_by_benchmarks() -> dict[str, str]:
    """Third-party top-level module -> the first-party module that imported it."""
    out = subprocess.run([sys.executable, "-c", PROBE, ",".join(FIRST_PARTY)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_asv_matrix_holds_every_package_the_benchmarks_import():
    config = _load_asv_config(ROOT / "asv.conf.json")
    matrix = {_normalize(name) for name in config["matrix"]["req"]}
    provided = _project_dependencies() | matrix
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for module, importer in _imported_by_benchmarks().items():
        names = {_normalize(d) for d in distributions.get(module, [module])}
        if not names & provided:
            missing[module] = f"{sorted(names)} (imported by {importer})"
    assert not missing, (
        "asv's environment lacks packages the benchmarks import; add them to "
        f"asv.conf.json's matrix.req or to pyproject's dependencies: {missing}")


def test_convergence_tracks_log10_of_the_final_subopt():
    from benchmarks.bench_convergence import Convergence, numbers_of

    import optbench
    import optimizers
    import problems

    pair = "quadratic-k100/sgd"
    numbers = {pair: numbers_of(pair, steps=50)}
    tracked = Convergence().track_log10_final_subopt(numbers, pair)
    problem = problems.get("quadratic", dim=20, condition_number=100.0)
    trace = optbench.run(problem, optimizers.get("sgd", lr=1e-2), steps=50, seed=0,
                         record_every=1, tol_grad=None, tol_subopt=1e-14).trace
    subopt = float(trace["subopt"].iloc[-1])
    assert 0 < subopt < 1
    assert tracked == pytest.approx(math.log10(subopt), rel=1e-12)
    assert Convergence.track_log10_final_subopt.unit == "log10(suboptimality)"


@pytest.mark.parametrize("subopt", [0.0, -1e-17, 1e-320])
def test_final_subopt_at_or_below_round_off_is_floored(subopt):
    from benchmarks.bench_convergence import SUBOPT_FLOOR, log10_subopt

    assert log10_subopt(subopt) == math.log10(SUBOPT_FLOOR) == -32
