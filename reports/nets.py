"""Figures of the small nets (problem ``mlp``): accuracy, update ratios, activations,
ensembles.

- :func:`accuracy_figure`: training and validation accuracy over steps; the space
  between the two curves of an optimizer is the overfitting gap.
- :func:`update_ratio_figure`: the norm of each update over the norm of the
  weights, with the lecture's rule of thumb of about 1e-3.
- :func:`activation_histograms_figure`: a fixed demonstration that needs no runs,
  the lecture's picture of weight initialisation: a deep tanh net built at its
  initial point for each ``init``, and the distribution of every hidden layer's
  activations (small weights: they collapse to 0; large: they saturate at +-1;
  Xavier: they keep their spread).
- :func:`ensembles_figure`: the tables that :mod:`optbench.ensembles` writes to
  ``<results>/ensembles/*.parquet``, ensembles against their single members.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from threadpoolctl import threadpool_limits

import problems
from optbench import statistics
from optbench.diagnostics import activation_stats

from .style import (
    PAGE_WIDTH_IN,
    TEXT_PT,
    Palette,
    axes_width,
    data_palette,
    facet_layout,
    facets,
    log_axis_ok,
    log_scale,
    optimizer_legend,
    suptitle,
    text_size,
    theme,
    wrap_titles,
)

#: The lecture's rule of thumb for the update/weight norm ratio.
UPDATE_RATIO_REFERENCE = 1e-3
#: The inits of the activation figure, in the order of the lecture.
INITS = ("small", "large", "xavier", "he")
#: Inches of a panel of the accuracy and update ratio figures (width at most).
PANEL = (4.6, 3.0)


def net_rows(data: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``mlp`` runs."""
    if data is None or data.empty:
        return pd.DataFrame() if data is None else data
    return data[data["problem"] == "mlp"]


def _metric_panels(data: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    rows = net_rows(data)
    present = [c for c in columns if c in rows.columns]
    if rows.empty or not present:
        return rows.iloc[0:0], []
    rows = rows[rows[present].notna().any(axis=1)]
    return rows, sorted(rows["problem_label"].unique())


def _panels(problems: list[str], ncols: int, legend: list[str]) -> tuple[Figure, list, list[str]]:
    """A panel per net problem, the legend of ``legend``, and the problems' titles
    wrapped to a panel and its gap."""
    sizes: dict[str, Any] = {"panel": PANEL, "wspace": 0.85, "max_width": PAGE_WIDTH_IN,
                             "legend": legend, "legend_title": "optimizer"}
    titles, lines = wrap_titles(problems, facet_layout(len(problems), ncols, **sizes).panel[0] + 0.6)
    fig, axes = facets(len(problems), ncols, title_lines=lines, **sizes)
    return fig, axes, titles


def accuracy_figure(data: pd.DataFrame, *, palette: Palette | None = None, ncols: int = 2,
                    n_points: int = 60) -> Figure | None:
    """Training (solid) and validation (dashed) accuracy over steps, per net problem.

    The line style tells training from validation, so the configurations of one
    optimizer family (one colour) are told apart by markers
    (:meth:`~reports.style.Palette.line_kw` with ``linestyle=False``).

    Medians over seeds (:func:`optbench.statistics.curve_stats`, a diverged run
    dropped from the accuracy from where it diverged); the band is the
    interquartile range of the validation accuracy.

    Returns:
        The Figure, or None without ``mlp`` runs recording ``train_acc``/``val_acc``.
    """
    rows, panels = _metric_panels(data, ["train_acc", "val_acc"])
    if not panels or not {"train_acc", "val_acc"} <= set(rows.columns):
        return None
    labels = sorted(rows["optimizer_label"].unique())
    palette = data_palette(labels, palette, rows)
    extra = [(Line2D([], [], color="0.3"), "training"),
             (Line2D([], [], color="0.3", linestyle="--"), "validation")]
    with theme():
        fig, axes, titles = _panels(panels, ncols, [*labels, *(text for _, text in extra)])
        for ax, problem, title in zip(axes, panels, titles):
            sub = rows[rows["problem_label"] == problem]
            train = statistics.curve_stats(sub, x="step", y="train_acc", n_points=n_points,
                                           diverged_value=np.nan)
            val = statistics.curve_stats(sub, x="step", y="val_acc", n_points=n_points,
                                         diverged_value=np.nan)
            for label, curve in train.groupby("optimizer_label", sort=True):
                kw = palette.line_kw(label, len(curve), linestyle=False)
                ax.plot(curve["x"], curve["median"], linewidth=1.5, label=label, **kw)
            for label, curve in val.groupby("optimizer_label", sort=True):
                kw = palette.line_kw(label, len(curve), linestyle=False)
                ax.plot(curve["x"], curve["median"], linewidth=1.5, linestyle="--",
                        label=f"_val {label}", **kw)
                ax.fill_between(curve["x"], curve["q25"], curve["q75"], color=kw["color"],
                                alpha=0.12, linewidth=0, label="_band")
            ax.set_ylim(top=1.01)
            ax.set_xlim(left=0)
            ax.set_xlabel("steps")
            ax.set_ylabel("accuracy")
            ax.set_title(title, loc="left")
        optimizer_legend(fig, palette, labels, extra=extra, linestyle=False)
    return fig


def update_ratio_figure(data: pd.DataFrame, *, palette: Palette | None = None, ncols: int = 2,
                        n_points: int = 60) -> Figure | None:
    """``|update| / |weights|`` over steps (median over seeds, log axis), per net
    problem, with the reference line at :data:`UPDATE_RATIO_REFERENCE`.

    Returns:
        The Figure, or None without ``mlp`` runs recording a finite ``update_ratio``.
    """
    rows, panels = _metric_panels(data, ["update_ratio"])
    if not panels:
        return None
    rows = rows[np.isfinite(rows["update_ratio"].to_numpy(dtype=float))]
    panels = sorted(rows["problem_label"].unique())
    if not panels:
        return None
    labels = sorted(rows["optimizer_label"].unique())
    palette = data_palette(labels, palette, rows)
    extra = [(Line2D([], [], color="black", linestyle="--", linewidth=1.0),
              f"rule of thumb {UPDATE_RATIO_REFERENCE:g}")]
    with theme():
        fig, axes, titles = _panels(panels, ncols, [*labels, *(text for _, text in extra)])
        for ax, problem, title in zip(axes, panels, titles):
            sub = rows[rows["problem_label"] == problem]
            stats = statistics.curve_stats(sub, x="step", y="update_ratio", n_points=n_points,
                                           diverged_value=np.nan)
            for label, curve in stats.groupby("optimizer_label", sort=True):
                ax.plot(curve["x"], curve["median"], linewidth=1.5, label=label,
                        **palette.line_kw(label, len(curve)))
            ax.axhline(UPDATE_RATIO_REFERENCE, color="black", linestyle="--", linewidth=1.0,
                       label="_reference")
            if log_axis_ok(stats["median"]):
                log_scale(ax)
            ax.set_xlim(left=0)
            ax.set_xlabel("steps")
            ax.set_ylabel("|update| / |weights|")
            ax.set_title(title, loc="left")
        optimizer_legend(fig, palette, labels, extra=extra)
    return fig


def activation_histograms_figure(
    data: pd.DataFrame | None = None,
    *,
    inits: Sequence[str] = INITS,
    activation: str = "tanh",
    hidden: Sequence[int] = (256,) * 8,
    dataset: str = "spiral",
    seed: int = 0,
    bins: int = 40,
) -> Figure | None:
    """The distribution of every hidden layer's activations at the initial point of a
    deep net (default: eight tanh layers of 256 units), one panel per ``init``, two
    panels a row.

    In a panel, layer k's histogram is drawn as a violin at x = k (its width is the
    density of the values on the y axis), with the layer's standard deviation
    (:func:`optbench.diagnostics.activation_stats`) above it.  The net is built with
    ``problems.get("mlp", ...)`` on the training split of ``dataset`` and evaluated at
    ``x0(seed)`` (:meth:`problems.mlp.MLP.forward_activations`).

    It needs no runs.  Given ``data``, it is a figure of a report with nets: None
    when ``data`` holds no ``mlp`` run.
    """
    if data is not None and net_rows(data).empty:
        return None
    nets = []
    with threadpool_limits(limits=1, user_api="blas"):  # small products: one thread is fastest
        for init in inits:
            net: Any = problems.get("mlp", dataset=dataset, hidden=list(hidden), activation=activation,
                               init=init, batch_size=None, seed=0)
            x0 = net.x0(seed)
            nets.append((init, net.forward_activations(x0), activation_stats(net, x0)))
    if activation == "tanh":
        value_range: tuple[float, float] | None = (-1.0, 1.0)
    elif activation == "sigmoid":
        value_range = (0.0, 1.0)
    else:
        value_range = None
    n_layers = len(hidden)
    ncols = min(2, len(inits))
    with theme():
        fig, axes = facets(len(inits), ncols, panel=(0.62 * n_layers + 0.5, 2.3), sharey=True,
                           suptitle=True, wspace=0.3, hspace=1.05, left=0.75,
                           max_width=PAGE_WIDTH_IN)
        # a std label every `every` layers, so that neighbouring labels do not touch
        spacing = axes_width(axes[0]) / (n_layers + 0.2)
        every = max(1, math.ceil((text_size("9.8e-06")[0] + 0.05) / spacing))
        for ax, (init, layers, stats) in zip(axes, nets):
            for k, h in enumerate(layers, start=1):
                values = np.asarray(h, dtype=float).ravel()
                counts, edges = np.histogram(values, bins=bins, range=value_range)
                width = 0.42 * counts / max(counts.max(), 1)
                centers = 0.5 * (edges[:-1] + edges[1:])
                ax.fill_betweenx(centers, k - width, k + width, color="0.35", linewidth=0)
                if (k - 1) % every == 0:
                    ax.text(k, 1.0, f"{float(stats['std'].iloc[k - 1]):.2g}", fontsize=TEXT_PT,
                            transform=ax.get_xaxis_transform(), ha="center", va="bottom")
            ax.set_xticks(range(1, n_layers + 1))
            ax.set_xlim(0.4, n_layers + 0.6)
            if value_range is not None:
                ax.set_ylim(value_range[0] - 0.05, value_range[1] + 0.05)
            ax.grid(axis="x", visible=False)
            ax.set_xlabel("hidden layer")
            ax.set_title(f"init={init}", loc="left", pad=16)
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel("activation value")
        suptitle(fig, f"{activation} net {len(hidden)} x {hidden[0]} on {dataset}: hidden "
                      "activations at the initial point (number above a layer: its std)")
    return fig


def load_ensembles(results_dir: str | os.PathLike) -> pd.DataFrame:
    """The comparison tables in ``<results_dir>/ensembles/*.parquet``, concatenated.

    Adds ``table`` (the file's stem) and keeps ``config`` (JSON text).  Empty (no
    columns) when there are none; unreadable files are skipped.
    """
    folder = Path(results_dir) / "ensembles"
    frames = []
    if folder.is_dir():
        for path in sorted(folder.glob("*.parquet")):
            try:
                frame = pd.read_parquet(path)
            except (OSError, ValueError, pa.ArrowException):
                continue
            frames.append(frame.assign(table=path.stem))
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def _ensemble_title(config: str) -> str:
    try:
        cfg = json.loads(config)
    except (TypeError, ValueError):
        return ""
    problem = cfg.get("problem_params") or {}
    inner = ",".join(f"{k}={v}" for k, v in problem.items())
    return f"{cfg.get('optimizer', '?')} on mlp[{inner}], {cfg.get('steps', '?')} steps"


#: Bar colours of the model kinds (single members grey, their combinations coloured).
KIND_COLORS = {"single": "0.65", "summary": "0.35", "snapshot": "0.8",
               "ensemble": (0.0, 0.45, 0.70), "average": (0.84, 0.37, 0.0)}


def ensembles_figure(tables: pd.DataFrame) -> Figure | None:
    """Validation accuracy and loss of every model of each ensembles table.

    One row of two panels per table (:func:`load_ensembles`): horizontal bars of
    ``val_acc`` (higher is better) and ``val_loss`` (lower is better); single
    members in grey, ensembles blue, the Polyak average orange.

    Returns:
        The Figure, or None without tables.
    """
    if tables is None or tables.empty or not {"model", "val_acc", "val_loss"} <= set(tables.columns):
        return None
    groups = list(tables.groupby("table", sort=True)) if "table" in tables else [("", tables)]
    height = max(len(g) for _, g in groups) * 0.26 + 1.0
    names = max((text_size(str(model))[0] for model in tables["model"]), default=1.0)
    sizes: dict[str, Any] = {"panel": (4.0, height), "left": names + 0.35, "max_width": PAGE_WIDTH_IN,
                             "wspace": 0.7}  # room right of a bar for its value
    panel = facet_layout(2 * len(groups), 2, **sizes).panel[0]
    titles, lines = wrap_titles([_ensemble_title(g["config"].iloc[0]) if "config" in g else ""
                                 for _, g in groups], 2 * panel + 0.7)
    with theme():
        fig, axes = facets(2 * len(groups), 2, title_lines=lines, **sizes)
        for i, ((_, group), title) in enumerate(zip(groups, titles)):
            acc_ax, loss_ax = axes[2 * i], axes[2 * i + 1]
            y = np.arange(len(group))[::-1]
            colors = [KIND_COLORS.get(k, "0.5") for k in group.get("kind", ["single"] * len(group))]
            acc = group["val_acc"].to_numpy(dtype=float)
            loss = group["val_loss"].to_numpy(dtype=float)
            acc_ax.barh(y, acc, color=colors)
            loss_ax.barh(y, loss, color=colors)
            acc_ax.set_yticks(y, group["model"])
            loss_ax.set_yticks(y, [""] * len(y))
            finite = acc[np.isfinite(acc)]
            if finite.size:
                acc_ax.set_xlim(max(0.0, finite.min() - 0.1 * max(finite.max() - finite.min(), 0.05)),
                                min(1.0, finite.max() + 0.02) + 1e-9)
            for yy, value in zip(y, acc):
                acc_ax.text(value, yy, f" {value:.3f}", va="center", fontsize=TEXT_PT)
            acc_ax.set_xlabel("validation accuracy (higher is better)")
            loss_ax.set_xlabel("validation loss (lower is better)")
            acc_ax.set_title(title, loc="left")
            for ax in (acc_ax, loss_ax):
                ax.grid(axis="y", visible=False)
    return fig
