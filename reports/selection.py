"""Which optimizer configurations a crowded figure draws.

A figure with more optimizer configurations than it can show legibly (a study of
20 learning rates x 3 optimizers) draws a chosen few and says so.  The choice,
:func:`best_labels`, is made from the table alone: first the best configuration
of each optimizer (the ``optimizer`` column, so that every method is seen), then
the next best of any optimizer, until the limit.

"Best" is the lowest mean, over the problems a configuration ran on, of its rank
on each problem; a problem ranks its configurations by the median over seeds of
the final value (the last recorded suboptimality where the problem's optimum is
known, else the last loss; a diverged run counts as ``+inf``, as in the ranking
tables; ties share the better rank).  On one problem this is simply the order of
the medians.  Remaining ties go to the label that sorts first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def final_medians(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (problem_label, optimizer_label) of ``rows``: ``optimizer``, ``median``
    (of the final values over runs, see the module docstring) and ``rank`` (1 is best,
    per problem)."""
    last = rows.groupby("run_id", sort=False).tail(1)
    value = last["loss"].to_numpy(dtype=float)
    if "subopt" in last:  # per problem: the suboptimality where its optimum is known
        known = (last.groupby("problem_label")["subopt"].transform("count") > 0).to_numpy()
        value = np.where(known, last["subopt"].to_numpy(dtype=float), value)
    value = np.where(last["status"].to_numpy() == "diverged", np.inf, value)
    value = np.where(np.isnan(value), np.inf, value)
    table = (last[["problem_label", "optimizer_label", "optimizer"]].assign(value=value)
             .groupby(["problem_label", "optimizer_label"], sort=True)
             .agg(optimizer=("optimizer", "first"), median=("value", "median"))
             .reset_index())
    table["rank"] = table.groupby("problem_label")["median"].rank(method="min")
    return table


def best_labels(rows: pd.DataFrame, limit: int) -> list[str]:
    """At most ``limit`` optimizer_labels of ``rows`` (one problem or several), sorted.

    All of them when there are no more than ``limit``; else the best of each
    optimizer, then the next best (see the module docstring).
    """
    labels = rows["optimizer_label"].unique()
    if len(labels) <= limit:
        return sorted(labels)
    ranked = (final_medians(rows).groupby("optimizer_label")
              .agg(optimizer=("optimizer", "first"), score=("rank", "mean"))
              .reset_index().sort_values(["score", "optimizer_label"], kind="stable"))
    firsts = ranked.drop_duplicates("optimizer")["optimizer_label"].tolist()[:limit]
    chosen = set(firsts)
    rest = [label for label in ranked["optimizer_label"] if label not in chosen]
    return sorted(firsts + rest[: limit - len(firsts)])
