"""Iterates of 2-D problems drawn over the contour map of the loss.

The runner records the iterate of problems of dimension <= 2 as trace columns
``x_0, x_1``; this module draws them, one panel per optimizer, over log-spaced
contour lines of the problem's full loss.  The problem is rebuilt with
``problems.get(name, **params)`` only to evaluate its loss on a grid and to find its
minimiser and saddle points: no optimizer is run.  It is the lecture's picture of
plain SGD zig-zagging across a narrow valley while momentum follows its floor, and
of a saddle point, where the gradient vanishes and first-order methods crawl.

Each panel is framed on its own path (:func:`panel_window`): its iterates, the
minimiser and any saddle point, with a margin.  So the axes differ between panels,
and one method that wanders far (a Newton step on a noisy gradient) does not shrink
the others to dots.  A saddle point (:func:`saddle_points`) is marked with an ``X``
and the contour lines through it and on either side of it (:func:`saddle_contours`).
"""

from __future__ import annotations

import math
import textwrap
from typing import Any, Mapping, NamedTuple, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

import problems

from .selection import best_labels
from .style import (
    PAGE_WIDTH_IN,
    Palette,
    bottom_legend,
    data_palette,
    facet_layout,
    facets,
    fitting_chars,
    natural_sorted,
    note,
    suptitle,
    theme,
    wrap,
    wrap_titles,
)

#: Contour levels per map (each panel's grid has its own: its panel shows them all).
N_LEVELS = 10

#: Panels (optimizer configurations) per figure at most: beyond it, the best are
#: drawn (:func:`reports.selection.best_labels`) and the title says how many of how many.
#: Above the 15 of the built-in quick suite, so its figures show every configuration.
MAX_PANELS = 16

#: Margin around a panel's path and anchors, as a fraction of the window's span, each side.
MARGIN = 0.08
#: A panel's narrower axis spans at least this fraction of its wider one.
MIN_ASPECT = 0.25
#: Half-side of the square kept around a saddle point, as a fraction of the path's span.
ROOM = 0.15
#: A diverged path is framed on its iterates within this many times the size of the box
#: of its start, minimiser and saddle points (see :func:`panel_window`).
DIVERGED_REACH = 4.0
#: A contour map's grid reaches this fraction of its window's span beyond it, each side,
#: so that a panel with a slightly larger window can share it.
GRID_PAD = 0.15
#: A panel shares a map whose grid covers its window with spans at most this many times
#: its own (else the contours would be too coarse for it).
REUSE_SPAN = 1.6
#: Contour levels on each side of a saddle point's level.
SADDLE_LEVELS = 4
#: Colour of the saddle point's marker and contours.
SADDLE_COLOR = "0.25"
#: Tick intervals per axis at most (every panel labels its own axes).
TICK_BINS = 4
#: Inches of a panel (width at most: the panels narrow to fit the page, and height).
PANEL = (2.7, 2.3)
#: A panel's window reaches this fraction of its height higher than :func:`panel_window`:
#: room for the status note in its upper right corner, above the path.
NOTE_ROOM = 0.12


class Path(NamedTuple):
    """The drawn run of one optimizer_label: its iterates and how it ended."""

    label: str
    x: np.ndarray
    y: np.ndarray
    status: str
    last_step: int
    seed: int


class ContourMap(NamedTuple):
    """Contour lines over one grid: the loss's log-spaced levels and those around each
    saddle point, and the window the grid covers."""

    xlim: tuple[float, float]
    ylim: tuple[float, float]
    lines: tuple[list[np.ndarray], list[tuple]] | None
    saddle_lines: list[tuple[list[np.ndarray], list[float]]]


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
        chosen: Any = np.where(has_common, common, smallest)
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


# --------------------------------------------------------------------------- framing


def panel_window(
    x: np.ndarray, y: np.ndarray, *, anchors: Sequence[np.ndarray] = (),
    room: Sequence[np.ndarray] = (), diverged: bool = False,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The axis limits ``(xlim, ylim)`` of one panel: its path and ``anchors`` with a margin.

    The finite iterates (beyond 1e6 counts as gone), the anchors (the minimiser) and
    the ``room`` points (saddle points) span a box; a room point gets a square of
    half-side :data:`ROOM` times the box's larger span around it, so the contours
    around it show.  An axis narrower than :data:`MIN_ASPECT` times the other is
    widened about its middle to that (else a straight path would fill its panel as
    one line), then each side moves out by :data:`MARGIN` of the span.  A diverged
    path is framed on its leading iterates only, those before it first goes beyond
    :data:`DIVERGED_REACH` times the size of the box of its start and anchors: the
    panel shows how it left, and the rest of the path leaves the window.
    """
    points = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    points = points[np.isfinite(points).all(axis=1) & (np.abs(points) < 1e6).all(axis=1)]
    around = np.asarray(list(room), dtype=float).reshape(-1, 2)
    marks = np.vstack([np.asarray(list(anchors), dtype=float).reshape(-1, 2), around])
    if diverged and len(points):
        points = _leading(points, marks)
    box = np.vstack([points, marks])
    if box.size == 0:
        return (-1.0, 1.0), (-1.0, 1.0)
    if len(around):
        reach = ROOM * float(np.ptp(box, axis=0).max())
        box = np.vstack([box, around - reach, around + reach])
    lo, hi = box.min(axis=0), box.max(axis=0)
    middle, span = (lo + hi) / 2.0, hi - lo
    if span.max() <= 1e-12 * max(1.0, float(np.abs(box).max())):  # one point
        span = np.full(2, max(1.0, float(np.abs(middle).max())))
    span = np.maximum(span, MIN_ASPECT * span.max())
    half = span * (0.5 + MARGIN)
    return ((float(middle[0] - half[0]), float(middle[0] + half[0])),
            (float(middle[1] - half[1]), float(middle[1] + half[1])))


def _note_room(window: tuple[tuple[float, float], tuple[float, float]]
               ) -> tuple[tuple[float, float], tuple[float, float]]:
    """``window`` with its top raised by :data:`NOTE_ROOM` of its new height."""
    (x0, x1), (y0, y1) = window
    return (x0, x1), (y0, y0 + (y1 - y0) / (1.0 - NOTE_ROOM))


def _leading(points: np.ndarray, marks: np.ndarray) -> np.ndarray:
    """The iterates of a diverged path before the first one beyond
    :data:`DIVERGED_REACH` times the size of the box of its start and ``marks`` (or of
    its first step, without marks), from the box's middle; at least two."""
    base = np.vstack([points[:1], marks])
    middle = (base.min(axis=0) + base.max(axis=0)) / 2.0
    size = float(np.ptp(base, axis=0).max())
    if size == 0.0 and len(points) > 1:
        size = float(np.abs(points[1] - points[0]).max())
    far = np.abs(points - middle).max(axis=1) > DIVERGED_REACH * max(size, 1e-12)
    first = int(np.argmax(far)) if far.any() else len(points)
    return points[:max(first, 2)]


# --------------------------------------------------------------------------- the problem


def _rebuild(rows: pd.DataFrame, problem_label: str,
             problem_params: Mapping[str, Mapping[str, Any]] | None) -> Any:
    """The problem of ``rows``, rebuilt from the stored specs' parameters (or the
    ``problem.<name>`` columns); None if it cannot be rebuilt here (a plugin's)."""
    try:
        params = dict((problem_params or {}).get(problem_label) or params_from_columns(rows))
        return problems.get(str(rows["problem"].iloc[0]), **params)
    except Exception:
        return None


def minimiser(problem: Any) -> np.ndarray | None:
    """The problem's ``x_star`` where it has a 2-D one, else None."""
    x_star = getattr(problem, "x_star", None)
    if x_star is None or np.size(x_star) != 2:
        return None
    return np.asarray(x_star, dtype=float).reshape(2)


def saddle_points(problem: Any) -> list[np.ndarray]:
    """The problem's saddle points in 2-D: points where its gradient vanishes and its
    Hessian has eigenvalues of both signs.

    The candidates are the problem's ``x_saddle`` (one point or a row per point) where
    it has one, else the origin of the ``saddle`` family (:class:`problems.saddle.Saddle`,
    whose origin is a strict saddle); each is checked, none is searched for.
    """
    candidates = getattr(problem, "x_saddle", None)
    if candidates is None:
        if getattr(problem, "name", None) != "saddle" or getattr(problem, "dim", None) != 2:
            return []
        candidates = np.zeros(2)
    points = np.asarray(candidates, dtype=float)
    if points.size % 2:
        return []
    return [point for point in points.reshape(-1, 2) if _is_saddle(problem, point)]


def _is_saddle(problem: Any, point: np.ndarray) -> bool:
    try:
        gradient = np.asarray(problem.grad(point.copy()), dtype=float)
        if not np.linalg.norm(gradient) <= 1e-8:
            return False
        if not getattr(problem, "has_hess", False):
            return True  # a stationary point the problem names a saddle
        curvatures = np.linalg.eigvalsh(np.asarray(problem.hess(point.copy()), dtype=float))
    except Exception:
        return False
    return bool(curvatures.min() < 0.0 < curvatures.max())


# --------------------------------------------------------------------------- contours


def contour_lines(X: np.ndarray, Y: np.ndarray, G: np.ndarray,
                  levels: np.ndarray) -> tuple[list[np.ndarray], list[tuple]]:
    """The contour lines of ``G`` at ``levels`` and a colour per line (darker is lower).

    Traced once per grid (contourpy, matplotlib's own contouring) and drawn in every
    panel that shares the grid as a LineCollection (:func:`contour_maps`).
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


def saddle_contours(X: np.ndarray, Y: np.ndarray, Z: np.ndarray,
                    f_saddle: float) -> tuple[list[np.ndarray], list[float]]:
    """The contour lines through a saddle point and on either side of it, and a line
    width per line.

    Levels ``f_saddle`` (the lines that cross at the saddle, drawn thicker) and
    ``f_saddle +- d`` for :data:`SADDLE_LEVELS` log-spaced ``d`` from 1/30 of the median
    of ``|Z - f_saddle|`` over the grid up to it: the hyperbolas around the saddle.
    """
    import contourpy

    gap = Z - f_saddle
    size = np.abs(gap[np.isfinite(gap)])
    size = size[size > 0]
    if size.size == 0:
        return [], []
    offsets = np.geomspace(float(np.median(size)) / 30.0, float(np.median(size)), SADDLE_LEVELS)
    generator = contourpy.contour_generator(X, Y, gap, line_type="Separate")
    segments, widths = [], []
    for level in np.concatenate([-offsets[::-1], [0.0], offsets]):
        for line in generator.lines(level):
            if len(line) > 1:
                segments.append(np.asarray(line))
                widths.append(1.1 if level == 0.0 else 0.55)
    return segments, widths


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


def _covers(contours: ContourMap, xlim: tuple[float, float], ylim: tuple[float, float]) -> bool:
    """Whether a map's grid covers the window at a scale fine enough for it."""
    for (lo, hi), (mlo, mhi) in ((xlim, contours.xlim), (ylim, contours.ylim)):
        if not (mlo <= lo and hi <= mhi and mhi - mlo <= REUSE_SPAN * (hi - lo)):
            return False
    return True


def _contour_map(problem: Any, xlim: tuple[float, float], ylim: tuple[float, float],
                 saddles: Sequence[np.ndarray], grid_points: int) -> ContourMap:
    """The contour lines of ``problem`` on a grid over the window, padded by :data:`GRID_PAD`."""
    pad_x, pad_y = GRID_PAD * (xlim[1] - xlim[0]), GRID_PAD * (ylim[1] - ylim[0])
    xlim, ylim = (xlim[0] - pad_x, xlim[1] + pad_x), (ylim[0] - pad_y, ylim[1] + pad_y)
    X, Y, Z = loss_grid(problem, xlim, ylim, grid_points)
    levels = _levels(Z, getattr(problem, "f_star", None))
    lines = contour_lines(X, Y, Z - levels[1], levels[0]) if levels is not None else None
    around = [saddle_contours(X, Y, Z, float(problem.loss(point.copy()))) for point in saddles]
    return ContourMap(xlim, ylim, lines, around)


def contour_maps(problem: Any, windows: Sequence[tuple[tuple[float, float], tuple[float, float]]],
                 saddles: Sequence[np.ndarray] = (), grid_points: int = 90) -> list[ContourMap | None]:
    """A contour map per panel window (None where the loss cannot be evaluated).

    A panel shares an earlier panel's map when that grid covers its window at a
    similar scale (:data:`REUSE_SPAN`); else its own grid is computed, which is most
    of a figure's cost (``grid_points**2`` loss evaluations).
    """
    maps: list[ContourMap] = []
    out: list[ContourMap | None] = []
    for xlim, ylim in windows:
        found = next((m for m in maps if _covers(m, xlim, ylim)), None)
        if found is None:
            try:
                found = _contour_map(problem, xlim, ylim, saddles, grid_points)
            except Exception:  # a loss that fails on the grid: draw the path alone
                out.append(None)
                continue
            maps.append(found)
        out.append(found)
    return out


# --------------------------------------------------------------------------- drawing


def _path(label: str, run: pd.DataFrame) -> Path:
    return Path(label, run["x_0"].to_numpy(dtype=float), run["x_1"].to_numpy(dtype=float),
                str(run["status"].iloc[0]), int(run["step"].iloc[-1]), int(run["seed"].iloc[0]))


def _draw_contours(ax: Any, contours: ContourMap | None) -> None:
    if contours is None:
        return
    if contours.lines is not None:
        segments, colors = contours.lines
        ax.add_collection(LineCollection(segments, colors=colors, linewidths=0.6,
                                         label="_contours"), autolim=False)
    for segments, widths in contours.saddle_lines:
        if segments:
            ax.add_collection(LineCollection(segments, colors=SADDLE_COLOR, linewidths=widths,
                                             linestyles="dashed", alpha=0.8,
                                             label="_saddle_contours"), autolim=False)


def _draw_panel(ax: Any, path: Path, palette: Palette, window: tuple, contours: ContourMap | None,
                x_star: np.ndarray | None, saddles: Sequence[np.ndarray], title: str) -> None:
    """One optimizer's panel: contours, its path, start, last iterate, minimiser, saddles."""
    _draw_contours(ax, contours)
    x, y = path.x, path.y
    kw = {key: value for key, value in palette.line_kw(path.label).items()
          if key in ("color", "linestyle")}  # the iterates carry their own markers
    ax.plot(x, y, linewidth=1.1, label=path.label, **kw)
    if len(x) <= 150:
        ax.plot(x, y, linestyle="none", marker="o", markersize=1.8, color=kw["color"],
                label="_iterates")
    ax.plot(x[:1], y[:1], linestyle="none", marker="o", markersize=6,
            markerfacecolor="white", markeredgecolor="black", label="_start")
    finite = np.isfinite(x) & np.isfinite(y)
    if finite.any():
        i = np.flatnonzero(finite)[-1]
        ax.plot([x[i]], [y[i]], linestyle="none", marker="*", markersize=9,
                color=kw["color"], markeredgecolor="black", markeredgewidth=0.5, label="_end")
    if x_star is not None:
        ax.plot([x_star[0]], [x_star[1]], linestyle="none", marker="+", markersize=9,
                color="black", label="_minimiser")
    for point in saddles:
        ax.plot([point[0]], [point[1]], linestyle="none", marker="X", markersize=8,
                color=SADDLE_COLOR, markeredgecolor="white", markeredgewidth=0.6, label="_saddle")
    ax.grid(False)
    ax.set_title(title, loc="left")
    note(ax, f"{path.status}, {path.last_step} steps",
         color="#a00" if path.status == "diverged" else "0.25")
    ax.set_xlim(window[0])
    ax.set_ylim(window[1])
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(TICK_BINS))


def _legend_handles(x_star: Any, saddles: Sequence[np.ndarray], contoured: bool,
                    saddle_contoured: bool) -> list[Line2D]:
    handles = [
        Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
               markeredgecolor="black", label="start"),
        Line2D([], [], linestyle="none", marker="*", color="0.4", markeredgecolor="black",
               markersize=9, label="last iterate"),
    ]
    if x_star is not None:
        handles.append(Line2D([], [], linestyle="none", marker="+", color="black",
                              markersize=9, label="minimiser"))
    if saddles:
        handles.append(Line2D([], [], linestyle="none", marker="X", color=SADDLE_COLOR,
                              markersize=8, label="saddle point"))
    if contoured:
        handles.append(Line2D([], [], color=(0.35, 0.55, 0.8), linewidth=0.7,
                              label="loss contours (log-spaced)"))
    if saddle_contoured:
        handles.append(Line2D([], [], color=SADDLE_COLOR, linewidth=0.8, linestyle="dashed",
                              label="contours through and around the saddle"))
    return handles


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
        grid_points: grid resolution of a contour map per axis.
        max_panels: at most this many panels (None: one per optimizer_label); with
            more labels, the best are drawn (:func:`shown_labels`) and the title says
            how many of how many.

    Each panel has its own axes, framed on its path, the minimiser and any saddle
    point (:func:`panel_window`, with room on top for the panel's status note); a
    diverged path is framed on how it left and then
    leaves the window.  Contour lines are log-spaced levels of ``f - min f`` over the
    panel's grid (:func:`contour_maps`); a saddle point gets an ``X`` and dashed
    contours through and around it.  A circle marks the start, a star the last
    iterate, a plus the minimiser.

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
    paths = [_path(label, runs[label]) for label in shown_labels(rows, runs, max_panels)]
    if not paths:
        return None
    palette = data_palette([p.label for p in paths], palette, rows)
    problem = _rebuild(rows, problem_label, problem_params)
    x_star = minimiser(problem) if problem is not None else None
    saddles = saddle_points(problem) if problem is not None else []
    anchors = [x_star] if x_star is not None else []
    windows = [_note_room(panel_window(p.x, p.y, anchors=anchors, room=saddles,
                                       diverged=p.status == "diverged")) for p in paths]
    maps = contour_maps(problem, windows, saddles, grid_points) if problem is not None \
        else [None] * len(paths)

    seeds = sorted({p.seed for p in paths})
    capped = (f"; {len(paths)} of {len(runs)} optimizer configurations, the best by median "
              "final value" if len(paths) < len(runs) else "")
    title = "\n".join([wrap(problem_label, fitting_chars(PAGE_WIDTH_IN - 0.3)),
                       textwrap.fill(f"(seed {', '.join(map(str, seeds))}{capped}; each panel "
                                     "framed on its own path)", fitting_chars(PAGE_WIDTH_IN - 0.3))])
    contoured = any(m is not None and m.lines is not None for m in maps)
    saddle_contoured = any(m is not None and any(s for s, _ in m.saddle_lines) for m in maps)
    handles = _legend_handles(x_star, saddles, contoured, saddle_contoured)
    sizes: dict[str, Any] = {"panel": PANEL, "suptitle": title.count("\n") + 1, "wspace": 0.55,
                             "hspace": 0.8, "left": 0.85, "max_width": PAGE_WIDTH_IN,
                             "legend": [str(h.get_label()) for h in handles]}
    titles, lines = wrap_titles([p.label for p in paths],
                                facet_layout(len(paths), ncols, **sizes).panel[0] + 0.4)
    with theme():
        fig, axes = facets(len(paths), ncols, title_lines=lines, **sizes)
        for ax, path, window, contours, name in zip(axes, paths, windows, maps, titles):
            _draw_panel(ax, path, palette, window, contours, x_star, saddles, name)
        columns = min(ncols, len(axes))
        for i, ax in enumerate(axes):
            if i + columns >= len(axes):  # nothing drawn below this panel
                ax.set_xlabel("x_0")
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel("x_1")
        suptitle(fig, title)
        bottom_legend(fig, handles)
    return fig
