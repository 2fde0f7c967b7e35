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

#: The floating-point types a problem's ``dtype`` parameter accepts, default first.
DTYPES = ("float64", "float32")


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


def check_dtype(value: Any, allowed: tuple[str, ...] = DTYPES) -> np.dtype:
    """``value`` as one of the numpy dtypes named in ``allowed``.

    Accepted: the names themselves (``"float32"``) and what ``np.dtype`` maps to one of
    them (``np.float32``, ``np.dtype("float32")``, ``float`` for float64); anything else
    (``None``, ``"float16"``, ``"f4"``, ``int``...) raises ValueError naming the allowed
    values.  A problem records ``dtype.name`` in its ``params``.
    """
    choices = ", ".join(repr(c) for c in allowed)
    message = f"dtype must be one of {choices}, got {value!r}"
    if value is None or isinstance(value, (bool, np.bool_)):
        raise ValueError(message)
    if isinstance(value, str):
        if value not in allowed:
            raise ValueError(message)
        return np.dtype(value)
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise ValueError(message) from None
    if dtype.name not in allowed:
        raise ValueError(message)
    return dtype


def dtype_params(dtype: np.dtype) -> dict[str, str]:
    """``{"dtype": name}`` for a dtype other than float64, else ``{}``.

    A problem's ``params`` carry ``dtype`` only when it is not the default, so that a
    float64 problem keeps the ``params`` (and the stored results their identity) it
    had before the parameter existed.
    """
    return {} if dtype == np.float64 else {"dtype": dtype.name}


def check_seed(value: Any, name: str = "seed") -> int:
    """A seed: an integer >= 0 (what ``np.random.default_rng`` accepts)."""
    return check_int(name, value, low=0)


def x0_rng(seed: Any) -> np.random.Generator:
    """The generator behind ``x0(seed)``: ``np.random.default_rng([seed, X0_STREAM])``."""
    return np.random.default_rng([check_seed(seed), X0_STREAM])


def as_point(x: Any, dim: int, dtype: Any = np.float64) -> np.ndarray:
    """``x`` as a vector of ``dtype`` (float64 by default) and shape ``(dim,)``, without a
    copy where possible."""
    x = np.asarray(x, dtype=dtype)
    if x.shape != (dim,):
        raise ValueError(f"x must have shape ({dim},), got shape {x.shape}")
    return x


def check_dense_dim(problem: str, dim: int, itemsize: int = 8) -> None:
    """Refuse a dense ``(dim, dim)`` Hessian (of ``itemsize``-byte numbers) above
    :data:`MAX_DENSE_DIM`."""
    if dim > MAX_DENSE_DIM:
        raise ValueError(
            f"{problem}: the dense Hessian of dim={dim} would need "
            f"{dim * dim * itemsize / 1e9:.1f} GB; hess is available for dim <= {MAX_DENSE_DIM}"
        )
