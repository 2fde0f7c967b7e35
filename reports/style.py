"""The look shared by every figure: theme, the optimizer palette, facets, labels.

Figures are plain :class:`matplotlib.figure.Figure` objects with an Agg canvas
attached (:func:`new_figure`), never pyplot figures: they need no display, do not
change the backend of the caller's session (a notebook keeps its own), and are
freed like any other object once the report has rendered them.

Colours
    :class:`Palette` maps each optimizer label to one colour of seaborn's
    colour-blind-safe ``"colorblind"`` palette, in the order of the sorted labels.
    The report builds one palette from all its labels and passes it to every
    figure, so an optimizer has the same colour everywhere.  That palette has ten
    colours; labels 11 to 20 reuse them with a marker on the line, labels 21 to 30
    with another marker, and so on, so that no two labels look alike.
"""

from __future__ import annotations

import math
import textwrap
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

import matplotlib
import numpy as np
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: Seaborn palette of the optimizer colours.
PALETTE_NAME = "colorblind"
#: Markers that tell apart labels sharing a colour (the first ten labels have none).
CYCLE_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Inches per panel (width, height) of faceted figures.
PANEL_SIZE = (4.2, 3.0)
#: Characters per line of wrapped panel titles and legend entries.
WRAP = 38


class Palette:
    """A fixed mapping ``label -> colour (and marker)``, built from sorted labels.

    ``Palette(["sgd[lr=0.1]", "adam"])`` gives ``adam`` the first colour and
    ``sgd[lr=0.1]`` the second, whatever the order of the input.  A label it was
    not built with gets a neutral grey (and :meth:`extended` makes a palette that
    knows it).
    """

    def __init__(self, labels: Iterable[Any]) -> None:
        self.labels = sorted({str(label) for label in labels if label is not None})
        base = sns.color_palette(PALETTE_NAME, 10)
        self._colors = {}
        self._markers = {}
        for i, label in enumerate(self.labels):
            self._colors[label] = tuple(float(c) for c in base[i % len(base)])
            cycle = i // len(base)
            self._markers[label] = None if cycle == 0 else CYCLE_MARKERS[(cycle - 1) % len(CYCLE_MARKERS)]

    def __contains__(self, label: Any) -> bool:
        return str(label) in self._colors

    def color(self, label: Any) -> tuple[float, float, float]:
        return self._colors.get(str(label), (0.5, 0.5, 0.5))

    def marker(self, label: Any) -> str | None:
        return self._markers.get(str(label))

    def line_kw(self, label: Any, n_points: int | None = None) -> dict[str, Any]:
        """Keyword arguments of ``ax.plot`` for ``label``'s line (colour, marker)."""
        kw: dict[str, Any] = {"color": self.color(label)}
        marker = self.marker(label)
        if marker is not None:
            kw.update(marker=marker, markersize=4)
            if n_points and n_points > 12:
                kw["markevery"] = max(1, n_points // 8)
        return kw

    def extended(self, labels: Iterable[Any]) -> "Palette":
        """A palette of this one's labels and ``labels`` (self if it knows them all): the
        labels it knows keep their colours and markers, the new ones (sorted) take the
        next places of the cycle."""
        extra = sorted({str(label) for label in labels if label is not None} - set(self.labels))
        if not extra:
            return self
        wider = Palette(self.labels)
        base = sns.color_palette(PALETTE_NAME, 10)
        for label in extra:
            i = len(wider.labels)
            wider.labels.append(label)
            wider._colors[label] = tuple(float(c) for c in base[i % len(base)])
            cycle = i // len(base)
            wider._markers[label] = None if cycle == 0 else CYCLE_MARKERS[(cycle - 1) % len(CYCLE_MARKERS)]
        return wider

    def __repr__(self) -> str:
        return f"Palette({self.labels!r})"


def palette_for(labels: Iterable[Any], palette: Palette | None) -> Palette:
    """``palette`` (extended to ``labels`` if needed), or a new one from ``labels``."""
    labels = list(labels)
    if palette is None:
        return Palette(labels)
    return palette.extended(labels)


def rc() -> dict[str, Any]:
    """The rc parameters of every figure: seaborn's whitegrid style, a compact context."""
    params: dict[str, Any] = {}
    params.update(sns.axes_style("whitegrid"))
    params.update(sns.plotting_context("notebook", font_scale=0.8))
    params.update({
        "axes.titlesize": 9,
        "axes.titley": 1.0,  # a fixed title position: no search for overlaps at draw time
        "axes.titlepad": 4.0,
        "axes.titleweight": "normal",
        "legend.fontsize": 8,
        "legend.frameon": True,
        "legend.framealpha": 0.9,
        "svg.fonttype": "none",
    })
    return params


@contextmanager
def theme() -> Iterator[None]:
    """Apply :func:`rc` while a figure is built (the caller's settings are restored)."""
    with matplotlib.rc_context(rc()):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A Figure with its own Agg canvas (no pyplot, no display)."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def facets(n: int, ncols: int = 3, *, sharex: bool = False, sharey: bool = False,
           panel: tuple[float, float] = PANEL_SIZE, legend_width: float = 0.0,
           bottom_legend: bool = False, suptitle: bool = False,
           wspace: float = 0.75, hspace: float = 0.95, left: float = 0.85):
    """A figure with ``n`` panels on a grid of ``ncols`` columns (unused cells hidden).

    Returns ``(fig, axes)`` with ``axes`` a flat list of the ``n`` visible axes.
    Sizes are in inches: ``panel`` is one axes box, ``wspace``/``hspace`` the gaps
    between boxes (room for tick labels, axis labels and two-line titles),
    ``legend_width`` a column right of the panels for :func:`optimizer_legend`, and
    ``bottom_legend`` a strip below them for :func:`bottom_legend`.

    The layout is computed here once, from these sizes, rather than by a layout
    engine measuring every text at draw time (which costs more than the drawing).
    """
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    top = 0.5 + (0.3 if suptitle else 0.0)
    bottom = 0.6 + (0.45 if bottom_legend else 0.0)
    right = 0.25 + legend_width
    width = left + ncols * panel[0] + (ncols - 1) * wspace + right
    height = top + nrows * panel[1] + (nrows - 1) * hspace + bottom
    fig = new_figure(width, height)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height, wspace=wspace / panel[0], hspace=hspace / panel[1])
    grid = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex, sharey=sharey)
    flat = list(grid.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def suptitle(fig: Figure, text: str) -> None:
    """A figure title at the top left (needs ``facets(..., suptitle=True)``)."""
    height = fig.get_figheight()
    fig.suptitle(text, fontsize=9, x=0.01, y=1 - 0.12 / height, ha="left", va="top")


def bottom_legend(fig: Figure, handles: list, **kw: Any) -> None:
    """A one-row legend in the strip below the panels (``facets(..., bottom_legend=True)``)."""
    if handles:
        fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0),
                   ncols=len(handles), fontsize=8, **kw)


def natural_key(text: Any) -> list:
    """Sort key that orders the numbers inside labels by value: ``condition_number=2``
    before ``condition_number=10``."""
    import re

    return [(0, float(part), "") if part[:1].isdigit() else (1, 0.0, part)
            for part in re.findall(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?|\D+", str(text))]


def natural_sorted(items: Iterable[Any]) -> list:
    """``items`` sorted by :func:`natural_key`."""
    return sorted(items, key=natural_key)


def wrap(text: str, width: int = WRAP) -> str:
    """Break a long label into lines, preferably after the commas of its parameters."""
    text = str(text)
    if len(text) <= width:
        return text
    parts = text.replace(",", ", ").split(" ")
    lines = textwrap.wrap(" ".join(parts), width=width, break_long_words=True,
                          break_on_hyphens=False)
    return "\n".join(line.replace(", ", ",") for line in lines)


def legend_width(labels: Iterable[str], width: int = WRAP) -> float:
    """Inches a right-hand legend of ``labels`` needs."""
    longest = max((max(len(line) for line in wrap(label, width).split("\n"))
                   for label in labels), default=0)
    return 0.6 + 0.065 * longest


def optimizer_legend(fig: Figure, palette: Palette, labels: Iterable[str], *,
                     extra: list[tuple[Any, str]] | None = None, title: str = "optimizer") -> None:
    """One legend for the whole figure, right of the panels: a line per label."""
    from matplotlib.lines import Line2D

    handles, texts = [], []
    for label in labels:
        handles.append(Line2D([], [], linewidth=2, **palette.line_kw(label)))
        texts.append(wrap(label))
    for handle, text in extra or []:
        handles.append(handle)
        texts.append(text)
    if handles:
        pars = fig.subplotpars
        fig.legend(handles, texts, loc="upper left", bbox_to_anchor=(pars.right + 0.01, pars.top),
                   title=title, fontsize=8, title_fontsize=8)


def log_scale(ax, axis: str = "y", base: float = 10) -> None:
    """A log scale on ``axis`` with at most about six labelled decades and no minor
    ticks (minor tick objects cost more to draw than the curves)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    getattr(ax, f"set_{axis}scale")("log", base=base)
    target = ax.yaxis if axis == "y" else ax.xaxis
    low, high = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
    narrow = base == 10 and low > 0 and np.log10(high / low) < 2.5
    subs = (1.0, 2.0, 5.0) if narrow else (1.0,)  # a label every few steps, not one in all
    target.set_major_locator(LogLocator(base=base, subs=subs, numticks=7))
    target.set_minor_locator(NullLocator())
    target.set_major_formatter(FuncFormatter(_log_label))


def _log_label(value: float, _pos: Any = None) -> str:
    """``1e-06`` style labels: plain text, which draws much faster than mathtext."""
    if not np.isfinite(value) or value <= 0:
        return ""
    exponent = math.log10(value)
    if abs(exponent - round(exponent)) < 1e-9 and abs(exponent) >= 3:
        return f"1e{int(round(exponent))}"
    return f"{value:g}"


def log_axis_ok(values: Any) -> bool:
    """Whether the finite values can go on a log axis (all > 0, at least one)."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    return arr.size > 0 and bool((arr > 0).all())


def note(ax, text: str, *, loc: str = "upper right", color: str = "0.25") -> None:
    """A small text box in a corner of ``ax``."""
    x, ha = (0.98, "right") if "right" in loc else (0.02, "left")
    y, va = (0.97, "top") if "upper" in loc else (0.03, "bottom")
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=7, color=color,
            bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "0.8",
                  "alpha": 0.85})
