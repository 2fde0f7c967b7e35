"""Diagnostics of a neural-network problem at a point: how its hidden layers behave.

The lecture's checks of weight initialisation (activations vanish when the weights are
too small, tanh units saturate when they are too large) and of dead ReLUs, as a table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Columns of :func:`activation_stats`, in order.
ACTIVATION_STATS_COLUMNS = (
    "layer",
    "activation",
    "width",
    "mean",
    "std",
    "frac_saturated",
    "frac_dead",
)

#: Activations for which a unit can be dead (zero gradient for every sample).
_CAN_DIE = ("relu", "leaky_relu")


def _saturated(activation: str, h: np.ndarray) -> float:
    """Share of the entries of ``h`` in the flat tails of ``activation`` (NaN if none)."""
    if activation == "tanh":
        return float(np.mean(np.abs(h) > 0.99))
    if activation == "sigmoid":
        return float(np.mean((h <= 0.01) | (h >= 0.99)))
    return float("nan")


def activation_stats(problem: Any, x: np.ndarray, X: np.ndarray | None = None) -> pd.DataFrame:
    """One row per hidden layer of ``problem`` at ``x``: the spread of its activations.

    Parameters
    ----------
    problem
        A network problem (such as :class:`problems.mlp.MLP`) with
        ``forward_activations(x, X)`` returning the post-activation array
        (n_rows, width) of each hidden layer, and ``params["activation"]``.
    x : ndarray
        The parameter vector.
    X : ndarray, optional
        Rows to feed, in the problem's (preprocessed) feature space; default the
        problem's own choice (the training split for ``MLP``).  MLP evaluates in
        evaluation mode (batch norm with the training split's population statistics).

    Returns
    -------
    pandas.DataFrame
        Columns ``layer`` (1 for the first hidden layer), ``activation``, ``width``,
        ``mean`` and ``std`` (over all rows and units of the layer, ``ddof=0``),
        ``frac_saturated`` (share of the entries with ``|h| > 0.99`` for tanh, with
        ``h`` outside ``(0.01, 0.99)`` for sigmoid; NaN for other activations) and
        ``frac_dead`` (share of the units with ``h <= 0`` on every row, for relu and
        leaky_relu: their input is never positive, so relu passes no gradient; NaN
        for other activations).

    Examples
    --------
    >>> from problems.mlp import MLP
    >>> p = MLP(dataset="spiral", hidden=(8, 8), activation="tanh", batch_size=None)
    >>> activation_stats(p, p.x0(0))["layer"].tolist()
    [1, 2]
    """
    activation = problem.params["activation"]
    rows = []
    for i, h in enumerate(problem.forward_activations(x, X), start=1):
        h = np.asarray(h, dtype=np.float64)
        if activation in _CAN_DIE:
            dead = float(np.mean(np.all(h <= 0.0, axis=0)))
        else:
            dead = float("nan")
        rows.append(
            (i, activation, h.shape[1], float(h.mean()), float(h.std()),
             _saturated(activation, h), dead)
        )
    frame = pd.DataFrame.from_records(rows, columns=ACTIVATION_STATS_COLUMNS)
    frame["layer"] = frame["layer"].astype("int64")
    frame["width"] = frame["width"].astype("int64")
    return frame
