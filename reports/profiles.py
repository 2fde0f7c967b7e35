"""Across problems: performance and data profiles, and the per-problem ranking table.

Both profiles come from :mod:`optbench.statistics` (Dolan & More 2002; More & Wild
2009).  A problem counts as solved by a run once the run has closed a fraction
``1 - target`` of its initial gap (More & Wild's test, ``target = 1e-3`` by
default): the gap is ``f - f*``, or ``f - best loss found`` where the optimum is
unknown.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from optbench import statistics

from .convergence import X_LABELS
from .style import (
    PAGE_WIDTH_IN,
    Palette,
    axes_width,
    data_palette,
    facets,
    fitting_chars,
    log_scale,
    optimizer_legend,
    theme,
)

#: The relative target of the profiles: the gap must shrink by this factor.
PROFILE_TARGET = 1e-3


def _measure(data: pd.DataFrame, measure: str) -> str:
    if measure == "cost" and ("cost" not in data or not data["cost"].notna().any()):
        return "n_grad"
    return measure


def merged_by_family(data: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``data`` with the configurations of an optimizer that ran on disjoint sets of
    problems relabelled as one method, ``"<optimizer> (per problem)"``, and the labels
    merged.

    A profile compares methods over the same problems, and counts a method without
    runs on a problem as failing it: two configurations that split the problems
    between them (the quick suite's learning rates for the quadratics and for the
    rest) would each look like failing the other's.  Merged, each problem has exactly
    one of them, so nothing is chosen after the fact.  Configurations that share a
    problem stay separate methods."""
    if data.empty or "optimizer" not in data:
        return data, []
    pairs = data[["optimizer", "optimizer_label", "problem_label"]].drop_duplicates()
    relabel: dict[str, str] = {}
    for family, rows in pairs.groupby("optimizer", sort=True):
        if rows["optimizer_label"].nunique() < 2:
            continue
        if rows["problem_label"].duplicated().any():  # two configurations on one problem
            continue
        for label in rows["optimizer_label"].unique():
            relabel[label] = f"{family} (per problem)"
    if not relabel:
        return data, []
    merged = sorted(relabel)
    return data.assign(optimizer_label=data["optimizer_label"].replace(relabel)), merged


def profiles_figure(
    data: pd.DataFrame,
    measure: str = "cost",
    *,
    target: float = PROFILE_TARGET,
    palette: Palette | None = None,
) -> Figure | None:
    """Two panels: the performance profile and the data profile of every optimizer.

    Left, ``rho_s(tau)``: the share of problems optimizer s solves within a factor
    tau of the best optimizer's cost (log2 axis; the value at tau = 1 is the share
    it is fastest on, its height on the right how many it solves at all).  Right,
    ``d_s(budget)``: the share of (problem, seed) instances solved within a budget of
    ``measure`` (log axis).  Configurations of one optimizer that split the problems
    between them are one method (:func:`merged_by_family`).  Lines take the colour
    of their optimizer family (the ``optimizer`` column) unless ``palette`` says
    otherwise; the legend goes below the panels.

    Returns:
        The Figure, or None when ``data`` has no rows.
    """
    if data is None or data.empty:
        return None
    data, _ = merged_by_family(data)
    measure = _measure(data, measure)
    perf = statistics.performance_profile(data, measure=measure, target=target)
    prof = statistics.data_profile(data, x=measure, target=target)
    labels = sorted(data["optimizer_label"].unique())
    palette = data_palette(labels, palette, data)
    with theme():
        fig, (left, right) = facets(2, 2, panel=(5.0, 3.2), wspace=0.85, legend=labels,
                                    legend_title="optimizer", max_width=PAGE_WIDTH_IN)
        chars = fitting_chars(axes_width(left) + 0.6)
        finite_tau = perf["tau"][np.isfinite(perf["tau"])]
        tau_max = max(2.0, float(finite_tau.max()) * 1.5) if len(finite_tau) else 2.0
        for label, curve in perf.groupby("solver", sort=True):
            tau = np.append(curve["tau"].to_numpy(dtype=float), tau_max)
            frac = np.append(curve["fraction"].to_numpy(dtype=float), curve["fraction"].iloc[-1])
            left.step(tau, frac, where="post", linewidth=1.6, label=label,
                      **palette.line_kw(label, len(tau)))
        log_scale(left, "x", base=2)
        left.set_xlim(1, tau_max)
        left.set_ylim(-0.02, 1.02)
        n_problems = int(perf["n_problems"].iloc[0]) if len(perf) else 0
        left.set_xlabel(f"tau: {X_LABELS.get(measure, measure).split(' (')[0]} relative to "
                        "the best optimizer's (log2)")
        left.set_ylabel("share of problems solved")
        left.set_title(textwrap.fill(f"performance profile ({n_problems} problems, target {target:g} x "
                            "initial gap)", chars), loc="left")

        budgets = prof["budget"].to_numpy(dtype=float)
        positive = budgets[np.isfinite(budgets) & (budgets > 0)]
        low = float(positive.min()) / 2 if positive.size else 0.5
        high = float(positive.max()) * 1.5 if positive.size else 1.0
        for label, curve in prof.groupby("solver", sort=True):
            b = np.clip(curve["budget"].to_numpy(dtype=float), low, None)
            frac = curve["fraction"].to_numpy(dtype=float)
            b, frac = np.append(b, high), np.append(frac, frac[-1])
            right.step(b, frac, where="post", linewidth=1.6, label=label,
                       **palette.line_kw(label, len(b)))
        log_scale(right, "x")
        right.set_xlim(low, high)
        right.set_ylim(-0.02, 1.02)
        n_inst = int(prof["n_instances"].iloc[0]) if len(prof) else 0
        right.set_xlabel(f"budget: {X_LABELS.get(measure, measure)}")
        right.set_ylabel("share of instances solved")
        right.set_title(textwrap.fill(f"data profile ({n_inst} problem x seed instances)", chars), loc="left")
        optimizer_legend(fig, palette, labels)
    return fig


def ranking_table(
    data: pd.DataFrame,
    target: float = 1e-6,
    *,
    measure: str = "cost",
    n_boot: int = 1000,
) -> pd.DataFrame:
    """Per problem, the optimizers ranked by their median final value.

    Columns: ``problem_label``, ``rank``, ``optimizer``, ``measure`` (``subopt`` or
    ``loss``), ``runs``, ``median``, ``q25``, ``q75``, ``ci_low``, ``ci_high`` (95%
    bootstrap interval of the median), ``diverged``, ``errors``, ``success``
    (runs whose gap reached ``target``, "k/n"), ``cost_to_target`` (median over those
    runs of ``measure`` spent to get there), ``seconds_to_target`` and
    ``reference`` ("f_star" or "best found": what the gap is measured from).
    Ranks follow the median (ties share the better rank; a diverged median is last).
    """
    columns = ["problem_label", "rank", "optimizer", "measure", "runs", "median", "q25", "q75",
               "ci_low", "ci_high", "diverged", "errors", "success", "cost_to_target",
               "seconds_to_target", "reference"]
    if data is None or data.empty:
        return pd.DataFrame(columns=columns)
    measure = _measure(data, measure)
    final = statistics.final_stats(data, n_boot=n_boot)
    keys = ["problem_label", "optimizer_label"]
    by_cost = statistics.success_rates(data, x=measure, targets=target).set_index(keys)
    by_time = statistics.success_rates(data, x="time", targets=target).set_index(keys)
    table = final.set_index(keys)
    table["success"] = [f"{int(by_cost.at[k, 'n_success'])}/{int(by_cost.at[k, 'n_runs'])}"
                        if k in by_cost.index else "-" for k in table.index]
    table["cost_to_target"] = by_cost["median_x"].reindex(table.index)
    table["seconds_to_target"] = by_time["median_x"].reindex(table.index)
    table["reference"] = by_cost["reference"].reindex(table.index)
    table = table.reset_index().rename(columns={"optimizer_label": "optimizer", "n_runs": "runs",
                                                "n_diverged": "diverged", "n_error": "errors"})
    table["rank"] = table.groupby("problem_label")["median"].rank(method="min", na_option="bottom")
    table["rank"] = table["rank"].astype(int)
    table = table.sort_values(["problem_label", "rank", "optimizer"], kind="stable")
    return table[columns].reset_index(drop=True)
