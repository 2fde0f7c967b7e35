"""Search spaces: one dimension of a hyper-parameter search each, as plain data.

:class:`LogUniform` (learning rates), :class:`Uniform` (``rho``, ``beta1``),
:class:`IntRange` (integers, both ends included) and :class:`Choice` (a list of
values).  Each can ``sample(rng)``, map a point of the unit interval to a value
(``from_unit(u)``: the inverse of its distribution function, used by the
quasi-random samplers), give ``grid(n)`` points, ``narrow(centre, shrink)`` and tell
``at_edge(value)``; each is plain data through ``to_dict()`` /
:func:`space_from_dict` (``{"log_uniform": [1e-05, 10.0]}``), so a TOML table can
hold a space.  A *space* is a mapping ``name -> dimension``.

:func:`default_space` is what an optimizer tunes when nothing else is given (see
:mod:`optbench.tuning` for why).
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

import optimizers

from .spec import format_value

__all__ = [
    "Choice",
    "DEFAULT_LR_RANGE",
    "EDGE_FRACTION",
    "IntRange",
    "LogUniform",
    "Space",
    "Uniform",
    "default_space",
    "space_from_dict",
    "spaces_from_dict",
    "spaces_to_dict",
]

#: A value in the outer 10% of its range (in log space for LogUniform) is "at the edge".
EDGE_FRACTION = 0.1

#: The learning-rate range searched by default.
DEFAULT_LR_RANGE = (1e-5, 10.0)


def _real(kind: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{kind}: {name} must be a real number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{kind}: {name} must be finite, got {value!r}")
    return x


def _integer(kind: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{kind}: {name} must be an integer, got {value!r}")
    return int(value)


class Space(ABC):
    """One dimension of a search space (base class).

    ``ordered`` is True for ranges (LogUniform, Uniform, IntRange): they have edges,
    and coarse-to-fine narrows them; a Choice is unordered.
    """

    key: str = ""
    ordered: bool = True

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn with ``rng``."""

    @abstractmethod
    def from_unit(self, u: float) -> Any:
        """The value at quantile ``u`` in [0, 1) of the space's distribution (the
        inverse of its distribution function): a uniform ``u`` gives a ``sample``."""

    @abstractmethod
    def grid(self, n: int) -> list[Any]:
        """``n`` grid points (all values for a Choice)."""

    @abstractmethod
    def narrow(self, centre: Any, shrink: float) -> "Space":
        """A space ``shrink`` times as wide around ``centre``, inside this one."""

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` belongs to the space."""

    @abstractmethod
    def position(self, value: Any) -> float:
        """Where ``value`` lies in the range: 0 at ``low``, 1 at ``high``."""

    def at_edge(self, value: Any, fraction: float = EDGE_FRACTION) -> bool:
        """True if ``value`` lies in the outer ``fraction`` of the range at either end."""
        if not self.ordered:
            return False
        u = self.position(value)
        return u < fraction or u > 1.0 - fraction

    def edge_side(self, value: Any, fraction: float = EDGE_FRACTION) -> str | None:
        """``"lower"``, ``"upper"`` or None (not at an edge)."""
        if not self.at_edge(value, fraction):
            return None
        return "lower" if self.position(value) < 0.5 else "upper"

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"log_uniform": [low, high]}`` and the like."""

    @staticmethod
    def from_dict(data: Mapping[str, Any], name: str | None = None) -> "Space":
        """Inverse of :meth:`to_dict`; same as :func:`space_from_dict`."""
        return space_from_dict(data, name)

    def describe(self) -> str:
        (key, value), = self.to_dict().items()
        return f"{key}({', '.join(format_value(v) for v in value)})"


def _check_shrink(shrink: Any) -> float:
    s = _real("narrow", "shrink", shrink)
    if not 0.0 < s <= 1.0:
        raise ValueError(f"narrow: shrink must be in (0, 1], got {shrink!r}")
    return s


def _check_points(n: Any) -> int:
    n = _integer("grid", "n", n)
    if n < 1:
        raise ValueError(f"grid: n must be >= 1, got {n}")
    return n


@dataclass(frozen=True)
class _Range(Space):
    low: float
    high: float

    kind = "range"

    def __post_init__(self) -> None:
        low = _real(self.kind, "low", self.low)
        high = _real(self.kind, "high", self.high)
        if not low < high:
            raise ValueError(f"{self.kind}: low must be < high, got low={self.low!r}, high={self.high!r}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    # the scale on which the range is uniform: log for LogUniform, identity otherwise
    def _t(self, value: float) -> float:
        return float(value)

    def _t_inv(self, t: float) -> float:
        return float(t)

    def _clip(self, value: float) -> float:
        return min(max(float(value), self.low), self.high)

    def sample(self, rng: np.random.Generator) -> float:
        t = rng.uniform(self._t(self.low), self._t(self.high))
        return self._clip(self._t_inv(t))

    def from_unit(self, u: float) -> float:
        t_low, t_high = self._t(self.low), self._t(self.high)
        return self._clip(self._t_inv(t_low + float(u) * (t_high - t_low)))

    def contains(self, value: Any) -> bool:
        return isinstance(value, numbers.Real) and self.low <= float(value) <= self.high

    def position(self, value: Any) -> float:
        t_low, t_high = self._t(self.low), self._t(self.high)
        return (self._t(value) - t_low) / (t_high - t_low)

    def width(self) -> float:
        """The width on the range's own scale (in log units for LogUniform)."""
        return self._t(self.high) - self._t(self.low)

    def narrow(self, centre: Any, shrink: float) -> "Space":
        """The range ``shrink`` times as wide, centred at ``centre``, clipped to this one.

        The space itself when it cannot be narrowed further (floating-point limit).
        """
        shrink = _check_shrink(shrink)
        if not self.contains(centre):
            raise ValueError(f"{self.kind}: centre {centre!r} is outside [{self.low:g}, {self.high:g}]")
        half = 0.5 * shrink * self.width()
        c = self._t(centre)
        low = self._clip(self._t_inv(c - half))
        high = self._clip(self._t_inv(c + half))
        if not low < high:
            return self
        return type(self)(low, high)

    def to_dict(self) -> dict[str, Any]:
        return {self.key: [self.low, self.high]}


@dataclass(frozen=True)
class LogUniform(_Range):
    """Uniform in ``log(value)`` on ``[low, high]``, ``0 < low < high``: for learning rates.

    ``grid(n)`` is log-spaced (``numpy.geomspace``; one point: the geometric mean);
    narrowing and the edge test work in log space.
    """

    key = "log_uniform"
    kind = "log_uniform"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.low > 0:
            raise ValueError(f"{self.kind}: low must be > 0 (a log scale), got low={self.low!r}")

    def _t(self, value: float) -> float:
        return math.log(value)

    def _t_inv(self, t: float) -> float:
        return math.exp(t)

    def contains(self, value: Any) -> bool:
        return super().contains(value) and float(value) > 0

    def position(self, value: Any) -> float:
        if not float(value) > 0:
            return -math.inf
        return super().position(value)

    def grid(self, n: int) -> list[float]:
        n = _check_points(n)
        if n == 1:
            return [math.sqrt(self.low * self.high)]
        return [float(v) for v in np.geomspace(self.low, self.high, n)]


@dataclass(frozen=True)
class Uniform(_Range):
    """Uniform on ``[low, high]``: for parameters such as ``rho`` or ``beta1``.

    ``grid(n)`` is evenly spaced (one point: the midpoint).
    """

    key = "uniform"
    kind = "uniform"

    def grid(self, n: int) -> list[float]:
        n = _check_points(n)
        if n == 1:
            return [0.5 * (self.low + self.high)]
        return [float(v) for v in np.linspace(self.low, self.high, n)]


@dataclass(frozen=True)
class IntRange(Space):
    """The integers ``low, low + 1, ..., high`` (both included), ``low < high``.

    ``grid(n)``: ``n`` integers evenly spread from ``low`` to ``high`` (all of them
    when ``n`` exceeds their count; one point: the midpoint rounded down).  Narrowing
    rounds outwards and keeps at least two integers.
    """

    low: int
    high: int

    key = "int_range"
    kind = "int_range"

    def __post_init__(self) -> None:
        low = _integer(self.kind, "low", self.low)
        high = _integer(self.kind, "high", self.high)
        if not low < high:
            raise ValueError(f"{self.kind}: low must be < high, got low={self.low!r}, high={self.high!r}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high + 1))

    def count(self) -> int:
        return self.high - self.low + 1

    def from_unit(self, u: float) -> int:
        return self.low + min(int(math.floor(float(u) * self.count())), self.count() - 1)

    def grid(self, n: int) -> list[int]:
        n = _check_points(n)
        if n == 1:
            return [(self.low + self.high) // 2]
        if n >= self.count():
            return list(range(self.low, self.high + 1))
        points = np.round(np.linspace(self.low, self.high, n)).astype(int)
        return [int(v) for v in dict.fromkeys(points.tolist())]

    def contains(self, value: Any) -> bool:
        return (isinstance(value, numbers.Integral) and not isinstance(value, bool)
                and self.low <= int(value) <= self.high)

    def position(self, value: Any) -> float:
        return (float(value) - self.low) / (self.high - self.low)

    def width(self) -> float:
        return float(self.high - self.low)

    def narrow(self, centre: Any, shrink: float) -> "IntRange":
        shrink = _check_shrink(shrink)
        if not self.contains(centre):
            raise ValueError(f"{self.kind}: centre {centre!r} is outside [{self.low}, {self.high}]")
        half = 0.5 * shrink * (self.high - self.low)
        low = max(self.low, math.floor(int(centre) - half))
        high = min(self.high, math.ceil(int(centre) + half))
        if low == high:  # keep two integers
            if high < self.high:
                high += 1
            else:
                low -= 1
        return IntRange(low, high)

    def to_dict(self) -> dict[str, Any]:
        return {self.key: [self.low, self.high]}


@dataclass(frozen=True)
class Choice(Space):
    """One of a list of distinct values (JSON data: numbers, strings, booleans, lists,
    tables).  ``grid(n)`` is every value, in order, whatever ``n``; narrowing leaves it
    unchanged; it has no edges.
    """

    values: tuple

    key = "choice"
    ordered = False

    def __post_init__(self) -> None:
        values = self.values
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ValueError(f"choice: values must be a list, got {values!r}")
        values = tuple(values)
        if not values:
            raise ValueError("choice: values must not be empty")
        seen = set()
        for v in values:
            try:
                text = json.dumps(v, sort_keys=True, allow_nan=False)
            except (TypeError, ValueError):
                raise ValueError(f"choice: values must be finite JSON data, got {v!r}") from None
            if text in seen:
                raise ValueError(f"choice: values must be distinct, {v!r} is repeated")
            seen.add(text)
        object.__setattr__(self, "values", values)

    def sample(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.values)))]

    def from_unit(self, u: float) -> Any:
        n = len(self.values)
        return self.values[min(int(math.floor(float(u) * n)), n - 1)]

    def grid(self, n: int | None = None) -> list[Any]:
        return list(self.values)

    def narrow(self, centre: Any, shrink: float) -> "Choice":
        _check_shrink(shrink)
        return self

    def contains(self, value: Any) -> bool:
        return any(_same(value, v) for v in self.values)

    def position(self, value: Any) -> float:
        return math.nan

    def to_dict(self) -> dict[str, Any]:
        return {self.key: list(self.values)}


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


_SPACE_KINDS: dict[str, type] = {
    LogUniform.key: LogUniform,
    Uniform.key: Uniform,
    IntRange.key: IntRange,
    Choice.key: Choice,
}


def space_from_dict(data: Any, name: str | None = None) -> Space:
    """A dimension from its plain-data form: ``{"log_uniform": [1e-5, 10]}``,
    ``{"uniform": [0.5, 0.99]}``, ``{"int_range": [3, 30]}``,
    ``{"choice": [0.9, 0.99]}``; a Space is returned as it is.

    Errors are ValueErrors that start with ``name`` (the hyper-parameter) when given.
    """
    where = f"{name}: " if name else ""
    if isinstance(data, Space):
        return data
    if not isinstance(data, Mapping) or len(data) != 1:
        raise ValueError(
            f"{where}a search space is a table with one key of {', '.join(_SPACE_KINDS)} "
            f"(e.g. {{log_uniform = [1e-5, 10.0]}}), got {data!r}"
        )
    (kind, value), = data.items()
    if kind not in _SPACE_KINDS:
        raise ValueError(f"{where}unknown search space {kind!r}; use one of {', '.join(_SPACE_KINDS)}")
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{where}{kind} takes a list, got {value!r}")
    try:
        if kind == Choice.key:
            return Choice(tuple(value))
        if len(value) != 2:
            raise ValueError(f"{kind} takes [low, high], got {list(value)!r}")
        return _SPACE_KINDS[kind](value[0], value[1])
    except ValueError as exc:
        raise ValueError(f"{where}{exc}") from None


def spaces_from_dict(data: Mapping[str, Any]) -> dict[str, Space]:
    """A whole space ``{name: dimension}`` from plain data (Spaces pass through)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a search space is a table of name = dimension, got {data!r}")
    return {str(name): space_from_dict(value, str(name)) for name, value in data.items()}


def spaces_to_dict(space: Mapping[str, Space]) -> dict[str, dict[str, Any]]:
    """Plain data of a whole space; :func:`spaces_from_dict` inverts it."""
    return {name: dim.to_dict() for name, dim in space.items()}


# ---------------------------------------------------------------------- defaults

#: What each built-in optimizer tunes by default (see the module docstring: why).
_LR = "lr"
_DEFAULT_SPACES: dict[str, Callable[[], dict[str, Space]]] = {
    **{name: (lambda: {_LR: LogUniform(*DEFAULT_LR_RANGE)})
       for name in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam",
                    "newton", "lbfgs_stochastic")},
    "lbfgs": lambda: {"m": IntRange(3, 30)},
    "bfgs": lambda: {},
}


def default_space(optimizer: str) -> dict[str, Space]:
    """The default search space of an optimizer.

    ``lr ~ LogUniform(1e-5, 10)`` for sgd, momentum, nesterov, adagrad, rmsprop,
    adam, adamw, nadam, newton and lbfgs_stochastic (the other hyper-parameters,
    AdamW's ``weight_decay`` included, keep their defaults); ``m ~ IntRange(3, 30)``
    for lbfgs; nothing for bfgs (one trial).  A user-registered or bridged optimizer
    gets its rate, ``lr`` (torch) or ``learning_rate`` (optax), if its factory takes
    one, else nothing.
    """
    if optimizer in _DEFAULT_SPACES:
        return _DEFAULT_SPACES[optimizer]()
    factory = optimizers.factory(optimizer)  # ValueError for an unknown name
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return {}
    for rate in (_LR, "learning_rate"):
        if rate in parameters:
            return {rate: LogUniform(*DEFAULT_LR_RANGE)}
    return {}
