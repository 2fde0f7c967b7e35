"""Claims 10-14: the lecture's neural-network practice as seeded experiments.

10. weight initialisation (activations vanish / saturate / stay well spread; learning follows);
11. normalising the inputs (a better conditioned loss, easier optimisation);
12. batch normalisation (trainable over a wider range of learning rates);
13. ensembles, snapshot ensembles and Polyak averaging (a small, consistent gain);
14. random search against grid search (more distinct values of the parameter that matters).

Every verdict comes from a stated statistic with a percentile bootstrap interval
(:func:`optbench.statistics.bootstrap_ci`, 95%, 2000 resamples, from a seeded numpy
Generator) over run seeds, never from one run.  Conventions shared by the criteria:

- a run that *diverged* scores ``+inf`` (the worst outcome): a ratio ``a / b`` is
  ``+inf`` when ``a`` diverged, ``0`` when only ``b`` did and missing when both did;
- a run that *failed* (raised; no trace) is missing: it drops out of its pair, and
  the summary says how many runs failed;
- "holds" needs the interval entirely on the claimed side, "does not hold" entirely
  on the other side; anything else is "inconclusive".
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..spec import RunSpec
from ..statistics import bootstrap_ci
from .base import FAILS, HOLDS, INCONCLUSIVE, Arm, Budget, Claim, Evidence, Verdict

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["CLAIMS"]

#: Coverage and resamples of every bootstrap interval here.
LEVEL = 0.95
N_BOOT = 2000

#: Seeds that choose a learning rate are these offsets from the run seeds, so that a
#: rate is never selected and evaluated on the same seeds.
TUNE_SEED_OFFSET = 1000


# --------------------------------------------------------------------------- helpers


def _rng(*labels: int) -> np.random.Generator:
    """The bootstrap Generator of one statistic: seeded by fixed integers."""
    return np.random.default_rng([14, *labels])


def _ci(values: Iterable[float], statistic: Any = np.median, label: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over ``values`` (NaN dropped)."""
    return bootstrap_ci(np.asarray(list(values), dtype=float), statistic, level=LEVEL,
                        n_boot=N_BOOT, rng=_rng(label))


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b`` elementwise with the divergence convention of the module docstring."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a / b
    out = np.where(np.isinf(a) & np.isfinite(b), np.inf, out)
    out = np.where(np.isfinite(a) & np.isinf(b), 0.0, out)
    out = np.where(np.isinf(a) & np.isinf(b), np.nan, out)
    return out


def _side(low: float, high: float, threshold: float, claimed: str) -> str:
    """HOLDS if ``[low, high]`` lies strictly on the ``claimed`` side ("below" or "above")
    of ``threshold``, FAILS if strictly on the other side, else INCONCLUSIVE."""
    if math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE
    below, above = high < threshold, low > threshold
    if claimed == "below":
        return HOLDS if below else FAILS if above else INCONCLUSIVE
    return HOLDS if above else FAILS if below else INCONCLUSIVE


def final_values(evidence: Evidence, column: str = "loss") -> pd.DataFrame:
    """One row per stored run: ``arm``, ``run_id``, ``seed``, ``status``, ``value``
    (the last recorded ``column``; ``+inf`` for a diverged run, and for a non-finite
    last value).  Failed runs (no trace) are absent; count them with :func:`failed`."""
    if evidence.trace.empty:
        return pd.DataFrame(columns=["arm", "run_id", "seed", "status", "value"])
    last = evidence.final()
    value = last[column].astype(float).to_numpy()
    diverged = (last["status"] == "diverged").to_numpy() | ~np.isfinite(value)
    out = last.copy()
    out["value"] = np.where(diverged, np.inf, value)
    return out


def failed(evidence: Evidence) -> int:
    """Number of the claim's runs that raised (status ``error``) or left no trace."""
    runs = evidence.runs
    if runs.empty:
        return 0
    traced = set(evidence.trace["run_id"]) if not evidence.trace.empty else set()
    return int(((runs["status"] == "error") | ~runs["run_id"].isin(traced)).sum())


def _failed_note(evidence: Evidence) -> str:
    n = failed(evidence)
    return f"; {n} run(s) failed and are left out" if n else ""


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.3g}"


def _interval(low: float, high: float) -> str:
    return f"[{_fmt(low)}, {_fmt(high)}]"


def _title(claim_number: int, text: str, verdict: Verdict) -> str:
    return f"Claim {claim_number}: {text}\nverdict: {verdict.outcome}"


def _theme():
    from reports.style import theme

    return theme()


def _facets(n: int, ncols: int | None = None):
    from reports.style import facets

    return facets(n, ncols or n, suptitle=True, panel=(4.0, 2.9), wspace=0.8, hspace=1.1)


def _suptitle(fig: Any, text: str) -> None:
    from reports.style import suptitle

    suptitle(fig, text)


def _note(ax: Any, text: str, loc: str = "upper right") -> None:
    from reports.style import note

    note(ax, text, loc=loc)


def _colors(n: int) -> list:
    import seaborn as sns

    return list(sns.color_palette("colorblind", max(n, 1)))


def _median_curve(frame: pd.DataFrame, column: str = "loss") -> pd.DataFrame:
    """Median over runs of ``column`` at each recorded step (diverged rows as +inf)."""
    values = frame[column].astype(float).where(np.isfinite(frame[column].astype(float)), np.inf)
    return (frame.assign(_v=values).groupby("step")["_v"].median().reset_index()
            .rename(columns={"_v": column}))


# ------------------------------------------------------- claim 10: initialisation

INIT_PROBLEM = {"dataset": "digits", "hidden": [32, 32, 32, 32], "activation": "tanh",
                "batch_size": 64, "seed": 0}
INIT_SCHEMES = ("small", "large", "xavier", "he")
INIT_GOOD = ("xavier", "he")
INIT_BAD = ("small", "large")
INIT_LR = 0.1
#: "Vanish": the deepest hidden layer's activations have a standard deviation below this.
VANISH_STD = 0.01
#: "Saturate": the mean over layers of the share of tanh outputs with |h| > 0.99 exceeds this.
SATURATE_FRAC = 0.25
#: "Well distributed": every layer's std is at least WELL_MIN_STD and its saturated
#: share at most WELL_MAX_SAT.
WELL_MIN_STD = 0.1
WELL_MAX_SAT = 0.1
#: A characterisation "holds" when it is true for at least this share of the seeds, and
#: "does not hold" when it is true for at most 1 - this share.
SHARE = 0.8


def _init_steps(budget: Budget) -> int:
    return 150 if budget.quick else 300


def init_arms(budget: Budget) -> list[Arm]:
    """One arm per scheme: plain SGD (lr 0.1) on a 4x32 tanh net on digits, every seed."""
    steps = _init_steps(budget)
    return [Arm(init, tuple(
        RunSpec(problem="mlp", problem_params={**INIT_PROBLEM, "init": init}, optimizer="sgd",
                optimizer_params={"lr": INIT_LR}, seed=s, steps=steps, record_every=25)
        for s in budget.seeds)) for init in INIT_SCHEMES]


def init_measure(budget: Budget) -> dict[str, pd.DataFrame]:
    """``activations``: :func:`optbench.diagnostics.activation_stats` of every scheme at the
    initial point ``x0(seed)`` of every run seed (the training split fed forward)."""
    from ..build import build_problem
    from ..diagnostics import activation_stats

    frames = []
    for init in INIT_SCHEMES:
        problem = build_problem("mlp", {**INIT_PROBLEM, "init": init})
        for seed in budget.seeds:
            stats = activation_stats(problem, problem.x0(seed))
            frames.append(stats.assign(init=init, seed=seed))
    return {"activations": pd.concat(frames, ignore_index=True)}


def _init_shapes(table: pd.DataFrame) -> pd.DataFrame:
    """Per (init, seed): whether the activations vanish, saturate or are well spread."""
    rows = []
    for (init, seed), g in table.groupby(["init", "seed"]):
        g = g.sort_values("layer")
        sat = g["frac_saturated"].astype(float)
        rows.append({
            "init": init, "seed": seed,
            "last_std": float(g["std"].iloc[-1]),
            "mean_saturated": float(sat.mean()),
            "vanish": bool(g["std"].iloc[-1] < VANISH_STD),
            "saturate": bool(sat.mean() > SATURATE_FRAC),
            "well": bool((g["std"] >= WELL_MIN_STD).all() and (sat <= WELL_MAX_SAT).all()),
        })
    return pd.DataFrame(rows)


def init_criterion(evidence: Evidence) -> Verdict:
    """Activation shapes at x0 (shares of seeds) and paired final-loss ratios good/bad."""
    table = evidence.tables.get("activations")
    if table is None or table.empty:
        return Verdict(INCONCLUSIVE, "no activation table was measured; nothing to decide")
    shapes = _init_shapes(table)
    expected = {"small": "vanish", "large": "saturate", "xavier": "well", "he": "well"}
    numbers: dict[str, float] = {}
    share_outcomes = []
    for init, shape in expected.items():
        rows = shapes[shapes["init"] == init]
        share = float(rows[shape].mean()) if len(rows) else math.nan
        numbers[f"share_{shape}_{init}"] = share
        share_outcomes.append(HOLDS if share >= SHARE else FAILS if share <= 1 - SHARE else INCONCLUSIVE)
    for init in INIT_SCHEMES:
        rows = shapes[shapes["init"] == init]
        numbers[f"last_std_{init}"] = float(rows["last_std"].median()) if len(rows) else math.nan
        numbers[f"saturated_{init}"] = float(rows["mean_saturated"].median()) if len(rows) else math.nan

    finals = final_values(evidence)
    wide = finals.pivot_table(index="seed", columns="arm", values="value", aggfunc="first")
    pair_outcomes = []
    label = 0
    for good in INIT_GOOD:
        for bad in INIT_BAD:
            label += 1
            if good not in wide or bad not in wide:
                ratios = np.array([])
            else:
                ratios = _ratio(wide[good].to_numpy(), wide[bad].to_numpy())
                ratios = ratios[~np.isnan(ratios)]
            med = float(np.median(ratios)) if ratios.size else math.nan
            low, high = _ci(ratios, label=label) if ratios.size >= 2 else (math.nan, math.nan)
            numbers.update({f"ratio_{good}_{bad}": med, f"ratio_{good}_{bad}_low": low,
                            f"ratio_{good}_{bad}_high": high})
            pair_outcomes.append(_side(low, high, 1.0, "below"))
    for init in INIT_SCHEMES:
        v = finals.loc[finals["arm"] == init, "value"]
        numbers[f"final_loss_{init}"] = float(v.median()) if len(v) else math.nan
    numbers["steps"] = float(_init_steps(evidence.budget))

    outcomes = share_outcomes + pair_outcomes
    if all(o == HOLDS for o in outcomes):
        outcome = HOLDS
    elif FAILS in outcomes:
        outcome = FAILS
    else:
        outcome = INCONCLUSIVE
    worst_good = max(INIT_GOOD, key=lambda g: max(numbers[f"ratio_{g}_{b}_high"] for b in INIT_BAD))
    summary = (
        f"at x0 the deepest layer's std is {_fmt(numbers['last_std_small'])} for small init "
        f"(vanishes on {numbers['share_vanish_small']:.0%} of seeds), large init saturates "
        f"{_fmt(numbers['saturated_large'])} of the tanh units ({numbers['share_saturate_large']:.0%} "
        f"of seeds), Xavier/He are well spread on {numbers['share_well_xavier']:.0%}/"
        f"{numbers['share_well_he']:.0%}; after {int(numbers['steps'])} SGD steps the median "
        f"training loss is {_fmt(numbers['final_loss_small'])} (small), "
        f"{_fmt(numbers['final_loss_large'])} (large), {_fmt(numbers['final_loss_xavier'])} "
        f"(Xavier), {_fmt(numbers['final_loss_he'])} (He); the least favourable paired ratio "
        f"({worst_good}) has upper bound "
        f"{_fmt(max(numbers[f'ratio_{worst_good}_{b}_high'] for b in INIT_BAD))}"
        f"{_failed_note(evidence)}"
    )
    return Verdict(outcome, summary, numbers)


def init_figure(evidence: Evidence) -> "Figure":
    """Left: activation std per layer at x0 (median over seeds); right: median loss curves."""
    verdict = init_criterion(evidence)
    palette = _colors(6)
    colors = {"small": palette[0], "large": palette[1], "xavier": palette[2], "he": palette[4]}
    with _theme():
        fig, (ax_act, ax_loss) = _facets(2)
        table = evidence.tables.get("activations")
        if table is not None and not table.empty:
            for init, g in table.groupby("init"):
                med = g.groupby("layer")["std"].median()
                ax_act.plot(med.index, med.to_numpy(), marker="o", color=colors.get(init), label=init)
        ax_act.axhline(VANISH_STD, color="0.4", ls=":", lw=1)
        ax_act.set_yscale("log")
        ax_act.set_xlabel("hidden layer")
        ax_act.set_ylabel("std of tanh activations at x0")
        ax_act.set_title("activations at initialisation")
        ax_act.legend(fontsize=7)
        for init in INIT_SCHEMES:
            arm = evidence.arm(init)
            if arm.empty:
                continue
            curve = _median_curve(arm)
            ax_loss.plot(curve["step"], curve["loss"], color=colors[init], label=init)
        ax_loss.set_xlabel("step")
        ax_loss.set_ylabel("training loss (median over seeds)")
        ax_loss.set_title(f"SGD lr={INIT_LR:g}")
        n = verdict.numbers
        _note(ax_loss, "\n".join(
            f"{g}/{b}: {_fmt(n.get(f'ratio_{g}_{b}', math.nan))} "
            f"{_interval(n.get(f'ratio_{g}_{b}_low', math.nan), n.get(f'ratio_{g}_{b}_high', math.nan))}"
            for g in INIT_GOOD for b in INIT_BAD))
        _suptitle(fig, _title(10, "weight initialisation", verdict))
    return fig


INIT_CLAIM = Claim(
    key="weight-initialization",
    number=10,
    statement=(
        "Initialization too small: activations go to zero, gradients also zero, no learning. "
        "Initialization too big: activations saturate (for tanh), gradients zero, no learning. "
        "Initialization just right (Xavier, MSRA/He): nice distribution of activations at all "
        "layers, learning proceeds nicely."
    ),
    experiment=(
        "A tanh net with four hidden layers of 32 units on digits (standardized, batch 64, "
        "data seed 0), initialised four ways: small (std 0.01), large (std 1), Xavier "
        "(1/sqrt(fan_in)) and He (sqrt(2/fan_in)). For every run seed the activation spread "
        "of every layer at x0 is measured (optbench.diagnostics.activation_stats on the "
        "training split), and plain SGD with one common lr = 0.1 (not tuned per scheme: the "
        "claim is about the initialisation) trains each for 300 steps (150 with --quick); "
        "8 seeds (5 with --quick)."
    ),
    statistic=(
        f"Shapes at x0, per seed: 'vanish' = the deepest layer's std < {VANISH_STD}; "
        f"'saturate' = mean over layers of the share |h| > 0.99 above {SATURATE_FRAC}; "
        f"'well distributed' = every layer's std >= {WELL_MIN_STD} and saturated share <= "
        f"{WELL_MAX_SAT}. Learning: per-seed ratio of the final training loss, good/bad, for "
        "each of Xavier and He against each of small and large (4 pairs), median with a 95% "
        "bootstrap interval. Holds if small vanishes, large saturates and Xavier and He are "
        f"well distributed on >= {SHARE:.0%} of the seeds each and all four intervals lie "
        f"below 1; does not hold if any shape is seen on <= {1 - SHARE:.0%} of the seeds or "
        "any interval lies above 1; inconclusive otherwise."
    ),
    arms=init_arms,
    criterion=init_criterion,
    measure=init_measure,
    figure=init_figure,
)


# ------------------------------------------------- claim 11: input normalisation

NORM_LOGISTIC = {"dataset": "breast_cancer", "batch_size": 32, "seed": 0}
NORM_MLP = {"dataset": "digits", "hidden": [32], "activation": "relu", "init": "he",
            "batch_size": 64, "seed": 0}
#: (family, condition) -> the problem parameter that sets the preprocessing.
NORM_CONDITIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("logistic", "raw"): {"standardize": False},
    ("logistic", "standardized"): {"standardize": True},
    ("mlp", "raw"): {"preprocess": "none"},
    ("mlp", "standardized"): {"preprocess": "standardize"},
}
#: Learning-rate grids (one point per decade), wide enough for both conditions.
NORM_LRS = {"logistic": tuple(10.0 ** k for k in range(-7, 2)),
            "mlp": tuple(10.0 ** k for k in range(-4, 2))}


def _norm_steps(budget: Budget) -> dict[str, int]:
    return {"logistic": 150, "mlp": 100} if budget.quick else {"logistic": 300, "mlp": 200}


def tune_seeds(budget: Budget, n: int = 2) -> tuple[int, ...]:
    """Seeds that select a learning rate: ``TUNE_SEED_OFFSET + `` the first ``n`` run seeds."""
    return tuple(TUNE_SEED_OFFSET + s for s in budget.seeds[:n])


def _lr_name(lr: float) -> str:
    return f"lr={lr:.0e}"


def norm_arms(budget: Budget) -> list[Arm]:
    """Per family, condition and grid lr: SGD runs on the tuning and the evaluation seeds."""
    steps = _norm_steps(budget)
    seeds = tune_seeds(budget) + tuple(budget.seeds)
    arms = []
    for (family, condition), extra in NORM_CONDITIONS.items():
        base = NORM_LOGISTIC if family == "logistic" else NORM_MLP
        for lr in NORM_LRS[family]:
            arms.append(Arm(f"{family}/{condition}/{_lr_name(lr)}", tuple(
                RunSpec(problem=family, problem_params={**base, **extra}, optimizer="sgd",
                        optimizer_params={"lr": lr}, seed=s, steps=steps[family],
                        record_every=10 if family == "logistic" else 25)
                for s in seeds)))
    return arms


def norm_measure(budget: Budget) -> dict[str, pd.DataFrame]:
    """``hessian``: the condition number ``lambda_max / lambda_min`` of the logistic
    Hessian at its minimiser ``w*``, raw and standardized (deterministic: no seeds)."""
    from ..build import build_problem

    rows = []
    for condition in ("raw", "standardized"):
        problem = build_problem("logistic", {**NORM_LOGISTIC, **NORM_CONDITIONS[("logistic", condition)]})
        eig = np.linalg.eigvalsh(problem.hess(problem.w_star))
        rows.append({"condition": condition, "lambda_min": float(eig[0]),
                     "lambda_max": float(eig[-1]), "kappa": float(eig[-1] / eig[0])})
    return {"hessian": pd.DataFrame(rows)}


def _norm_values(evidence: Evidence) -> pd.DataFrame:
    """Per run: family, condition, lr, seed, value (logistic: final subopt / initial
    subopt; mlp: final training loss), +inf when diverged."""
    finals = final_values(evidence, "loss")
    if finals.empty:
        return finals.assign(family=[], condition=[], lr=[])
    parts = finals["arm"].str.split("/", expand=True)
    finals = finals.assign(family=parts[0], condition=parts[1],
                           lr=finals["optimizer.lr"].astype(float))
    start = (evidence.trace[evidence.trace["step"] == 0].set_index("run_id")["subopt"].astype(float))
    sub = finals["subopt"].astype(float).to_numpy()
    rel = sub / finals["run_id"].map(start).to_numpy()
    is_log = (finals["family"] == "logistic").to_numpy()
    value = np.where(is_log, rel, finals["loss"].astype(float).to_numpy())
    value = np.where(np.isinf(finals["value"].to_numpy()) | ~np.isfinite(value), np.inf, value)
    return finals.assign(value=value)


def select_lr(values: pd.DataFrame, seeds: Sequence[int]) -> float:
    """The grid lr with the lowest median value over ``seeds``; a rate with a diverged
    (inf) run there is never chosen (ties: the smaller lr).  NaN if none qualifies."""
    rows = values[values["seed"].isin(list(seeds))]
    best, best_lr = math.inf, math.nan
    for lr, g in sorted(rows.groupby("lr"), key=lambda t: t[0]):
        v = g["value"].to_numpy(dtype=float)
        if v.size == 0 or np.isinf(v).any():
            continue
        med = float(np.median(v))
        if med < best:
            best, best_lr = med, float(lr)
    return best_lr


def norm_criterion(evidence: Evidence) -> Verdict:
    """Hessian condition ratio and, per family, the paired ratio standardized/raw of the
    tuned final value on the evaluation seeds."""
    numbers: dict[str, float] = {}
    hess = evidence.tables.get("hessian")
    outcomes = []
    if hess is None or hess.empty:
        numbers["kappa_ratio"] = math.nan
        outcomes.append(INCONCLUSIVE)
    else:
        kappa = hess.set_index("condition")["kappa"]
        numbers.update(kappa_raw=float(kappa["raw"]), kappa_standardized=float(kappa["standardized"]))
        numbers["kappa_ratio"] = numbers["kappa_raw"] / numbers["kappa_standardized"]
        outcomes.append(HOLDS if numbers["kappa_ratio"] > 10 else FAILS if numbers["kappa_ratio"] <= 1
                        else INCONCLUSIVE)
    values = _norm_values(evidence)
    tune = tune_seeds(evidence.budget)
    evaluation = list(evidence.budget.seeds)
    for i, family in enumerate(("logistic", "mlp")):
        sel = {}
        per = {}
        for condition in ("raw", "standardized"):
            rows = values[(values["family"] == family) & (values["condition"] == condition)]
            lr = select_lr(rows, tune)
            sel[condition] = lr
            chosen = rows[(rows["lr"] == lr) & rows["seed"].isin(evaluation)]
            per[condition] = chosen.set_index("seed")["value"]
            numbers[f"{family}_lr_{condition}"] = lr
            numbers[f"{family}_{condition}"] = float(per[condition].median()) if len(chosen) else math.nan
        pair = pd.concat([per["standardized"].rename("s"), per["raw"].rename("r")], axis=1).dropna(how="any")
        ratios = _ratio(pair["s"].to_numpy(), pair["r"].to_numpy())
        ratios = ratios[~np.isnan(ratios)]
        low, high = _ci(ratios, label=20 + i) if ratios.size >= 2 else (math.nan, math.nan)
        numbers.update({f"{family}_ratio": float(np.median(ratios)) if ratios.size else math.nan,
                        f"{family}_ratio_low": low, f"{family}_ratio_high": high})
        outcomes.append(_side(low, high, 1.0, "below"))
    if all(o == HOLDS for o in outcomes):
        outcome = HOLDS
    elif FAILS in outcomes:
        outcome = FAILS
    else:
        outcome = INCONCLUSIVE
    n = numbers
    summary = (
        f"standardizing breast_cancer divides the condition number of the logistic Hessian at "
        f"w* by {_fmt(n['kappa_ratio'])} ({_fmt(n.get('kappa_raw', math.nan))} -> "
        f"{_fmt(n.get('kappa_standardized', math.nan))}); with a tuned SGD lr the final relative "
        f"suboptimality ratio standardized/raw is {_fmt(n['logistic_ratio'])} "
        f"{_interval(n['logistic_ratio_low'], n['logistic_ratio_high'])} (logistic, lr "
        f"{_fmt(n['logistic_lr_raw'])} raw vs {_fmt(n['logistic_lr_standardized'])}) and the final "
        f"training-loss ratio {_fmt(n['mlp_ratio'])} {_interval(n['mlp_ratio_low'], n['mlp_ratio_high'])} "
        f"(mlp on digits, lr {_fmt(n['mlp_lr_raw'])} vs {_fmt(n['mlp_lr_standardized'])})"
        f"{_failed_note(evidence)}"
    )
    return Verdict(outcome, summary, numbers)


def norm_figure(evidence: Evidence) -> "Figure":
    """Median final value against lr (evaluation seeds), raw and standardized, per family."""
    verdict = norm_criterion(evidence)
    values = _norm_values(evidence)
    values = values[values["seed"].isin(list(evidence.budget.seeds))]
    colors = dict(zip(("raw", "standardized"), _colors(2)))
    with _theme():
        fig, axes = _facets(2)
        for ax, family, ylabel in zip(axes, ("logistic", "mlp"),
                                      ("final subopt / initial subopt", "final training loss")):
            for condition in ("raw", "standardized"):
                rows = values[(values["family"] == family) & (values["condition"] == condition)]
                if rows.empty:
                    continue
                med = rows.groupby("lr")["value"].median()
                shown = med.where(np.isfinite(med), np.nan)
                ax.plot(shown.index, shown.to_numpy(), marker="o", color=colors[condition], label=condition)
                lr = verdict.numbers.get(f"{family}_lr_{condition}", math.nan)
                if math.isfinite(lr):
                    ax.axvline(lr, color=colors[condition], ls=":", lw=1)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("SGD learning rate (dotted: selected on tuning seeds)")
            ax.set_ylabel(ylabel)
            title = "logistic, breast_cancer" if family == "logistic" else "mlp, digits"
            ax.set_title(title)
            ax.legend(fontsize=7, loc="lower left")
            n = verdict.numbers
            text = (f"ratio std/raw {_fmt(n.get(f'{family}_ratio', math.nan))} "
                    + _interval(n.get(f"{family}_ratio_low", math.nan),
                                n.get(f"{family}_ratio_high", math.nan)))
            if family == "logistic":
                text += f"\nHessian kappa {_fmt(n.get('kappa_raw', math.nan))} -> " \
                        f"{_fmt(n.get('kappa_standardized', math.nan))}"
            _note(ax, text)
        _suptitle(fig, _title(11, "normalising the inputs", verdict))
    return fig


NORM_CLAIM = Claim(
    key="input-normalization",
    number=11,
    statement=(
        "Before normalization: classification loss very sensitive to changes in weight matrix; "
        "hard to optimize. After normalization: less sensitive to small changes in weights; "
        "easier to optimize."
    ),
    experiment=(
        "Logistic regression on breast_cancer (batch 32) with raw or standardized features, and "
        "a one-hidden-layer relu net (32 units, He init, batch 64) on digits with preprocess "
        "'none' or 'standardize'. Sensitivity: the condition number of the logistic Hessian at "
        "the minimiser w*. Optimisation: minibatch SGD over a one-point-per-decade lr grid "
        "(logistic 1e-7..10, 300 steps; mlp 1e-4..10, 200 steps; 150/100 with --quick); for each "
        "condition the lr is selected on two tuning seeds (run seeds + 1000) by the median final "
        "value, and evaluated on the run seeds (8, 5 with --quick)."
    ),
    statistic=(
        "kappa_raw / kappa_standardized of the logistic Hessian at w*; and per family the "
        "per-seed ratio standardized/raw of the tuned final value (logistic: final subopt over "
        "initial subopt; mlp: final training loss), median with a 95% bootstrap interval. Holds "
        "if the kappa ratio exceeds 10 and both intervals lie below 1; does not hold if the "
        "kappa ratio is <= 1 or either interval lies above 1; inconclusive otherwise."
    ),
    arms=norm_arms,
    criterion=norm_criterion,
    measure=norm_measure,
    figure=norm_figure,
)


# ---------------------------------------------------- claim 12: batch normalisation

BN_PROBLEM = {"dataset": "spiral", "hidden": [32, 32, 32], "activation": "relu", "init": "he",
              "batch_size": 32}
#: "Trainable": the median final training loss is at most this share of ln(classes)
#: (the loss of a uniform guess); the spiral has 3 classes.
TRAINABLE_FRACTION = 0.5
BN_CLASSES = 3


def bn_lrs(budget: Budget) -> tuple[float, ...]:
    """The log grid ``10**-2.5 .. 10**1``, two points per decade (both sizes: the quick
    experiment saves on steps and seeds, not on the resolution of the width)."""
    return tuple(float(10.0 ** (k / 2)) for k in range(-5, 3))


def _bn_steps(budget: Budget) -> int:
    return 150 if budget.quick else 250


def bn_arms(budget: Budget) -> list[Arm]:
    """Plain and batch-normalised nets, SGD at every grid lr, every seed (the run seed
    also seeds the spiral, so each seed is another data set)."""
    arms = []
    for bn in (False, True):
        for lr in bn_lrs(budget):
            arms.append(Arm(f"{'batchnorm' if bn else 'plain'}/{_lr_name(lr)}", tuple(
                RunSpec(problem="mlp", problem_params={**BN_PROBLEM, "batchnorm": bn, "seed": s},
                        optimizer="sgd", optimizer_params={"lr": lr}, seed=s,
                        steps=_bn_steps(budget), record_every=25)
                for s in budget.seeds)))
    return arms


def trainable_width(values: np.ndarray, lrs: Sequence[float], threshold: float) -> np.ndarray:
    """Width in decades of the trainable lr range.

    ``values`` is (..., seeds, len(lrs)) of final losses (inf: diverged, NaN: missing);
    a grid lr is trainable when the median over seeds (NaN ignored) is at most
    ``threshold``; the width is the number of trainable grid points times the grid's
    spacing in decades (a grid of one point has width 0 or 1 decade).
    """
    spacing = float(np.log10(lrs[1] / lrs[0])) if len(lrs) > 1 else 1.0
    with warnings.catch_warnings():  # an lr whose runs all failed: an all-NaN median
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(values, axis=-2)
    return np.sum(med <= threshold, axis=-1) * spacing


def _bn_matrix(evidence: Evidence, lrs: Sequence[float], seeds: Sequence[int]) -> dict[str, np.ndarray]:
    finals = final_values(evidence)
    out = {}
    for kind in ("plain", "batchnorm"):
        m = np.full((len(seeds), len(lrs)), np.nan)
        for j, lr in enumerate(lrs):
            rows = finals[finals["arm"] == f"{kind}/{_lr_name(lr)}"].set_index("seed")["value"]
            for i, s in enumerate(seeds):
                if s in rows.index:
                    m[i, j] = float(rows[s])
        out[kind] = m
    return out


def bn_criterion(evidence: Evidence) -> Verdict:
    """Width difference batchnorm - plain of the trainable lr range, seeds resampled."""
    lrs = bn_lrs(evidence.budget)
    seeds = list(evidence.budget.seeds)
    threshold = TRAINABLE_FRACTION * math.log(BN_CLASSES)
    mats = _bn_matrix(evidence, lrs, seeds)
    widths = {k: float(trainable_width(m, lrs, threshold)) for k, m in mats.items()}
    if np.isnan(mats["plain"]).all() or np.isnan(mats["batchnorm"]).all():
        return Verdict(INCONCLUSIVE, "no finished runs in one of the arms; nothing to compare"
                       + _failed_note(evidence))
    rng = _rng(12)
    idx = rng.integers(0, len(seeds), size=(N_BOOT, len(seeds)))
    diff = (trainable_width(mats["batchnorm"][idx], lrs, threshold)
            - trainable_width(mats["plain"][idx], lrs, threshold))
    alpha = (1 - LEVEL) / 2
    low, high = (float(q) for q in np.quantile(diff, [alpha, 1 - alpha]))
    outcome = HOLDS if low > 0 else FAILS if high <= 0 else INCONCLUSIVE
    numbers = {"width_plain": widths["plain"], "width_batchnorm": widths["batchnorm"],
               "width_diff": widths["batchnorm"] - widths["plain"], "diff_low": low, "diff_high": high,
               "threshold": threshold,
               "diverged_plain": float(np.isinf(mats["plain"]).sum()),
               "diverged_batchnorm": float(np.isinf(mats["batchnorm"]).sum())}
    summary = (
        f"the SGD lr range where the median final loss is <= {threshold:.3g} (half the chance "
        f"loss) spans {widths['batchnorm']:.3g} decades with batch norm and {widths['plain']:.3g} "
        f"without; difference {numbers['width_diff']:.3g} decades, 95% interval {_interval(low, high)} "
        f"({int(numbers['diverged_plain'])} plain and {int(numbers['diverged_batchnorm'])} batch-norm "
        f"runs diverged){_failed_note(evidence)}"
    )
    return Verdict(outcome, summary, numbers)


def bn_figure(evidence: Evidence) -> "Figure":
    """Median final loss against lr with and without batch norm, the threshold drawn."""
    verdict = bn_criterion(evidence)
    lrs = bn_lrs(evidence.budget)
    mats = _bn_matrix(evidence, lrs, list(evidence.budget.seeds))
    colors = dict(zip(("plain", "batchnorm"), _colors(2)))
    with _theme():
        fig, (ax,) = _facets(1)
        for kind, m in mats.items():
            div = np.mean(np.isinf(m), axis=0)
            med = np.array([np.median(col[~np.isnan(col)]) if (~np.isnan(col)).any() else np.nan
                            for col in m.T])
            shown = np.where(np.isfinite(med), med, np.nan)
            ax.plot(lrs, shown, marker="o", color=colors[kind], label=kind)
            for lr, d in zip(lrs, div):
                if d >= 0.5:
                    ax.annotate(f"{kind}: {d:.0%} diverged", (lr, 0.03 + 0.3 * (kind == "plain")),
                                xycoords=("data", "axes fraction"), color=colors[kind], fontsize=6,
                                rotation=90)
        ax.axhline(verdict.numbers.get("threshold", TRAINABLE_FRACTION * math.log(BN_CLASSES)),
                   color="0.4", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("SGD learning rate")
        ax.set_ylabel("final training loss (median over seeds)")
        ax.set_title("spiral, 3 hidden relu layers of 32")
        ax.legend(fontsize=7, loc="lower left")
        n = verdict.numbers
        _note(ax, f"trainable width: bn {_fmt(n.get('width_batchnorm', math.nan))}, plain "
                  f"{_fmt(n.get('width_plain', math.nan))} decades\ndiff 95% "
                  f"{_interval(n.get('diff_low', math.nan), n.get('diff_high', math.nan))}")
        _suptitle(fig, _title(12, "batch normalisation and the lr range", verdict))
    return fig


BN_CLAIM = Claim(
    key="batchnorm-lr-range",
    number=12,
    statement=(
        "Batch normalization: an extra layer in the network that makes the intermediate "
        "activations zero-mean and unit-variance, with the minibatch's mean and standard "
        "deviation, followed by a learnable scale and shift (gamma, beta). The consequence to "
        "test: it makes a deep net trainable over a wider range of learning rates."
    ),
    experiment=(
        "A relu net with three hidden layers of 32 units (He init) on a 3-arm spiral, with and "
        "without batch norm, trained by minibatch SGD (batch 32) for 250 steps (150 with --quick) "
        "at every lr of a log grid 10^-2.5..10 (two points per decade); 8 run "
        "seeds (5 with --quick), each also seeding its spiral; nothing is tuned: the grid is the "
        "experiment."
    ),
    statistic=(
        f"Trainable lr range: grid rates whose median final training loss over seeds is <= "
        f"{TRAINABLE_FRACTION} ln(3) (half the loss of a uniform guess); its width in decades = "
        "number of such rates times the grid spacing. Statistic: width with batch norm minus "
        "width without, with a 95% bootstrap interval from resampling the seeds (the same "
        "resample for both). Holds if the interval lies above 0; does not hold if it lies at or "
        "below 0; inconclusive otherwise."
    ),
    arms=bn_arms,
    criterion=bn_criterion,
    figure=bn_figure,
)


# ----------------------------------------------------------- claim 13: ensembles

ENS_PROBLEM = {"dataset": "digits", "hidden": [32], "activation": "relu", "init": "he",
               "batch_size": 64}
ENS_OPTIMIZER = "adam"
ENS_LR = 1e-2
ENS_AVERAGE = 0.995
ENS_METHODS = ("independent", "snapshot", "polyak")
#: Seeds of the further members of an independent ensemble: the replicate's run seed
#: plus multiples of this.
MEMBER_SEED_STRIDE = 1000


def _ens_size(budget: Budget) -> dict[str, int]:
    if budget.quick:
        return {"steps": 600, "members": 3, "cycles": 5}
    return {"steps": 600, "members": 5, "cycles": 5}


def _ens_problem(seed: int) -> dict[str, Any]:
    return {**ENS_PROBLEM, "seed": int(seed)}


def ens_arms(budget: Budget) -> list[Arm]:
    """The single models (the first member of each replicate; the same specs as
    :func:`optbench.ensembles.compare_ensembles` runs), for their traces."""
    size = _ens_size(budget)
    return [Arm("single", tuple(
        RunSpec(problem="mlp", problem_params=_ens_problem(s), optimizer=ENS_OPTIMIZER,
                optimizer_params={"lr": ENS_LR}, seed=s, steps=size["steps"], record_every=50)
        for s in budget.seeds))]


def ens_measure(budget: Budget) -> dict[str, pd.DataFrame]:
    """``ensembles``: :func:`optbench.ensembles.compare_ensembles` once per replicate
    (run seed ``s``: data seed ``s``, members ``s, s + 1000, ...``), with a column
    ``replicate``."""
    from ..ensembles import compare_ensembles

    size = _ens_size(budget)
    frames = []
    for s in budget.seeds:
        members = [s + MEMBER_SEED_STRIDE * j for j in range(size["members"])]
        table = compare_ensembles(_ens_problem(s), ENS_OPTIMIZER, {"lr": ENS_LR},
                                  steps=size["steps"], seeds=members, cycles=size["cycles"],
                                  average=ENS_AVERAGE, record_every=50)
        frames.append(table.assign(replicate=s))
    return {"ensembles": pd.concat(frames, ignore_index=True)}


def ensemble_gains(table: pd.DataFrame) -> pd.DataFrame:
    """Per replicate, the validation-accuracy gain of each method over its single model:
    independent ensemble - median single member; snapshot ensemble and Polyak average -
    the single constant-lr run of the same seed (the replicate's first member)."""
    rows = []
    for rep, g in table.groupby("replicate"):
        acc = g.set_index("model")["val_acc"]
        single = acc.get(f"single seed={rep}", math.nan)
        polyak = g.loc[g["kind"] == "average", "val_acc"]
        loss = g.set_index("model")["val_loss"]
        polyak_loss = g.loc[g["kind"] == "average", "val_loss"]
        single_loss = loss.get(f"single seed={rep}", math.nan)
        rows.append({
            "replicate": rep,
            "independent_loss": (loss.get("median single", math.nan)
                                 - loss.get("independent ensemble", math.nan)),
            "snapshot_loss": single_loss - loss.get("snapshot ensemble", math.nan),
            "polyak_loss": single_loss - (float(polyak_loss.iloc[0]) if len(polyak_loss) else math.nan),
            "independent": acc.get("independent ensemble", math.nan) - acc.get("median single", math.nan),
            "snapshot": acc.get("snapshot ensemble", math.nan) - single,
            "polyak": (float(polyak.iloc[0]) if len(polyak) else math.nan) - single,
            "single": single,
        })
    # accuracies are multiples of 1/n_val: round off the float noise of their differences
    return pd.DataFrame(rows).round(12)


def gain_outcome(low: float, high: float) -> str:
    """One method's verdict from the interval of its mean gain: HOLDS above 0, FAILS at or
    below 0, INCONCLUSIVE if it straddles 0 (or is missing)."""
    if math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE
    return HOLDS if low > 0 else FAILS if high <= 0 else INCONCLUSIVE


def ens_criterion(evidence: Evidence) -> Verdict:
    """Mean paired gain per method with a bootstrap interval; the verdict combines them."""
    table = evidence.tables.get("ensembles")
    if table is None or table.empty:
        return Verdict(INCONCLUSIVE, "no ensemble table was measured; nothing to decide")
    gains = ensemble_gains(table)
    numbers: dict[str, float] = {"replicates": float(len(gains)),
                                 "single_acc": float(gains["single"].median())}
    outcomes = {}
    for i, method in enumerate(ENS_METHODS):
        v = gains[method].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        low, high = _ci(v, np.mean, label=30 + i) if v.size >= 2 else (math.nan, math.nan)
        numbers.update({f"{method}_gain": float(np.mean(v)) if v.size else math.nan,
                        f"{method}_low": low, f"{method}_high": high,
                        f"{method}_positive": float(np.mean(v > 0)) if v.size else math.nan,
                        f"{method}_loss_gain": float(gains[f"{method}_loss"].median())})
        outcomes[method] = gain_outcome(low, high)
        numbers[f"{method}_holds"] = float(outcomes[method] == HOLDS)
    values = list(outcomes.values())
    outcome = HOLDS if all(o == HOLDS for o in values) else FAILS if FAILS in values else INCONCLUSIVE
    parts = [f"{m} {100 * numbers[f'{m}_gain']:+.2f} pp "
             f"[{100 * numbers[f'{m}_low']:+.2f}, {100 * numbers[f'{m}_high']:+.2f}] ({outcomes[m]})"
             for m in ENS_METHODS]
    losses = ", ".join(f"{m} {numbers[f'{m}_loss_gain']:+.3f}" for m in ENS_METHODS)
    summary = (f"mean validation-accuracy gain over the single model (median single accuracy "
               f"{numbers['single_acc']:.3f}), over {len(gains)} paired replicates: "
               + "; ".join(parts) + "; median validation-loss decrease (not part of the verdict): "
               + losses + _failed_note(evidence))
    return Verdict(outcome, summary, numbers)


def ens_figure(evidence: Evidence) -> "Figure":
    """Per method, the paired gains (one dot per replicate) and their mean with its interval."""
    verdict = ens_criterion(evidence)
    table = evidence.tables.get("ensembles")
    colors = _colors(len(ENS_METHODS))
    with _theme():
        fig, (ax,) = _facets(1)
        if table is not None and not table.empty:
            gains = ensemble_gains(table)
            for i, method in enumerate(ENS_METHODS):
                v = 100 * gains[method].to_numpy(dtype=float)
                jitter = np.linspace(-0.12, 0.12, len(v)) if len(v) > 1 else np.zeros(len(v))
                ax.scatter(i + jitter, v, color=colors[i], s=14, alpha=0.7)
                n = verdict.numbers
                mean = 100 * n.get(f"{method}_gain", math.nan)
                low, high = 100 * n.get(f"{method}_low", math.nan), 100 * n.get(f"{method}_high", math.nan)
                if math.isfinite(low) and math.isfinite(high):
                    ax.errorbar([i + 0.3], [mean], yerr=[[mean - low], [high - mean]], fmt="D",
                                color="0.2", capsize=3)
        ax.axhline(0.0, color="0.4", lw=1)
        ax.set_xticks(range(len(ENS_METHODS)))
        n = verdict.numbers
        ax.set_xticklabels([
            f"{name}\n({gain_outcome(n.get(f'{m}_low', math.nan), n.get(f'{m}_high', math.nan))})"
            for m, name in zip(ENS_METHODS, ("independent\nensemble", "snapshot\nensemble",
                                             "Polyak\naverage"))])
        ax.set_ylabel("val accuracy gain over single (pp)")
        ax.set_title("digits, 1x32 relu, Adam")
        _suptitle(fig, _title(13, "ensembles and averaging", verdict))
    return fig


ENS_CLAIM = Claim(
    key="ensembles",
    number=13,
    statement=(
        "Model ensembles: train several independent models from different random "
        "initialisations and average their predictions at test time; this usually gains a few "
        "percent: not a huge improvement, but a consistent one. Instead of training independent "
        "models, use multiple snapshots of a single model during training. Instead of using "
        "the actual parameter vector, keep a moving average of the parameter vector and use "
        "that at test time (Polyak averaging)."
    ),
    experiment=(
        "A relu net with one hidden layer of 32 units on digits (He init, batch 64), Adam with "
        "lr 1e-2, 600 steps: long enough that a single model's validation "
        "accuracy has stopped improving (it is the same after 300 steps), so that averaging is "
        "compared with a trained model, not with one still learning. Per replicate (one per "
        "run seed, which also "
        "seeds the train/validation split) optbench.ensembles.compare_ensembles trains 5 "
        "independent members (3 with --quick), one warm-restart run with 5 cycles whose "
        "cycle ends are the snapshots, and one run with Polyak averaging of decay 0.995; "
        "8 replicates (5 with --quick). The single models' runs are the claim's arm."
    ),
    statistic=(
        "Per replicate, the validation-accuracy gain: independent ensemble minus the median "
        "single member; snapshot ensemble and Polyak average minus the constant-lr single model "
        "of the same seed. Per method: the mean gain with a 95% bootstrap interval over "
        "replicates; that method holds if the interval lies above 0 ('consistent'), does not "
        "hold if it lies at or below 0, else inconclusive. The claim holds if all three hold, "
        "does not hold if any of them does not hold, and is inconclusive otherwise; the summary "
        "says which hold."
    ),
    arms=ens_arms,
    criterion=ens_criterion,
    measure=ens_measure,
    figure=ens_figure,
)


# ------------------------------------------------- claim 14: random vs grid search

SEARCH_PROBLEM = {"dataset": "breast_cancer", "standardize": True, "batch_size": 32, "seed": 0}
SEARCH_OPTIMIZER = "adam"
SEARCH_TRIALS = 9


def search_space() -> dict[str, Any]:
    """Adam's lr on the project's default range (it matters) and beta2 (it hardly does)."""
    from ..tuning import DEFAULT_LR_RANGE, LogUniform, Uniform

    return {"lr": LogUniform(*DEFAULT_LR_RANGE), "beta2": Uniform(0.99, 0.9999)}


def _search_steps(budget: Budget) -> int:
    """The same at both sizes: --quick runs fewer searches, not shorter ones."""
    return 300


#: Searches per run seed (full size, --quick): run seed ``s`` gives the search seeds
#: ``s + 1000 k`` for k below this.
SEARCHES_PER_SEED = {False: 3, True: 2}


def search_seeds(budget: Budget) -> tuple[int, ...]:
    """The search seeds: :data:`SEARCHES_PER_SEED` per run seed (the run seeds first)."""
    per = SEARCHES_PER_SEED[budget.quick]
    return tuple(s + TUNE_SEED_OFFSET * k for k in range(per) for s in budget.seeds)


def search_arms(budget: Budget) -> list[Arm]:
    """Per search seed ``s``: the 3x3 grid and 9 random trials (Generator seeded by
    ``[s, 14]``), each trial one Adam run with run seed ``s``."""
    from ..tuning import grid_trials, random_trials

    space = search_space()
    steps = _search_steps(budget)

    def spec(trial: dict[str, Any], s: int) -> RunSpec:
        return RunSpec(problem="logistic", problem_params=SEARCH_PROBLEM, optimizer=SEARCH_OPTIMIZER,
                       optimizer_params={k: float(v) for k, v in trial.items()}, seed=s,
                       steps=steps, record_every=steps)

    grid = grid_trials(space, SEARCH_TRIALS)
    grid_specs, random_specs = [], []
    for s in search_seeds(budget):
        grid_specs += [spec(t, s) for t in grid]
        random_specs += [spec(t, s) for t in random_trials(space, SEARCH_TRIALS,
                                                            np.random.default_rng([s, 14]))]
    return [Arm("grid", tuple(grid_specs)), Arm("random", tuple(random_specs))]


def search_criterion(evidence: Evidence) -> Verdict:
    """Per search seed: distinct lrs tried and the best final subopt, random vs grid."""
    finals = final_values(evidence, "subopt")
    if finals.empty:
        return Verdict(INCONCLUSIVE, "no finished runs; nothing to compare" + _failed_note(evidence))
    per = finals.groupby(["arm", "seed"]).agg(best=("value", "min"),
                                               distinct=("optimizer.lr", "nunique")).reset_index()
    wide = per.pivot(index="seed", columns="arm")
    if "grid" not in wide["best"] or "random" not in wide["best"]:
        return Verdict(INCONCLUSIVE, "one search has no finished runs" + _failed_note(evidence))
    ratios = _ratio(wide["best"]["random"].to_numpy(), wide["best"]["grid"].to_numpy())
    ratios = ratios[~np.isnan(ratios)]
    low, high = _ci(ratios, label=40) if ratios.size >= 2 else (math.nan, math.nan)
    distinct_r = wide["distinct"]["random"].to_numpy(dtype=float)
    distinct_g = wide["distinct"]["grid"].to_numpy(dtype=float)
    more = bool(np.all(distinct_r > distinct_g))
    side = _side(low, high, 1.0, "below")
    outcome = HOLDS if side == HOLDS and more else FAILS if side == FAILS or not more else INCONCLUSIVE
    # how much each parameter matters, from the grid: spread of log10 final subopt
    grid = finals[finals["arm"] == "grid"].copy()
    grid["log"] = np.log10(np.clip(grid["value"].astype(float), 1e-300, 1e300))
    by_lr = grid.groupby(["seed", "optimizer.beta2"])["log"].agg(lambda v: v.max() - v.min())
    finite = grid[np.isfinite(grid["value"])]
    by_b2 = finite.groupby(["seed", "optimizer.lr"])["log"].agg(lambda v: v.max() - v.min())
    numbers = {"ratio": float(np.median(ratios)) if ratios.size else math.nan, "ratio_low": low,
               "ratio_high": high, "distinct_random": float(np.median(distinct_r)),
               "distinct_grid": float(np.median(distinct_g)),
               "best_random": float(wide["best"]["random"].median()),
               "best_grid": float(wide["best"]["grid"].median()),
               "decades_over_lr": float(by_lr.median()), "decades_over_beta2": float(by_b2.median())}
    summary = (
        f"with {SEARCH_TRIALS} trials of Adam on logistic regression, random search tries "
        f"{numbers['distinct_random']:.0f} distinct learning rates against the grid's "
        f"{numbers['distinct_grid']:.0f}; the best final suboptimality found is "
        f"{_fmt(numbers['best_random'])} "
        f"(random) vs {_fmt(numbers['best_grid'])} (grid), median paired ratio {_fmt(numbers['ratio'])} "
        f"{_interval(low, high)}; on the grid the final loss spans {numbers['decades_over_lr']:.2g} "
        f"decades over lr and {numbers['decades_over_beta2']:.2g} over beta2{_failed_note(evidence)}"
    )
    return Verdict(outcome, summary, numbers)


def search_figure(evidence: Evidence) -> "Figure":
    """Final suboptimality of every trial against its lr (grid vs random), best marked."""
    verdict = search_criterion(evidence)
    finals = final_values(evidence, "subopt")
    colors = dict(zip(("grid", "random"), _colors(2)))
    with _theme():
        fig, (ax,) = _facets(1)
        if not finals.empty:
            finite = finals.loc[np.isfinite(finals["value"]), "value"]
            top = float(finite.max()) if len(finite) else 1.0
            for arm in ("grid", "random"):
                rows = finals[finals["arm"] == arm]
                shown = rows["value"].where(np.isfinite(rows["value"]), top * 10)
                ax.scatter(rows["optimizer.lr"].astype(float), shown, s=12, alpha=0.6,
                           color=colors[arm],
                           label=f"{arm} (diverged drawn on top)" if arm == "grid" else arm)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("Adam learning rate")
        ax.set_ylabel("final suboptimality")
        ax.set_title(f"{SEARCH_TRIALS} trials per search, logistic breast_cancer")
        ax.legend(fontsize=7, loc="lower left")
        n = verdict.numbers
        _note(ax, f"distinct lr: random {_fmt(n.get('distinct_random', math.nan))}, grid "
                  f"{_fmt(n.get('distinct_grid', math.nan))}\nbest ratio random/grid "
                  f"{_fmt(n.get('ratio', math.nan))} "
                  + _interval(n.get("ratio_low", math.nan), n.get("ratio_high", math.nan)))
        _suptitle(fig, _title(14, "random search vs grid search", verdict))
    return fig


SEARCH_CLAIM = Claim(
    key="random-vs-grid-search",
    number=14,
    statement=(
        "Random search covers the hyper-parameter space better than grid search when the "
        "model's performance is more sensitive to one hyper-parameter than to the others."
    ),
    experiment=(
        "Adam on standardized breast_cancer logistic regression (batch 32, 300 steps). Search "
        "space: lr log-uniform on the project's default range 1e-5..10 (it "
        "matters) and beta2 uniform on 0.99..0.9999 (it hardly does). Same budget of 9 trials: "
        "the 3x3 grid of optbench.tuning.grid_trials against 9 optbench.tuning.random_trials "
        "drawn with a Generator seeded by the search seed; each trial is one run with the "
        "search seed as run seed; 3 search seeds per run seed (s, s + 1000, s + 2000): 24 "
        "searches (2 per run seed, 10, with --quick)."
    ),
    statistic=(
        "Per search seed: the number of distinct lr values tried, and the best final "
        "suboptimality over the trials (a diverged trial counts +inf). Statistic: the per-seed "
        "ratio best(random)/best(grid), median with a 95% bootstrap interval. Holds if random "
        "tries more distinct lrs on every seed and the interval lies below 1; does not hold if "
        "the interval lies above 1 or random does not try more distinct lrs; inconclusive "
        "otherwise."
    ),
    arms=search_arms,
    criterion=search_criterion,
    figure=search_figure,
)


CLAIMS: list[Claim] = [INIT_CLAIM, NORM_CLAIM, BN_CLAIM, ENS_CLAIM, SEARCH_CLAIM]
