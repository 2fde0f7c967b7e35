"""Hyper-parameters as JSON data, for a bridged optimizer's ``hyperparams``.

A bridge passes a framework's keyword arguments on as they are (tuples, numpy scalars,
schedules...), but ``hyperparams`` names the optimizer in specs, labels and stored
metadata, so it holds their JSON form (:func:`as_json`).
"""

from __future__ import annotations

import numbers
from typing import Any

from .schedules import Schedule

__all__ = ["as_json"]


def as_json(value: Any) -> Any:
    """``value`` as JSON data: tuples become lists, numpy scalars Python numbers, a
    schedule its spec (``Schedule.to_spec()``), and anything else JSON cannot hold its
    ``repr``.

    >>> import numpy as np
    >>> as_json({"betas": (0.9, np.float64(0.99)), "foreach": None, "fn": len})
    {'betas': [0.9, 0.99], 'foreach': None, 'fn': '<built-in function len>'}
    """
    if isinstance(value, Schedule):
        return value.to_spec()
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    return repr(value)
