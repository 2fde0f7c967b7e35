"""The scorecard of ``optbench score``: one HTML page and its figures, from plain tables.

:func:`write_scorecard` takes what the scoring harness computed under a protocol
such as "optbench-score v1" (``meta``, JSON data, and the tables ``scores``,
``times``, ``profile``, ``budget``, ``leave_one_out`` and ``workloads``) and writes
``out_dir/scorecard.html`` with its figures beside it in ``out_dir/figures/``
(``profile.svg``/``.png`` and, under the external ruleset, ``budget.svg``/``.png``).
It never runs an optimizer: tables in, files out (written atomically with
:func:`optbench.store.replace_atomically`, as the report is).

The page reads on its own, for someone who has never seen optbench: the verdict
(the submission against the best tuned baseline, on the primary axis, cost in
gradient-equivalents), the scores with their intervals, the performance profile,
the score against the size of the search, the time to target on every workload,
the leave-one-workload-out check of the ranking, and how the score is computed,
with the settings, the submission's search space and the environments.

Conventions of the package (see :mod:`reports.html`): the page is rendered from
``templates/scorecard.html.j2`` with the report's environment (autoescape on,
StrictUndefined) and the macros of ``templates/_blocks.html.j2``; the functions here
build plain data (text, numbers formatted as strings), never HTML, so every string
from ``meta`` or the tables (a method name such as ``<script>``, a note, an
environment value) is shown as text.
Figures use :mod:`reports.style` (theme, one :class:`~reports.style.Palette` for
all of them, so a method has one colour everywhere) with every text at least
:data:`MIN_FONT_PT` points, and are at most :data:`FIGURE_WIDTH` inches wide: the
page shows them at their natural size (96 CSS pixels per inch), so at page width a
point in the figure is a point on screen; a click opens the SVG full size.
Every file is written atomically (a temporary file beside it, then ``os.replace``),
the figures first and the page last, so the page never links a missing figure.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from optbench import store

from .html import template_environment
from .style import Palette, new_figure, rc, wrap

#: The page's file name in ``out_dir``, and the folder of its figures.
PAGE = "scorecard.html"
FIGURES = "figures"
#: The figures' base names (each written as ``.svg`` and ``.png``).
PROFILE_FIGURE = "profile"
BUDGET_FIGURE = "budget"

#: The smallest text in a figure, in points, when it is shown at its natural size.
MIN_FONT_PT = 9.0
#: The widest figure, in inches; the page's text column is :data:`PAGE_WIDTH_PX` CSS
#: pixels (96 per inch) wide, so a figure is never shrunk at page width.
FIGURE_WIDTH = 9.0
PAGE_WIDTH_PX = 960
CSS_PX_PER_INCH = 96
#: Resolution of the PNG figures (sharp on high-density screens too).
PNG_DPI = 150
#: Inches of one panel (width, height) of the profile and of the budget figure.
PROFILE_PANEL = (3.6, 2.9)
BUDGET_PANEL = (5.6, 3.0)
#: Characters per line of the legends' method names.
LEGEND_WRAP = 34

#: The two axes time is measured on: gradient-equivalents (primary) and seconds.
AXES = ("cost", "seconds")
AXIS_NAMES = {"cost": "cost (gradient-equivalents)", "seconds": "wall-clock seconds"}
PANEL_TITLES = {"cost": "cost in gradient-equivalents (primary axis)", "seconds": "seconds (secondary axis)"}

#: What each workload metric is (a run reaches the target once the metric is at most it).
METRICS = {
    "subopt": "suboptimality f \N{MINUS SIGN} f* of the training objective",
    "val_loss": "loss on held-out validation data",
    "loss": "training loss",
}

RULESETS = {
    "external": ("the harness tunes every method: each study tries K configurations of the method's "
                 "search space (the same quasi-random points for every method) and keeps the fastest"),
    "self": ("no search: each study runs one configuration per method (its defaults and fixed values), "
             "with the budget multiplied by the budget factor"),
}

VERDICT_CLASSES = {"better": "better", "worse": "worse", "indistinguishable": "indistinguishable"}


Inline = Any  # str | dict: the inline content of templates/_blocks.html.j2
Block = dict[str, Any]

# --------------------------------------------------------------------------- template


# --------------------------------------------------------------------------- page data


def _p(*spans: Inline, cls: str = "") -> Block:
    return {"kind": "p", "cls": cls, "spans": [s if isinstance(s, dict) else str(s) for s in spans]}


def _code(text: Any) -> dict[str, Any]:
    return {"tag": "code", "text": str(text)}


def _strong(*spans: Inline, cls: str = "") -> dict[str, Any]:
    return {"tag": "strong", "cls": cls, "spans": [s if isinstance(s, dict) else str(s) for s in spans]}


def _link(href: str, text: str) -> dict[str, Any]:
    return {"tag": "a", "href": href, "text": text}


def _h3(ident: str, title: str) -> Block:
    return {"kind": "h3", "id": ident, "title": str(title)}


def _ul(items: Iterable[Any]) -> Block:
    return {"kind": "ul", "entries": [[str(item)] for item in items]}


def _cell(*lines: Any, cls: str = "", swatch: str = "") -> dict[str, Any]:
    """A table cell: lines of text (a line is any value shown as text, or a list of spans)."""
    return {"cls": cls, "swatch": swatch,
            "lines": [line if isinstance(line, list) else [str(line)] for line in lines]}


def _row(cells: Sequence[dict[str, Any]], cls: str = "") -> dict[str, Any]:
    return {"cls": cls, "cells": list(cells)}


def _table(header: Sequence[Any], rows: Sequence[dict[str, Any]], cls: str = "") -> Block:
    head = [h if isinstance(h, dict) else _cell(h) for h in header]
    return {"kind": "sctable", "cls": cls, "header": head, "rows": list(rows)}


# --------------------------------------------------------------------------- formatting


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _num(value: Any, digits: int = 3) -> str:
    v = _float(value)
    if math.isnan(v):
        return "\N{EN DASH}"
    if math.isinf(v):
        return "\N{INFINITY}" if v > 0 else "\N{MINUS SIGN}\N{INFINITY}"
    return f"{v:.{digits}g}"


def _score(value: Any) -> str:
    v = _float(value)
    return f"{v:.3f}" if math.isfinite(v) else _num(v)


def _amount(value: Any, axis: str) -> str:
    """A time to target: gradient-equivalents with thousands separators, or seconds."""
    v = _float(value)
    if not math.isfinite(v):
        return _num(v)
    if axis == "seconds":
        return f"{v:.3g} s"
    return f"{v:,.0f}" if 1000 <= abs(v) < 1e9 else f"{v:.3g}"


def _count(value: Any) -> str:
    v = _float(value)
    return f"{v:,.0f}" if math.isfinite(v) and v == round(v) else _num(v)


def _text(value: Any) -> str:
    """A value of ``meta`` as text: strings as they are, anything else as compact JSON."""
    if value is None:
        return "unknown"
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return str(value)
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def _distribution(spec: Any) -> str:
    """A search dimension (``{"log_uniform": [lo, hi]}`` and the like) in words."""
    if isinstance(spec, Mapping) and len(spec) == 1:
        (kind, args), = spec.items()
        if isinstance(args, (list, tuple)):
            if kind == "log_uniform" and len(args) == 2:
                return f"log-uniform on [{_num(args[0])}, {_num(args[1])}]"
            if kind == "uniform" and len(args) == 2:
                return f"uniform on [{_num(args[0])}, {_num(args[1])}]"
            if kind == "int_range" and len(args) == 2:
                return f"an integer from {_text(args[0])} to {_text(args[1])}"
            if kind == "choice":
                return "one of " + ", ".join(_text(a) for a in args)
    return _text(spec)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _mpl(text: Any) -> str:
    """Text for matplotlib: a ``$`` would start mathtext (and a hostile name could break the figure)."""
    return str(text).replace("$", r"\$")


# --------------------------------------------------------------------------- inputs


_COLUMNS = {
    "scores": ["axis", "method", "submission", "score", "low", "high"],
    "times": ["axis", "method", "workload", "time", "low", "high", "ratio"],
    "profile": ["axis", "method", "tau", "fraction"],
    "budget": ["trials", "method", "score", "low", "high"],
    "leave_one_out": ["left_out", "kendall_tau", "top", "top_changed"],
    "workloads": ["workload", "problem", "metric", "target", "budget", "description"],
}


def _tables(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The six tables, an absent one as an empty table with its columns; ValueError if a
    given table lacks a column."""
    out = {}
    for name, columns in _COLUMNS.items():
        table = tables.get(name)
        if table is None:
            table = pd.DataFrame(columns=columns)
        missing = [c for c in columns if c not in table.columns and c != "description"]
        if missing:
            raise ValueError(f"table {name!r} lacks the column(s) {', '.join(missing)}")
        table = table.copy()
        if "description" in columns and "description" not in table.columns:
            table["description"] = ""
        for column in ("axis", "method", "workload", "left_out", "top"):
            if column in table.columns:
                table[column] = table[column].astype(str)
        out[name] = table.reset_index(drop=True)
    return out


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return bool(value)


class _Methods:
    """The methods: the submission, their display order (the submission first) and
    their colours (one palette for every figure and table of the page)."""

    def __init__(self, submission: str, names: Iterable[Any], palette: Palette | None = None) -> None:
        self.submission = str(submission)
        names = list(dict.fromkeys(str(n) for n in names))
        self.order = ([self.submission] if self.submission in names else []) + [
            n for n in names if n != self.submission]
        self.palette = palette.extended(self.order) if palette is not None else Palette(self.order)

    def is_submission(self, name: Any) -> bool:
        return str(name) == self.submission

    def swatch(self, name: Any) -> str:
        colour = to_hex(self.palette.color(name))
        return colour if re.fullmatch(r"#[0-9a-f]{6}", colour) else ""

    def label(self, name: Any) -> str:
        """The name, marked when it is the submission's (unless it already says so: a
        submission named as a baseline is called ``"adam (submission)"``)."""
        text = str(name)
        if not self.is_submission(name) or text.endswith(" (submission)"):
            return text
        return f"{text} (submission)"


def _methods(meta: Mapping[str, Any], t: dict[str, pd.DataFrame]) -> _Methods:
    """The methods of the page: the submission (flagged in ``scores``, else named in
    ``meta``), then the others by their cost score, best first."""
    scores = t["scores"]
    flagged = [str(m) for m, s in zip(scores["method"], scores["submission"]) if _flag(s)]
    sub = meta.get("submission") or {}
    submission = flagged[0] if flagged else str(sub.get("name", ""))
    names = dict.fromkeys(str(n) for n in [*scores["method"], *t["times"]["method"],
                                           *t["profile"]["method"], *t["budget"]["method"]])
    cost = scores[scores["axis"] == "cost"].drop_duplicates("method").set_index("method")["score"]

    def by_score(name: str) -> tuple[bool, float, str]:
        value = _float(cost.get(name, math.nan))
        return (math.isnan(value), 0.0 if math.isnan(value) else -value, name)

    return _Methods(submission, sorted(names, key=by_score))


# --------------------------------------------------------------------------- figures


def _figure_rc() -> dict[str, Any]:
    """:func:`reports.style.rc` with every text at least :data:`MIN_FONT_PT` points."""
    params = rc()
    params.update({
        "font.size": 10.0,
        "axes.titlesize": 10.0,
        "axes.labelsize": 10.0,
        "xtick.labelsize": MIN_FONT_PT,
        "ytick.labelsize": MIN_FONT_PT,
        "legend.fontsize": MIN_FONT_PT,
        "legend.title_fontsize": MIN_FONT_PT,
        "figure.titlesize": 10.0,
        "svg.hashsalt": "optbench-scorecard",  # the same SVG for the same tables
    })
    return params


def _line_kw(methods: _Methods, name: str) -> dict[str, Any]:
    kw = methods.palette.line_kw(name)
    if methods.is_submission(name):
        kw.update(linewidth=3.2, zorder=4, alpha=1.0)
    else:
        kw.update(linewidth=1.6, zorder=3, alpha=0.9)
    return kw


def _legend(fig: Figure, methods: _Methods, names: Sequence[str], *, top: float, panel_height: float,
            marker: str | None = None) -> None:
    """One legend below the panels, as many columns as fit the figure's width; the figure
    then grows to fit it exactly (measured, not guessed: names can be long)."""
    handles = []
    for name in names:
        kw = _line_kw(methods, name)
        kw.pop("zorder", None)
        if marker and "marker" not in kw:
            kw.update(marker=marker, markersize=5)
        handles.append(Line2D([], [], **kw))
    texts = [wrap(_mpl(methods.label(n)), LEGEND_WRAP) for n in names]
    width = fig.get_figwidth()
    renderer = fig.canvas.get_renderer()
    ncols = max(1, len(texts))
    while True:
        legend = fig.legend(handles, texts, loc="lower center", ncols=ncols, fontsize=MIN_FONT_PT,
                            frameon=False, handlelength=2.2, columnspacing=1.4)
        box = legend.get_window_extent(renderer)
        if box.width / fig.dpi <= width - 0.2 or ncols == 1:
            break
        legend.remove()
        ncols -= 1
    below = 0.62 + box.height / fig.dpi + 0.12  # the x label, the legend, a margin
    height = top + panel_height + below
    fig.set_size_inches(width, height)
    fig.subplots_adjust(bottom=below / height, top=1 - top / height)
    legend.set_bbox_to_anchor((0.5, 0.06 / height), transform=fig.transFigure)


def _panels(n: int, *, panel: tuple[float, float], left: float = 0.8, wspace: float = 0.7,
            top: float = 0.45) -> tuple[Figure, list[Any]]:
    """``n`` panels side by side under a title strip (:func:`_legend` adds the room below)."""
    width = min(FIGURE_WIDTH, left + n * panel[0] + (n - 1) * wspace + 0.3)
    height = top + panel[1] + 1.0
    fig = new_figure(width, height)
    fig.subplots_adjust(left=left / width, right=1 - 0.3 / width, bottom=1.0 / height,
                        top=1 - top / height, wspace=wspace / panel[0])
    axes = list(np.atleast_1d(fig.subplots(1, n, squeeze=False)).ravel())
    return fig, axes


def profile_figure(profile: pd.DataFrame, submission: str, *, tau_max: float = 4.0,
                   palette: Palette | None = None) -> Figure | None:
    """The performance profile, one panel per axis (cost, then seconds): for each method
    the fraction of workloads it reaches within a factor tau of the fastest method's
    time, a step function on [1, tau_max] (the rows of ``profile``: ``axis, method,
    tau, fraction``), the submission's line thick; None when the table is empty."""
    if profile is None or profile.empty:
        return None
    return _profile_figure(profile.astype({"axis": str, "method": str}),
                           _Methods(submission, profile["method"], palette), tau_max)


def budget_figure(budget: pd.DataFrame, submission: str, *, palette: Palette | None = None
                  ) -> Figure | None:
    """The score against the trials per study (rows ``trials, method, score, low,
    high``): one line per method with its interval as a band, log2 axis, the
    submission's line thick; None when the table is empty."""
    if budget is None or budget.empty:
        return None
    return _budget_figure(budget.astype({"method": str}), _Methods(submission, budget["method"], palette))


def _profile_figure(profile: pd.DataFrame, methods: _Methods, tau_max: float) -> Figure | None:
    if profile.empty:
        return None
    axes_present = [a for a in AXES if (profile["axis"] == a).any()]
    axes_present += sorted(set(profile["axis"]) - set(AXES))
    names = [m for m in methods.order if (profile["method"] == m).any()]
    with matplotlib.rc_context(_figure_rc()):
        fig, panels = _panels(len(axes_present), panel=PROFILE_PANEL)
        for ax, axis in zip(panels, axes_present):
            rows = profile[profile["axis"] == axis]
            for name in names:
                curve = rows[rows["method"] == name].sort_values("tau", kind="stable")
                tau = curve["tau"].to_numpy(dtype=float)
                frac = curve["fraction"].to_numpy(dtype=float)
                keep = np.isfinite(tau) & np.isfinite(frac)
                tau, frac = tau[keep], frac[keep]
                if tau.size == 0:
                    continue
                if tau[0] > 1.0:  # no workload within a factor below the first breakpoint
                    tau, frac = np.insert(tau, 0, 1.0), np.insert(frac, 0, 0.0)
                if tau[-1] < tau_max:
                    tau, frac = np.append(tau, tau_max), np.append(frac, frac[-1])
                ax.plot(tau, frac, drawstyle="steps-post", **_line_kw(methods, name))
            ax.set_xlim(1.0, tau_max)
            ax.set_ylim(-0.03, 1.03)
            ax.xaxis.set_major_locator(FixedLocator(np.arange(1.0, math.floor(tau_max) + 1.0)))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xlabel("\N{GREEK SMALL LETTER TAU}: time within this factor of the fastest")
            ax.set_ylabel("fraction of workloads")
            ax.set_title(_mpl(PANEL_TITLES.get(axis, axis)), loc="left")
        _legend(fig, methods, names, top=0.45, panel_height=PROFILE_PANEL[1])
    return fig


def _budget_figure(budget: pd.DataFrame, methods: _Methods) -> Figure | None:
    if budget.empty:
        return None
    names = [m for m in methods.order if (budget["method"] == m).any()]
    trials = np.unique(pd.to_numeric(budget["trials"], errors="coerce").dropna().to_numpy(dtype=float))
    trials = trials[trials > 0]
    if trials.size == 0:
        return None
    with matplotlib.rc_context(_figure_rc()):
        fig, (ax,) = _panels(1, panel=BUDGET_PANEL)
        for name in names:
            rows = budget[budget["method"] == name].assign(
                trials=lambda d: pd.to_numeric(d["trials"], errors="coerce")).sort_values("trials")
            rows = rows[rows["trials"] > 0]
            k = rows["trials"].to_numpy(dtype=float)
            kw = _line_kw(methods, name)
            kw.setdefault("marker", "o")
            kw.setdefault("markersize", 5)
            ax.plot(k, rows["score"].to_numpy(dtype=float), **kw)
            low, high = rows["low"].to_numpy(dtype=float), rows["high"].to_numpy(dtype=float)
            alpha = 0.22 if methods.is_submission(name) else 0.12
            if k.size == 1:  # a band needs two points: the interval as a bar
                ax.vlines(k, low, high, color=kw["color"], alpha=2 * alpha, linewidth=7,
                          zorder=kw["zorder"] - 1)
            else:
                ax.fill_between(k, low, high, color=kw["color"], alpha=alpha, linewidth=0,
                                zorder=kw["zorder"] - 1)
        ax.set_xscale("log", base=2)
        ax.set_xlim(float(trials.min()) / 2 ** 0.25, float(trials.max()) * 2 ** 0.25)
        ax.xaxis.set_major_locator(FixedLocator(trials))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("trials per study (log2 scale)")
        ax.set_ylabel("score (cost axis)")
        ax.set_title("score against the size of the search", loc="left")
        _legend(fig, methods, names, top=0.45, panel_height=BUDGET_PANEL[1], marker="o")
    return fig


def _write_atomic(path: Path, write: Callable[[Any], Any], mode: str) -> Path:
    """``write(handle)`` into a new file opened with ``mode`` (``"x"`` or ``"xb"``) beside
    ``path``, renamed over it (:func:`optbench.store.replace_atomically`)."""
    def into(tmp: Path) -> None:
        with open(tmp, mode, **({"encoding": "utf-8"} if "b" not in mode else {})) as handle:
            write(handle)

    return store.replace_atomically(path, into)


def _save(fig: Figure, directory: Path, name: str) -> dict[str, Any]:
    """Write ``fig`` as ``name.svg`` and ``name.png``; returns the page's figure fields.

    Saved under the figures' rc parameters: the SVG keeps its text as text (searchable,
    escaped by matplotlib) and gets the same element ids from the same tables."""
    with matplotlib.rc_context(_figure_rc()):
        _write_atomic(directory / f"{name}.svg",
                      lambda h: fig.savefig(h, format="svg", facecolor="white", metadata={"Date": None}),
                      "xb")
        _write_atomic(directory / f"{name}.png",
                      lambda h: fig.savefig(h, format="png", dpi=PNG_DPI, facecolor="white"), "xb")
    width, height = fig.get_size_inches()
    return {"svg": f"{FIGURES}/{name}.svg", "png": f"{FIGURES}/{name}.png",
            "width": str(round(width * CSS_PX_PER_INCH)), "height": str(round(height * CSS_PX_PER_INCH))}


# --------------------------------------------------------------------------- sections


def _verdict_block(v: Mapping[str, Any], axis: str, level: float) -> Block:
    word = str(v.get("verdict", "unknown"))
    sentence = str(v.get("sentence") or "No verdict was recorded.")
    details: list[list[Inline]] = []
    if "difference" in v:
        details.append([f"On the {AXIS_NAMES.get(axis, axis)} axis: the submission's score minus "
                        f"the best baseline's ({v.get('baseline', '?')}), with its {level:.0%} paired "
                        "bootstrap interval. \u201cBetter\u201d or \u201cworse\u201d means the whole "
                        "interval lies above or below 0."])
    return {"kind": "verdict", "cls": VERDICT_CLASSES.get(word, "unknown"), "word": word,
            "sentence": sentence, "details": details}


def _scores_table(scores: pd.DataFrame, axis: str, methods: _Methods, best_baseline: str,
                  level: float) -> Block | None:
    rows = scores[scores["axis"] == axis].copy()
    if rows.empty:
        return None
    rows["order"] = pd.to_numeric(rows["score"], errors="coerce")
    rows = rows.sort_values(["order", "method"], ascending=[False, True], na_position="last", kind="stable")
    out = []
    rank = 0
    last = None
    for i, r in enumerate(rows.itertuples(index=False), start=1):
        if r.order != last:
            rank, last = i, r.order
        name = str(r.method)
        role = ("submission" if methods.is_submission(name)
                else "best baseline" if name == best_baseline else "baseline")
        out.append(_row([_cell(str(rank)), _cell(name, cls="l", swatch=methods.swatch(name)),
                         _cell(role, cls="l"), _cell(_score(r.score)),
                         _cell(f"{_score(r.low)} \N{EN DASH} {_score(r.high)}")],
                        cls="submission" if role == "submission" else ""))
    return _table(["rank", _cell("method", cls="l"), _cell("role", cls="l"), "score",
                   f"{level:.0%} interval"], out)


def _scores_section(meta: Mapping[str, Any], t: dict[str, pd.DataFrame], methods: _Methods,
                    level: float, tau_max: float) -> dict[str, Any]:
    verdicts = meta.get("verdict") or {}
    blocks: list[Block] = [_p(
        "Each method's score is a number between 0 and 1 that sums up how quickly it reaches the "
        "target on every workload compared with the fastest method there: 1 means it is the fastest "
        f"on every workload, 0 that it is never within a factor {tau_max:g} of the fastest (or never "
        "reaches a target). Higher is better. Scores are relative to the methods compared here: "
        "adding a faster method lowers everyone else's. The interval is a "
        f"{level:.0%} bootstrap interval over the studies.")]
    blocks.append(_h3("scores-cost", "Primary axis: cost in gradient-equivalents"))
    blocks.append(_p("Time is counted in gradient-equivalents (the work of one gradient evaluation; "
                     "a loss evaluation counts half), which does not depend on the machine. "
                     "The submission's row is highlighted."))
    best_cost = str((verdicts.get("cost") or {}).get("baseline", ""))
    table = _scores_table(t["scores"], "cost", methods, best_cost, level)
    blocks.append(table or _p("There are no scores on the cost axis.", cls="warn"))
    blocks.append(_h3("scores-seconds", "Secondary axis: wall-clock seconds"))
    if _flag(meta.get("baselines_rerun")):
        blocks.append(_p("All methods, the baselines included, ran on this machine, so their seconds "
                         "are comparable."))
    else:
        blocks.append(_p("The baselines' seconds come from another machine (the one that made the "
                         "shipped baseline runs; its environment is listed under ",
                         _link("#method", "How the score is computed"),
                         "), the submission's from this one: compare them with care, or score again "
                         "with the baselines rerun here.", cls="warn"))
    if verdicts.get("seconds"):
        blocks.append(_verdict_block(verdicts["seconds"], "seconds", level))
    best_seconds = str((verdicts.get("seconds") or {}).get("baseline", ""))
    table = _scores_table(t["scores"], "seconds", methods, best_seconds, level)
    blocks.append(table or _p("There are no scores on the seconds axis."))
    return {"id": "scores", "title": "Scores", "blocks": blocks}


def _profile_section(t: dict[str, pd.DataFrame], methods: _Methods, out: Path, tau_max: float,
                     written: set[str]) -> dict[str, Any]:
    fig = _profile_figure(t["profile"], methods, tau_max)
    blocks: list[Block] = []
    if fig is None:
        blocks.append(_p("There is no performance profile to draw (the profile table is empty).", cls="warn"))
    else:
        fields = _save(fig, out, PROFILE_FIGURE)
        written.add(PROFILE_FIGURE)
        caption = (
            "The performance profile. On each workload, each method's time to target is divided by "
            "the fastest method's; a curve's height at \N{GREEK SMALL LETTER TAU} is the fraction of "
            "workloads on which the method is within a factor \N{GREEK SMALL LETTER TAU} of the "
            "fastest. Its height at \N{GREEK SMALL LETTER TAU} = 1 is how often it is the fastest; "
            f"a workload whose target it misses, or reaches more than {tau_max:g} times slower, "
            f"never counts. The score is the area under the curve between 1 and {tau_max:g}, "
            f"divided by {tau_max - 1:g}: higher and further left is better. The submission's line "
            "is the thick one; each method has the same colour in every figure and table. Left: "
            "cost in gradient-equivalents (the primary axis); right: seconds.")
        blocks.append({"kind": "scfigure", "alt": "performance profiles of every method",
                       "caption": [caption], **fields})
    return {"id": "profile", "title": "Performance profile", "blocks": blocks}


def _budget_section(meta: Mapping[str, Any], t: dict[str, pd.DataFrame], methods: _Methods, out: Path,
                    level: float, written: set[str]) -> dict[str, Any]:
    blocks: list[Block] = []
    fig = _budget_figure(t["budget"], methods)
    if fig is None:
        ruleset = str(meta.get("ruleset", ""))
        why = ("under the self ruleset each study runs a single configuration, so there is no "
               "search to shorten" if ruleset == "self" else "the budget table is empty")
        blocks.append(_p(f"No budget curve: {why}. The budget curve shows, under the external ruleset, "
                         "how the scores change when every method may try only the first few "
                         "configurations of its search."))
    else:
        fields = _save(fig, out, BUDGET_FIGURE)
        written.add(BUDGET_FIGURE)
        trials = meta.get("trials", "K")
        caption = (
            "How much of each score comes from searching: each method's score on the cost axis "
            "(line) and its "
            f"{level:.0%} interval (band) when every study may use only its first k trials "
            f"(k = 1, 2, 4, \N{HORIZONTAL ELLIPSIS} up to K = {trials}). At k = K the score is the one "
            "in the table above. A method whose curve is high already at k = 1 is easy to tune; a "
            "curve still rising at the right would gain from a larger search. The submission's line "
            "is the thick one.")
        blocks.append({"kind": "scfigure", "alt": "score against the number of trials per study",
                       "caption": [caption], **fields})
    return {"id": "budget", "title": "Score against search budget", "blocks": blocks}


def _workload_info(t: dict[str, pd.DataFrame]) -> dict[str, dict[str, Any]]:
    info = {}
    for r in t["workloads"].itertuples(index=False):
        info[str(r.workload)] = {"problem": r.problem, "metric": str(r.metric), "target": r.target,
                                 "budget": r.budget, "description": r.description}
    return info


def _workload_names(t: dict[str, pd.DataFrame]) -> list[str]:
    names = [str(w) for w in t["workloads"]["workload"]]
    for w in t["times"]["workload"]:
        if str(w) not in names:
            names.append(str(w))
    return names


def _times_table(t: dict[str, pd.DataFrame], axis: str, methods: _Methods, level: float,
                 tau_max: float) -> Block | None:
    times = t["times"][t["times"]["axis"] == axis]
    if times.empty:
        return None
    info = _workload_info(t)
    names = [m for m in methods.order if (times["method"] == m).any()]
    by = {(str(r.workload), str(r.method)): r for r in times.itertuples(index=False)}
    header = [_cell("workload", cls="l"), _cell("target", cls="l")]
    header += [_cell(methods.label(m), cls="sub" if methods.is_submission(m) else "",
                     swatch=methods.swatch(m)) for m in names]
    rows = []
    for w in _workload_names(t):
        if not any((w, m) in by for m in names):
            continue
        wi = info.get(w, {})
        target = (f"{wi.get('metric', '?')} \N{LESS-THAN OR EQUAL TO} {_num(wi.get('target'))}"
                  if wi else "unknown")
        budget = f"within {_count(wi.get('budget'))} grad-eq." if wi else ""
        cells = [_cell([_strong(w)], str(wi.get("problem", "")), cls="l"), _cell(target, budget, cls="l")]
        for m in names:
            sub = " sub" if methods.is_submission(m) else ""
            r = by.get((w, m))
            if r is None:
                cells.append(_cell("not run", cls="missed" + sub))
                continue
            time = _float(r.time)
            if math.isinf(time) and time > 0:
                cells.append(_cell("missed", cls="missed" + sub))
                continue
            ratio = _float(r.ratio)
            mark = " (fastest)" if ratio == 1.0 else (f" (> {tau_max:g}: adds 0)" if ratio > tau_max else "")
            cells.append(_cell(_amount(time, axis),
                               f"{_amount(r.low, axis)} \N{EN DASH} {_amount(r.high, axis)}",
                               f"\N{MULTIPLICATION SIGN}{_num(ratio)}{mark}",
                               cls=("fastest" if ratio == 1.0 else "") + sub))
        rows.append(_row(cells))
    return _table(header, rows, cls="times")


def _workloads_section(meta: Mapping[str, Any], t: dict[str, pd.DataFrame], methods: _Methods,
                       level: float, tau_max: float) -> dict[str, Any]:
    factor = meta.get("budget_factor", 1)
    blocks: list[Block] = [_p(
        "The workloads: each is an optimization problem with a metric, a target and a budget in "
        "gradient-equivalents. A run reaches the target when its metric first falls to the target "
        "or below; a run that has not reached it when the budget is spent misses it."
        + (f" Under this ruleset every run gets {_text(factor)} times the budget; the budgets shown "
           "include that factor." if math.isfinite(_float(factor)) and _float(factor) != 1.0 else ""))]
    rows = []
    for r in t["workloads"].itertuples(index=False):
        metric = str(r.metric)
        rows.append(_row([_cell([_strong(str(r.workload))], cls="l"), _cell(str(r.problem), cls="l"),
                          _cell(metric, METRICS.get(metric, ""), cls="l"), _cell(_num(r.target)),
                          _cell(_count(r.budget)), _cell(str(r.description), cls="l")]))
    if rows:
        blocks.append(_table([_cell("workload", cls="l"), _cell("problem", cls="l"), _cell("metric", cls="l"),
                              "target", "budget (grad-eq.)", _cell("description", cls="l")], rows))
    else:
        blocks.append(_p("The workloads table is empty.", cls="warn"))
    explain = (
        "Each cell: the median over studies of the fastest trial's time to target (first line), its "
        f"{level:.0%} bootstrap interval over studies (second line; \N{INFINITY}: in some resamples "
        "the median study missed the target), and its ratio to the fastest method on that workload "
        f"(third line; bold: the fastest; a ratio above {tau_max:g} adds nothing to the score). "
        "\N{LEFT DOUBLE QUOTATION MARK}missed\N{RIGHT DOUBLE QUOTATION MARK}: the median study did not "
        "reach the target within the budget.")
    for axis in AXES:
        blocks.append(_h3(f"times-{axis}", f"Time to target: {AXIS_NAMES[axis]}"
                          + (" (primary)" if axis == "cost" else "")))
        table = _times_table(t, axis, methods, level, tau_max)
        if table is None:
            blocks.append(_p(f"No times on the {axis} axis."))
        else:
            blocks += [table, _p(explain, cls="meta")]
    return {"id": "workloads", "title": "Per workload", "blocks": blocks}


def _leave_one_out_section(t: dict[str, pd.DataFrame], methods: _Methods) -> dict[str, Any]:
    table = t["leave_one_out"]
    scores = t["scores"][t["scores"]["axis"] == "cost"]
    values = pd.to_numeric(scores["score"], errors="coerce")
    top = str(scores["method"].iloc[int(values.to_numpy().argmax())]) if values.notna().any() else "?"
    blocks: list[Block] = [_p(
        "Is the ranking carried by a single workload? For each workload, the cost-axis scores are "
        "recomputed without it; Kendall's \N{GREEK SMALL LETTER TAU} compares the ranking of the "
        "methods on all workloads with the ranking without that one (1: the same order, "
        "\N{MINUS SIGN}1: reversed), and the last columns say which method comes first without it "
        f"and whether that differs from the first on all workloads ({top}).")]
    if table.empty:
        blocks.append(_p("There is no leave-one-out table (fewer than two workloads)."))
        return {"id": "leave-one-out", "title": "Leave one workload out", "blocks": blocks}
    rows, undefined = [], False
    for r in table.itertuples(index=False):
        tau = _float(r.kendall_tau)
        if math.isnan(tau):
            undefined = True
        changed = _flag(r.top_changed)
        rows.append(_row([
            _cell(str(r.left_out), cls="l"),
            _cell("undefined" if math.isnan(tau) else f"{tau:.2f}"),
            _cell(str(r.top), cls="l", swatch=methods.swatch(r.top)),
            _cell("yes" if changed else "no", cls="l"),
        ], cls="differ" if changed else ""))
    blocks.append(_table([_cell("workload left out", cls="l"), "Kendall's \N{GREEK SMALL LETTER TAU}",
                          _cell("first without it", cls="l"), _cell("first changes", cls="l")], rows))
    if undefined:
        blocks.append(_p("\N{LEFT DOUBLE QUOTATION MARK}undefined\N{RIGHT DOUBLE QUOTATION MARK}: all "
                         "methods score the same with or without that workload, so there is no order "
                         "to compare.", cls="meta"))
    return {"id": "leave-one-out", "title": "Leave one workload out", "blocks": blocks}


def _method_table(method: Mapping[str, Any], searched: bool) -> Block:
    rows = []
    space = method.get("space") or {}
    fixed = method.get("fixed") or {}
    if isinstance(space, Mapping):
        for name, spec in space.items():
            rows.append(_row([_cell(str(name), cls="l"),
                              _cell("searched" if searched else "not searched (self ruleset)", cls="l"),
                              _cell(_distribution(spec), cls="l")]))
    if isinstance(fixed, Mapping):
        for name, value in fixed.items():
            role = "fixed" if name not in space or not searched else "value when not searched"
            rows.append(_row([_cell(str(name), cls="l"), _cell(role, cls="l"), _cell(_text(value), cls="l")]))
    if not rows:
        rows.append(_row([_cell("(none)", cls="l"), _cell("", cls="l"),
                          _cell("the optimizer's own defaults", cls="l")]))
    return _table([_cell("hyper-parameter", cls="l"), _cell("role", cls="l"),
                   _cell("value or search distribution", cls="l")], rows)


def _environment_table(meta: Mapping[str, Any]) -> Block:
    mine = meta.get("environment") or {}
    theirs = meta.get("baseline_environment") or {}
    rerun = _flag(meta.get("baselines_rerun"))
    mine = mine if isinstance(mine, Mapping) else {"environment": mine}
    theirs = theirs if isinstance(theirs, Mapping) else {"environment": theirs}
    two = bool(theirs) and not rerun
    keys = list(dict.fromkeys([*mine, *(theirs if two else {})]))
    rows = []
    for key in keys:
        a = _text(mine.get(key)) if key in mine else "\N{EN DASH}"
        if two:
            b = _text(theirs.get(key)) if key in theirs else "\N{EN DASH}"
            rows.append(_row([_cell(str(key), cls="l"), _cell(a, cls="l"), _cell(b, cls="l")],
                             cls="differ" if a != b else ""))
        else:
            rows.append(_row([_cell(str(key), cls="l"), _cell(a, cls="l")]))
    if two:
        header = ["", _cell("submission (this machine)", cls="l"), _cell("baselines (shipped runs)", cls="l")]
    else:
        header = ["", _cell("all methods" if rerun else "submission", cls="l")]
    return _table(header, rows)


def _method_section(meta: Mapping[str, Any], methods: _Methods, level: float,
                    tau_max: float) -> dict[str, Any]:
    k, s = meta.get("trials", "K"), meta.get("studies", "S")
    ruleset = str(meta.get("ruleset", "unknown"))
    blocks: list[Block] = [_p(
        "On each workload, a run's time to target is the cost in gradient-equivalents (and, on the "
        "secondary axis, the seconds) it spent until its metric first reached the target; a run that "
        f"misses the target within the budget takes +\N{INFINITY}. In each of S = {s} independent "
        f"studies a method runs K = {k} trials (configurations of its hyper-parameters; every "
        "method sees the same seeds) and keeps the fastest trial; the method's time on the workload "
        f"is the median of those S study times. Its ratio r is that time divided by the fastest "
        "method's on the workload. The performance profile \N{GREEK SMALL LETTER RHO}("
        "\N{GREEK SMALL LETTER TAU}) is the fraction of workloads with r \N{LESS-THAN OR EQUAL TO} "
        f"\N{GREEK SMALL LETTER TAU}; the score is its integral over \N{GREEK SMALL LETTER TAU} in "
        f"[1, {tau_max:g}] divided by {tau_max - 1:g}, which is the mean over workloads of "
        f"max(0, ({tau_max:g} \N{MINUS SIGN} r) / {tau_max - 1:g}). The {level:.0%} intervals come "
        "from a bootstrap: the studies are resampled with replacement (the same draw for every "
        "method, independently per workload) and everything is recomputed. The verdict compares "
        "the submission with the baseline of the highest score through the bootstrap interval of "
        "the paired difference of scores: better or worse when the interval excludes 0, "
        "indistinguishable otherwise.")]
    notes = [str(n) for n in (meta.get("notes") or [])]
    blocks.append(_h3("notes", "Notes"))
    blocks.append(_ul(notes) if notes else _p("No notes."))
    blocks.append(_h3("settings", "Settings"))
    settings = [
        ("protocol", _text(meta.get("protocol"))),
        ("level", _text(meta.get("level"))),
        ("ruleset", f"{ruleset}: {RULESETS[ruleset]}" if ruleset in RULESETS else ruleset),
        ("trials per study (K)", _text(k)),
        ("studies (S)", _text(s)),
        ("seed", _text(meta.get("seed"))),
        ("budget factor", _text(meta.get("budget_factor"))),
        ("\N{GREEK SMALL LETTER TAU} range", f"[1, {tau_max:g}]"),
        ("interval level", f"{level:.0%}"),
        ("baselines", "rerun on this machine" if _flag(meta.get("baselines_rerun"))
         else "the shipped runs (made on another machine)"),
    ]
    blocks.append(_table(["", _cell("value", cls="l")],
                         [_row([_cell(a, cls="l"), _cell(b, cls="l")]) for a, b in settings]))
    searched = ruleset != "self"
    sub = meta.get("submission") or {}
    blocks.append(_h3("submission", f"The submission: {sub.get('name', methods.submission)}"))
    blocks.append(_p("Optimizer ", _code(_text(sub.get("optimizer"))), "; its hyper-parameters:"))
    blocks.append(_method_table(sub if isinstance(sub, Mapping) else {}, searched))
    baselines = [b for b in (meta.get("baselines") or []) if isinstance(b, Mapping)]
    if baselines:
        blocks.append(_h3("baselines", "The baselines"))
        rows = []
        for b in baselines:
            space = b.get("space") or {}
            rows.append(_row([
                _cell(_text(b.get("name")), cls="l", swatch=methods.swatch(_text(b.get("name")))),
                _cell(_text(b.get("optimizer")), cls="l"),
                _cell(*([f"{n}: {_distribution(d)}" for n, d in space.items()]
                        if isinstance(space, Mapping) and space and searched else ["\N{EN DASH}"]), cls="l"),
                _cell(*([f"{n} = {_text(v)}" for n, v in (b.get("fixed") or {}).items()]
                        or ["\N{EN DASH}"]), cls="l"),
            ]))
        blocks.append(_table([_cell("baseline", cls="l"), _cell("optimizer", cls="l"),
                              _cell("search space", cls="l"), _cell("fixed / defaults", cls="l")], rows))
    blocks.append(_h3("environment", "Environment"))
    if not _flag(meta.get("baselines_rerun")) and meta.get("baseline_environment"):
        blocks.append(_p("Rows in red differ between the submission's machine and the one that made "
                         "the baselines' runs."))
    blocks.append(_environment_table(meta))
    return {"id": "method", "title": "How the score is computed", "blocks": blocks}


# --------------------------------------------------------------------------- entry point


def _page(meta: Mapping[str, Any], tables: Mapping[str, pd.DataFrame],
          out_dir: Path) -> tuple[str, set[str]]:
    """Write the figures into ``out_dir/figures``; returns the page as HTML text and the
    base names of the figures written."""
    t = _tables(tables)
    methods = _methods(meta, t)
    level = _float(meta.get("level_of_intervals", 0.95))
    level = level if math.isfinite(level) else 0.95
    tau_max = _float(meta.get("tau_max", 4.0))
    tau_max = tau_max if math.isfinite(tau_max) and tau_max > 1 else 4.0
    protocol = _text(meta.get("protocol", "optbench-score"))
    sub = meta.get("submission") or {}
    name = str(sub.get("name") or methods.submission or "submission")
    figure_dir = Path(out_dir) / FIGURES
    written: set[str] = set()
    verdicts = meta.get("verdict") or {}
    top = [_verdict_block(verdicts.get("cost") or {}, "cost", level)]
    cost = t["scores"][(t["scores"]["axis"] == "cost") & (t["scores"]["method"] == methods.submission)]
    if len(cost):
        r = cost.iloc[0]
        top.append(_p(_strong(f"Score of {name} on the primary axis (cost in gradient-equivalents): "
                              f"{_score(r['score'])}"),
                      f" ({level:.0%} interval {_score(r['low'])} \N{EN DASH} {_score(r['high'])})"
                      f" on a scale from 0 to 1, against {_plural(len(methods.order) - 1, 'tuned baseline')} "
                      f"on {_plural(len(_workload_names(t)), 'workload')}. See ",
                      _link("#method", "how the score is computed"), "."))
    sections = [_scores_section(meta, t, methods, level, tau_max),
                _profile_section(t, methods, figure_dir, tau_max, written),
                _budget_section(meta, t, methods, figure_dir, level, written),
                _workloads_section(meta, t, methods, level, tau_max),
                 _leave_one_out_section(t, methods),
                 _method_section(meta, methods, level, tau_max)]
    subtitle = (f"Protocol {protocol}, {_text(meta.get('level'))} level, {_text(meta.get('ruleset'))} "
                f"ruleset, {_text(meta.get('trials'))} trials per study \N{MULTIPLICATION SIGN} "
                f"{_text(meta.get('studies'))} studies, seed {_text(meta.get('seed'))}.")
    html = template_environment().get_template("scorecard.html.j2").render(
        title=f"Scorecard of {name} ({protocol})",
        subtitle=subtitle,
        now=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        page_width=PAGE_WIDTH_PX,
        top=top,
        sections=sections,
    )
    return html, written


def write_scorecard(meta: Mapping[str, Any], tables: Mapping[str, pd.DataFrame],
                    out_dir: str | os.PathLike) -> Path:
    """Write out_dir/scorecard.html (and its figures beside it) and return the page's path.

    Args:
        meta: the score's settings and verdicts (JSON data: ``protocol``, ``level``,
            ``ruleset``, ``trials``, ``studies``, ``seed``, ``tau_max``,
            ``level_of_intervals``, ``submission``, ``baselines``, ``baselines_rerun``,
            ``environment``, ``baseline_environment``, ``budget_factor``, ``verdict``,
            ``notes``).
        tables: ``scores``, ``times``, ``profile``, ``budget``, ``leave_one_out`` and
            ``workloads`` (see the module docstring of :mod:`reports.scorecard`); an absent
            ``budget`` or ``leave_one_out`` table counts as empty.
        out_dir: the folder of the page; its figures go to ``out_dir/figures``.

    Every file is written atomically, the figures before the page.  A figure of an
    earlier scorecard in the same folder that this one does not draw (the budget
    curve, under the self ruleset) is removed, so the folder matches the page.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html, written = _page(meta, tables, out)
    page = _write_atomic(out / PAGE, lambda h: h.write(html), "x")
    for stale in {PROFILE_FIGURE, BUDGET_FIGURE} - written:
        for suffix in (".svg", ".png"):
            with contextlib.suppress(FileNotFoundError):
                (out / FIGURES / f"{stale}{suffix}").unlink()
    return page
