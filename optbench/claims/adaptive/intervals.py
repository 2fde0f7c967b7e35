"""Medians with bootstrap intervals, and how the adaptive claims' summaries print them.

Every interval is a percentile-bootstrap 95% interval of the median
(:func:`optbench.statistics.bootstrap_ci`, :data:`N_BOOT` resamples) from a
``numpy.random.Generator`` seeded by the caller (one seed per claim and statistic),
so a verdict is reproducible.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ...statistics import bootstrap_ci

__all__ = ["N_BOOT", "interval_text", "median", "median_ci"]

#: Bootstrap resamples of every interval.
N_BOOT = 2000


def median_ci(values: Sequence[float] | np.ndarray, seed: int) -> tuple[float, float, float]:
    """``(median, low, high)``: the median of the non-NaN values and its 95% interval."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return (math.nan, math.nan, math.nan)
    low, high = bootstrap_ci(arr, np.median, n_boot=N_BOOT, rng=np.random.default_rng(seed))
    return (float(np.median(arr)), low, high)


def median(values: Any) -> float:
    """The median of the non-NaN values (``+inf`` kept), NaN if there are none."""
    arr = np.asarray(values, dtype=float).ravel()
    arr = arr[~np.isnan(arr)]
    return float(np.median(arr)) if arr.size else math.nan


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def interval_text(med: float, low: float, high: float) -> str:
    """``"median [low, high]"`` with three significant digits."""
    return f"{_fmt(med)} [{_fmt(low)}, {_fmt(high)}]"
