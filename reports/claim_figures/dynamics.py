"""The figures of claims 1-5, the dynamics of SGD, momentum, Nesterov, AdaGrad and RMSProp.

Each figure draws the statistics its claim's criterion decides on, imported from the
claim's module in :mod:`optbench.claims.dynamics` (so the figure shows the numbers the
verdict used), and follows :mod:`reports.style`: texts of at least
:data:`~reports.style.MIN_FONT_PT`, a figure no wider than
:data:`~reports.style.PAGE_WIDTH_IN`, the legend where :func:`~reports.style.facets`
made room for it.  :data:`FIGURES` maps each claim key to its figure.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from optbench.claims import Evidence, map_text
from optbench.claims.dynamics import (adagrad_stalls, momentum_averages_noise, momentum_escapes_saddle,
                                      momentum_ill_conditioned, nesterov_vs_momentum)
from optbench.claims.dynamics.paired_statistics import fmt, paired, paired_difference
from optbench.claims.dynamics.run_tables import by_seed

from .. import style

__all__ = [
    "FIGURES", "adagrad_figure", "escape_figure", "ill_conditioned_figure", "nesterov_figure",
    "noise_figure",
]

def _title(claim_number: int, text: str) -> str:
    return f"Claim {claim_number}: {text}"


def _method_legend(fig: Figure, palette: style.Palette, texts: dict[str, str]) -> None:
    """The figure's legend: a line per method of ``texts`` (``{method: text}``)."""
    handles = [Line2D([], [], linewidth=1.8, **palette.line_kw(m)) for m in texts]
    style.figure_legend(fig, handles, list(texts.values()))


# --------------------------------------------------------------------------- claim 1


def _median_and_range(table: pd.DataFrame, kappas: list[float], method: str) -> tuple[list, ...]:
    """``(kappas, medians, minima, maxima)`` of one method's finite step counts."""
    ks, med, lo, hi = [], [], [], []
    for k in kappas:
        v = by_seed(table, f"kappa={k:g}/{method}").dropna().to_numpy()
        v = v[np.isfinite(v)]
        if v.size:
            ks.append(k)
            med.append(np.median(v))
            lo.append(v.min())
            hi.append(v.max())
    return ks, med, lo, hi


def _steps_panel(ax: Any, stats: dict[str, Any], palette: style.Palette) -> None:
    """Median steps to the target against kappa, with the range over seeds."""
    claim = momentum_ill_conditioned
    numbers = stats["numbers"]
    for m, label in (("sgd", "GD, lr = 2/(L+mu)"), ("momentum", "heavy ball, optimal lr, rho")):
        ks, med, lo, hi = _median_and_range(stats["table"], stats["kappas"], m)
        if ks:
            ax.plot(ks, med, marker="o", label=label, **palette.line_kw(m))
            ax.fill_between(ks, lo, hi, alpha=0.2, color=palette.color(m))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("condition number kappa")
    ax.set_ylabel(f"steps to subopt <= {claim.TARGET:g}")
    ax.set_title("median over seeds (band: range)", loc="left")
    if ax.lines:
        ax.legend(loc="upper left")
    style.note(ax, f"exponent GD {fmt(numbers.get('exponent_sgd', math.nan))}\n"
                   f"exponent momentum {fmt(numbers.get('exponent_momentum', math.nan))}",
               loc="lower right")


def _ratio_panel(ax: Any, stats: dict[str, Any]) -> None:
    """The paired ratio GD / momentum against kappa: median and 95% interval."""
    claim = momentum_ill_conditioned
    numbers, ks = stats["numbers"], stats["kappas"]
    if ks:
        med = [numbers[f"ratio_k{k:g}"] for k in ks]
        err_lo = [numbers[f"ratio_k{k:g}"] - numbers[f"ratio_k{k:g}_low"] for k in ks]
        err_hi = [numbers[f"ratio_k{k:g}_high"] - numbers[f"ratio_k{k:g}"] for k in ks]
        ax.errorbar(ks, med, yerr=[np.nan_to_num(err_lo), np.nan_to_num(err_hi)], marker="o",
                    color="0.2", capsize=3)
    ax.axhline(claim.FAR_FEWER, color="0.5", linestyle="--", linewidth=1)
    ax.axhline(1.0, color="0.7", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("condition number kappa")
    ax.set_ylabel("steps GD / steps momentum")
    ax.set_title("paired ratio: median, 95% CI", loc="left")
    style.note(ax, f"dashed: 'far fewer' = {claim.FAR_FEWER:g}\ndotted: 1", loc="upper left")


def ill_conditioned_figure(evidence: Evidence) -> Figure:
    """Claim 1: steps to the target of GD and the heavy ball against kappa (left), and
    their paired ratio with its interval (right)."""
    stats = momentum_ill_conditioned.steps_to_target(evidence)
    palette = style.Palette(["sgd", "momentum"])
    with style.theme():
        fig, (ax, ax2) = style.facets(2, 2, suptitle=True, panel=(4.2, 3.2), max_width=style.PAGE_WIDTH_IN)
        _steps_panel(ax, stats, palette)
        _ratio_panel(ax2, stats)
        style.suptitle(fig, _title(1, "momentum on ill-conditioned quadratics"))
    return fig


# --------------------------------------------------------------------------- claim 2 and 3

#: Colours of the two comparisons of claims 2 and 3.
COMPARISON_COLORS = {"equal lr": "#6a3d9a", "equal effective step": "#e31a1c"}


def _comparison(name: str) -> str:
    """The comparison of a setting name of claims 2 or 3."""
    return "equal lr" if name.startswith("equal lr") else "equal effective step"


def _interval_points(ax: Any, i: int, values: np.ndarray, med: float, low: float, high: float,
                     color: str) -> None:
    """At x = ``i``: each seed's value (grey) and the median with its interval."""
    finite = values[np.isfinite(values)]
    ax.scatter(np.full(finite.size, i), finite, s=10, color="0.6", zorder=2)
    if math.isfinite(med):
        ax.errorbar([i], [med], yerr=[[max(0.0, med - low)], [max(0.0, high - med)]], marker="o",
                    color=color, capsize=3, zorder=3)


def _interval_entries(extra: list[tuple[Any, str]]) -> list[tuple[Any, str]]:
    """Legend ``(handle, text)`` of :func:`_interval_points` per comparison, then ``extra``."""
    entries: list[tuple[Any, str]] = [
        (Line2D([], [], marker="o", color=c), f"median, 95% CI, {name}")
        for name, c in COMPARISON_COLORS.items()]
    entries.append((Line2D([], [], marker="o", linestyle="", markersize=4, color="0.6"), "one seed"))
    return entries + extra


def _paths_panel(ax: Any, evidence: Evidence, arms: dict[str, str], palette: style.Palette) -> None:
    """The first seed's paths from the saddle (``arms``: ``{label: arm}``), escapes marked."""
    claim = momentum_escapes_saddle
    trace = evidence.trace
    seed = int(trace["seed"].min())
    for label, arm in arms.items():
        rows = trace[(trace["arm"] == arm) & (trace["seed"] == seed)].sort_values("step")
        if len(rows):
            ax.plot(rows["x_0"], rows["x_1"], linewidth=1.2, **palette.line_kw(label))
            t = claim.escape_step(rows, "")
            if math.isfinite(t):
                hit = rows[rows["step"] == t]
                ax.plot(hit["x_0"], hit["x_1"], marker="x", color=palette.color(label))
    ax.axhspan(-claim.ESCAPE, claim.ESCAPE, color="0.9", zorder=0)
    ax.plot([0], [0], marker="*", color="k", markersize=8)
    ax.set_xlabel("x (positive curvature)")
    ax.set_ylabel("y (negative curvature)")
    ax.set_title(f"seed {seed}: paths, escape marked x", loc="left")


def _escape_ratio_panel(ax: Any, table: pd.DataFrame, numbers: dict[str, float],
                        settings: list[tuple[str, float, float]]) -> None:
    """Per setting: each seed's ratio GD / momentum, the median with its interval and the
    closed-form limit log g_mom / log g_GD."""
    for i, (name, gd, mom) in enumerate(settings):
        ratios = paired(table, f"lr={gd:g}/sgd", f"lr={mom:g}/momentum")
        _interval_points(ax, i, ratios, numbers[f"ratio[{name}]"], numbers[f"ratio[{name}]_low"],
                         numbers[f"ratio[{name}]_high"], COMPARISON_COLORS[_comparison(name)])
        ax.plot([i + 0.25], [numbers[f"theory[{name}]"]], marker="D", color="k", markerfacecolor="white")
    ax.axhline(1.0, color="0.5", linestyle=":", linewidth=1)
    if settings:
        style.log_scale(ax, "y")
    ax.set_xlim(-0.6, max(len(settings), 1) - 0.4)
    ax.set_xticks(range(len(settings)), [f"{_comparison(n).replace('effective ', '')}\nGD {g:g}\nmom. {m:g}"
                                         for n, g, m in settings])
    ax.set_ylabel("escape steps GD / momentum")
    ax.set_title("paired ratio per setting (lr of each)", loc="left")


def escape_figure(evidence: Evidence) -> Figure:
    """Claim 2: one seed's paths from the saddle at momentum's largest lr (left), and per
    setting (equal lr, equal effective step) the ratio of escape times GD / momentum with
    its closed-form limit (right)."""
    claim = momentum_escapes_saddle
    table, numbers, settings = claim.escape_times(evidence)
    lr = claim.LRS[-1]
    arms = {f"GD, lr {lr:g}": f"lr={lr:g}/sgd", f"GD, lr {claim.effective_lr(lr):g} = lr/(1-rho)":
            f"lr={claim.effective_lr(lr):g}/sgd", f"momentum, lr {lr:g}": f"lr={lr:g}/momentum"}
    palette = style.Palette(sorted(arms))
    entries = [(Line2D([], [], linewidth=1.8, **palette.line_kw(label)), label) for label in arms]
    entries = _interval_entries(entries + [
        (Line2D([], [], marker="D", linestyle="", color="k", markerfacecolor="white"),
         "closed form log g_mom / log g_GD")])
    with style.theme():
        fig, (ax, ax2) = style.facets(2, 2, suptitle=True, panel=(4.2, 3.2), bottom=0.95,
                                      legend=[t for _, t in entries], max_width=style.PAGE_WIDTH_IN)
        if not evidence.trace.empty and "x_1" in evidence.trace:
            _paths_panel(ax, evidence, arms, palette)
        _escape_ratio_panel(ax2, table, numbers, settings)
        style.figure_legend(fig, [h for h, _ in entries], [t for _, t in entries])
        style.suptitle(fig, _title(2, "escaping a saddle: GD vs momentum, equal lr and equal effective step"))
    return fig


def _late_paths_panel(ax: Any, evidence: Evidence, arms: dict[str, str], palette: style.Palette,
                      last: int = 40) -> None:
    """The first seed's last ``last`` iterates of each arm of ``arms`` (``{label: arm}``)."""
    trace = evidence.trace
    seed = int(trace["seed"].min())
    for label, arm in arms.items():
        rows = trace[(trace["arm"] == arm) & (trace["seed"] == seed)].sort_values("step").tail(last)
        if len(rows):
            ax.plot(rows["x_0"], rows["x_1"], linewidth=1.0, **palette.line_kw(label, linestyle=False))
    ax.set_xlabel("x_0")
    ax.set_ylabel("x_1")
    ax.set_title(f"seed {seed}: the last {last} iterates", loc="left")


def _cosine_panel(ax: Any, cos: pd.DataFrame, numbers: dict[str, float],
                  settings: list[tuple[str, float, float]]) -> None:
    """Per setting: each seed's difference of mean step cosines momentum - SGD, and the
    median with its interval, against the margin."""
    claim = momentum_averages_noise
    for i, (name, sgd, mom) in enumerate(settings):
        diffs = paired_difference(cos, f"lr={mom:g}/momentum", f"lr={sgd:g}/sgd")
        _interval_points(ax, i, diffs, numbers[f"diff[{name}]"], numbers[f"diff[{name}]_low"],
                         numbers[f"diff[{name}]_high"], COMPARISON_COLORS[_comparison(name)])
    ax.axhline(claim.MARGIN, color="0.3", linestyle="--", linewidth=1)
    ax.axhline(0.0, color="0.5", linestyle=":", linewidth=1)
    ax.set_ylim(min(-0.1, ax.get_ylim()[0]), max(1.2, ax.get_ylim()[1]))
    _setting_ticks(ax, settings)
    ax.set_ylabel("mean cos(d_t, d_(t-1)): mom. - SGD")
    ax.set_title("smoothness (verdict)", loc="left")


def _setting_ticks(ax: Any, settings: list[tuple[str, float, float]]) -> None:
    """Claim 3's settings as tick labels: the comparison and SGD's lr * L."""
    kappa = momentum_averages_noise.KAPPA
    ax.set_xlim(-0.6, max(len(settings), 1) - 0.4)
    ax.set_xticks(range(len(settings)), [f"{_comparison(n).replace('effective ', '')}\nlr*L {g * kappa:g}"
                                         for n, g, _ in settings])


def _floor_panel(ax: Any, numbers: dict[str, float], settings: list[tuple[str, float, float]]) -> None:
    """Per setting: the noise floor momentum / SGD (median, interval) and its closed form."""
    for i, (name, _, _) in enumerate(settings):
        _interval_points(ax, i, np.array([]), numbers[f"floor_ratio[{name}]"],
                         numbers[f"floor_ratio[{name}]_low"], numbers[f"floor_ratio[{name}]_high"],
                         COMPARISON_COLORS[_comparison(name)])
        ax.plot([i + 0.25], [numbers[f"floor_theory[{name}]"]], marker="D", color="k",
                markerfacecolor="white")
    ax.axhline(1.0, color="0.5", linestyle=":", linewidth=1)
    if settings:
        style.log_scale(ax, "y")
    _setting_ticks(ax, settings)
    ax.set_ylabel("late subopt momentum / SGD")
    ax.set_title("noise floor (reported)", loc="left")


def noise_figure(evidence: Evidence) -> Figure:
    """Claim 3: one seed's late paths of SGD and momentum at equal effective step, the
    largest lr * L (left), per setting the paired
    difference of mean step cosines (the verdict's statistic, middle) and the noise
    floor ratio with its closed form (right)."""
    claim = momentum_averages_noise
    cos, numbers, settings = claim.smoothness(evidence)
    lr = claim.STEPS_LR[-1] / claim.KAPPA
    slow = float(f"{lr * (1.0 - claim.RHO):.12g}")
    arms = {f"SGD, lr {lr:g}": f"lr={lr:g}/sgd",
            f"momentum, lr {slow:g} (same lr/(1-rho))": f"lr={slow:g}/momentum"}
    palette = style.Palette(sorted(arms))
    entries = [(Line2D([], [], linewidth=1.8, **palette.line_kw(t, linestyle=False)), t) for t in arms]
    entries = _interval_entries(entries + [
        (Line2D([], [], marker="D", linestyle="", color="k", markerfacecolor="white"), "closed form"),
        (Line2D([], [], color="0.3", linestyle="--", linewidth=1), f"margin {claim.MARGIN:g}")])
    with style.theme():
        fig, axes = style.facets(3, 3, suptitle=True, panel=(3.6, 3.0), bottom=0.8,
                                 legend=[t for _, t in entries], max_width=style.PAGE_WIDTH_IN)
        if not evidence.trace.empty and "x_1" in evidence.trace:
            _late_paths_panel(axes[0], evidence, arms, palette)
        _cosine_panel(axes[1], cos, numbers, settings)
        _floor_panel(axes[2], numbers, settings)
        style.figure_legend(fig, [h for h, _ in entries], [t for _, t in entries])
        style.suptitle(fig, _title(3, "smoothness of the path and noise floor with noisy gradients"))
    return fig


# --------------------------------------------------------------------------- claim 4


def _nesterov_entries(palette: style.Palette) -> list[tuple[Any, str]]:
    """The legend's ``(handle, text)``: each rho's median and interval, the seeds, the
    margin and 1."""
    claim = nesterov_vs_momentum
    entries: list[tuple[Any, str]] = [
        (Line2D([], [], marker="o", color=palette.color(f"rho={r:g}")), f"median, 95% CI, rho={r:g}")
        for r in claim.RHOS]
    return entries + [
        (Line2D([], [], marker="o", linestyle="", markersize=4, color="0.6"), "one seed"),
        (Line2D([], [], color="0.3", linestyle="--", linewidth=1), f"1 + margin {claim.MARGIN:g}"),
        (Line2D([], [], color="0.5", linestyle=":", linewidth=1), "equal steps (1)"),
    ]


def _nesterov_points(ax: Any, table: pd.DataFrame, numbers: dict[str, float],
                     settings: list[tuple[float, float]], palette: style.Palette) -> None:
    """Per setting, at x = its index: each seed's ratio, and the median with its interval."""
    claim = nesterov_vs_momentum
    for i, (k, r) in enumerate(settings):
        s = claim.setting_name(k, r)
        ratios = paired(table, f"{s}/nesterov", f"{s}/momentum")
        ax.scatter(np.full(ratios.size, i), ratios, s=10, color="0.6", zorder=2)
        med, low, high = numbers[f"ratio[{s}]"], numbers[f"ratio[{s}]_low"], numbers[f"ratio[{s}]_high"]
        ax.errorbar([i], [med], yerr=[[max(0.0, med - low)], [max(0.0, high - med)]], marker="o",
                    color=palette.color(f"rho={r:g}"), capsize=3, zorder=3)


def nesterov_figure(evidence: Evidence) -> Figure:
    """Claim 4: per setting the seeds' ratios Nesterov / momentum and their median with
    its interval, against the margin of "at least as fast"."""
    claim = nesterov_vs_momentum
    table, numbers, settings = claim.nesterov_ratios(evidence)
    palette = style.Palette([f"rho={r:g}" for r in claim.RHOS])
    entries = _nesterov_entries(palette)
    with style.theme():
        fig, (ax,) = style.facets(1, 1, suptitle=True, panel=(6.0, 3.2), bottom=0.75,
                                  legend=[t for _, t in entries], max_width=style.PAGE_WIDTH_IN)
        _nesterov_points(ax, table, numbers, settings, palette)
        ax.axhline(1.0, color="0.5", linestyle=":", linewidth=1)
        ax.axhline(1.0 + claim.MARGIN, color="0.3", linestyle="--", linewidth=1)
        shown = [numbers[f"ratio[{claim.setting_name(k, r)}]_high"] for k, r in settings]
        shown = [v for v in shown if math.isfinite(v)]
        ax.set_ylim(0.0, 1.25 * max([1.0 + claim.MARGIN, *shown]))
        names = [claim.setting_name(k, r) for k, r in settings]
        ax.set_xticks(range(len(settings)), [name.replace(",", "\n") for name in names])
        ax.set_ylabel("steps Nesterov / steps momentum")
        style.figure_legend(fig, [h for h, _ in entries], [t for _, t in entries])
        style.suptitle(fig, _title(4, "Nesterov vs momentum, same lr and rho"))
    return fig


# --------------------------------------------------------------------------- claim 5


def _adagrad_curves(ax: Any, evidence: Evidence, numbers: dict[str, float],
                    palette: style.Palette) -> list[str]:
    """Each method's median training loss over the evaluation seeds at its rate tuned for
    the longest budget (dotted: the budgets); returns the legend texts."""
    end = max(adagrad_stalls.BUDGETS)
    texts = []
    for name in ("adagrad", "rmsprop"):
        lr = numbers.get(f"lr_{name}_{end}", math.nan)
        texts.append(f"{name}, lr={lr:g} (tuned for {end} steps)")
        trace = evidence.trace
        rows = trace[trace["arm"] == f"eval/{name}/lr={lr:g}"] if len(trace) else trace
        if len(rows):
            curve = rows.groupby("step")["loss"].median()
            curve = curve[curve.index > 0].clip(lower=1e-300)
            ax.plot(curve.index, curve.to_numpy(), **palette.line_kw(name))
    for steps in adagrad_stalls.BUDGETS:
        ax.axvline(steps, color="0.6", linestyle=":", linewidth=1)
    if ax.lines:
        ax.set_xscale("log")
        style.log_scale(ax, "y")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("median training loss (dotted: the budgets)", loc="left")
    return texts


def _adagrad_ratios(ax: Any, numbers: dict[str, float]) -> None:
    """The paired ratio AdaGrad / RMSProp at each budget: median and 95% interval."""
    xs, med, err_low, err_high = [], [], [], []
    for steps in adagrad_stalls.BUDGETS:
        m, lo, hi = (numbers.get(f"ratio_{steps}{k}", math.nan) for k in ("", "_low", "_high"))
        if np.isfinite([m, lo, hi]).all() and min(m, lo, hi) > 0:
            xs.append(steps)
            med.append(m)
            err_low.append(m - lo)
            err_high.append(hi - m)
    if xs:
        ax.errorbar(xs, med, yerr=[err_low, err_high], fmt="o-", color="0.2", capsize=4)
        ax.set_xscale("log")
        style.log_scale(ax, "y")
    ax.axhline(1.0, color="0.5", linestyle="--", linewidth=1)
    ax.set_xlabel("budget (steps)")
    ax.set_ylabel("loss AdaGrad / RMSProp")
    ax.set_title("paired ratio at each budget (tuned rates)", loc="left")


def adagrad_figure(evidence: Evidence) -> Figure:
    """Claim 5: left, each method's median training loss against the step; right, the
    paired ratio AdaGrad / RMSProp at each budget with its interval and the verdict's map."""
    verdict = adagrad_stalls.criterion(evidence)
    numbers = dict(verdict.numbers)
    palette = style.Palette(["adagrad", "rmsprop"])
    end = max(adagrad_stalls.BUDGETS)
    legend = [f"{name}, lr=0.0003 (tuned for {end} steps)" for name in ("adagrad", "rmsprop")]
    with style.theme():
        fig, (ax, ax2) = style.facets(2, 2, suptitle=True, panel=(4.6, 3.4), legend=legend,
                                      max_width=style.PAGE_WIDTH_IN)
        texts = _adagrad_curves(ax, evidence, numbers, palette)
        _adagrad_ratios(ax2, numbers)
        if verdict.by_setting:
            style.note(ax2, style.wrap(map_text(verdict.by_setting), 40), loc="upper left")
        _method_legend(fig, palette, dict(zip(("adagrad", "rmsprop"), texts)))
        style.suptitle(fig, _title(5, f"AdaGrad vs RMSProp on a net that fits its data: "
                                      f"{fmt(numbers.get(f'ratio_{end}', math.nan))} at {end} steps"))
    return fig


#: The figure of each claim of the family, by key.
FIGURES: dict[str, Callable[[Evidence], Figure | None]] = {
    momentum_ill_conditioned.CLAIM.key: ill_conditioned_figure,
    momentum_escapes_saddle.CLAIM.key: escape_figure,
    momentum_averages_noise.CLAIM.key: noise_figure,
    nesterov_vs_momentum.CLAIM.key: nesterov_figure,
    adagrad_stalls.CLAIM.key: adagrad_figure,
}
