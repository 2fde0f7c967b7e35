"""The look shared by every figure: theme, the optimizer palette, facets, labels.

Figures are plain :class:`matplotlib.figure.Figure` objects with an Agg canvas
attached (:func:`new_figure`), never pyplot figures: they need no display, do not
change the backend of the caller's session (a notebook keeps its own), and are
freed like any other object once the report has rendered them.

Sizes
    The report shows a figure at its natural size (inches x 96 CSS px) in a text
    column :data:`PAGE_WIDTH_IN` inches wide, shrunk to fit only when wider: a text
    of ``s`` pt in a figure ``W`` inches wide reads as ``s * min(1, PAGE_WIDTH_IN /
    W)`` pt (:func:`smallest_text_pt`).  Every text of the report's figures is
    drawn at :data:`MIN_FONT_PT` or more (tick labels, legends, notes; axis labels
    :data:`LABEL_PT`, titles :data:`TITLE_PT`) in figures no wider than the column,
    so nothing reads smaller than :data:`MIN_FONT_PT`.  :func:`facets` lays out the
    panels (:func:`facet_layout`) from sizes and estimated text sizes
    (:func:`text_size`, :func:`legend_size`), without a layout engine: panels
    narrow to fit ``max_width``, room is kept for titles of several lines
    (:func:`wrap_titles`), and the legend goes right of the panels when it fits
    there, else below them in as many columns as fit (:func:`figure_legend`).

Colours
    :class:`Palette` gives each optimizer *family* (the ``optimizer`` column:
    ``sgd``, ``adam``...) one colour of seaborn's colour-blind-safe
    ``"colorblind"`` palette, in the order of the sorted family names, and tells
    apart the configurations (labels, ``sgd[lr=0.1]``) of one family by line style
    in sorted label order: solid, dashed, dotted, dash-dotted, then the same with
    hollow markers.  Without a family mapping each label is its own family, so
    each label gets a colour of its own.  The report builds one palette from all
    its labels and their families (:func:`families_of`) and passes it to every
    figure, so an optimizer has the same colour everywhere; a figure drawn without
    one builds it from its own rows (:func:`data_palette`).  That palette has ten
    colours; families 11 to 20 reuse them with a filled marker on the line, 21 to
    30 with another marker, and so on, so that no two labels look alike.
"""

from __future__ import annotations

import math
import textwrap
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping, NamedTuple, Sequence, cast

import matplotlib
import numpy as np
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

#: Seaborn palette of the optimizer colours.
PALETTE_NAME = "colorblind"
#: Markers that tell apart labels sharing a colour and a line style.
CYCLE_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Line styles of the labels of one family, in sorted label order (then again with markers).
LINESTYLES = ("-", "--", ":", "-.")
#: Inches per panel (width, height) of faceted figures.
PANEL_SIZE = (4.2, 3.0)
#: Characters per line of wrapped panel titles and legend entries.
WRAP = 38

#: Smallest text size (pt) of a figure as it reads on the page (:func:`smallest_text_pt`).
MIN_FONT_PT = 9.0
#: Inches of the report's text column: 1200 CSS px at 96 CSS px per inch.  A wider
#: figure is shrunk to it, and its texts with it.
PAGE_WIDTH_IN = 12.5
#: Font sizes (pt): tick labels, legends and notes; axis labels; titles.
TEXT_PT = MIN_FONT_PT
LABEL_PT = 9.5
TITLE_PT = 10.0
#: Estimated width of a character in em (font sizes), for layouts computed without
#: measuring texts: measured 0.58 to 0.64 em for labels, digits and brackets in the
#: figures' sans-serif fonts (DejaVu Sans, Arial).
CHAR_EM = 0.63
#: Estimated height of a line of text in em: the first line, and each further line
#: (matplotlib's line spacing of 1.2 measured on labels with brackets and braces).
FIRST_LINE_EM, LINE_EM = 1.2, 1.5
#: Length of the line of a legend entry (em): long enough to show a dash-dot pattern.
HANDLE_EM = 3.0


def smallest_text_pt(fig: Figure, page_width_in: float = PAGE_WIDTH_IN) -> float:
    """The size (pt) of the smallest text of ``fig`` as it reads on the page.

    ``min(fontsize) * min(1, page_width_in / W)`` over the visible, non-empty texts
    of the figure (tick labels, titles, axis labels, legend texts, annotations, note
    boxes, colorbar labels), ``W`` the figure's width in inches: a figure wider than
    the page is shrunk to it.  A text counts when it and every artist holding it
    (its axes, legend...) are visible.  The figure is drawn without rendering
    first, so that its tick labels exist.  ``inf`` for a figure without text.
    """
    fig.draw_without_rendering()
    sizes = [text.get_fontsize() for text in _visible_texts(fig)]
    scale = min(1.0, page_width_in / fig.get_figwidth())
    return float(min(sizes)) * scale if sizes else math.inf


def _visible_texts(artist: Any) -> Iterator[Text]:
    """The non-empty texts under ``artist`` whose holders are all visible."""
    for child in artist.get_children():
        if not child.get_visible():
            continue
        if isinstance(child, Text) and child.get_text():
            yield child
        yield from _visible_texts(child)


#: The colours of :data:`PALETTE_NAME`, in order.
_BASE_COLORS = [tuple(color) for color in sns.color_palette(PALETTE_NAME, 10)]


def _marker(a: int, b: int) -> tuple[str | None, bool]:
    """``(marker, hollow)`` of a label in colour cycle ``a`` (families 1-10: 0, 11-20:
    1...) and marker cycle ``b`` within its family: none for (0, 0), filled markers
    for the colour cycles alone (as labels had them before families), hollow ones
    for the cycles within a family: in order for the first ten families, shifted by
    three markers per colour cycle after them."""
    if b == 0:
        return (None, False) if a == 0 else (CYCLE_MARKERS[(a - 1) % len(CYCLE_MARKERS)], False)
    return CYCLE_MARKERS[(b - 1 + 3 * a) % len(CYCLE_MARKERS)], True


class Palette:
    """A fixed mapping ``label -> colour, line style (and marker)``, built from sorted names.

    ``families`` maps labels to their family (an optimizer name); a label it does
    not map is a family of its own, named by the label.  Sorted family names take
    the colours of :data:`PALETTE_NAME` in order (families 11-20 repeat them with a
    filled marker, 21-30 with another...).  The labels of a family share its colour
    and, in sorted order, take the line styles of :data:`LINESTYLES` (solid first),
    then the same styles again with a hollow marker, and so on.

    ``Palette(["sgd[lr=0.1]", "adam"])`` (no families) gives ``adam`` the first
    colour and ``sgd[lr=0.1]`` the second, both solid, whatever the order of the
    input.  With ``families={"sgd[lr=0.1]": "sgd", "sgd[lr=1]": "sgd"}`` both sgd
    labels share sgd's colour, ``sgd[lr=0.1]`` solid and ``sgd[lr=1]`` dashed.  A
    label it was not built with gets a neutral grey (and :meth:`extended` makes a
    palette that knows it).
    """

    def __init__(self, labels: Iterable[Any], families: Mapping[Any, Any] | None = None) -> None:
        self.labels: list[str] = []
        self._family: dict[str, str] = {}
        self._family_index: dict[str, int] = {}
        self._members: dict[str, list[str]] = {}
        self._place: dict[str, tuple[int, int]] = {}
        self._add(labels, families)

    def _add(self, labels: Iterable[Any], families: Mapping[Any, Any] | None) -> None:
        """Place the labels it does not know yet: new families (sorted) take the next
        colours, new labels (sorted) the next styles of their family."""
        mapping = {str(k): str(v) for k, v in (families or {}).items()}
        new = sorted({str(label) for label in labels if label is not None} - set(self._place))
        for label in new:
            self._family[label] = mapping.get(label, label)
        for family in sorted({self._family[label] for label in new} - set(self._members)):
            self._family_index[family] = len(self._family_index)
            self._members[family] = []
        for label in new:
            members = self._members[self._family[label]]
            self._place[label] = (self._family_index[self._family[label]], len(members))
            members.append(label)
            self.labels.append(label)

    def __contains__(self, label: Any) -> bool:
        return str(label) in self._place

    def family(self, label: Any) -> str | None:
        """The family of ``label`` (itself without a mapping; None if unknown)."""
        return self._family.get(str(label))

    def color(self, label: Any) -> tuple[float, float, float]:
        """The colour of ``label``'s family (grey for an unknown label)."""
        place = self._place.get(str(label))
        if place is None:
            return (0.5, 0.5, 0.5)
        red, green, blue = _BASE_COLORS[place[0] % len(_BASE_COLORS)]
        return (float(red), float(green), float(blue))

    def linestyle(self, label: Any) -> str:
        """The line style of ``label``: its rank in its family picks one of :data:`LINESTYLES`."""
        place = self._place.get(str(label))
        return "-" if place is None else LINESTYLES[place[1] % len(LINESTYLES)]

    def _marker_of(self, label: Any, styled: bool = True) -> tuple[str | None, bool]:
        place = self._place.get(str(label))
        if place is None:
            return None, False
        family, rank = place
        return _marker(family // 10, rank // len(LINESTYLES) if styled else rank)

    def marker(self, label: Any) -> str | None:
        """The marker of ``label``, or None (the first ten families' first four labels)."""
        return self._marker_of(label)[0]

    def line_kw(self, label: Any, n_points: int | None = None, *, linestyle: bool = True) -> dict[str, Any]:
        """Keyword arguments of ``ax.plot`` for ``label``'s line: colour, line style when
        not solid, marker (and ``markevery`` for lines of more than 12 points).

        ``linestyle=False`` is for figures that use the line style for something else
        (training against validation): no line style, and the labels of a family are
        told apart by markers alone (the second label of a family gets one).
        """
        kw: dict[str, Any] = {"color": self.color(label)}
        style = self.linestyle(label)
        if linestyle and style != "-":
            kw["linestyle"] = style
        marker, hollow = self._marker_of(label, styled=linestyle)
        if marker is not None:
            kw.update(marker=marker, markersize=4)
            if hollow:
                kw.update(markerfacecolor="white", markersize=4.5)
            if n_points and n_points > 12:
                kw["markevery"] = max(1, n_points // 8)
        return kw

    def extended(self, labels: Iterable[Any], families: Mapping[Any, Any] | None = None) -> "Palette":
        """A palette of this one's labels and ``labels`` (self if it knows them all): the
        labels it knows keep their colours, styles and markers; new families (sorted)
        take the next colours, new labels of a known family its next styles."""
        labels = list(labels)
        if all(str(label) in self._place for label in labels if label is not None):
            return self
        wider = Palette([])
        wider.labels = list(self.labels)
        wider._family = dict(self._family)
        wider._family_index = dict(self._family_index)
        wider._members = {family: list(members) for family, members in self._members.items()}
        wider._place = dict(self._place)
        wider._add(labels, families)
        return wider

    def __repr__(self) -> str:
        if all(self._family[label] == label for label in self.labels):
            return f"Palette({self.labels!r})"
        return f"Palette({self.labels!r}, families={self._family!r})"


def families_of(data: Any) -> dict[str, str]:
    """``{optimizer_label: optimizer}`` of the rows of ``data`` (a table with those two
    columns; empty without an ``optimizer`` column): the families of a :class:`Palette`."""
    if data is None or "optimizer" not in getattr(data, "columns", ()) or data.empty:
        return {}
    pairs = data[["optimizer_label", "optimizer"]].drop_duplicates("optimizer_label")
    return {str(label): str(family) for label, family in pairs.itertuples(index=False)}


def palette_for(labels: Iterable[Any], palette: Palette | None,
                families: Mapping[Any, Any] | None = None) -> Palette:
    """``palette`` (extended to ``labels`` if needed), or a new one from ``labels``;
    ``families`` (label -> family) places the labels it does not know yet."""
    labels = list(labels)
    if palette is None:
        return Palette(labels, families)
    return palette.extended(labels, families)


def data_palette(labels: Iterable[Any], palette: Palette | None, data: Any) -> Palette:
    """:func:`palette_for` with the families of ``data`` (:func:`families_of`), read
    only when ``palette`` is None or lacks one of ``labels`` (a figure of the report,
    given the page's palette, reads no column)."""
    labels = list(labels)
    if palette is not None and all(str(label) in palette for label in labels if label is not None):
        return palette
    return palette_for(labels, palette, families_of(data))


def rc() -> dict[str, Any]:
    """The rc parameters of every figure: seaborn's whitegrid style and notebook line
    widths, texts at :data:`TEXT_PT` (ticks, legends), :data:`LABEL_PT` (axis labels)
    and :data:`TITLE_PT` (titles)."""
    params: dict[str, Any] = {}
    params.update(sns.axes_style("whitegrid"))
    params.update(sns.plotting_context("notebook", font_scale=0.8))
    params.update({
        "font.size": TEXT_PT,
        "xtick.labelsize": TEXT_PT,
        "ytick.labelsize": TEXT_PT,
        "axes.labelsize": LABEL_PT,
        "axes.titlesize": TITLE_PT,
        "figure.titlesize": TITLE_PT,
        "axes.titley": 1.0,  # a fixed title position: no search for overlaps at draw time
        "axes.titlepad": 4.0,
        "axes.titleweight": "normal",
        "legend.fontsize": TEXT_PT,
        "legend.title_fontsize": TEXT_PT,
        "legend.handlelength": HANDLE_EM,
        "legend.frameon": True,
        "legend.framealpha": 0.9,
        "svg.fonttype": "none",
    })
    return params


@contextmanager
def theme() -> Iterator[None]:
    """Apply :func:`rc` while a figure is built (the caller's settings are restored)."""
    with matplotlib.rc_context(cast(Any, rc())):  # rc keys are typed as literals
        yield


def new_figure(width: float, height: float) -> Figure:
    """A Figure with its own Agg canvas (no pyplot, no display)."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


# --------------------------------------------------------------------------- text sizes


def text_size(text: str, size: float = TEXT_PT) -> tuple[float, float]:
    """Estimated ``(width, height)`` in inches of ``text`` at ``size`` pt: its longest
    line at :data:`CHAR_EM` em per character, :data:`FIRST_LINE_EM` em for its first
    line and :data:`LINE_EM` em for each further one (upper bounds, within 10%)."""
    lines = str(text).split("\n")
    em = size / 72.0
    return (max(len(line) for line in lines) * CHAR_EM * em,
            (FIRST_LINE_EM + LINE_EM * (len(lines) - 1)) * em)


def fitting_chars(width: float, size: float = TITLE_PT) -> int:
    """Characters of a line of text at ``size`` pt that fit in ``width`` inches (at least 12)."""
    return max(12, int(width / (CHAR_EM * size / 72.0)))


#: Legend geometry in em of its font (matplotlib's defaults): border padding, space
#: between entries, between a handle and its text, between columns.
_BORDER_EM, _SPACING_EM, _TEXTPAD_EM, _COLUMN_EM = 0.4, 0.5, 0.8, 2.0
#: Inches between the figure's edge and a legend below the panels, and above it.
_LEGEND_PAD, _LEGEND_GAP = 0.08, 0.12


def legend_size(texts: Sequence[str], ncols: int = 1, *, title: str | None = None,
                size: float = TEXT_PT) -> tuple[float, float]:
    """Estimated ``(width, height)`` in inches of a legend of ``texts`` (already
    wrapped) in ``ncols`` columns, filled as matplotlib fills them (the first
    ``ceil(n / ncols)`` entries in the first column...)."""
    em = size / 72.0
    columns = [c for c in np.array_split(np.arange(len(texts)), max(1, ncols)) if len(c)]
    if not columns:
        return 0.0, 0.0
    sizes = [text_size(text, size) for text in texts]
    widths = [max(sizes[i][0] for i in column) for column in columns]
    width = (sum(widths) + len(columns) * (HANDLE_EM + _TEXTPAD_EM) * em
             + (len(columns) - 1) * _COLUMN_EM * em + 2 * _BORDER_EM * em)
    height = max(sum(sizes[i][1] for i in column) + (len(column) - 1) * _SPACING_EM * em
                 for column in columns) + 2 * _BORDER_EM * em
    if title:
        title_width, title_height = text_size(title, size)
        width = max(width, title_width + 2 * _BORDER_EM * em)
        height += title_height + _SPACING_EM * em
    return width, height


def legend_grid(texts: Sequence[str], width: float, *, title: str | None = None,
                size: float = TEXT_PT) -> tuple[int, float, float]:
    """``(ncols, width, height)`` of the lowest legend of ``texts`` no wider than
    ``width`` inches (one column if even that is wider), with its rows balanced:
    the fewest columns that give that number of rows."""
    n = len(texts)
    ncols = 1
    for k in range(n, 1, -1):
        if legend_size(texts, k, title=title, size=size)[0] <= width:
            ncols = k
            break
    rows = math.ceil(n / ncols) if n else 0
    ncols = math.ceil(n / rows) if rows else 1
    return (ncols, *legend_size(texts, ncols, title=title, size=size))


def legend_width(labels: Iterable[str], width: int = WRAP, *, title: str | None = "optimizer") -> float:
    """Inches a right-hand legend of ``labels`` (wrapped at ``width`` characters) needs,
    with its margin: the ``legend_width`` of :func:`facets`."""
    texts = [wrap(label, width) for label in labels]
    return legend_size(texts, 1, title=title)[0] + 0.15 if texts else 0.0


# --------------------------------------------------------------------------- layout


class Layout(NamedTuple):
    """The sizes of a :func:`facets` figure, in inches."""

    width: float
    height: float
    panel: tuple[float, float]  # one axes box
    left: float  # margins
    right: float
    top: float
    bottom: float
    wspace: float  # gaps between axes boxes
    hspace: float
    nrows: int
    ncols: int
    legend_below: bool  # the legend's room is below the panels (else right of them, or none)


#: Inches of a further line of a panel title (:data:`TITLE_PT`, :data:`LINE_EM`).
TITLE_LINE_IN = LINE_EM * TITLE_PT / 72.0


def facet_layout(n: int, ncols: int = 3, *, panel: tuple[float, float] = PANEL_SIZE,
                 legend_width: float = 0.0, bottom_legend: bool = False,
                 suptitle: bool | int = False, wspace: float = 0.75, hspace: float = 0.95,
                 left: float = 0.85, bottom: float = 0.6, legend: Sequence[str] | None = None,
                 legend_title: str | None = None, max_width: float | None = None,
                 title_lines: int = 2) -> Layout:
    """The sizes of a figure of ``n`` panels on a grid of ``ncols`` columns.

    Sizes are in inches: ``panel`` is one axes box, ``wspace``/``hspace`` the gaps
    between boxes (room for tick labels, axis labels and panel titles of
    ``title_lines`` lines: the top margin and ``hspace`` grow by
    :data:`TITLE_LINE_IN` per line beyond two), ``left`` and ``bottom`` the margins
    for the first column's and last row's labels, ``suptitle`` a strip on top for
    :func:`suptitle` (``True`` or its number of lines).

    ``max_width``: the panels narrow (never widen) so that the figure is at most
    that wide.  ``legend``: the texts of the figure's legend (:func:`optimizer_legend`,
    :func:`bottom_legend`; ``legend_title`` its title): it goes right of the panels
    when the figure stays within ``max_width`` with it at full panel size and it is
    not taller than the figure, else below the panels in as many columns as fit
    (:func:`legend_grid`).  Without ``legend``, the older ``legend_width`` (a
    column right of the panels) and ``bottom_legend`` (a one-row strip below them).
    """
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    extra = TITLE_LINE_IN * max(0, title_lines - 2)
    lines = int(suptitle)
    top = 0.5 + extra + (0.3 + TITLE_LINE_IN * (lines - 1) if lines else 0.0)
    hspace += extra
    bottom += 0.45 if bottom_legend else 0.0
    right = 0.25 + legend_width
    panel_w, panel_h = panel
    panels_height = nrows * panel_h + (nrows - 1) * hspace
    texts = [wrap(text) for text in legend or ()]
    if texts:
        beside, tall = legend_size(texts, 1, title=legend_title)
        full = left + ncols * panel_w + (ncols - 1) * wspace + right + beside + 0.15
        if (max_width is None or full <= max_width) and tall <= panels_height + bottom - 0.1:
            right += beside + 0.15
            texts = []
    if max_width is not None:
        panel_w = min(panel_w, (max_width - left - right - (ncols - 1) * wspace) / ncols)
    width = left + ncols * panel_w + (ncols - 1) * wspace + right
    if texts:
        bottom += legend_grid(texts, width - 2 * _LEGEND_PAD, title=legend_title)[2] + _LEGEND_GAP
    return Layout(width, top + panels_height + bottom, (panel_w, panel_h), left, right, top,
                  bottom, wspace, hspace, nrows, ncols, bool(texts))


def facets(n: int, ncols: int = 3, *, sharex: bool = False, sharey: bool = False,
           **sizes: Any) -> tuple[Figure, list[Any]]:
    """A figure with ``n`` panels on a grid of ``ncols`` columns (unused cells hidden).

    Returns ``(fig, axes)`` with ``axes`` a flat list of the ``n`` visible axes.
    ``sizes`` are the keyword arguments of :func:`facet_layout` (panel size, gaps,
    margins, legend, ``max_width``...), which computes the layout once, from these
    sizes, rather than a layout engine measuring every text at draw time (which
    costs more than the drawing).
    """
    lay = facet_layout(n, ncols, **sizes)
    fig = new_figure(lay.width, lay.height)
    fig.subplots_adjust(left=lay.left / lay.width, right=1 - lay.right / lay.width,
                        bottom=lay.bottom / lay.height, top=1 - lay.top / lay.height,
                        wspace=lay.wspace / lay.panel[0], hspace=lay.hspace / lay.panel[1])
    grid = fig.subplots(lay.nrows, lay.ncols, squeeze=False, sharex=sharex, sharey=sharey)
    flat = list(grid.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def wrap_titles(texts: Iterable[str], width: float) -> tuple[list[str], int]:
    """``texts`` wrapped (:func:`wrap`) to lines of ``width`` inches at :data:`TITLE_PT`,
    and the ``title_lines`` of :func:`facet_layout` they need (at least 2)."""
    wrapped = [wrap(text, fitting_chars(width)) for text in texts]
    return wrapped, max([2, *(text.count("\n") + 1 for text in wrapped)])


def axes_width(ax: Any) -> float:
    """Inches of the axes box of ``ax`` (the width of a panel of :func:`facets`)."""
    return float(ax.get_position().width * ax.figure.get_figwidth())


def suptitle(fig: Figure, text: str) -> None:
    """A figure title at the top left (needs ``facets(..., suptitle=True)``, or the
    number of its lines)."""
    height = fig.get_figheight()
    fig.suptitle(text, fontsize=TITLE_PT, x=0.01, y=1 - 0.12 / height, ha="left", va="top")


def figure_legend(fig: Figure, handles: list, texts: Sequence[str], *,
                  title: str | None = None, **kw: Any) -> None:
    """The figure's legend where :func:`facets` made room for it (``legend=texts``; both
    wrap them with :func:`wrap`): in
    one column right of the panels if the right margin holds it, else centred below
    them in as many columns as fit (the same :func:`legend_grid` as the layout)."""
    if not handles:
        return
    texts = [wrap(text) for text in texts]
    width, height = fig.get_size_inches()
    pars = fig.subplotpars
    beside = legend_size(texts, 1, title=title)[0]
    if (1 - pars.right) * width >= beside + 0.1 - 1e-9:
        where: dict[str, Any] = {"loc": "upper left", "ncols": 1,
                                 "bbox_to_anchor": (pars.right + 0.1 / width, pars.top)}
    else:
        ncols = legend_grid(texts, width - 2 * _LEGEND_PAD, title=title)[0]
        where = {"loc": "lower center", "ncols": ncols, "bbox_to_anchor": (0.5, _LEGEND_PAD / height)}
    fig.legend(handles, list(texts), title=title, fontsize=TEXT_PT, title_fontsize=TEXT_PT,
               borderaxespad=0.0, **where, **kw)


def bottom_legend(fig: Figure, handles: list, **kw: Any) -> None:
    """A legend of ``handles`` (their labels), without title, below the panels: in
    one row in the strip of ``facets(..., bottom_legend=True)``, in as many rows as
    needed with ``facets(..., legend=[their labels])``."""
    figure_legend(fig, handles, [str(handle.get_label()) for handle in handles], **kw)


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


def optimizer_legend(fig: Figure, palette: Palette, labels: Iterable[str], *,
                     extra: list[tuple[Any, str]] | None = None, title: str = "optimizer",
                     linestyle: bool = True) -> None:
    """One legend for the whole figure, a line per label (:meth:`Palette.line_kw`, with
    ``linestyle``), then the ``extra`` ``(handle, text)``: right of the panels or
    below them, where ``facets(..., legend=...)`` made room (:func:`figure_legend`)."""
    from matplotlib.lines import Line2D

    handles, texts = [], []
    for label in labels:
        handles.append(Line2D([], [], linewidth=1.8, **palette.line_kw(label, linestyle=linestyle)))
        texts.append(str(label))
    for handle, text in extra or []:
        handles.append(handle)
        texts.append(text)
    figure_legend(fig, handles, texts, title=title)


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
    """A text box (:data:`TEXT_PT`) in a corner of ``ax``."""
    x, ha = (0.98, "right") if "right" in loc else (0.02, "left")
    y, va = (0.97, "top") if "upper" in loc else (0.03, "bottom")
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=TEXT_PT, color=color,
            bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "0.8",
                  "alpha": 0.85})
