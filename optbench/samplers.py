"""Samplers: the trials of a search, drawn from a space (:mod:`optbench.search_space`).

:func:`grid_trials` (the cartesian product of per-dimension grids, sized by
:func:`grid_shape`), :func:`random_trials` (independent seeded samples) and
:func:`quasi_random_trials` (a scrambled Halton sequence: low-discrepancy points
that cover the space more evenly than independent samples, and whose first ``k``
points are the same whatever the number asked for, so a search of ``k`` trials is
a prefix of a longer one).
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .search_space import Choice, Space, _check_points, _integer

__all__ = ["grid_shape", "grid_trials", "quasi_random_trials", "random_trials"]


def _trial_key(trial: Mapping[str, Any]) -> str:
    return json.dumps(trial, sort_keys=True)


def grid_shape(space: Mapping[str, Space], n_trials: int,
                points: int | Mapping[str, int] | None = None) -> dict[str, int]:
    """Points per dimension of the largest grid with at most ``n_trials`` points.

    A Choice contributes all its values; every ordered dimension gets the same
    ``n``, the largest with ``n ** d * (product of the Choice sizes) <= n_trials``
    (``n = floor(n_trials ** (1/d))`` without Choices).  ``points`` fixes them
    instead: an int for every ordered dimension, or a table per name; the grid must
    still fit in ``n_trials``.
    """
    n_trials = _integer("grid", "n_trials", n_trials)
    # the unordered dimensions are the Choices (see Space)
    choices = {k: len(v.values) for k, v in space.items() if isinstance(v, Choice)}
    ordered = [k for k, v in space.items() if v.ordered]
    fixed_size = math.prod(choices.values())
    if points is not None:
        if isinstance(points, Mapping):
            unknown = set(points) - set(ordered)
            missing = set(ordered) - set(points)
            if unknown or missing:
                raise ValueError(
                    f"grid points must name exactly the ordered dimensions {ordered}; "
                    f"unknown {sorted(unknown)}, missing {sorted(missing)}"
                )
            per = {k: _check_points(points[k]) for k in ordered}
        else:
            per = {k: _check_points(points) for k in ordered}
    else:
        if fixed_size > n_trials:
            raise ValueError(
                f"grid: the choices alone make {fixed_size} trials, more than the budget of "
                f"{n_trials} trials"
            )
        d = len(ordered)
        n = 1
        if d:
            room = n_trials // fixed_size
            n = max(1, int(math.floor(room ** (1.0 / d))))
            while n ** d > room and n > 1:  # floating-point guard, both ways
                n -= 1
            while (n + 1) ** d <= room:
                n += 1
        per = {k: n for k in ordered}
    out = {k: (len(space[k].grid(per[k])) if k in per else choices[k]) for k in space}
    size = math.prod(out.values())
    if size > n_trials:
        raise ValueError(f"grid: {size} trials do not fit the budget of {n_trials} trials")
    return out


def grid_trials(space: Mapping[str, Space], n_trials: int,
                points: int | Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """Every point of the grid of :func:`grid_shape`, in ``itertools.product`` order
    (the first dimension varies slowest).  An empty space gives one empty trial."""
    per = grid_shape(space, n_trials, points)
    axes = [space[k].grid(per[k]) for k in space]
    return [dict(zip(space, values)) for values in itertools.product(*axes)]


def random_trials(space: Mapping[str, Space], n_trials: int, rng: np.random.Generator,
                  *, exclude: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """``n_trials`` independent samples; dimensions are drawn in sorted name order,
    so the trials depend on ``rng`` and the space, not on the order of its keys.

    A sample equal to an earlier one (or to one in ``exclude``), possible only for
    IntRange and Choice, is drawn again (at most 100 times); a space with fewer
    distinct points than asked for gives them all, and so fewer trials.  An empty
    space gives one empty trial.
    """
    n_trials = _integer("random", "n_trials", n_trials)
    if not space:
        return [{}]
    names = sorted(space)
    seen = {_trial_key(t) for t in exclude}
    trials: list[dict[str, Any]] = []
    for _ in range(n_trials):
        for _attempt in range(100):
            drawn = {k: space[k].sample(rng) for k in names}
            trial = {k: drawn[k] for k in space}
            key = _trial_key(trial)
            if key not in seen:
                break
        else:
            break
        seen.add(key)
        trials.append(trial)
    return trials



def quasi_random_trials(space: Mapping[str, Space], n_trials: int, seed: int | Sequence[int]
                        ) -> list[dict[str, Any]]:
    """The first ``n_trials`` points of a scrambled Halton sequence, mapped into the space.

    ``scipy.stats.qmc.Halton(d, scramble=True, seed=numpy.random.default_rng(seed))`` over the dimensions in
    sorted name order (so the trials depend on the seed and the space, not on the
    order of its keys); point ``u`` in the unit cube becomes ``dim.from_unit(u_i)``
    for each dimension.  Halton rather than Sobol' because a Sobol' sequence is
    balanced only at powers of two, and searches have 5 trials.  The first ``k``
    trials are the same for any ``n_trials >= k``.  Points may repeat on an IntRange
    or a Choice (they are not drawn again: the trials stay a prefix).  An empty space
    gives one empty trial.
    """
    from scipy.stats import qmc

    n_trials = _integer("quasi_random", "n_trials", n_trials)
    if n_trials < 1:
        raise ValueError(f"quasi_random: n_trials must be >= 1, got {n_trials}")
    if not space:
        return [{}]
    names = sorted(space)
    points = qmc.Halton(d=len(names), scramble=True, seed=np.random.default_rng(seed)).random(n_trials)
    trials = []
    for row in points:
        drawn = {k: space[k].from_unit(u) for k, u in zip(names, row)}
        trials.append({k: drawn[k] for k in space})
    return trials
