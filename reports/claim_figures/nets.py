"""The figures of claims 10-14 (:mod:`optbench.claims.nets`), drawn from their evidence.

Each figure recomputes its claim's verdict with the claim's own criterion and draws
the statistics that decide it, imported from the claim's module:

- weight initialisation, over the depth: the deepest layer's spread and the share of
  saturated units at x0, and the median training loss of each scheme, the shallow
  depths (not in the verdict) shaded;
- input normalisation: the median final value against the learning rate, raw and
  standardized, with the rates selected on the tuning seeds;
- batch normalisation, over the depth: the trainable width with and without batch
  norm with its interval, and at each depth the median final loss against the
  learning rate, the trainable threshold, and the rates where runs diverged;
- ensembles: the paired accuracy gain of each method per replicate, and its mean
  with its interval;
- random vs grid search: the final suboptimality of every trial against lr and
  against beta2, and the paired ratio best(random)/best(grid) per budget.

The statistics a panel states go in its title, and the legend goes right of the
panels or below them (:func:`reports.style.facets`), so that no text covers a curve;
every text reads at :data:`~reports.style.MIN_FONT_PT` or more in a figure no wider
than :data:`~reports.style.PAGE_WIDTH_IN`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from optbench.claims import Evidence, Verdict, map_text
from optbench.claims.nets import batchnorm_lr_range as bn
from optbench.claims.nets import ensembles as ens
from optbench.claims.nets import input_normalization as norm
from optbench.claims.nets import random_vs_grid_search as search
from optbench.claims.nets import weight_initialization as init
from optbench.claims.nets.paired_statistics import fmt, interval
from optbench.claims.nets.run_tables import DEEP_HIDDEN_LAYERS, depth_name, final_values

from ..style import (
    PAGE_WIDTH_IN,
    PALETTE_NAME,
    TITLE_LINE_IN,
    facet_layout,
    facets,
    figure_legend,
    fitting_chars,
    log_axis_ok,
    log_scale,
    suptitle,
    theme,
    wrap,
)

__all__ = ["FIGURES", "bn_figure", "ens_figure", "init_figure", "norm_figure", "search_figure"]

#: Inches of one panel (width at most: panels narrow to fit the page).
PANEL = (4.6, 3.2)


def _colors(n: int) -> list:
    return list(sns.color_palette(PALETTE_NAME, max(n, 1)))


def _title(claim_number: int, text: str, verdict: Verdict) -> str:
    return f"Claim {claim_number}: {text}\nverdict: {verdict.outcome}"


def _wrapped(lines: Sequence[str], width: float) -> str:
    """The lines of a panel title, each wrapped to ``width`` inches."""
    return "\n".join(wrap(line, fitting_chars(width)) for line in lines)


def _panels(titles: Sequence[Sequence[str]], legend: Sequence[str],
            panel: tuple[float, float] = PANEL, **sizes: Any) -> tuple[Figure, list, list[str]]:
    """A figure of one panel per title (a title is its lines), a two-line suptitle and
    room for the legend of ``legend``; and the titles wrapped to a panel's width.
    ``sizes``: further :func:`~reports.style.facet_layout` sizes (margins...)."""
    sizes = {"panel": panel, "suptitle": 2, "wspace": 0.9, "hspace": 1.0, "legend": list(legend),
             "max_width": PAGE_WIDTH_IN, **sizes}
    width = facet_layout(len(titles), len(titles), **sizes).panel[0]
    wrapped = [_wrapped(lines, width) for lines in titles]
    lines = max([2, *(text.count("\n") + 1 for text in wrapped)])
    fig, axes = facets(len(titles), len(titles), title_lines=lines, **sizes)
    return fig, axes, wrapped


def _legend(fig: Figure, handles: list, texts: Sequence[str]) -> None:
    figure_legend(fig, handles, list(texts))


def _log(ax: Any, axis: str, values: Any) -> None:
    """A log scale on ``axis`` when its finite values are positive."""
    if log_axis_ok(values):
        log_scale(ax, axis)


# ------------------------------------------------------- claim 10: initialisation

#: The shading of the depths shown but not in the verdict (claims 10 and 12).
SHALLOW = "0.92"


def _grid_panels(titles: Sequence[Sequence[str]], legend: Sequence[str], ncols: int,
                 panel: tuple[float, float] = PANEL) -> tuple[Figure, list, list[str]]:
    """As :func:`_panels`, on a grid of ``ncols`` columns."""
    sizes: dict[str, Any] = {"panel": panel, "suptitle": 2, "wspace": 0.9, "hspace": 1.0,
                             "legend": list(legend), "max_width": PAGE_WIDTH_IN}
    width = facet_layout(len(titles), ncols, **sizes).panel[0]
    wrapped = [_wrapped(lines, width) for lines in titles]
    lines = max([2, *(text.count("\n") + 1 for text in wrapped)])
    fig, axes = facets(len(titles), ncols, title_lines=lines, **sizes)
    return fig, axes, wrapped


def _depth_axis(ax: Any, depths: Sequence[int]) -> None:
    """The depths as categories on the x axis; those below
    :data:`~optbench.claims.nets.run_tables.DEEP_HIDDEN_LAYERS` shaded."""
    ax.set_xticks(range(len(depths)))
    ax.set_xticklabels([str(d) for d in depths])
    ax.set_xlim(-0.5, len(depths) - 0.5)
    shallow = [i for i, d in enumerate(depths) if d < DEEP_HIDDEN_LAYERS]
    if shallow:
        ax.axvspan(-0.5, max(shallow) + 0.5, color=SHALLOW, zorder=0, lw=0)
    ax.set_xlabel("hidden layers")


def _shallow_text() -> str:
    return f"fewer than {DEEP_HIDDEN_LAYERS} hidden layers: shown, not in the verdict"


def _depth_title(claim_number: int, text: str, verdict: Verdict, depths: Sequence[int]) -> str:
    """The suptitle of a claim decided over the deep depths: the verdict, which depths
    enter it, and its map over the depths (by number of hidden layers)."""
    by_depth = {str(d): verdict.by_setting[depth_name(d)] for d in depths
                if depth_name(d) in verdict.by_setting}
    return (f"Claim {claim_number}: {text}\nverdict: {verdict.outcome} (nets of >= "
            f"{DEEP_HIDDEN_LAYERS} hidden layers); by depth: {map_text(by_depth) or '-'}")


def _finite(values: Sequence[float]) -> list[float]:
    return [v if math.isfinite(v) else math.nan for v in values]


def init_figure(evidence: Evidence) -> Figure:
    """Over the depth, per scheme: the deepest layer's std and the share of saturated
    units at x0 (medians over seeds), and the median final training loss."""
    verdict = init.init_criterion(evidence)
    palette = _colors(6)
    colors = {"small": palette[0], "large": palette[1], "xavier": palette[2], "he": palette[4]}
    n = verdict.numbers
    depths = init.INIT_DEPTHS
    worst = [max(n.get(f"depth{d}_ratio_{g}_{b}_high", math.nan) for g in init.INIT_GOOD
                 for b in init.INIT_BAD) for d in depths]
    steps = int(n.get("steps", 0))
    titles = [["deepest layer's std at x0", f"(dotted: vanishing, std {init.VANISH_STD:g})"],
              ["saturated tanh units at x0", f"(mean share over layers; dotted: {init.SATURATE_FRAC:g})"],
              [f"training loss, SGD lr={init.INIT_LR:g}, {steps} steps",
               "ratio good/bad, largest upper bound:",
               ", ".join(f"{d}: {fmt(w)}" for d, w in zip(depths, worst))]]
    legend = [*(f"{s} init" for s in init.INIT_SCHEMES), _shallow_text()]
    panels = (("last_std", "std of the deepest layer", init.VANISH_STD),
              ("saturated", "share |h| > 0.99", init.SATURATE_FRAC),
              ("final_loss", "training loss (median over seeds)", None))
    with theme():
        fig, axes, wrapped = _panels(titles, legend, panel=(3.4, 3.0))
        for ax, (name, ylabel, line), title in zip(axes, panels, wrapped):
            shown: list[float] = [] if line is None else [line]
            for scheme in init.INIT_SCHEMES:
                values = _finite([n.get(f"depth{d}_{name}_{scheme}", math.nan) for d in depths])
                ax.plot(range(len(depths)), values, marker="o", color=colors[scheme])
                shown += values
            if line is not None:
                ax.axhline(line, color="0.4", ls=":", lw=1)
            if name != "saturated":
                _log(ax, "y", shown)
            _depth_axis(ax, depths)
            ax.set_ylabel(ylabel)
            ax.set_title(title, loc="left")
        handles = [*(Line2D([], [], color=colors[s], marker="o") for s in init.INIT_SCHEMES),
                   Patch(color=SHALLOW)]
        _legend(fig, handles, legend)
        suptitle(fig, _depth_title(10, "weight initialisation over the depth", verdict, depths))
    return fig


# ------------------------------------------------- claim 11: input normalisation


def _norm_title(family: str, n: dict[str, float]) -> list[str]:
    lines = ["logistic, breast_cancer" if family == "logistic" else "mlp, digits",
             f"ratio standardized/raw {fmt(n.get(f'{family}_ratio', math.nan))} "
             + interval(n.get(f"{family}_ratio_low", math.nan), n.get(f"{family}_ratio_high", math.nan))]
    if family == "logistic":
        lines.append(f"Hessian kappa {fmt(n.get('kappa_raw', math.nan))} -> "
                     f"{fmt(n.get('kappa_standardized', math.nan))}")
    return lines


def norm_figure(evidence: Evidence) -> Figure:
    """Median final value against lr (evaluation seeds), raw and standardized, per family."""
    verdict = norm.norm_criterion(evidence)
    values = norm.norm_values(evidence)
    values = values[values["seed"].isin(list(evidence.budget.seeds))]
    colors = dict(zip(("raw", "standardized"), _colors(2)))
    n = dict(verdict.numbers)
    titles = [_norm_title(family, n) for family in norm.NORM_FAMILIES]
    legend = ["raw", "standardized", "selected lr (on the tuning seeds)"]
    with theme():
        fig, axes, wrapped = _panels(titles, legend)
        for ax, family, ylabel, title in zip(axes, norm.NORM_FAMILIES,
                                             ("final subopt / initial subopt", "final training loss"),
                                             wrapped):
            shown_values: list[float] = []
            for condition in ("raw", "standardized"):
                rows = values[(values["family"] == family) & (values["condition"] == condition)]
                if rows.empty:
                    continue
                med = rows.groupby("lr")["value"].median()
                shown = med.where(np.isfinite(med), np.nan)
                ax.plot(shown.index, shown.to_numpy(), marker="o", color=colors[condition])
                shown_values += list(shown.to_numpy(dtype=float))
                lr = n.get(f"{family}_lr_{condition}", math.nan)
                if math.isfinite(lr):
                    ax.axvline(lr, color=colors[condition], ls=":", lw=1.2)
            _log(ax, "x", norm.NORM_LRS[family])
            _log(ax, "y", shown_values)
            ax.set_xlabel("SGD learning rate")
            ax.set_ylabel(ylabel)
            ax.set_title(title, loc="left")
        handles = [Line2D([], [], color=colors["raw"], marker="o"),
                   Line2D([], [], color=colors["standardized"], marker="o"),
                   Line2D([], [], color="0.3", ls=":", lw=1.2)]
        _legend(fig, handles, legend)
        suptitle(fig, _title(11, "normalising the inputs", verdict))
    return fig


# ---------------------------------------------------- claim 12: batch normalisation


def _bn_width_panel(ax: Any, n: dict[str, float], colors: dict) -> None:
    """The trainable width per depth, with and without batch norm, each with its
    bootstrap interval."""
    depths = bn.BN_DEPTHS
    for offset, kind in zip((-0.12, 0.12), bn.BN_KINDS):
        for i, d in enumerate(depths):
            mid, low, high = (n.get(f"depth{d}_width_{kind}{end}", math.nan)
                              for end in ("", "_low", "_high"))
            if all(math.isfinite(v) for v in (mid, low, high)):
                ax.errorbar([i + offset], [mid], yerr=[[mid - low], [high - mid]], fmt="o",
                            color=colors[kind], capsize=3)
    _depth_axis(ax, depths)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("trainable lr range (decades)")


def _bn_lr_panel(ax: Any, mats: dict[str, np.ndarray], lrs: Sequence[float], threshold: float,
                 colors: dict) -> None:
    """At one depth, the median final loss against lr of both nets; a cross at the top
    where half or more of a net's runs diverged."""
    shown_values: list[float] = [threshold]
    for kind, m in mats.items():
        med = bn.median_over_seeds(m)
        shown = np.where(np.isfinite(med), med, np.nan)
        ax.plot(lrs, shown, marker="o", color=colors[kind])
        shown_values += list(shown)
        top = 0.95 if kind == "plain" else 0.88
        for lr, d in zip(lrs, bn.diverged_share(m)):
            if d >= 0.5:
                ax.plot([lr], [top], marker="x", ms=7, mew=2, ls="none", color=colors[kind],
                        transform=ax.get_xaxis_transform(), clip_on=False)
    ax.axhline(threshold, color="0.4", ls=":", lw=1)
    _log(ax, "x", lrs)
    _log(ax, "y", shown_values)
    ax.set_xlabel("SGD learning rate")
    ax.set_ylabel("final training loss (median)")


def bn_figure(evidence: Evidence) -> Figure:
    """The trainable width per depth with and without batch norm (with intervals), and
    at each depth the median final loss against lr, the threshold drawn, and a cross at
    the top where half or more of a net's runs diverged."""
    verdict = bn.bn_criterion(evidence)
    lrs = bn.bn_lrs(evidence.budget)
    seeds = list(evidence.budget.seeds)
    mats = {d: bn.bn_matrix(evidence, lrs, seeds, d) for d in bn.BN_DEPTHS}
    colors = dict(zip(bn.BN_KINDS, _colors(2)))
    n = verdict.numbers
    threshold = n.get("threshold", bn.TRAINABLE_FRACTION * math.log(bn.BN_CLASSES))
    titles = [["trainable lr range, 95% interval", f"spiral, relu layers of {bn.BN_WIDTH} units"]]
    for d in bn.BN_DEPTHS:
        k = f"depth{d}_"
        titles.append([f"{depth_name(d)}: {verdict.by_setting.get(depth_name(d), '-')}",
                       f"width in decades: batch norm {fmt(n.get(f'{k}width_batchnorm', math.nan))}, "
                       f"plain {fmt(n.get(f'{k}width_plain', math.nan))}",
                       f"difference {fmt(n.get(f'{k}width_diff', math.nan))} "
                       + interval(n.get(f"{k}diff_low", math.nan), n.get(f"{k}diff_high", math.nan))])
    crossed = [kind for kind in bn.BN_KINDS
               if any((bn.diverged_share(m[kind]) >= 0.5).any() for m in mats.values())]
    legend = [*bn.BN_KINDS, f"trainable: loss <= {threshold:.3g}",
              *(f"{kind}: half or more diverged" for kind in crossed), _shallow_text()]
    with theme():
        fig, axes, wrapped = _grid_panels(titles, legend, ncols=2)
        _bn_width_panel(axes[0], n, colors)
        for ax, d in zip(axes[1:], bn.BN_DEPTHS):
            _bn_lr_panel(ax, mats[d], lrs, threshold, colors)
        for ax, title in zip(axes, wrapped):
            ax.set_title(title, loc="left")
        handles = [*(Line2D([], [], color=colors[k], marker="o") for k in bn.BN_KINDS),
                   Line2D([], [], color="0.4", ls=":", lw=1),
                   *(Line2D([], [], color=colors[k], marker="x", ms=7, mew=2, ls="none")
                     for k in crossed),
                   Patch(color=SHALLOW)]
        _legend(fig, handles, legend)
        suptitle(fig, _depth_title(12, "batch normalisation and the lr range over the depth",
                                   verdict, bn.BN_DEPTHS))
    return fig


# ----------------------------------------------------------- claim 13: ensembles


def ens_figure(evidence: Evidence) -> Figure:
    """Per method, the paired gains (one dot per replicate) and their mean with its interval."""
    verdict = ens.ens_criterion(evidence)
    table = evidence.tables.get("ensembles")
    colors = _colors(len(ens.ENS_METHODS))
    n = verdict.numbers
    legend = ["one replicate", "mean, 95% interval"]
    with theme():
        fig, (ax,), wrapped = _panels([["5-arm spiral, 1500 validation points, 1x64 relu, Adam"]],
                                   legend, panel=(5.2, 3.4),
                                   bottom=0.6 + 2 * TITLE_LINE_IN)  # tick labels of 3 lines
        if table is not None and not table.empty:
            gains = ens.ensemble_gains(table)
            for i, method in enumerate(ens.ENS_METHODS):
                v = 100 * gains[method].to_numpy(dtype=float)
                jitter = np.linspace(-0.12, 0.12, len(v)) if len(v) > 1 else np.zeros(len(v))
                ax.scatter(i + jitter, v, color=colors[i], s=14, alpha=0.7)
                mean = 100 * n.get(f"{method}_gain", math.nan)
                low, high = 100 * n.get(f"{method}_low", math.nan), 100 * n.get(f"{method}_high", math.nan)
                if math.isfinite(low) and math.isfinite(high):
                    ax.errorbar([i + 0.3], [mean], yerr=[[mean - low], [high - mean]], fmt="D",
                                color="0.2", capsize=3)
        ax.axhline(0.0, color="0.4", lw=1)
        ax.set_xticks(range(len(ens.ENS_METHODS)))
        ax.set_xticklabels([
            f"{name}\n({ens.gain_outcome(n.get(f'{m}_low', math.nan), n.get(f'{m}_high', math.nan))})"
            for m, name in zip(ens.ENS_METHODS, ("independent\nensemble", "snapshot\nensemble",
                                                 "Polyak\naverage"))])
        ax.set_ylabel("val accuracy gain over single (pp)")
        ax.set_title(wrapped[0], loc="left")
        handles = [Line2D([], [], marker="o", ls="none", color="0.5", alpha=0.7),
                   Line2D([], [], marker="D", color="0.2")]
        _legend(fig, handles, legend)
        suptitle(fig, _title(13, "ensembles and averaging", verdict))
    return fig


# ------------------------------------------------- claim 14: random vs grid search


def _trial_panel(ax: Any, finals: Any, name: str, colors: dict, label: str) -> None:
    """The final objective of every trial against one hyper-parameter; a diverged
    trial is a cross drawn above the others."""
    finite = finals.loc[np.isfinite(finals["value"]), "value"]
    top = 10 * float(finite.max()) if len(finite) else 1.0
    shown: list[float] = []
    for kind, color in colors.items():
        rows = finals[finals["arm"].str.startswith(kind)]
        ok = np.isfinite(rows["value"].astype(float))
        column = f"optimizer.{name}"
        ax.scatter(rows.loc[ok, column].astype(float), rows.loc[ok, "value"], s=8, alpha=0.35,
                   color=color)
        ax.scatter(rows.loc[~ok, column].astype(float), [top] * int((~ok).sum()), s=20, marker="x",
                   color=color)
        shown += list(rows["value"].where(ok, top).astype(float))
    if search.search_space()[name].kind == "log_uniform":
        _log(ax, "x", finals[f"optimizer.{name}"])
    _log(ax, "y", shown)
    ax.set_xlabel(label)
    ax.set_ylabel("final suboptimality")


def _ratio_panel(ax: Any, n: dict[str, float], color: Any) -> None:
    """The median paired ratio best(random)/best(grid) per budget, with its interval."""
    budgets = list(search.SEARCH_BUDGETS)
    for i, b in enumerate(budgets):
        mid, low, high = (n.get(f"ratio_{b}{end}", math.nan) for end in ("", "_low", "_high"))
        if math.isfinite(low) and math.isfinite(high) and mid > 0:
            ax.errorbar([i], [mid], yerr=[[mid - low], [high - mid]], fmt="D", color=color, capsize=3)
    ax.axhline(1.0, color="0.4", lw=1)
    ax.set_xticks(range(len(budgets)))
    ax.set_xticklabels([f"{b} trials" for b in budgets])
    ax.set_xlim(-0.6, len(budgets) - 0.4)
    _log(ax, "y", [v for b in budgets for v in (n.get(f"ratio_{b}_low", math.nan),
                                                 n.get(f"ratio_{b}_high", math.nan), 1.0)])
    ax.set_ylabel("best(random) / best(grid)")


def search_figure(evidence: Evidence) -> Figure:
    """The objective of every trial against lr and against beta2 (grid vs random), and
    the median paired ratio best(random)/best(grid) per budget with its interval."""
    verdict = search.search_criterion(evidence)
    finals = final_values(evidence, "subopt")
    colors = dict(zip(("grid", "random"), _colors(2)))
    n = verdict.numbers
    titles = [["all trials against lr",
               f"spread: {fmt(n.get('decades_over_lr', math.nan))} decades over lr"],
              ["all trials against beta2",
               f"spread: {fmt(n.get('decades_over_beta2', math.nan))} over beta2, "
               f"{fmt(n.get('decades_over_eps', math.nan))} over eps"],
              [f"{fmt(n.get('searches', math.nan))} paired searches",
               "median ratio, 95% interval"]]
    diverged = bool((~np.isfinite(finals["value"].astype(float))).any()) if not finals.empty else False
    legend = ["grid trials", "random trials", *(["diverged (on top)"] if diverged else []),
              "median ratio"]
    with theme():
        fig, axes, wrapped = _panels(titles, legend, panel=(3.2, 3.0))
        if not finals.empty:
            _trial_panel(axes[0], finals, "lr", colors, "Adam learning rate")
            _trial_panel(axes[1], finals, "beta2", colors, "Adam beta2")
        _ratio_panel(axes[2], n, "0.2")
        for ax, title in zip(axes, wrapped):
            ax.set_title(title, loc="left")
        handles = [Line2D([], [], marker="o", ls="none", color=colors["grid"], alpha=0.6),
                   Line2D([], [], marker="o", ls="none", color=colors["random"], alpha=0.6),
                   *([Line2D([], [], marker="x", ls="none", color="0.3")] if diverged else []),
                   Line2D([], [], marker="D", color="0.2")]
        _legend(fig, handles, legend)
        suptitle(fig, _title(14, "random search vs grid search at equal budget", verdict))
    return fig


#: The figure of each claim of the family, by claim key.
FIGURES: dict[str, Callable[[Evidence], Figure | None]] = {
    init.CLAIM.key: init_figure,
    norm.CLAIM.key: norm_figure,
    bn.CLAIM.key: bn_figure,
    ens.CLAIM.key: ens_figure,
    search.CLAIM.key: search_figure,
}
