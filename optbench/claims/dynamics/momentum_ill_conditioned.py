"""Claim 1, ``momentum-ill-conditioned``: momentum needs far fewer steps than gradient
descent on an ill-conditioned quadratic, and its step count grows more slowly with the
condition number (``~ sqrt(kappa)`` against ``~ kappa``).

Experiment: random rotated quadratics of dimension :data:`DIM`, condition numbers
:data:`KAPPAS`, the run seed also the data seed.  Gradient descent at its optimal
constant step ``2 / (L + mu)`` against the heavy ball with Polyak's optimal ``lr`` and
``rho`` (:func:`heavy_ball_params`), nothing tuned on the runs; a run stops at
``subopt <=`` :data:`TARGET`.

Verdict (:func:`criterion`, on :func:`steps_to_target`): per seed and kappa the ratio
``steps_GD / steps_momentum`` (``+inf`` steps for a run that never reached the target),
its median with a 95% bootstrap interval; and the growth exponents, the slopes of
``log(median steps)`` on ``log(kappa)``, with an interval for their difference from
resampling seeds.  Holds if at the largest kappa the ratio's interval lies above
:data:`FAR_FEWER` and the exponent difference's above 0; does not hold if the ratio's
interval at the largest kappa lies below 1 or the exponent difference's below 0;
inconclusive otherwise.  ``by_setting`` maps each kappa to whether momentum needs "far
fewer" steps there (:func:`~optbench.claims.base.side` of the ratio's interval against
:data:`FAR_FEWER`): it shows from which condition number on the first half of the claim
holds, while the verdict is decided at the largest kappa and by the exponents.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..base import INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict, side
from .paired_statistics import (LEVEL, N_BOOT, bootstrap_rng, ci_of, ci_text, fmt, median_ci, paired,
                                verdict_from_sides)
from .run_tables import by_seed, expected_runs, per_run, problem_notes, spec, status_counts, steps_to_subopt

__all__ = [
    "CLAIM", "DIM", "FAR_FEWER", "KAPPAS", "NUMBER", "TARGET", "arms", "criterion", "heavy_ball_params",
    "setting_name", "steps_to_target",
]

NUMBER = 1
KAPPAS = (2.0, 10.0, 100.0, 1000.0, 10000.0)
DIM = 20
TARGET = 1e-6
#: "Far fewer": the median ratio of steps must exceed this.
FAR_FEWER = 2.0


# --------------------------------------------------------------------------- arms


def setting_name(kappa: float) -> str:
    """The key of ``kappa`` in the verdict's ``by_setting``: ``"kappa 1000"``."""
    return f"kappa {kappa:g}"


def _gd_rate(kappa: float) -> float:
    """Contraction of the error per step of GD with its optimal step ``2 / (L + mu)``."""
    return (kappa - 1.0) / (kappa + 1.0)


def heavy_ball_params(kappa: float) -> tuple[float, float]:
    """Polyak's optimal heavy ball on a quadratic with ``mu = 1, L = kappa``:
    ``lr = 4 / (sqrt(L) + sqrt(mu))**2``, ``rho = ((sqrt(L) - sqrt(mu)) / (sqrt(L) + sqrt(mu)))**2``.
    (Our momentum ``v = rho v + g, x -= lr v`` is the heavy ball
    ``x+ = x - lr g + rho (x - x-)``.)"""
    s = math.sqrt(kappa)
    return 4.0 / (s + 1.0) ** 2, ((s - 1.0) / (s + 1.0)) ** 2


def _steps_budget(rate: float, kappa: float, slack: float) -> int:
    """Enough steps to bring an error ``rate**t`` down from ``~dim * kappa`` to the target."""
    need = math.log(DIM * kappa / TARGET) / (-2.0 * math.log(rate))
    return int(math.ceil(slack * need)) + 50


def arms(budget: Budget) -> list[Arm]:
    """``kappa=<k>/sgd`` and ``kappa=<k>/momentum`` for each kappa: one run per seed."""
    result = []
    for kappa in KAPPAS:
        gd_steps = _steps_budget(_gd_rate(kappa), kappa, 1.5)
        hb_lr, hb_rho = heavy_ball_params(kappa)
        hb_steps = _steps_budget((math.sqrt(kappa) - 1.0) / (math.sqrt(kappa) + 1.0), kappa, 3.0)
        for name, opt, params, steps in (
            ("sgd", "sgd", {"lr": 2.0 / (kappa + 1.0)}, gd_steps),
            ("momentum", "momentum", {"lr": hb_lr, "rho": hb_rho}, hb_steps),
        ):
            record = max(1, steps // 400)
            specs = [spec("quadratic", {"dim": DIM, "condition_number": kappa, "seed": s},
                          opt, params, s, steps, record, tol_subopt=TARGET)
                     for s in budget.seeds]
            result.append(Arm(f"kappa={kappa:g}/{name}", tuple(specs)))
    return result


# --------------------------------------------------------------------------- statistics


def _slopes(kappas: Sequence[float] | np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Least-squares slopes of ``log(steps)`` on ``log(kappa)``, one per row of ``steps``
    (shape ``(..., len(kappas))``): ``sum (u - mean u)(v - mean v) / sum (u - mean u)^2``
    with ``u = log kappa, v = log steps``.  A row with a ``+inf`` count (the target was not
    reached: the count outgrew its budget) has slope ``+inf``; one with a NaN or
    non-positive count NaN."""
    steps = np.asarray(steps, dtype=float)
    u = np.log(np.asarray(kappas, dtype=float))
    u = u - u.mean()
    bad = np.isnan(steps).any(axis=-1) | (steps <= 0).any(axis=-1)
    unreached = np.isinf(steps).any(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.log(np.where(np.isfinite(steps) & (steps > 0), steps, 1.0))
    slope = (v * u).sum(axis=-1) / (u * u).sum()
    return np.where(bad, np.nan, np.where(unreached, np.inf, slope))


def _ratios(table: pd.DataFrame, kappas: list[float], rng: np.random.Generator) -> dict[str, float]:
    """Per kappa: the paired ratio GD / momentum (median, interval) and each method's
    median steps."""
    numbers: dict[str, float] = {}
    for k in kappas:
        med, low, high = median_ci(paired(table, f"kappa={k:g}/sgd", f"kappa={k:g}/momentum"), rng)
        numbers[f"ratio_k{k:g}"], numbers[f"ratio_k{k:g}_low"], numbers[f"ratio_k{k:g}_high"] = med, low, high
        for m in ("sgd", "momentum"):
            numbers[f"steps_{m}_k{k:g}"] = float(np.median(by_seed(table, f"kappa={k:g}/{m}").dropna())) \
                if by_seed(table, f"kappa={k:g}/{m}").notna().any() else math.nan
    return numbers


def _seed_matrices(table: pd.DataFrame, kappas: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Steps of GD and of momentum, a row per seed both have with no NaN, a column per kappa."""
    mats = {}
    seeds = None
    for m in ("sgd", "momentum"):
        cols = [by_seed(table, f"kappa={k:g}/{m}") for k in kappas]
        frame = pd.concat(cols, axis=1)
        mats[m] = frame
        seeds = frame.index if seeds is None else seeds.intersection(frame.index)
    a = mats["sgd"].loc[seeds].to_numpy(dtype=float)
    b = mats["momentum"].loc[seeds].to_numpy(dtype=float)
    keep = ~(np.isnan(a).any(axis=1) | np.isnan(b).any(axis=1))
    return a[keep], b[keep]


def _difference_interval(diffs: np.ndarray) -> tuple[float, float]:
    """Percentiles without interpolation (+-inf allowed); NaN (inf - inf) left out,
    and no interval if more than a tenth of the resamples have no difference."""
    defined = diffs[~np.isnan(diffs)]
    if defined.size >= 0.9 * N_BOOT:
        low = float(np.quantile(defined, (1 - LEVEL) / 2, method="lower"))
        high = float(np.quantile(defined, (1 + LEVEL) / 2, method="higher"))
    else:
        low = high = math.nan
    return low, high


def _exponents(table: pd.DataFrame, kappas: list[float], rng: np.random.Generator) -> dict[str, float]:
    """Growth exponents: slope of log(median steps) on log(kappa); bootstrap over seeds
    (one resample of the seeds for both methods, so the difference is paired).  Empty
    with fewer than two complete seeds."""
    ks = np.array(kappas)
    a, b = _seed_matrices(table, kappas)
    n = a.shape[0]
    if n < 2:
        return {}
    slope_a = float(_slopes(ks, np.median(a, axis=0)))
    slope_b = float(_slopes(ks, np.median(b, axis=0)))
    boot = rng.integers(0, n, size=(N_BOOT, n))
    with np.errstate(invalid="ignore"):
        diffs = (_slopes(ks, np.median(a[boot], axis=1))
                 - _slopes(ks, np.median(b[boot], axis=1)))
    low, high = _difference_interval(diffs)
    return dict(exponent_sgd=slope_a, exponent_momentum=slope_b, exponent_diff=slope_a - slope_b,
                exponent_diff_low=float(low), exponent_diff_high=float(high))


def steps_to_target(evidence: Evidence) -> dict[str, Any]:
    """The statistics of the criterion and the figure.

    Returns a dict: ``table``, the :func:`~optbench.claims.dynamics.run_tables.per_run`
    table of steps to :data:`TARGET` (``+inf`` if never); ``kappas``, those with runs
    of both methods; ``numbers``, per kappa ``ratio_k<k>`` (median GD / momentum ratio,
    with ``_low``/``_high`` its interval) and ``steps_<sgd|momentum>_k<k>`` (median
    steps), and with two kappas or more ``exponent_sgd``, ``exponent_momentum``,
    ``exponent_diff`` (with ``_low``/``_high``).
    """
    table = per_run(evidence, steps_to_subopt(TARGET))
    rng = bootstrap_rng(NUMBER)
    kappas = [k for k in KAPPAS if (table["arm"] == f"kappa={k:g}/sgd").any()
              and (table["arm"] == f"kappa={k:g}/momentum").any()]
    numbers = _ratios(table, kappas, rng)
    if len(kappas) >= 2:
        numbers.update(_exponents(table, kappas, rng))
    return {"table": table, "kappas": kappas, "numbers": numbers}


# --------------------------------------------------------------------------- criterion


def _summary(evidence: Evidence, stats: dict[str, Any]) -> str:
    numbers, kappas = stats["numbers"], stats["kappas"]
    d_low, d_high = numbers.get("exponent_diff_low", math.nan), numbers.get("exponent_diff_high", math.nan)
    ratios = ", ".join(f"kappa={k:g}: {ci_of(numbers, f'ratio_k{k:g}')}"
                       for k in kappas)
    return (
        f"Steps to subopt <= {TARGET:g}, GD / heavy ball (median [95% CI]): {ratios}; "
        f"growth exponents GD {fmt(numbers.get('exponent_sgd', math.nan))}, momentum "
        f"{fmt(numbers.get('exponent_momentum', math.nan))} (difference "
        f"{ci_text(numbers.get('exponent_diff', math.nan), d_low, d_high)})"
        + problem_notes(status_counts(evidence), expected_runs(arms, evidence.budget), len(stats["table"]))
        + "."
    )


def criterion(evidence: Evidence) -> Verdict:
    """The verdict (module docstring) from :func:`steps_to_target`."""
    stats = steps_to_target(evidence)
    numbers = stats["numbers"]
    kappas = stats["kappas"]
    if not kappas:
        return Verdict(INCONCLUSIVE, "No paired runs of gradient descent and momentum were found.", {})
    top = max(kappas)
    low, high = numbers[f"ratio_k{top:g}_low"], numbers[f"ratio_k{top:g}_high"]
    d_low, d_high = numbers.get("exponent_diff_low", math.nan), numbers.get("exponent_diff_high", math.nan)
    outcome = verdict_from_sides(
        [low > FAR_FEWER, d_low > 0.0],
        [high < 1.0, d_high < 0.0],
    )
    by_kappa = {setting_name(k): side(numbers[f"ratio_k{k:g}_low"], numbers[f"ratio_k{k:g}_high"],
                                      FAR_FEWER, "above") for k in kappas}
    return Verdict(outcome, _summary(evidence, stats), numbers, by_setting=by_kappa)


CLAIM = Claim(
    key="momentum-ill-conditioned",
    number=NUMBER,
    statement=(
        "Slide: 'What if loss changes quickly in one direction and slowly in another? What does "
        "gradient descent do?  Loss function has high condition number: ratio of largest to smallest "
        "singular value of the Hessian matrix is large.'  Transcript (translated): SGD makes its "
        "characteristic zig-zag and progresses very slowly along the insensitive dimension; with "
        "momentum the zig-zags cancel, the velocity along the shallow direction keeps growing, and "
        "momentum helps with the high condition number."
    ),
    experiment=(
        f"Random rotated quadratics, dim {DIM}, eigenvalues log-spaced from 1 to kappa for kappa in "
        f"{', '.join(f'{k:g}' for k in KAPPAS)}; each run seed is also the data seed (a new instance "
        "per seed, shared by both arms).  Full-batch gradient descent with its optimal constant step "
        "lr = 2/(L+mu) against momentum (heavy ball) with Polyak's optimal lr = 4/(sqrt(L)+sqrt(mu))^2 "
        "and rho = ((sqrt(L)-sqrt(mu))/(sqrt(L)+sqrt(mu)))^2: each method at its theoretically best "
        f"constant setting for the quadratic, nothing tuned on the runs.  A run stops at subopt <= "
        f"{TARGET:g} (absolute); budgets are 1.5x (GD) and 3x (momentum) the linear-rate estimate, "
        "recording every budget/400 steps (the step count's resolution, under 0.5%).  Seeds: the "
        "budget's run seeds (8; 5 with --quick)."
    ),
    statistic=(
        "Per seed and kappa the ratio r = steps_GD / steps_momentum; its median with a 95% percentile "
        "bootstrap interval (2000 resamples).  Growth exponents: least-squares slope of log(median "
        "steps) on log(kappa) per method, the difference's interval from resampling seeds.  Holds if at "
        f"the largest kappa the ratio's interval lies above {FAR_FEWER:g} ('far fewer') and the "
        "exponent difference's interval lies above 0 (GD's count grows faster); does not hold if the "
        "ratio's interval at the largest kappa lies below 1 or the exponent difference's interval "
        "lies below 0; inconclusive otherwise.  A run that never reached the target counts as +inf "
        f"steps.  Over kappa: at each kappa 'far fewer' holds if the ratio's interval lies above "
        f"{FAR_FEWER:g}, does not hold if it lies below, and is inconclusive otherwise (the map; the "
        "verdict is decided at the largest kappa and by the exponents as above)."
    ),
    arms=arms,
    criterion=criterion,
)
