"""The report's overview: the runs and their statuses, the failed runs with their
errors, the diverged runs, unreadable run files, the run configuration from the
stored specs and the environment the runs were made in.

A study of thousands of runs must not become thousands of table rows: a list of
failed or diverged runs longer than :data:`MAX_LISTED_RUNS` becomes one row per
optimizer configuration, and a table longer than :data:`MAX_TABLE_ROWS` shows its
first rows and folds the others (:func:`reports.blocks.long_table`).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd


from . import blocks
from .blocks import Block, Inline
from .results import Results
from .sensitivity import ROLE
from .style import natural_sorted

#: More failed or diverged runs than this are listed one row per configuration, not per run.
MAX_LISTED_RUNS = 50

#: A longer table shows this many rows and folds the others (a ``<details>`` block).
MAX_TABLE_ROWS = 50


def _status_counts(runs: pd.DataFrame) -> str:
    if runs.empty:
        return ""
    counts = runs["status"].value_counts()
    order = ["converged", "max_steps", "diverged", "error"]
    names = order + sorted(set(counts.index) - set(order))
    return ", ".join(f"{int(counts[s])} {s}" for s in names if s in counts)


def overview_section(results: Results, command: str) -> blocks.Section:
    sec = blocks.Section("overview", "Overview")
    runs = results.runs
    n = len(runs)
    if n == 0:
        where = [" in ", blocks.code(results.directory)] if results.directory else []
        sec.add(blocks.p(blocks.strong("There are no runs", *where, "."), " Run a study first, e.g. ",
                         blocks.code("optbench run quick --out DIR"), ", then regenerate this page."))
    else:
        spans: list[Inline] = [f"{blocks.plural(n, 'run')}: {_status_counts(runs)}."]
        if ROLE in runs.columns:
            n_search = int((runs[ROLE] == "search").sum())
            if n_search:
                spans += [f" {n_search} of them are hyper-parameter search trials, drawn only in ",
                          blocks.link("#tuning", "Hyper-parameter tuning"), "."]
        sec.add(blocks.p(*spans))
    sec.add(blocks.p("Regenerate this page with ", blocks.code(command), "."))
    if n == 0:
        return sec

    failed = runs[runs["status"] == "error"]
    sec.sub("failed", f"Failed runs ({len(failed)})")
    sec.add(*_failed_blocks(failed, results) if len(failed) else [blocks.p("No run failed.")])
    diverged = runs[runs["status"] == "diverged"]
    sec.sub("diverged", f"Diverged runs ({len(diverged)})")
    sec.add(*_diverged_blocks(diverged, results) if len(diverged) else [blocks.p("No run diverged.")])
    if results.skipped:
        sec.sub("unreadable", f"Unreadable run files ({len(results.skipped)})")
        sec.add(blocks.p("These files in the results directory could not be read and are left out of "
                         "the whole report (run the study again to redo them):", cls="warn"),
                {"kind": "ul", "entries": [[blocks.code(s)] for s in results.skipped]})

    sec.sub("configuration", "Run configuration")
    sec.add(*_configuration(results))
    sec.sub("environment", "Environment")
    sec.add(*_environment(results))
    return sec


def _config_order(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` sorted by problem_label (natural order), then optimizer_label."""
    rank = {p: i for i, p in enumerate(natural_sorted(frame["problem_label"].unique()))}
    return frame.assign(_p=frame["problem_label"].map(rank)).sort_values(
        ["_p", "optimizer_label"], kind="stable").drop(columns="_p")


def _summed_up(n_runs: int, what: str, n_configs: int) -> Block:
    return blocks.p(f"{n_runs} runs {what}, in {blocks.plural(n_configs, 'configuration')} (problem "
                    f"× optimizer): more than {MAX_LISTED_RUNS}, so each "
                    "configuration is one row, not each run. ", blocks.code("optbench.store.runs(DIR)"),
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
                 message(r.get("error"), r["run_id"]), [blocks.code(r["run_id"])]]
                for _, r in failed.iterrows()]
        return [blocks.table(["problem", "optimizer", "seed", "error", "run"], rows, left=(0, 1),
                             classes={3: "err"})]
    frame = _config_order(failed.assign(error=failed["error"].fillna("unknown error")))
    groups = frame.groupby(["problem_label", "optimizer_label", "error"], sort=False)
    rows = [[p, o, str(len(g)), blocks.seed_ranges(g["seed"]), message(e, g["run_id"].iloc[0]),
             [blocks.code(g["run_id"].iloc[0])]] for (p, o, e), g in groups]
    return [_summed_up(len(failed), "failed", frame.groupby(["problem_label", "optimizer_label"]).ngroups),
            *blocks.long_table(["problem", "optimizer", "runs", "seeds", "error (traceback of the "
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
    intro = blocks.p("A run diverges when its loss or gradient becomes non-finite or grows far "
                     "beyond its start; its trace stops there and it counts as +∞ in every "
                     "statistic.")
    if len(frame) <= MAX_LISTED_RUNS:
        rows = [[r.problem_label, r.optimizer_label, r.seed,
                 "" if np.isnan(r.at) else int(r.at), r.why, r.run_id] for r in frame.itertuples()]
        return [intro, blocks.table(["problem", "optimizer", "seed", "diverged at step", "why", "run"],
                                    rows, left=(0, 1, 4))]
    sizes = results.runs.groupby(["problem_label", "optimizer_label"]).size()
    groups = _config_order(frame).groupby(["problem_label", "optimizer_label"], sort=False)
    rows = [[p, o, f"{len(g)}/{int(sizes.get((p, o), len(g)))}", blocks.seed_ranges(g["seed"]),
             _steps_text(g["at"]), _reasons_text(g["why"])] for (p, o), g in groups]
    return [intro, _summed_up(len(frame), "diverged", len(rows)),
            *blocks.long_table(["problem", "optimizer", "diverged/runs", "seeds",
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
    more = f" (and {blocks.plural(len(counts) - 1, 'other reason')})" if len(counts) > 1 else ""
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
        parts.append(blocks.p(
            f"{blocks.plural(len(problems_), 'problem')} \N{MULTIPLICATION SIGN} "
            f"{blocks.plural(len(optimizers_), 'optimizer configuration')} \N{MULTIPLICATION SIGN} "
            f"{blocks.plural(len(seeds), 'seed')} ({', '.join(str(s) for s in seeds)}): "
            f"{combos} combinations, {len(main)} stored"
            + (" (not every optimizer ran on every problem with every seed)" if len(main) < combos else "")
            + (f"; besides, {int(search.sum())} tuning search trials" if search.any() else "")
            + "."))
    elif search.any():
        parts.append(blocks.p(f"Only tuning search trials: {int(search.sum())} runs."))
    chosen = [specs.get(rid, {}) for rid in runs["run_id"]]
    steps = Counter(s["steps"] for s in chosen if "steps" in s)
    every = Counter(s["record_every"] for s in chosen if "record_every" in s)
    options = Counter(json.dumps(s.get("options") or {}, sort_keys=True) for s in chosen if s)
    text = f"Steps per run: {_counted(steps)}. Trace recorded every {_counted(every)} steps."
    if set(options) - {"{}"}:
        text += f" Run options: {_counted(options)}."
    parts.append(blocks.p(text))
    by_problem = runs.groupby("problem_label", sort=True).agg(
        family=("problem", "first"), runs=("run_id", "size"),
        optimizers=("optimizer_label", "nunique"), seeds=("seed", "nunique"))
    parts.append(blocks.table(
        ["problem", "family", "runs", "optimizer configurations", "seeds"],
        [[p, r.family, r.runs, r.optimizers, r.seeds] for p, r in by_problem.iterrows()],
        left=(0, 1)))
    by_opt = main.groupby("optimizer_label", sort=True).agg(
        runs=("run_id", "size"), problems=("problem_label", "nunique"))
    if len(by_opt):
        parts.append(blocks.table(["optimizer", "runs", "problems"],
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
        parts.append(blocks.p("The runs carry no environment record."))
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
            parts.append(blocks.p(f"The runs were not all made in the same environment: they differ in "
                                  f"{', '.join(differ)}. Compare timings across those runs with care.",
                                  cls="warn"))
        else:
            parts.append(blocks.p(f"All {blocks.plural(len(known), 'run')} with an environment "
                                  "record were made in the same environment."))
        parts.append(blocks.table(["", "value"], rows, left=(0, 1)))
        if len(known) < len(envs):
            parts.append(blocks.p(f"{len(envs) - len(known)} runs carry no environment record."))
    started = sorted(str(rec.get("started")) for rec in results.records if rec.get("started"))
    if started:
        parts.append(blocks.p(f"Runs started between {started[0]} and {started[-1]}."))
    import matplotlib
    import seaborn

    parts.append(blocks.p(f"This page was drawn with matplotlib {matplotlib.__version__} "
                          f"and seaborn {seaborn.__version__}.", cls="meta"))
    return parts
