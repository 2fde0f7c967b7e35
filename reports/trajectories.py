"""Iterates of 2-D problems drawn over the contour map of the loss.

The runner records the iterate of problems of dimension <= 2 as trace columns
``x_0, x_1``; this module draws them, one panel per optimizer, over log-spaced
contour lines of the problem's full loss.  The problem is rebuilt with
``problems.get(name, **params)`` only to evaluate its loss on a grid: no
optimizer is run.  It is the lecture's picture of plain SGD zig-zagging across a
narrow valley while momentum follows its floor.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

import problems

from .selection import best_labels
from .style import (
    Palette,
    bottom_legend,
    facets,
    natural_sorted,
    note,
    palette_for,
    suptitle,
    theme,
    wrap,
)

#: Contour levels per map.
N_LEVELS = 14

#: Panels (optimizer configurations) per figure at most: beyond it, the best are
#: drawn (:func:`reports.selection.best_labels`) and the title says how many of how many.
#: Above the 15 of the built-in quick suite, so its figures show every configuration.
MAX_PANELS = 16


def trajectory_problems(data: pd.DataFrame) -> list[str]:
    """The problem_labels (naturally sorted) whose traces carry a 2-D iterate (``x_0``, ``x_1``)."""
    if data is None or data.empty or not {"x_0", "x_1"} <= set(data.columns):
        return []
    has = data["x_0"].notna() & data["x_1"].notna()
    return natural_sorted(data.loc[has, "problem_label"].unique())


def drawn_runs(rows: pd.DataFrame, seed: int | None = None) -> dict[str, pd.DataFrame]:
    """The run drawn for each optimizer_label of one problem's rows: ``{label: rows}``.

    With ``seed`` None, the seed most optimizers ran with (the smallest among ties);
    an optimizer without it gets its own smallest seed.  One run per label (the
    first by run_id when several share the seed).  Labels in sorted order.
    """
    rows = rows[rows["x_0"].notna() & rows["x_1"].notna()] if len(rows) else rows
    if rows.empty:
        return {}
    runs = rows[["optimizer_label", "seed", "run_id"]].drop_duplicates("run_id")
    if seed is None:
        per_seed = runs.groupby("seed")["optimizer_label"].nunique()
        common = int(per_seed[per_seed == per_seed.max()].index.min())
        has_common = runs["seed"].eq(common).groupby(runs["optimizer_label"]).transform("any")
        smallest = runs.groupby("optimizer_label")["seed"].transform("min")
        chosen = np.where(has_common, common, smallest)
    else:
        chosen = seed
    picked = (runs[runs["seed"].to_numpy() == chosen]
              .sort_values("run_id", kind="stable").drop_duplicates("optimizer_label"))
    selected = rows[rows["run_id"].isin(picked["run_id"])]
    return {str(label): run for label, run in selected.groupby("optimizer_label", sort=True)}


def shown_labels(rows: pd.DataFrame, runs: Mapping[str, pd.DataFrame],
                 max_panels: int | None = MAX_PANELS) -> list[str]:
    """The labels of ``runs`` (:func:`drawn_runs` of one problem's ``rows``) that get a
    panel: all of them up to ``max_panels`` (None: no limit), else the best ones."""
    if max_panels is None or len(runs) <= max_panels:
        return list(runs)
    return best_labels(rows[rows["optimizer_label"].isin(list(runs))], max_panels)


def params_from_columns(rows: pd.DataFrame) -> dict[str, Any]:
    """A problem's parameters from the ``problem.<name>`` columns of its rows.

    Missing values (NaN: another family's parameter) are dropped and integral floats
    become ints (a column with gaps turns ``dim=2`` into ``2.0``).  Prefer the exact
    parameters of the stored spec where they are at hand.
    """
    first = rows.iloc[0]
    params: dict[str, Any] = {}
    for column, value in first.items():
        if not isinstance(column, str) or not column.startswith("problem."):
            continue
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        params[column[len("problem."):]] = value
    return params


def loss_grid(problem: Any, xlim: tuple[float, float], ylim: tuple[float, float],
              n: int = 90) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``problem.loss`` on an ``n x n`` grid over ``xlim x ylim``: ``(X, Y, Z)``."""
    xs = np.linspace(*xlim, n)
    ys = np.linspace(*ylim, n)
    X, Y = np.meshgrid(xs, ys)
    Z = np.empty_like(X)
    point = np.empty(2)
    with np.errstate(all="ignore"):
        for idx in np.ndindex(X.shape):
            point[0], point[1] = X[idx], Y[idx]
            Z[idx] = problem.loss(point)
    return X, Y, Z


def _extent(
    paths: list[tuple[np.ndarray, np.ndarray, str]],
) -> tuple[tuple[float, float], tuple[float, float]]:
    """A window holding every run that did not diverge (all runs if every one did)."""
    kept = [(x, y) for x, y, status in paths if status != "diverged"] or [(x, y) for x, y, _ in paths]
    xs = np.concatenate([x for x, _ in kept])
    ys = np.concatenate([y for _, y in kept])
    ok = np.isfinite(xs) & np.isfinite(ys) & (np.abs(xs) < 1e6) & (np.abs(ys) < 1e6)
    xs, ys = xs[ok], ys[ok]
    if xs.size == 0:
        return (-1.0, 1.0), (-1.0, 1.0)

    def padded(v: np.ndarray) -> tuple[float, float]:
        lo, hi = float(v.min()), float(v.max())
        span = hi - lo
        if span <= 1e-12 * max(1.0, abs(hi)):
            span = max(1.0, abs(hi))
            return lo - 0.5 * span, hi + 0.5 * span
        return lo - 0.1 * span, hi + 0.1 * span

    return padded(xs), padded(ys)


def contour_lines(X: np.ndarray, Y: np.ndarray, G: np.ndarray,
                  levels: np.ndarray) -> tuple[list[np.ndarray], list[tuple]]:
    """The contour lines of ``G`` at ``levels`` and a colour per line (darker is lower).

    Traced once per figure (contourpy, matplotlib's own contouring) and drawn in every
    panel as a LineCollection, instead of contouring the same map in each panel.
    """
    import contourpy

    generator = contourpy.contour_generator(X, Y, G, line_type="Separate")
    cmap = matplotlib.colormaps["Blues_r"]
    norm = LogNorm(levels[0], levels[-1] * 10)
    segments, colors = [], []
    for level in levels:
        color = cmap(norm(level), alpha=0.8)
        for line in generator.lines(level):
            if len(line) > 1:
                segments.append(np.asarray(line))
                colors.append(color)
    return segments, colors


def _levels(Z: np.ndarray, f_star: float | None) -> tuple[np.ndarray, float] | None:
    finite = Z[np.isfinite(Z)]
    if finite.size == 0:
        return None
    base = float(finite.min()) if f_star is None else min(float(finite.min()), float(f_star))
    gap = finite - base
    positive = gap[gap > 0]
    if positive.size == 0:
        return None
    hi = float(np.percentile(positive, 98))
    lo = max(float(np.percentile(positive, 0.2)), hi * 1e-6)
    if not hi > lo:
        return None
    return np.geomspace(lo, hi, N_LEVELS), base


def trajectories_figure(
    data: pd.DataFrame,
    problem_label: str | None = None,
    *,
    seed: int | None = None,
    palette: Palette | None = None,
    problem_params: Mapping[str, Mapping[str, Any]] | None = None,
    ncols: int = 4,
    grid_points: int = 90,
    max_panels: int | None = MAX_PANELS,
) -> Figure | None:
    """One panel per optimizer: its iterates (one seed) over the loss's contour map.

    Args:
        data: rows of :func:`optbench.load`.
        problem_label: the 2-D problem to draw (default: the first of
            :func:`trajectory_problems`).
        seed: the run seed drawn (default: the seed most optimizers ran with; an
            optimizer without it shows its smallest seed).
        palette: the report's palette.
        problem_params: ``{problem_label: params}`` to rebuild the problem with
            (the stored specs'); default: read back from the ``problem.<name>``
            columns (:func:`params_from_columns`).
        grid_points: grid resolution of the contour map per axis.
        max_panels: at most this many panels (None: one per optimizer_label); with
            more labels, the best are drawn (:func:`shown_labels`) and the title says
            how many of how many.

    Contour lines are log-spaced levels of ``f - min f`` over the window, which
    holds every run that did not diverge; a diverged path leaves the window.  A
    circle marks the start, a star the last iterate.

    Returns:
        The Figure, or None if the problem has no recorded 2-D iterates.
    """
    labels_2d = trajectory_problems(data)
    if not labels_2d:
        return None
    if problem_label is None:
        problem_label = labels_2d[0]
    if problem_label not in labels_2d:
        return None
    rows = data[data["problem_label"] == problem_label]
    runs = drawn_runs(rows, seed)
    paths = []
    for label in shown_labels(rows, runs, max_panels):
        run = runs[label]
        paths.append((label, run["x_0"].to_numpy(dtype=float), run["x_1"].to_numpy(dtype=float),
                      str(run["status"].iloc[0]), int(run["step"].iloc[-1]), int(run["seed"].iloc[0])))
    if not paths:
        return None
    palette = palette_for([p[0] for p in paths], palette)
    xlim, ylim = _extent([(x, y, status) for _, x, y, status, _, _ in paths])

    contour = None
    f_star = None
    minimiser = None
    try:
        params = dict((problem_params or {}).get(problem_label) or params_from_columns(rows))
        problem = problems.get(str(rows["problem"].iloc[0]), **params)
        f_star = problem.f_star
        X, Y, Z = loss_grid(problem, xlim, ylim, grid_points)
        levels = _levels(Z, f_star)
        if levels is not None:
            contour = contour_lines(X, Y, Z - levels[1], levels[0])
        x_star = getattr(problem, "x_star", None)
        if x_star is not None and np.size(x_star) == 2:
            minimiser = np.asarray(x_star, dtype=float)
    except Exception:  # a problem we cannot rebuild here: draw the paths alone
        contour = None

    with theme():
        fig, axes = facets(len(paths), ncols, sharex=True, sharey=True, panel=(3.0, 2.4),
                           bottom_legend=True, suptitle=True, wspace=0.3, hspace=0.75)
        for ax, (label, x, y, status, last_step, _seed) in zip(axes, paths):
            if contour is not None:
                segments, colors = contour
                ax.add_collection(LineCollection(segments, colors=colors, linewidths=0.7,
                                                 label="_contours"), autolim=False)
            kw = palette.line_kw(label)
            kw.pop("marker", None)
            ax.plot(x, y, linewidth=1.1, label=label, **kw)
            if len(x) <= 150:
                ax.plot(x, y, linestyle="none", marker="o", markersize=1.8, color=kw["color"],
                        label="_iterates")
            ax.plot(x[:1], y[:1], linestyle="none", marker="o", markersize=6,
                    markerfacecolor="white", markeredgecolor="black", label="_start")
            finite = np.isfinite(x) & np.isfinite(y)
            if finite.any():
                i = np.flatnonzero(finite)[-1]
                ax.plot([x[i]], [y[i]], linestyle="none", marker="*", markersize=9,
                        color=kw["color"], markeredgecolor="black", markeredgewidth=0.5,
                        label="_end")
            if minimiser is not None:
                ax.plot([minimiser[0]], [minimiser[1]], linestyle="none", marker="+",
                        markersize=9, color="black", label="_minimiser")
            ax.grid(False)
            ax.set_title(wrap(label, 34), loc="left")
            text = f"{status}, {last_step} steps"
            note(ax, text, color="#a00" if status == "diverged" else "0.25")
            ax.set_xlim(xlim)
            ax.set_ylim(ylim)
        columns = min(ncols, len(axes))
        for i, ax in enumerate(axes):
            if i + columns >= len(axes):  # nothing drawn below this panel
                ax.set_xlabel("x_0")
                ax.xaxis.set_tick_params(labelbottom=True)
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel("x_1")
        seeds = sorted({p[5] for p in paths})
        capped = (f"; {len(paths)} of {len(runs)} optimizer configurations, the best by median "
                  "final value" if len(paths) < len(runs) else "")
        suptitle(fig, f"{wrap(problem_label, 90)}   (seed {', '.join(map(str, seeds))}{capped})")
        handles = [
            Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
                   markeredgecolor="black", label="start"),
            Line2D([], [], linestyle="none", marker="*", color="0.4", markeredgecolor="black",
                   markersize=9, label="last iterate"),
        ]
        if minimiser is not None:
            handles.append(Line2D([], [], linestyle="none", marker="+", color="black",
                                  markersize=9, label="minimiser"))
        if contour is not None:
            handles.append(Line2D([], [], color=(0.35, 0.55, 0.8), linewidth=0.7,
                                  label="loss contours (log-spaced)"))
        bottom_legend(fig, handles)
    return fig
