"""The learning rate each run used, for runs whose rate changes over the steps.

The trace's ``lr`` column holds the rate of the step that produced each recorded
iterate (NaN for methods without one, such as scipy's L-BFGS).  A run is drawn
when its finite rates are not all equal: a schedule, or a warm-up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .style import (
    PAGE_WIDTH_IN,
    Palette,
    data_palette,
    facets,
    log_axis_ok,
    log_scale,
    optimizer_legend,
    theme,
)


def scheduled_runs(data: pd.DataFrame) -> pd.DataFrame:
    """The rows of the runs whose finite ``lr`` values are not all equal."""
    if data is None or data.empty or "lr" not in data.columns:
        return data.iloc[0:0] if data is not None else pd.DataFrame()
    lr = pd.Series(data["lr"].to_numpy(dtype=float), index=data.index)
    lr = lr.where(np.isfinite(lr))
    by_run = lr.groupby(data["run_id"])
    spread = (by_run.max() - by_run.min()).fillna(0.0)  # 0 for a run without a finite rate
    scale = lr.abs().groupby(data["run_id"]).max().fillna(0.0)
    varying = spread.index[(spread > 1e-12 * scale) & (spread > 0)]
    return data[data["run_id"].isin(varying)]


def schedules_figure(data: pd.DataFrame, *, palette: Palette | None = None) -> Figure | None:
    """``lr`` over steps, one line per optimizer configuration with a varying rate.

    A schedule does not depend on the problem or the seed, so each configuration
    is drawn once, from its first run (smallest seed), joining the recorded steps.
    Log axis where the rates are positive.  The legend goes right of the panel
    when it fits there (within :data:`~reports.style.PAGE_WIDTH_IN`), else below.

    Returns:
        The Figure, or None when no run's learning rate varies.
    """
    rows = scheduled_runs(data)
    if rows.empty:
        return None
    labels = sorted(rows["optimizer_label"].unique())
    palette = data_palette(labels, palette, rows)
    with theme():
        fig, (ax,) = facets(1, 1, panel=(6.5, 3.2), legend=labels, legend_title="optimizer",
                            max_width=PAGE_WIDTH_IN)
        for label in labels:
            runs = rows[rows["optimizer_label"] == label]
            first = runs.sort_values(["seed", "run_id"], kind="stable")["run_id"].iloc[0]
            run = runs[runs["run_id"] == first]
            run = run[np.isfinite(run["lr"].to_numpy(dtype=float))]
            ax.plot(run["step"], run["lr"], linewidth=1.6, label=label,
                    **palette.line_kw(label, len(run)))
        if log_axis_ok(rows["lr"]):
            log_scale(ax)
        ax.set_xlim(left=0)
        ax.set_xlabel("steps")
        ax.set_ylabel("learning rate")
        ax.set_title("learning rate used at each step", loc="left")
        optimizer_legend(fig, palette, labels)
    return fig
