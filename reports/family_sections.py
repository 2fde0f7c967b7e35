"""The report's sections on the problems: the profiles across problems, and per
problem family its convergence, trajectories, nets and rankings.

Every figure and ranking here is drawn from the default view (:mod:`reports.views`:
each optimizer's best configuration per problem, chosen on seeds it is not shown
on), with the whole grid one click away: the same figure of every configuration on
every seed is linked under each figure, and the full rankings (the numbers `optbench
run` prints) are folded under each ranking.  The profiles compare optimizers, one
method each, and never put methods that saw the exact objective (full batch) with
those that saw minibatches or noisy gradients: each kind of oracle has its own.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import blocks
from .blocks import Block, Figures
from .convergence import MAX_CURVES, SUBOPT_FLOOR, convergence_figure
from .nets import (
    UPDATE_RATIO_REFERENCE,
    accuracy_figure,
    activation_histograms_figure,
    net_rows,
    update_ratio_figure,
)
from .profiles import PROFILE_TARGET, profiles_figure
from .results import Results
from .style import Palette, natural_sorted
from .summary import summary_cells, summary_notes
from .trajectories import MAX_PANELS, drawn_runs, trajectories_figure, trajectory_problems
from .views import FULL_BATCH, View

#: A family with more problems than this gets one convergence panel per problem
#: (against cost) instead of a row per problem (steps, cost, seconds).
MAX_ROWS_OF_CURVES = 3

#: A family with more instances than this (the CUTEst suite's 200+) is summarised in one
#: table per optimizer, not drawn and ranked instance by instance.
MAX_INSTANCES_DRAWN = 24

#: A ranking table shows this many optimizer configurations and folds the others.
MAX_RANKED_ROWS = 20


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
             blocks.num(r["cost"]), str(int(r["diverged"])), str(int(r["errors"]))]
            for name, r in summary.iterrows()]
    header = ["optimizer", f"instances reached {target:g}", "ranked first", "median rank",
              "median cost to target", "diverged runs", "error runs"]
    caption = (f"{blocks.plural(n, 'instance')}: too many to draw one by one, so the profiles above "
               "compare the optimizers and this table sums them up. An instance counts as "
               f"reached when at least one run's gap fell to {target:g}; ranks are per instance, "
               "by the median final value over seeds (ties share the better rank); the cost to "
               "target (gradient-equivalents) is the median over the instances where the "
               "median seed reached it. Every run's trace is in the results directory "
               "(optbench.load).")
    return [blocks.table(header, rows), blocks.p(caption, cls="meta")]


def _ranking(table: pd.DataFrame, target: float, choice: pd.DataFrame | None = None) -> list[Block]:
    """One problem's rows of :func:`summary_table`, ranked; the numbers `optbench run`
    prints are the same cells (:func:`summary_cells`), so the two cannot disagree.
    With ``choice`` (:attr:`View.choice`) the rows are the default view's: one per
    optimizer, with the configuration it stands for."""
    table = table.sort_values(["rank", "optimizer"], kind="stable")
    symbols = {"inf": "\N{INFINITY}", "missing": "\N{EN DASH}"}
    cells = summary_cells(table, **symbols)
    kind = table["final_is"].iloc[0]
    name = "suboptimality" if kind == "subopt" else kind
    averaged = (table["iterate"] == "averaged").any()
    configuration = {}
    if choice is not None:
        mine = choice[choice["problem"] == table["problem"].iloc[0]]
        configuration = dict(zip(mine["label"], mine["configuration"]))
    rows = []
    for (_, r), (_, c) in zip(table.iterrows(), cells.iterrows()):
        rows.append([
            str(int(r["rank"])), r["optimizer"],
            *([configuration.get(r["optimizer"], "")] if choice is not None else []),
            r["oracle"], str(int(r["runs"])), c["final"],
            blocks.value_range(r["q25"], r["q75"]), blocks.value_range(r["ci_low"], r["ci_high"]),
            c["reached"],
            c["steps"], c["cost"], c["seconds"], c["time"], str(int(r["diverged"])),
            str(int(r["errors"])), *([r["iterate"]] if averaged else []),
        ])
    header = ["rank", "optimizer", *(["configuration"] if choice is not None else []), "oracle",
              "runs", f"median final {name}", "IQR", "95% CI of median",
              f"reached {target:g}", f"steps to {target:g}", "cost to target",
              "seconds to target", "median time [s]", "diverged", "errors",
              *(["iterate"] if averaged else [])]
    caption = (f"Ranked by the median final {name} over seeds; IQR: its interquartile range; "
               "CI: a 95% bootstrap interval of the median. Oracle: what the method saw, the "
               "exact objective (full batch) or a minibatch or noisy gradient per step. Cost "
               "(gradient-equivalents) and seconds to target are counted like the steps. "
               + " ".join(summary_notes(table, target, **symbols)))
    if len(rows) > MAX_RANKED_ROWS:
        caption += (f" Only the first {MAX_RANKED_ROWS} of {len(rows)} optimizer configurations "
                    "are shown; the others are folded below the table.")
    left = (1, 2, 3) if choice is not None else (1, 2)
    return [*blocks.long_table(header, rows, MAX_RANKED_ROWS, "optimizer configurations", left=left),
            blocks.p(caption, cls="meta")]


def _seeds_text(seeds: tuple) -> str:
    """``seed 0`` or ``seeds 0–2, 5``."""
    return f"seed{'s' if len(seeds) > 1 else ''} {blocks.seed_ranges(seeds)}"


def _view_text(choice: pd.DataFrame) -> str:
    """The sentence a figure or ranking drawn from the default view adds to its caption
    ("" when nothing was chosen: one configuration per optimizer)."""
    if choice.empty or (choice["how"] == "only one").all():
        return ""
    text = (" Each optimizer is drawn in one configuration per problem, in one colour: ")
    hows = set(choice["how"])
    parts = []
    if "tuned" in hows:
        parts.append("the one its tuning study chose, on the evaluation seeds the search never saw")
    held = choice[choice["how"] == "held-out seeds"]
    if len(held):
        pairs = {(_seeds_text(c), _seeds_text(s)) for c, s in
                 zip(held["choosing_seeds"], held["shown_seeds"])}
        if len(pairs) == 1:
            (chosen, shown), = pairs
            parts.append(f"the one with the lowest median final value over {chosen}, drawn "
                         f"on {shown} only, which did not choose it")
        else:
            parts.append("the one with the lowest median final value over the first half of "
                         "the problem's seeds, drawn on the other half only")
    if "same seed" in hows:
        parts.append("the best on the problem's single seed, chosen and drawn on that seed "
                     "(nothing held out, so its lead is flattered)")
    return (text + "; ".join(parts) + ". The rankings name each configuration; every "
            "configuration on every seed is linked under the figure and folded under the "
            "rankings.")


@dataclass
class PageContext:
    """What every section of the page shares: the results, the default view
    (:mod:`reports.views`) with its summary, the whole grid's summary, the palette,
    where figures go and the target of the "to target" columns."""

    results: Results
    view: View
    view_ranking: pd.DataFrame
    grid_ranking: pd.DataFrame
    palette: Palette
    figures: Figures
    target: float


def _grid_link(page: PageContext, grid: pd.DataFrame, view: pd.DataFrame,
               draw: Callable[[pd.DataFrame], Any], alt: str) -> list[tuple[str, Callable[[], Any], str]]:
    """The ``more`` of a figure drawn from the view: the same figure of the whole grid,
    when the view left something out."""
    if len(view) == len(grid):
        return []
    n = grid["optimizer_label"].nunique()
    return [(f"All {blocks.plural(n, 'configuration')}, all seeds", lambda: draw(grid), f"{alt} all")]


def family_section(family: str, grid: pd.DataFrame, page: PageContext, index: int) -> blocks.Section:
    """One problem family: convergence, trajectories, nets and rankings, drawn from the
    default view of its rows (``grid``: all of them), the whole grid linked."""
    problems_ = natural_sorted(grid["problem_label"].unique())
    rows = page.view.data[page.view.data["problem"] == family]
    palette, figures = page.palette, page.figures
    sec = blocks.Section(f"family-{index}", family)
    sec.add(blocks.p(f"{blocks.plural(len(problems_), 'problem')}, "
                     f"{blocks.plural(grid['optimizer_label'].nunique(), 'optimizer configuration')}, "
                     f"{blocks.plural(grid['run_id'].nunique(), 'run')} with a trace."))
    if len(problems_) > MAX_INSTANCES_DRAWN:
        sec.sub(f"family-{index}-summary", "Summary over instances")
        ranking = page.grid_ranking
        sec.add(*_many_instances(ranking[ranking["problem"].isin(problems_)], page.target))
        return sec
    choice = _view_text(page.view.choice[page.view.choice["problem"].isin(problems_)])
    rows_layout = len(problems_) <= MAX_ROWS_OF_CURVES
    xs = ("step", "cost", "time") if rows_layout else "cost"
    sec.sub(f"family-{index}-convergence", "Convergence")
    # the view has one curve per optimizer and panel: all are drawn where each panel
    # can tell them apart, even if the family's legend is longer
    per_panel = int(rows.groupby("problem_label")["optimizer_label"].nunique().max()) if len(rows) else 0
    cap = None if per_panel <= MAX_CURVES else MAX_CURVES
    sec.add(blocks.figure(figures, lambda: convergence_figure(rows, xs, palette=palette, max_curves=cap),
                          _convergence_caption(rows_layout, per_panel) + choice,
                          f"convergence on {family}",
                          _grid_link(page, grid, rows, lambda d: convergence_figure(d, xs, palette=palette),
                                     f"convergence on {family}")))
    _trajectory_blocks(sec, family, index, grid, rows, page, choice)
    if not net_rows(rows).empty:
        _net_blocks(sec, family, index, grid, rows, page, choice)
    sec.sub(f"family-{index}-ranking", "Rankings")
    for label in problems_:
        sec.add({"kind": "h4", "title": label})
        sub = page.view_ranking[page.view_ranking["problem"] == label]
        if sub.empty:
            sec.add(blocks.p("No runs with a trace."))
            continue
        sec.add(*_ranking(sub, page.target, page.view.choice))
        whole = page.grid_ranking[page.grid_ranking["problem"] == label]
        if len(whole) > len(sub) or page.view.dropped:
            sec.add({"kind": "details", "summary": f"Every configuration on all seeds "
                     f"({blocks.plural(len(whole), 'configuration')}: the numbers optbench run prints)",
                     "blocks": _ranking(whole, page.target)})
    return sec


def _trajectory_blocks(sec: blocks.Section, family: str, index: int, grid: pd.DataFrame,
                       rows: pd.DataFrame, page: PageContext, choice: str) -> None:
    two_d = trajectory_problems(rows)
    if not two_d:
        return
    sec.sub(f"family-{index}-trajectories", "Trajectories")
    params = page.results.problem_params()
    palette = page.palette

    def draw(data: pd.DataFrame, label: str) -> Any:
        return trajectories_figure(data, label, palette=palette, problem_params=params)

    for label in two_d:
        sub = rows[rows["problem_label"] == label]
        whole = grid[grid["problem_label"] == label]
        sec.add(blocks.figure(page.figures, functools.partial(draw, sub, label),
                              _trajectory_caption(sub) + choice, f"trajectories on {label}",
                              _grid_link(page, whole, sub, functools.partial(draw, label=label),
                                         f"trajectories on {label}")))


def _net_blocks(sec: blocks.Section, family: str, index: int, grid: pd.DataFrame,
                rows: pd.DataFrame, page: PageContext, choice: str) -> None:
    palette, figures = page.palette, page.figures
    sec.sub(f"family-{index}-nets", "Training the nets")
    sec.add(blocks.figure(figures, lambda: accuracy_figure(rows, palette=palette),
                          "Training (solid) and validation (dashed) accuracy over steps, median over "
                          "seeds, with the interquartile range of the validation accuracy as a band. "
                          "The space between an optimizer's two curves is its overfitting gap: when "
                          "it widens while training accuracy still rises, the net is memorising the "
                          "training set rather than learning the task." + choice,
                          f"accuracy on {family}",
                          _grid_link(page, grid, rows, lambda d: accuracy_figure(d, palette=palette),
                                     f"accuracy on {family}")))
    sec.add(blocks.figure(figures, lambda: update_ratio_figure(rows, palette=palette),
                          "Norm of each update over the norm of the weights, median over seeds (log "
                          f"scale). The lecture's rule of thumb is about {UPDATE_RATIO_REFERENCE:g} "
                          "(dashed): far above it the learning rate is probably too high, far below "
                          "too low. Methods without a learning rate in the loop (scipy's L-BFGS) "
                          "record none." + choice, f"update ratios on {family}",
                          _grid_link(page, grid, rows, lambda d: update_ratio_figure(d, palette=palette),
                                     f"update ratios on {family}")))
    sec.add(blocks.figure(figures, lambda: activation_histograms_figure(rows),
                          "A fixed demonstration, not made from these runs: a deep tanh net built at "
                          "its initial point with each weight initialisation, and the distribution "
                          "of every hidden layer's activations on the training inputs. With small "
                          "weights (std 0.01) the activations shrink towards 0 layer after layer, so "
                          "the gradients vanish; with large weights (std 1) tanh saturates at "
                          "\N{PLUS-MINUS SIGN}1, where its gradient vanishes too; Xavier "
                          "(std 1/\N{SQUARE ROOT}fan_in) keeps the spread of every layer alike; He "
                          "(\N{SQUARE ROOT}(2/fan_in)), made for ReLU, is a little wide for tanh.",
                          "activations per layer for each init"))


_PROFILE_CAPTION = (
    "Left: the performance profile. For each optimizer, the share of problems it solves "
    f"(closes the gap to {PROFILE_TARGET:g} of its initial value) within a factor "
    "\N{GREEK SMALL LETTER TAU} of the cost of the cheapest optimizer on that problem. Higher "
    "and further left is better: the value at \N{GREEK SMALL LETTER TAU} = 1 is how often it "
    "is the cheapest, the level on the right how often it solves the problem at all. Right: "
    "the data profile, the share of (problem, seed) instances solved within a budget of "
    "gradient evaluations (log scale). Each optimizer is one method: on each problem its "
    "configuration of the rankings (its best, or the tuned one), on the seeds shown there."
)


def _profile_groups(view: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The profiles' data: one group per kind of oracle, each optimizer one method
    (labelled with its oracle where the study has stochastic ones)."""
    oracle = view["oracle"].fillna(FULL_BATCH) if "oracle" in view else pd.Series(FULL_BATCH, view.index)
    exact = (oracle == FULL_BATCH).to_numpy()
    if exact.all():
        return [("", view.assign(optimizer_label=view["optimizer"]))]
    groups = []
    for name, mask in (("full batch", exact), ("stochastic", ~exact)):
        part = view[mask]
        if part.empty:
            continue
        seen = oracle[mask].groupby(part["optimizer"]).agg(lambda o: ", ".join(sorted(set(o))))
        groups.append((name, part.assign(optimizer_label=[f"{f} ({seen[f]})" for f in part["optimizer"]])))
    return groups


def profile_section(page: PageContext) -> blocks.Section:
    sec = blocks.Section("profiles", "Across problems")
    groups = _profile_groups(page.view.data)
    for name, data in groups:
        lead = {"": "",
                "full batch": "Methods that saw the exact objective (full batch) at every step. ",
                "stochastic": "Methods that saw a minibatch or a noisy gradient at every step: "
                              "they are not compared with the full-batch methods above, which "
                              "see more at each step. "}[name]
        sec.add(blocks.figure(page.figures, functools.partial(profiles_figure, data, palette=page.palette),
                              lead + _PROFILE_CAPTION, f"performance and data profiles {name}".strip()))
    return sec


def page_palette(main: pd.DataFrame, view: View, tuning: pd.DataFrame) -> Palette:
    """One colour per optimizer for every figure of the page; its configurations and
    views (oracles) differ by line style."""
    families: dict[str, str] = {}
    if not main.empty:
        families.update(zip(main["optimizer_label"], main["optimizer"]))
        families.update(zip(view.choice["label"], view.choice["optimizer"]))
        for _, data in _profile_groups(view.data):
            families.update(zip(data["optimizer_label"], data["optimizer"]))
    for key in tuning.get("color_key", []):
        families.setdefault(key, key)
    return Palette(families, families=families)
