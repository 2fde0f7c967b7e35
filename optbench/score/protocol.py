"""optbench-score v1: what is fixed, in one place.

A version names everything that changes a score: the workloads and their budgets
and targets (:mod:`optbench.score.workloads`), the baselines and their search
spaces, the tuning rulesets, the seeds, tau's range and the bootstrap.  Changing
any of them makes a new version; scores of different versions are never compared.

Rulesets
    ``external``: the submission gives a search space; in each of ``studies``
    independent studies it gets ``trials`` configurations, the first points of a
    scrambled Halton sequence seeded by the study (:func:`optbench.samplers.quasi_random_trials`),
    each run once on every workload with a seed of its own.  ``self``: no search,
    one configuration (the submission's defaults and ``--set`` values) per study,
    and :data:`SELF_BUDGET_FACTOR` times the budget (AlgoPerf's self-tuning rule).

Seeds
    Study ``s`` of protocol seed ``seed`` draws its Halton points with
    ``numpy.random.default_rng([seed, s])``; trial ``k`` of it runs with run seed
    ``100000 * seed + 1000 * s + k`` (its initial point and minibatches).  Every
    method sees the same seeds and the same Halton points, so studies are paired
    across methods.  The problems' data are fixed by the workloads (``seed = 0``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..search_space import LogUniform, Space, Uniform

#: The protocol's name and version, written into every scorecard and JSON file.
PROTOCOL = "optbench-score v1"

#: The two sizes of the protocol.
LEVELS = ("quick", "full")

#: The tuning rulesets.
RULESETS = ("external", "self")

#: Defaults of the external ruleset (AlgoPerf's): trials per study, and studies.
DEFAULT_TRIALS = 5
DEFAULT_STUDIES = 3

#: The largest number of trials per study (trial k's run seed must stay below the next study's).
MAX_TRIALS = 999

#: Self-tuning runs get this many times the budget.
SELF_BUDGET_FACTOR = 3

#: The performance profile is integrated over tau in [1, TAU_MAX].
TAU_MAX = 4.0

#: Bootstrap replicates and the interval's level.
BOOTSTRAP = 2000
LEVEL = 0.95

#: The seed of the bootstrap's generator.
BOOTSTRAP_SEED = 20261207

#: Recording: log-spaced, this many points per decade of steps (a relative resolution
#: of 10 ** (1 / 40) - 1 = 5.9% on the cost axis, the same at every scale).
POINTS_PER_DECADE = 40


@dataclass(frozen=True)
class Baseline:
    """A method every submission is compared with: a built-in optimizer, the space it
    is tuned over (external ruleset) and its fixed settings (both rulesets; the self
    ruleset runs ``fixed`` alone)."""

    name: str
    optimizer: str
    space: dict[str, Space]
    fixed: dict[str, Any] = field(default_factory=dict)
    description: str = ""


def _rate(low: float = 1e-4, high: float = 1.0) -> LogUniform:
    return LogUniform(low, high)


#: The baselines of v1, each tuned over two hyper-parameters: the rate and the one
#: that matters next (momentum's rho, Adam's beta1, AdamW's weight decay).
BASELINES: tuple[Baseline, ...] = (
    Baseline("nesterov", "nesterov", {"lr": _rate(), "rho": Uniform(0.8, 0.99)},
             {"lr": 0.01, "rho": 0.9}, "SGD with Nesterov momentum"),
    Baseline("heavy_ball", "momentum", {"lr": _rate(), "rho": Uniform(0.8, 0.99)},
             {"lr": 0.01, "rho": 0.9}, "SGD with heavy-ball momentum"),
    Baseline("adam", "adam", {"lr": _rate(1e-4, 1e-1), "beta1": Uniform(0.8, 0.97)},
             {"lr": 0.001}, "Adam"),
    Baseline("adamw", "adamw", {"lr": _rate(1e-4, 1e-1), "weight_decay": LogUniform(1e-4, 1e-1)},
             {"lr": 0.001, "weight_decay": 0.01}, "AdamW (decoupled weight decay)"),
)


def baseline(name: str) -> Baseline:
    """The baseline called ``name`` (ValueError naming the choices otherwise)."""
    for b in BASELINES:
        if b.name == name:
            return b
    raise ValueError(f"unknown baseline {name!r}; the baselines are {', '.join(b.name for b in BASELINES)}")


def run_seed(seed: int, study: int, trial: int) -> int:
    """The run seed of trial ``trial`` of study ``study`` under protocol seed ``seed``."""
    return 100000 * seed + 1000 * study + trial


def budget_factor(ruleset: str) -> int:
    """How many times a workload's budget a run of ``ruleset`` gets."""
    return SELF_BUDGET_FACTOR if ruleset == "self" else 1
