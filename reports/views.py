"""What the report draws by default: each optimizer's best configuration per problem.

A study of nine learning rates for each of three optimizers draws 27 curves per
panel.  The default view keeps, per problem and optimizer (the ``optimizer``
column, one colour in every figure), one configuration, and the whole grid stays
one click away (the figures' "all configurations" files, the folded full rankings).

Which configuration (:func:`default_view`):

- where a tuning study chose one (its evaluation runs, ``tune.role == "eval"``), that
  one: the search never saw the seeds it is shown on;
- else, where the optimizer has several configurations on the problem, the one with
  the lowest median final value (:func:`reports.summary.judged_values`: the
  suboptimality where ``f*`` is known, else the loss; the averaged iterate of a
  Polyak-averaged run; a diverged run +inf; ties to the label that sorts first) over
  the problem's *choosing seeds*, the first half of its seeds in order; the view then
  shows only the other seeds, so a configuration is never judged on the seeds that
  chose it (no selection bias).  A problem with one seed has nothing to hold out:
  the choice is made and shown on it, and :attr:`View.choice` says so;
- an optimizer with one configuration on the problem: that one.

Every optimizer on a problem is shown on the same seeds.

Labels.  In the view an optimizer is named by its ``optimizer`` name alone (the
configuration is in :attr:`View.choice` and the rankings), and in a problem family
where some method saw a stochastic oracle (the figures draw a family at a time) by
its oracle too: ``"sgd (minibatch)"``, ``"lbfgs (full batch)"``, so that methods
that saw the exact objective are never read as equals of those that saw minibatches
or noisy gradients.  :func:`oracle_label` is the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .summary import final_rows, judged_values

#: The ``oracle`` of a run that saw the exact objective (optbench.runner's meta).
FULL_BATCH = "full batch"
#: The tuning role column and the role of a tuning study's evaluation runs.
ROLE, EVAL = "tune.role", "eval"


@dataclass
class View:
    """The default view of a trace table.

    ``data``: the rows drawn by default (the chosen configurations on the shown
    seeds), with ``optimizer_label`` replaced by the view's label and the original in
    ``configuration``; ``choice``: one row per (problem, optimizer family) with
    ``problem``, ``optimizer`` (the family), ``label`` (the view's), ``configuration``
    (the chosen optimizer_label), ``configurations`` (how many there were), ``how``
    ("tuned", "held-out seeds", "same seed", "only one"), ``choosing_seeds`` and
    ``shown_seeds`` (tuples); ``dropped``: whether the view leaves out any
    configuration or seed of the input (then the whole grid is worth a link).
    """

    data: pd.DataFrame
    choice: pd.DataFrame
    dropped: bool


def oracle_label(family: str, oracle: str | None, stochastic_problem: bool) -> str:
    """``family``, with its oracle in parentheses on a problem where some method saw a
    stochastic oracle (``"sgd (minibatch)"``, ``"lbfgs (full batch)"``)."""
    if not stochastic_problem or not oracle or oracle != oracle:  # NaN: unknown
        return family
    return f"{family} ({oracle})"


def _finals(rows: pd.DataFrame) -> pd.Series:
    """Median over runs of the judged final value, per optimizer_label (+inf worst)."""
    last = final_rows(judged_values(rows))
    known = last["subopt"].notna().any()
    value = (last["subopt"] if known else last["loss"]).to_numpy(dtype=float)
    value = np.where(last["status"].to_numpy() == "diverged", np.inf, value)
    value = np.where(np.isnan(value), np.inf, value)
    return pd.Series(value, index=last.index).groupby(last["optimizer_label"]).median()


def _seeds_of(rows: pd.DataFrame, crowded: bool) -> tuple[tuple, tuple]:
    """(choosing seeds, shown seeds) of one problem's rows."""
    seeds = tuple(sorted(rows["seed"].unique()))
    if not crowded or len(seeds) < 2:
        return seeds, seeds
    half = len(seeds) // 2
    return seeds[:half], seeds[half:]


def _choose(rows: pd.DataFrame, choosing: tuple, crowded: bool, stochastic: bool) -> list[dict]:
    """One problem's choice: a dict per optimizer family (``stochastic``: label with
    the oracle)."""
    out = []
    for family, fam in rows.groupby("optimizer", sort=True):
        labels = sorted(fam["optimizer_label"].unique())
        tuned = fam[fam[ROLE] == EVAL] if ROLE in fam else fam.iloc[:0]
        if len(tuned):
            label, how = sorted(tuned["optimizer_label"].unique())[0], "tuned"
        elif len(labels) == 1:
            label, how = labels[0], "only one"
        else:
            finals = _finals(fam[fam["seed"].isin(choosing)])
            label = min(labels, key=lambda lab: (finals.get(lab, np.inf), lab))
            how = "held-out seeds" if crowded and len(rows["seed"].unique()) > 1 else "same seed"
        oracle = fam.loc[fam["optimizer_label"] == label, "oracle"].iloc[0] if "oracle" in fam else None
        out.append({"optimizer": family, "configuration": label, "configurations": len(labels),
                    "how": how, "label": oracle_label(str(family), oracle, stochastic)})
    return out


def default_view(main: pd.DataFrame) -> View:
    """The default view of ``main`` (a trace table without tuning search trials; see
    the module docstring)."""
    empty = pd.DataFrame(columns=["problem", "optimizer", "label", "configuration",
                                  "configurations", "how", "choosing_seeds", "shown_seeds"])
    if main.empty:
        return View(main.assign(configuration=main.get("optimizer_label", pd.Series(dtype=object))),
                    empty, False)
    choices, keep = [], []
    stochastic = set()  # the problem families where some method saw a stochastic oracle
    if "oracle" in main:
        stochastic = set(main.loc[main["oracle"].notna() & (main["oracle"] != FULL_BATCH), "problem"])
    for problem, rows in main.groupby("problem_label", sort=False):
        crowded = bool((rows.groupby("optimizer")["optimizer_label"].nunique() > 1).any())
        choosing, shown = _seeds_of(rows, crowded)
        named = rows["problem"].iloc[0] in stochastic
        for choice in _choose(rows, choosing, crowded, named):
            choices.append({"problem": problem, **choice, "choosing_seeds": choosing,
                            "shown_seeds": shown})
        keep.append(rows.index[rows["seed"].isin(shown)])
    choice = pd.DataFrame(choices)
    chosen = pd.MultiIndex.from_frame(choice[["problem", "configuration"]])
    shown_rows = main.loc[np.concatenate(keep)] if keep else main.iloc[:0]
    pairs = pd.MultiIndex.from_frame(shown_rows[["problem_label", "optimizer_label"]])
    data = shown_rows[pairs.isin(chosen)]
    labels = pd.Series(choice["label"].to_numpy(), index=chosen)
    keys = pd.MultiIndex.from_frame(data[["problem_label", "optimizer_label"]])
    data = data.assign(configuration=data["optimizer_label"],
                       optimizer_label=labels.reindex(keys).to_numpy())
    return View(data, choice, dropped=len(data) < len(main))
