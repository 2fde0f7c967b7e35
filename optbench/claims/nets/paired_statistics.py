"""The statistics shared by the claims of the family: seeded bootstrap intervals, paired
ratios with the divergence convention, and their text.

Every interval is a percentile bootstrap interval (:func:`optbench.statistics.bootstrap_ci`,
:data:`LEVEL`, :data:`N_BOOT` resamples) from a numpy Generator seeded by fixed integers
(:func:`bootstrap_rng`), over run seeds, never from one run.  Conventions:

- a run that *diverged* scores ``+inf`` (the worst outcome): a ratio ``a / b`` is
  ``+inf`` when ``a`` diverged, ``0`` when only ``b`` did and missing when both did
  (:func:`ratio`);
- "holds" needs the interval entirely on the claimed side, "does not hold" entirely
  on the other side; anything else is "inconclusive" (:func:`optbench.claims.base.side`).
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from ...statistics import bootstrap_ci

__all__ = ["LEVEL", "N_BOOT", "bootstrap_interval", "bootstrap_rng", "fmt", "interval", "ratio"]

#: Coverage and resamples of every bootstrap interval of the family.
LEVEL = 0.95
N_BOOT = 2000


def bootstrap_rng(*labels: int) -> np.random.Generator:
    """The bootstrap Generator of one statistic: seeded by fixed integers."""
    return np.random.default_rng([14, *labels])


def bootstrap_interval(values: Iterable[float], statistic: Any = np.median,
                       label: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over ``values`` (NaN dropped), from
    the Generator :func:`bootstrap_rng` ``(label)``."""
    return bootstrap_ci(np.asarray(list(values), dtype=float), statistic, level=LEVEL,
                        n_boot=N_BOOT, rng=bootstrap_rng(label))


def ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b`` elementwise with the divergence convention (module docstring): ``+inf``
    where only ``a`` is infinite, ``0`` where only ``b`` is, NaN where both are."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a / b
    out = np.where(np.isinf(a) & np.isfinite(b), np.inf, out)
    out = np.where(np.isfinite(a) & np.isinf(b), 0.0, out)
    out = np.where(np.isinf(a) & np.isinf(b), np.nan, out)
    return out


def fmt(x: float) -> str:
    """A number of a summary or a figure: three significant digits, ``nan``, ``inf``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.3g}"


def interval(low: float, high: float) -> str:
    """An interval as ``[low, high]``, each bound by :func:`fmt`."""
    return f"[{fmt(low)}, {fmt(high)}]"
