"""The runs of the family's claims as tables: arm names, tuning seeds, the depths of a
net, final values and failed runs.

A run that *failed* (raised; no trace) is missing from :func:`final_values`: it drops
out of its pair, and a criterion's summary says how many runs failed
(:func:`failed_note`).  A run that *diverged* scores ``+inf``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..base import Evidence

__all__ = [
    "DEEP_HIDDEN_LAYERS", "TUNE_SEED_OFFSET", "deep_depths", "depth_name", "failed", "failed_note",
    "final_values", "lr_name",
]

#: Seeds that choose a learning rate are these offsets from the run seeds, so that a
#: rate is never selected and evaluated on the same seeds.
TUNE_SEED_OFFSET = 1000


#: The nets the lecture calls deep: at least this many hidden layers.  Claims 10 and 12
#: sweep the depth and decide their verdict on these depths only; shallower nets are
#: measured and shown in the map, but do not enter the verdict.
DEEP_HIDDEN_LAYERS = 3


def depth_name(depth: int) -> str:
    """A depth as a setting of a verdict map and part of an arm's name: ``"1 hidden
    layer"``, ``"4 hidden layers"``."""
    return f"{depth} hidden layer{'' if depth == 1 else 's'}"


def deep_depths(depths: tuple[int, ...]) -> tuple[int, ...]:
    """The depths of ``depths`` that decide a verdict: at least :data:`DEEP_HIDDEN_LAYERS`."""
    return tuple(d for d in depths if d >= DEEP_HIDDEN_LAYERS)


def lr_name(lr: float) -> str:
    """The part of an arm's name that gives its learning rate: ``lr=1e-02``."""
    return f"lr={lr:.0e}"


def final_values(evidence: Evidence, column: str = "loss") -> pd.DataFrame:
    """One row per stored run: ``arm``, ``run_id``, ``seed``, ``status``, ``value``
    (the last recorded ``column``; ``+inf`` for a diverged run, and for a non-finite
    last value).  Failed runs (no trace) are absent; count them with :func:`failed`."""
    if evidence.trace.empty:
        return pd.DataFrame(columns=["arm", "run_id", "seed", "status", "value"])
    last = evidence.final()
    value = last[column].astype(float).to_numpy()
    diverged = (last["status"] == "diverged").to_numpy() | ~np.isfinite(value)
    out = last.copy()
    out["value"] = np.where(diverged, np.inf, value)
    return out


def failed(evidence: Evidence) -> int:
    """Number of the claim's runs that raised (status ``error``) or left no trace."""
    runs = evidence.runs
    if runs.empty:
        return 0
    traced = set(evidence.trace["run_id"]) if not evidence.trace.empty else set()
    return int(((runs["status"] == "error") | ~runs["run_id"].isin(traced)).sum())


def failed_note(evidence: Evidence) -> str:
    """The end of a summary that says how many runs failed (empty when none did)."""
    n = failed(evidence)
    return f"; {n} run(s) failed and are left out" if n else ""
