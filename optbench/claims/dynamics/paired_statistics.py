"""Paired per-seed statistics of the dynamics claims, the verdict rule, and their text.

The arms of one claim share their seeds, hence their problem instances and initial
points, so a criterion compares them seed by seed (:func:`paired`: one ratio per seed,
:func:`ratio` handling infinities) and summarises the pairs by their median with a
percentile bootstrap interval (:func:`median_ci`: :func:`optbench.statistics.bootstrap_ci`
at :data:`LEVEL`, :data:`N_BOOT` resamples, a Generator seeded by the claim's number,
:func:`bootstrap_rng`); :func:`paired_difference` gives per-seed differences instead.
:func:`verdict_from_sides` maps the checks of both sides to a verdict (one interval's
outcome and a claim's over its settings are :func:`optbench.claims.base.side` and
:func:`~optbench.claims.base.combined`); :func:`fmt`, :func:`ci_text` and :func:`ci_of` write the
numbers in summaries and figures.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ... import statistics
from ..base import FAILS, HOLDS, INCONCLUSIVE
from .run_tables import by_seed

__all__ = [
    "LEVEL", "N_BOOT", "bootstrap_rng", "ci_of", "ci_text", "fmt", "median_ci", "paired",
    "paired_difference", "ratio", "verdict_from_sides",
]

#: Nominal coverage of every bootstrap interval here.
LEVEL = 0.95
#: Bootstrap resamples.
N_BOOT = 2000


def bootstrap_rng(number: int) -> np.random.Generator:
    """The bootstrap generator of claim ``number`` (same evidence, same interval)."""
    return np.random.default_rng([number, 0xC1A1])


def median_ci(values: Iterable[float], rng: np.random.Generator) -> tuple[float, float, float]:
    """``(median, low, high)``: the median of the non-NaN values and its percentile
    bootstrap interval (``+inf`` kept as the worst value); NaNs for no values."""
    arr = np.asarray(list(values), dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return (math.nan, math.nan, math.nan)
    low, high = statistics.bootstrap_ci(arr, np.median, LEVEL, N_BOOT, rng)
    return (float(np.median(arr)), low, high)


def ratio(num: float, den: float) -> float:
    """``num / den`` for non-negative "lower is better" values, infinities included:
    ``inf / finite = inf``, ``finite / inf = 0``, ``inf / inf`` and anything with NaN
    are NaN (no comparison), ``x / 0`` is ``inf`` (0 / 0 is 1)."""
    if math.isnan(num) or math.isnan(den):
        return math.nan
    if math.isinf(num) and math.isinf(den):
        return math.nan
    if den == 0.0:
        return 1.0 if num == 0.0 else math.inf
    if math.isinf(den):
        return 0.0
    return num / den


def paired(table: pd.DataFrame, num_arm: str, den_arm: str) -> np.ndarray:
    """Per-seed ratios ``value(num_arm) / value(den_arm)`` of a
    :func:`~optbench.claims.dynamics.run_tables.per_run` table, over the seeds both have."""
    a, b = by_seed(table, num_arm), by_seed(table, den_arm)
    seeds = sorted(set(a.index) & set(b.index))
    return np.array([ratio(a[s], b[s]) for s in seeds], dtype=float)


def paired_difference(table: pd.DataFrame, a_arm: str, b_arm: str) -> np.ndarray:
    """Per-seed differences ``value(a_arm) - value(b_arm)`` of a
    :func:`~optbench.claims.dynamics.run_tables.per_run` table, over the seeds both have
    (NaN where either value is NaN or both are the same infinity)."""
    a, b = by_seed(table, a_arm), by_seed(table, b_arm)
    seeds = sorted(set(a.index) & set(b.index))
    with np.errstate(invalid="ignore"):
        return np.array([a[s] - b[s] for s in seeds], dtype=float)


def verdict_from_sides(checks_hold: Sequence[bool], checks_fail: Sequence[bool]) -> str:
    """HOLDS if every hold-check passes, FAILS if any fail-check passes, else INCONCLUSIVE."""
    if any(checks_fail):
        return FAILS
    if checks_hold and all(checks_hold):
        return HOLDS
    return INCONCLUSIVE


def fmt(x: float, digits: int = 3) -> str:
    """``x`` with ``digits`` significant digits; ``n/a`` for NaN, ``inf``/``-inf``."""
    if isinstance(x, float) and math.isnan(x):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def ci_text(median: float, low: float, high: float) -> str:
    """``median [low, high]`` (:func:`fmt`)."""
    return f"{fmt(median)} [{fmt(low)}, {fmt(high)}]"


def ci_of(numbers: dict[str, float], key: str) -> str:
    """``median [low, high]`` of ``numbers[key]``, ``numbers[key + "_low"]``, ``..._high``."""
    nan = math.nan
    return ci_text(numbers.get(key, nan), numbers.get(f"{key}_low", nan), numbers.get(f"{key}_high", nan))
