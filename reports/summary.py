"""Per-problem summary tables computed from a results table (``optbench.load``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The suboptimality target of the "steps to target" column.
DEFAULT_TARGET = 1e-6


def final_rows(data: pd.DataFrame) -> pd.DataFrame:
    """The last recorded row of every run (rows of a run are in step order), in the
    order in which the runs appear in ``data``."""
    if data.empty:
        return data
    return data.groupby("run_id", sort=False).tail(1)


def steps_to_target(data: pd.DataFrame, target: float = DEFAULT_TARGET) -> pd.Series:
    """Per run_id: the first recorded step with ``subopt <= target`` (NaN if never)."""
    hit = data[data["subopt"] <= target]
    first = hit.groupby("run_id")["step"].min()
    return first.reindex(data["run_id"].unique()).astype(float)


def summary_table(data: pd.DataFrame, target: float = DEFAULT_TARGET) -> pd.DataFrame:
    """One row per (problem, optimizer) configuration, over seeds.

    Columns: ``problem``, ``optimizer`` (labels), ``runs``, ``diverged``, ``errors``,
    ``final`` (median final subopt, or final loss where f_star is unknown; a run
    that diverged counts as +inf), ``final_is``, ``steps_to_target`` (median over
    the runs that reached ``target``), ``reached`` ("k/n") and ``time`` (median
    seconds of the method's own work).
    """
    columns = ["problem", "optimizer", "runs", "diverged", "errors", "final", "final_is",
               "steps_to_target", "reached", "time"]
    if data.empty:
        return pd.DataFrame(columns=columns)
    last = final_rows(data).set_index("run_id")
    hits = steps_to_target(data, target)
    rows = []
    for (plabel, olabel), group in last.groupby(["problem_label", "optimizer_label"], sort=False):
        has_fstar = group["subopt"].notna().any() or (group["status"] == "diverged").all()
        value = group["subopt"] if has_fstar else group["loss"]
        value = value.where(group["status"] != "diverged", np.inf).fillna(np.inf)
        ok = group[group["status"] != "error"]
        reached = hits.reindex(group.index).dropna()
        rows.append(
            {
                "problem": plabel,
                "optimizer": olabel,
                "runs": len(group),
                "diverged": int((group["status"] == "diverged").sum()),
                "errors": int((group["status"] == "error").sum()),
                "final": float(np.median(value.loc[ok.index])) if len(ok) else np.nan,
                "final_is": "subopt" if has_fstar else "loss",
                "steps_to_target": float(np.median(reached)) if len(reached) else np.nan,
                "reached": f"{len(reached)}/{len(group)}",
                "time": float(np.median(ok["time"])) if len(ok) else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def format_summary(table: pd.DataFrame, target: float = DEFAULT_TARGET) -> str:
    """Plain-text tables, one block per problem, for the terminal."""
    if table.empty:
        return "no runs"
    blocks = []
    for problem, group in table.groupby("problem", sort=False):
        kind = group["final_is"].iloc[0]
        width = int(group["optimizer"].str.len().max())
        shown = pd.DataFrame(
            {
                "optimizer".ljust(width): group["optimizer"].str.ljust(width),
                f"median final {kind}": group["final"].map(lambda v: f"{v:.3g}"),
                f"steps to {target:g}": [
                    "-" if np.isnan(s) else f"{s:.0f} ({r})"
                    for s, r in zip(group["steps_to_target"], group["reached"])
                ],
                "median time [s]": group["time"].map(lambda v: f"{v:.3g}"),
                "diverged": group["diverged"],
            }
        )
        if group["errors"].any():
            shown["errors"] = group["errors"]
        blocks.append(f"{problem}\n{shown.to_string(index=False)}")
    return "\n\n".join(blocks)
