"""The per-(problem, optimizer) summary numbers: one table for stdout and the HTML report.

``optbench run`` prints :func:`format_summary` of :func:`summary_table`, and the
report's ranking tables show the same table through the same :func:`summary_cells`,
so the two cannot disagree.  Conventions (also printed under the table,
:func:`summary_notes`):

Oracle
    ``oracle`` says what a configuration's runs saw (the ``oracle`` column of
    ``optbench.load``): ``full batch`` (the exact objective: every method on a
    deterministic problem, and a whole-run solver such as scipy's L-BFGS and BFGS on any
    problem), ``minibatch`` (a stepwise method on a minibatched problem: a fresh
    minibatch every step), ``noisy`` (the noisy quadratic: the exact gradient plus fresh
    noise every step) or ``stochastic`` (a plugin problem that does not say which);
    runs of one configuration that differ give their distinct values joined by "/",
    and a table without the column gives ``unknown``.  Where one problem's rows mix
    oracles the notes say that the full-batch rows are not won on equal terms: a
    full-batch method can reach 1e-21 on the noisy quadratic, where a stepwise method
    stalls at the noise floor.  Ranks are still by the final value alone.
Value of a run
    ``subopt = f - f*`` where the problem's optimum is known, else the ``loss``
    (``final_is`` says which).  A suboptimality below 0 is round-off in ``f`` or in
    the computed ``f*`` (float32 problems, CUTEst references), not a point better
    than the optimum, so it is clipped at 0.
Averaged runs
    A run whose trace has ``avg_loss`` (optimizer param ``average = DECAY``, or a
    schedule-free optimizer's evaluation point) is judged by its averaged iterate:
    ``avg_loss`` replaces ``loss`` (and ``avg_loss - f*`` replaces ``subopt``) for the
    final value and for the steps to target.  The averaged iterate is the point such a
    method returns, which is what averaging is for; the last iterate's trace stays in
    the convergence figures and ``optbench.load``.  ``iterate`` says which was used.
Seeds
    Every number is a median over the seeds of the configuration.  A diverged run's
    final value is +inf; a failed run (``error``) has none and is left out of the
    final value and the time, but counts among the seeds.
Steps to target
    A run reaches ``target`` at the first *recorded* step at which its gap is
    ``<= target`` (the gap is ``subopt``, or ``loss`` minus the best loss any run
    reached on the problem plus a tolerance where ``f*`` is unknown, as in
    :mod:`optbench.statistics`).  Between records the truth is unknown, so that step
    is an upper bound, exact only where the step before it was recorded too
    (``record_every = 1``); ``steps_exact`` is False when any run's count is a bound,
    and the text shows ``<= N``.  The median is over all seeds with a seed that never
    got there counted as +inf: it is a number only when more than half the seeds got
    there ("-" otherwise), and ``reached`` says how many did ("k/n").  The cost and
    seconds to target follow the same rule.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from optbench import statistics

#: The suboptimality target of the "steps to target" column.
DEFAULT_TARGET = 1e-6

#: ``oracle`` of a table row whose runs have no ``oracle`` column (not from ``optbench.load``).
UNKNOWN_ORACLE = "unknown"

#: ``oracle`` of the runs that saw the exact objective (as :func:`optbench.run` names it).
FULL_BATCH = "full batch"

#: What each non-full-batch oracle gives a method, for the note on mixed oracles.
_ORACLE_TEXT = {"minibatch": "'minibatch' rows a fresh minibatch",
                "noisy": "'noisy' rows the exact gradient plus fresh noise",
                "stochastic": "'stochastic' rows a fresh stochastic oracle"}

#: The columns of :func:`summary_table`.
COLUMNS = ["problem", "optimizer", "oracle", "rank", "runs", "diverged", "errors", "final", "final_is",
           "q25", "q75", "ci_low", "ci_high", "iterate", "reference", "steps_to_target",
           "steps_exact", "reached", "cost_to_target", "seconds_to_target", "time"]

_PAIR = ["problem_label", "optimizer_label"]


def final_rows(data: pd.DataFrame) -> pd.DataFrame:
    """The last recorded row of every run (rows of a run are in step order), in the
    order in which the runs appear in ``data``."""
    if data.empty:
        return data
    return data.groupby("run_id", sort=False).tail(1)


def _cost_column(data: pd.DataFrame) -> str:
    """``cost`` (gradient-equivalents) where recorded, else ``n_grad``."""
    return "cost" if "cost" in data and data["cost"].notna().any() else "n_grad"


def judged_values(data: pd.DataFrame) -> pd.DataFrame:
    """The columns a summary needs, with ``loss``/``subopt`` as the summary judges them:
    the averaged iterate's where a run records ``avg_loss``, ``subopt`` clipped at 0."""
    keep = statistics.RUN_COLUMNS + ["step", "loss", "subopt", "time", _cost_column(data)]
    view = data[keep].copy()
    view["oracle"] = (data["oracle"].fillna(UNKNOWN_ORACLE).astype(str) if "oracle" in data
                      else UNKNOWN_ORACLE)
    if "avg_loss" in data:
        avg = data["avg_loss"]
        averaged = avg.notna().groupby(data["run_id"]).transform("any")
        view["subopt"] = view["subopt"].where(~averaged, avg - (data["loss"] - data["subopt"]))
        view["loss"] = view["loss"].where(~averaged, avg)
        view["averaged"] = averaged
    else:
        view["averaged"] = False
    view["subopt"] = view["subopt"].clip(lower=0.0)
    return view


def _gap(view: pd.DataFrame) -> pd.Series:
    """Per row: ``subopt`` where the problem's f* is known, else ``loss - f_ref`` with
    ``f_ref`` the best loss found plus :data:`optbench.statistics.DEFAULT_REL_TOL`."""
    problem = view["problem_label"]
    known = view["subopt"].groupby(problem).transform("count") > 0
    loss = view["loss"].where(np.isfinite(view["loss"]))
    best = loss.groupby(problem).transform("min")
    f_ref = best + statistics.DEFAULT_REL_TOL * (1.0 + best.abs())
    return view["subopt"].where(known, view["loss"] - f_ref)


def first_hits(view: pd.DataFrame, target: float = DEFAULT_TARGET) -> pd.DataFrame:
    """Per run_id (in order of appearance): the ``step``, cost and ``time`` of the first
    recorded row with gap <= ``target`` (+inf if none) and ``exact``: whether the step
    before it was recorded too (else the true first step is earlier, or the same)."""
    previous = view.groupby("run_id", sort=False)["step"].shift()
    exact = previous.isna() & (view["step"] == 0) | (previous == view["step"] - 1)
    hit = view.assign(exact=exact)[_gap(view) <= target].groupby("run_id", sort=False).head(1)
    cost = _cost_column(view)
    out = hit.set_index("run_id")[["step", cost, "time", "exact"]].rename(columns={cost: "cost"})
    out = out.reindex(view["run_id"].unique())
    out[["step", "cost", "time"]] = out[["step", "cost", "time"]].astype(float).fillna(np.inf)
    out["exact"] = out["exact"].fillna(True).astype(bool)
    return out


def steps_to_target(data: pd.DataFrame, target: float = DEFAULT_TARGET) -> pd.Series:
    """Per run_id: the first recorded step with gap <= ``target`` (NaN if never), on the
    values of :func:`judged_values` (see :func:`first_hits`)."""
    return first_hits(judged_values(data), target)["step"].replace(np.inf, np.nan)


def _oracles(values: pd.Series) -> str:
    """The distinct oracles of a configuration's runs, sorted, joined by "/"."""
    return "/".join(sorted(set(values)))


def _per_configuration(view: pd.DataFrame, target: float) -> pd.DataFrame:
    """Per configuration (in order of appearance): medians over its runs of the first
    hits (+inf where a run never got there) and of the time; counts reached; the
    runs' oracles."""
    last = final_rows(view).set_index("run_id")
    runs = first_hits(view, target).add_prefix("hit_").join(last)
    runs["time"] = runs["time"].where(runs["status"] != "error")  # a failed run has none
    runs["reached"] = np.isfinite(runs["hit_step"])
    table = runs.groupby(_PAIR, sort=False).agg(
        averaged=("averaged", "any"), steps_to_target=("hit_step", "median"),
        steps_exact=("hit_exact", "all"), n_reached=("reached", "sum"), n=("reached", "size"),
        cost_to_target=("hit_cost", "median"), seconds_to_target=("hit_time", "median"),
        time=("time", "median"),  # medians skip NaN and keep inf: [1, inf] gives inf
        oracle=("oracle", _oracles))
    table["iterate"] = np.where(table["averaged"], "averaged", "last")
    table["reached"] = table["n_reached"].astype(str) + "/" + table["n"].astype(str)
    return table.reset_index().rename(columns={"problem_label": "problem",
                                               "optimizer_label": "optimizer"})


def summary_table(data: pd.DataFrame, target: float = DEFAULT_TARGET, *,
                  n_boot: int = 1000) -> pd.DataFrame:
    """One row per (problem, optimizer) configuration, over seeds, in order of appearance.

    Columns (conventions in the module docstring): ``problem``, ``optimizer`` (labels),
    ``oracle`` (what the runs saw: "full batch", "minibatch", "noisy"...; distinct
    values of a configuration's runs joined by "/"), ``rank`` (by ``final`` within the
    problem; ties share the better rank, NaN last), ``runs``, ``diverged``, ``errors``;
    ``final`` (median final value), ``final_is`` ("subopt" or "loss"), ``q25``, ``q75``
    and ``ci_low``, ``ci_high`` (its quartiles and 95% bootstrap interval with
    ``n_boot`` resamples, :func:`optbench.statistics.final_stats`); ``iterate`` ("last"
    or "averaged"), ``reference`` ("f_star" or "best found": what the gap is measured
    from); ``steps_to_target`` (median over seeds, a seed that never got there +inf),
    ``steps_exact`` (False: an upper bound), ``reached`` ("k/n" seeds),
    ``cost_to_target``, ``seconds_to_target`` (like the steps) and ``time`` (median
    seconds of the method's own work).
    """
    if data.empty:
        return pd.DataFrame(columns=COLUMNS)
    view = judged_values(data)
    finals = statistics.final_stats(view, n_boot=n_boot).rename(columns={
        "problem_label": "problem", "optimizer_label": "optimizer", "measure": "final_is",
        "n_runs": "runs", "n_diverged": "diverged", "n_error": "errors", "median": "final"})
    table = _per_configuration(view, target).merge(finals, on=["problem", "optimizer"],
                                                   how="left", validate="1:1")
    table["reference"] = np.where(table["final_is"] == "subopt", "f_star", "best found")
    table["rank"] = table.groupby("problem", sort=False)["final"].rank(method="min",
                                                                       na_option="bottom")
    return table.astype({"rank": int, "runs": int, "diverged": int, "errors": int})[COLUMNS]


def _value_text(value: float, inf: str, missing: str) -> str:
    if np.isnan(value):
        return missing
    return inf if np.isinf(value) else f"{value:.3g}"


def _to_target_text(value: float, exact: bool, missing: str, digits: int) -> str:
    """A median to target: the number, ``<= N`` for an upper bound, ``missing`` if never."""
    if not np.isfinite(value):
        return missing
    return f"{value:.{digits}g}" if exact else f"<= {value:.{digits}g}"


def summary_cells(table: pd.DataFrame, *, inf: str = "inf", missing: str = "-") -> pd.DataFrame:
    """The numbers of :func:`summary_table` as the text both stdout and the report show:
    ``final``, ``steps``, ``reached``, ``cost``, ``seconds``, ``time`` (3 significant
    digits, steps in full; ``inf`` for a diverged median, ``missing`` for no value or
    not reached; ``<= N`` where the count to target is an upper bound); and ``oracle``,
    the table's as it is (``missing`` for a table without it)."""
    def value(column: str) -> list[str]:
        return [_value_text(v, inf, missing) for v in table[column]]

    def to_target(column: str, digits: int) -> list[str]:
        return [_to_target_text(v, e, missing, digits)
                for v, e in zip(table[column], table["steps_exact"])]

    return pd.DataFrame({
        "final": value("final"),
        "steps": to_target("steps_to_target", 10),
        "reached": list(table["reached"]),
        "cost": to_target("cost_to_target", 3),
        "seconds": to_target("seconds_to_target", 3),
        "time": value("time"),
        "oracle": (list(table["oracle"].astype(str)) if "oracle" in table
                   else [missing] * len(table)),
    }, index=table.index)


def summary_notes(table: pd.DataFrame, target: float = DEFAULT_TARGET, *,
                  inf: str = "inf", missing: str = "-") -> list[str]:
    """The conventions behind the numbers of ``table``, a few sentences each (``inf``
    and ``missing`` as passed to :func:`summary_cells`)."""
    notes = [f"Medians over seeds; a diverged run counts as {inf}, a failed run is left out of "
             f"the final value and the time. Steps to {target:g}: the first recorded step with "
             f"gap <= {target:g}, an upper bound ('<= N') unless every step was recorded "
             f"(record_every = 1); a seed that never got there counts as never, so '{missing}' "
             "unless more than half did; (k/n): the seeds that did."]
    if (table["final_is"] == "subopt").any():
        notes.append("subopt = f - f*, clipped at 0: a value below 0 is round-off in f or "
                     "in f*, not a point better than the optimum.")
    if (table["final_is"] == "loss").any():
        notes.append("loss: f* is unknown; the gap to the target is measured from the best "
                     "loss any run reached on the problem.")
    mixed = _mixed_oracle_note(table)
    if mixed:
        notes.append(mixed)
    if (table["iterate"] == "averaged").any():
        notes.append("iterate 'averaged': the run keeps an average of its iterates "
                     "(average = DECAY, or schedule-free); its numbers are those of the "
                     "averaged iterate (avg_loss), the point it returns.")
    return notes


def _mixed_oracle_note(table: pd.DataFrame) -> str | None:
    """The note on the problems of ``table`` whose rows saw different oracles (None if
    none does)."""
    if "oracle" not in table or table.empty:
        return None
    kinds_of = {problem: {k for v in group for k in str(v).split("/")} - {UNKNOWN_ORACLE}
                for problem, group in table.groupby("problem", sort=False)["oracle"]}
    mixing = [problem for problem, kinds in kinds_of.items() if len(kinds) > 1]
    if not mixing:
        return None
    kinds = set().union(*(kinds_of[p] for p in mixing))
    where = ("these rows mix oracles" if len(kinds_of) == 1 else
             f"the rows of {mixing[0]} mix oracles" if len(mixing) == 1 else
             f"the rows of {len(mixing)} of {len(kinds_of)} problems mix oracles")
    others = [text for kind, text in _ORACLE_TEXT.items() if kind in kinds]
    others += [f"'{kind}' rows another oracle" for kind in sorted(kinds)
               if kind != FULL_BATCH and kind not in _ORACLE_TEXT]
    seen = (", ".join(others[:-1]) + " and " + others[-1] if len(others) > 1
            else others[0] if others else "")
    full = ("'full batch' rows (whole-run solvers such as scipy's L-BFGS and BFGS) see the "
            "exact objective" if FULL_BATCH in kinds else "")
    sentence = "; ".join(part for part in (full, f"{seen} at every step" if seen else "") if part)
    return (f"oracle: {where}: {sentence}. So they are not compared as equals: the ranks "
            "are by final value alone, and only rows of the same oracle compare the methods.")


def _aligned(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of columns two spaces apart: the first left-aligned, the others right."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(header)] + [line(r) for r in rows]


def _block(group: pd.DataFrame, target: float) -> str:
    """One problem's table: optimizer, oracle, median final value, steps (k/n), time,
    diverged, then errors and iterate only where some row needs them."""
    cells = summary_cells(group)
    header = ["optimizer", "oracle", f"median final {group['final_is'].iloc[0]}", f"steps to {target:g}",
              "median time [s]", "diverged"]
    columns = [group["optimizer"], cells["oracle"], cells["final"],
               cells["steps"] + " (" + cells["reached"] + ")", cells["time"],
               group["diverged"].astype(str)]
    if group["errors"].any():
        header.append("errors")
        columns.append(group["errors"].astype(str))
    if (group["iterate"] == "averaged").any():
        header.append("iterate")
        columns.append(group["iterate"])
    rows = [list(map(str, row)) for row in zip(*columns)]
    return "\n".join([group["problem"].iloc[0], *_aligned(header, rows)])


def format_summary(table: pd.DataFrame, target: float = DEFAULT_TARGET, *,
                   width: int = 88) -> str:
    """Plain-text tables for the terminal: one block per problem (columns two spaces
    apart), then the conventions (:func:`summary_notes`) wrapped to ``width``."""
    if table.empty:
        return "no runs"
    blocks = [_block(group, target) for _, group in table.groupby("problem", sort=False)]
    notes = [textwrap.fill(note, width) for note in summary_notes(table, target)]
    return "\n\n".join(blocks + ["\n".join(notes)])
