"""What the fork server of the local process pool imports once (see :mod:`optbench.study`),
so that every worker forked from it starts warm.

Importing this module imports the harness (problems, optimizers, runner, store) and
takes one step of each optimizer that has a fused kernel (sgd, momentum, nesterov,
adagrad, rmsprop, adam with and without bias correction, adamw, nadam) on a
2-element float64 vector, which loads numba's compiled float64 kernels (from numba's
on-disk cache) when numba is the active path.  A worker forked afterwards inherits them; without
this, each worker loads them on its first runs, ~0.5 s of CPU per worker and study.

The steps call no BLAS routine and start no thread, so the fork server stays
single-threaded.  Warming is an optimisation only: if a step fails (an optimizer
renamed a parameter, say), it is left out and the worker loads that kernel itself
on first use.
"""

from __future__ import annotations

import numpy as np

import optimizers

from . import study  # noqa: F401 - the harness a worker runs, imported here once

#: One step of each of these (registry name, hyper-parameters) is taken at import.
WARM_STEPS: tuple[tuple[str, dict], ...] = (
    ("sgd", {"lr": 0.1}),
    ("momentum", {"lr": 0.1}),
    ("nesterov", {"lr": 0.1}),
    ("adagrad", {"lr": 0.1}),
    ("rmsprop", {"lr": 0.1}),
    ("adam", {"lr": 0.1}),
    ("adam", {"lr": 0.1, "bias_correction": False}),
    ("adamw", {"lr": 0.1}),
    ("nadam", {"lr": 0.1}),
)


class _Bowl:
    """``f(x) = |x|^2 / 2``: gradient ``x``."""

    def loss(self, x: np.ndarray) -> float:
        return 0.5 * float(x @ x)

    def grad(self, x: np.ndarray) -> np.ndarray:
        return x.copy()


def warm_step(name: str, params: dict) -> bool:
    """Take one step of ``optimizers.get(name, **params)`` from ``[1, -1]``; False if it raised."""
    try:
        opt = optimizers.get(name, **params)
        if not isinstance(opt, optimizers.Optimizer):  # a whole-run solver has no kernel
            return False
        x = np.array([1.0, -1.0])
        opt.step(x, _Bowl(), opt.init(x))
    except Exception:  # an optimisation only: the worker loads this kernel on first use
        return False
    return True


WARMED = tuple(warm_step(name, params) for name, params in WARM_STEPS)
