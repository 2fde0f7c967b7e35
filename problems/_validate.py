"""Argument checks shared by the problem families.

Every check returns the value converted to a plain Python type (so that a problem's
``params`` are JSON-serializable) or raises ValueError naming the parameter, the value
received and what is allowed.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any

import numpy as np

#: Second word of the seed of every ``x0(seed)`` generator:
#: ``np.random.default_rng([seed, X0_STREAM])``.  It keeps the initial point's stream
#: apart from the data stream ``np.random.default_rng(seed)`` of the same seed.
X0_STREAM = 0x5EED

#: Largest dimension for which a dense (dim, dim) Hessian is built (20000**2 float64
#: numbers are 3.2 GB).
MAX_DENSE_DIM = 20_000


def check_int(name: str, value: Any, *, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (``high=None``: no upper bound)."""
    allowed = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    try:
        result = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be {allowed}, got {value!r}") from None
    if result < low or (high is not None and result > high):
        raise ValueError(f"{name} must be {allowed}, got {result!r}")
    return int(result)


def check_real(
    name: str, value: Any, *, low: float, strict: bool = False
) -> float:
    """``value`` as a finite float with ``value >= low`` (``> low`` when ``strict``)."""
    allowed = f"a finite number {'>' if strict else '>='} {low:g}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    result = float(value)
    if not math.isfinite(result) or result < low or (strict and result == low):
        raise ValueError(f"{name} must be {allowed}, got {result!r}")
    return result


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a bool; only True, False (and numpy bools) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def check_seed(value: Any, name: str = "seed") -> int:
    """A seed: an integer >= 0 (what ``np.random.default_rng`` accepts)."""
    return check_int(name, value, low=0)


def x0_rng(seed: Any) -> np.random.Generator:
    """The generator behind ``x0(seed)``: ``np.random.default_rng([seed, X0_STREAM])``."""
    return np.random.default_rng([check_seed(seed), X0_STREAM])


def as_point(x: Any, dim: int) -> np.ndarray:
    """``x`` as a float64 vector of shape ``(dim,)``, without a copy where possible."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (dim,):
        raise ValueError(f"x must have shape ({dim},), got shape {x.shape}")
    return x


def check_dense_dim(problem: str, dim: int) -> None:
    """Refuse a dense ``(dim, dim)`` Hessian above :data:`MAX_DENSE_DIM`."""
    if dim > MAX_DENSE_DIM:
        raise ValueError(
            f"{problem}: the dense Hessian of dim={dim} would need "
            f"{dim * dim * 8 / 1e9:.1f} GB; hess is available for dim <= {MAX_DENSE_DIM}"
        )
