"""The figures of claims 6-9 (:mod:`optbench.claims.adaptive`), drawn from their evidence.

Each figure recomputes its claim's verdict with the claim's own criterion and draws
the statistics that decide it, imported from the claim's module:

- Adam's bias correction: the first step / lr of every run and coordinate per
  variant, and the median step / lr against the step with the constant-gradient
  theory;
- Adam as a default: per problem, the ratio of untuned Adam's gap to the best tuned
  method's against the step budget (per seed, and the median with its interval), with
  the 10x line;
- step decay: the loss curves at batch 32 of the best constant rate, of step decay and
  of the same run without the cuts, and per batch size and the full-batch control the
  per-seed ratios that decide each setting (per seed, and the median with its interval);
- Newton and L-BFGS: Newton's gradient norm per iteration, the gap against gradient
  calls of L-BFGS and tuned GD in full batch, and per minibatch size the ratio of
  minibatch L-BFGS's gap to tuned SGD's (per seed, and the median with its interval).

The statistics a panel states go in its title, and the legends go below the panels
(:func:`reports.style.facets`), so that no text covers a curve; every text reads at
:data:`~reports.style.MIN_FONT_PT` or more in a figure no wider than
:data:`~reports.style.PAGE_WIDTH_IN`.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from optbench.claims import Evidence, Verdict
from optbench.claims.adaptive import adam_bias_correction as bias
from optbench.claims.adaptive import adam_good_default as default
from optbench.claims.adaptive import newton_and_lbfgs as second
from optbench.claims.adaptive import step_decay as decay
from optbench.claims.adaptive.intervals import interval_text
from optbench.claims.adaptive.run_tables import gap_of

from ..style import (
    PAGE_WIDTH_IN,
    TEXT_PT,
    facet_layout,
    facets,
    figure_legend,
    fitting_chars,
    legend_size,
    log_axis_ok,
    log_scale,
    suptitle,
    theme,
    wrap,
)

__all__ = ["FIGURES", "bias_correction_figure", "default_figure", "second_order_figure",
           "step_decay_figure"]

BLUE, ORANGE, GREEN, YELLOW = "#0173b2", "#d55e00", "#029e73", "#de8f05"
#: Inches between an axes' bottom and a legend below it (room for tick and axis labels).
_BELOW_AXES = 0.62


def _title(claim_number: int, text: str, verdict: Verdict) -> str:
    return f"Claim {claim_number}: {text}\nverdict: {verdict.outcome}"


def _wrapped(lines: Sequence[str], width: float) -> str:
    """The lines of a panel title, each wrapped to ``width`` inches."""
    return "\n".join(wrap(line, fitting_chars(width)) for line in lines)


def _panels(titles: Sequence[Sequence[str]], **sizes: Any) -> tuple[Figure, list]:
    """A figure of one panel per title (a title is its lines, wrapped to a panel's width)
    in one row, room for a two-line suptitle, no wider than the page.  ``sizes``:
    further arguments of :func:`reports.style.facets`."""
    sizes = {"suptitle": 2, "max_width": PAGE_WIDTH_IN, **sizes}
    width = facet_layout(len(titles), len(titles), **sizes).panel[0]
    wrapped = [_wrapped(lines, width) for lines in titles]
    lines = max([2, *(text.count("\n") + 1 for text in wrapped)])
    fig, axes = facets(len(titles), len(titles), title_lines=lines, **sizes)
    for ax, title in zip(axes, wrapped):
        ax.set_title(title, loc="left")
    return fig, axes


def _interval(numbers: dict[str, float], key: str) -> str:
    """``"median [low, high]"`` of the verdict's numbers ``<key>_median``, ``_low``, ``_high``."""
    return interval_text(*(numbers.get(f"{key}_{part}", math.nan) for part in ("median", "low", "high")))


def _log(ax: Any, values: Any) -> None:
    """A log y scale when the finite values are positive."""
    if log_axis_ok(values):
        log_scale(ax)


def _jitter(seed: int, n: int, half: float = 0.15) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-half, half, n)


def _runs(trace: pd.DataFrame, arm: str) -> list[pd.DataFrame]:
    """The rows of each run of ``arm``, in step order."""
    sub = trace[trace["arm"] == arm] if len(trace) else trace
    return [rows for _, rows in sub.sort_values(["run_id", "step"]).groupby("run_id")]


# ----------------------------------------------------- claim 6: bias correction


_VARIANT_COLORS = {"corrected": BLUE, "uncorrected": ORANGE, "uncorrected-beta2=0.99": GREEN}
_VARIANT_LABELS = {"corrected": "corrected", "uncorrected": "uncorrected",
                   "uncorrected-beta2=0.99": "uncorrected, beta2=0.99"}


def _first_steps(ax: Any, ratios: pd.DataFrame) -> None:
    """Every run's and coordinate's first step / lr per variant, and their medians."""
    for i, (variant, _) in enumerate(bias.BIAS_VARIANTS):
        vals = ratios.loc[(ratios["variant"] == variant) & (ratios["step"] == 1), "ratio"].to_numpy()
        if vals.size:
            ax.scatter(i + _jitter(i, vals.size), vals, s=12, color=_VARIANT_COLORS[variant], alpha=0.7)
            ax.hlines(np.median(vals), i - 0.3, i + 0.3, color="k", linewidth=1.5)
    ax.axhspan(*bias.ABOUT_LR, color="0.85", zorder=0)
    ax.axhline(bias.VERY_LARGE, color="0.4", linestyle=":")
    ax.set_xticks(range(len(bias.BIAS_VARIANTS)),
                  [_VARIANT_LABELS[v].replace(", ", ",\n") for v, _ in bias.BIAS_VARIANTS])
    ax.set_xlim(-0.6, len(bias.BIAS_VARIANTS) - 0.4)
    ax.set_ylabel("first step / lr, per coordinate")


def _step_curves(ax: Any, ratios: pd.DataFrame) -> None:
    """The median step / lr against the step per variant, and the constant-gradient theory."""
    t = np.arange(1, int(ratios["step"].max()) + 1) if len(ratios) else np.arange(1, 2)
    for variant, hyper in bias.BIAS_VARIANTS:
        sub = ratios[ratios["variant"] == variant]
        if len(sub):
            curve = sub.groupby("step")["ratio"].median()
            ax.plot(curve.index, curve.to_numpy(), color=_VARIANT_COLORS[variant])
        if not hyper.get("bias_correction", True):
            ax.plot(t, bias.uncorrected_factor(t, beta2=hyper.get("beta2", 0.999)),
                    color=_VARIANT_COLORS[variant], linestyle="--", linewidth=1)
    ax.axhline(1.0, color=_VARIANT_COLORS["corrected"], linestyle="--", linewidth=1)
    ax.set_xlabel("step t")
    ax.set_ylabel("step / lr, per coordinate")


def bias_correction_figure(evidence: Evidence) -> Figure:
    """Left: the first step / lr of every run and coordinate per variant (black: medians);
    right: the median step / lr against the step, with the theory dashed."""
    verdict = bias.criterion(evidence)
    ratios = bias.step_ratios(evidence)
    n = dict(verdict.numbers)
    titles = [["the first step, median [95% interval]:", f"corrected {_interval(n, 'corrected')}",
               f"uncorrected {_interval(n, 'uncorrected')}"],
              ["every step, median over runs (dashed: theory)",
               f"uncorrected: peak {n.get('uncorrected_peak_first_40', math.nan):.3g} lr within 40 steps"]]
    handles: list[Any] = [Line2D([], [], color=_VARIANT_COLORS[v], marker="o") for v, _ in bias.BIAS_VARIANTS]
    texts = [_VARIANT_LABELS[v] for v, _ in bias.BIAS_VARIANTS]
    handles += [Line2D([], [], color="k", linewidth=1.5),
                Line2D([], [], color="0.3", linestyle="--", linewidth=1),
                Patch(color="0.85"), Line2D([], [], color="0.4", linestyle=":")]
    texts += ["median first step", "theory: (1-b1^t)/sqrt(1-b2^t) lr", "about lr (0.9-1.1)",
              f"very large (>= {bias.VERY_LARGE:g} lr)"]
    with theme():
        fig, (ax_first, ax_curve) = _panels(titles, panel=(4.9, 3.0), wspace=0.9, legend=texts)
        _first_steps(ax_first, ratios)
        _step_curves(ax_curve, ratios)
        figure_legend(fig, handles, texts)
        suptitle(fig, _title(6, "without bias correction Adam's first steps are large; with it, about lr",
                             verdict))
    return fig


# ------------------------------------------------------- claim 7: Adam's default


def _ratio_panel(ax: Any, sub: pd.DataFrame, steps: dict[int, int], numbers: dict[str, float],
                 problem: str) -> None:
    """Every seed's ratio untuned / best tuned at each budget (dots), their median with its
    95% interval (filled where the tuned methods have converged), and the 10x line."""
    shown: list[float] = []
    for j, m in enumerate(default.BUDGETS):
        vals = sub.loc[sub["budget"] == m, "ratio"].to_numpy(dtype=float)
        vals = vals[np.isfinite(vals)]
        x = steps[m] * np.exp(_jitter(j, vals.size, 0.12))
        ax.scatter(x, vals, s=10, color=BLUE, alpha=0.6)
        shown.extend(vals)
        key = f"{problem}_{m}x"
        med, low, high = (numbers.get(f"{key}_ratio_{p}", math.nan) for p in ("median", "low", "high"))
        if math.isfinite(med):
            filled = numbers.get(f"{key}_converged", 0.0) == 1.0
            ax.errorbar(steps[m], med, yerr=[[max(0.0, med - low)], [max(0.0, high - med)]], fmt="o",
                        color=ORANGE, mfc=ORANGE if filled else "white", capsize=3, zorder=3)
            shown.append(med)
    ax.axhline(default.GOOD_FACTOR, color="0.3", linestyle="--", linewidth=1)
    ax.axhline(1.0, color="0.6", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xticks([steps[m] for m in default.BUDGETS], [f"{steps[m]:g}" for m in default.BUDGETS],
                  rotation=45, ha="right", rotation_mode="anchor")
    ax.minorticks_off()
    ax.set_xlim(steps[default.BUDGETS[0]] / 2, steps[default.BUDGETS[-1]] * 2)
    _log(ax, [*shown, default.GOOD_FACTOR, 1.0])
    ax.set_xlabel("budget (steps)")


def _budget_title(problem: str, steps: dict[int, int]) -> list[str]:
    return [problem, f"1x = {steps[default.BUDGETS[0]]} steps"]


def default_figure(evidence: Evidence) -> Figure:
    """One panel per problem: the ratio of untuned Adam's gap (lr 1e-3) to the best tuned
    method's (tuned per budget by leave-one-seed-out) against the budget, per seed (blue)
    and its median with a 95% interval (orange; filled where the tuned methods have
    converged); dashed: the 10x line."""
    verdict = default.criterion(evidence)
    table = default.budget_gaps(evidence)
    per = default.per_budget(table, default.tuned_methods(evidence.budget))
    bases = default.base_steps(evidence.budget)
    problems = [p for p, *_ in default.DEFAULT_PROBLEMS]
    titles = [_budget_title(p, {m: m * bases[p] for m in default.BUDGETS}) for p in problems]
    texts = ["ratio of a seed", "median, 95% interval (tuned converged)",
             "median, 95% interval (tuned not converged)", f"{default.GOOD_FACTOR:g}x: 'good default' limit",
             "1: as good as tuned"]
    handles = [Line2D([], [], color=BLUE, marker="o", linestyle="", alpha=0.6),
               Line2D([], [], color=ORANGE, marker="o"),
               Line2D([], [], color=ORANGE, marker="o", mfc="white"),
               Line2D([], [], color="0.3", linestyle="--"), Line2D([], [], color="0.6", linestyle=":")]
    with theme():
        fig, axes = _panels(titles, panel=(2.6, 2.8), wspace=0.6, bottom=1.25, legend=texts)
        for ax, problem in zip(axes, problems):
            sub = per[per["problem"] == problem] if len(per) else pd.DataFrame(columns=["budget", "ratio"])
            _ratio_panel(ax, sub, {m: m * bases[problem] for m in default.BUDGETS}, dict(verdict.numbers),
                         problem)
        axes[0].set_ylabel("gap untuned Adam / best tuned")
        figure_legend(fig, handles, texts)
        decisive = [m for m in default.BUDGETS if verdict.numbers.get(f"{m}x_decisive") == 1.0]
        where = (f", at {decisive[-1]}x, the largest budget where the tuned methods have converged"
                 if decisive else ": the tuned methods have converged at no budget")
        suptitle(fig, _title(7, "Adam (0.9, 0.999, lr 1e-3) is a good default: untuned vs tuned, "
                             "against the budget", verdict) + where)
    return fig


# --------------------------------------------------------- claim 8: step decay


#: The batch size whose loss curves the figure draws: the built-in suites' 32.
_DECAY_CURVES_BATCH = decay.DECAY_BATCHES[0]


def _decay_arms(numbers: dict[str, float], batch: int | None) -> list[tuple[str, str, str]]:
    """``(arm, colour, label)`` of the curves at ``batch``: the run without the cuts (when
    its rate is not the best constant one), the best constant rate, step decay."""
    key = decay.number_key(batch)
    best_constant = numbers.get(f"{key}_constant_lr_mode", math.nan)
    lr0 = numbers.get(f"{key}_step_lr_mode", math.nan)
    uncut = [(decay.arm_name(batch, "constant", lr0), "0.6", f"no cut, lr={lr0:g}")]
    return (uncut if lr0 != best_constant else []) + [
        (decay.arm_name(batch, "constant", best_constant), BLUE, f"best constant lr={best_constant:g}"),
        (decay.arm_name(batch, "step", lr0), ORANGE, f"step decay from lr={lr0:g}")]


def _decay_curves(ax: Any, evidence: Evidence, shown: list[tuple[str, str, str]]) -> None:
    """Every seed's gap of each ``(arm, colour, label)`` of ``shown``; dotted: the cuts."""
    _, every = decay.decay_steps(evidence.budget)
    finite: list[float] = []
    for arm, color, _ in shown:
        for rows in _runs(evidence.trace, arm):
            gaps = gap_of(rows)
            finite.extend(gaps[np.isfinite(gaps)])
            ax.plot(rows["step"], gaps, color=color, linewidth=0.8, alpha=0.6)
    for k in range(1, decay.DECAY_CUTS + 1):
        ax.axvline(k * every, color="0.6", linestyle=":", linewidth=1)
    _log(ax, finite)
    ax.set_xlabel("step")
    ax.set_ylabel("loss - f* (full objective)")


def _seeds_and_median(ax: Any, j: int, vals: np.ndarray, numbers: dict[str, float], key: str,
                      color: str) -> list[float]:
    """At x = ``j``: each seed's value (the finite, positive ones) as a dot of ``color``, and
    beside it the median with its 95% interval (``numbers[key + "_median"|"_low"|"_high"]``);
    returns the values drawn, for the axis limits."""
    vals = vals[np.isfinite(vals) & (vals > 0)]
    ax.scatter(j + _jitter(j, vals.size, 0.12), vals, s=12, color=color, alpha=0.6)
    shown = list(vals)
    med, low, high = (numbers.get(f"{key}_{p}", math.nan) for p in ("median", "low", "high"))
    if math.isfinite(med) and med > 0:
        ax.errorbar(j + 0.3, med, yerr=[[max(0.0, med - low)], [max(0.0, high - med)]], fmt="o",
                    color=ORANGE, capsize=4, zorder=3)
        shown.extend(v for v in (med, low, high) if math.isfinite(v) and v > 0)
    return shown


def _decay_tick(batch: int | None) -> str:
    return "full\n(control)" if batch is None else str(batch)


def _decay_sweep(ax: Any, table: pd.DataFrame, numbers: dict[str, float], column: str,
                 outcomes: dict[str, str] | None = None) -> None:
    """Per setting: every seed's ``column`` of the per-seed table (dots), its median with
    the 95% interval, the line at 1 and, under each tick, the setting's outcome (when
    ``outcomes`` is given)."""
    shown: list[float] = [1.0]
    for j, batch in enumerate(decay.SETTINGS):
        vals = table.loc[table["setting"] == decay.setting_name(batch), column].to_numpy(dtype=float)
        shown += _seeds_and_median(ax, j, vals, numbers, f"{decay.number_key(batch)}_{column}", "k")
    ax.axhline(1.0, color="0.4", linestyle="--", linewidth=1)
    ticks = [_decay_tick(b) + (f"\n{outcomes.get(decay.setting_name(b), '?')}" if outcomes else "")
             for b in decay.SETTINGS]
    ax.set_xticks(range(len(decay.SETTINGS)), ticks)
    ax.set_xlim(-0.5, len(decay.SETTINGS) - 0.3)
    _log(ax, shown)
    ax.set_xlabel("batch size (rows of 500)")


def step_decay_figure(evidence: Evidence) -> Figure:
    """Left: the loss curves of every seed at batch 32 (dotted: the cuts); middle: per batch
    size and the full-batch control, the final-gap ratio step decay / best constant rate,
    per seed and its median with a 95% interval, each setting's outcome under it; right:
    the same for the drop just after a cut (step decay / the run without the cuts)."""
    verdict = decay.criterion(evidence)
    table, _ = decay.decay_tables(evidence)
    n = dict(verdict.numbers)
    batch = _DECAY_CURVES_BATCH
    titles = [[f"SGD+momentum, minibatches of {batch}", "every seed's loss curve"],
              ["final gap: decay / best constant", "median [95% interval] per setting"],
              ["after a cut: decay / no cut", "median [95% interval] per setting"]]
    shown = _decay_arms(n, batch)
    texts = [label for *_, label in shown] + [
        f"a cut: lr x {decay.DECAY_FACTOR:g}", "value of a seed", "median, 95% interval",
        "1: no effect", f"{decay.VISIBLE_DROP:g}: a visible drop"]
    handles = [Line2D([], [], color=color) for _, color, _ in shown] + [
        Line2D([], [], color="0.6", linestyle=":", linewidth=1),
        Line2D([], [], color="k", marker="o", linestyle="", alpha=0.6),
        Line2D([], [], color=ORANGE, marker="o"), Line2D([], [], color="0.4", linestyle="--"),
        Line2D([], [], color=GREEN, linestyle=":")]
    with theme():
        fig, (ax_curve, ax_ratio, ax_drop) = _panels(titles, panel=(3.4, 3.0), wspace=0.85, bottom=0.95,
                                                     legend=texts)
        _decay_curves(ax_curve, evidence, shown)
        _decay_sweep(ax_ratio, table, n, "ratio", dict(verdict.by_setting))
        ax_ratio.set_ylabel("final gap ratio")
        _decay_sweep(ax_drop, table, n, "drop_relative")
        ax_drop.axhline(decay.VISIBLE_DROP, color=GREEN, linestyle=":")
        ax_drop.set_ylabel("gap ratio just after a cut")
        figure_legend(fig, handles, texts)
        suptitle(fig, _title(8, "step decay lowers SGD+momentum's final loss below the best constant "
                             "rate, with drops at the cuts, with minibatch noise (the full batch is a "
                             "control)", verdict))
    return fig


# -------------------------------------------------- claim 9: Newton and L-BFGS


def _mode(pairs: pd.DataFrame, column: str) -> float:
    vals = pairs[column].dropna() if len(pairs) else pd.Series(dtype=float)
    return float(vals.mode().iloc[0]) if len(vals) else math.nan


def _legend_below(ax: Any, handles: list, texts: Sequence[str]) -> None:
    """A legend of one column under ``ax``, below its tick and axis labels."""
    height = ax.get_position().height * ax.figure.get_figheight()
    ax.legend(handles, list(texts), loc="upper center", bbox_to_anchor=(0.5, -_BELOW_AXES / height),
              ncols=1, borderaxespad=0.0)


def _newton_panel(ax: Any, trace: pd.DataFrame) -> None:
    colors = [BLUE, YELLOW]
    finite: list[float] = []
    for i, (pname, _, _) in enumerate(second.NEWTON_PROBLEMS):
        for rows in _runs(trace, f"newton/{pname}"):
            norms = rows["grad_norm"].to_numpy(dtype=float)
            finite.extend(norms[np.isfinite(norms) & (norms > 0)])
            ax.plot(rows["step"], norms, color=colors[i], marker="o", markersize=3, linewidth=0.8)
    ax.axhline(second.NEWTON_TOL, color="0.5", linestyle=":")
    _log(ax, finite)
    ax.set_xlabel("Newton iteration (lr 1, defaults)")
    ax.set_ylabel("gradient norm")
    handles = [Line2D([], [], color=c, marker="o", markersize=3) for c in colors]
    handles.append(Line2D([], [], color="0.5", linestyle=":"))
    texts = [pname for pname, *_ in second.NEWTON_PROBLEMS] + [f"tolerance {second.NEWTON_TOL:g}"]
    _legend_below(ax, handles, texts)


def _gap_panel(ax: Any, trace: pd.DataFrame, arms: list[tuple[str, str]], limit: int) -> None:
    """Every run's gap against gradient calls of each ``(arm, label)``; dotted: the budget."""
    colors = [BLUE, YELLOW]
    shown: list[float] = []
    for k, (arm, _) in enumerate(arms):
        for rows in _runs(trace, arm):
            gaps = gap_of(rows)
            shown.extend(gaps[np.isfinite(gaps)])
            ax.plot(rows["n_grad"], gaps, color=colors[k], linewidth=0.8, alpha=0.7)
    ax.axvline(limit, color="0.5", linestyle=":")
    _log(ax, shown)
    ax.set_xlabel("gradient calls")
    ax.set_ylabel("loss - f*")
    handles = [Line2D([], [], color=c) for c in colors[:len(arms)]]
    handles.append(Line2D([], [], color="0.5", linestyle=":"))
    _legend_below(ax, handles, [label for _, label in arms] + [f"budget: {limit} calls"])


def _batch_ratio_panel(ax: Any, table: pd.DataFrame, numbers: dict[str, float],
                       by_setting: dict[str, str]) -> None:
    """Per batch size: every seed's ratio minibatch L-BFGS / tuned SGD (dots), their
    median with its 95% interval, the outcome under the tick, and the line at 1."""
    batches = list(second.LBFGS_BATCHES)
    shown: list[float] = [1.0]
    for j, batch in enumerate(batches):
        vals = table["ratio"].to_numpy(dtype=float)[table["batch"].to_numpy() == batch]
        shown += _seeds_and_median(ax, j, vals, numbers, f"minibatch_{batch}_ratio", BLUE)
    ax.axhline(1.0, color="0.4", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(batches)),
                  [f"{b}\n{by_setting.get(second.setting_name(b), '?')}" for b in batches])
    ax.set_xlim(-0.5, len(batches) - 0.3)
    _log(ax, shown)
    ax.set_xlabel("batch size (rows of 569)")
    ax.set_ylabel("gap minibatch L-BFGS / tuned SGD")
    handles = [Line2D([], [], color=BLUE, marker="o", linestyle="", alpha=0.6),
               Line2D([], [], color=ORANGE, marker="o"), Line2D([], [], color="0.4", linestyle="--")]
    _legend_below(ax, handles, ["ratio of a seed", "median, 95% interval", "1: as good as tuned SGD"])


def _newton_title(numbers: dict[str, float]) -> list[str]:
    problems = [pname for pname, *_ in second.NEWTON_PROBLEMS]
    return ["Newton, no learning rate: iterations",
            *(f"{pname} {_interval(numbers, f'newton_{pname}_iterations')}" for pname in problems)]


def second_order_figure(evidence: Evidence) -> Figure:
    """Left: Newton's gradient norm per iteration (dotted: the tolerance); middle: the
    gap against gradient calls of full-batch L-BFGS and tuned GD (dotted: the budget);
    right: per batch size, the ratio of minibatch L-BFGS's gap to tuned SGD's at the
    budget, per seed and its median with a 95% interval, each size's outcome under it."""
    verdict = second.criterion(evidence)
    tables = second.second_order_tables(evidence)
    pairs, limit = tables["pairs"], tables["limit"]
    n = dict(verdict.numbers)
    titles = [_newton_title(n),
              ["full batch: gap L-BFGS / tuned GD", _interval(n, "full_ratio")],
              [f"minibatch: gap L-BFGS / tuned SGD at {limit} gradient calls",
               "median [95% interval] per batch size"]]
    gd = _mode(pairs, "gd_lr")
    legend_height = legend_size(["x"] * 3, 1, size=TEXT_PT)[1]
    with theme():
        fig, (ax_newton, ax_full, ax_mini) = _panels(
            titles, panel=(3.4, 3.0), wspace=0.8, bottom=_BELOW_AXES + legend_height + 0.3)
        trace = evidence.trace
        _newton_panel(ax_newton, trace)
        _gap_panel(ax_full, trace, [("lbfgs/full", "L-BFGS (scipy)"),
                                    (f"gd/full/{gd:g}", f"GD lr={gd:g} (tuned)")], limit)
        _batch_ratio_panel(ax_mini, tables["minibatch"], n, dict(verdict.by_setting))
        suptitle(fig, _title(9, "Newton converges in few iterations without a learning rate; L-BFGS works "
                             "in full batch, poorly with minibatches (per batch size)", verdict))
    return fig


#: The figure of each claim of :mod:`optbench.claims.adaptive`, by key.
FIGURES = {
    bias.CLAIM.key: bias_correction_figure,
    default.CLAIM.key: default_figure,
    decay.CLAIM.key: step_decay_figure,
    second.CLAIM.key: second_order_figure,
}
