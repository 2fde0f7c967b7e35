"""The page's plain data: inline spans, blocks and sections that the templates turn
into HTML (``templates/_blocks.html.j2``).

Every string here is text, never HTML: the templates escape it.  Inline content is
a list of strings and the dicts made by :func:`code`, :func:`strong` and
:func:`link`; a block is a dict with a ``"kind"`` (:func:`p`, :func:`table`,
:func:`figure`, ``"h3"``, ``"h4"``, ``"ul"``, ``"details"``); a :class:`Section` is a
titled list of blocks with sub-headings for the contents.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Iterable

import numpy as np

from .figure_files import EmbeddedFigures, FigureFolder

Inline = Any  # str | dict
Block = dict[str, Any]


def code(text: Any) -> dict[str, Any]:
    return {"tag": "code", "text": str(text)}


def strong(*spans: Inline, cls: str = "") -> dict[str, Any]:
    return {"tag": "strong", "cls": cls, "spans": list(spans)}


def link(href: str, text: str) -> dict[str, Any]:
    return {"tag": "a", "href": href, "text": text}


def p(*spans: Inline, cls: str = "") -> Block:
    return {"kind": "p", "cls": cls, "spans": list(spans)}


def spans(content: Any) -> list[Inline]:
    """Inline content: a list of spans as it is, anything else as its text."""
    return content if isinstance(content, list) else [str(content)]


# --------------------------------------------------------------------------- formatting


def num(value: Any, digits: int = 3) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if np.isnan(v):
        return "\N{EN DASH}"
    if np.isinf(v):
        return "\N{INFINITY}" if v > 0 else "\N{MINUS SIGN}\N{INFINITY}"
    return f"{v:.{digits}g}"


def value_range(low: Any, high: Any) -> str:
    return f"{num(low)} \N{EN DASH} {num(high)}"


def table(header: list[str], rows: Iterable[list[Any]], left: Iterable[int] = (0,),
          classes: dict[int, str] | None = None) -> Block:
    """A table block; a cell is text (any value, shown as ``str``) or a list of spans.

    Columns in ``left`` are left-aligned; ``classes`` gives other columns a CSS class.
    """
    cls = {i: "l" for i in left}
    cls.update(classes or {})
    return {
        "kind": "table",
        "header": [{"cls": "l" if i in cls else "", "text": str(h)} for i, h in enumerate(header)],
        "rows": [[{"cls": cls.get(i, ""), "spans": spans(cell)} for i, cell in enumerate(row)]
                 for row in rows],
    }


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --------------------------------------------------------------------------- figures


Figures = FigureFolder | EmbeddedFigures


def figure(figures: Figures, draw: Callable[[], Any], caption: str | list[Inline],
           alt: str, more: Iterable[tuple[str, Callable[[], Any], str]] = ()) -> Block | None:
    """Draw one figure, hand it to ``figures`` (files beside the page, or embedded) and
    return its block with the caption (None when there is no data).

    ``more``: other views of the same data, each ``(link text, draw, alt)``, written
    as files that the caption links (:meth:`FigureFolder.link`; a one-file page has
    none).  A figure that fails to draw is reported in the page (and as a warning)
    instead of stopping the report.
    """
    try:
        fig = draw()
        if fig is None:
            return None
        fields = figures.add(fig, alt)
    except OSError:
        raise  # a file that cannot be written (a full disk) is not a broken figure
    except Exception as exc:  # one broken figure must not cost the whole report
        warnings.warn(f"optbench report: figure '{alt}' could not be drawn: {exc!r}",
                      RuntimeWarning, stacklevel=2)
        return p(f"The figure \N{LEFT DOUBLE QUOTATION MARK}{alt}\N{RIGHT DOUBLE QUOTATION MARK} "
                 f"could not be drawn: {exc!r}", cls="warn")
    links = []
    for text, draw_more, alt_more in more:
        try:
            link = figures.link(draw_more, alt_more)
        except OSError:
            raise
        except Exception as exc:  # the linked view is lost, not the page
            warnings.warn(f"optbench report: figure '{alt_more}' could not be drawn: {exc!r}",
                          RuntimeWarning, stacklevel=2)
            continue
        if link is not None:
            links.append({"text": text, **link})
    # Not marked safe: a data URI holds only [A-Za-z0-9+/=;:,] and a file link is
    # percent-quoted, which escaping leaves as they are.
    return {"kind": "figure", "alt": alt, **fields, "caption": spans(caption), "more": links}


class Section:
    def __init__(self, ident: str, title: str) -> None:
        self.ident, self.title = ident, title
        self.blocks: list[Block] = []
        self.children: list[tuple[str, str]] = []

    def sub(self, ident: str, title: str) -> None:
        self.children.append((ident, title))
        self.blocks.append({"kind": "h3", "id": ident, "title": title})

    def add(self, *blocks: Block | None) -> None:
        self.blocks.extend(b for b in blocks if b)

    def data(self) -> dict[str, Any]:
        """The section as the template takes it."""
        return {"id": self.ident, "title": self.title, "blocks": self.blocks,
                "children": [{"id": i, "title": t} for i, t in self.children]}


# --------------------------------------------------------------------------- long lists
#
# A study of thousands of runs must not become thousands of table rows: a list of
# failed or diverged runs longer than MAX_LISTED_RUNS becomes one row per optimizer
# configuration, and a table longer than its limit shows its first rows and folds the
# others into a <details> block, saying how many it holds.


def long_table(header: list[str], rows: list[list[Any]], shown: int, what: str,
               **kwargs: Any) -> list[Block]:
    """The first ``shown`` rows as a table; the others folded below it, in a details
    block titled with their number and ``what`` they are (a plural noun)."""
    if len(rows) <= shown:
        return [table(header, rows, **kwargs)]
    rest = rows[shown:]
    return [table(header, rows[:shown], **kwargs),
            {"kind": "details", "summary": f"show the other {len(rest)} {what}",
             "blocks": [table(header, rest, **kwargs)]}]


def seed_ranges(seeds: Iterable[Any]) -> str:
    """``0–3, 7, 9–10``: the distinct seeds, consecutive ones joined."""
    spans: list[list[int]] = []
    for value in sorted({int(s) for s in seeds}):
        if spans and value == spans[-1][1] + 1:
            spans[-1][1] = value
        else:
            spans.append([value, value])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)
