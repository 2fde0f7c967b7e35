"""The HTML report: a page and its figures, readable offline.

:func:`build_report` reads a results directory (:func:`reports.results.read_results`),
draws every figure for which there is data and writes the page atomically (a
temporary file in the target's directory, then a rename).  Each figure is written
as PNG and SVG into the folder beside the page named after it (``report.html`` ->
``report_figures/``, :mod:`reports.figure_files`): the page shows the PNG at the
figure's natural size (shrunk only where the window is narrower), a click opens it
full size, and the caption links both files.  :func:`render_report` returns a
one-file page instead, its figures embedded as base64 PNG.  The page has no external
CSS, scripts or fonts.

Sections: a contents list; the claims, when the directory holds the verdicts of
``optbench claims`` (a verdict table with a coloured badge per claim and a link to
its figure, then each claim's statement, experiment, verdict and figure with its
statistic: see :mod:`reports.claims`); the overview (:mod:`reports.overview`); the
profiles across problems and one section per problem family, drawn from the default
view with the whole grid linked (:mod:`reports.family_sections`,
:mod:`reports.views`); the learning-rate schedules; hyper-parameter tuning;
ensembles.  Each figure has a caption that says what to look at.

The page is rendered from Jinja2 templates (``templates/report.html.j2`` and the
macros of ``templates/_blocks.html.j2``, package data) with autoescape on and
StrictUndefined: the sections are plain data (:mod:`reports.blocks`: lists and dicts
of text, numbers formatted as strings, figures as file links or data URIs), never
HTML, so every string from a suite file or a result (a problem or optimizer label, a parameter
value, an error message, an environment value) is shown as text.

The report never runs an optimizer: it reads the stored results, and rebuilds a
problem only to evaluate its loss on a grid (contour maps) or a net at its
initial point (activation histograms).
"""

from __future__ import annotations

import functools
import os
import shlex
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from threadpoolctl import threadpool_limits

from optbench import store
from optbench.claims import FAILS, HOLDS, INCONCLUSIVE, verdict_text

from . import blocks, family_sections, overview
from . import claims as claim_pages
from .blocks import Figures, Inline
from .figure_files import EMBED_DPI, EmbeddedFigures, FigureFolder, figure_bytes
from .nets import ensembles_figure
from .results import Results, read_results, results_from_table
from .schedules import schedules_figure
from .sensitivity import search_rows, sensitivity_figure, sensitivity_table
from .style import Palette
from .summary import DEFAULT_TARGET, summary_table
from .views import default_view

#: Resolution of the embedded PNG figures (:func:`render_report`'s one-file page).
DPI = EMBED_DPI
#: The widest the page's text column gets, in CSS pixels: 12.5 inches at 96 per inch
#: (:data:`reports.style.PAGE_WIDTH_IN`), so a figure no wider is never shrunk.
PAGE_WIDTH_PX = 1200

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


# --------------------------------------------------------------------------- figures


def render_png(fig: Any, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (:func:`reports.figure_files.figure_bytes`)."""
    return figure_bytes(fig, "png", dpi)


def _tuning_section(data: pd.DataFrame, table: pd.DataFrame, palette: Palette,
                    figures: Figures) -> blocks.Section:
    sec = blocks.Section("tuning", "Hyper-parameter tuning")
    search = search_rows(data)
    sec.add(blocks.p(f"{blocks.plural(search['run_id'].nunique(), 'search run')} "
                     f"({blocks.plural(len(table), 'trial')}) of "
                     f"{blocks.plural(table['study'].nunique(), 'tuning study')}. "
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
        caption += [blocks.strong(f"The chosen rate is at the edge of the range tried for: {items}.",
                                  cls="warn"),
                    " The best rate may lie outside: widen the search range."]
    else:
        caption[0] += "No chosen rate lies at an edge of its range."
    sec.add(blocks.figure(figures, lambda: sensitivity_figure(data, "lr", palette=palette, table=table),
                          caption, "learning-rate sensitivity"))
    chosen = table[table["chosen"]]
    if len(chosen):
        ranges = table.groupby(["study", "problem_label", "optimizer"])["value"].agg(["min", "max", "size"])
        rows = []
        for r in chosen.itertuples():
            lo, hi, n = ranges.loc[(r.study, r.problem_label, r.optimizer)]
            rows.append([r.study, r.problem_label, r.optimizer, blocks.num(r.value), blocks.num(r.median),
                         blocks.value_range(lo, hi), str(int(n)), r.at_edge or "no"])
        sec.add(blocks.table(["study", "problem", "optimizer", "chosen lr", "its median final value",
                              "range tried", "trials", "at an edge"], rows, left=(0, 1, 2)))
    return sec


def _badge(outcome: Any) -> dict[str, Any]:
    """A verdict as a coloured badge (the outcome's text, escaped like any other)."""
    return {"tag": "badge", "cls": claim_pages.BADGE_CLASSES.get(outcome, "unknown"),
            "text": str(outcome)}


def _measured(entry: dict[str, Any]) -> str:
    """The verdict's summary, after its map over the deciding setting where it has one."""
    by_setting = entry.get("by_setting")
    return verdict_text(by_setting if isinstance(by_setting, dict) else {}, str(entry.get("summary", "")))


def _claim_row(entry: dict[str, Any], ident: str) -> list[Any]:
    number = entry.get("number")
    return [str(number) if number else "\N{EN DASH}",
            [str(entry.get("statement", "")), " ", blocks.code(entry.get("key", ""))],
            str(entry.get("experiment", "")), _measured(entry),
            [_badge(entry.get("outcome"))], [blocks.link(f"#{ident}", "figure")]]


def _claims_section(results: Results, figures: Figures) -> blocks.Section | None:
    """The verdicts of ``optbench claims`` (results_dir/claims/verdicts.json), then each
    claim's figure with its statistic; None when the directory has no verdicts."""
    directory = results.directory
    if directory is None or not claim_pages.has_verdicts(directory):
        return None
    sec = blocks.Section("claims", "Claims")
    entries, problem = claim_pages.read_verdicts(directory)
    if problem is not None:
        sec.add(blocks.p(f"The claims' verdicts could not be read: {problem}", cls="warn"))
        return sec
    anchors = [claim_pages.anchor(e, i) for i, e in enumerate(entries)]
    checks = [entry.get("kind") == "check" for entry in entries]
    counts = Counter(str(e.get("outcome")) for e, check in zip(entries, checks) if not check)
    tally = ", ".join(f"{counts[o]} {o}" for o in (HOLDS, FAILS, INCONCLUSIVE))
    n_checks = sum(checks)
    sec.add(blocks.p(f"{blocks.plural(len(entries) - n_checks, 'claim')} of the lecture tested by ",
                     blocks.code("optbench claims"),
                     f": {tally}. Each verdict comes from the statistic the claim states, over the "
                     "runs of its arms (every arm runs every seed of its budget), never from one run; "
                     "“does not hold” is a result "
                     "like the others, “inconclusive” "
                     "means the statistic could not decide (or the claim's code failed: see its note). "
                     "Where a setting decides the verdict (a budget, a step size), the verdict is "
                     "given for each value swept (“by setting”)."
                     + (f" Listed apart, {blocks.plural(n_checks, 'check')}: properties verified (an "
                        "identity, a near-certainty) that show the code does what the lecture says, "
                        "not evidence about optimizers." if n_checks else "")))
    for wanted in (False, True):
        rows = [_claim_row(entry, ident) for entry, ident, check in zip(entries, anchors, checks)
                if check == wanted]
        if rows:
            if wanted:
                sec.add(blocks.p(blocks.strong("Checks"), " (properties verified, not evidence)"))
            sec.add(blocks.table(["#", "check" if wanted else "claim", "experiment", "measured",
                                  "verdict", ""], rows, left=(1, 2, 3, 4)))
    for entry, ident in zip(entries, anchors):
        number = entry.get("number")
        key = str(entry.get("key", ""))
        sec.sub(ident, f"{number}. {key}" if number else key)
        sec.add(blocks.p(blocks.strong(str(entry.get("statement", "")))),
                blocks.p("Experiment: ", str(entry.get("experiment", ""))),
                blocks.p("Verdict: ", _badge(entry.get("outcome")),
                         " (a check)" if entry.get("kind") == "check" else "", " ",
                         _measured(entry)))
        budget = claim_pages.entry_budget(entry)
        ids = claim_pages.run_ids(entry)
        meta = (f"{'Quick' if budget.quick else 'Full'} budget, seeds "
                f"{', '.join(map(str, budget.seeds)) or 'unknown'}; "
                f"{blocks.plural(sum(len(v) for v in ids.values()), 'run')} in "
                f"{blocks.plural(len(ids), 'arm')} ({', '.join(ids)}); "
                f"optbench {entry.get('optbench', '?')}, "
                f"finished {entry.get('finished', '?')}.")
        sec.add(blocks.p(meta, cls="meta"))
        if entry.get("error"):
            sec.add(blocks.p(f"The claim's code failed, so it was not decided: {entry['error']}", cls="warn"))
        failed = entry.get("failed_runs") or []
        if failed:
            sec.add(blocks.p(f"{blocks.plural(len(failed), 'run')} of this claim failed (see ",
                             blocks.link("#failed", "Failed runs"), ").", cls="warn"))
        missing = claim_pages.missing_runs(entry, results.runs)
        if missing:
            sec.add(blocks.p(f"{blocks.plural(missing, 'run')} of this claim are no longer in the results "
                             "directory; the figure shows the others.", cls="warn"))
        if not ids:
            continue
        evidence = claim_pages.claim_evidence(entry, results.data, results.runs, directory)
        draw, own = claim_pages.claim_figure(entry, evidence)
        statistic = str(entry.get("statistic", "")).rstrip()
        caption: list[Inline] = [f"Statistic: {statistic}{'' if statistic.endswith('.') else '.'}"]
        if not own:
            caption.append(" The claim draws no figure of its own here (or it is not registered in "
                           "this process: pass its module with --plugin), so this is each arm's "
                           "median over seeds (band: interquartile range) of the suboptimality, or "
                           "of the loss where the optimum is unknown, against steps.")
        block = blocks.figure(figures, draw, caption, f"claim {key}")
        sec.add(block or blocks.p("No run of this claim has a trace to draw.", cls="warn"))
    return sec


def _sections(results: Results, command: str, target: float, figures: Figures) -> list[blocks.Section]:
    main = results.main
    view = default_view(main)
    tuning = sensitivity_table(results.data, "lr")
    palette = family_sections.page_palette(main, view, tuning)
    claims_section = _claims_section(results, figures)
    sections = [claims_section] if claims_section is not None else []
    sections.append(overview.overview_section(results, command))
    if not main.empty:
        page = family_sections.PageContext(
            results=results, view=view, view_ranking=summary_table(view.data, target),
            grid_ranking=summary_table(main, target),  # what `optbench run` prints
            palette=palette, figures=figures, target=target)
        sections.append(family_sections.profile_section(page))
        for i, family in enumerate(sorted(main["problem"].unique())):
            sections.append(family_sections.family_section(family, main[main["problem"] == family], page, i))
        schedule = blocks.figure(figures, lambda: schedules_figure(main, palette=palette),
                                 "The learning rate each optimizer configuration used at each step, for "
                                 "the configurations whose rate changes (log scale). Check that the "
                                 "schedule does what was meant: where it decays, how far, and where "
                                 "warm restarts jump back up.", "learning-rate schedules")
        if schedule:
            sec = blocks.Section("schedules", "Learning-rate schedules")
            sec.add(schedule)
            sections.append(sec)
    if not tuning.empty:
        sections.append(_tuning_section(results.data, tuning, palette, figures))
    if not results.ensembles.empty:
        sec = blocks.Section("ensembles", "Ensembles")
        sec.add(blocks.figure(figures, lambda: ensembles_figure(results.ensembles),
                              "Validation accuracy and loss of the single members (grey), the "
                              "independent and snapshot ensembles (blue) and the Polyak average of the "
                              "weights (orange), one row per comparison. An ensemble pays off when its "
                              "bar beats the best single model's.", "ensembles against single models"))
        for table_id, group in results.ensembles.groupby("table", sort=True):
            rows = [[m, k, int(n), blocks.num(a, 4), blocks.num(v, 4)] for m, k, n, a, v in
                    group[["model", "kind", "members", "val_acc", "val_loss"]].itertuples(index=False)]
            sec.add(blocks.p("Table ", blocks.code(table_id), cls="meta"),
                    blocks.table(["model", "kind", "members", "val_acc", "val_loss"], rows, left=(0, 1)))
        sections.append(sec)
    return sections


def report_html(results: Results, *, title: str, command: str,
                target: float = DEFAULT_TARGET, figures: Figures | None = None) -> str:
    """The report of ``results`` as one HTML string (templates/report.html.j2).

    ``figures``: where the figures go (:mod:`reports.figure_files`): a
    :class:`FigureFolder` writes them as files beside the page; the default embeds
    them in the page.
    """
    figures = EmbeddedFigures() if figures is None else figures
    # The report's own arithmetic is small (statistics, a loss on a grid, a net at its
    # initial point): one BLAS thread is fastest and leaves the machine to others.
    with threadpool_limits(limits=1, user_api="blas"):
        sections = _sections(results, command, target, figures)
    return template_environment().get_template("report.html.j2").render(
        title=str(title),
        command=str(command),
        now=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        source=str(results.directory) if results.directory else None,
        sections=[sec.data() for sec in sections],
        page_width=PAGE_WIDTH_PX,
    )


def _write_page(path: Path, results: Results, **kwargs: Any) -> Path:
    """The page at ``path`` with its figures in the folder beside it: the figures
    first, then the page (atomically), then the figures of an earlier page that this
    one does not show are removed."""
    figures = FigureFolder(path)
    page = _write_atomic(path, report_html(results, figures=figures, **kwargs))
    figures.remove_stale()
    return page


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
            atomically: a temporary file beside it, then renamed into place.  Its
            figures go to the folder beside it named after it (``report_figures/``),
            each as PNG and SVG (:class:`reports.figure_files.FigureFolder`).
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
    return _write_page(path, results, title=title, command=command, target=target)


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


def write_report(
    data: pd.DataFrame,
    path: str | os.PathLike,
    *,
    title: str = "optbench report",
    environment: dict[str, Any] | None = None,
    command: str | None = None,
    target: float = DEFAULT_TARGET,
) -> Path:
    """:func:`render_report` written atomically to ``path``, its figures as files beside
    it (like :func:`build_report`)."""
    results = results_from_table(data, environment)
    return _write_page(Path(path), results, title=title,
                       command=command or "optbench report DIR", target=target)
