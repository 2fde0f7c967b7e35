"""The HTML report: one self-contained file, readable offline.

:func:`build_report` reads a results directory (:func:`reports.results.read_results`),
draws every figure for which there is data and writes one HTML file atomically
(a temporary file in the target's directory, then a rename).  Figures are embedded
as base64 PNG images (:data:`DPI` dots per inch): inline SVG of contour maps and of
figures with hundreds of curves weighs megabytes, a PNG tens of kilobytes.  The
page has no external CSS, scripts or fonts.

Sections: a contents list; the claims, when the directory holds the verdicts of
``optbench claims`` (a verdict table with a coloured badge per claim and a link to
its figure, then each claim's statement, experiment, verdict and figure with its
statistic: see :mod:`reports.claims`); the overview (runs and their statuses, failed runs with
their error messages and tracebacks, diverged runs, run files that could not be
read, the run configuration from the stored specs, the environment the runs were
made in, flagged where runs differ, and the command that regenerates the page);
the profiles across problems; one section per problem family (convergence,
trajectories of 2-D problems, net diagnostics, a ranking table per problem); the
learning-rate schedules; hyper-parameter tuning; ensembles.  Each figure has a
caption that says what to look at.

The page is rendered from Jinja2 templates (``templates/report.html.j2`` and the
macros of ``templates/_blocks.html.j2``, package data) with autoescape on and
StrictUndefined: the functions here build plain data (lists and dicts of text,
numbers formatted as strings, figures as base64 PNG data URIs), never HTML, so every
string from a suite file or a result (a problem or optimizer label, a parameter
value, an error message, an environment value) is shown as text.

The report never runs an optimizer: it reads the stored results, and rebuilds a
problem only to evaluate its loss on a grid (contour maps) or a net at its
initial point (activation histograms).
"""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import shlex
import warnings
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import jinja2
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from optbench import store
from optbench.claims import FAILS, HOLDS, INCONCLUSIVE

from . import claims as claim_pages
from .convergence import MAX_CURVES, SUBOPT_FLOOR, convergence_figure
from .nets import (
    UPDATE_RATIO_REFERENCE,
    accuracy_figure,
    activation_histograms_figure,
    ensembles_figure,
    net_rows,
    update_ratio_figure,
)
from .profiles import PROFILE_TARGET, merged_by_family, profiles_figure
from .results import Results, read_results, results_from_table
from .schedules import schedules_figure
from .sensitivity import ROLE, search_rows, sensitivity_figure, sensitivity_table
from .style import Palette, natural_sorted
from .summary import DEFAULT_TARGET, summary_cells, summary_notes, summary_table
from .trajectories import MAX_PANELS, drawn_runs, trajectories_figure, trajectory_problems

#: Resolution of the embedded PNG figures.
DPI = 100
#: A family with more problems than this gets one convergence panel per problem
#: (against cost) instead of a row per problem (steps, cost, seconds).
MAX_ROWS_OF_CURVES = 3

#: A family with more instances than this (the CUTEst suite's 200+) is summarised in one
#: table per optimizer, not drawn and ranked instance by instance.
MAX_INSTANCES_DRAWN = 24

#: More failed or diverged runs than this are listed one row per configuration, not per run.
MAX_LISTED_RUNS = 50

#: A longer table shows this many rows and folds the others (a ``<details>`` block).
MAX_TABLE_ROWS = 50

#: A ranking table shows this many optimizer configurations and folds the others.
MAX_RANKED_ROWS = 20

#: The folder of the page's templates (package data: ``templates/*.j2``).
TEMPLATES = Path(__file__).with_name("templates")


@functools.lru_cache(maxsize=1)
def template_environment() -> jinja2.Environment:
    """The template environment: every ``{{ value }}`` is escaped, a missing one is an error."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(("html", "j2"), default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


# --------------------------------------------------------------------------- page data
#
# The page is built from plain data that the templates turn into HTML (see
# templates/_blocks.html.j2).  Every string here is text, never HTML: the templates
# escape it.  Inline content is a list of strings and the dicts below; a block is a
# dict with a "kind".

Inline = Any  # str | dict
Block = dict[str, Any]


def _code(text: Any) -> dict[str, Any]:
    return {"tag": "code", "text": str(text)}


def _strong(*spans: Inline, cls: str = "") -> dict[str, Any]:
    return {"tag": "strong", "cls": cls, "spans": list(spans)}


def _link(href: str, text: str) -> dict[str, Any]:
    return {"tag": "a", "href": href, "text": text}


def _p(*spans: Inline, cls: str = "") -> Block:
    return {"kind": "p", "cls": cls, "spans": list(spans)}


def _spans(content: Any) -> list[Inline]:
    """Inline content: a list of spans as it is, anything else as its text."""
    return content if isinstance(content, list) else [str(content)]


# --------------------------------------------------------------------------- formatting


def _num(value: Any, digits: int = 3) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if np.isnan(v):
        return "\N{EN DASH}"
    if np.isinf(v):
        return "\N{INFINITY}" if v > 0 else "\N{MINUS SIGN}\N{INFINITY}"
    return f"{v:.{digits}g}"


def _range(low: Any, high: Any) -> str:
    return f"{_num(low)} \N{EN DASH} {_num(high)}"


def _table(header: list[str], rows: Iterable[list[Any]], left: Iterable[int] = (0,),
           classes: dict[int, str] | None = None) -> Block:
    """A table block; a cell is text (any value, shown as ``str``) or a list of spans.

    Columns in ``left`` are left-aligned; ``classes`` gives other columns a CSS class.
    """
    cls = {i: "l" for i in left}
    cls.update(classes or {})
    return {
        "kind": "table",
        "header": [{"cls": "l" if i in cls else "", "text": str(h)} for i, h in enumerate(header)],
        "rows": [[{"cls": cls.get(i, ""), "spans": _spans(cell)} for i, cell in enumerate(row)]
                 for row in rows],
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --------------------------------------------------------------------------- figures


def render_png(fig: Any, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes.

    The figures of this package belong to no pyplot figure manager, so they are
    freed as soon as the caller drops them; a pyplot figure passed in is closed.
    """
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    finally:
        if getattr(fig, "number", None) is not None:  # a pyplot figure: unregister it
            import matplotlib.pyplot as plt

            plt.close(fig)
    return buffer.getvalue()


def _figure(draw: Callable[[], Any], caption: str | list[Inline], alt: str) -> Block | None:
    """Draw, render and embed one figure with its caption (None when there is no data).

    A figure that fails to draw is reported in the page (and as a warning) instead
    of stopping the report.
    """
    try:
        fig = draw()
        if fig is None:
            return None
        png = render_png(fig)
    except Exception as exc:  # one broken figure must not cost the whole report
        warnings.warn(f"optbench report: figure '{alt}' could not be drawn: {exc!r}",
                      RuntimeWarning, stacklevel=2)
        return _p(f"The figure \N{LEFT DOUBLE QUOTATION MARK}{alt}\N{RIGHT DOUBLE QUOTATION MARK} "
                  f"could not be drawn: {exc!r}", cls="warn")
    # Not marked safe: a base64 data URI holds only [A-Za-z0-9+/=;:,], which escaping
    # leaves as they are.
    src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return {"kind": "figure", "alt": alt, "src": src, "caption": _spans(caption)}


# --------------------------------------------------------------------------- sections


class _Section:
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


def _status_counts(runs: pd.DataFrame) -> str:
    if runs.empty:
        return ""
    counts = runs["status"].value_counts()
    order = ["converged", "max_steps", "diverged", "error"]
    names = order + sorted(set(counts.index) - set(order))
    return ", ".join(f"{int(counts[s])} {s}" for s in names if s in counts)


def _overview(results: Results, command: str) -> _Section:
    sec = _Section("overview", "Overview")
    runs = results.runs
    n = len(runs)
    if n == 0:
        where = [" in ", _code(results.directory)] if results.directory else []
        sec.add(_p(_strong("There are no runs", *where, "."), " Run a study first, e.g. ",
                   _code("optbench run quick --out DIR"), ", then regenerate this page."))
    else:
        spans: list[Inline] = [f"{_plural(n, 'run')}: {_status_counts(runs)}."]
        if ROLE in runs.columns:
            n_search = int((runs[ROLE] == "search").sum())
            if n_search:
                spans += [f" {n_search} of them are hyper-parameter search trials, drawn only in ",
                          _link("#tuning", "Hyper-parameter tuning"), "."]
        sec.add(_p(*spans))
    sec.add(_p("Regenerate this page with ", _code(command), "."))
    if n == 0:
        return sec

    failed = runs[runs["status"] == "error"]
    sec.sub("failed", f"Failed runs ({len(failed)})")
    sec.add(*_failed_blocks(failed, results) if len(failed) else [_p("No run failed.")])
    diverged = runs[runs["status"] == "diverged"]
    sec.sub("diverged", f"Diverged runs ({len(diverged)})")
    sec.add(*_diverged_blocks(diverged, results) if len(diverged) else [_p("No run diverged.")])
    if results.skipped:
        sec.sub("unreadable", f"Unreadable run files ({len(results.skipped)})")
        sec.add(_p("These files in the results directory could not be read and are left out of "
                   "the whole report (run the study again to redo them):", cls="warn"),
                {"kind": "ul", "entries": [[_code(s)] for s in results.skipped]})

    sec.sub("configuration", "Run configuration")
    sec.add(*_configuration(results))
    sec.sub("environment", "Environment")
    sec.add(*_environment(results))
    return sec


# --------------------------------------------------------------------------- long lists
#
# A study of thousands of runs must not become thousands of table rows: a list of
# failed or diverged runs longer than MAX_LISTED_RUNS becomes one row per optimizer
# configuration, and a table longer than its limit shows its first rows and folds the
# others into a <details> block, saying how many it holds.


def _long_table(header: list[str], rows: list[list[Any]], shown: int, what: str,
                **kwargs: Any) -> list[Block]:
    """The first ``shown`` rows as a table; the others folded below it, in a details
    block titled with their number and ``what`` they are (a plural noun)."""
    if len(rows) <= shown:
        return [_table(header, rows, **kwargs)]
    rest = rows[shown:]
    return [_table(header, rows[:shown], **kwargs),
            {"kind": "details", "summary": f"show the other {len(rest)} {what}",
             "blocks": [_table(header, rest, **kwargs)]}]


def _seed_ranges(seeds: Iterable[Any]) -> str:
    """``0–3, 7, 9–10``: the distinct seeds, consecutive ones joined."""
    spans: list[list[int]] = []
    for value in sorted({int(s) for s in seeds}):
        if spans and value == spans[-1][1] + 1:
            spans[-1][1] = value
        else:
            spans.append([value, value])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)


def _config_order(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` sorted by problem_label (natural order), then optimizer_label."""
    rank = {p: i for i, p in enumerate(natural_sorted(frame["problem_label"].unique()))}
    return frame.assign(_p=frame["problem_label"].map(rank)).sort_values(
        ["_p", "optimizer_label"], kind="stable").drop(columns="_p")


def _summed_up(n_runs: int, what: str, n_configs: int) -> Block:
    return _p(f"{n_runs} runs {what}, in {_plural(n_configs, 'configuration')} (problem "
              f"× optimizer): more than {MAX_LISTED_RUNS}, so each "
              "configuration is one row, not each run. ", _code("optbench.store.runs(DIR)"),
              " lists every run with its status and run id.", cls="meta")


def _failed_blocks(failed: pd.DataFrame, results: Results) -> list[Block]:
    """The failed runs, one row each, or one row per configuration and error message."""
    tracebacks = {rec.get("run_id"): rec.get("traceback") for rec in results.records}

    def message(error: Any, run_id: Any) -> list[Inline]:
        spans: list[Inline] = [{"tag": "span", "text": str(error or "unknown error")}]
        if tracebacks.get(run_id):
            spans.append({"tag": "details", "summary": "traceback",
                          "text": str(tracebacks[run_id])})
        return spans

    if len(failed) <= MAX_LISTED_RUNS:
        rows = [[r["problem_label"], r["optimizer_label"], r["seed"],
                 message(r.get("error"), r["run_id"]), [_code(r["run_id"])]]
                for _, r in failed.iterrows()]
        return [_table(["problem", "optimizer", "seed", "error", "run"], rows, left=(0, 1),
                       classes={3: "err"})]
    frame = _config_order(failed.assign(error=failed["error"].fillna("unknown error")))
    groups = frame.groupby(["problem_label", "optimizer_label", "error"], sort=False)
    rows = [[p, o, str(len(g)), _seed_ranges(g["seed"]), message(e, g["run_id"].iloc[0]),
             [_code(g["run_id"].iloc[0])]] for (p, o, e), g in groups]
    return [_summed_up(len(failed), "failed", frame.groupby(["problem_label", "optimizer_label"]).ngroups),
            *_long_table(["problem", "optimizer", "runs", "seeds", "error (traceback of the "
                          "first run)", "first run"], rows, MAX_TABLE_ROWS, "configurations",
                         left=(0, 1, 3), classes={4: "err"})]


def _diverged_blocks(diverged: pd.DataFrame, results: Results) -> list[Block]:
    """The diverged runs, one row each, or one row per configuration."""
    by_id = {rec.get("run_id"): rec for rec in results.records}
    records = [by_id.get(rid, {}) for rid in diverged["run_id"]]
    steps = [rec.get("diverged_at", taken) for rec, taken in
             zip(records, diverged.get("steps_taken", pd.Series(None, index=diverged.index)))]
    frame = diverged.assign(at=[np.nan if s is None or pd.isna(s) else float(s) for s in steps],
                            why=[rec.get("diverged_because") or "" for rec in records])
    intro = _p("A run diverges when its loss or gradient becomes non-finite or grows far "
               "beyond its start; its trace stops there and it counts as +∞ in every "
               "statistic.")
    if len(frame) <= MAX_LISTED_RUNS:
        rows = [[r.problem_label, r.optimizer_label, r.seed,
                 "" if np.isnan(r.at) else int(r.at), r.why, r.run_id] for r in frame.itertuples()]
        return [intro, _table(["problem", "optimizer", "seed", "diverged at step", "why", "run"],
                              rows, left=(0, 1, 4))]
    sizes = results.runs.groupby(["problem_label", "optimizer_label"]).size()
    groups = _config_order(frame).groupby(["problem_label", "optimizer_label"], sort=False)
    rows = [[p, o, f"{len(g)}/{int(sizes.get((p, o), len(g)))}", _seed_ranges(g["seed"]),
             _steps_text(g["at"]), _reasons_text(g["why"])] for (p, o), g in groups]
    return [intro, _summed_up(len(frame), "diverged", len(rows)),
            *_long_table(["problem", "optimizer", "diverged/runs", "seeds",
                          "diverged at step (median, range)", "why (most frequent)"], rows,
                         MAX_TABLE_ROWS, "configurations", left=(0, 1, 3, 5))]


def _steps_text(steps: pd.Series) -> str:
    steps = steps.dropna()
    if steps.empty:
        return ""
    low, high = int(steps.min()), int(steps.max())
    median = f"{steps.median():g}"
    return median if low == high else f"{median} ({low}–{high})"


def _reasons_text(reasons: pd.Series) -> str:
    counts = reasons[reasons != ""].value_counts()
    if counts.empty:
        return ""
    more = f" (and {_plural(len(counts) - 1, 'other reason')})" if len(counts) > 1 else ""
    return f"{counts.index[0]}{more}"


def _counted(counter: Counter) -> str:
    """``a, b (3 runs), ...``: values in order, with counts when there are several."""
    if not counter:
        return "unknown"

    def order(item: tuple[Any, int]) -> tuple[int, Any]:
        key = item[0]
        return (0, key) if isinstance(key, (int, float)) else (1, str(key))

    return ", ".join(str(k) + (f" ({v} runs)" if len(counter) > 1 else "")
                     for k, v in sorted(counter.items(), key=order))


def _configuration(results: Results) -> list[Block]:
    runs = results.runs
    specs = {rec.get("run_id"): rec.get("spec") or {} for rec in results.records}
    search = runs[ROLE] == "search" if ROLE in runs.columns else pd.Series(False, index=runs.index)
    main = runs[~search]
    parts = []
    if len(main):
        problems_ = sorted(main["problem_label"].unique())
        optimizers_ = sorted(main["optimizer_label"].unique())
        seeds = sorted(main["seed"].unique())
        combos = len(problems_) * len(optimizers_) * len(seeds)
        parts.append(_p(
            f"{_plural(len(problems_), 'problem')} \N{MULTIPLICATION SIGN} "
            f"{_plural(len(optimizers_), 'optimizer configuration')} \N{MULTIPLICATION SIGN} "
            f"{_plural(len(seeds), 'seed')} ({', '.join(str(s) for s in seeds)}): "
            f"{combos} combinations, {len(main)} stored"
            + (" (not every optimizer ran on every problem with every seed)" if len(main) < combos else "")
            + (f"; besides, {int(search.sum())} tuning search trials" if search.any() else "")
            + "."))
    elif search.any():
        parts.append(_p(f"Only tuning search trials: {int(search.sum())} runs."))
    chosen = [specs.get(rid, {}) for rid in runs["run_id"]]
    steps = Counter(s["steps"] for s in chosen if "steps" in s)
    every = Counter(s["record_every"] for s in chosen if "record_every" in s)
    options = Counter(json.dumps(s.get("options") or {}, sort_keys=True) for s in chosen if s)
    text = f"Steps per run: {_counted(steps)}. Trace recorded every {_counted(every)} steps."
    if set(options) - {"{}"}:
        text += f" Run options: {_counted(options)}."
    parts.append(_p(text))
    by_problem = runs.groupby("problem_label", sort=True).agg(
        family=("problem", "first"), runs=("run_id", "size"),
        optimizers=("optimizer_label", "nunique"), seeds=("seed", "nunique"))
    parts.append(_table(["problem", "family", "runs", "optimizer configurations", "seeds"],
                        [[p, r.family, r.runs, r.optimizers, r.seeds] for p, r in by_problem.iterrows()],
                        left=(0, 1)))
    by_opt = main.groupby("optimizer_label", sort=True).agg(
        runs=("run_id", "size"), problems=("problem_label", "nunique"))
    if len(by_opt):
        parts.append(_table(["optimizer", "runs", "problems"],
                            [[o, r.runs, r.problems] for o, r in by_opt.iterrows()]))
    return parts


def _env_text(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return "; ".join(
            " ".join(str(v.get(k)) for k in ("internal_api", "version") if v.get(k))
            + (f" ({', '.join(str(v.get(k)) for k in ('threading_layer', 'architecture') if v.get(k))}"
               + (f", {v['num_threads']} threads" if v.get("num_threads") else "") + ")")
            for v in value
        ) or "none found"
    if value is None:
        return "unknown"
    return str(value)


def _environment(results: Results) -> list[Block]:
    envs = [rec.get("environment") for rec in results.records]
    known = [e for e in envs if isinstance(e, dict)]
    parts = []
    if not known:
        parts.append(_p("The runs carry no environment record."))
    else:
        keys = list(dict.fromkeys(k for e in known for k in e))
        rows, differ = [], []
        for key in keys:
            values = Counter(_env_text(e.get(key)) for e in known)
            if len(values) == 1:
                rows.append([key, next(iter(values))])
            else:
                differ.append(key)
                rows.append([key, "; ".join(f"{v} ({c} runs)" for v, c in values.most_common())])
        if differ:
            parts.append(_p(f"The runs were not all made in the same environment: they differ in "
                            f"{', '.join(differ)}. Compare timings across those runs with care.",
                            cls="warn"))
        else:
            parts.append(_p(f"All {_plural(len(known), 'run')} with an environment record were made "
                            "in the same environment."))
        parts.append(_table(["", "value"], rows, left=(0, 1)))
        if len(known) < len(envs):
            parts.append(_p(f"{len(envs) - len(known)} runs carry no environment record."))
    started = sorted(str(rec.get("started")) for rec in results.records if rec.get("started"))
    if started:
        parts.append(_p(f"Runs started between {started[0]} and {started[-1]}."))
    import matplotlib
    import seaborn

    parts.append(_p(f"This page was drawn with matplotlib {matplotlib.__version__} "
                    f"and seaborn {seaborn.__version__}.", cls="meta"))
    return parts


# --------------------------------------------------------------------------- captions

_CONVERGENCE = (
    "Median over seeds (line) and interquartile range (band) of the suboptimality "
    "f \N{MINUS SIGN} f* on a log scale (values below {floor:g} drawn at {floor:g}), or of the loss "
    "where the optimum is unknown. {axes} Lower is better; a curve that stops early has "
    "converged, and an X marks where runs diverged. Look at which method gets lowest "
    "fastest, and whether the order changes between the axes: a Newton step is cheap in "
    "steps but costs a Hessian (about dim gradients)."
)


def _convergence_caption(rows_layout: bool, n_labels: int = 0) -> str:
    """The caption; ``n_labels``: the number of optimizer configurations in the figure."""
    axes = ("Left to right: against steps, gradient evaluations (cost in gradient-equivalents: a "
            "loss 0.5, a Hessian dim) and seconds of the method's own work." if rows_layout else
            "Against gradient evaluations (cost in gradient-equivalents: a loss 0.5, a Hessian dim), "
            "one panel per problem.")
    text = _CONVERGENCE.format(floor=SUBOPT_FLOOR, axes=axes)
    if n_labels > MAX_CURVES:
        text += (f" Too many optimizer configurations to tell apart ({n_labels}), "
                 f"so every panel draws the same {MAX_CURVES}: the best configuration of each "
                 "optimizer, then the next best, ranked by the median final value over seeds "
                 "(mean rank over the problems); each panel says how many of how many, and the "
                 "rankings list them all.")
    return text


def _trajectory_caption(rows: pd.DataFrame) -> str:
    text = ("The iterates of one seed of each optimizer over contour lines of the loss "
            "(log-spaced levels per panel, darker is lower). Each panel is framed on its own "
            "path, so the axes differ between panels. Circle: start; star: last iterate; +: the "
            "minimiser where known; X: a saddle point, with dashed contours through and around "
            "it. Look at the shape of the path: plain SGD zig-zags across a narrow valley (or "
            "crawls along it) where momentum and Adam follow its floor; a diverged path is "
            "framed on how it left and then leaves the window.")
    runs = drawn_runs(rows)
    gaps = [int(np.diff(run["step"].to_numpy()).min()) for run in runs.values() if len(run) > 1]
    every = max(gaps, default=1)
    if every > 1:
        text += (f" Some paths were recorded only every {every} steps, so they join every "
                 f"{every}th iterate and may hide a zig-zag; record_every = 1 shows each step.")
    if len(runs) > MAX_PANELS:
        text += (f" Of the {len(runs)} optimizer configurations, {MAX_PANELS} get a panel: the "
                 "best configuration of each optimizer, then the next best, by median final "
                 "value over seeds (the title says so); the rankings list them all.")
    return text


def _many_instances(table: pd.DataFrame, target: float) -> list[Block]:
    """One row per optimizer over all instances of a large family (rows of
    :func:`summary_table`): instances where it reached ``target``, where it ranked
    first, its median rank, and diverged/error runs."""
    n = table["problem"].nunique()
    reached = table["reached"].map(lambda s: int(str(s).split("/")[0]) > 0)
    cost = table["cost_to_target"].where(np.isfinite(table["cost_to_target"]))
    summary = (table.assign(reached=reached, first=table["rank"] == 1, cost=cost)
               .groupby("optimizer")
               .agg(reached=("reached", "sum"), first=("first", "sum"), rank=("rank", "median"),
                    cost=("cost", "median"), diverged=("diverged", "sum"),
                    errors=("errors", "sum"))
               .sort_values(["reached", "rank"], ascending=[False, True]))
    rows = [[name, f"{int(r['reached'])}/{n}", str(int(r["first"])), f"{r['rank']:g}",
             _num(r["cost"]), str(int(r["diverged"])), str(int(r["errors"]))]
            for name, r in summary.iterrows()]
    header = ["optimizer", f"instances reached {target:g}", "ranked first", "median rank",
              "median cost to target", "diverged runs", "error runs"]
    caption = (f"{_plural(n, 'instance')}: too many to draw one by one, so the profiles above "
               "compare the optimizers and this table sums them up. An instance counts as "
               f"reached when at least one run's gap fell to {target:g}; ranks are per instance, "
               "by the median final value over seeds (ties share the better rank); the cost to "
               "target (gradient-equivalents) is the median over the instances where the "
               "median seed reached it. Every run's trace is in the results directory "
               "(optbench.load).")
    return [_table(header, rows), _p(caption, cls="meta")]


def _ranking(table: pd.DataFrame, target: float) -> list[Block]:
    """One problem's rows of :func:`summary_table`, ranked; the numbers `optbench run`
    prints are the same cells (:func:`summary_cells`), so the two cannot disagree."""
    table = table.sort_values(["rank", "optimizer"], kind="stable")
    symbols = {"inf": "\N{INFINITY}", "missing": "\N{EN DASH}"}
    cells = summary_cells(table, **symbols)
    kind = table["final_is"].iloc[0]
    name = "suboptimality" if kind == "subopt" else kind
    averaged = (table["iterate"] == "averaged").any()
    rows = []
    for (_, r), (_, c) in zip(table.iterrows(), cells.iterrows()):
        rows.append([
            str(int(r["rank"])), r["optimizer"], str(int(r["runs"])), c["final"],
            _range(r["q25"], r["q75"]), _range(r["ci_low"], r["ci_high"]), c["reached"],
            c["steps"], c["cost"], c["seconds"], c["time"], str(int(r["diverged"])),
            str(int(r["errors"])), *([r["iterate"]] if averaged else []),
        ])
    header = ["rank", "optimizer", "runs", f"median final {name}", "IQR", "95% CI of median",
              f"reached {target:g}", f"steps to {target:g}", "cost to target",
              "seconds to target", "median time [s]", "diverged", "errors",
              *(["iterate"] if averaged else [])]
    caption = (f"Ranked by the median final {name} over seeds; IQR: its interquartile range; "
               "CI: a 95% bootstrap interval of the median. Cost (gradient-equivalents) and "
               "seconds to target are counted like the steps. "
               + " ".join(summary_notes(table, target, **symbols)))
    if len(rows) > MAX_RANKED_ROWS:
        caption += (f" Only the first {MAX_RANKED_ROWS} of {len(rows)} optimizer configurations "
                    "are shown; the others are folded below the table.")
    return [*_long_table(header, rows, MAX_RANKED_ROWS, "optimizer configurations", left=(1,)),
            _p(caption, cls="meta")]


def _family_section(family: str, rows: pd.DataFrame, results: Results, palette: Palette,
                    ranking: pd.DataFrame, target: float, index: int) -> _Section:
    problems_ = natural_sorted(rows["problem_label"].unique())
    sec = _Section(f"family-{index}", family)
    n_runs = rows["run_id"].nunique()
    sec.add(_p(f"{_plural(len(problems_), 'problem')}, "
               f"{_plural(rows['optimizer_label'].nunique(), 'optimizer configuration')}, "
               f"{_plural(n_runs, 'run')} with a trace."))
    if len(problems_) > MAX_INSTANCES_DRAWN:
        sec.sub(f"family-{index}-summary", "Summary over instances")
        sec.add(*_many_instances(ranking[ranking["problem"].isin(problems_)], target))
        return sec
    rows_layout = len(problems_) <= MAX_ROWS_OF_CURVES
    xs = ("step", "cost", "time") if rows_layout else "cost"
    sec.sub(f"family-{index}-convergence", "Convergence")
    sec.add(_figure(lambda: convergence_figure(rows, xs, palette=palette),
                    _convergence_caption(rows_layout, rows["optimizer_label"].nunique()),
                    f"convergence on {family}"))

    two_d = trajectory_problems(rows)
    if two_d:
        sec.sub(f"family-{index}-trajectories", "Trajectories")
        params = results.problem_params()
        by_problem = dict(tuple(rows[rows["problem_label"].isin(two_d)].groupby("problem_label")))
        for label in two_d:
            sub = by_problem[label]
            sec.add(_figure(lambda label=label, sub=sub: trajectories_figure(
                                sub, label, palette=palette, problem_params=params),
                            _trajectory_caption(sub), f"trajectories on {label}"))

    if not net_rows(rows).empty:
        sec.sub(f"family-{index}-nets", "Training the nets")
        sec.add(_figure(lambda: accuracy_figure(rows, palette=palette),
                        "Training (solid) and validation (dashed) accuracy over steps, median over "
                        "seeds, with the interquartile range of the validation accuracy as a band. "
                        "The space between an optimizer's two curves is its overfitting gap: when "
                        "it widens while training accuracy still rises, the net is memorising the "
                        "training set rather than learning the task.",
                        f"accuracy on {family}"))
        sec.add(_figure(lambda: update_ratio_figure(rows, palette=palette),
                        "Norm of each update over the norm of the weights, median over seeds (log "
                        f"scale). The lecture's rule of thumb is about {UPDATE_RATIO_REFERENCE:g} "
                        "(dashed): far above it the learning rate is probably too high, far below "
                        "too low. Methods without a learning rate in the loop (scipy's L-BFGS) "
                        "record none.", f"update ratios on {family}"))
        sec.add(_figure(lambda: activation_histograms_figure(rows),
                        "A fixed demonstration, not made from these runs: a deep tanh net built at "
                        "its initial point with each weight initialisation, and the distribution "
                        "of every hidden layer's activations on the training inputs. With small "
                        "weights (std 0.01) the activations shrink towards 0 layer after layer, so "
                        "the gradients vanish; with large weights (std 1) tanh saturates at "
                        "\N{PLUS-MINUS SIGN}1, where its gradient vanishes too; Xavier "
                        "(std 1/\N{SQUARE ROOT}fan_in) keeps the spread of every layer alike; He "
                        "(\N{SQUARE ROOT}(2/fan_in)), made for ReLU, is a little wide for tanh.",
                        "activations per layer for each init"))

    sec.sub(f"family-{index}-ranking", "Rankings")
    for label in problems_:
        sec.add({"kind": "h4", "title": label})
        sub = ranking[ranking["problem"] == label]
        if sub.empty:
            sec.add(_p("No runs with a trace."))
        else:
            sec.add(*_ranking(sub, target))
    return sec


def _tuning_section(data: pd.DataFrame, table: pd.DataFrame, palette: Palette) -> _Section:
    sec = _Section("tuning", "Hyper-parameter tuning")
    search = search_rows(data)
    sec.add(_p(f"{_plural(search['run_id'].nunique(), 'search run')} "
               f"({_plural(len(table), 'trial')}) of "
               f"{_plural(table['study'].nunique(), 'tuning study')}. "
               "The convergence figures and rankings above show only the evaluation runs: "
               "each chosen configuration re-run on seeds the search never saw, so that the "
               "search's luck is not counted as the optimizer's result (no selection bias). "
               "The search trials appear only here."))
    edges = table[table["at_edge"] != ""]
    caption: list[Inline] = [
        "Each point is a search trial: the final value (suboptimality, or loss where the "
        "optimum is unknown; median over the trial's seeds, bar: interquartile range) "
        "against the learning rate, on log scales. The ring is the chosen rate (the one "
        "the evaluation runs used, else the best trial), the dotted lines the smallest and "
        "largest rates tried, an X at the top a trial whose runs diverged. A wide flat basin "
        "means the optimizer forgives a rough rate; a narrow one that the rate must be "
        "tuned. "]
    if len(edges):
        items = "; ".join(f"{r.optimizer} on {r.problem_label} ({r.at_edge} value tried)"
                          for r in edges.itertuples())
        caption += [_strong(f"The chosen rate is at the edge of the range tried for: {items}.", cls="warn"),
                    " The best rate may lie outside: widen the search range."]
    else:
        caption[0] += "No chosen rate lies at an edge of its range."
    sec.add(_figure(lambda: sensitivity_figure(data, "lr", palette=palette, table=table), caption,
                    "learning-rate sensitivity"))
    chosen = table[table["chosen"]]
    if len(chosen):
        ranges = table.groupby(["study", "problem_label", "optimizer"])["value"].agg(["min", "max", "size"])
        rows = []
        for r in chosen.itertuples():
            lo, hi, n = ranges.loc[(r.study, r.problem_label, r.optimizer)]
            rows.append([r.study, r.problem_label, r.optimizer, _num(r.value), _num(r.median),
                         _range(lo, hi), str(int(n)), r.at_edge or "no"])
        sec.add(_table(["study", "problem", "optimizer", "chosen lr", "its median final value",
                        "range tried", "trials", "at an edge"], rows, left=(0, 1, 2)))
    return sec


def _badge(outcome: Any) -> dict[str, Any]:
    """A verdict as a coloured badge (the outcome's text, escaped like any other)."""
    return {"tag": "badge", "cls": claim_pages.BADGE_CLASSES.get(outcome, "unknown"),
            "text": str(outcome)}


def _claims_section(results: Results) -> _Section | None:
    """The verdicts of ``optbench claims`` (results_dir/claims/verdicts.json), then each
    claim's figure with its statistic; None when the directory has no verdicts."""
    directory = results.directory
    if directory is None or not claim_pages.has_verdicts(directory):
        return None
    sec = _Section("claims", "Claims")
    entries, problem = claim_pages.read_verdicts(directory)
    if problem is not None:
        sec.add(_p(f"The claims' verdicts could not be read: {problem}", cls="warn"))
        return sec
    counts = Counter(str(e.get("outcome")) for e in entries)
    tally = ", ".join(f"{counts[o]} {o}" for o in (HOLDS, FAILS, INCONCLUSIVE))
    sec.add(_p(f"{_plural(len(entries), 'claim')} of the lecture tested by ", _code("optbench claims"),
               f": {tally}. Each verdict comes from the statistic the claim states, over the "
               "runs of its arms (every arm runs every seed of its budget), never from one run; "
               "“does not hold” is a result "
               "like the others, “inconclusive” "
               "means the statistic could not decide (or the claim's code failed: see its note)."))
    rows = []
    anchors = [claim_pages.anchor(e, i) for i, e in enumerate(entries)]
    for entry, ident in zip(entries, anchors):
        number = entry.get("number")
        rows.append([str(number) if number else "–",
                     [str(entry.get("statement", "")), " ", _code(entry.get("key", ""))],
                     str(entry.get("experiment", "")), str(entry.get("summary", "")),
                     [_badge(entry.get("outcome"))], [_link(f"#{ident}", "figure")]])
    sec.add(_table(["#", "claim", "experiment", "measured", "verdict", ""], rows,
                   left=(1, 2, 3, 4)))
    for entry, ident in zip(entries, anchors):
        number = entry.get("number")
        key = str(entry.get("key", ""))
        sec.sub(ident, f"{number}. {key}" if number else key)
        sec.add(_p(_strong(str(entry.get("statement", "")))),
                _p("Experiment: ", str(entry.get("experiment", ""))),
                _p("Verdict: ", _badge(entry.get("outcome")), " ", str(entry.get("summary", ""))))
        budget = claim_pages.entry_budget(entry)
        ids = claim_pages.run_ids(entry)
        meta = (f"{'Quick' if budget.quick else 'Full'} budget, seeds "
                f"{', '.join(map(str, budget.seeds)) or 'unknown'}; "
                f"{_plural(sum(len(v) for v in ids.values()), 'run')} in "
                f"{_plural(len(ids), 'arm')} ({', '.join(ids)}); optbench {entry.get('optbench', '?')}, "
                f"finished {entry.get('finished', '?')}.")
        sec.add(_p(meta, cls="meta"))
        if entry.get("error"):
            sec.add(_p(f"The claim's code failed, so it was not decided: {entry['error']}", cls="warn"))
        failed = entry.get("failed_runs") or []
        if failed:
            sec.add(_p(f"{_plural(len(failed), 'run')} of this claim failed (see ",
                       _link("#failed", "Failed runs"), ").", cls="warn"))
        missing = claim_pages.missing_runs(entry, results.runs)
        if missing:
            sec.add(_p(f"{_plural(missing, 'run')} of this claim are no longer in the results "
                       "directory; the figure shows the others.", cls="warn"))
        if not ids:
            continue
        evidence = claim_pages.claim_evidence(entry, results.data, results.runs, directory)
        draw, own = claim_pages.claim_figure(entry, evidence)
        caption: list[Inline] = [f"Statistic: {entry.get('statistic', '')}."]
        if not own:
            caption.append(" The claim draws no figure of its own here (or it is not registered in "
                           "this process: pass its module with --plugin), so this is each arm's "
                           "median over seeds (band: interquartile range) of the suboptimality, or "
                           "of the loss where the optimum is unknown, against steps.")
        block = _figure(draw, caption, f"claim {key}")
        sec.add(block or _p("No run of this claim has a trace to draw.", cls="warn"))
    return sec


def _sections(results: Results, command: str, target: float) -> list[_Section]:
    main = results.main
    labels = set(main["optimizer_label"].unique()) if not main.empty else set()
    labels |= set(merged_by_family(main)[0]["optimizer_label"]) if not main.empty else set()
    tuning = sensitivity_table(results.data, "lr")
    labels |= set(tuning["color_key"])
    palette = Palette(labels)  # one colour per label, for every figure of the page
    claims_section = _claims_section(results)
    sections = [claims_section] if claims_section is not None else []
    sections.append(_overview(results, command))
    if not main.empty:
        sec = _Section("profiles", "Across problems")
        sec.add(_figure(lambda: profiles_figure(main, palette=palette),
                        "Left: the performance profile. For each optimizer, the share of problems "
                        f"it solves (closes the gap to {PROFILE_TARGET:g} of its initial value) "
                        "within a factor \N{GREEK SMALL LETTER TAU} of the cost of the cheapest "
                        "optimizer on that problem. Higher and further left is better: the value at "
                        "\N{GREEK SMALL LETTER TAU} = 1 is how often it is the cheapest, the level on "
                        "the right how often it solves the problem at all. Right: the data profile, "
                        "the share of (problem, seed) instances solved within a budget of gradient "
                        "evaluations (log scale). Each optimizer configuration counts as its own "
                        "method, except that configurations of one optimizer run on different "
                        "problems (a learning rate for the quadratics, another for the rest) "
                        "count as one, named \N{LEFT DOUBLE QUOTATION MARK}optimizer (per "
                        "problem)\N{RIGHT DOUBLE QUOTATION MARK}.",
                        "performance and data profiles"))
        sections.append(sec)
        ranking = summary_table(main, target)  # the numbers of `optbench run`'s summary
        for i, family in enumerate(sorted(main["problem"].unique())):
            rows = main[main["problem"] == family]
            sections.append(_family_section(family, rows, results, palette, ranking, target, i))
        schedule = _figure(lambda: schedules_figure(main, palette=palette),
                           "The learning rate each optimizer configuration used at each step, for "
                           "the configurations whose rate changes (log scale). Check that the "
                           "schedule does what was meant: where it decays, how far, and where "
                           "warm restarts jump back up.", "learning-rate schedules")
        if schedule:
            sec = _Section("schedules", "Learning-rate schedules")
            sec.add(schedule)
            sections.append(sec)
    if not tuning.empty:
        sections.append(_tuning_section(results.data, tuning, palette))
    if not results.ensembles.empty:
        sec = _Section("ensembles", "Ensembles")
        sec.add(_figure(lambda: ensembles_figure(results.ensembles),
                        "Validation accuracy and loss of the single members (grey), the "
                        "independent and snapshot ensembles (blue) and the Polyak average of the "
                        "weights (orange), one row per comparison. An ensemble pays off when its "
                        "bar beats the best single model's.", "ensembles against single models"))
        for table_id, group in results.ensembles.groupby("table", sort=True):
            rows = [[m, k, int(n), _num(a, 4), _num(v, 4)] for m, k, n, a, v in
                    group[["model", "kind", "members", "val_acc", "val_loss"]].itertuples(index=False)]
            sec.add(_p("Table ", _code(table_id), cls="meta"),
                    _table(["model", "kind", "members", "val_acc", "val_loss"], rows, left=(0, 1)))
        sections.append(sec)
    return sections


def report_html(results: Results, *, title: str, command: str,
                target: float = DEFAULT_TARGET) -> str:
    """The report of ``results`` as one HTML string (templates/report.html.j2)."""
    # The report's own arithmetic is small (statistics, a loss on a grid, a net at its
    # initial point): one BLAS thread is fastest and leaves the machine to others.
    with threadpool_limits(limits=1, user_api="blas"):
        sections = _sections(results, command, target)
    return template_environment().get_template("report.html.j2").render(
        title=str(title),
        command=str(command),
        now=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        source=str(results.directory) if results.directory else None,
        sections=[sec.data() for sec in sections],
    )


def _write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to a new file beside ``path``, then rename it into place.

    The temporary file is created with ``open(..., "x")`` (not ``mkstemp``, whose
    files are private), so the page gets the permissions of any file the user makes.
    """
    def write(tmp: Path) -> None:
        with open(tmp, "x", encoding="utf-8") as handle:
            handle.write(text)

    return store.replace_atomically(path, write)


def build_report(
    results_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    title: str | None = None,
    command: str | None = None,
    target: float = DEFAULT_TARGET,
) -> Path:
    """Write the HTML report of a results directory; returns the file's path.

    Args:
        results_dir: the results directory (FileNotFoundError if it does not exist;
            an empty one gives a page that says there are no runs).
        out: the HTML file to write (default ``results_dir/report.html``), written
            atomically: a temporary file beside it, then renamed into place.
        title: the page title (default ``"optbench: <directory name>"``).
        command: the command line that regenerates the page, shown in it (default
            ``optbench report <results_dir>``).
        target: the suboptimality (or gap to the best loss found) of the "reached"
            and "to target" columns of the ranking tables.
    """
    directory = Path(results_dir)
    if not directory.is_dir():
        raise FileNotFoundError(f"results directory not found: {directory}")
    results = read_results(directory)
    path = Path(out) if out is not None else directory / "report.html"
    if title is None:
        title = f"optbench: {directory.resolve().name}"
    if command is None:
        command = f"optbench report {shlex.quote(str(directory))}"
    return _write_atomic(path, report_html(results, title=title, command=command, target=target))


def render_report(
    data: pd.DataFrame,
    *,
    title: str = "optbench report",
    environment: dict[str, Any] | None = None,
    command: str | None = None,
    target: float = DEFAULT_TARGET,
) -> str:
    """The report of a trace table alone (runs that failed before recording are not
    in it, nor ensembles): prefer :func:`build_report` on the results directory."""
    results = results_from_table(data, environment)
    return report_html(results, title=title, command=command or "optbench report DIR", target=target)


def write_report(data: pd.DataFrame, path: str | os.PathLike, **kwargs: Any) -> Path:
    """:func:`render_report` written atomically to ``path``."""
    return _write_atomic(Path(path), render_report(data, **kwargs))
