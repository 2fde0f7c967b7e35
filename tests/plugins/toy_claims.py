"""A plugin for the claims tests: two small claims on a 2-D quadratic that share runs.

``toy-momentum-faster`` holds (heavy-ball momentum ends far below plain SGD at the
same learning rate on an ill-conditioned quadratic); ``toy-sgd-faster`` states the
opposite and so does not hold.  ``toy-sgd-faster`` has a figure, ``toy-momentum-faster``
none (the report draws its arms' curves instead).  Both read the median over seeds
of the final suboptimality of each arm: ratio = median(momentum) / median(sgd).
"""

from __future__ import annotations

import numpy as np

from optbench.claims import FAILS, HOLDS, Arm, Budget, Claim, Evidence, Verdict, register
from optbench.spec import RunSpec

#: The keys this module registers (the tests remove them again).
KEYS = ("toy-momentum-faster", "toy-sgd-faster")

PROBLEM = {"dim": 2, "condition_number": 50.0}


def arms(budget: Budget) -> list[Arm]:
    """sgd and momentum (rho 0.7) at lr 0.02, 40 steps (20 with ``quick``), one run per seed."""
    steps = 20 if budget.quick else 40

    def arm(name: str, params: dict) -> Arm:
        return Arm(name, tuple(RunSpec(problem="quadratic", problem_params=PROBLEM, optimizer=name,
                                       optimizer_params=params, seed=s, steps=steps,
                                       record_every=5) for s in budget.seeds))

    return [arm("sgd", {"lr": 0.02}), arm("momentum", {"lr": 0.02, "rho": 0.7})]


def ratio(evidence: Evidence) -> float:
    """median final subopt of momentum over that of sgd."""
    final = evidence.final()
    medians = final.groupby("arm")["subopt"].median()
    return float(medians["momentum"] / medians["sgd"])


def momentum_faster(evidence: Evidence) -> Verdict:
    r = ratio(evidence)
    return Verdict(HOLDS if r < 0.5 else FAILS, f"median final subopt ratio momentum/sgd = {r:.3g}",
                   {"ratio": r})


def sgd_faster(evidence: Evidence) -> Verdict:
    r = ratio(evidence)
    return Verdict(HOLDS if r > 2.0 else FAILS, f"median final subopt ratio momentum/sgd = {r:.3g}",
                   {"ratio": r})


def figure(evidence: Evidence):
    """Final suboptimality per seed, one column of points per arm."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3))
    ax = fig.add_subplot()
    final = evidence.final()
    for i, (name, rows) in enumerate(sorted(final.groupby("arm"))):
        ax.scatter(np.full(len(rows), i), rows["subopt"], label=name)
    ax.set_yscale("log")
    ax.set_xticks([0, 1], sorted(final["arm"].unique()))
    ax.set_ylabel("final subopt")
    return fig


COMMON = dict(experiment="quadratic dim=2, condition number 50; sgd and momentum (rho 0.7) at lr 0.02; "
              "40 steps (20 quick); every budget seed.",
              statistic="ratio = median final subopt of momentum / of sgd", arms=arms)

register(Claim(key=KEYS[0], number=0, statement="Momentum gets further than SGD on a narrow valley.",
               criterion=momentum_faster, **COMMON))
register(Claim(key=KEYS[1], number=0, statement="SGD gets further than momentum on a narrow valley.",
               criterion=sgd_faster, figure=figure, **COMMON))
