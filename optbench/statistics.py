"""Statistics of a results table: curves over seeds, final values, times to target,
bootstrap intervals, performance profiles and data profiles.

Every function takes the tidy long table of :func:`optbench.load` (one row per
recorded step of every run, rows of a run in step order) and returns a tidy
DataFrame, so that reports only draw.  A *pair* is one (``problem_label``,
``optimizer_label``) configuration; its runs differ by ``seed``.  Output rows are
sorted by pair, then seed, then ``run_id``.

Conventions shared by all functions
-----------------------------------
Divergence
    A run with status ``"diverged"`` counts as ``+inf`` from the point where the
    divergence was detected (its last recorded row) on: its resampled curve is
    ``+inf`` from its last x on, its final value is ``+inf``, and it never reaches
    a target after that point (a target it reached *before* diverging counts as
    reached).  ``+inf`` is the value of a divergence because every measure here is
    "lower is better" (suboptimality, loss, oracle calls to a target).
Errors
    A run with status ``"error"`` has no value after its last row (NaN) and no final
    value.  (``optbench.load`` holds no rows for a run that failed before its first
    record, so such runs do not appear in any table.)
Quantiles
    Medians and quartiles are numpy's default ("linear", Hyndman & Fan type 7)
    quantiles over the values that are not NaN, extended to infinite values: the
    interpolation between a finite value and ``+inf`` is ``+inf``, so the median of
    ``[1, 2, inf]`` is 2 and its upper quartile is ``inf``.
Reference value ("gap")
    Times to target and the profiles measure the *gap* ``loss - f_ref``.  Where the
    optimum is known (the problem has non-NaN ``subopt``) the gap is ``subopt`` and
    ``reference = "f_star"``.  Where it is unknown (``subopt`` NaN for every row of
    the problem_label, e.g. nets) the reference is the best finite loss any run of
    any optimizer reached on that problem_label plus a tolerance,
    ``f_ref = f_best + rel_tol * (1 + |f_best|)``, and ``reference = "best found"``:
    a run within the tolerance of the best one reaches every target.

References
----------
- E. D. Dolan and J. J. Moré, "Benchmarking optimization software with
  performance profiles", Math. Programming 91 (2002) 201-213.
- J. J. Moré and S. M. Wild, "Benchmarking derivative-free optimization
  algorithms", SIAM J. Optim. 20 (2009) 172-191.
- N. Hansen et al., "COCO: a platform for comparing continuous optimizers in a
  black-box setting", Optim. Methods Softw. 36 (2021) 114-144 (targets, ERT).
- B. Efron and R. J. Tibshirani, "An Introduction to the Bootstrap" (1993), ch. 13
  (percentile intervals).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_EXPONENTS",
    "DEFAULT_REL_TOL",
    "bootstrap_ci",
    "curve_stats",
    "data_profile",
    "final_stats",
    "performance_profile",
    "resample",
    "success_rates",
    "targets_for",
    "time_to_target",
]

#: The columns that name a (problem, optimizer) configuration.
PAIR = ["problem_label", "optimizer_label"]

#: One row per run: these columns, constant within a run.
RUN_COLUMNS = ["problem_label", "optimizer_label", "run_id", "seed", "status"]

#: Run statuses, in the order of the ``n_<status>`` columns of :func:`final_stats`.
STATUSES = ("converged", "max_steps", "diverged", "error")

#: COCO-style target exponents: targets are ``initial * 10**e`` for e = 2, 1.8, ..., -7.8.
DEFAULT_EXPONENTS = np.round(np.arange(2.0, -8.0, -0.2), 10)

#: Relative tolerance added to the best found loss where f_star is unknown.
DEFAULT_REL_TOL = 1e-8

# --------------------------------------------------------------------------- helpers


def _check_table(data: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{where}: data must be the DataFrame of optbench.load, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing and not data.empty:  # an empty table (no runs) gives empty results
        raise ValueError(
            f"{where}: data lacks column(s) {missing}; expected the table of optbench.load"
        )


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _level(level: float) -> float:
    if not (isinstance(level, (int, float, np.floating)) and 0 < level < 1):
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    return float(level)


def _rel_tol(rel_tol: float) -> float:
    if not (isinstance(rel_tol, (int, float, np.floating)) and np.isfinite(rel_tol) and rel_tol >= 0):
        raise ValueError(f"rel_tol must be a finite number >= 0, got {rel_tol!r}")
    return float(rel_tol)


def _points(name: str, values: Any) -> np.ndarray:
    """A sorted 1-D float array without NaN and repeats (grids, taus, budgets)."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    arr = np.atleast_1d(arr)
    if arr.size == 0 or np.isnan(arr).any():
        raise ValueError(f"{name} must be a non-empty sequence of numbers without NaN, got {values!r}")
    return np.unique(arr)


@dataclass(frozen=True)
class _Runs:
    """The runs of a table: ``info`` (one row per run, RUN_COLUMNS, sorted by pair,
    seed, run_id) and ``rows[i]``, the positions of run i's rows in table order."""

    info: pd.DataFrame
    rows: list[np.ndarray]


def _split_runs(data: pd.DataFrame) -> _Runs:
    if data["run_id"].isna().any():
        raise ValueError("data has rows without a run_id")
    codes, uniques = pd.factorize(data["run_id"], sort=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    rows = [order[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]
    first = np.array([r[0] for r in rows], dtype=int)
    info = data.iloc[first][RUN_COLUMNS].reset_index(drop=True)
    info = info.sort_values(["problem_label", "optimizer_label", "seed", "run_id"], kind="stable")
    rows = [rows[i] for i in info.index]
    return _Runs(info.reset_index(drop=True), rows)


def _quantile_sorted(s: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """Type-7 quantile ``q`` of every column of ``s``.

    ``s`` is sorted along axis 0 with its NaN last (``np.sort``) and ``n`` holds the
    number of non-NaN values per column; columns with ``n == 0`` give NaN.  Infinite
    values interpolate as limits: between a finite value and +inf the result is +inf,
    between -inf and a finite value -inf, between -inf and +inf NaN.
    """
    n = np.asarray(n)
    out = np.full(n.shape, np.nan)
    ok = n > 0
    if not ok.any() or s.shape[0] == 0:
        return out
    h = (np.where(ok, n, 1) - 1) * q
    lo = np.floor(h).astype(int)
    hi = np.ceil(h).astype(int)
    g = h - lo
    a = np.take_along_axis(s, lo[None, :], axis=0)[0]
    b = np.take_along_axis(s, hi[None, :], axis=0)[0]
    with np.errstate(invalid="ignore"):
        d = b - a
        lerp = np.where(g >= 0.5, b - d * (1 - g), a + d * g)  # numpy's own lerp
    both_finite = np.isfinite(a) & np.isfinite(b)
    limit = np.where(
        a == b,
        a,
        np.where(np.isposinf(b) & ~np.isneginf(a), np.inf,
                 np.where(np.isneginf(a) & ~np.isposinf(b), -np.inf, np.nan)),
    )
    value = np.where(g == 0, a, np.where(both_finite, lerp, limit))
    out[ok] = value[ok]
    return out


def _quantiles(values: np.ndarray, qs: Sequence[float]) -> list[np.ndarray]:
    """Quantiles over axis 0 of a 2-D array, ignoring NaN (see :func:`_quantile_sorted`)."""
    s = np.sort(values, axis=0)
    n = (~np.isnan(values)).sum(axis=0)
    return [_quantile_sorted(s, n, q) for q in qs]


def _quantile_1d(values: np.ndarray, q: float) -> float:
    return float(_quantiles(np.asarray(values, dtype=float).reshape(-1, 1), [q])[0][0])


# --------------------------------------------------------------------------- resampling


def _default_grid(xs: np.ndarray, n_points: int, log: bool) -> np.ndarray:
    xs = xs[np.isfinite(xs)]
    if xs.size == 0:
        return np.empty(0)
    top = float(xs.max())
    if top <= 0:
        return np.zeros(1)
    if not log:
        return np.unique(np.linspace(0.0, top, n_points))
    low = float(xs[xs > 0].min())
    return np.unique(np.concatenate([[0.0], np.geomspace(low, top, n_points - 1)]))


def _step_function(
    xr: np.ndarray, yr: np.ndarray, status: str, grid: np.ndarray, diverged_value: float
) -> tuple[np.ndarray, np.ndarray]:
    """One run's y on ``grid`` (see :func:`resample`) and whether it has diverged there."""
    keep = ~np.isnan(xr)
    xr, yr = xr[keep], yr[keep]
    values = np.full(grid.shape, np.nan)
    diverged = np.zeros(grid.shape, dtype=bool)
    if xr.size == 0:
        return values, diverged
    # The last row (in step order) among those with x_rec <= g: sort by x, then the
    # running maximum of the row positions is the latest row among the first k.
    order = np.argsort(xr, kind="stable")
    latest = np.maximum.accumulate(order)
    k = np.searchsorted(xr[order], grid, side="right")
    seen = k > 0
    values[seen] = yr[latest[k[seen] - 1]]
    end = xr.max()
    if status == "diverged":
        diverged = grid >= end
        values[diverged] = diverged_value
    elif status == "error":
        values[grid > end] = np.nan
    return values, diverged


def _resampled_pairs(
    data: pd.DataFrame,
    x: str,
    y: str,
    grid: Any,
    n_points: int,
    log: bool,
    diverged_value: float,
) -> Iterator[tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]]:
    """Per pair: (run info, grid, values[run, grid], diverged[run, grid])."""
    n_points = _positive_int("n_points", n_points)
    fixed = None if grid is None else _points("grid", grid)
    if data.empty:
        return
    runs = _split_runs(data)
    X = data[x].to_numpy(dtype=float)
    Y = data[y].to_numpy(dtype=float)
    groups = runs.info.groupby(PAIR, sort=True).indices.values()
    for idx in sorted(groups, key=lambda positions: positions[0]):
        pair_rows = [runs.rows[i] for i in idx]
        g = fixed if fixed is not None else _default_grid(
            np.concatenate([X[r] for r in pair_rows]), n_points, log
        )
        if g.size == 0:
            continue
        info = runs.info.iloc[idx]
        values = np.empty((len(idx), g.size))
        diverged = np.empty((len(idx), g.size), dtype=bool)
        for k, (rows, status) in enumerate(zip(pair_rows, info["status"])):
            values[k], diverged[k] = _step_function(X[rows], Y[rows], status, g, diverged_value)
        yield info, g, values, diverged


def resample(
    data: pd.DataFrame,
    x: str = "step",
    y: str = "subopt",
    grid: Sequence[float] | np.ndarray | None = None,
    n_points: int = 50,
    log: bool = False,
    diverged_value: float = np.inf,
) -> pd.DataFrame:
    """Every run's ``y`` on a common grid of ``x``, as a right-continuous step function.

    For a run with records ``(x_i, y_i)`` (in step order) the value at a grid point g is

        y(g) = y_j,  j = max{i : x_i <= g}       (the last record at or before g)

    with these conventions:

    - NaN before the run's first record (``g < min x_i``; e.g. ``x="time"`` at 0);
    - after the run ended (``g > max x_i``) its last value is held if it
      ``"converged"`` or hit ``"max_steps"``: the method has stopped there;
    - a ``"diverged"`` run is ``diverged_value`` (default ``+inf``) from its last
      record on (``g >= max x_i``): the last row is where the divergence was
      detected, and whatever it holds (a huge, inf or NaN loss) is replaced;
    - an ``"error"`` run is NaN after its last record.

    Rows whose x is NaN (e.g. ``cost`` without a cost model) are ignored.

    Args:
        data: the table of :func:`optbench.load`.
        x: the abscissa, a cumulative column: ``"step"``, ``"n_grad"``, ``"cost"``,
            ``"time"``...
        y: the column to resample (``"subopt"``, ``"loss"``, ``"grad_norm"``...).
        grid: the x values, the same for every pair; by default each pair gets its
            own grid over ``[0, max x of the pair]``.
        n_points: points of the default grid: ``np.linspace(0, max, n_points)``, or
            with ``log=True`` the point 0 followed by ``n_points - 1`` points of
            ``np.geomspace(smallest positive x of the pair, max)``.
        log: log-spaced default grid.
        diverged_value: the value of a diverged run (NaN to drop it from statistics
            of a "higher is better" column such as accuracy).

    Returns:
        Long rows ``problem_label, optimizer_label, run_id, seed, status, x, y,
        diverged`` (``diverged``: the run has diverged at or before this x), one per
        run and grid point.  Grid points are floats even for ``x="step"``.

    Example:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"run_id": "a", "problem_label": "p", "optimizer_label": "o",
        ...                   "seed": 0, "status": "converged", "step": [0, 10],
        ...                   "subopt": [4.0, 1.0]})
        >>> resample(t, grid=[0, 5, 10, 20])["y"].tolist()
        [4.0, 4.0, 1.0, 1.0]
    """
    _check_table(data, RUN_COLUMNS + [x, y], "resample")
    frames = []
    for info, g, values, diverged in _resampled_pairs(data, x, y, grid, n_points, log, diverged_value):
        frame = info.loc[info.index.repeat(g.size)].reset_index(drop=True)
        frame["x"] = np.tile(g, len(info))
        frame["y"] = values.ravel()
        frame["diverged"] = diverged.ravel()
        frames.append(frame)
    columns = RUN_COLUMNS + ["x", "y", "diverged"]
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)[columns]
    out.attrs.update(x=x, y=y)
    return out


def curve_stats(
    data: pd.DataFrame,
    x: str = "step",
    y: str = "subopt",
    grid: Sequence[float] | np.ndarray | None = None,
    n_points: int = 50,
    log: bool = False,
    diverged_value: float = np.inf,
) -> pd.DataFrame:
    """Median and quartiles over seeds of the resampled curves of every pair.

    The runs are resampled as in :func:`resample` (same arguments, same
    conventions: held values after an early stop, ``+inf`` after divergence); then
    at every grid point, over the runs of the pair that have a value there (not
    NaN), ``median``, ``q25`` and ``q75`` are the type-7 quantiles 0.5, 0.25, 0.75
    (numpy's default, with ``+inf`` handled as a limit: see the module docstring).
    So a median curve goes to ``+inf`` where more than half the runs have diverged.

    Returns:
        Rows ``problem_label, optimizer_label, x, median, q25, q75, n, n_diverged``
        where ``n`` counts the runs with a value at x and ``n_diverged`` those that
        have diverged at or before x.
    """
    _check_table(data, RUN_COLUMNS + [x, y], "curve_stats")
    frames = []
    for info, g, values, diverged in _resampled_pairs(data, x, y, grid, n_points, log, diverged_value):
        median, q25, q75 = _quantiles(values, [0.5, 0.25, 0.75])
        frames.append(
            pd.DataFrame(
                {
                    "problem_label": info["problem_label"].iloc[0],
                    "optimizer_label": info["optimizer_label"].iloc[0],
                    "x": g,
                    "median": median,
                    "q25": q25,
                    "q75": q75,
                    "n": (~np.isnan(values)).sum(axis=0),
                    "n_diverged": diverged.sum(axis=0),
                }
            )
        )
    columns = PAIR + ["x", "median", "q25", "q75", "n", "n_diverged"]
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)[columns]
    out.attrs.update(x=x, y=y)
    return out


# --------------------------------------------------------------------------- bootstrap


def _generator(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0):
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be an integer seed >= 0, a numpy Generator or None, got {rng!r}")


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[..., Any] = np.median,
    level: float = 0.95,
    n_boot: int = 2000,
    rng: int | np.random.Generator | None = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``statistic(values)``.

    With ``n`` values, draw ``n_boot`` resamples of size ``n`` with replacement,
    compute the statistic ``T*_b`` of each, and return the type-7 quantiles
    ``(1 - level) / 2`` and ``(1 + level) / 2`` of ``T*_1 .. T*_B`` (Efron's
    percentile interval).

    Infinite and missing values:

    - NaN values are dropped first (they mean "no value", e.g. a failed run);
    - ``+inf`` values (diverged runs) are kept: they are the worst possible
      outcome, and the median of a resample is ``+inf`` once its upper middle
      value is.  An upper bound of ``+inf`` says that the data cannot exclude a
      typical run diverging; a lower bound of ``+inf`` that nearly all do.
      (With ``statistic=np.mean`` one inf in a resample makes it inf.)
    - resample statistics that are NaN (e.g. a mean of ``+inf`` and ``-inf``) are
      left out of the quantiles.

    Args:
        values: the sample (any shape; flattened).
        statistic: called as ``statistic(samples, axis=1)`` on a ``(batch, n)``
            array; a function without ``axis`` is applied row by row.
        level: the nominal coverage, in (0, 1).
        n_boot: the number of resamples.
        rng: a seed (the default 0 makes the interval reproducible), a
            ``numpy.random.Generator`` (used and advanced), or None for fresh entropy.

    Returns:
        ``(low, high)``; ``(nan, nan)`` for an empty sample.

    Example:
        >>> low, high = bootstrap_ci([1.0, 2.0, 3.0, 4.0, 100.0], rng=0)
        >>> 1.0 <= low <= 3.0 <= high <= 100.0
        True
    """
    level = _level(level)
    n_boot = _positive_int("n_boot", n_boot)
    gen = _generator(rng)
    sample = np.asarray(values, dtype=float).ravel()
    sample = sample[~np.isnan(sample)]
    n = sample.size
    if n == 0:
        return (np.nan, np.nan)
    batch = max(1, (1 << 20) // n)  # keep each (batch, n) block near 8 MB
    stats = []
    for start in range(0, n_boot, batch):
        size = min(batch, n_boot - start)
        samples = sample[gen.integers(0, n, size=(size, n))]
        try:
            stat = np.asarray(statistic(samples, axis=1), dtype=float)
        except TypeError:
            stat = np.apply_along_axis(statistic, 1, samples).astype(float)
        stats.append(stat.reshape(size))
    boot = np.concatenate(stats)
    alpha = (1.0 - level) / 2.0
    low, high = _quantiles(boot.reshape(-1, 1), [alpha, 1.0 - alpha])
    return (float(low[0]), float(high[0]))


def _pair_rng(rng: Any, *labels: str) -> np.random.Generator:
    """A generator per pair: from a seed, mixed with the labels (so a pair's interval
    does not depend on which other pairs are in the table); a Generator is shared."""
    if isinstance(rng, np.random.Generator) or rng is None:
        return _generator(rng)
    _generator(rng)  # validates the seed
    return np.random.default_rng([int(rng), *(zlib.crc32(str(s).encode()) for s in labels)])


# --------------------------------------------------------------------------- final values


def _final_values(data: pd.DataFrame, y: str | None) -> pd.DataFrame:
    """One row per run: RUN_COLUMNS, ``measure`` and ``final`` (inf if diverged, NaN if error)."""
    runs = _split_runs(data)
    last = np.array([r[-1] for r in runs.rows], dtype=int)
    info = runs.info.copy()
    if y is None:
        known = data.groupby("problem_label")["subopt"].count() > 0
        measure = np.where(info["problem_label"].map(known).to_numpy(dtype=bool), "subopt", "loss")
        final = np.where(
            measure == "subopt",
            data["subopt"].to_numpy(dtype=float)[last],
            data["loss"].to_numpy(dtype=float)[last],
        )
    else:
        measure = np.full(len(info), y, dtype=object)
        final = data[y].to_numpy(dtype=float)[last]
    status = info["status"].to_numpy()
    final = np.where(status == "diverged", np.inf, np.where(status == "error", np.nan, final))
    info["measure"] = measure
    info["final"] = final
    return info


def final_stats(
    data: pd.DataFrame,
    y: str | None = None,
    level: float = 0.95,
    n_boot: int = 2000,
    rng: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Final values per pair: median and quartiles over seeds, a bootstrap CI of the
    median, and the runs counted by status.

    The final value of a run is ``y`` at its last recorded row; with ``y=None`` it is
    ``subopt`` where the problem's optimum is known (some row of the problem_label
    has a non-NaN ``subopt``) and ``loss`` otherwise, as the ``measure`` column
    says.  A diverged run's final value is ``+inf`` (whatever its last row holds);
    an ``"error"`` run has none (NaN) and is left out of the statistics but counted
    in ``n_error``.

    ``median``, ``q25``, ``q75``: type-7 quantiles over the non-NaN final values
    (``+inf`` included, see the module docstring); ``ci_low``, ``ci_high``: the
    percentile bootstrap interval of the median at ``level``
    (:func:`bootstrap_ci`).  With an integer ``rng`` each pair gets its own
    generator seeded by ``(rng, crc32(problem_label), crc32(optimizer_label))``, so
    its interval is the same whichever other pairs the table holds.

    Returns:
        Rows ``problem_label, optimizer_label, measure, n_runs, n_converged,
        n_max_steps, n_diverged, n_error, median, q25, q75, ci_low, ci_high``.
    """
    needed = RUN_COLUMNS + (["subopt", "loss"] if y is None else [y])
    _check_table(data, needed, "final_stats")
    level = _level(level)
    n_boot = _positive_int("n_boot", n_boot)
    columns = PAIR + ["measure", "n_runs"] + [f"n_{s}" for s in STATUSES] + [
        "median", "q25", "q75", "ci_low", "ci_high"]
    if data.empty:
        return pd.DataFrame(columns=columns)
    finals = _final_values(data, y)
    rows = []
    for (plabel, olabel), group in finals.groupby(PAIR, sort=True):
        values = group["final"].to_numpy(dtype=float)
        counts = group["status"].value_counts()
        low, high = bootstrap_ci(values, np.median, level, n_boot, _pair_rng(rng, plabel, olabel))
        rows.append(
            {
                "problem_label": plabel,
                "optimizer_label": olabel,
                "measure": group["measure"].iloc[0],
                "n_runs": len(group),
                **{f"n_{s}": int(counts.get(s, 0)) for s in STATUSES},
                "median": _quantile_1d(values, 0.5),
                "q25": _quantile_1d(values, 0.25),
                "q75": _quantile_1d(values, 0.75),
                "ci_low": low,
                "ci_high": high,
            }
        )
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- targets


def _references(data: pd.DataFrame, rel_tol: float) -> pd.DataFrame:
    """Per problem_label: ``reference`` ("f_star" | "best found") and ``f_ref``."""
    problem = data["problem_label"].to_numpy()  # group by values, not by index alignment
    loss = pd.Series(data["loss"].to_numpy(dtype=float))
    subopt = pd.Series(data["subopt"].to_numpy(dtype=float))
    known = subopt.groupby(problem).count() > 0
    finite = np.isfinite(loss) & np.isfinite(subopt)
    f_star = (loss - subopt).where(finite).groupby(problem).median().reindex(known.index)
    best = loss.where(np.isfinite(loss)).groupby(problem).min().reindex(known.index)
    tol = rel_tol * (1.0 + best.abs())
    return pd.DataFrame(
        {
            "problem_label": known.index,
            "reference": np.where(known, "f_star", "best found"),
            "f_ref": np.where(known, f_star, best + tol),
        }
    ).reset_index(drop=True)


def _gap(data: pd.DataFrame, refs: pd.DataFrame) -> np.ndarray:
    """Per row: ``subopt`` where the reference is f_star, else ``loss - f_ref``."""
    by_problem = refs.set_index("problem_label")
    reference = data["problem_label"].map(by_problem["reference"]).to_numpy()
    f_ref = data["problem_label"].map(by_problem["f_ref"]).to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(
            reference == "f_star",
            data["subopt"].to_numpy(dtype=float),
            data["loss"].to_numpy(dtype=float) - f_ref,
        )


_TARGET_KEYS = {
    "problem": ["problem_label"],
    "pair": ["problem_label", "optimizer_label"],
    "run": ["problem_label", "optimizer_label", "run_id"],
}


def _relative_targets(
    data: pd.DataFrame,
    exponents: np.ndarray,
    factors: np.ndarray,
    by: str,
    rel_tol: float,
) -> pd.DataFrame:
    if by not in _TARGET_KEYS:
        raise ValueError(f"by must be one of {sorted(_TARGET_KEYS)}, got {by!r}")
    keys = _TARGET_KEYS[by]
    refs = _references(data, rel_tol)
    gap = _gap(data, refs)
    first = ~data["run_id"].duplicated().to_numpy()  # each run's first row (step 0)
    starts = data.loc[first, _TARGET_KEYS["run"]].assign(initial=gap[first])
    initial = starts.groupby(keys, sort=True)["initial"].median().reset_index()
    initial["initial"] = initial["initial"].clip(lower=0.0)
    initial = initial.merge(refs[["problem_label", "reference", "f_ref"]], on="problem_label")
    table = initial.loc[initial.index.repeat(len(factors))].reset_index(drop=True)
    table.insert(len(keys), "target_index", np.tile(np.arange(len(factors)), len(initial)))
    table.insert(len(keys) + 1, "exponent", np.tile(exponents, len(initial)))
    table["target"] = table["initial"].to_numpy() * np.tile(factors, len(initial))
    return table[keys + ["target_index", "exponent", "initial", "target", "reference", "f_ref"]]


def _absolute_targets(data: pd.DataFrame, values: np.ndarray, rel_tol: float) -> pd.DataFrame:
    refs = _references(data, rel_tol)
    table = refs.loc[refs.index.repeat(len(values))].reset_index(drop=True)
    table["target_index"] = np.tile(np.arange(len(values)), len(refs))
    table["exponent"] = np.nan
    table["initial"] = np.nan
    table["target"] = np.tile(values, len(refs))
    return table[["problem_label", "target_index", "exponent", "initial", "target", "reference", "f_ref"]]


def targets_for(
    data: pd.DataFrame,
    exponents: Sequence[float] | np.ndarray = DEFAULT_EXPONENTS,
    by: str = "problem",
    rel_tol: float = DEFAULT_REL_TOL,
) -> pd.DataFrame:
    """COCO-style targets relative to the initial gap: ``target = initial * 10**e``.

    The gap is ``subopt`` where f_star is known, else ``loss - f_ref`` with
    ``f_ref`` the best loss found on the problem_label plus
    ``rel_tol * (1 + |best|)`` (module docstring; the ``reference`` column says
    which).  ``initial`` is the gap at a run's first row (step 0), then

    - ``by="problem"`` (default): the median over all runs of the problem_label,
      every optimizer and seed, so all optimizers chase the same targets;
    - ``by="pair"``: the median over the runs of the (problem, optimizer) pair;
    - ``by="run"``: each run's own initial gap (Moré & Wild's convergence test
      ``f(x) <= f_ref + tau (f(x_0) - f_ref)`` with ``tau = 10**e``).

    A negative initial gap (no run improved on x0 by more than the tolerance) is
    taken as 0, so every target is 0 and is reached at once.

    Args:
        exponents: target exponents, by default 2, 1.8, ..., -7.8 (50 targets).
        by: ``"problem"``, ``"pair"`` or ``"run"``.
        rel_tol: relative tolerance of the "best found" reference.

    Returns:
        Rows ``<keys>, target_index, exponent, initial, target, reference, f_ref``
        with keys ``problem_label`` (+ ``optimizer_label``, + ``run_id``);
        :func:`time_to_target` accepts this table.
    """
    _check_table(data, RUN_COLUMNS + ["loss", "subopt"], "targets_for")
    rel_tol = _rel_tol(rel_tol)
    exps = np.atleast_1d(np.asarray(exponents, dtype=float))
    if exps.ndim != 1 or exps.size == 0 or not np.isfinite(exps).all():
        raise ValueError(f"exponents must be a non-empty 1-D sequence of finite numbers, got {exponents!r}")
    if by not in _TARGET_KEYS:
        raise ValueError(f"by must be one of {sorted(_TARGET_KEYS)}, got {by!r}")
    if data.empty:
        return pd.DataFrame(columns=_TARGET_KEYS[by] + ["target_index", "exponent", "initial", "target",
                                                       "reference", "f_ref"])
    return _relative_targets(data, exps, 10.0 ** exps, by, rel_tol)


def time_to_target(
    data: pd.DataFrame,
    x: str = "n_grad",
    targets: pd.DataFrame | float | Sequence[float] | np.ndarray | None = None,
    rel_tol: float = DEFAULT_REL_TOL,
) -> pd.DataFrame:
    """Per run and target: the first recorded x at which the gap is <= the target.

    ``x_hit = min{x_i : gap_i <= target}`` over the run's recorded rows (so its
    resolution is the run's ``record_every``); ``+inf`` (``reached`` False) if the
    run never got there, NaN if the target is NaN or x is NaN at the hitting row.
    Rows of a diverged run before the divergence count: a target reached before
    blowing up was reached.

    Args:
        x: the cost axis: ``"n_grad"``, ``"cost"``, ``"step"``, ``"time"``...
        targets: a table of :func:`targets_for` (default: ``targets_for(data)``), or
            absolute target values on the gap, the same for every problem_label.
        rel_tol: tolerance of the "best found" reference when the targets are not a
            table; a table's own ``reference``/``f_ref`` columns are used as given.

    Returns:
        Rows ``problem_label, optimizer_label, run_id, seed, status, target_index,
        exponent, target, reference, reached, x, x_end`` where ``x`` is x_hit and
        ``x_end`` the x of the run's last record (what a failed run spent).
    """
    _check_table(data, RUN_COLUMNS + ["loss", "subopt", x], "time_to_target")
    rel_tol = _rel_tol(rel_tol)
    columns = RUN_COLUMNS + ["target_index", "exponent", "target", "reference", "reached", "x", "x_end"]
    if data.empty:
        return pd.DataFrame(columns=columns)
    if isinstance(targets, pd.DataFrame):
        table = targets
        if "target" not in table.columns or "problem_label" not in table.columns:
            raise ValueError("targets table needs columns 'problem_label' and 'target' (see targets_for)")
        if {"reference", "f_ref"} <= set(table.columns):
            refs = table[["problem_label", "reference", "f_ref"]].drop_duplicates("problem_label")
        else:
            refs = _references(data, rel_tol)
            table = table.drop(columns=[c for c in ("reference", "f_ref") if c in table.columns]).merge(
                refs[["problem_label", "reference", "f_ref"]], on="problem_label")
        if "target_index" not in table.columns:
            table = table.assign(target_index=table.groupby(
                [c for c in _TARGET_KEYS["run"] if c in table.columns]).cumcount())
        if "exponent" not in table.columns:
            table = table.assign(exponent=np.nan)
    elif targets is None:
        table = targets_for(data, rel_tol=rel_tol)
        refs = table[["problem_label", "reference", "f_ref"]].drop_duplicates("problem_label")
    else:
        values = np.atleast_1d(np.asarray(targets, dtype=float))
        if values.ndim != 1 or values.size == 0:
            raise ValueError(
                f"targets must be a table or a non-empty 1-D sequence of numbers, got {targets!r}")
        table = _absolute_targets(data, values, rel_tol)
        refs = table[["problem_label", "reference", "f_ref"]].drop_duplicates("problem_label")

    gap = _gap(data, refs)
    X = data[x].to_numpy(dtype=float)
    runs = _split_runs(data)
    keys = [c for c in _TARGET_KEYS["run"] if c in table.columns]
    merged = runs.info.rename_axis("run").reset_index().merge(
        table[keys + ["target_index", "exponent", "target", "reference"]], on=keys, how="inner"
    ).sort_values(["run", "target_index"], kind="stable").reset_index(drop=True)

    hit = np.full(len(merged), np.nan)
    reached = np.zeros(len(merged), dtype=bool)
    x_end = np.full(len(merged), np.nan)
    target = merged["target"].to_numpy(dtype=float)
    for run, pos in merged.groupby("run", sort=False).indices.items():
        rows = runs.rows[run]
        g = gap[rows]
        best = np.minimum.accumulate(np.where(np.isnan(g), np.inf, g))  # non-increasing
        first = np.searchsorted(-best, -target[pos], side="left")      # first i: best_i <= t
        got = first < len(best)
        xr = X[rows]
        hit[pos] = np.where(got, xr[np.minimum(first, len(best) - 1)], np.inf)
        hit[pos[np.isnan(target[pos])]] = np.nan
        reached[pos] = got & ~np.isnan(target[pos])
        x_end[pos] = np.nanmax(xr) if np.isfinite(xr).any() else np.nan
    merged["reached"] = reached
    merged["x"] = hit
    merged["x_end"] = x_end
    out = merged[columns]
    out.attrs.update(x=x)
    return out


def success_rates(
    data: pd.DataFrame,
    x: str = "n_grad",
    targets: pd.DataFrame | float | Sequence[float] | np.ndarray | None = None,
    rel_tol: float = DEFAULT_REL_TOL,
) -> pd.DataFrame:
    """Per pair and target: success rate, median time among successes, and ERT.

    From :func:`time_to_target` (same arguments), over the runs of the pair:

    - ``success_rate = n_success / n_runs``;
    - ``median_x``: the median x_hit over the successful runs (NaN if none);
    - ``ert`` (COCO's expected running time): the x spent by all runs divided by
      the number of successes, ``(sum_success x_hit + sum_fail x_end) / n_success``
      where ``x_end`` is the x of a failed run's last record; ``+inf`` if no run
      succeeded.  It estimates the cost of reaching the target by restarting the
      method with fresh seeds until it does.
    - ``target``: the median of the pair's run targets (they differ by run only
      for targets made with ``by="run"``).

    Returns:
        Rows ``problem_label, optimizer_label, target_index, exponent, target,
        reference, n_runs, n_success, success_rate, median_x, ert``.
    """
    hits = time_to_target(data, x, targets, rel_tol)
    columns = PAIR + ["target_index", "exponent", "target", "reference", "n_runs", "n_success",
                      "success_rate", "median_x", "ert"]
    if hits.empty:
        return pd.DataFrame(columns=columns)
    reached = hits["reached"].to_numpy(dtype=bool)
    work = hits.assign(
        x_success=hits["x"].where(reached),
        spent=np.where(reached, hits["x"], hits["x_end"]),
    )
    out = work.groupby(PAIR + ["target_index"], sort=True).agg(
        exponent=("exponent", "first"),
        target=("target", "median"),
        reference=("reference", "first"),
        n_runs=("reached", "size"),
        n_success=("reached", "sum"),
        median_x=("x_success", "median"),
        spent=("spent", "sum"),
    ).reset_index()
    out["n_success"] = out["n_success"].astype(int)
    out["success_rate"] = out["n_success"] / out["n_runs"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ert"] = np.where(out["n_success"] > 0, out["spent"] / out["n_success"], np.inf)
    return out[columns]


# --------------------------------------------------------------------------- profiles


def _single_target_hits(
    data: pd.DataFrame, x: str, target: float, relative: bool, rel_tol: float
) -> pd.DataFrame:
    if not (isinstance(target, (int, float, np.floating)) and np.isfinite(target)):
        raise ValueError(f"target must be a finite number, got {target!r}")
    if relative:
        if target <= 0:
            raise ValueError(f"a relative target must be > 0, got {target!r}")
        table = _relative_targets(data, np.array([np.log10(target)]), np.array([float(target)]),
                                  "run", _rel_tol(rel_tol))
    else:
        table = _absolute_targets(data, np.array([float(target)]), _rel_tol(rel_tol))
    hits = time_to_target(data, x, table)
    # Profiles count an unknown time (NaN x) as not solved.
    return hits.assign(x=hits["x"].fillna(np.inf))


def _inf_median(values: pd.Series) -> float:
    return float(np.median(values.to_numpy(dtype=float))) if len(values) else np.inf


def performance_profile(
    data: pd.DataFrame,
    measure: str = "n_grad",
    target: float = 1e-3,
    relative: bool = True,
    taus: Sequence[float] | np.ndarray | None = None,
    rel_tol: float = DEFAULT_REL_TOL,
) -> pd.DataFrame:
    """Dolan & Moré (2002) performance profiles of the optimizer configurations.

    A solver s is an ``optimizer_label`` (each configuration its own solver; pick
    the configurations to compare before calling), a problem p a ``problem_label``.
    The cost ``t_ps`` is the median over the pair's runs (seeds) of the ``measure``
    (x) spent to reach the target (:func:`time_to_target`), ``+inf`` for a run that
    did not (so a pair is unsolved when at least half its runs fail, with an even
    number of runs when the upper middle one fails); a solver without runs on a
    problem has ``t_ps = +inf``.  Then

        r_ps = t_ps / min_s t_ps,     rho_s(tau) = |{p : r_ps <= tau}| / |P|

    with ``r_ps = +inf`` where ``t_ps = +inf`` (also when nobody solved p, which
    keeps p in |P|), and where the best cost is 0 (solved at x0): ``r = 1`` for
    ``t = 0``, ``+inf`` otherwise.

    The target: with ``relative=True`` (default) Moré & Wild's test, each run
    reaching ``gap <= target * gap(x_0 of that run)``; with ``relative=False`` an
    absolute gap ``target``.  The gap is ``subopt`` or the "best found" gap (module
    docstring).

    Args:
        measure: the cost column, ``"n_grad"``, ``"cost"``, ``"time"``, ``"step"``.
        taus: the ratios at which rho is given; default: 1 and every finite
            ``r_ps``, the breakpoints of the step function rho_s (draw it with
            ``drawstyle="steps-post"``).

    Returns:
        Rows ``solver, tau, fraction, n_problems``.
    """
    _check_table(data, RUN_COLUMNS + ["loss", "subopt", measure], "performance_profile")
    columns = ["solver", "tau", "fraction", "n_problems"]
    if data.empty:
        return pd.DataFrame(columns=columns)
    hits = _single_target_hits(data, measure, target, relative, rel_tol)
    t = hits.groupby(PAIR, sort=True)["x"].agg(_inf_median)
    problems = sorted(data["problem_label"].unique())
    solvers = sorted(data["optimizer_label"].unique())
    T = t.unstack("optimizer_label").reindex(index=problems, columns=solvers).to_numpy(dtype=float, copy=True)
    T[np.isnan(T)] = np.inf
    best = T.min(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        R = T / best
    R = np.where(np.isinf(T), np.inf, R)
    R = np.where(best == 0, np.where(T == 0, 1.0, np.inf), R)
    if taus is None:
        tau = np.unique(np.concatenate([[1.0], R[np.isfinite(R)]]))
    else:
        tau = _points("taus", taus)
    fraction = (R[:, :, None] <= tau[None, None, :]).mean(axis=0)  # (solver, tau)
    return pd.DataFrame(
        {
            "solver": np.repeat(solvers, tau.size),
            "tau": np.tile(tau, len(solvers)),
            "fraction": fraction.ravel(),
            "n_problems": len(problems),
        }
    )


def data_profile(
    data: pd.DataFrame,
    budgets: Sequence[float] | np.ndarray | None = None,
    x: str = "n_grad",
    target: float = 1e-3,
    relative: bool = True,
    normalize: bool = False,
    dims: Mapping[str, float] | None = None,
    rel_tol: float = DEFAULT_REL_TOL,
) -> pd.DataFrame:
    """Moré & Wild (2009) data profiles: the fraction of problem instances a solver
    solves within a budget.

    An instance is a (``problem_label``, ``seed``) pair (the seed fixes x0 and the
    minibatches), a solver an ``optimizer_label``.  ``t_ps`` is the x spent by the
    solver's run on the instance to reach the target (:func:`time_to_target`; the
    median if it has several runs there; ``+inf`` if it failed or has no run), and

        d_s(alpha) = |{p : t_ps / k_p <= alpha}| / |P|

    with ``k_p = 1`` by default, so a budget is in units of ``x`` (gradient
    evaluations for ``x="n_grad"``).  ``normalize=True`` uses Moré & Wild's
    ``k_p = n_p + 1`` (the cost of one simplex gradient of a problem in dimension
    ``n_p``), meaningful for ``x="n_loss"`` or comparisons with derivative-free
    methods; ``n_p`` comes from ``dims[problem_label]`` or else the
    ``problem.dim`` column.

    The target is as in :func:`performance_profile` (relative: each run must reach
    ``gap <= target * gap(x_0)``, Moré & Wild's convergence test).

    Args:
        budgets: the budgets alpha; default: 0 and every finite ``t_ps / k_p``, the
            breakpoints of the step function d_s.

    Returns:
        Rows ``solver, budget, fraction, n_instances``.
    """
    _check_table(data, RUN_COLUMNS + ["loss", "subopt", x], "data_profile")
    columns = ["solver", "budget", "fraction", "n_instances"]
    if data.empty:
        return pd.DataFrame(columns=columns)
    hits = _single_target_hits(data, x, target, relative, rel_tol)
    t = hits.groupby(["problem_label", "seed", "optimizer_label"], sort=True)["x"].agg(_inf_median)
    instances = pd.MultiIndex.from_frame(
        data[["problem_label", "seed"]].drop_duplicates().sort_values(["problem_label", "seed"])
    )
    solvers = sorted(data["optimizer_label"].unique())
    T = (t.unstack("optimizer_label").reindex(index=instances, columns=solvers)
         .to_numpy(dtype=float, copy=True))
    T[np.isnan(T)] = np.inf
    if normalize:
        T = T / (_dims(data, dims, instances.get_level_values("problem_label")) + 1.0)[:, None]
    if budgets is None:
        budget = np.unique(np.concatenate([[0.0], T[np.isfinite(T)]]))
    else:
        budget = _points("budgets", budgets)
    fraction = (T[:, :, None] <= budget[None, None, :]).mean(axis=0)  # (solver, budget)
    return pd.DataFrame(
        {
            "solver": np.repeat(solvers, budget.size),
            "budget": np.tile(budget, len(solvers)),
            "fraction": fraction.ravel(),
            "n_instances": len(instances),
        }
    )


def _dims(data: pd.DataFrame, dims: Mapping[str, float] | None, labels: pd.Index) -> np.ndarray:
    known: dict[str, float] = {}
    if "problem.dim" in data.columns:
        col = data.groupby("problem_label")["problem.dim"].first()
        known.update({k: float(v) for k, v in col.items() if pd.notna(v)})
    if dims is not None:
        known.update({k: float(v) for k, v in dims.items()})
    missing = sorted(set(labels) - set(known))
    if missing:
        raise ValueError(
            f"normalize=True needs the dimension of problem(s) {missing}: "
            "pass dims={problem_label: n} or a table with a problem.dim column"
        )
    return np.array([known[label] for label in labels], dtype=float)
