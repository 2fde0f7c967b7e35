r"""Claim 2, ``momentum-escapes-saddle``: near a saddle gradient descent crawls; momentum
leaves the saddle's neighbourhood sooner.  Tested unconditionally: sooner both when GD
has the same ``lr`` and when GD has momentum's effective step ``lr / (1 - rho)``.  The
closed form below already answers it for the linearised dynamics (sooner at the same
lr, later at the same effective step); the runs measure it on the nonlinear saddle.

Experiment: the 2-D strict saddle ``f = x^2/2 + y^4/4 - y^2/2`` (saddle at the origin,
curvature ``lambda = -1`` along ``y``), started at a seeded distance from it along
``y`` (:func:`initial_offset`, the same for every arm).  Momentum with ``rho =``
:data:`RHO` and each lr of :data:`LRS`, against gradient descent at the same lr and at
momentum's effective step ``lr / (1 - rho)`` (:func:`comparisons`); nothing tuned.

Growth per step along ``y`` (closed form, :func:`growth_gd`, :func:`growth_momentum`).
Near the saddle ``grad_y f = -|lambda| y``, so GD's ``y_{t+1} = (1 + a) y_t`` with
``a = lr |lambda|`` grows by ``g_GD = 1 + a``; the heavy ball's
``y_{t+1} = (1 + a) y_t + rho (y_t - y_{t-1})`` grows by the largest root of its
characteristic polynomial ``p(z) = z^2 - (1 + rho + a) z + rho``,

    ``g_mom = ((1 + rho + a) + sqrt((1 + rho + a)^2 - 4 rho)) / 2``.

``p(1 + a) = -rho a < 0``, so ``g_mom > 1 + a`` (faster than GD at the same lr), and
with ``b = a / (1 - rho)``, ``p(1 + b) = rho b^2 > 0`` with ``1 + b`` above the roots'
midpoint ``(1 + rho + a) / 2``, so ``g_mom < 1 + b`` (slower than GD at the same
effective step).  From ``|y_0|`` the escape takes about ``log(ESCAPE / |y_0|) / log g``
steps, so the ratio of escape times GD / momentum tends to
``log g_mom / log g_GD`` (:func:`theory_ratio`) as ``|y_0| -> 0``.

Verdict (:func:`criterion`, on :func:`escape_times`): the escape time of a run is the
first step with ``|y| >=`` :data:`ESCAPE` (:func:`escape_step`, ``+inf`` if never); per
seed and setting the ratio ``t_GD / t_momentum``, its median with a 95% bootstrap
interval.  A setting holds if its interval lies above 1, does not hold if below 1, is
inconclusive otherwise (``by_setting``); the claim, unconditional, holds only if every
setting holds and does not hold if any does not (:func:`~optbench.claims.base.combined`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..base import (FAILS, HOLDS, INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict, combined,
                    map_text, side)
from .paired_statistics import bootstrap_rng, ci_of, fmt, median_ci, paired
from .run_tables import by_seed, expected_runs, first_step, per_run, problem_notes, spec, status_counts

__all__ = [
    "CLAIM", "CURVATURE", "ESCAPE", "LRS", "NUMBER", "OFFSET_RANGE", "RHO", "arms", "comparisons",
    "criterion", "effective_lr", "escape_step", "escape_times", "growth_gd", "growth_momentum",
    "initial_offset", "theory_ratio",
]

NUMBER = 2
#: Momentum's learning rates; GD runs at each and at each effective step lr / (1 - rho).
LRS = (0.01, 0.1)
RHO = 0.9
#: The iterate has left the saddle once its negative-curvature coordinate reaches this.
ESCAPE = 0.5
#: Initial offsets along the negative-curvature direction: 10**U(-4, -2) per seed.
OFFSET_RANGE = (-4.0, -2.0)
#: |lambda|, the saddle's curvature along y.
CURVATURE = 1.0


# --------------------------------------------------------------------------- closed form


def growth_gd(lr: float, curvature: float = CURVATURE) -> float:
    """GD's growth per step along the eigenvalue ``-curvature``: ``1 + lr * curvature``."""
    return 1.0 + lr * curvature


def growth_momentum(lr: float, rho: float = RHO, curvature: float = CURVATURE) -> float:
    """The heavy ball's growth per step along the eigenvalue ``-curvature``: the largest
    root of ``z^2 - (1 + rho + a) z + rho`` with ``a = lr * curvature``."""
    s = 1.0 + rho + lr * curvature
    return (s + math.sqrt(s * s - 4.0 * rho)) / 2.0


def theory_ratio(gd_lr: float, momentum_lr: float, rho: float = RHO) -> float:
    """The limit of escape times GD / momentum: ``log g_mom / log g_GD``."""
    return math.log(growth_momentum(momentum_lr, rho)) / math.log(growth_gd(gd_lr))


def effective_lr(lr: float, rho: float = RHO) -> float:
    """``lr / (1 - rho)``, rounded to 12 digits (so 0.01 / (1 - 0.9) is the run at 0.1)."""
    return float(f"{lr / (1.0 - rho):.12g}")


def comparisons() -> list[tuple[str, float, float]]:
    """The settings ``(name, gd_lr, momentum_lr)`` in the order reported: the same lr for
    each lr of :data:`LRS`, then GD at each one's effective step."""
    same = [(f"equal lr {lr:g}", lr, lr) for lr in LRS]
    step = [(f"equal effective step lr/(1-rho) {effective_lr(lr):g}", effective_lr(lr), lr) for lr in LRS]
    return same + step


# --------------------------------------------------------------------------- arms


def initial_offset(seed: int) -> float:
    """The seeded initial distance from the saddle along ``y`` (log-uniform)."""
    u = np.random.default_rng([seed, 2, 0x5ADD1E]).uniform(*OFFSET_RANGE)
    return float(f"{10.0 ** u:.6g}")


def _steps(lr: float) -> int:
    """The budget of a run at ``lr``: about three times GD's escape time at ``lr`` from the
    smallest offset, ``3 log(ESCAPE / 1e-4) / log(1 + lr)``."""
    return int(math.ceil(3.0 * math.log(ESCAPE / 10.0 ** OFFSET_RANGE[0]) / math.log1p(lr)))


def _gd_lrs() -> list[float]:
    return sorted({gd for _, gd, _ in comparisons()})


def arms(budget: Budget) -> list[Arm]:
    """``lr=<lr>/sgd`` for each GD lr (those of :data:`LRS` and their effective steps) and
    ``lr=<lr>/momentum`` for each lr of :data:`LRS`: one run per seed, every step recorded."""
    runs = [("sgd", lr, {"lr": lr}) for lr in _gd_lrs()] + [
        ("momentum", lr, {"lr": lr, "rho": RHO}) for lr in LRS]
    result = []
    for name, lr, params in runs:
        specs = [spec("saddle", {"dim": 2, "n_neg": 1, "offset": initial_offset(s)}, name, params, s,
                      _steps(lr), 1) for s in budget.seeds]
        result.append(Arm(f"lr={lr:g}/{name}", tuple(specs)))
    return result


# --------------------------------------------------------------------------- statistics


def escape_step(rows: pd.DataFrame, status: str) -> float:
    """First step at which ``|y| = |x_1| >= ESCAPE`` (``+inf`` if never): a run's rows
    in step order, and its status (unused)."""
    y = np.abs(rows["x_1"].to_numpy(dtype=float))
    with np.errstate(invalid="ignore"):
        return first_step(rows, y >= ESCAPE)


def _has(table: pd.DataFrame, arm: str) -> bool:
    return bool((table["arm"] == arm).any())


def _medians(table: pd.DataFrame) -> dict[str, float]:
    """``escape_<sgd|momentum>_lr<lr>`` (median escape times) and
    ``growth_<sgd|momentum>_lr<lr>`` (closed form) of every arm with runs."""
    numbers: dict[str, float] = {}
    for m, lrs, growth in (("sgd", _gd_lrs(), growth_gd), ("momentum", list(LRS), growth_momentum)):
        for lr in lrs:
            v = by_seed(table, f"lr={lr:g}/{m}").dropna()
            if len(v):
                numbers[f"escape_{m}_lr{lr:g}"] = float(np.median(v))
                numbers[f"growth_{m}_lr{lr:g}"] = growth(lr)
    return numbers


def escape_times(evidence: Evidence) -> tuple[pd.DataFrame, dict[str, float], list[tuple[str, float, float]]]:
    """The statistics of the criterion and the figure: ``(table, numbers, settings)``.

    ``table`` is the :func:`~optbench.claims.dynamics.run_tables.per_run` table of
    :func:`escape_step` (NaN without an ``x_1`` column); ``settings`` those of
    :func:`comparisons` with runs of both arms; ``numbers`` per setting
    ``ratio[<name>]`` (median GD / momentum ratio of escape times, ``_low``/``_high`` its
    interval) and ``theory[<name>]`` (:func:`theory_ratio`), and per arm the median
    escape time and closed-form growth (:func:`_medians`).
    """
    table = per_run(evidence, escape_step) if "x_1" in evidence.trace else per_run(
        evidence, lambda rows, status: math.nan)
    rng = bootstrap_rng(NUMBER)
    numbers = _medians(table)
    settings = [c for c in comparisons()
                if _has(table, f"lr={c[1]:g}/sgd") and _has(table, f"lr={c[2]:g}/momentum")]
    for name, gd_lr, mom_lr in settings:
        med, low, high = median_ci(paired(table, f"lr={gd_lr:g}/sgd", f"lr={mom_lr:g}/momentum"), rng)
        numbers.update({f"ratio[{name}]": med, f"ratio[{name}]_low": low, f"ratio[{name}]_high": high,
                        f"theory[{name}]": theory_ratio(gd_lr, mom_lr)})
    return table, numbers, settings


# --------------------------------------------------------------------------- criterion


def _setting_text(numbers: dict[str, float], name: str, gd_lr: float, mom_lr: float) -> str:
    return (f"{name}: GD {fmt(numbers[f'escape_sgd_lr{gd_lr:g}'])} vs momentum "
            f"{fmt(numbers[f'escape_momentum_lr{mom_lr:g}'])} steps (growth per step "
            f"{fmt(growth_gd(gd_lr), 4)} vs {fmt(growth_momentum(mom_lr), 4)}), ratio "
            f"{ci_of(numbers, f'ratio[{name}]')}, closed form {fmt(numbers[f'theory[{name}]'])}")


def _lead(by_setting: dict[str, str]) -> str:
    """Which comparison momentum wins, e.g. "Momentum leaves the saddle sooner at equal lr,
    later at equal effective step lr/(1-rho)" (the outcome of each comparison's settings)."""
    words = {HOLDS: "sooner", FAILS: "later", INCONCLUSIVE: "neither clearly sooner nor later"}
    parts = []
    for family in ("equal lr", "equal effective step lr/(1-rho)"):
        part = {name: o for name, o in by_setting.items() if name.startswith(family + " ")}
        if len(set(part.values())) == 1:
            parts.append(f"{words[next(iter(part.values()))]} at {family}")
        elif part:
            parts.append(f"mixed at {family} ({map_text(part)})")
    return "Momentum leaves the saddle " + ", ".join(parts)


def _summary(evidence: Evidence, table: pd.DataFrame, numbers: dict[str, float],
             settings: list[tuple[str, float, float]], by_setting: dict[str, str]) -> str:
    parts = "; ".join(_setting_text(numbers, *c) for c in settings)
    counts = status_counts(evidence)
    return (f"{_lead(by_setting)}.  Median steps to |y| >= {ESCAPE:g} from the saddle (rho={RHO:g}), "
            f"ratio GD / momentum [95% CI]: {parts}"
            + problem_notes(counts, expected_runs(arms, evidence.budget), len(table))
            + ".")


def criterion(evidence: Evidence) -> Verdict:
    """The verdict (module docstring) from :func:`escape_times`."""
    table, numbers, settings = escape_times(evidence)
    if not settings:
        return Verdict(INCONCLUSIVE, "No paired runs of gradient descent and momentum were found.", {})
    by_setting = {name: side(numbers[f"ratio[{name}]_low"], numbers[f"ratio[{name}]_high"], 1.0, "above")
                  for name, _, _ in settings}
    return Verdict(combined(by_setting.values()), _summary(evidence, table, numbers, settings, by_setting),
                   numbers, by_setting)


CLAIM = Claim(
    key="momentum-escapes-saddle",
    number=NUMBER,
    statement=(
        "Transcript (translated): near a saddle point the gradient is not zero but the slope is very "
        "small, so stepping along the gradient we progress very slowly; with momentum, although the "
        "gradient near the saddle is very small, the velocity built up while rolling downhill helps "
        "us through the saddle point and we keep rolling.  Testable form: momentum leaves a saddle in "
        "fewer steps than gradient descent, unconditionally: both when GD has the same lr and when GD "
        "has momentum's effective step lr/(1-rho)."
    ),
    experiment=(
        "The 2-D strict saddle f = x^2/2 + y^4/4 - y^2/2 (saddle at the origin, curvature -1 along y).  "
        "Each run seed draws the initial distance from the saddle along y, 10**U(-4, -2) (seeded, the "
        "same for every arm); x starts at the problem's seeded N(0, 1) draw.  Momentum with "
        f"rho = {RHO:g} and lr in {', '.join(f'{lr:g}' for lr in LRS)} (the lecture's 'add a velocity to "
        "SGD') against gradient descent at the same lr and at momentum's effective step lr/(1-rho) "
        f"({', '.join(f'{effective_lr(lr):g}' for lr in LRS)}): 4 settings; nothing tuned.  Each "
        "run's budget is three times the escape time of GD at its lr from the smallest offset; every "
        "step recorded.  Seeds: the budget's run seeds (8; 5 with --quick)."
    ),
    statistic=(
        f"Escape time: the first step with |y| >= {ESCAPE:g} (the iterate has left the slab around the "
        "saddle's stable manifold; +inf if never).  Per seed and setting the ratio r = t_GD / "
        "t_momentum; its median with a 95% percentile bootstrap interval, beside the closed-form limit "
        "log g_mom / log g_GD of the growth factors per step along y (g_GD = 1 + lr, g_mom the largest "
        "root of z^2 - (1 + rho + lr) z + rho).  A setting holds if its interval lies above 1, does not "
        "hold if below 1, else inconclusive.  The claim holds if every setting holds; does not hold if "
        "any setting does not hold; inconclusive otherwise."
    ),
    arms=arms,
    criterion=criterion,
)
