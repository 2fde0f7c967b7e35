"""Results of real runs shared by the report tests (test_reports_figures, test_reports_html).

``report_results`` runs a small study once per test module: 2-D problems that record
their iterates (an ill-conditioned quadratic with and without gradient noise, the
saddle, Rosenbrock), minibatch logistic regression and a tiny net on the spiral,
with sgd, momentum, adam, newton and lbfgs on two seeds; plus a diverging sgd, a
failing run (Newton on a net, which has no Hessian), a step schedule, a tuning
study's search and evaluation runs (tagged the way optbench.tuning tags them) and an
ensembles table.  The reports only read these; the runs are made here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from optbench import store
from optbench.ensembles import compare_ensembles
from optbench.spec import RunSpec
from optbench.study import run_study

QUAD = {"dim": 2, "condition_number": 50.0}
QUAD_NOISY = {"dim": 2, "condition_number": 50.0, "noise": 0.5}
SADDLE = {"dim": 2}
ROSENBROCK = {"dim": 2}
LOGISTIC = {"n_samples": 100, "n_features": 5, "batch_size": 20, "standardize": True}
NET = {"dataset": "spiral", "hidden": [8], "activation": "tanh", "init": "xavier", "batch_size": 32}

STEPS = 40
SEEDS = (0, 1)
#: The message of the failing run (Newton needs a Hessian, nets have none).
ERROR_TEXT = "needs a Hessian"
DIVERGING = "sgd[lr=0.05]"
SCHEDULED = "sgd[lr={schedule=step,lr=0.03,factor=0.5,every=10}]"

#: (problem, params, record_every)
PROBLEMS = [
    ("quadratic", QUAD, 1),
    ("quadratic", QUAD_NOISY, 1),
    ("saddle", SADDLE, 1),
    ("rosenbrock", ROSENBROCK, 1),
    ("logistic", LOGISTIC, 5),
    ("mlp", NET, 5),
]
OPTIMIZERS = [
    ("sgd", {"lr": 0.03}),
    ("momentum", {"lr": 0.003, "rho": 0.9}),
    ("adam", {"lr": 0.1}),
    ("newton", {}),
    ("lbfgs", {}),
]
#: Rosenbrock's curvature (about 2500 near the valley) needs smaller rates.
ROSENBROCK_RATES = {"sgd": {"lr": 0.001}, "momentum": {"lr": 0.0005, "rho": 0.9}}

SGD_GRID = (1e-3, 1e-2, 3e-2, 5e-2)       # 0.05 > 2/50 diverges; 0.03 is chosen
MOMENTUM_GRID = (1e-4, 1e-3, 3e-3)        # no evaluation runs: the best (the largest) is chosen
CHOSEN_SGD_LR = 3e-2


def main_specs() -> list[RunSpec]:
    specs = []
    for problem, params, every in PROBLEMS:
        for name, hyper in OPTIMIZERS:
            if problem == "mlp" and name == "newton":
                continue
            if problem == "rosenbrock":
                hyper = ROSENBROCK_RATES.get(name, hyper)
            specs += [RunSpec(problem=problem, problem_params=params, optimizer=name,
                              optimizer_params=hyper, seed=s, steps=STEPS, record_every=every)
                      for s in SEEDS]
    specs += [RunSpec(problem="quadratic", problem_params=QUAD, optimizer="sgd",
                      optimizer_params={"lr": 0.05}, seed=s, steps=STEPS) for s in SEEDS]
    specs.append(RunSpec(problem="mlp", problem_params=NET, optimizer="newton", seed=0, steps=STEPS))
    specs.append(RunSpec(problem="quadratic", problem_params=QUAD, optimizer="sgd",
                         optimizer_params={"lr": {"schedule": "step", "lr": 0.03, "factor": 0.5,
                                                  "every": 10}},
                         seed=0, steps=STEPS))
    return specs


def tuning_specs() -> tuple[list[RunSpec], dict[str, dict]]:
    specs, tags, trial = [], {}, 0
    for name, grid, extra in (("sgd", SGD_GRID, {}), ("momentum", MOMENTUM_GRID, {"rho": 0.9})):
        for lr in grid:
            for seed in SEEDS:
                spec = RunSpec(problem="quadratic", problem_params=QUAD, optimizer=name,
                               optimizer_params={"lr": lr, **extra}, seed=seed, steps=30,
                               record_every=5)
                specs.append(spec)
                tags[spec.run_id()] = {"tune.role": "search", "tune.round": 0, "tune.trial": trial,
                                       "tune.id": "t1"}
            trial += 1
    evaluation = RunSpec(problem="quadratic", problem_params=QUAD, optimizer="sgd",
                         optimizer_params={"lr": CHOSEN_SGD_LR}, seed=7, steps=30, record_every=5)
    specs.append(evaluation)
    tags[evaluation.run_id()] = {"tune.role": "evaluation", "tune.id": "t1"}
    return specs, tags


def make_results(directory: Path) -> Path:
    outcomes = run_study(main_specs(), directory)
    assert sum(o.status == "error" for o in outcomes) == 1
    assert sum(o.status == "diverged" for o in outcomes) >= 2
    specs, tags = tuning_specs()
    run_study(specs, directory, tags=tags)
    compare_ensembles({"dataset": "spiral", "hidden": [8], "batch_size": 32}, "adam", {"lr": 0.01},
                      steps=20, seeds=(0, 1), cycles=2, record_every=5, results_dir=directory)
    return directory


def copy_runs(source: Path, target: Path, keep) -> Path:
    """A results directory holding the runs of ``source`` whose metadata ``keep`` accepts."""
    target.mkdir(parents=True, exist_ok=True)
    for path in store.run_files(source):
        if keep(store.read_meta(path)):
            shutil.copy2(path, target / path.name)
    return target


@pytest.fixture(scope="module")
def report_results(tmp_path_factory) -> Path:
    """The results directory of the small study (made once per test module)."""
    return make_results(tmp_path_factory.mktemp("results"))
