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
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class State:
    """Mutable per-run optimizer state; ``t`` counts the steps taken so far.

    Subclasses add the rule's buffers (velocity, moments...) as attributes.
    """

    t: int = 0

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class Optimizer(ABC):
    """Base class of stepwise optimizers.

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
    def init(self, x0: np.ndarray) -> State:
        """Fresh state for a run starting at ``x0`` (``x0`` is not modified)."""

    @abstractmethod
    def step(self, x: np.ndarray, oracle: Any, state: State) -> np.ndarray:
        """One update from ``x``; returns the new iterate and advances ``state.t``."""

    #: The learning-rate schedule (``optimizers.schedules``), set by ``__init__``.
    schedule: Any

    def lr_at(self, t: int) -> float:
        """The learning rate used by step ``t`` (0-based): ``self.schedule(t)``."""
        return self.schedule(t)

    def __repr__(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.hyperparams.items())
        return f"{self.name}[{args}]"
