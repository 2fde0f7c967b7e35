"""Claims 1-5 of the lecture: the dynamics of SGD, momentum, Nesterov, AdaGrad and RMSProp.

1. ``momentum-ill-conditioned``: on an ill-conditioned quadratic momentum needs far
   fewer steps than gradient descent, and its step count grows more slowly with the
   condition number (``~ sqrt(kappa)`` against ``~ kappa``).
2. ``momentum-escapes-saddle``: near a saddle gradient descent crawls; momentum
   leaves the saddle's neighbourhood sooner.
3. ``momentum-averages-noise``: with noisy gradients momentum's iterates scatter less
   around the optimum than SGD's at the same effective step ``lr / (1 - rho)``.
4. ``nesterov-vs-momentum``: Nesterov momentum converges at least as fast as plain
   momentum with the same ``lr`` and ``rho`` on convex quadratics.
5. ``adagrad-stalls``: AdaGrad's step keeps shrinking and it stalls on a long
   non-convex run; RMSProp does not.

Every criterion works on paired per-seed statistics (the arms of one claim share
their seeds, hence their problem instances and initial points), summarised by the
median with a percentile bootstrap interval (:func:`optbench.statistics.bootstrap_ci`,
95 %, 2000 resamples, a Generator seeded by the claim's number).  A run that
diverged counts as the worst outcome (``+inf`` steps or loss); a run that raised
(status ``"error"``) or is missing has no value and its seed drops out of the pairs;
summaries say how many of each there were.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from .. import statistics
from ..spec import RunSpec
from .base import FAILS, HOLDS, INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["CLAIMS"]

#: Nominal coverage of every bootstrap interval here.
LEVEL = 0.95
#: Bootstrap resamples.
N_BOOT = 2000


# --------------------------------------------------------------------------- helpers


def _rng(number: int) -> np.random.Generator:
    """The bootstrap generator of claim ``number`` (same evidence, same interval)."""
    return np.random.default_rng([number, 0xC1A1])


def _median_ci(values: Iterable[float], rng: np.random.Generator) -> tuple[float, float, float]:
    """``(median, low, high)``: the median of the non-NaN values and its percentile
    bootstrap interval (``+inf`` kept as the worst value); NaNs for no values."""
    arr = np.asarray(list(values), dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return (math.nan, math.nan, math.nan)
    low, high = statistics.bootstrap_ci(arr, np.median, LEVEL, N_BOOT, rng)
    return (float(np.median(arr)), low, high)


def _ratio(num: float, den: float) -> float:
    """``num / den`` for non-negative "lower is better" values, infinities included:
    ``inf / finite = inf``, ``finite / inf = 0``, ``inf / inf`` and anything with NaN
    are NaN (no comparison), ``x / 0`` is ``inf`` (0 / 0 is 1)."""
    if math.isnan(num) or math.isnan(den):
        return math.nan
    if math.isinf(num) and math.isinf(den):
        return math.nan
    if den == 0.0:
        return 1.0 if num == 0.0 else math.inf
    if math.isinf(den):
        return 0.0
    return num / den


def _status_counts(evidence: Evidence, arms: Sequence[str] | None = None) -> dict[str, int]:
    """Runs of ``arms`` (default all) by status: ``diverged``, ``error``."""
    runs = evidence.runs
    if runs.empty or "status" not in runs:
        return {"diverged": 0, "error": 0}
    if arms is not None:
        runs = runs[runs["arm"].isin(list(arms))]
    status = runs["status"].astype(str)
    return {"diverged": int((status == "diverged").sum()), "error": int((status == "error").sum())}


def _problem_notes(counts: dict[str, int], expected: int, present: int) -> str:
    """Text for the summary: how many runs diverged, failed or are missing."""
    missing = max(0, expected - present)
    parts = []
    if counts["diverged"]:
        parts.append(f"{counts['diverged']} diverged run(s) counted as the worst outcome")
    if counts["error"]:
        parts.append(f"{counts['error']} failed run(s) left out")
    if missing > counts["error"]:
        parts.append(f"{missing - counts['error']} run(s) missing")
    return ("; " + ", ".join(parts)) if parts else ""


def _per_run(evidence: Evidence, value: Callable[[pd.DataFrame, str], float]) -> pd.DataFrame:
    """One row per run with trace rows: ``run_id, arm, seed, status, value`` where
    ``value(rows, status)`` sees the run's rows in step order; runs that raised are
    NaN."""
    columns = ["run_id", "arm", "seed", "status", "value"]
    trace = evidence.trace
    if trace.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for run_id, group in trace.sort_values(["run_id", "step"]).groupby("run_id", sort=True):
        status = str(group["status"].iloc[0])
        v = math.nan if status == "error" else float(value(group, status))
        rows.append({"run_id": run_id, "arm": group["arm"].iloc[0], "seed": int(group["seed"].iloc[0]),
                     "status": status, "value": v})
    return pd.DataFrame(rows, columns=columns)


def _by_seed(table: pd.DataFrame, arm: str) -> pd.Series:
    """The ``value`` column of one arm indexed by seed."""
    part = table[table["arm"] == arm]
    return pd.Series(part["value"].to_numpy(dtype=float), index=part["seed"].to_numpy(dtype=int))


def _paired(table: pd.DataFrame, num_arm: str, den_arm: str) -> np.ndarray:
    """Per-seed ratios ``value(num_arm) / value(den_arm)`` over the seeds both have."""
    a, b = _by_seed(table, num_arm), _by_seed(table, den_arm)
    seeds = sorted(set(a.index) & set(b.index))
    return np.array([_ratio(a[s], b[s]) for s in seeds], dtype=float)


def _first_step(rows: pd.DataFrame, hit: np.ndarray) -> float:
    """The first recorded step where ``hit`` is True, else ``+inf``."""
    if not hit.any():
        return math.inf
    return float(rows["step"].to_numpy()[int(np.argmax(hit))])


def _steps_to_subopt(target: float) -> Callable[[pd.DataFrame, str], float]:
    """First recorded step with ``subopt <= target`` (``+inf`` if never; a diverged
    run's rows before the divergence count)."""
    def value(rows: pd.DataFrame, status: str) -> float:
        subopt = rows["subopt"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            return _first_step(rows, subopt <= target)
    return value


def _fmt(x: float, digits: int = 3) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def _ci_text(median: float, low: float, high: float) -> str:
    return f"{_fmt(median)} [{_fmt(low)}, {_fmt(high)}]"


def _ci_of(numbers: dict[str, float], key: str) -> str:
    """``median [low, high]`` of ``numbers[key]``, ``numbers[key + "_low"]``, ``..._high``."""
    nan = math.nan
    return _ci_text(numbers.get(key, nan), numbers.get(f"{key}_low", nan), numbers.get(f"{key}_high", nan))


def _expected_runs(arms: Callable[[Budget], list[Arm]], budget: Budget) -> int:
    return sum(len(arm.specs) for arm in arms(budget))


def _spec(problem: str, problem_params: dict[str, Any], optimizer: str, optimizer_params: dict[str, Any],
          seed: int, steps: int, record_every: int = 1, **options: Any) -> RunSpec:
    return RunSpec(problem=problem, optimizer=optimizer, problem_params=problem_params,
                   optimizer_params=optimizer_params, seed=int(seed), steps=int(steps),
                   record_every=int(record_every), options=options)


def _verdict_from_sides(checks_hold: Sequence[bool], checks_fail: Sequence[bool]) -> str:
    """HOLDS if every hold-check passes, FAILS if any fail-check passes, else INCONCLUSIVE."""
    if any(checks_fail):
        return FAILS
    if checks_hold and all(checks_hold):
        return HOLDS
    return INCONCLUSIVE


def _figure_parts():
    """The report's style helpers (imported by figures only)."""
    from reports import style

    return style


def _title(claim_number: int, text: str) -> str:
    return f"Claim {claim_number}: {text}"


# --------------------------------------------------------------------------- claim 1

KAPPAS_1 = (10.0, 100.0, 1000.0, 10000.0)
DIM_1 = 20
TARGET_1 = 1e-6
#: "Far fewer": the median ratio of steps must exceed this.
FAR_FEWER = 2.0


def _gd_rate(kappa: float) -> float:
    """Contraction of the error per step of GD with its optimal step ``2 / (L + mu)``."""
    return (kappa - 1.0) / (kappa + 1.0)


def _heavy_ball_params(kappa: float) -> tuple[float, float]:
    """Polyak's optimal heavy ball on a quadratic with ``mu = 1, L = kappa``:
    ``lr = 4 / (sqrt(L) + sqrt(mu))**2``, ``rho = ((sqrt(L) - sqrt(mu)) / (sqrt(L) + sqrt(mu)))**2``.
    (Our momentum ``v = rho v + g, x -= lr v`` is the heavy ball
    ``x+ = x - lr g + rho (x - x-)``.)"""
    s = math.sqrt(kappa)
    return 4.0 / (s + 1.0) ** 2, ((s - 1.0) / (s + 1.0)) ** 2


def _steps_budget(rate: float, kappa: float, slack: float) -> int:
    """Enough steps to bring an error ``rate**t`` down from ``~dim * kappa`` to the target."""
    need = math.log(DIM_1 * kappa / TARGET_1) / (-2.0 * math.log(rate))
    return int(math.ceil(slack * need)) + 50


def _arms_1(budget: Budget) -> list[Arm]:
    arms = []
    for kappa in KAPPAS_1:
        gd_steps = _steps_budget(_gd_rate(kappa), kappa, 1.5)
        hb_lr, hb_rho = _heavy_ball_params(kappa)
        hb_steps = _steps_budget((math.sqrt(kappa) - 1.0) / (math.sqrt(kappa) + 1.0), kappa, 3.0)
        for name, opt, params, steps in (
            ("sgd", "sgd", {"lr": 2.0 / (kappa + 1.0)}, gd_steps),
            ("momentum", "momentum", {"lr": hb_lr, "rho": hb_rho}, hb_steps),
        ):
            record = max(1, steps // 400)
            specs = [_spec("quadratic", {"dim": DIM_1, "condition_number": kappa, "seed": s},
                           opt, params, s, steps, record, tol_subopt=TARGET_1)
                     for s in budget.seeds]
            arms.append(Arm(f"kappa={kappa:g}/{name}", tuple(specs)))
    return arms


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


def _stats_1(evidence: Evidence) -> dict[str, Any]:
    table = _per_run(evidence, _steps_to_subopt(TARGET_1))
    rng = _rng(1)
    out: dict[str, Any] = {"table": table}
    kappas = [k for k in KAPPAS_1 if (table["arm"] == f"kappa={k:g}/sgd").any()
              and (table["arm"] == f"kappa={k:g}/momentum").any()]
    out["kappas"] = kappas
    numbers: dict[str, float] = {}
    for k in kappas:
        med, low, high = _median_ci(_paired(table, f"kappa={k:g}/sgd", f"kappa={k:g}/momentum"), rng)
        numbers[f"ratio_k{k:g}"], numbers[f"ratio_k{k:g}_low"], numbers[f"ratio_k{k:g}_high"] = med, low, high
        for m in ("sgd", "momentum"):
            numbers[f"steps_{m}_k{k:g}"] = float(np.median(_by_seed(table, f"kappa={k:g}/{m}").dropna())) \
                if _by_seed(table, f"kappa={k:g}/{m}").notna().any() else math.nan
    # Exponents: slope of log(median steps) on log(kappa); bootstrap over seeds
    # (one resample of the seeds for both methods, so the difference is paired).
    if len(kappas) >= 2:
        ks = np.array(kappas)
        mats = {}
        seeds = None
        for m in ("sgd", "momentum"):
            cols = [_by_seed(table, f"kappa={k:g}/{m}") for k in kappas]
            frame = pd.concat(cols, axis=1)
            mats[m] = frame
            seeds = frame.index if seeds is None else seeds.intersection(frame.index)
        a = mats["sgd"].loc[seeds].to_numpy(dtype=float)
        b = mats["momentum"].loc[seeds].to_numpy(dtype=float)
        keep = ~(np.isnan(a).any(axis=1) | np.isnan(b).any(axis=1))
        a, b = a[keep], b[keep]
        n = a.shape[0]
        if n >= 2:
            slope_a = float(_slopes(ks, np.median(a, axis=0)))
            slope_b = float(_slopes(ks, np.median(b, axis=0)))
            boot = rng.integers(0, n, size=(N_BOOT, n))
            with np.errstate(invalid="ignore"):
                diffs = (_slopes(ks, np.median(a[boot], axis=1))
                         - _slopes(ks, np.median(b[boot], axis=1)))
            # Percentiles without interpolation (+-inf allowed); NaN (inf - inf) left out,
            # and no interval if more than a tenth of the resamples have no difference.
            defined = diffs[~np.isnan(diffs)]
            if defined.size >= 0.9 * N_BOOT:
                low = float(np.quantile(defined, (1 - LEVEL) / 2, method="lower"))
                high = float(np.quantile(defined, (1 + LEVEL) / 2, method="higher"))
            else:
                low = high = math.nan
            numbers.update(exponent_sgd=slope_a, exponent_momentum=slope_b,
                           exponent_diff=slope_a - slope_b, exponent_diff_low=float(low),
                           exponent_diff_high=float(high))
    out["numbers"] = numbers
    return out


def _criterion_1(evidence: Evidence) -> Verdict:
    stats = _stats_1(evidence)
    numbers = stats["numbers"]
    kappas = stats["kappas"]
    if not kappas:
        return Verdict(INCONCLUSIVE, "No paired runs of gradient descent and momentum were found.", {})
    top = max(kappas)
    low, high = numbers[f"ratio_k{top:g}_low"], numbers[f"ratio_k{top:g}_high"]
    d_low, d_high = numbers.get("exponent_diff_low", math.nan), numbers.get("exponent_diff_high", math.nan)
    outcome = _verdict_from_sides(
        [low > FAR_FEWER, d_low > 0.0],
        [high < 1.0, d_high < 0.0],
    )
    counts = _status_counts(evidence)
    table = stats["table"]
    ratios = ", ".join(f"kappa={k:g}: {_ci_of(numbers, f'ratio_k{k:g}')}"
                       for k in kappas)
    summary = (
        f"Steps to subopt <= {TARGET_1:g}, GD / heavy ball (median [95% CI]): {ratios}; "
        f"growth exponents GD {_fmt(numbers.get('exponent_sgd', math.nan))}, momentum "
        f"{_fmt(numbers.get('exponent_momentum', math.nan))} (difference "
        f"{_ci_text(numbers.get('exponent_diff', math.nan), d_low, d_high)})"
        + _problem_notes(counts, _expected_runs(_arms_1, evidence.budget), len(table)) + "."
    )
    return Verdict(outcome, summary, numbers)


def _figure_1(evidence: Evidence) -> "Figure":
    style = _figure_parts()
    stats = _stats_1(evidence)
    numbers, table = stats["numbers"], stats["table"]
    palette = style.Palette(["sgd", "momentum"])
    with style.theme():
        fig, (ax, ax2) = style.facets(2, 2, suptitle=True, panel=(4.2, 3.2))
        for m, label in (("sgd", "GD, lr = 2/(L+mu)"), ("momentum", "heavy ball, optimal lr, rho")):
            ks, med, lo, hi = [], [], [], []
            for k in stats["kappas"]:
                v = _by_seed(table, f"kappa={k:g}/{m}").dropna().to_numpy()
                v = v[np.isfinite(v)]
                if v.size:
                    ks.append(k)
                    med.append(np.median(v))
                    lo.append(v.min())
                    hi.append(v.max())
            if ks:
                ax.plot(ks, med, marker="o", label=label, **palette.line_kw(m))
                ax.fill_between(ks, lo, hi, alpha=0.2, color=palette.color(m))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("condition number kappa")
        ax.set_ylabel(f"steps to subopt <= {TARGET_1:g}")
        ax.legend(loc="upper left")
        style.note(ax, f"exponent GD {_fmt(numbers.get('exponent_sgd', math.nan))}\n"
                       f"exponent momentum {_fmt(numbers.get('exponent_momentum', math.nan))}",
                   loc="lower right")
        ks = stats["kappas"]
        if ks:
            med = [numbers[f"ratio_k{k:g}"] for k in ks]
            err_lo = [numbers[f"ratio_k{k:g}"] - numbers[f"ratio_k{k:g}_low"] for k in ks]
            err_hi = [numbers[f"ratio_k{k:g}_high"] - numbers[f"ratio_k{k:g}"] for k in ks]
            ax2.errorbar(ks, med, yerr=[np.nan_to_num(err_lo), np.nan_to_num(err_hi)], marker="o",
                         color="0.2", capsize=3)
        ax2.axhline(FAR_FEWER, color="0.5", linestyle="--", linewidth=1)
        ax2.axhline(1.0, color="0.7", linestyle=":", linewidth=1)
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set_xlabel("condition number kappa")
        ax2.set_ylabel("steps GD / steps momentum (median, 95% CI)")
        style.suptitle(fig, _title(1, "momentum on ill-conditioned quadratics"))
    return fig


CLAIM_1 = Claim(
    key="momentum-ill-conditioned",
    number=1,
    statement=(
        "Slide: 'What if loss changes quickly in one direction and slowly in another? What does "
        "gradient descent do?  Loss function has high condition number: ratio of largest to smallest "
        "singular value of the Hessian matrix is large.'  Transcript (translated): SGD makes its "
        "characteristic zig-zag and progresses very slowly along the insensitive dimension; with "
        "momentum the zig-zags cancel, the velocity along the shallow direction keeps growing, and "
        "momentum helps with the high condition number."
    ),
    experiment=(
        f"Random rotated quadratics, dim {DIM_1}, eigenvalues log-spaced from 1 to kappa for kappa in "
        f"{', '.join(f'{k:g}' for k in KAPPAS_1)}; each run seed is also the data seed (a new instance "
        "per seed, shared by both arms).  Full-batch gradient descent with its optimal constant step "
        "lr = 2/(L+mu) against momentum (heavy ball) with Polyak's optimal lr = 4/(sqrt(L)+sqrt(mu))^2 "
        "and rho = ((sqrt(L)-sqrt(mu))/(sqrt(L)+sqrt(mu)))^2: each method at its theoretically best "
        f"constant setting for the quadratic, nothing tuned on the runs.  A run stops at subopt <= "
        f"{TARGET_1:g} (absolute); budgets are 1.5x (GD) and 3x (momentum) the linear-rate estimate, "
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
        "steps."
    ),
    arms=_arms_1,
    criterion=_criterion_1,
    figure=_figure_1,
)


# --------------------------------------------------------------------------- claim 2

LRS_2 = (0.01, 0.1)
RHO_2 = 0.9
#: The iterate has left the saddle once its negative-curvature coordinate reaches this.
ESCAPE_2 = 0.5
#: Initial offsets along the negative-curvature direction: 10**U(-4, -2) per seed.
OFFSET_RANGE_2 = (-4.0, -2.0)


def _offset_2(seed: int) -> float:
    """The seeded initial distance from the saddle along ``y`` (log-uniform)."""
    u = np.random.default_rng([seed, 2, 0x5ADD1E]).uniform(*OFFSET_RANGE_2)
    return float(f"{10.0 ** u:.6g}")


def _steps_2(lr: float) -> int:
    """About three times GD's escape time from the smallest offset."""
    return int(math.ceil(3.0 * math.log(ESCAPE_2 / 10.0 ** OFFSET_RANGE_2[0]) / math.log1p(lr)))


def _arms_2(budget: Budget) -> list[Arm]:
    arms = []
    for lr in LRS_2:
        for name, params in (("sgd", {"lr": lr}), ("momentum", {"lr": lr, "rho": RHO_2})):
            specs = [_spec("saddle", {"dim": 2, "n_neg": 1, "offset": _offset_2(s)}, name, params, s,
                           _steps_2(lr), 1) for s in budget.seeds]
            arms.append(Arm(f"lr={lr:g}/{name}", tuple(specs)))
    return arms


def _escape_step(rows: pd.DataFrame, status: str) -> float:
    """First step at which ``|y| = |x_1| >= ESCAPE_2`` (``+inf`` if never)."""
    y = np.abs(rows["x_1"].to_numpy(dtype=float))
    with np.errstate(invalid="ignore"):
        return _first_step(rows, y >= ESCAPE_2)


def _stats_2(evidence: Evidence) -> tuple[pd.DataFrame, dict[str, float], list[float]]:
    table = _per_run(evidence, _escape_step) if "x_1" in evidence.trace else _per_run(
        evidence, lambda rows, status: math.nan)
    rng = _rng(2)
    numbers: dict[str, float] = {}
    lrs = [lr for lr in LRS_2 if (table["arm"] == f"lr={lr:g}/sgd").any()
           and (table["arm"] == f"lr={lr:g}/momentum").any()]
    for lr in lrs:
        med, low, high = _median_ci(_paired(table, f"lr={lr:g}/sgd", f"lr={lr:g}/momentum"), rng)
        numbers.update({f"ratio_lr{lr:g}": med, f"ratio_lr{lr:g}_low": low, f"ratio_lr{lr:g}_high": high})
        for m in ("sgd", "momentum"):
            v = _by_seed(table, f"lr={lr:g}/{m}").dropna()
            numbers[f"escape_{m}_lr{lr:g}"] = float(np.median(v)) if len(v) else math.nan
    # Equal effective step: momentum(lr, rho) against GD at lr / (1 - rho), where that arm exists.
    for lr in lrs:
        eff = lr / (1.0 - RHO_2)
        match = [other for other in lrs if math.isclose(other, eff)]
        if match:
            med, low, high = _median_ci(_paired(table, f"lr={match[0]:g}/sgd", f"lr={lr:g}/momentum"), rng)
            numbers.update({"ratio_effective": med, "ratio_effective_low": low, "ratio_effective_high": high})
    return table, numbers, lrs


def _criterion_2(evidence: Evidence) -> Verdict:
    table, numbers, lrs = _stats_2(evidence)
    if not lrs:
        return Verdict(INCONCLUSIVE, "No paired runs of gradient descent and momentum were found.", {})
    outcome = _verdict_from_sides([numbers[f"ratio_lr{lr:g}_low"] > 1.0 for lr in lrs],
                                  [numbers[f"ratio_lr{lr:g}_high"] < 1.0 for lr in lrs])
    parts = ", ".join(
        f"lr={lr:g}: GD {_fmt(numbers[f'escape_sgd_lr{lr:g}'])} vs momentum "
        f"{_fmt(numbers[f'escape_momentum_lr{lr:g}'])} steps, ratio "
        f"{_ci_of(numbers, f'ratio_lr{lr:g}')}"
        for lr in lrs)
    effective = ""
    if "ratio_effective" in numbers:
        effective = (f"; at equal effective step (GD at lr/(1-rho)) the ratio is "
                     f"{_ci_of(numbers, 'ratio_effective')}")
    counts = _status_counts(evidence)
    summary = (f"Median steps to |y| >= {ESCAPE_2:g} from the saddle (rho={RHO_2:g}), ratio GD / momentum "
               f"[95% CI]: {parts}{effective}"
               + _problem_notes(counts, _expected_runs(_arms_2, evidence.budget), len(table))
               + ".")
    return Verdict(outcome, summary, numbers)


def _figure_2(evidence: Evidence) -> "Figure":
    style = _figure_parts()
    table, numbers, lrs = _stats_2(evidence)
    palette = style.Palette(["sgd", "momentum"])
    trace = evidence.trace
    with style.theme():
        fig, (ax, ax2) = style.facets(2, 2, suptitle=True, panel=(4.2, 3.2))
        if not trace.empty and "x_1" in trace:
            seed = int(trace["seed"].min())
            lr = LRS_2[-1] if lrs and LRS_2[-1] in lrs else (lrs[0] if lrs else LRS_2[0])
            for m in ("sgd", "momentum"):
                rows = trace[(trace["arm"] == f"lr={lr:g}/{m}") & (trace["seed"] == seed)].sort_values("step")
                if len(rows):
                    ax.plot(rows["x_0"], rows["x_1"], label=f"{m}, lr={lr:g}", linewidth=1.2,
                            **palette.line_kw(m))
                    t = _escape_step(rows, "")
                    if math.isfinite(t):
                        hit = rows[rows["step"] == t]
                        ax.plot(hit["x_0"], hit["x_1"], marker="x", color=palette.color(m))
            ax.axhspan(-ESCAPE_2, ESCAPE_2, color="0.9", zorder=0)
            ax.plot([0], [0], marker="*", color="k", markersize=8)
            ax.set_xlabel("x (positive curvature)")
            ax.set_ylabel("y (negative curvature)")
            ax.set_title(f"seed {seed}: paths, escape marked x", fontsize=8)
            ax.legend(loc="lower left", fontsize=7)
        for i, m in enumerate(("sgd", "momentum")):
            for j, lr in enumerate(lrs):
                v = _by_seed(table, f"lr={lr:g}/{m}").dropna().to_numpy()
                xs = np.full(v.size, j + (i - 0.5) * 0.3)
                ax2.scatter(xs, v, s=14, color=palette.color(m), label=m if j == 0 else None)
        ax2.set_xticks(range(len(lrs)), [f"lr={lr:g}" for lr in lrs])
        ax2.set_yscale("log")
        ax2.set_ylabel(f"steps until |y| >= {ESCAPE_2:g}")
        ax2.legend(loc="upper right", fontsize=7)
        style.note(ax2, "\n".join(f"GD/momentum lr={lr:g}: {_fmt(numbers[f'ratio_lr{lr:g}'])}" for lr in lrs),
                   loc="lower left")
        style.suptitle(fig, _title(2, "escaping a saddle, GD vs momentum"))
    return fig


CLAIM_2 = Claim(
    key="momentum-escapes-saddle",
    number=2,
    statement=(
        "Transcript (translated): near a saddle point the gradient is not zero but the slope is very "
        "small, so stepping along the gradient we progress very slowly; with momentum, although the "
        "gradient near the saddle is very small, the velocity built up while rolling downhill helps "
        "us through the saddle point and we keep rolling."
    ),
    experiment=(
        "The 2-D strict saddle f = x^2/2 + y^4/4 - y^2/2 (saddle at the origin).  Each run seed draws "
        "the initial distance from the saddle along y, 10**U(-4, -2) (seeded, the same for both arms); "
        "x starts at the problem's seeded N(0, 1) draw.  Gradient descent against momentum with "
        f"rho = {RHO_2:g} at the same lr, for lr in {', '.join(f'{lr:g}' for lr in LRS_2)} (the lecture's "
        "'add a velocity to SGD'); nothing tuned.  Budgets are three times GD's escape time from the "
        "smallest offset; every step recorded.  Also reported: momentum with lr=0.01 against GD at its "
        "effective step lr/(1-rho) = 0.1.  Seeds: the budget's run seeds (8; 5 with --quick)."
    ),
    statistic=(
        f"Escape time: the first step with |y| >= {ESCAPE_2:g} (the iterate has left the slab around the "
        "saddle's stable manifold; +inf if never).  Per seed and lr the ratio r = t_GD / t_momentum; "
        "its median with a 95% percentile bootstrap interval.  Holds if at every lr the interval lies "
        "above 1; does not hold if at some lr it lies below 1; inconclusive otherwise."
    ),
    arms=_arms_2,
    criterion=_criterion_2,
    figure=_figure_2,
)


# --------------------------------------------------------------------------- claim 3

DIM_3 = 10
KAPPA_3 = 10.0
NOISE_3 = 1.0
RHO_3 = 0.9
#: Effective steps lr * L of both methods (SGD's lr; momentum's lr / (1 - rho)).
STEPS_LR_3 = (0.1, 1.0)
#: "Lower" means at least this much lower: the ratio must be below 1 - MARGIN_3.
MARGIN_3 = 0.1


def _arms_3(budget: Budget) -> list[Arm]:
    steps = 2000 if budget.quick else 4000
    arms = []
    for lrl in STEPS_LR_3:
        lr = lrl / KAPPA_3
        for name, params in (("sgd", {"lr": lr}), ("momentum", {"lr": lr * (1.0 - RHO_3), "rho": RHO_3})):
            specs = [_spec("quadratic", {"dim": DIM_3, "condition_number": KAPPA_3, "noise": NOISE_3,
                                         "seed": s}, name, params, s, steps, 1, tol_grad=None)
                     for s in budget.seeds]
            arms.append(Arm(f"lrL={lrl:g}/{name}", tuple(specs)))
    return arms


def stationary_subopt_ratio(lr_l: float, rho: float = RHO_3, kappa: float = KAPPA_3,
                            dim: int = DIM_3) -> float:
    r"""Theory: stationary ``E[subopt]`` of heavy ball over SGD at equal effective step.

    Per eigenvalue ``h`` with isotropic gradient noise ``sigma^2``, SGD with step ``a``
    has stationary variance ``a sigma^2 / (h (2 - a h))`` and the heavy ball with
    ``a (1 - rho)`` and ``rho`` has ``a sigma^2 (1 + rho) / (h (2 (1 + rho) - a (1 - rho) h))``
    (the discrete Lyapunov equation of the two-step recursion); ``E[subopt] = 1/2 sum h Var``.
    With ``a = lr_l / kappa`` and the quadratic's eigenvalues ``geomspace(1, kappa, dim)``.
    """
    h = np.geomspace(1.0, kappa, dim)
    a = lr_l / kappa
    sgd = a / (2.0 - a * h)
    mom = a * (1.0 + rho) / (2.0 * (1.0 + rho) - a * (1.0 - rho) * h)
    return float(mom.sum() / sgd.sum())


def _mean_late_subopt(rows: pd.DataFrame, status: str) -> float:
    """Mean subopt over the rows after the first half of the run's budget (+inf if diverged)."""
    if status == "diverged":
        return math.inf
    steps = rows["step"].to_numpy()
    late = steps > steps.max() / 2.0
    return float(np.mean(rows["subopt"].to_numpy(dtype=float)[late])) if late.any() else math.nan


def _stats_3(evidence: Evidence) -> tuple[pd.DataFrame, dict[str, float], list[float]]:
    table = _per_run(evidence, _mean_late_subopt)
    rng = _rng(3)
    numbers: dict[str, float] = {}
    lrls = [x for x in STEPS_LR_3 if (table["arm"] == f"lrL={x:g}/sgd").any()
            and (table["arm"] == f"lrL={x:g}/momentum").any()]
    for x in lrls:
        med, low, high = _median_ci(_paired(table, f"lrL={x:g}/momentum", f"lrL={x:g}/sgd"), rng)
        numbers.update({f"ratio_lrL{x:g}": med, f"ratio_lrL{x:g}_low": low, f"ratio_lrL{x:g}_high": high,
                        f"theory_lrL{x:g}": stationary_subopt_ratio(x)})
        for m in ("sgd", "momentum"):
            v = _by_seed(table, f"lrL={x:g}/{m}").dropna()
            numbers[f"late_subopt_{m}_lrL{x:g}"] = float(np.median(v)) if len(v) else math.nan
    return table, numbers, lrls


def _criterion_3(evidence: Evidence) -> Verdict:
    table, numbers, lrls = _stats_3(evidence)
    if not lrls:
        return Verdict(INCONCLUSIVE, "No paired runs of SGD and momentum were found.", {})
    bound = 1.0 - MARGIN_3
    outcome = _verdict_from_sides([numbers[f"ratio_lrL{x:g}_high"] < bound for x in lrls],
                                  [numbers[f"ratio_lrL{x:g}_low"] > bound for x in lrls])
    parts = ", ".join(
        f"lr*L={x:g}: {_ci_of(numbers, f'ratio_lrL{x:g}')}"
        f" (theory {_fmt(numbers[f'theory_lrL{x:g}'])})" for x in lrls)
    counts = _status_counts(evidence)
    summary = (f"Mean subopt over the second half, momentum / SGD at equal effective step (median [95% CI]): "
               f"{parts}; 'lower' needs the interval below {bound:g}"
               + _problem_notes(counts, _expected_runs(_arms_3, evidence.budget), len(table)) + ".")
    return Verdict(outcome, summary, numbers)


def _figure_3(evidence: Evidence) -> "Figure":
    style = _figure_parts()
    table, numbers, lrls = _stats_3(evidence)
    palette = style.Palette(["sgd", "momentum"])
    trace = evidence.trace
    shown = lrls or list(STEPS_LR_3)
    with style.theme():
        fig, axes = style.facets(len(shown), len(shown), suptitle=True, panel=(4.2, 3.0))
        for ax, x in zip(axes, shown):
            for m in ("sgd", "momentum"):
                rows = trace[trace["arm"] == f"lrL={x:g}/{m}"] if not trace.empty else trace
                if len(rows):
                    curve = rows.groupby("step")["subopt"].median()
                    smooth = curve.rolling(25, min_periods=1).mean()
                    ax.plot(smooth.index, smooth.to_numpy(), label=m, linewidth=1.0, **palette.line_kw(m))
            if len(ax.lines):
                style.log_scale(ax, "y")
            ax.set_xlabel("step")
            ax.set_ylabel("subopt (median over seeds, 25-step mean)")
            ax.set_title(f"effective step lr*L = {x:g}", fontsize=8)
            if f"ratio_lrL{x:g}" in numbers:
                style.note(ax, f"momentum/SGD late subopt {_fmt(numbers[f'ratio_lrL{x:g}'])}\n"
                               f"95% CI [{_fmt(numbers[f'ratio_lrL{x:g}_low'])}, "
                               f"{_fmt(numbers[f'ratio_lrL{x:g}_high'])}]\n"
                               f"theory {_fmt(numbers[f'theory_lrL{x:g}'])}")
            ax.legend(loc="lower left", fontsize=7)
        style.suptitle(fig, _title(3, "noise around the optimum at equal effective step"))
    return fig


CLAIM_3 = Claim(
    key="momentum-averages-noise",
    number=3,
    statement=(
        "Slide: 'Our gradients come from minibatches so they can be noisy!'  Transcript (translated): "
        "stepping along the weighted mix of velocity and gradient helps overcome some of the noise in "
        "the gradient estimates; the noise is cancelled out over time, and compared with SGD's "
        "winding path SGD+momentum approaches the minimum more smoothly."
    ),
    experiment=(
        f"Rotated quadratics, dim {DIM_3}, kappa {KAPPA_3:g} (L = {KAPPA_3:g}), additive Gaussian "
        f"gradient noise of standard deviation {NOISE_3:g} per coordinate; the run seed is also the data "
        "seed, and both arms of a seed see the same noise draws.  SGD with lr against momentum with "
        f"rho = {RHO_3:g} and lr (1 - rho), the same effective step lr / (1 - rho), at two effective steps "
        f"lr * L in {', '.join(f'{x:g}' for x in STEPS_LR_3)}.  4000 steps (2000 with --quick), every "
        "step recorded; the second half of each run is its stationary phase (the transient has decayed "
        "by e^-20, resp. e^-10).  Nothing tuned.  Seeds: the budget's run seeds (8; 5 with --quick)."
    ),
    statistic=(
        "Per run the mean subopt over the second half, = 1/2 E[(x-x*)^T A (x-x*)], the A-weighted "
        "variance of the iterates around the optimum; per seed the ratio momentum / SGD, its median "
        "with a 95% percentile bootstrap interval, next to the theoretical stationary ratio.  Holds if "
        f"at both effective steps the interval lies below {1 - MARGIN_3:g} (at least "
        f"{MARGIN_3:.0%} lower); does not hold if at some step it lies above {1 - MARGIN_3:g} (less "
        "reduction than that, or higher); inconclusive otherwise."
    ),
    arms=_arms_3,
    criterion=_criterion_3,
    figure=_figure_3,
)


# --------------------------------------------------------------------------- claim 4

KAPPAS_4 = (10.0, 100.0, 1000.0)
RHOS_4 = (0.9, 0.99)
DIM_4 = 20
TARGET_4 = 1e-6
#: "At least as fast": the ratio Nesterov / momentum may exceed 1 by at most this.
MARGIN_4 = 0.05


def _setting_4(kappa: float, rho: float) -> str:
    return f"kappa={kappa:g},rho={rho:g}"


def _steps_4(kappa: float, rho: float) -> int:
    """Budget: 4 times the slower of the two linear-rate estimates (oscillation ``sqrt(rho)``,
    the slowest mode ``1 - lr h / (1 - rho)``)."""
    rate = max(math.sqrt(rho), 1.0 - 1.0 / (kappa * (1.0 - rho)))
    return int(math.ceil(4.0 * math.log(DIM_4 * kappa / TARGET_4) / (-2.0 * math.log(rate)))) + 50


def _arms_4(budget: Budget) -> list[Arm]:
    arms = []
    for kappa in KAPPAS_4:
        for rho in RHOS_4:
            steps = _steps_4(kappa, rho)
            record = max(1, steps // 1000)
            for name in ("momentum", "nesterov"):
                specs = [_spec("quadratic", {"dim": DIM_4, "condition_number": kappa, "seed": s}, name,
                               {"lr": 1.0 / kappa, "rho": rho}, s, steps, record, tol_subopt=TARGET_4)
                         for s in budget.seeds]
                arms.append(Arm(f"{_setting_4(kappa, rho)}/{name}", tuple(specs)))
    return arms


def _stats_4(evidence: Evidence) -> tuple[pd.DataFrame, dict[str, float], list[tuple[float, float]]]:
    table = _per_run(evidence, _steps_to_subopt(TARGET_4))
    rng = _rng(4)
    numbers: dict[str, float] = {}
    settings = [(k, r) for k in KAPPAS_4 for r in RHOS_4
                if (table["arm"] == f"{_setting_4(k, r)}/momentum").any()
                and (table["arm"] == f"{_setting_4(k, r)}/nesterov").any()]
    for k, r in settings:
        s = _setting_4(k, r)
        med, low, high = _median_ci(_paired(table, f"{s}/nesterov", f"{s}/momentum"), rng)
        numbers.update({f"ratio[{s}]": med, f"ratio[{s}]_low": low, f"ratio[{s}]_high": high})
    return table, numbers, settings


def _criterion_4(evidence: Evidence) -> Verdict:
    table, numbers, settings = _stats_4(evidence)
    if not settings:
        return Verdict(INCONCLUSIVE, "No paired runs of momentum and Nesterov were found.", {})
    bound = 1.0 + MARGIN_4
    names = [_setting_4(k, r) for k, r in settings]
    outcome = _verdict_from_sides([numbers[f"ratio[{s}]_high"] <= bound for s in names],
                                  [numbers[f"ratio[{s}]_low"] > bound for s in names])
    highs = {s: numbers[f"ratio[{s}]_high"] for s in names}
    worst = max(names, key=lambda s: math.inf if math.isnan(highs[s]) else highs[s])
    meds = [numbers[f"ratio[{s}]"] for s in names]
    counts = _status_counts(evidence)
    summary = (f"Steps to subopt <= {TARGET_4:g}, Nesterov / momentum at the same lr = 1/L and rho: medians "
               f"from {_fmt(float(np.nanmin(meds)))} to {_fmt(float(np.nanmax(meds)))} over "
               f"{len(names)} settings; the highest interval is {worst}: "
               f"{_ci_of(numbers, f'ratio[{worst}]')}"
               f" (at least as fast = every interval <= {bound:g})"
               + _problem_notes(counts, _expected_runs(_arms_4, evidence.budget), len(table)) + ".")
    return Verdict(outcome, summary, numbers)


def _figure_4(evidence: Evidence) -> "Figure":
    style = _figure_parts()
    table, numbers, settings = _stats_4(evidence)
    with style.theme():
        fig, (ax,) = style.facets(1, 1, suptitle=True, panel=(6.0, 3.2))
        colors = dict(zip(RHOS_4, ("C0", "C1", "C2")))
        for i, (k, r) in enumerate(settings):
            s = _setting_4(k, r)
            ratios = _paired(table, f"{s}/nesterov", f"{s}/momentum")
            ax.scatter(np.full(ratios.size, i), ratios, s=10, color="0.6", zorder=2)
            med, low, high = numbers[f"ratio[{s}]"], numbers[f"ratio[{s}]_low"], numbers[f"ratio[{s}]_high"]
            ax.errorbar([i], [med], yerr=[[max(0.0, med - low)], [max(0.0, high - med)]], marker="o",
                        color=colors.get(r, "k"), capsize=3, zorder=3)
        ax.axhline(1.0, color="0.5", linestyle=":", linewidth=1)
        ax.axhline(1.0 + MARGIN_4, color="0.3", linestyle="--", linewidth=1)
        shown = [numbers[f"ratio[{_setting_4(k, r)}]_high"] for k, r in settings]
        shown = [v for v in shown if math.isfinite(v)]
        ax.set_ylim(0.0, 1.25 * max([1.0 + MARGIN_4, *shown]))
        ax.set_xticks(range(len(settings)), [_setting_4(k, r).replace(",", "\n") for k, r in settings],
                      fontsize=7)
        ax.set_ylabel("steps Nesterov / steps momentum")
        style.note(ax, f"dashed: 1 + margin {MARGIN_4:g}; dots: seeds; bars: median, 95% CI",
                   loc="lower right")
        style.suptitle(fig, _title(4, "Nesterov vs momentum, same lr and rho"))
    return fig


CLAIM_4 = Claim(
    key="nesterov-vs-momentum",
    number=4,
    statement=(
        "Slide: 'Nesterov Momentum: v_{t+1} = rho v_t - alpha grad f(x_t + rho v_t); x_{t+1} = x_t + "
        "v_{t+1}'; transcript (translated): a slight variation of momentum that steps along the "
        "velocity first and evaluates the gradient there.  Testable form: Nesterov "
        "momentum converges at least as fast as plain momentum on convex quadratics."
    ),
    experiment=(
        f"Random rotated quadratics, dim {DIM_4}, kappa in {', '.join(f'{k:g}' for k in KAPPAS_4)}; the run "
        "seed is also the data seed.  Momentum (v = rho v + g; x -= lr v) against Nesterov in the "
        "lecture's change-of-variables form, both full batch with the same lr = 1/L and rho in "
        f"{', '.join(f'{r:g}' for r in RHOS_4)} (the lecture's typical values), so 6 settings; nothing "
        f"tuned.  A run stops at subopt <= {TARGET_4:g}; budgets are 4x the linear-rate estimate, "
        "recording every budget/1000 steps.  Seeds: the budget's run seeds (8; 5 with --quick)."
    ),
    statistic=(
        "Per seed and setting the ratio r = steps_Nesterov / steps_momentum (+inf steps for a run that "
        "never reached the target), its median with a 95% percentile bootstrap interval.  Holds if in "
        f"every setting the interval's upper end is <= 1 + {MARGIN_4:g}; does not hold if in some "
        f"setting its lower end is > 1 + {MARGIN_4:g}; inconclusive otherwise."
    ),
    arms=_arms_4,
    criterion=_criterion_4,
    figure=_figure_4,
)


# --------------------------------------------------------------------------- claim 5

#: The lr grids (half-decade steps): full size, and the three middle points with --quick.
GRID_5: dict[str, tuple[float, ...]] = {
    "adagrad": (0.1, 0.3, 1.0, 3.0, 10.0),
    "rmsprop": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2),
}
QUICK_GRID_5: dict[str, tuple[float, ...]] = {name: lrs[1:4] for name, lrs in GRID_5.items()}
#: Seeds on which the lr is selected (disjoint from the budgets' evaluation seeds).
TUNE_SEEDS_5 = (1000, 1001, 1002)
STEPS_5 = 10000
#: Record every this many steps (a trace row costs more than a Rosenbrock step).
RECORD_5 = 50


def _steps_5(budget: Budget) -> int:
    return STEPS_5


def _grid_5(budget: Budget) -> dict[str, tuple[float, ...]]:
    return QUICK_GRID_5 if budget.quick else GRID_5


def _arms_5(budget: Budget) -> list[Arm]:
    steps = _steps_5(budget)
    record = RECORD_5
    arms = []
    for name, lrs in _grid_5(budget).items():
        for lr in lrs:
            for role, seeds in (("tune", TUNE_SEEDS_5), ("eval", budget.seeds)):
                specs = [_spec("rosenbrock", {"dim": 2}, name, {"lr": lr}, s, steps, record, tol_grad=None)
                         for s in seeds]
                arms.append(Arm(f"{role}/{name}/lr={lr:g}", tuple(specs)))
    return arms


def _final_and_progress(rows: pd.DataFrame, status: str) -> tuple[float, float]:
    """(final subopt, decades of progress over the second half); +inf / NaN if diverged."""
    if status == "diverged":
        return (math.inf, math.nan)
    steps = rows["step"].to_numpy()
    subopt = np.maximum(rows["subopt"].to_numpy(dtype=float), 1e-300)
    half = subopt[np.searchsorted(steps, steps.max() / 2.0)]
    return (float(subopt[-1]), float(np.log10(half / subopt[-1])))


def _stats_5(evidence: Evidence) -> dict[str, Any]:
    final = _per_run(evidence, lambda rows, status: _final_and_progress(rows, status)[0])
    progress = _per_run(evidence, lambda rows, status: _final_and_progress(rows, status)[1])
    rng = _rng(5)
    chosen: dict[str, float] = {}
    numbers: dict[str, float] = {}
    for name, lrs in _grid_5(evidence.budget).items():
        scores = []
        for lr in lrs:
            v = _by_seed(final, f"tune/{name}/lr={lr:g}").dropna().to_numpy()
            scores.append(float(np.median(np.log10(np.maximum(v, 1e-300)))) if v.size else math.nan)
        if not np.isnan(scores).all():
            best = int(np.nanargmin(np.where(np.isnan(scores), np.inf, scores)))
            chosen[name] = lrs[best]
            numbers[f"lr_{name}"] = lrs[best]
            numbers[f"lr_{name}_at_grid_edge"] = float(best in (0, len(lrs) - 1))
    out: dict[str, Any] = {"chosen": chosen, "numbers": numbers, "final": final, "progress": progress}
    if len(chosen) < 2:
        return out
    a, r = f"eval/adagrad/lr={chosen['adagrad']:g}", f"eval/rmsprop/lr={chosen['rmsprop']:g}"
    out["arms"] = (a, r)
    med, low, high = _median_ci(_paired(final, a, r), rng)
    numbers.update(final_ratio=med, final_ratio_low=low, final_ratio_high=high)
    pa, pr = _by_seed(progress, a), _by_seed(progress, r)
    seeds = sorted(set(pa.index) & set(pr.index))
    diff = np.array([pr[s] - pa[s] for s in seeds], dtype=float)
    med, low, high = _median_ci(diff, rng)
    numbers.update(progress_diff=med, progress_diff_low=low, progress_diff_high=high)
    for name, arm in (("adagrad", a), ("rmsprop", r)):
        fv, pv = _by_seed(final, arm).dropna(), _by_seed(progress, arm).dropna()
        numbers[f"final_{name}"] = float(np.median(fv)) if len(fv) else math.nan
        numbers[f"progress_{name}"] = float(np.median(pv)) if len(pv) else math.nan
    return out


def _criterion_5(evidence: Evidence) -> Verdict:
    stats = _stats_5(evidence)
    numbers = stats["numbers"]
    if "arms" not in stats:
        return Verdict(INCONCLUSIVE, "No tuning runs of AdaGrad and RMSProp were found.", numbers)
    outcome = _verdict_from_sides(
        [numbers["final_ratio_low"] > 1.0, numbers["progress_diff_low"] > 0.0],
        [numbers["final_ratio_high"] < 1.0, numbers["progress_diff_high"] < 0.0],
    )
    edge = [n for n in _grid_5(evidence.budget) if numbers.get(f"lr_{n}_at_grid_edge")]
    counts = _status_counts(evidence, [a for a in evidence.runs.get("arm", pd.Series(dtype=str)).unique()
                                       if str(a).startswith("eval/")] if not evidence.runs.empty else None)
    n_eval = len(evidence.budget.seeds) * 2
    present = int(stats["final"]["arm"].isin(list(stats["arms"])).sum())
    summary = (
        f"Rosenbrock, {_steps_5(evidence.budget)} steps, tuned lr AdaGrad {_fmt(numbers['lr_adagrad'])}, "
        f"RMSProp {_fmt(numbers['lr_rmsprop'])}: final subopt AdaGrad {_fmt(numbers['final_adagrad'])} vs "
        f"RMSProp {_fmt(numbers['final_rmsprop'])}, ratio "
        f"{_ci_of(numbers, 'final_ratio')}; "
        f"decades of progress over the second half AdaGrad {_fmt(numbers['progress_adagrad'])}, RMSProp "
        f"{_fmt(numbers['progress_rmsprop'])}, difference RMSProp - AdaGrad "
        f"{_ci_of(numbers, 'progress_diff')}"
        + (f"; selected lr at the grid's edge for {', '.join(edge)}" if edge else "")
        + _problem_notes(counts, n_eval, present) + "."
    )
    return Verdict(outcome, summary, numbers)


def _figure_5(evidence: Evidence) -> "Figure":
    style = _figure_parts()
    stats = _stats_5(evidence)
    numbers = stats["numbers"]
    palette = style.Palette(["adagrad", "rmsprop"])
    trace = evidence.trace
    with style.theme():
        fig, (ax, ax2) = style.facets(2, 2, suptitle=True, panel=(4.2, 3.2))
        for name, arm in zip(("adagrad", "rmsprop"), stats.get("arms", ())):
            rows = trace[trace["arm"] == arm].sort_values(["seed", "step"])
            if rows.empty:
                continue
            curve = rows.groupby("step")["subopt"].median().clip(lower=1e-16)
            ax.plot(curve.index, curve.to_numpy(), label=f"{name}, lr={stats['chosen'][name]:g}",
                    **palette.line_kw(name))
            # Step length per step between records, from the 2-D iterate.
            lengths = []
            for _, run in rows.groupby("seed"):
                dx = np.hypot(np.diff(run["x_0"].to_numpy()), np.diff(run["x_1"].to_numpy()))
                steps = run["step"].to_numpy()
                lengths.append(pd.Series(dx / np.diff(steps), index=steps[1:]))
            if lengths:
                med = pd.concat(lengths, axis=1).median(axis=1).clip(lower=1e-16)
                ax2.plot(med.index, med.to_numpy(), label=name, **palette.line_kw(name))
        for a in (ax, ax2):
            if len(a.lines):
                a.set_xscale("log")
                style.log_scale(a, "y")
            a.set_xlabel("step")
            a.legend(loc="lower left", fontsize=7)
        ax.set_ylabel("subopt (median over seeds)")
        ax2.set_ylabel("mean |x_(t+k) - x_t| / k")
        if "final_ratio" in numbers:
            style.note(ax, f"final AdaGrad/RMSProp {_fmt(numbers['final_ratio'])}\n"
                           f"last-half decades: AdaGrad {_fmt(numbers['progress_adagrad'])}, "
                           f"RMSProp {_fmt(numbers['progress_rmsprop'])}")
        style.suptitle(fig, _title(5, "AdaGrad vs RMSProp on a long Rosenbrock run"))
    return fig


CLAIM_5 = Claim(
    key="adagrad-stalls",
    number=5,
    statement=(
        "Slide: 'What happens to the step size over long time?'  Transcript (translated): with AdaGrad "
        "the step size gets smaller and smaller, because the squared-gradient sum grows monotonically; "
        "for convex problems that is a good property, but in the non-convex case, when you reach a "
        "local extremum AdaGrad can get you stuck there and training cannot go on; RMSProp is the "
        "variant that takes this into account."
    ),
    experiment=(
        "The 2-D Rosenbrock function (non-convex banana valley) from the classic start (-1.2, 1) plus "
        f"0.1 N(0, I) per seed, full gradients, a long run of {STEPS_5} steps, recorded every "
        f"{RECORD_5} steps.  "
        "AdaGrad (eps 1e-7) and RMSProp (decay 0.99, eps 1e-7), each at its best lr on a half-decade "
        f"grid (AdaGrad {', '.join(f'{x:g}' for x in GRID_5['adagrad'])}; RMSProp "
        f"{', '.join(f'{x:g}' for x in GRID_5['rmsprop'])}; --quick: the middle three of each), selected "
        f"by the lowest median log10 final subopt on the tuning seeds {', '.join(map(str, TUNE_SEEDS_5))} "
        "and evaluated on the budget's run seeds (8; 5 with --quick), which differ from them."
    ),
    statistic=(
        "On the evaluation seeds, paired per seed: the final-subopt ratio AdaGrad / RMSProp and the "
        "difference of the decades of progress over the second half, log10(subopt(T/2) / subopt(T)), "
        "RMSProp minus AdaGrad; medians with 95% percentile bootstrap intervals.  Holds if the ratio's "
        "interval lies above 1 (AdaGrad ends worse) and the difference's above 0 (AdaGrad progresses "
        "less late in the run); does not hold if the ratio's interval lies below 1 or the difference's "
        "below 0; inconclusive otherwise."
    ),
    arms=_arms_5,
    criterion=_criterion_5,
    figure=_figure_5,
)


CLAIMS: list[Claim] = [CLAIM_1, CLAIM_2, CLAIM_3, CLAIM_4, CLAIM_5]
