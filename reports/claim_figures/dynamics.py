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

from optbench.claims import Evidence
from optbench.claims.dynamics import (adagrad_stalls, momentum_averages_noise, momentum_escapes_saddle,
                                      momentum_ill_conditioned, nesterov_vs_momentum)
from optbench.claims.dynamics.paired_statistics import fmt, paired
from optbench.claims.dynamics.run_tables import by_seed

from .. import style

__all__ = [
    "FIGURES", "adagrad_figure", "escape_figure", "ill_conditioned_figure", "nesterov_figure",
    "noise_figure",
]

#: The two methods of claims 1-3, in the palette's (sorted) order.
METHODS = ("momentum", "sgd")


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


# --------------------------------------------------------------------------- claim 2


def _paths_panel(ax: Any, evidence: Evidence, lrs: list[float], palette: style.Palette) -> None:
    """The paths of both methods from the first seed, at the largest lr, escapes marked."""
    claim = momentum_escapes_saddle
    trace = evidence.trace
    seed = int(trace["seed"].min())
    lr = claim.LRS[-1] if lrs and claim.LRS[-1] in lrs else (lrs[0] if lrs else claim.LRS[0])
    for m in METHODS:
        rows = trace[(trace["arm"] == f"lr={lr:g}/{m}") & (trace["seed"] == seed)].sort_values("step")
        if len(rows):
            ax.plot(rows["x_0"], rows["x_1"], linewidth=1.2, **palette.line_kw(m))
            t = claim.escape_step(rows, "")
            if math.isfinite(t):
                hit = rows[rows["step"] == t]
                ax.plot(hit["x_0"], hit["x_1"], marker="x", color=palette.color(m))
    ax.axhspan(-claim.ESCAPE, claim.ESCAPE, color="0.9", zorder=0)
    ax.plot([0], [0], marker="*", color="k", markersize=8)
    ax.set_xlabel("x (positive curvature)")
    ax.set_ylabel("y (negative curvature)")
    ax.set_title(f"seed {seed}, lr={lr:g}: paths, escape marked x", loc="left")


def _escape_panel(ax: Any, table: pd.DataFrame, numbers: dict[str, float], lrs: list[float],
                  palette: style.Palette) -> None:
    """Each seed's escape time per method and lr, and the median ratios."""
    claim = momentum_escapes_saddle
    for i, m in enumerate(("sgd", "momentum")):
        for j, lr in enumerate(lrs):
            v = by_seed(table, f"lr={lr:g}/{m}").dropna().to_numpy()
            xs = np.full(v.size, j + (i - 0.5) * 0.3)
            ax.scatter(xs, v, s=14, color=palette.color(m))
    ax.set_xticks(range(len(lrs)), [f"lr={lr:g}" for lr in lrs])
    ax.set_yscale("log")
    ax.set_ylabel(f"steps until |y| >= {claim.ESCAPE:g}")
    ax.set_title("escape time per seed", loc="left")
    style.note(ax, "\n".join(f"GD/momentum lr={lr:g}: {fmt(numbers[f'ratio_lr{lr:g}'])}" for lr in lrs),
               loc="lower left")


def escape_figure(evidence: Evidence) -> Figure:
    """Claim 2: one seed's paths from the saddle (left), every seed's escape time and the
    median ratios GD / momentum (right)."""
    table, numbers, lrs = momentum_escapes_saddle.escape_times(evidence)
    palette = style.Palette(["sgd", "momentum"])
    texts = {"sgd": "GD", "momentum": "momentum"}
    with style.theme():
        fig, (ax, ax2) = style.facets(2, 2, suptitle=True, panel=(4.2, 3.2), legend=list(texts.values()),
                                      max_width=style.PAGE_WIDTH_IN)
        if not evidence.trace.empty and "x_1" in evidence.trace:
            _paths_panel(ax, evidence, lrs, palette)
        _escape_panel(ax2, table, numbers, lrs, palette)
        _method_legend(fig, palette, texts)
        style.suptitle(fig, _title(2, "escaping a saddle, GD vs momentum"))
    return fig


# --------------------------------------------------------------------------- claim 3


def _noise_panel(ax: Any, evidence: Evidence, x: float, numbers: dict[str, float],
                 palette: style.Palette) -> None:
    """The median subopt curves of both methods at effective step ``x``, and the ratio."""
    trace = evidence.trace
    for m in METHODS:
        rows = trace[trace["arm"] == f"lrL={x:g}/{m}"] if not trace.empty else trace
        if len(rows):
            curve = rows.groupby("step")["subopt"].median()
            smooth = curve.rolling(25, min_periods=1).mean()
            ax.plot(smooth.index, smooth.to_numpy(), linewidth=1.0, **palette.line_kw(m))
    if len(ax.lines):
        style.log_scale(ax, "y")
    ax.set_xlabel("step")
    ax.set_ylabel("subopt, median over seeds")
    ax.set_title(f"effective step lr*L = {x:g} (25-step mean)", loc="left")
    if f"ratio_lrL{x:g}" in numbers:
        style.note(ax, f"momentum/SGD late subopt {fmt(numbers[f'ratio_lrL{x:g}'])}\n"
                       f"95% CI [{fmt(numbers[f'ratio_lrL{x:g}_low'])}, "
                       f"{fmt(numbers[f'ratio_lrL{x:g}_high'])}]\n"
                       f"theory {fmt(numbers[f'theory_lrL{x:g}'])}")


def noise_figure(evidence: Evidence) -> Figure:
    """Claim 3: SGD's and momentum's median subopt at each effective step, with the
    measured and theoretical ratios of their late subopt."""
    _, numbers, lrls = momentum_averages_noise.late_subopt(evidence)
    palette = style.Palette(["sgd", "momentum"])
    shown = lrls or list(momentum_averages_noise.STEPS_LR)
    texts = {"sgd": "SGD", "momentum": "momentum"}
    with style.theme():
        fig, axes = style.facets(len(shown), len(shown), suptitle=True, panel=(4.2, 3.0),
                                 legend=list(texts.values()), max_width=style.PAGE_WIDTH_IN)
        for ax, x in zip(axes, shown):
            _noise_panel(ax, evidence, x, numbers, palette)
        _method_legend(fig, palette, texts)
        style.suptitle(fig, _title(3, "noise around the optimum at equal effective step"))
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


def _adagrad_curves(ax: Any, ax2: Any, rows: pd.DataFrame, name: str, palette: style.Palette) -> None:
    """One method's median subopt (``ax``) and median step length (``ax2``) over seeds."""
    curve = rows.groupby("step")["subopt"].median().clip(lower=1e-16)
    ax.plot(curve.index, curve.to_numpy(), **palette.line_kw(name))
    # Step length per step between records, from the 2-D iterate.
    lengths = []
    for _, run in rows.groupby("seed"):
        dx = np.hypot(np.diff(run["x_0"].to_numpy()), np.diff(run["x_1"].to_numpy()))
        steps = run["step"].to_numpy()
        lengths.append(pd.Series(dx / np.diff(steps), index=steps[1:]))
    if lengths:
        med = pd.concat(lengths, axis=1).median(axis=1).clip(lower=1e-16)
        ax2.plot(med.index, med.to_numpy(), **palette.line_kw(name))


def _tuned_rows(evidence: Evidence, stats: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """``{method: trace rows}`` of the two compared evaluation arms (those with rows)."""
    trace = evidence.trace
    drawn = {}
    for name, arm in zip(("adagrad", "rmsprop"), stats.get("arms", ())):
        rows = trace[trace["arm"] == arm].sort_values(["seed", "step"])
        if not rows.empty:
            drawn[name] = rows
    return drawn


def _adagrad_axes(ax: Any, ax2: Any) -> None:
    """Scales, labels and titles of the two panels."""
    for a in (ax, ax2):
        if len(a.lines):
            a.set_xscale("log")
            style.log_scale(a, "y")
        a.set_xlabel("step")
    ax.set_ylabel("subopt")
    ax.set_title("suboptimality (median over seeds)", loc="left")
    ax2.set_ylabel("mean |x_(t+k) - x_t| / k")
    ax2.set_title("step length (median over seeds)", loc="left")


def adagrad_figure(evidence: Evidence) -> Figure:
    """Claim 5: AdaGrad's and RMSProp's median subopt (left) and step length (right) over
    the long run, each at its tuned lr."""
    stats = adagrad_stalls.tuned_runs(evidence)
    numbers = stats["numbers"]
    palette = style.Palette(["adagrad", "rmsprop"])
    drawn = _tuned_rows(evidence, stats)
    texts = {name: f"{name}, lr={stats['chosen'][name]:g}" for name in drawn}
    with style.theme():
        fig, (ax, ax2) = style.facets(2, 2, suptitle=True, panel=(4.2, 3.2), legend=list(texts.values()),
                                      max_width=style.PAGE_WIDTH_IN)
        for name, rows in drawn.items():
            _adagrad_curves(ax, ax2, rows, name, palette)
        _adagrad_axes(ax, ax2)
        if "final_ratio" in numbers:
            style.note(ax, f"final AdaGrad/RMSProp {fmt(numbers['final_ratio'])}\n"
                           f"last-half decades: AdaGrad {fmt(numbers['progress_adagrad'])}, "
                           f"RMSProp {fmt(numbers['progress_rmsprop'])}", loc="lower left")
        _method_legend(fig, palette, texts)
        style.suptitle(fig, _title(5, "AdaGrad vs RMSProp on a long Rosenbrock run"))
    return fig


#: The figure of each claim of the family, by key.
FIGURES: dict[str, Callable[[Evidence], Figure | None]] = {
    momentum_ill_conditioned.CLAIM.key: ill_conditioned_figure,
    momentum_escapes_saddle.CLAIM.key: escape_figure,
    momentum_averages_noise.CLAIM.key: noise_figure,
    nesterov_vs_momentum.CLAIM.key: nesterov_figure,
    adagrad_stalls.CLAIM.key: adagrad_figure,
}
