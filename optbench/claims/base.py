"""What a claim is: data (the runs of its arms) plus a criterion over their results.

A :class:`Claim` encodes one statement of the lecture ("momentum beats SGD on an
ill-conditioned quadratic") as a small seeded experiment:

- ``arms(budget)`` returns the experiment as plain data: named :class:`Arm` s, each a
  tuple of :class:`~optbench.spec.RunSpec` (several seeds per arm).  The claims
  runner runs every spec like any study (stored, resumable, parallel).
- ``measure(budget)``, optional, returns extra seeded tables that are not runs (an
  activation histogram, a first step's size), stored beside the runs.
- ``criterion(evidence)`` turns the results into a :class:`Verdict`: ``holds``,
  ``does not hold`` or ``inconclusive``, decided by a stated statistic (a median
  ratio with a bootstrap interval, a success rate...), never by one run.
- ``figure(evidence)``, optional, draws the figure the report links to.

The same claim runs at two sizes: ``budget.quick`` asks for a smaller experiment
that should reach the same verdict; ``budget.seeds`` are the run seeds every arm
uses (tests run the claims again with other seeds to check that verdicts are stable).

A user adds a claim of their own the same way the built-in ones are written::

    from optbench.claims import Claim, register
    register(Claim(key="my-claim", number=0, statement=..., experiment=...,
                   statistic=..., arms=my_arms, criterion=my_criterion))

in a module given to ``optbench claims --plugin MODULE``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

import pandas as pd

from ..spec import RunSpec

if TYPE_CHECKING:  # matplotlib is imported by figures only
    from matplotlib.figure import Figure

__all__ = [
    "Arm", "Budget", "Claim", "Evidence", "FAILS", "HOLDS", "INCONCLUSIVE", "KINDS", "OUTCOMES",
    "Verdict", "combined", "map_text", "side", "verdict_text",
]

HOLDS = "holds"
FAILS = "does not hold"
INCONCLUSIVE = "inconclusive"
#: The three verdicts.  "does not hold" is a result, reported like the others.
OUTCOMES = (HOLDS, FAILS, INCONCLUSIVE)
#: What a claim is: an empirical claim, or a check (a property verified).
KINDS = ("claim", "check")

#: Default run seeds of every arm: full size and --quick.
FULL_SEEDS = (0, 1, 2, 3, 4, 5, 6, 7)
QUICK_SEEDS = (0, 1, 2, 3, 4)

_KEY = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Budget:
    """How big a claim's experiment is: ``quick`` (CI size) and the run ``seeds``."""

    quick: bool = False
    seeds: tuple[int, ...] = FULL_SEEDS

    @classmethod
    def default(cls, quick: bool = False, seeds: tuple[int, ...] | None = None) -> "Budget":
        """The standard budget: :data:`QUICK_SEEDS` or :data:`FULL_SEEDS` unless given."""
        if seeds is None:
            seeds = QUICK_SEEDS if quick else FULL_SEEDS
        seeds = tuple(int(s) for s in seeds)
        if len(seeds) < 2 or len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise ValueError(f"seeds must be at least 2 distinct integers >= 0, got {seeds!r}")
        return cls(quick=quick, seeds=seeds)


@dataclass(frozen=True)
class Arm:
    """One side of an experiment: a ``name`` ("sgd", "momentum", "kappa=100/sgd"...) and
    its runs (usually one per seed)."""

    name: str
    specs: tuple[RunSpec, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "specs", tuple(self.specs))
        if not self.specs:
            raise ValueError(f"arm {self.name!r} has no runs")


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict: ``outcome`` (one of :data:`OUTCOMES`), a one-sentence
    ``summary`` with the measured numbers, the ``numbers`` themselves, and
    ``by_setting``, the verdict over the setting that decides it.

    ``by_setting`` maps each value of that setting, in the order swept, to its own
    outcome: ``{"equal lr": "holds", "equal effective step lr/(1-rho)": "does not
    hold"}``, ``{"500 steps": "does not hold", ..., "8000 steps": "holds"}``.  It is
    empty for a claim that sweeps nothing; :func:`map_text` says it in one line.
    """

    outcome: str
    summary: str
    numbers: Mapping[str, float] = field(default_factory=dict)
    by_setting: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")
        clean = {}
        for key, value in dict(self.numbers).items():
            value = float(value)
            clean[str(key)] = value
        object.__setattr__(self, "numbers", clean)
        settings = {str(k): v for k, v in dict(self.by_setting).items()}
        for setting, outcome in settings.items():
            if outcome not in OUTCOMES:
                raise ValueError(f"the outcome at {setting!r} must be one of {OUTCOMES}, "
                                 f"got {outcome!r}")
        object.__setattr__(self, "by_setting", settings)

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "summary": self.summary,
                "numbers": {k: (v if math.isfinite(v) else None) for k, v in self.numbers.items()},
                "by_setting": dict(self.by_setting)}


def side(low: float, high: float, threshold: float, claimed: str) -> str:
    """The outcome of one interval ``[low, high]`` against ``threshold``: HOLDS if it lies
    strictly on the ``claimed`` side (``"above"`` or ``"below"``), FAILS if strictly on
    the other, INCONCLUSIVE if it contains the threshold or is NaN."""
    if claimed not in ("above", "below"):
        raise ValueError(f"claimed must be 'above' or 'below', got {claimed!r}")
    if math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE
    above, below = low > threshold, high < threshold
    if claimed == "above":
        return HOLDS if above else FAILS if below else INCONCLUSIVE
    return HOLDS if below else FAILS if above else INCONCLUSIVE


def combined(outcomes: Iterable[str]) -> str:
    """The outcome of a claim that must hold at every setting: HOLDS if every one holds,
    FAILS if any does not hold, else INCONCLUSIVE (also for no settings at all)."""
    outcomes = list(outcomes)
    if FAILS in outcomes:
        return FAILS
    if outcomes and all(o == HOLDS for o in outcomes):
        return HOLDS
    return INCONCLUSIVE


def map_text(by_setting: Mapping[str, str]) -> str:
    """A verdict map in one line, the settings of each outcome together in the order
    swept: ``"holds at equal lr; does not hold at equal effective step"`` ("" when
    empty)."""
    groups: dict[str, list[str]] = {}
    for setting, outcome in by_setting.items():
        groups.setdefault(str(outcome), []).append(str(setting))
    return "; ".join(f"{outcome} at {', '.join(settings)}" for outcome, settings in groups.items())


def verdict_text(by_setting: Mapping[str, str], summary: str) -> str:
    """A verdict as the tables print it: ``"By setting: <map_text>. <summary>"``, or the
    summary alone when the verdict has no map."""
    swept = map_text(by_setting)
    return (f"By setting: {swept}. " if swept else "") + summary


@dataclass
class Evidence:
    """What a criterion sees: the claim's results as tables.

    Attributes
    ----------
    trace : DataFrame
        :func:`optbench.load`'s rows of the claim's runs, plus a column ``arm``.
    runs : DataFrame
        :func:`optbench.store.runs`' rows of the claim's runs (status, error,
        steps_taken; failed runs included), plus ``arm``.
    tables : dict of DataFrame
        What ``measure`` returned (empty without one).
    budget : Budget
        The budget the claim ran with.
    """

    trace: pd.DataFrame
    runs: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    budget: Budget

    def arm(self, name: str) -> pd.DataFrame:
        """The trace rows of one arm."""
        return self.trace[self.trace["arm"] == name]

    def final(self) -> pd.DataFrame:
        """One row per run: its last recorded row (with ``arm``, ``seed``, ``status``)."""
        ordered = self.trace.sort_values(["run_id", "step"])
        return ordered.groupby("run_id", sort=False).tail(1).reset_index(drop=True)


@dataclass(frozen=True)
class Claim:
    """One claim as an experiment (see the module docstring).

    Attributes
    ----------
    key : str
        Short lower-case name with dashes (``"momentum-ill-conditioned"``), unique.
    number : int
        Its number in the lecture's list (1-14 for the built-in ones; 0 for a user's).
    statement : str
        The claim in the lecture's words.
    experiment : str
        What is run: problems, arms, budgets, seeds (one paragraph).
    statistic : str
        The statistic measured and the rule that maps it to each verdict.
    arms : callable
        ``arms(budget) -> list[Arm]``: the runs (empty only for a claim whose
        evidence is all in ``measure``'s tables).
    criterion : callable
        ``criterion(evidence) -> Verdict``.
    measure : callable, optional
        ``measure(budget) -> dict[str, DataFrame]``: seeded tables that are not runs.
    figure : callable, optional
        ``figure(evidence) -> matplotlib Figure`` for the report.
    kind : str
        ``"claim"`` (an empirical statement the experiment can refute, the default) or
        ``"check"`` (a property verified: an identity or a near-certainty, such as a
        formula's value, kept to show that the code does what the lecture says but
        not counted as evidence about optimizers).  Listed apart in the report.
    """

    key: str
    number: int
    statement: str
    experiment: str
    statistic: str
    arms: Callable[[Budget], list[Arm]]
    criterion: Callable[[Evidence], Verdict]
    measure: Callable[[Budget], dict[str, pd.DataFrame]] | None = None
    figure: Callable[[Evidence], "Figure"] | None = None
    kind: str = "claim"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.key!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.key, str) or not _KEY.match(self.key):
            raise ValueError(
                f"claim key must be lower-case words joined by dashes, got {self.key!r}")
        if isinstance(self.number, bool) or not isinstance(self.number, int) or self.number < 0:
            raise ValueError(f"claim number must be an integer >= 0, got {self.number!r}")
        for name in ("statement", "experiment", "statistic"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"claim {self.key!r}: {name} must be a non-empty string")
        for name in ("arms", "criterion"):
            if not callable(getattr(self, name)):
                raise ValueError(f"claim {self.key!r}: {name} must be callable")
