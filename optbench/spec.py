"""RunSpec: one run as plain data, and its hash (the run's identity).

A spec names a problem and an optimizer by their registry names with their
parameters, the run's seed (x0 and minibatches), the step budget and the recording
and stopping options.  It is JSON-serializable; :func:`RunSpec.run_id` hashes its
canonical JSON together with :data:`TRACE_FORMAT`, so that the same spec always
maps to the same file in a results directory and a change of the trace format
never reuses old results.  Output paths and job counts are not part of a spec.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

#: Version of the trace layout; bump it when a change alters what a trace holds.
TRACE_FORMAT = 1

#: Defaults of the run options a spec may set (see :func:`optbench.run`).
RUN_OPTIONS: dict[str, Any] = {
    "tol_grad": 1e-10,
    "tol_subopt": None,
    "diverge_factor": 1e6,
    "record": "every",
    "points_per_decade": 40,
}

#: What each run option allows, for error messages.
RUN_OPTION_RULES = {
    "tol_grad": "a number >= 0 or none",
    "tol_subopt": "a number >= 0 or none",
    "diverge_factor": "a number > 0",
    "record": "'every', 'log' or a list of steps (integers >= 1)",
    "points_per_decade": "an integer >= 1",
}


def check_run_option(key: str, value: Any) -> str | None:
    """None if ``value`` is allowed for run option ``key``, else what is allowed."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if key in ("tol_grad", "tol_subopt"):
        ok = value is None or (number and value >= 0)
    elif key == "diverge_factor":
        ok = number and value > 0
    elif key == "record":
        ok = value in ("every", "log") or (
            isinstance(value, (list, tuple)) and all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value))
    elif key == "points_per_decade":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    else:
        return f"one of the run options {sorted(RUN_OPTIONS)}"
    return None if ok else RUN_OPTION_RULES[key]


def _canonical(value: Any) -> Any:
    """Turn tuples into lists and check that ``value`` is JSON data."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"spec values must be finite numbers, got {value!r}")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):  # numpy scalar
        return _canonical(value.item())
    raise ValueError(f"spec values must be JSON data (numbers, strings, lists, tables), got {value!r}")


def format_value(value: Any) -> str:
    """Short text for a parameter value in labels and table columns."""
    if isinstance(value, dict):
        inner = ",".join(f"{k}={format_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def label(name: str, params: dict[str, Any]) -> str:
    """benchopt-style name: ``adam[lr=0.01,beta1=0.9]`` (bare name without params)."""
    if not params:
        return name
    return name + "[" + ",".join(f"{k}={format_value(v)}" for k, v in params.items()) + "]"


@dataclass(frozen=True)
class RunSpec:
    """One run: ``problem(problem_params) x optimizer(optimizer_params) x seed``.

    ``problem_params['seed']`` (where the family takes one) seeds the problem's data;
    ``seed`` seeds the run: its initial point and its minibatches.
    """

    problem: str
    optimizer: str
    problem_params: dict[str, Any] = field(default_factory=dict)
    optimizer_params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    steps: int = 100
    record_every: int = 1
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("seed", "steps", "record_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if self.record_every < 1:
            raise ValueError(f"record_every must be >= 1, got {self.record_every}")
        unknown = set(self.options) - set(RUN_OPTIONS)
        if unknown:
            raise ValueError(
                f"unknown run option(s) {sorted(unknown)}; allowed: {sorted(RUN_OPTIONS)}"
            )
        for key, value in self.options.items():
            allowed = check_run_option(key, value)
            if allowed is not None:
                raise ValueError(f"run option {key} must be {allowed}, got {value!r}")
        for name in ("problem_params", "optimizer_params", "options"):
            object.__setattr__(self, name, _canonical(dict(getattr(self, name))))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data; :meth:`from_dict` inverts it."""
        return {
            "problem": self.problem,
            "problem_params": self.problem_params,
            "optimizer": self.optimizer,
            "optimizer_params": self.optimizer_params,
            "seed": self.seed,
            "steps": self.steps,
            "record_every": self.record_every,
            "options": self.options,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunSpec":
        return cls(**data)

    def run_id(self) -> str:
        """Hex digest (16 chars) of the canonical JSON of the spec and TRACE_FORMAT."""
        payload = json.dumps(
            {"format": TRACE_FORMAT, **self.to_dict()},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @property
    def problem_label(self) -> str:
        return label(self.problem, self.problem_params)

    @property
    def optimizer_label(self) -> str:
        return label(self.optimizer, self.optimizer_params)

    def run_options(self) -> dict[str, Any]:
        """The run options with defaults filled in."""
        return {**RUN_OPTIONS, **self.options}
