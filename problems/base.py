"""The Problem contract shared by every problem family.

A problem is a smooth objective ``f: R^dim -> R`` over a flat float64 vector with an
analytic gradient (and Hessian where ``has_hess``).  Stochastic problems also hand
out *minibatch oracles*: objects with the same ``loss/grad/hess`` evaluated on one
sampled minibatch (or one draw of gradient noise), so that a method can evaluate the
same batch at several points.

Fused oracle.  ``loss_and_grad(x) -> (loss(x), grad(x))`` is an optional oracle
method: one call that shares the work both need (for logistic regression and the
quadratics the product with the data matrix, for the nets the forward pass).  It
returns the same numbers as the two separate calls (bit for bit on the built-in
problems).  :class:`Problem` provides a default that calls :meth:`Problem.loss` then
:meth:`Problem.grad`; the built-in families and their minibatch oracles override it.
A duck-typed user problem or oracle may lack it, so callers look it up with
``getattr(oracle, "loss_and_grad", None)`` and fall back to the two calls.

Precision.  A problem has a ``dtype``, float64 unless built with ``dtype="float32"``
(quadratic, logistic and mlp take the parameter): ``x0`` and ``grad`` return arrays of
that dtype, the data are stored in it, points are converted to it, ``loss`` still
returns a Python float, and ``f_star`` is computed in float64.

Problems never count their own oracle calls and never time themselves: the harness
(:mod:`optbench.runner`) wraps them in a counting oracle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Oracle(Protocol):
    """Anything with ``loss(x) -> float``, ``grad(x) -> ndarray``, ``hess(x) -> ndarray``.

    An oracle may also have the optional ``loss_and_grad(x) -> tuple[float, ndarray]``,
    equal to ``(loss(x), grad(x))`` at a lower cost; it is not part of this protocol
    (an ``isinstance`` check does not require it): look it up with
    ``getattr(oracle, "loss_and_grad", None)``.
    """

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
    oracle_kind : str
        What a :meth:`minibatch` oracle of a stochastic problem is, as the harness
        names a run's oracle (``meta["oracle"]``, the ``oracle`` column of
        ``optbench.load`` and of the summary): ``"minibatch"`` (the loss on sampled
        rows; the default) or ``"noisy"`` (the exact gradient plus drawn noise, the
        noisy quadratic).  Read only when ``stochastic`` is True; optional for
        duck-typed problems, whose runs are then named ``"stochastic"``.
    has_hess : bool
        Whether :meth:`hess` is available.
    dtype : numpy.dtype
        The floating-point type of the points, gradients and stored data (float64
        unless the family takes a ``dtype`` parameter and was built with another).

    Subclasses implement :meth:`loss`, :meth:`grad`, :meth:`x0` and, where they exist,
    :meth:`hess`, :meth:`minibatch` and a fused :meth:`loss_and_grad`.
    """

    name: str = "problem"
    dim: int
    params: dict[str, Any]
    f_star: float | None = None
    stochastic: bool = False
    oracle_kind: str = "minibatch"
    has_hess: bool = False
    dtype: np.dtype = np.dtype(np.float64)

    @abstractmethod
    def x0(self, seed: int = 0) -> np.ndarray:
        """Initial point for ``seed``: of the problem's ``dtype``, shape ``(dim,)``, a
        fresh array."""

    @abstractmethod
    def loss(self, x: np.ndarray) -> float:
        """Full objective value at ``x``."""

    @abstractmethod
    def grad(self, x: np.ndarray) -> np.ndarray:
        """Full gradient at ``x`` (a new array)."""

    def loss_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(loss(x), grad(x))`` in one call.

        This default makes the two calls; a family overrides it where the two share
        work (one product with the data, one forward pass), with the same results.
        """
        return self.loss(x), self.grad(x)

    def hess(self, x: np.ndarray) -> np.ndarray:
        """Full Hessian at ``x``; only where ``has_hess`` is True."""
        raise ValueError(f"problem {self.name!r} has no Hessian (has_hess is False)")

    def minibatch(self, rng: np.random.Generator) -> Oracle:
        """One stochastic oracle drawn with ``rng``; deterministic problems return self."""
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.name}({args})"
