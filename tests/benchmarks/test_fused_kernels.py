"""pytest-benchmark micro-timings of one step on the fused numba kernel and on the numpy reference.

n = 1e6, float64 and float32 (see ``optimizers/kernels.py``).  In the ordinary test
run each runs once as a test; time them with::

    python -m pytest tests/benchmarks/test_fused_kernels.py --benchmark-enable --benchmark-only \\
        --benchmark-group-by=param:name

The numba rows exist where numba is installed (``pip install optbench[fast]``).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import optimizers
from optimizers import kernels

DIM = 1_000_000
RATES = {"sgd": 1e-3, "momentum": 1e-3, "nesterov": 1e-3, "adagrad": 1e-2, "rmsprop": 1e-3,
         "adam": 1e-3}
PATHS = ["numba", "numpy"] if importlib.util.find_spec("numba") else ["numpy"]


class FixedGradient:
    def __init__(self, g):
        self.g = g

    def grad(self, x):
        return self.g


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", sorted(RATES))
def test_step_on_each_kernel_path(benchmark, name, path, dtype):
    rng = np.random.default_rng(0)
    opt = optimizers.get(name, lr=RATES[name]).with_kernels(path)
    assert kernels.active(path) == path
    x = rng.standard_normal(DIM).astype(dtype)
    g = rng.standard_normal(DIM).astype(dtype)
    kept = g.copy()
    oracle = FixedGradient(g)
    state = opt.init(x)
    opt.step(x, oracle, state)  # compiles (or loads numba's cache) outside the timing
    out = benchmark(opt.step, x, oracle, state)
    assert out is x and x.dtype == dtype and np.isfinite(x).all() and state.t >= 2
    np.testing.assert_array_equal(g, kept)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_copy_of_the_same_length(benchmark, dtype):
    """The yardstick: ``np.copyto`` moves 2 arrays; a fused adam step moves 7, the others 5."""
    src = np.random.default_rng(0).standard_normal(DIM).astype(dtype)
    dst = np.empty_like(src)
    benchmark(np.copyto, dst, src)
    np.testing.assert_array_equal(dst, src)
