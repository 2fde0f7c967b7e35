r"""Claim 3, ``momentum-averages-noise``: with noisy gradients momentum's path is smoother
than SGD's, both at the same ``lr`` and at the same effective step ``lr / (1 - rho)``.

Experiment: a rotated 2-D quadratic of condition number :data:`KAPPA` (eigenvalues 1
and ``L =`` :data:`KAPPA`; at dimension 2 every recorded row holds the iterate) with
additive Gaussian gradient noise (:data:`NOISE` per coordinate), the run seed also the
data seed, so the arms of a seed see the same noise draws.  For each ``lr * L`` of
:data:`STEPS_LR`: SGD with ``lr``, momentum with ``rho =`` :data:`RHO` and the same
``lr``, and momentum with ``lr (1 - rho)`` (the same effective step); nothing tuned.
The settings (:func:`comparisons`) are the two comparisons at each ``lr * L``.

Smoothness (:func:`mean_step_cosine`): with the steps ``d_t = x_{t+1} - x_t``, the mean
over the second half of the run of ``cos(d_t, d_{t-1}) = d_t . d_{t-1} / (|d_t| |d_{t-1}|)``
(1: a straight path, 0: a random walk, < 0: a zig-zag; -1 for a diverged run).

Noise floor (reported, not decided on): the mean subopt over the second half
(:func:`mean_late_subopt`), ``= 1/2 E[(x - x*)^T A (x - x*)]``.  Its stationary value
(:func:`stationary_subopt`): per eigenvalue ``h`` the heavy ball with ``lr = a``,
``rho = b`` and isotropic gradient noise ``sigma^2`` has stationary variance

    ``Var_h = a sigma^2 (1 + b) / (h (1 - b) (2 (1 + b) - a h))``

(the discrete Lyapunov equation of ``x_{t+1} = x_t - a (h x_t + xi_t) + b (x_t - x_{t-1})``;
``b = 0`` is SGD's ``a sigma^2 / (h (2 - a h))``), and ``E[subopt] = 1/2 sum_h h Var_h``.
At equal effective step the ratio momentum / SGD is 0.97 at ``lr * L = 0.1`` (the floor
barely moves) and 0.66 at ``lr * L = 1``; at equal lr it is 9.9 and 7.8 (momentum's
effective step is ``1 / (1 - rho)`` times larger).

Verdict (:func:`criterion`, on :func:`smoothness`): per seed and setting the difference
``cos_momentum - cos_SGD``, its median with a 95% bootstrap interval.  A setting holds if
the interval lies above :data:`MARGIN`, does not hold if below it, is inconclusive
otherwise (``by_setting``); the claim holds if every setting holds, does not hold if any
does not (:func:`~optbench.claims.base.combined`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..base import INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict, combined, side
from .paired_statistics import bootstrap_rng, ci_of, fmt, median_ci, paired, paired_difference
from .run_tables import by_seed, expected_runs, per_run, problem_notes, spec, status_counts

__all__ = [
    "CLAIM", "DIM", "KAPPA", "MARGIN", "NOISE", "NUMBER", "RHO", "STEPS_LR", "arms", "comparisons",
    "criterion", "mean_late_subopt", "mean_step_cosine", "smoothness", "stationary_subopt",
    "stationary_subopt_ratio",
]

NUMBER = 3
DIM = 2
KAPPA = 10.0
NOISE = 1.0
RHO = 0.9
#: SGD's lr * L (momentum's at equal lr; its lr * L / (1 - rho) at equal effective step).
STEPS_LR = (0.1, 1.0)
#: "Smoother" means a mean step cosine at least this much higher than SGD's.
MARGIN = 0.1


# --------------------------------------------------------------------------- arms


def comparisons() -> list[tuple[str, float, float]]:
    """The settings ``(name, sgd_lr, momentum_lr)``: at each SGD ``lr = lr_l / L``,
    momentum with the same lr, then momentum with ``lr (1 - rho)``."""
    same = [(f"equal lr (lr*L {x:g})", x / KAPPA, x / KAPPA) for x in STEPS_LR]
    step = [(f"equal effective step (lr*L {x:g})", x / KAPPA, float(f"{x / KAPPA * (1.0 - RHO):.12g}"))
            for x in STEPS_LR]
    return same + step


def arms(budget: Budget) -> list[Arm]:
    """``lr=<lr>/sgd`` and ``lr=<lr>/momentum`` for each lr of :func:`comparisons`: one run
    per seed, every step recorded."""
    steps = 2000 if budget.quick else 4000
    problem = {"dim": DIM, "condition_number": KAPPA, "noise": NOISE}
    runs = [("sgd", lr, {"lr": lr}) for lr in sorted({c[1] for c in comparisons()})] + [
        ("momentum", lr, {"lr": lr, "rho": RHO}) for lr in sorted({c[2] for c in comparisons()})]
    result = []
    for name, lr, params in runs:
        specs = [spec("quadratic", {**problem, "seed": s}, name, params, s, steps, 1, tol_grad=None)
                 for s in budget.seeds]
        result.append(Arm(f"lr={lr:g}/{name}", tuple(specs)))
    return result


# --------------------------------------------------------------------------- closed form


def stationary_subopt(lr: float, rho: float = 0.0, kappa: float = KAPPA, dim: int = DIM,
                      noise: float = NOISE) -> float:
    """Stationary ``E[subopt]`` of the heavy ball (SGD for ``rho = 0``) on the noisy
    quadratic: ``1/2 sum_h h Var_h`` over ``h`` in ``geomspace(1, kappa, dim)`` (module
    docstring)."""
    h = np.geomspace(1.0, kappa, dim)
    var = lr * noise ** 2 * (1.0 + rho) / (h * (1.0 - rho) * (2.0 * (1.0 + rho) - lr * h))
    return float(0.5 * np.sum(h * var))


def stationary_subopt_ratio(sgd_lr: float, momentum_lr: float, rho: float = RHO) -> float:
    """Closed-form noise floor momentum (``momentum_lr``, ``rho``) / SGD (``sgd_lr``)."""
    return stationary_subopt(momentum_lr, rho) / stationary_subopt(sgd_lr)


# --------------------------------------------------------------------------- statistics


def _late(rows: pd.DataFrame) -> np.ndarray:
    """Which rows lie after the first half of the run's recorded steps."""
    steps = rows["step"].to_numpy()
    return steps > steps.max() / 2.0


def mean_step_cosine(rows: pd.DataFrame, status: str) -> float:
    """Mean ``cos(d_t, d_{t-1})`` of consecutive steps ``d_t = x_{t+1} - x_t`` between the
    recorded iterates (``x_0``, ``x_1``) of the second half; -1 if diverged, NaN without
    iterates."""
    if status == "diverged":
        return -1.0
    if "x_1" not in rows:
        return math.nan
    x = rows.loc[_late(rows), ["x_0", "x_1"]].to_numpy(dtype=float)
    d = np.diff(x, axis=0)
    if len(d) < 2:
        return math.nan
    norms = np.linalg.norm(d, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(d[1:] * d[:-1], axis=1) / (norms[1:] * norms[:-1])
    return float(np.nanmean(cos)) if np.isfinite(cos).any() else math.nan


def mean_late_subopt(rows: pd.DataFrame, status: str) -> float:
    """Mean subopt over the rows after the first half of the run's budget (+inf if diverged)."""
    if status == "diverged":
        return math.inf
    late = _late(rows)
    return float(np.mean(rows["subopt"].to_numpy(dtype=float)[late])) if late.any() else math.nan


def _arm_medians(cos: pd.DataFrame, floor: pd.DataFrame, method: str, lr: float) -> dict[str, float]:
    """``cos_<method>_lr<lr>`` and ``floor_<method>_lr<lr>``: one arm's medians."""
    out = {}
    for key, table in (("cos", cos), ("floor", floor)):
        v = by_seed(table, f"lr={lr:g}/{method}").dropna()
        out[f"{key}_{method}_lr{lr:g}"] = float(np.median(v)) if len(v) else math.nan
    return out


def smoothness(evidence: Evidence) -> tuple[pd.DataFrame, dict[str, float], list[tuple[str, float, float]]]:
    """The statistics of the criterion and the figure: ``(cos_table, numbers, settings)``.

    ``cos_table`` is the :func:`~optbench.claims.dynamics.run_tables.per_run` table of
    :func:`mean_step_cosine`; ``settings`` those of :func:`comparisons` with runs of both
    arms; ``numbers`` per setting ``diff[<name>]`` (median paired ``cos_momentum -
    cos_SGD``, ``_low``/``_high`` its interval), ``floor_ratio[<name>]`` (median paired
    noise floor momentum / SGD, with its interval) and ``floor_theory[<name>]``
    (:func:`stationary_subopt_ratio`), and the arms' medians ``cos_<method>_lr<lr>``,
    ``floor_<method>_lr<lr>``.
    """
    cos, floor = per_run(evidence, mean_step_cosine), per_run(evidence, mean_late_subopt)
    rng = bootstrap_rng(NUMBER)
    numbers: dict[str, float] = {}
    settings = [c for c in comparisons() if (cos["arm"] == f"lr={c[1]:g}/sgd").any()
                and (cos["arm"] == f"lr={c[2]:g}/momentum").any()]
    for name, sgd_lr, mom_lr in settings:
        sgd, mom = f"lr={sgd_lr:g}/sgd", f"lr={mom_lr:g}/momentum"
        pairs = (("diff", paired_difference(cos, mom, sgd)), ("floor_ratio", paired(floor, mom, sgd)))
        for key, values in pairs:
            med, low, high = median_ci(values, rng)
            numbers.update({f"{key}[{name}]": med, f"{key}[{name}]_low": low, f"{key}[{name}]_high": high})
        numbers[f"floor_theory[{name}]"] = stationary_subopt_ratio(sgd_lr, mom_lr)
        numbers.update(_arm_medians(cos, floor, "sgd", sgd_lr))
        numbers.update(_arm_medians(cos, floor, "momentum", mom_lr))
    return cos, numbers, settings


# --------------------------------------------------------------------------- criterion


def _summary(evidence: Evidence, cos: pd.DataFrame, numbers: dict[str, float],
             settings: list[tuple[str, float, float]]) -> str:
    smooth = "; ".join(
        f"{name}: {fmt(numbers[f'cos_momentum_lr{m:g}'])} vs {fmt(numbers[f'cos_sgd_lr{g:g}'])}, "
        f"difference {ci_of(numbers, f'diff[{name}]')}" for name, g, m in settings)
    floor = "; ".join(
        f"{name}: {ci_of(numbers, f'floor_ratio[{name}]')} "
        f"(closed form {fmt(numbers[f'floor_theory[{name}]'])})"
        for name, _, _ in settings)
    counts = status_counts(evidence)
    return (f"Mean cosine between consecutive steps over the second half, momentum vs SGD and the paired "
            f"difference [95% CI]: {smooth} ('smoother' needs the interval above {MARGIN:g}).  Noise floor "
            f"(mean subopt over the second half), momentum / SGD: {floor}"
            + problem_notes(counts, expected_runs(arms, evidence.budget), len(cos)) + ".")


def criterion(evidence: Evidence) -> Verdict:
    """The verdict (module docstring) from :func:`smoothness`."""
    cos, numbers, settings = smoothness(evidence)
    if not settings:
        return Verdict(INCONCLUSIVE, "No paired runs of SGD and momentum were found.", {})
    by_setting = {name: side(numbers[f"diff[{name}]_low"], numbers[f"diff[{name}]_high"], MARGIN, "above")
                  for name, _, _ in settings}
    return Verdict(combined(by_setting.values()), _summary(evidence, cos, numbers, settings), numbers,
                   by_setting)


CLAIM = Claim(
    key="momentum-averages-noise",
    number=NUMBER,
    statement=(
        "Slide: 'Our gradients come from minibatches so they can be noisy!'  Transcript (translated): "
        "stepping along the weighted mix of velocity and gradient helps overcome some of the noise in "
        "the gradient estimates; the noise is cancelled out over time, and compared with SGD's "
        "winding path SGD+momentum approaches the minimum more smoothly.  Testable form: with noisy "
        "gradients momentum's path is smoother than SGD's (its consecutive steps point more nearly the "
        "same way), both at the same lr and at the same effective step lr/(1-rho)."
    ),
    experiment=(
        f"A rotated 2-D quadratic, kappa {KAPPA:g} (eigenvalues 1 and L = {KAPPA:g}; the iterate is "
        f"recorded at every step), additive Gaussian gradient noise of standard deviation {NOISE:g} per "
        "coordinate; the run seed is also the data seed, and the arms of a seed see the same noise "
        f"draws.  SGD with lr against momentum with rho = {RHO:g} and the same lr (equal lr), and "
        "against momentum with lr (1 - rho) (equal effective step lr/(1-rho)), at SGD's lr * L in "
        f"{', '.join(f'{x:g}' for x in STEPS_LR)}: 4 settings.  4000 steps (2000 with --quick); the "
        "second half of each run is its stationary phase.  Nothing tuned.  Seeds: the budget's run "
        "seeds (8; 5 with --quick)."
    ),
    statistic=(
        "Smoothness: per run the mean over the second half of cos(d_t, d_(t-1)), d_t = x_(t+1) - x_t "
        "(1 straight, 0 a random walk, negative a zig-zag; -1 if diverged); per seed and setting the "
        "difference momentum - SGD, its median with a 95% percentile bootstrap interval.  A setting "
        f"holds if the interval lies above {MARGIN:g}, does not hold if below {MARGIN:g}, else "
        "inconclusive; the claim holds if every setting holds, does not hold if any does not, else "
        "inconclusive.  Reported beside it, not decided on: the noise floor (mean subopt over the "
        "second half) momentum / SGD per setting, paired, with its closed-form stationary value."
    ),
    arms=arms,
    criterion=criterion,
)
