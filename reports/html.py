"""The HTML report: one self-contained file, readable offline.

:func:`build_report` reads a results directory (:func:`reports.results.read_results`),
draws every figure for which there is data and writes one HTML file atomically
(a temporary file in the target's directory, then a rename).  Figures are embedded
as base64 PNG images (:data:`DPI` dots per inch): inline SVG of contour maps and of
figures with hundreds of curves weighs megabytes, a PNG tens of kilobytes.  The
page has no external CSS, scripts or fonts.

Sections: a contents list; the overview (runs and their statuses, failed runs with
their error messages and tracebacks, diverged runs, run files that could not be
read, the run configuration from the stored specs, the environment the runs were
made in, flagged where runs differ, and the command that regenerates the page);
the profiles across problems; one section per problem family (convergence,
trajectories of 2-D problems, net diagnostics, a ranking table per problem); the
learning-rate schedules; hyper-parameter tuning; ensembles.  Each figure has a
caption that says what to look at.

The report never runs an optimizer: it reads the stored results, and rebuilds a
problem only to evaluate its loss on a grid (contour maps) or a net at its
initial point (activation histograms).
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import secrets
import shlex
import warnings
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .convergence import SUBOPT_FLOOR, convergence_figure
from .nets import (
    UPDATE_RATIO_REFERENCE,
    accuracy_figure,
    activation_histograms_figure,
    ensembles_figure,
    net_rows,
    update_ratio_figure,
)
from .profiles import PROFILE_TARGET, profiles_figure, ranking_table
from .results import Results, read_results, results_from_table
from .schedules import schedules_figure
from .sensitivity import ROLE, search_rows, sensitivity_figure, sensitivity_table
from .style import Palette, natural_sorted
from .summary import DEFAULT_TARGET
from .trajectories import drawn_runs, trajectories_figure, trajectory_problems

#: Resolution of the embedded PNG figures.
DPI = 100
#: A family with more problems than this gets one convergence panel per problem
#: (against cost) instead of a row per problem (steps, cost, seconds).
MAX_ROWS_OF_CURVES = 3

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       padding: 1em 2em 4em; max-width: 80em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2.2em; }
h3 { margin-top: 1.6em; }
nav ul { margin: 0.2em 0; }
.meta { color: #555; }
.warn { color: #a00; }
figure { margin: 1.2em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.92em; color: #333; max-width: 62em; margin-top: 0.4em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 0.88em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.7em; text-align: right;
         vertical-align: top; }
th { background: #f6f6f6; }
td.l, th.l { text-align: left; }
td.err { text-align: left; color: #a00; font-family: ui-monospace, monospace; white-space: pre-wrap; }
code, pre { background: #f4f4f4; padding: 0 0.25em; font-family: ui-monospace, monospace; }
pre { padding: 0.5em; overflow-x: auto; font-size: 0.85em; }
details { margin: 0.3em 0; }
"""

esc = html.escape


# --------------------------------------------------------------------------- formatting


def _num(value: Any, digits: int = 3) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return esc(str(value))
    if np.isnan(v):
        return "&ndash;"
    if np.isinf(v):
        return "&infin;" if v > 0 else "&minus;&infin;"
    return f"{v:.{digits}g}"


def _table(header: list[str], rows: Iterable[list[Any]], left: Iterable[int] = (0,),
           raw: bool = False, classes: dict[int, str] | None = None) -> str:
    """An HTML table; cells are escaped unless ``raw`` (then they are HTML already).

    Columns in ``left`` are left-aligned; ``classes`` gives other columns a CSS class.
    """
    cls = {i: "l" for i in left}
    cls.update(classes or {})
    out = ["<div class='scroll'><table><thead><tr>"]
    out += [f"<th class='{'l' if i in cls else ''}'>{esc(h)}</th>" for i, h in enumerate(header)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            text = cell if raw else esc(str(cell))
            out.append(f"<td class='{cls.get(i, '')}'>{text}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


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


def _figure(draw: Callable[[], Any], caption: str, alt: str) -> str:
    """Draw, render and embed one figure with its caption ('' when there is no data).

    A figure that fails to draw is reported in the page (and as a warning) instead
    of stopping the report.
    """
    try:
        fig = draw()
        if fig is None:
            return ""
        png = render_png(fig)
    except Exception as exc:  # one broken figure must not cost the whole report
        warnings.warn(f"optbench report: figure '{alt}' could not be drawn: {exc!r}",
                      RuntimeWarning, stacklevel=2)
        return f"<p class='warn'>The figure &ldquo;{esc(alt)}&rdquo; could not be drawn: {esc(repr(exc))}</p>"
    data = base64.b64encode(png).decode("ascii")
    return (f"<figure><img alt='{esc(alt, quote=True)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{caption}</figcaption></figure>")


# --------------------------------------------------------------------------- sections


class _Section:
    def __init__(self, ident: str, title: str) -> None:
        self.ident, self.title = ident, title
        self.parts: list[str] = []
        self.children: list[tuple[str, str]] = []

    def sub(self, ident: str, title: str) -> None:
        self.children.append((ident, title))
        self.parts.append(f"<h3 id='{ident}'>{esc(title)}</h3>")

    def add(self, text: str) -> None:
        if text:
            self.parts.append(text)

    def html(self) -> str:
        return f"<section><h2 id='{self.ident}'>{esc(self.title)}</h2>" + "\n".join(self.parts) + "</section>"


def _status_counts(runs: pd.DataFrame) -> str:
    if runs.empty:
        return ""
    counts = runs["status"].value_counts()
    order = ["converged", "max_steps", "diverged", "error"]
    names = order + sorted(set(counts.index) - set(order))
    return ", ".join(f"{int(counts[s])} {esc(str(s))}" for s in names if s in counts)


def _overview(results: Results, command: str) -> _Section:
    sec = _Section("overview", "Overview")
    runs = results.runs
    n = len(runs)
    if n == 0:
        where = f" in <code>{esc(str(results.directory))}</code>" if results.directory else ""
        sec.add(f"<p><strong>There are no runs{where}.</strong> Run a study first, e.g. "
                "<code>optbench run quick --out DIR</code>, then regenerate this page.</p>")
    else:
        text = f"<p>{_plural(n, 'run')}: {_status_counts(runs)}."
        if ROLE in runs.columns:
            n_search = int((runs[ROLE] == "search").sum())
            if n_search:
                text += (f" {n_search} of them are hyper-parameter search trials, drawn only in "
                         "<a href='#tuning'>Hyper-parameter tuning</a>.")
        sec.add(text + "</p>")
    sec.add(f"<p>Regenerate this page with <code>{esc(command)}</code>.</p>")
    if n == 0:
        return sec

    failed = runs[runs["status"] == "error"]
    sec.sub("failed", f"Failed runs ({len(failed)})")
    if failed.empty:
        sec.add("<p>No run failed.</p>")
    else:
        tracebacks = {rec.get("run_id"): rec.get("traceback") for rec in results.records}
        rows = []
        for _, r in failed.iterrows():
            detail = tracebacks.get(r["run_id"])
            message = f"<span>{esc(str(r.get('error') or 'unknown error'))}</span>"
            if detail:
                message += f"<details><summary>traceback</summary><pre>{esc(str(detail))}</pre></details>"
            rows.append([esc(str(r["problem_label"])), esc(str(r["optimizer_label"])),
                         esc(str(r["seed"])), message, f"<code>{esc(str(r['run_id']))}</code>"])
        sec.add(_table(["problem", "optimizer", "seed", "error", "run"], rows, left=(0, 1),
                       raw=True, classes={3: "err"}))

    diverged = runs[runs["status"] == "diverged"]
    sec.sub("diverged", f"Diverged runs ({len(diverged)})")
    if diverged.empty:
        sec.add("<p>No run diverged.</p>")
    else:
        sec.add("<p>A run diverges when its loss or gradient becomes non-finite or grows far "
                "beyond its start; its trace stops there and it counts as +&infin; in every "
                "statistic.</p>")
        by_id = {rec.get("run_id"): rec for rec in results.records}
        rows = []
        for _, r in diverged.iterrows():
            record = by_id.get(r["run_id"], {})
            step = record.get("diverged_at", r.get("steps_taken"))
            rows.append([r["problem_label"], r["optimizer_label"], r["seed"],
                         "" if step is None or pd.isna(step) else int(step),
                         record.get("diverged_because") or "", r["run_id"]])
        sec.add(_table(["problem", "optimizer", "seed", "diverged at step", "why", "run"], rows,
                       left=(0, 1, 4)))
    if results.skipped:
        sec.sub("unreadable", f"Unreadable run files ({len(results.skipped)})")
        sec.add("<p class='warn'>These files in the results directory could not be read and are "
                "left out of the whole report (run the study again to redo them):</p><ul>"
                + "".join(f"<li><code>{esc(s)}</code></li>" for s in results.skipped) + "</ul>")

    sec.sub("configuration", "Run configuration")
    sec.add(_configuration(results))
    sec.sub("environment", "Environment")
    sec.add(_environment(results))
    return sec


def _counted(counter: Counter) -> str:
    """``a, b (3 runs), ...``: values in order, with counts when there are several."""
    if not counter:
        return "unknown"

    def order(item: tuple[Any, int]) -> tuple[int, Any]:
        key = item[0]
        return (0, key) if isinstance(key, (int, float)) else (1, str(key))

    return ", ".join(esc(str(k)) + (f" ({v} runs)" if len(counter) > 1 else "")
                     for k, v in sorted(counter.items(), key=order))


def _configuration(results: Results) -> str:
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
        parts.append(
            f"<p>{_plural(len(problems_), 'problem')} &times; "
            f"{_plural(len(optimizers_), 'optimizer configuration')} &times; "
            f"{_plural(len(seeds), 'seed')} ({', '.join(esc(str(s)) for s in seeds)}): "
            f"{combos} combinations, {len(main)} stored"
            + (" (not every optimizer ran on every problem with every seed)" if len(main) < combos else "")
            + (f"; besides, {int(search.sum())} tuning search trials" if search.any() else "")
            + ".</p>")
    elif search.any():
        parts.append(f"<p>Only tuning search trials: {int(search.sum())} runs.</p>")
    chosen = [specs.get(rid, {}) for rid in runs["run_id"]]
    steps = Counter(s["steps"] for s in chosen if "steps" in s)
    every = Counter(s["record_every"] for s in chosen if "record_every" in s)
    options = Counter(json.dumps(s.get("options") or {}, sort_keys=True) for s in chosen if s)
    text = f"<p>Steps per run: {_counted(steps)}. Trace recorded every {_counted(every)} steps."
    if set(options) - {"{}"}:
        text += f" Run options: {_counted(options)}."
    parts.append(text + "</p>")
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
    return "\n".join(parts)


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


def _environment(results: Results) -> str:
    envs = [rec.get("environment") for rec in results.records]
    known = [e for e in envs if isinstance(e, dict)]
    parts = []
    if not known:
        parts.append("<p>The runs carry no environment record.</p>")
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
            parts.append(f"<p class='warn'>The runs were not all made in the same environment: "
                         f"they differ in {esc(', '.join(differ))}. Compare timings across "
                         "those runs with care.</p>")
        else:
            parts.append(f"<p>All {_plural(len(known), 'run')} with an environment record were made "
                         "in the same environment.</p>")
        parts.append(_table(["", "value"], rows, left=(0, 1)))
        if len(known) < len(envs):
            parts.append(f"<p>{len(envs) - len(known)} runs carry no environment record.</p>")
    started = sorted(str(rec.get("started")) for rec in results.records if rec.get("started"))
    if started:
        parts.append(f"<p>Runs started between {esc(started[0])} and {esc(started[-1])}.</p>")
    import matplotlib
    import seaborn

    parts.append(f"<p class='meta'>This page was drawn with matplotlib {esc(matplotlib.__version__)} "
                 f"and seaborn {esc(seaborn.__version__)}.</p>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- captions

_CONVERGENCE = (
    "Median over seeds (line) and interquartile range (band) of the suboptimality "
    "f &minus; f* on a log scale (values below {floor:g} drawn at {floor:g}), or of the loss "
    "where the optimum is unknown. {axes} Lower is better; a curve that stops early has "
    "converged, and an X marks where runs diverged. Look at which method gets lowest "
    "fastest, and whether the order changes between the axes: a Newton step is cheap in "
    "steps but costs a Hessian (about dim gradients)."
)


def _convergence_caption(rows_layout: bool) -> str:
    axes = ("Left to right: against steps, gradient evaluations (cost in gradient-equivalents: a "
            "loss 0.5, a Hessian dim) and seconds of the method's own work." if rows_layout else
            "Against gradient evaluations (cost in gradient-equivalents: a loss 0.5, a Hessian dim), "
            "one panel per problem.")
    return _CONVERGENCE.format(floor=SUBOPT_FLOOR, axes=axes)


def _trajectory_caption(rows: pd.DataFrame) -> str:
    text = ("The iterates of one seed of each optimizer over contour lines of the loss "
            "(log-spaced levels, darker is lower). Circle: start; star: last iterate; +: the "
            "minimiser where known. Look at the shape of the path: plain SGD zig-zags across a "
            "narrow valley (or crawls along it) where momentum and Adam follow its floor; a "
            "path that leaves the window diverged.")
    gaps = [int(np.diff(run["step"].to_numpy()).min()) for run in drawn_runs(rows).values()
            if len(run) > 1]
    every = max(gaps, default=1)
    if every > 1:
        text += (f" Some paths were recorded only every {every} steps, so they join every "
                 f"{every}th iterate and may hide a zig-zag; record_every = 1 shows each step.")
    return text


def _ranking_html(table: pd.DataFrame, target: float) -> str:
    measure = table["measure"].iloc[0]
    reference = table["reference"].dropna()
    best_found = len(reference) and reference.iloc[0] == "best found"
    name = "suboptimality" if measure == "subopt" else measure
    rows = []
    for _, r in table.iterrows():
        rows.append([
            str(int(r["rank"])), esc(str(r["optimizer"])), str(int(r["runs"])), _num(r["median"]),
            f"{_num(r['q25'])} &ndash; {_num(r['q75'])}", f"{_num(r['ci_low'])} &ndash; {_num(r['ci_high'])}",
            esc(str(r["success"])), _num(r["cost_to_target"]), _num(r["seconds_to_target"]),
            str(int(r["diverged"])), str(int(r["errors"])),
        ])
    header = ["rank", "optimizer", "runs", f"median final {name}", "IQR", "95% CI of median",
              f"reached {target:g}", "cost to target", "seconds to target", "diverged", "errors"]
    gap = ("the loss minus the best loss any run reached (the optimum is unknown)" if best_found
           else "the suboptimality f &minus; f*")
    caption = (f"<p class='meta'>Ranked by the median final {esc(name)} over seeds (a diverged run "
               f"counts as &infin;); IQR: its interquartile range; CI: a 95% bootstrap interval of "
               f"the median. &ldquo;Reached&rdquo;: runs whose gap, {gap}, fell to {target:g}; cost "
               "(gradient-equivalents) and seconds to target are medians over those runs.</p>")
    return _table(header, rows, left=(1,), raw=True) + caption


def _family_section(family: str, rows: pd.DataFrame, results: Results, palette: Palette,
                    ranking: pd.DataFrame, target: float, index: int) -> _Section:
    problems_ = natural_sorted(rows["problem_label"].unique())
    sec = _Section(f"family-{index}", family)
    n_runs = rows["run_id"].nunique()
    sec.add(f"<p>{_plural(len(problems_), 'problem')}, "
            f"{_plural(rows['optimizer_label'].nunique(), 'optimizer configuration')}, "
            f"{_plural(n_runs, 'run')} with a trace.</p>")
    rows_layout = len(problems_) <= MAX_ROWS_OF_CURVES
    xs = ("step", "cost", "time") if rows_layout else "cost"
    sec.sub(f"family-{index}-convergence", "Convergence")
    sec.add(_figure(lambda: convergence_figure(rows, xs, palette=palette),
                    _convergence_caption(rows_layout), f"convergence on {family}"))

    two_d = trajectory_problems(rows)
    if two_d:
        sec.sub(f"family-{index}-trajectories", "Trajectories")
        params = results.problem_params()
        for label in two_d:
            sub = rows[rows["problem_label"] == label]
            sec.add(_figure(lambda label=label: trajectories_figure(rows, label, palette=palette,
                                                                    problem_params=params),
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
                        "the gradients vanish; with large weights (std 1) tanh saturates at &plusmn;1, "
                        "where its gradient vanishes too; Xavier (std 1/&radic;fan_in) keeps the "
                        "spread of every layer alike; He (&radic;(2/fan_in)), made for ReLU, is a "
                        "little wide for tanh.", "activations per layer for each init"))

    sec.sub(f"family-{index}-ranking", "Rankings")
    for label in problems_:
        sec.add(f"<h4>{esc(label)}</h4>")
        sub = ranking[ranking["problem_label"] == label]
        if sub.empty:
            sec.add("<p>No runs with a trace.</p>")
        else:
            sec.add(_ranking_html(sub, target))
    return sec


def _tuning_section(data: pd.DataFrame, table: pd.DataFrame, palette: Palette) -> _Section:
    sec = _Section("tuning", "Hyper-parameter tuning")
    search = search_rows(data)
    sec.add(f"<p>{_plural(search['run_id'].nunique(), 'search run')} "
            f"({_plural(len(table), 'trial')}) of "
            f"{_plural(table['study'].nunique(), 'tuning study')}.</p>")
    edges = table[table["at_edge"] != ""]
    caption = ("Each point is a search trial: the final value (suboptimality, or loss where the "
               "optimum is unknown; median over the trial's seeds, bar: interquartile range) "
               "against the learning rate, on log scales. The ring is the chosen rate (the one "
               "the evaluation runs used, else the best trial), the dotted lines the smallest and "
               "largest rates tried, an X at the top a trial whose runs diverged. A wide flat basin "
               "means the optimizer forgives a rough rate; a narrow one that the rate must be "
               "tuned. ")
    if len(edges):
        items = "; ".join(f"{esc(r.optimizer)} on {esc(r.problem_label)} ({esc(r.at_edge)} value tried)"
                          for r in edges.itertuples())
        caption += (f"<strong class='warn'>The chosen rate is at the edge of the range tried for: "
                    f"{items}.</strong> The best rate may lie outside: widen the search range.")
    else:
        caption += "No chosen rate lies at an edge of its range."
    sec.add(_figure(lambda: sensitivity_figure(data, "lr", palette=palette, table=table), caption,
                    "learning-rate sensitivity"))
    chosen = table[table["chosen"]]
    if len(chosen):
        ranges = table.groupby(["study", "problem_label", "optimizer"])["value"].agg(["min", "max", "size"])
        rows = []
        for r in chosen.itertuples():
            lo, hi, n = ranges.loc[(r.study, r.problem_label, r.optimizer)]
            rows.append([r.study, r.problem_label, r.optimizer, _num(r.value), _num(r.median),
                         f"{_num(lo)} &ndash; {_num(hi)}", str(int(n)), esc(r.at_edge or "no")])
        sec.add(_table(["study", "problem", "optimizer", "chosen lr", "its median final value",
                        "range tried", "trials", "at an edge"],
                       [[esc(str(c)) if i < 3 else c for i, c in enumerate(row)] for row in rows],
                       left=(0, 1, 2), raw=True))
    return sec


def _sections(results: Results, command: str, target: float) -> list[_Section]:
    main = results.main
    labels = set(main["optimizer_label"].unique()) if not main.empty else set()
    tuning = sensitivity_table(results.data, "lr")
    labels |= set(tuning["color_key"])
    palette = Palette(labels)  # one colour per label, for every figure of the page
    sections = [_overview(results, command)]
    if not main.empty:
        sec = _Section("profiles", "Across problems")
        sec.add(_figure(lambda: profiles_figure(main, palette=palette),
                        "Left: the performance profile. For each optimizer, the share of problems "
                        f"it solves (closes the gap to {PROFILE_TARGET:g} of its initial value) "
                        "within a factor &tau; of the cost of the cheapest optimizer on that "
                        "problem. Higher and further left is better: the value at &tau; = 1 is how "
                        "often it is the cheapest, the level on the right how often it solves the "
                        "problem at all. Right: the data profile, the share of (problem, seed) "
                        "instances solved within a budget of gradient evaluations (log scale). "
                        "Each optimizer configuration counts as its own method.",
                        "performance and data profiles"))
        sections.append(sec)
        ranking = ranking_table(main, target)  # once: its statistics are per problem anyway
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
            sec.add(f"<p class='meta'>Table <code>{esc(str(table_id))}</code></p>")
            sec.add(_table(["model", "kind", "members", "val_acc", "val_loss"],
                           [[esc(str(r[0])), esc(str(r[1])), str(r[2]), r[3], r[4]] for r in rows],
                           left=(0, 1), raw=True))
        sections.append(sec)
    return sections


def report_html(results: Results, *, title: str, command: str,
                target: float = DEFAULT_TARGET) -> str:
    """The report of ``results`` as one HTML string."""
    # The report's own arithmetic is small (statistics, a loss on a grid, a net at its
    # initial point): one BLAS thread is fastest and leaves the machine to others.
    with threadpool_limits(limits=1, user_api="blas"):
        sections = _sections(results, command, target)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    source = f" from <code>{esc(str(results.directory))}</code>" if results.directory else ""
    parts = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p class='meta'>Generated {now}{source}. Regenerate with <code>{esc(command)}</code>.</p>",
        "<nav><h2 id='contents'>Contents</h2><ul>",
    ]
    for sec in sections:
        parts.append(f"<li><a href='#{sec.ident}'>{esc(sec.title)}</a>")
        if sec.children:
            parts.append("<ul>" + "".join(f"<li><a href='#{i}'>{esc(t)}</a></li>"
                                          for i, t in sec.children) + "</ul>")
        parts.append("</li>")
    parts.append("</ul></nav>")
    parts += [sec.html() for sec in sections]
    parts.append("</body></html>")
    return "\n".join(parts)


def _write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to a new file beside ``path``, then rename it into place.

    The temporary file is created with ``open(..., "x")`` (not ``mkstemp``, whose
    files are private), so the page gets the permissions of any file the user makes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        with open(tmp, "x", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


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
