"""The cost model: oracle calls expressed in gradient-equivalents.

To compare methods that call different oracles (a first-order method calls ``grad``,
Newton calls ``grad`` and ``hess``, a line search calls ``loss``), optbench prices
every call in units of one full gradient evaluation::

    cost = loss_cost * n_loss + 1 * n_grad + hess_cost * n_hess + hvp_cost * n_hvp

Defaults, per problem, overridable by a problem attribute of the same name:

- ``loss_cost = 0.5``: a function value costs about half a gradient: for logistic
  regression the loss is one product with the data (the margins) and the gradient
  two; for a net the loss is a forward pass and the gradient a forward and a
  backward pass.  (For a rotated quadratic both are one product with A, so the loss
  is priced low there; a problem can set ``loss_cost`` to say otherwise.)
- ``hess_cost = dim``: a dense Hessian costs about ``dim`` gradients, as if built from
  ``dim`` Hessian-vector products each costing one gradient (for logistic regression
  ``X^T D X`` is ``n d^2`` work against ``n d`` for the gradient, the same ratio).
- ``hvp_cost = 2``: a Hessian-vector product costs about two gradients (Pearlmutter's
  forward-over-reverse, or double backward in a net, is a gradient of a gradient;
  ``H v`` for a quadratic or logistic regression is two products with the data).

The model is stored with every run (``meta["cost_model"]``) and ``optbench.load``
adds the ``cost`` column from it, so reports never need to rebuild a problem.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def cost_model(problem: Any) -> dict[str, float]:
    """Gradient-equivalents of one ``loss``, ``grad`` and ``hess`` call on ``problem``."""
    return {
        "loss": float(getattr(problem, "loss_cost", 0.5)),
        "grad": 1.0,
        "hess": float(getattr(problem, "hess_cost", problem.dim)),
        "hvp": float(getattr(problem, "hvp_cost", 2.0)),
    }


def cost_column(trace: pd.DataFrame, model: Any) -> np.ndarray:
    """``loss*n_loss + grad*n_grad + hess*n_hess + hvp*n_hvp`` per trace row (NaN
    without a model).

    ``model`` maps ``loss``, ``grad``, ``hess`` (and ``hvp``) to prices: scalars, or
    arrays with one price per row (as ``optbench.load`` passes for many runs at once).
    Runs stored before ``n_hvp`` existed have neither the column nor the ``hvp``
    price; they made no Hessian-vector products, so that term is 0 for them.
    """
    if model is None or len(model) == 0:
        return np.full(len(trace), np.nan)

    def price(key: str) -> Any:
        return np.asarray(model[key], dtype=float)

    return (
        price("loss") * trace["n_loss"].to_numpy(dtype=float)
        + price("grad") * trace["n_grad"].to_numpy(dtype=float)
        + price("hess") * trace["n_hess"].to_numpy(dtype=float)
        + _hvp_term(trace, model)
    )


def _hvp_term(trace: pd.DataFrame, model: Any) -> Any:
    """``hvp * n_hvp``, 0 on rows that made no product (also without a price)."""
    if "n_hvp" not in trace:
        return 0.0
    count = np.nan_to_num(trace["n_hvp"].to_numpy(dtype=float))
    price = np.asarray(model["hvp"] if "hvp" in model else np.nan, dtype=float)
    return np.where(count == 0, 0.0, price * count)
