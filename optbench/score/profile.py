"""The score: an integrated performance profile, with a bootstrap interval.

For methods m and workloads w with times ``t[m, w]`` (:mod:`.time_to_target`)::

    r[m, w]   = t[m, w] / min_m' t[m', w]      (+inf where t is +inf, or nobody reached w)
    rho_m(tau) = |{w : r[m, w] <= tau}| / |W|                       (Dolan and More)
    score_m   = 1 / (tau_max - 1) * integral_1^tau_max rho_m(tau) dtau
              = mean_w max(0, (tau_max - r[m, w]) / (tau_max - 1))

(the second form is the first integrated exactly: workload w adds ``1/|W|`` to rho
from ``tau = r`` on).  A method fastest everywhere scores 1; a method never within
``tau_max`` (4) of the fastest, or that misses every target, scores 0.  The score
is relative to the comparison set: adding a faster method lowers everyone else's.

Uncertainty (:func:`bootstrap_scores`): the studies are resampled with replacement,
the same draw for every method (studies are paired: the same seeds and Halton
points), independently per workload; each replicate recomputes the medians, the
ratios and the scores.  The interval is the percentile interval.  The verdict
(:func:`verdict`) compares the submission with the baseline of the highest score:
"better" if the interval of the paired difference lies above 0, "worse" if below,
otherwise "indistinguishable".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from .protocol import BOOTSTRAP, BOOTSTRAP_SEED, LEVEL, TAU_MAX
from .time_to_target import median_times

#: The verdicts, from the submission's side.
VERDICTS = ("better", "worse", "indistinguishable")


def ratios(t: np.ndarray) -> np.ndarray:
    """``r = t / min over methods`` along axis -2 (methods), ``+inf`` where t is +inf
    or where no method reached the workload; a best time of 0 gives 1 for 0, else inf."""
    t = np.asarray(t, dtype=float)
    best = t.min(axis=-2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = t / best
    r = np.where(np.isinf(t), np.inf, r)
    return np.where(best == 0, np.where(t == 0, 1.0, np.inf), r)


def integrated_score(r: np.ndarray, tau_max: float = TAU_MAX) -> np.ndarray:
    """``mean_w max(0, (tau_max - r) / (tau_max - 1))`` over the last axis (workloads)."""
    r = np.asarray(r, dtype=float)
    return np.clip((tau_max - r) / (tau_max - 1.0), 0.0, 1.0).mean(axis=-1)


def scores(T: np.ndarray, tau_max: float = TAU_MAX) -> np.ndarray:
    """Scores of the methods from study times ``T[method, workload, study]``."""
    return integrated_score(ratios(median_times(T)), tau_max)


def profile_curve(r: np.ndarray, methods: Sequence[str], tau_max: float = TAU_MAX) -> pd.DataFrame:
    """The step function rho_m on [1, tau_max]: rows ``method, tau, fraction`` at 1, at
    every ratio in the range and at tau_max (draw with ``drawstyle="steps-post"``)."""
    r = np.asarray(r, dtype=float)
    inside = r[np.isfinite(r) & (r <= tau_max)]
    taus = np.unique(np.concatenate([[1.0, tau_max], inside]))
    rows = []
    for i, name in enumerate(methods):
        fraction = (r[i][:, None] <= taus[None, :]).mean(axis=0)
        rows += [{"method": name, "tau": float(t), "fraction": float(f)} for t, f in zip(taus, fraction)]
    return pd.DataFrame(rows, columns=["method", "tau", "fraction"])


def _resampled(T: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` replicates of T: per workload, studies drawn with replacement, the same
    draw for every method.  Shape ``(n, methods, workloads, studies)``."""
    M, W, S = T.shape
    idx = rng.integers(0, S, size=(n, W, S))
    w = np.arange(W)[None, :, None]
    return np.stack([T[m][w, idx] for m in range(M)], axis=1)


def bootstrap_scores(T: np.ndarray, *, n: int = BOOTSTRAP, seed: int = BOOTSTRAP_SEED,
                     tau_max: float = TAU_MAX) -> np.ndarray:
    """Scores of ``n`` bootstrap replicates, shape ``(n, methods)`` (see module docstring)."""
    rng = np.random.default_rng(seed)
    reps = _resampled(np.asarray(T, dtype=float), n, rng)
    return integrated_score(ratios(median_times(reps)), tau_max)


def interval(values: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of ``values`` along axis 0, without interpolation: the
    lower end rounds down to a replicate, the upper end up (so it holds ``+inf``
    values, and is never narrower than the interpolated interval)."""
    alpha = (1.0 - level) / 2.0
    values = np.asarray(values, dtype=float)
    return (np.quantile(values, alpha, axis=0, method="lower"),
            np.quantile(values, 1.0 - alpha, axis=0, method="higher"))


@dataclass(frozen=True)
class Verdict:
    """The submission against the best baseline: the point difference of scores and
    its bootstrap interval."""

    verdict: str
    baseline: str
    difference: float
    low: float
    high: float
    level: float = LEVEL

    def sentence(self, submission: str) -> str:
        if self.verdict == "indistinguishable":
            head = f"{submission} is indistinguishable from {self.baseline}, the best baseline"
        else:
            head = f"{submission} is {self.verdict} than {self.baseline}, the best baseline"
        return (f"{head}, at {self.level:.0%}: score difference {self.difference:+.3f} "
                f"[{self.low:+.3f}, {self.high:+.3f}]")


def verdict(point: np.ndarray, replicates: np.ndarray, methods: Sequence[str], submission: str,
            baselines: Sequence[str], level: float = LEVEL) -> Verdict:
    """Better, worse or indistinguishable from the best baseline (highest point score;
    ties go to the earlier in ``baselines``), by the paired bootstrap difference."""
    index = {name: i for i, name in enumerate(methods)}
    best = max(baselines, key=lambda b: (point[index[b]], -list(baselines).index(b)))
    s, b = index[submission], index[best]
    diff = replicates[:, s] - replicates[:, b]
    low, high = interval(diff, level)
    word = "better" if low > 0 else "worse" if high < 0 else "indistinguishable"
    return Verdict(word, best, float(point[s] - point[b]), float(low), float(high), level)


def leave_one_out(T: np.ndarray, methods: Sequence[str], workloads: Sequence[str],
                  tau_max: float = TAU_MAX) -> pd.DataFrame:
    """The ranking without each workload against the ranking with all.

    Rows ``left_out, kendall_tau, top, top_changed`` with Kendall's tau-b between the
    scores on all workloads and on all but one (1: the same order; NaN when either
    side is constant), and the best method without that workload.
    """
    full = scores(T, tau_max)
    top_full = methods[int(np.argmax(full))]
    rows = []
    for i, name in enumerate(workloads):
        keep = [j for j in range(len(workloads)) if j != i]
        part = scores(T[:, keep, :], tau_max) if keep else np.zeros(len(methods))
        tau = kendalltau(full, part).statistic if np.ptp(full) > 0 and np.ptp(part) > 0 else np.nan
        top = methods[int(np.argmax(part))]
        rows.append({"left_out": name, "kendall_tau": float(tau), "top": top, "top_changed": top != top_full})
    return pd.DataFrame(rows, columns=["left_out", "kendall_tau", "top", "top_changed"])


def budget_points(trials: int) -> list[int]:
    """The search sizes of the budget curve: 1, 2, 4, ... below ``trials``, and ``trials``."""
    points = []
    k = 1
    while k < trials:
        points.append(k)
        k *= 2
    return points + [trials]
