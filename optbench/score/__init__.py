"""optbench-score v1: a tuned, statistically honest score for any optimizer.

The protocol (AlgoPerf's, on two CPU cores): fixed workloads with budgets and
targets (:mod:`.workloads`), a tuning ruleset (:mod:`.protocol`, :mod:`.trials`),
time to target (:mod:`.time_to_target`), and one number from the integrated
performance profile with a bootstrap interval and a verdict against the best of
four tuned baselines (:mod:`.profile`), whose runs ship with the package
(:mod:`.baselines`).  :func:`score` is the pipeline; ``optbench score`` its command.
"""

from typing import Any

from .protocol import BASELINES, DEFAULT_STUDIES, DEFAULT_TRIALS, LEVELS, PROTOCOL, RULESETS, TAU_MAX
from .workloads import WORKLOADS, Workload, workload, workloads

#: Names of the pipeline, imported when first used: it needs scipy.stats, which the
#: command line should not pay for when it only builds its parser.
_PIPELINE = ("ScoreResult", "score", "submission")


def __getattr__(name: str) -> Any:
    if name in _PIPELINE:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BASELINES",
    "DEFAULT_STUDIES",
    "DEFAULT_TRIALS",
    "LEVELS",
    "PROTOCOL",
    "RULESETS",
    "ScoreResult",
    "TAU_MAX",
    "WORKLOADS",
    "Workload",
    "score",
    "submission",
    "workload",
    "workloads",
]
