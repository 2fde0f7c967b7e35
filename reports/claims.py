"""The claims of a results directory: their verdicts, evidence and figures.

``optbench claims`` writes ``results_dir/claims/verdicts.json`` (see
:mod:`optbench.claims.execute`).  The report reads it with :func:`read_verdicts`,
rebuilds each claim's :class:`~optbench.claims.Evidence` from the stored runs whose
ids the entry lists per arm (:func:`claim_evidence`, no run is repeated) and draws
:func:`claim_figure`: the claim's own figure (a registered claim's ``figure``, or a
built-in claim's in :mod:`reports.claim_figures`), else :func:`arms_figure`, the
median convergence of each arm.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable

import pandas as pd
from matplotlib.figure import Figure

from optbench.claims import FAILS, HOLDS, INCONCLUSIVE, Budget, Evidence
from optbench.claims.execute import build_evidence, load_tables, load_verdicts, verdicts_path

from .convergence import convergence_figure
from .style import Palette

#: CSS class of each verdict's badge (an outcome that is none of these gets "unknown").
BADGE_CLASSES = {HOLDS: "holds", FAILS: "fails", INCONCLUSIVE: "inconclusive"}

_SAFE_KEY = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def has_verdicts(results_dir: str | os.PathLike | None) -> bool:
    """Whether ``results_dir`` holds a verdicts file."""
    return results_dir is not None and verdicts_path(results_dir).is_file()


def read_verdicts(results_dir: str | os.PathLike) -> tuple[list[dict[str, Any]], str | None]:
    """``(entries, problem)``: the verdicts file's entries, or ``([], reason)`` when it
    cannot be read (the report says so instead of failing)."""
    try:
        return load_verdicts(results_dir), None
    except (OSError, ValueError) as err:
        return [], str(err)


def anchor(entry: dict[str, Any], index: int) -> str:
    """The page id of a claim's figure: ``claim-<key>`` (``claim-<index>`` for a key
    that is not lower-case words and dashes, as in a hand-edited file)."""
    key = str(entry.get("key", ""))
    return f"claim-{key}" if _SAFE_KEY.match(key) else f"claim-{index}"


def run_ids(entry: dict[str, Any]) -> dict[str, list[str]]:
    """``{arm: [run id, ...]}`` of an entry (empty when it has none)."""
    runs = entry.get("runs")
    if not isinstance(runs, dict):
        return {}
    return {str(arm): [str(r) for r in ids] for arm, ids in runs.items() if isinstance(ids, list)}


def entry_budget(entry: dict[str, Any]) -> Budget:
    """The :class:`Budget` an entry ran with (the default one where it is unreadable)."""
    stored = entry.get("budget")
    budget: dict[str, Any] = stored if isinstance(stored, dict) else {}
    quick = bool(budget.get("quick", False))
    try:
        return Budget(quick=quick, seeds=tuple(int(s) for s in budget.get("seeds") or ()))
    except (TypeError, ValueError):
        return Budget.default(quick=quick)


def claim_evidence(entry: dict[str, Any], data: pd.DataFrame, runs: pd.DataFrame,
                   results_dir: str | os.PathLike) -> Evidence:
    """The claim's evidence from stored results: the rows of ``data`` (``optbench.load``)
    and ``runs`` (``store.runs``) of the runs listed per arm, and its measure tables."""
    arm_of = {rid: arm for arm, ids in run_ids(entry).items() for rid in ids}
    key = str(entry.get("key", ""))
    tables = load_tables(results_dir, key) if _SAFE_KEY.match(key) else {}
    return build_evidence(data, runs, arm_of, tables, entry_budget(entry))


def missing_runs(entry: dict[str, Any], runs: pd.DataFrame) -> int:
    """How many of the entry's runs are not in the results directory any more."""
    listed = {rid for ids in run_ids(entry).values() for rid in ids}
    stored = set(runs["run_id"]) if "run_id" in runs else set()
    return len(listed - stored)


def arms_figure(evidence: Evidence) -> Figure | None:
    """Median and interquartile band over seeds of each arm's suboptimality (or loss)
    against steps, one panel per problem (None without trace rows).

    Each arm has a colour of its own (the arms are what the claim compares, even
    when they run one optimizer), and the figure fits the page's width with texts
    of at least :data:`~reports.style.MIN_FONT_PT` (:func:`convergence_figure`).
    """
    trace = evidence.trace
    if trace.empty:
        return None
    arms = trace["arm"].astype(str)
    return convergence_figure(trace.assign(optimizer_label=arms), "step", palette=Palette(arms.unique()))


def claim_figure(entry: dict[str, Any], evidence: Evidence) -> tuple[Callable[[], Any], bool]:
    """``(draw, own)``: a function that draws the claim's figure, and whether it is the
    claim's own rather than :func:`arms_figure`.

    The claim's own figure is the ``figure`` of the claim registered under the entry's
    key, where it has one (a user's claim), else the built-in claim's figure in
    :mod:`reports.claim_figures`."""
    from optbench import claims

    from . import claim_figures

    key = str(entry.get("key", ""))
    claim = claims.get(key) if key in claims.names() else None
    if claim is not None and claim.figure is not None:
        return (lambda: claim.figure(evidence)), True
    figure = claim_figures.figure_for(key)
    if figure is not None:
        return (lambda: figure(evidence)), True
    return (lambda: arms_figure(evidence)), False


__all__ = [
    "BADGE_CLASSES", "anchor", "arms_figure", "claim_evidence", "claim_figure", "entry_budget",
    "has_verdicts", "missing_runs", "read_verdicts", "run_ids",
]
