"""The Problem contract shared by every problem family.

A problem is a smooth objective ``f: R^dim -> R`` over a flat float64 vector with an
analytic gradient (and Hessian where ``has_hess``).  Stochastic problems also hand
out *minibatch oracles*: objects with the same ``loss/grad/hess`` evaluated on one
sampled minibatch (or one draw of gradient noise), so that a method can evaluate the
same batch at several points.

Problems never count their own oracle calls and never time themselves: the harness
(:mod:`optbench.runner`) wraps them in a counting oracle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Oracle(Protocol):
    """Anything with ``loss(x) -> float``, ``grad(x) -> ndarray``, ``hess(x) -> ndarray``."""

    def loss(self, x: np.ndarray) -> float: ...

    def grad(self, x: np.ndarray) -> np.ndarray: ...

    def hess(self, x: np.ndarray) -> np.ndarray: ...


class Problem(ABC):
    """Base class of the built-in problems (duck typing is enough for user problems).

    Attributes
    ----------
    name : str
        The registry name of the family (``"quadratic"``...).
    dim : int
        Length of the parameter vector.
    params : dict
        The parameters the problem was built with (JSON-serializable).
    f_star : float or None
        The known optimal value, or None where it is unknown.
    stochastic : bool
        Whether :meth:`minibatch` returns something other than the full objective.
    has_hess : bool
        Whether :meth:`hess` is available.

    Subclasses implement :meth:`loss`, :meth:`grad`, :meth:`x0` and, where they exist,
    :meth:`hess` and :meth:`minibatch`.
    """

    name: str = "problem"
    dim: int
    params: dict[str, Any]
    f_star: float | None = None
    stochastic: bool = False
    has_hess: bool = False

    @abstractmethod
    def x0(self, seed: int = 0) -> np.ndarray:
        """Initial point for ``seed``: float64, shape ``(dim,)``, a fresh array."""

    @abstractmethod
    def loss(self, x: np.ndarray) -> float:
        """Full objective value at ``x``."""

    @abstractmethod
    def grad(self, x: np.ndarray) -> np.ndarray:
        """Full gradient at ``x`` (a new array)."""

    def hess(self, x: np.ndarray) -> np.ndarray:
        """Full Hessian at ``x``; only where ``has_hess`` is True."""
        raise ValueError(f"problem {self.name!r} has no Hessian (has_hess is False)")

    def minibatch(self, rng: np.random.Generator) -> Oracle:
        """One stochastic oracle drawn with ``rng``; deterministic problems return self."""
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.name}({args})"
