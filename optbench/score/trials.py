"""The runs of one method under the protocol: methods, their trials, their RunSpecs.

A :class:`Method` is what is scored: a name (its label on the scorecard), an
optimizer (a registry or bridged name, :func:`optimizers.get`), the space it is tuned
over and the hyper-parameters fixed for it.  :func:`plan` gives every run of a method
on the workloads: for each study ``s`` and trial ``k`` the ``k``-th quasi-random
point of study ``s`` (external ruleset) or the fixed settings alone (self ruleset),
with run seed :func:`optbench.score.protocol.run_seed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from ..samplers import quasi_random_trials
from ..search_space import Space
from ..spec import RunSpec
from .protocol import BASELINES, MAX_TRIALS, run_seed
from .workloads import Workload


@dataclass(frozen=True)
class Method:
    """One scored method (see the module docstring)."""

    name: str
    optimizer: str
    space: dict[str, Space] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedRun:
    """A run of the protocol and where it belongs."""

    method: str
    workload: str
    study: int
    trial: int
    spec: RunSpec


def baseline_methods() -> list[Method]:
    """The protocol's baselines as methods."""
    return [Method(b.name, b.optimizer, dict(b.space), dict(b.fixed)) for b in BASELINES]


def configurations(method: Method, ruleset: str, trials: int, study: int, seed: int) -> list[dict[str, Any]]:
    """The hyper-parameters of the trials of one study: the fixed ones, and under the
    external ruleset the first ``trials`` Halton points of the study's sequence."""
    if ruleset == "self" or not method.space:
        return [dict(method.fixed)]
    points = quasi_random_trials(method.space, trials, [seed, study])
    return [{**method.fixed, **p} for p in points]


def plan(method: Method, workloads: Sequence[Workload], *, ruleset: str, trials: int, studies: int,
         seed: int) -> list[PlannedRun]:
    """Every run of ``method``: workloads x studies x trials, in that order."""
    if not 1 <= trials <= MAX_TRIALS:
        raise ValueError(f"trials must be between 1 and {MAX_TRIALS}, got {trials}")
    runs = []
    for s in range(studies):
        configs = configurations(method, ruleset, trials, s, seed)
        for w in workloads:
            for k, params in enumerate(configs):
                spec = w.spec(method.optimizer, params, run_seed(seed, s, k), ruleset)
                runs.append(PlannedRun(method.name, w.name, s, k, spec))
    return runs
