"""Convergence curves: suboptimality (or loss) over steps, oracle cost and seconds.

The curves are :func:`optbench.statistics.curve_stats`: per (problem, optimizer)
the median over seeds of each run's trace resampled on a common grid, with the
interquartile range as a band.  A diverged run counts as ``+inf`` from the point
it diverged, so a median that leaves the panel means that most seeds diverged.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, MaxNLocator

from optbench import statistics

from .selection import best_labels
from .style import (
    PAGE_WIDTH_IN,
    Palette,
    data_palette,
    facet_layout,
    facets,
    log_axis_ok,
    log_scale,
    natural_sorted,
    note,
    optimizer_legend,
    theme,
    wrap,
    wrap_titles,
)

#: Suboptimalities below this are drawn at it (the loss itself is only known to
#: about this relative precision, and a log axis cannot show 0).
SUBOPT_FLOOR = 1e-16

#: Abscissae drawn on a log axis: their ranges differ by orders of magnitude between
#: methods (a Newton step costs a Hessian, an L-BFGS run ends in milliseconds).
LOG_X = ("cost", "n_grad", "time")

#: Optimizer configurations per figure at most: beyond it, the best are drawn
#: (:func:`reports.selection.best_labels`) and each panel says how many of how many.
#: Above the 15 of the built-in quick suite, so its figures show every configuration.
MAX_CURVES = 16

#: Diverged configurations a panel's note names at most (the others are counted).
MAX_NOTES = 4

#: Inches of a panel (width at most: the panels narrow to fit the page, and height).
PANEL = (3.6, 2.6)

#: Axis labels of the abscissae.
X_LABELS = {
    "step": "steps",
    "cost": "cost (gradient-equivalents)",
    "n_grad": "gradient evaluations",
    "time": "seconds of the method's own work",
}


def y_column(data: pd.DataFrame) -> str:
    """``"subopt"`` if the problem's optimum is known (some subopt recorded), else ``"loss"``."""
    return "subopt" if "subopt" in data and data["subopt"].notna().any() else "loss"


def _x_column(data: pd.DataFrame, x: str) -> str:
    if x == "cost" and ("cost" not in data or not data["cost"].notna().any()):
        return "n_grad"
    return x


def _panel(ax, stats: pd.DataFrame, y: str, palette: Palette, log_x: bool) -> list[str]:
    """Draw the median curves and bands of one problem; returns its diverged notes."""
    curves = []
    if log_x:  # the grid's point 0 has no place on a log axis
        stats = stats[stats["x"] > 0]
    for label, curve in stats.groupby("optimizer_label", sort=True):
        median = curve["median"].to_numpy(dtype=float)
        q25 = curve["q25"].to_numpy(dtype=float)
        q75 = curve["q75"].to_numpy(dtype=float)
        if y == "subopt":
            median, q25, q75 = (np.where(np.isfinite(v), np.maximum(v, SUBOPT_FLOOR), v)
                                for v in (median, q25, q75))
        curves.append((label, curve, median, q25, q75))
    finite = np.concatenate([np.concatenate([c[2], c[3], c[4]]) for c in curves]) if curves else np.array([])
    finite = finite[np.isfinite(finite)]
    log = log_axis_ok(finite)
    if finite.size:
        top = finite.max() * (3.0 if log else 1.0) + (0.0 if log else 0.05 * (np.ptp(finite) or 1.0))
    else:
        top = 1.0
    notes = []
    for label, curve, median, q25, q75 in curves:
        x = curve["x"].to_numpy(dtype=float)
        kw = palette.line_kw(label, len(x))
        shown = np.where(np.isfinite(median), median, np.nan)
        ax.plot(x, shown, linewidth=1.6, label=label, **kw)
        band_hi = np.where(np.isposinf(q75), top, q75)
        band_lo = np.where(np.isposinf(q25), top, q25)
        ok = np.isfinite(band_lo) & np.isfinite(band_hi)
        if ok.any():
            ax.fill_between(x, band_lo, band_hi, where=ok, color=kw["color"], alpha=0.18,
                            linewidth=0, label="_band")
        n_div = curve["n_diverged"].to_numpy()
        if n_div.max(initial=0) > 0:
            i = int(np.argmax(n_div > 0))
            before = shown[: i + 1][np.isfinite(shown[: i + 1])]
            y_mark = shown[i] if np.isfinite(shown[i]) else (before[-1] if before.size else top)
            ax.plot([x[i]], [y_mark], linestyle="none", marker="X", markersize=8,
                    markeredgecolor="black", markeredgewidth=0.6, color=kw["color"],
                    label="_diverged")
            n_runs = int(curve["n"].max())
            notes.append(f"{wrap(label, 26)}: {int(n_div.max())}/{n_runs} runs")
    if log:
        log_scale(ax)
        if finite.size:
            ax.set_ylim(top=top)
    elif finite.size:
        ax.set_ylim(top=top)
    return notes


def _facets(problems: list[str], xs: list[str], ncols: int,
            labels: list[str]) -> tuple[Figure, list, dict[str, str]]:
    """The figure's panels (one per problem, or a row of ``xs`` per problem) and the
    problems' titles, wrapped to the room they have: the row, or a panel and its gap."""
    if len(xs) == 1:  # each panel has its own ordinate label
        n, ncols, wspace = len(problems), ncols, 0.8
    else:
        n, ncols, wspace = len(problems) * len(xs), len(xs), 0.6
    sizes: dict[str, Any] = {"panel": PANEL, "legend": labels, "legend_title": "optimizer",
                             "max_width": PAGE_WIDTH_IN, "hspace": 0.9, "wspace": wspace}
    panel_width = facet_layout(n, ncols, **sizes).panel[0]
    room = panel_width + 0.6 if len(xs) == 1 else len(xs) * (panel_width + wspace) - wspace
    wrapped, lines = wrap_titles(problems, room)
    fig, axes = facets(n, ncols, title_lines=lines, **sizes)
    return fig, axes, dict(zip(problems, wrapped))


def convergence_figure(
    data: pd.DataFrame,
    xs: str | Sequence[str] = ("step", "cost", "time"),
    *,
    palette: Palette | None = None,
    n_points: int = 60,
    ncols: int = 3,
    max_curves: int | None = MAX_CURVES,
) -> Figure | None:
    """Median and interquartile band over seeds of each optimizer, per problem.

    Args:
        data: rows of :func:`optbench.load` (any subset: one family, one problem...).
        xs: the abscissae, among ``"step"``, ``"cost"`` (falls back to ``n_grad``
            without a cost model), ``"n_grad"``, ``"time"``.  Several: one row of
            panels per problem_label, one column per abscissa.  One (a string): one
            panel per problem_label, wrapped in ``ncols`` columns.
        palette: the report's palette (default: one built from these labels).
        n_points: grid points of each resampled curve.
        max_curves: at most this many optimizer configurations (None: all); with
            more, the same best ones are drawn in every panel
            (:func:`reports.selection.best_labels` over all the problems of ``data``),
            each panel says how many of how many and the legend lists those drawn.

    The ordinate is the suboptimality ``f - f*`` on a log axis (values below
    :data:`SUBOPT_FLOOR` drawn at it) where the problem's optimum is known, else the
    loss (log axis where positive).  Steps are on a linear axis, cost and seconds on
    log axes (:data:`LOG_X`).  The panels of a row share their y range.  A
    diverged median ends with an X marker, and the first panel of a problem names
    the configurations that diverged (:data:`MAX_NOTES` at most).  The figure is at
    most :data:`~reports.style.PAGE_WIDTH_IN` wide, the legend below the panels
    unless it fits right of them.

    Returns:
        The Figure, or None when ``data`` has no rows.
    """
    if data is None or data.empty:
        return None
    single = isinstance(xs, str)
    xs = [xs] if isinstance(xs, str) else list(xs)
    problems = natural_sorted(data["problem_label"].unique())
    palette = data_palette(sorted(data["optimizer_label"].unique()), palette, data)
    totals = data.groupby("problem_label")["optimizer_label"].nunique()
    if max_curves is not None and data["optimizer_label"].nunique() > max_curves:
        data = data[data["optimizer_label"].isin(best_labels(data, max_curves))]
    labels = sorted(data["optimizer_label"].unique())
    by_problem = dict(tuple(data.groupby("problem_label", sort=False)))
    with theme():
        fig, axes, titles = _facets(problems, xs, ncols, labels)
        if single:
            cells = [(ax, p, xs[0]) for ax, p in zip(axes, problems)]
        else:
            cells = [(axes[r * len(xs) + c], p, x) for r, p in enumerate(problems)
                     for c, x in enumerate(xs)]
        for ax, problem, x in cells:
            rows = by_problem.get(problem, data.iloc[0:0])  # none drawn: "no data"
            y = y_column(rows)
            xcol = _x_column(rows, x)
            log_x = xcol in LOG_X
            stats = statistics.curve_stats(rows, x=xcol, y=y, n_points=n_points, log=log_x)
            first_column = single or x == xs[0]
            if stats.empty:
                ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center")
            else:
                notes = _panel(ax, stats, y, palette, log_x)
                if notes and first_column:
                    if len(notes) > MAX_NOTES:
                        notes = notes[:MAX_NOTES - 1] + [f"and {len(notes) - MAX_NOTES + 1} more"]
                    note(ax, "X = diverged\n" + "\n".join(notes), loc="lower left", color="#a00")
            drawn = rows["optimizer_label"].nunique()
            if first_column and drawn < totals[problem]:
                note(ax, f"{drawn} of {totals[problem]} configurations", loc="upper right")
            ax.set_xlabel(X_LABELS.get(xcol, xcol) + (" (log)" if log_x else ""))
            if log_x:
                log_scale(ax, "x")
            else:
                ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
                ax.set_xlim(left=0)
            if xcol == "time":
                ax.xaxis.set_major_formatter(EngFormatter(unit="s", sep=" "))
            if first_column:
                ax.set_ylabel("suboptimality f - f*" if y == "subopt" else "loss (f* unknown)")
                ax.set_title(titles[problem], loc="left")
        if not single:  # one y range per row, so that the columns compare at a glance
            for r in range(len(problems)):
                row = axes[r * len(xs):(r + 1) * len(xs)]
                if len({ax.get_yscale() for ax in row}) == 1:
                    limits = [ax.get_ylim() for ax in row]
                    low, high = min(lim[0] for lim in limits), max(lim[1] for lim in limits)
                    for ax in row:
                        ax.set_ylim(low, high)
        optimizer_legend(fig, palette, labels)
    return fig
