"""Where a page's figures go: files beside the page, or data URIs inside it.

:class:`FigureFolder` writes each figure twice into a folder beside the page, named
after it (``report.html`` -> ``report_figures/``): ``NN-name.png`` at :data:`PNG_DPI`
dots per inch, shown in the page and opened full size by a click, and ``NN-name.svg``
(text kept as text, the same bytes for the same figure), linked under the caption.
A figure the page only links (:meth:`FigureFolder.link`: every configuration of a
crowded study) is written as a PNG alone.
``NN`` numbers the figures in page order, so the names are stable from one build to
the next; :meth:`FigureFolder.remove_stale` deletes the figures of an earlier build
that this one did not draw.  Each file is written atomically.

:class:`EmbeddedFigures` puts each figure into the page as a base64 PNG data URI,
for a page that must be one file (:func:`reports.html.render_report`, which has no
folder to write to).  Such a figure cannot be opened larger than the page shows it.

Both give the template the figure's natural size in CSS pixels (:data:`CSS_PX_PER_INCH`
per inch): the page shows a figure at that size, shrunk only where the text column
is narrower, so a figure's point sizes are the page's (see
:func:`reports.style.smallest_text_pt`).
"""

from __future__ import annotations

import base64
import functools
import io
import re
import urllib.parse
from pathlib import Path
from typing import Any, Callable

import matplotlib

from optbench import store

#: Resolution of the PNG files (sharp on high-density screens too).
PNG_DPI = 150
#: Resolution of embedded PNGs (one-file pages stay small).
EMBED_DPI = 100
#: CSS pixels per inch: a figure W inches wide is shown W * 96 CSS pixels wide.
CSS_PX_PER_INCH = 96
#: The names of the figure files this module writes: ``NN-name.png`` / ``.svg``.
FILE_NAME = re.compile(r"^\d{2,}-[a-z0-9-]*\.(png|svg)$")
#: The longest ``name`` part of a figure's file name.
MAX_NAME = 60


def figure_bytes(fig: Any, fmt: str, dpi: int = PNG_DPI) -> bytes:
    """``fig`` saved as ``fmt`` (``"png"`` or ``"svg"``) on white.

    An SVG keeps its text as text (searchable, smaller) and has no date and fixed
    element ids (``svg.hashsalt``), so the same figure gives the same bytes.  The
    figures of :mod:`reports` belong to no pyplot figure manager; a pyplot figure
    passed in is closed after saving.
    """
    buffer = io.BytesIO()
    try:
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "optbench-report"}):
            kw: dict[str, Any] = {"dpi": dpi} if fmt == "png" else {"metadata": {"Date": None}}
            fig.savefig(buffer, format=fmt, facecolor="white", **kw)
    finally:
        if getattr(fig, "number", None) is not None:  # a pyplot figure: unregister it
            import matplotlib.pyplot as plt

            plt.close(fig)
    return buffer.getvalue()


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "xb") as handle:  # a new file: the user's umask applies
        handle.write(data)


def _size(fig: Any) -> dict[str, str]:
    width, height = fig.get_size_inches()
    return {"width": str(round(width * CSS_PX_PER_INCH)), "height": str(round(height * CSS_PX_PER_INCH))}


def file_stem(index: int, alt: str) -> str:
    """``NN-name``: the figure's number in the page and its alt text made a file name
    (lower case letters, digits and single hyphens, at most :data:`MAX_NAME` characters)."""
    name = re.sub(r"[^a-z0-9]+", "-", alt.lower()).strip("-")[:MAX_NAME].rstrip("-")
    return f"{index:02d}-{name or 'figure'}"


class EmbeddedFigures:
    """Figures as base64 PNG data URIs inside the page."""

    def add(self, fig: Any, alt: str) -> dict[str, str]:
        """The template's fields of one figure: ``src``, ``width``, ``height``
        (no ``png``/``svg`` links: there are no files)."""
        size = _size(fig)
        png = figure_bytes(fig, "png", EMBED_DPI)
        src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        return {"src": src, "png": "", "svg": "", **size}

    def link(self, draw: Callable[[], Any], alt: str) -> dict[str, str] | None:
        """None: a one-file page has no room for a figure that is only linked (``draw``
        is not called)."""
        return None


class FigureFolder:
    """Figures as ``NN-name.png`` and ``.svg`` files in the folder beside ``page``."""

    def __init__(self, page: str | Path) -> None:
        page = Path(page)
        self.folder = page.parent / f"{page.stem}_figures"
        self._href = urllib.parse.quote(self.folder.name)
        self.written: list[str] = []

    def add(self, fig: Any, alt: str) -> dict[str, str]:
        """Write one figure (SVG first, then PNG); the template's fields: ``src`` and
        ``png`` (the PNG, relative to the page), ``svg``, ``width``, ``height``."""
        stem = file_stem(self._count() + 1, alt)
        size = _size(fig)
        links = {}
        for fmt in ("svg", "png"):
            data = figure_bytes(fig, fmt)
            name = f"{stem}.{fmt}"
            store.replace_atomically(self.folder / name, functools.partial(_write_bytes, data=data))
            self.written.append(name)
            links[fmt] = f"{self._href}/{name}"
        return {"src": links["png"], **links, **size}

    def link(self, draw: Callable[[], Any], alt: str) -> dict[str, str] | None:
        """Draw a figure that the page links but does not show (a view of the same data
        with every configuration) as a PNG only: its ``png`` link (``svg`` empty), or
        None when ``draw`` gives no figure.  Such a figure draws every configuration,
        often hundreds of paths: its SVG would cost more than the rest of the page."""
        fig = draw()
        if fig is None:
            return None
        name = f"{file_stem(self._count() + 1, alt)}.png"
        data = figure_bytes(fig, "png")
        store.replace_atomically(self.folder / name, functools.partial(_write_bytes, data=data))
        self.written.append(name)
        return {"png": f"{self._href}/{name}", "svg": ""}

    def _count(self) -> int:
        """Figures written so far (an SVG and its PNG count once)."""
        return len({name.rsplit(".", 1)[0] for name in self.written})

    def remove_stale(self) -> list[str]:
        """Delete the figure files of an earlier build that this one did not write
        (only names this module makes); returns their names."""
        if not self.folder.is_dir():
            return []
        keep = set(self.written)
        stale = sorted(p.name for p in self.folder.iterdir()
                       if FILE_NAME.match(p.name) and p.name not in keep)
        for name in stale:
            (self.folder / name).unlink(missing_ok=True)
        return stale
