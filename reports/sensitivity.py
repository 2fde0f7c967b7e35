"""Hyper-parameter sensitivity, from the search runs of a tuning study.

Tuning runs are ordinary runs tagged ``tune.role`` ("search" or "evaluation"),
``tune.id`` (one tuning study), ``tune.round`` and ``tune.trial``; the tuned
values are the ``optimizer.<name>`` columns.  This module reads only those
columns, so it draws any tuning procedure that tags its runs this way.

The *chosen* value of a study is the one its evaluation runs were made with (the
``tune.role == "evaluation"`` runs of the same ``tune.id``, problem and
optimizer); without evaluation runs it is the trial with the lowest median final
value.  A chosen value at the smallest or largest value tried means the search
range may have cut off the optimum: the figure says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from optbench import statistics

from .style import (
    PAGE_WIDTH_IN,
    Palette,
    bottom_legend,
    facet_layout,
    facets,
    log_axis_ok,
    log_scale,
    note,
    palette_for,
    theme,
    wrap_titles,
)

ROLE, STUDY = "tune.role", "tune.id"


def search_rows(data: pd.DataFrame) -> pd.DataFrame:
    """The rows of tuning search runs (empty if there are none)."""
    if data is None or data.empty or ROLE not in data.columns:
        return data.iloc[0:0] if data is not None else pd.DataFrame()
    return data[data[ROLE] == "search"]


def _numeric(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce")


def sensitivity_table(data: pd.DataFrame, param: str = "lr", *, n_boot: int = 200) -> pd.DataFrame:
    """One row per search trial: the tuned value and the median final value over its seeds.

    Columns: ``study`` (tune.id), ``problem_label``, ``optimizer``,
    ``optimizer_label``, ``value`` (of ``optimizer.<param>``), ``measure``,
    ``median``, ``q25``, ``q75`` (final subopt or loss over seeds; ``+inf`` where the
    runs diverged), ``n_runs``, ``n_diverged``, ``chosen`` (bool) and ``at_edge``
    (on the chosen row: ``"smallest"``/``"largest"`` value tried, else "") and
    ``color_key``: the label the study is coloured by, that of its evaluation runs
    (so the chosen configuration has the colour it has in the other figures), else
    the optimizer's name.
    Trials whose value is not a positive number (a schedule) are left out.
    """
    columns = ["study", "problem_label", "optimizer", "optimizer_label", "value", "measure",
               "median", "q25", "q75", "n_runs", "n_diverged", "chosen", "at_edge", "color_key"]
    search = search_rows(data)
    column = f"optimizer.{param}"
    if search.empty or column not in search.columns:
        return pd.DataFrame(columns=columns)
    search = search.assign(**{column: _numeric(search[column])})
    search = search[search[column] > 0]
    if search.empty:
        return pd.DataFrame(columns=columns)
    study = search[STUDY].astype(str) if STUDY in search.columns else pd.Series("", index=search.index)
    search = search.assign(**{STUDY: study})
    per_trial = search.groupby(["problem_label", "optimizer_label"], sort=False).agg(
        study=(STUDY, "first"), optimizer=("optimizer", "first"), value=(column, "first"),
    ).reset_index()
    finals = statistics.final_stats(search, n_boot=n_boot)
    table = per_trial.merge(finals, on=["problem_label", "optimizer_label"], how="left")
    evaluation = data[data[ROLE] == "evaluation"] if ROLE in data.columns else data.iloc[0:0]
    out = []
    for _, group in table.groupby(["study", "problem_label", "optimizer"], sort=True):
        group = group.sort_values("value").copy()
        study_id, problem, optimizer = group.iloc[0][["study", "problem_label", "optimizer"]]
        evals = evaluation
        if STUDY in evals.columns:
            evals = evals[evals[STUDY].astype(str) == study_id]
        evals = evals[(evals["problem_label"] == problem) & (evals["optimizer"] == optimizer)]
        chosen_value = np.nan
        if column in evals.columns:
            evaluated = _numeric(evals[column]).dropna()
            if len(evaluated):
                chosen_value = float(evaluated.iloc[0])
        medians = group["median"].to_numpy(dtype=float)
        if np.isnan(chosen_value) and np.isfinite(medians).any():
            chosen_value = float(group["value"].iloc[int(np.argmin(np.nan_to_num(medians, nan=np.inf)))])
        values = group["value"].to_numpy(dtype=float)
        chosen = np.isclose(values, chosen_value, rtol=1e-9, atol=0)  # all False for NaN
        group["chosen"] = chosen
        edge = ""
        if chosen.any() and len(values) > 1:
            if np.isclose(chosen_value, values.min(), rtol=1e-9, atol=0):
                edge = "smallest"
            elif np.isclose(chosen_value, values.max(), rtol=1e-9, atol=0):
                edge = "largest"
        group["at_edge"] = np.where(chosen, edge, "")
        group["color_key"] = str(evals["optimizer_label"].iloc[0]) if len(evals) else optimizer
        out.append(group)
    return pd.concat(out, ignore_index=True)[columns]


def sensitivity_figure(
    data: pd.DataFrame,
    param: str = "lr",
    *,
    palette: Palette | None = None,
    ncols: int = 3,
    table: pd.DataFrame | None = None,
) -> Figure | None:
    """Final value against the tuned ``param`` (log axis), one panel per study,
    problem and optimizer.

    Each point is a search trial (the median over its seeds, the bar its
    interquartile range); an X at the top marks a trial whose median diverged; the
    ring is the chosen value and the dotted lines the smallest and largest values
    tried.  A chosen value on one of them is flagged in the panel.

    Returns:
        The Figure, or None without search runs that vary ``optimizer.<param>``.
    """
    if table is None:
        table = sensitivity_table(data, param)
    if table.empty:
        return None
    panels = list(table.groupby(["study", "problem_label", "optimizer"], sort=True))
    keys = table.drop_duplicates("color_key")
    palette = palette_for(keys["color_key"], palette, dict(zip(keys["color_key"], keys["optimizer"])))
    handles = _legend_handles()
    sizes: dict[str, Any] = {"panel": (3.8, 2.8), "wspace": 0.85, "max_width": PAGE_WIDTH_IN,
                             "legend": [str(h.get_label()) for h in handles]}
    titles, lines = wrap_titles([f"{optimizer} on {problem}" + (f" (tuning {study})" if study else "")
                                 for (study, problem, optimizer), _ in panels],
                                facet_layout(len(panels), ncols, **sizes).panel[0] + 0.6)
    with theme():
        fig, axes = facets(len(panels), ncols, title_lines=lines, **sizes)
        for ax, ((_, _, optimizer), group), title in zip(axes, panels, titles):
            color = palette.color(group["color_key"].iloc[0])
            x = group["value"].to_numpy(dtype=float)
            med = group["median"].to_numpy(dtype=float)
            lo = group["q25"].to_numpy(dtype=float)
            hi = group["q75"].to_numpy(dtype=float)
            finite = np.isfinite(med)
            values = np.concatenate([med[finite], lo[np.isfinite(lo)], hi[np.isfinite(hi)]])
            ax.plot(x[finite], med[finite], color=color, linewidth=1.0, alpha=0.6, label="_trend")
            with np.errstate(invalid="ignore"):  # inf - inf where a trial diverged
                yerr = np.vstack([med[finite] - lo[finite], hi[finite] - med[finite]])
            yerr = np.where(np.isfinite(yerr), yerr, 0.0)
            ax.errorbar(x[finite], med[finite], yerr=yerr, linestyle="none", marker="o",
                        markersize=4, color=color, elinewidth=0.8, capsize=2, label=optimizer)
            top_transform = blended_transform_factory(ax.transData, ax.transAxes)
            if (~finite).any():
                ax.plot(x[~finite], np.full((~finite).sum(), 0.95), linestyle="none", marker="X",
                        markersize=7, color="#a00", transform=top_transform, label="_diverged")
            chosen = group["chosen"].to_numpy(dtype=bool)
            if chosen.any() and finite[chosen].any():
                ax.plot(x[chosen & finite], med[chosen & finite], linestyle="none", marker="o",
                        markersize=12, markerfacecolor="none", markeredgecolor="black",
                        markeredgewidth=1.4, label="_chosen")
            for edge in (x.min(), x.max()):
                ax.axvline(edge, color="0.4", linestyle=":", linewidth=1.0)
            log_scale(ax, "x")
            if log_axis_ok(values):
                log_scale(ax)
            span = np.log10(x.max() / x.min()) if x.max() > x.min() else 1.0
            ax.set_xlim(x.min() / 10 ** (0.08 * span + 0.05), x.max() * 10 ** (0.08 * span + 0.05))
            measure = group["measure"].iloc[0]
            ax.set_xlabel(param)
            ax.set_ylabel(f"final {'suboptimality' if measure == 'subopt' else measure}")
            ax.set_title(title, loc="left")
            edge = group.loc[group["chosen"], "at_edge"]
            chosen_value = x[chosen][0] if chosen.any() else np.nan
            if len(edge) and edge.iloc[0]:
                note(ax, f"chosen {param}={chosen_value:.3g} is the\n{edge.iloc[0]} value tried: the "
                         "best\nmay lie outside the range", loc="lower left", color="#a00")
            elif np.isfinite(chosen_value):
                note(ax, f"chosen {param}={chosen_value:.3g}", loc="lower left")
        bottom_legend(fig, handles)
    return fig


def _legend_handles() -> list[Line2D]:
    return [
        Line2D([], [], linestyle="none", marker="o", color="0.3", markersize=4,
               label="trial: median and IQR over seeds"),
        Line2D([], [], linestyle="none", marker="o", markersize=12, markerfacecolor="none",
               markeredgecolor="black", label="chosen"),
        Line2D([], [], linestyle=":", color="0.4", label="range tried"),
        Line2D([], [], linestyle="none", marker="X", color="#a00", markersize=7,
               label="diverged (median)"),
    ]
