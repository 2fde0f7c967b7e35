"""The stepwise Optimizer contract.

A stepwise optimizer is used as::

    state = opt.init(x0)                 # explicit state, one object per run
    for t in range(steps):
        x = opt.step(x, oracle, state)   # one update; advances state.t by one

``oracle`` is anything with ``loss/grad/hess`` (a problem, one minibatch of it, or
the harness's counting wrapper); the optimizer calls only what its rule needs, so
that the harness can count oracle calls.  ``step`` may update ``x`` in place and
returns the new iterate (possibly the same array): callers own a copy of ``x0``.

Learning rates are schedules (:mod:`optimizers.schedules`): ``lr`` takes a float or a
schedule, and ``opt.lr_at(t)`` is the rate used by step ``t`` (0-based).

Typing.  :class:`Optimizer` is generic in the type of its state: a subclass names the
:class:`State` subclass its ``init`` builds and its ``step`` takes, as in
``class Adam(Optimizer[AdamState])``, so that ``step(self, x, oracle, state: AdamState)``
is a valid override.  A bare ``Optimizer`` annotation means ``Optimizer[Any]``: any
stepwise optimizer, whose ``step`` takes the state its own ``init`` returned.

Whole-run solvers (:mod:`optimizers.scipy_adapters`) are not Optimizers: they own the
loop and follow the :class:`WholeRunSolver` protocol (``minimize``) instead.  The
registry builds either kind (:data:`Solver`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Generic, Protocol, TypeVar, Union

import numpy as np


class State:
    """Mutable per-run optimizer state; ``t`` counts the steps taken so far.

    Subclasses add the rule's buffers (velocity, moments...) as attributes.
    """

    t: int = 0

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


#: The state type of an optimizer: the :class:`State` subclass of its ``init`` and ``step``.
S = TypeVar("S", bound=State)


class Optimizer(ABC, Generic[S]):
    """Base class of stepwise optimizers, generic in their state type ``S``.

    Attributes
    ----------
    name : str
        Registry name (``"adam"``...).
    hyperparams : dict
        The hyper-parameters as given (JSON-serializable where they came from a spec).
    needs : tuple of str
        Which oracle methods ``step`` calls (``("grad",)`` for first-order methods,
        ``("grad", "hess")`` for Newton); the harness refuses a problem that cannot
        serve them before the first step.
    """

    name: str = "optimizer"
    hyperparams: dict[str, Any]
    needs: tuple[str, ...] = ("grad",)

    @abstractmethod
    def init(self, x0: np.ndarray) -> S:
        """Fresh state for a run starting at ``x0`` (``x0`` is not modified)."""

    @abstractmethod
    def step(self, x: np.ndarray, oracle: Any, state: S) -> np.ndarray:
        """One update from ``x``; returns the new iterate and advances ``state.t``."""

    #: The learning-rate schedule (``optimizers.schedules``), set by ``__init__``.
    schedule: Any

    def lr_at(self, t: int) -> float:
        """The learning rate used by step ``t`` (0-based): ``self.schedule(t)``; for a
        subclass that sets no schedule, a number ``self.lr``, else NaN (the trace's
        ``lr`` column is then empty)."""
        schedule = getattr(self, "schedule", None)
        if schedule is not None:
            return schedule(t)
        lr = getattr(self, "lr", None)
        return float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) else float("nan")

    def __repr__(self) -> str:
        hyperparams = getattr(self, "hyperparams", None) or {}
        args = ",".join(f"{k}={v}" for k, v in hyperparams.items())
        return f"{getattr(self, 'name', type(self).__name__)}[{args}]"


class WholeRunSolver(Protocol):
    """A solver that owns the loop (scipy's L-BFGS-B and BFGS): the harness calls
    ``minimize`` once instead of ``init`` and ``step``.

    ``minimize(oracle, x0, max_iter, callback)`` minimises ``oracle.loss`` from ``x0``
    (not modified) in at most ``max_iter`` iterations, calling ``callback(xk)`` after
    every iteration (the callback may raise ``StopIteration`` to end the run), and
    returns a result with ``x``, ``success``, ``status``, ``message``, ``nit``,
    ``nfev`` and ``njev`` (an :class:`scipy.optimize.OptimizeResult` for the scipy
    adapters).  ``name``, ``hyperparams`` and ``needs`` are as for :class:`Optimizer`.
    """

    name: str
    hyperparams: dict[str, Any]
    needs: tuple[str, ...]

    def minimize(
        self,
        oracle: Any,
        x0: np.ndarray,
        max_iter: int,
        callback: Callable[[np.ndarray], None] | None = None,
    ) -> Any: ...


#: What the optimizer registry builds: a stepwise Optimizer or a whole-run solver.
Solver = Union[Optimizer[Any], WholeRunSolver]
