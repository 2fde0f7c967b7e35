"""Time one step of every stepwise optimizer on flat float64 vectors (the default kernel
path), and the fused kernels against the numpy reference in float64 and float32."""

import importlib.util

import numpy as np

import optimizers

STEPWISE = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
HYPER = {"sgd": {"lr": 1e-3}, "momentum": {"lr": 1e-3}, "nesterov": {"lr": 1e-3},
         "adagrad": {"lr": 1e-2}, "rmsprop": {"lr": 1e-3}, "adam": {"lr": 1e-3}}


class FixedGradient:
    """An oracle whose gradient is a stored vector: the step's own cost is timed."""

    def __init__(self, g):
        self.g = g

    def grad(self, x):
        return self.g


class OptimizerStep:
    params = (STEPWISE, [1_000, 1_000_000])
    param_names = ["optimizer", "dim"]

    def setup(self, name, dim):
        rng = np.random.default_rng(0)
        self.opt = optimizers.get(name, **HYPER[name])
        self.x = rng.standard_normal(dim)
        self.oracle = FixedGradient(rng.standard_normal(dim))
        self.state = self.opt.init(self.x)

    def time_step(self, name, dim):
        self.opt.step(self.x, self.oracle, self.state)


class NewtonStep:
    params = [[10, 100, 300]]
    param_names = ["dim"]

    def setup(self, dim):
        import problems

        self.problem = problems.get("quadratic", dim=dim, condition_number=1e3)
        self.opt = optimizers.get("newton")
        self.x = self.problem.x0(0)
        self.state = self.opt.init(self.x)

    def time_step(self, dim):
        self.opt.step(self.x.copy(), self.problem, self.state)


# The fused kernels (optimizers/kernels.py) against the numpy reference -----------------

#: The paths to time: the numpy reference always, numba's fused kernels where numba is
#: installed (found without importing it: this module does no work at import).
KERNEL_PATHS = ["numba", "numpy"] if importlib.util.find_spec("numba") else ["numpy"]
FUSED = ["adam", "rmsprop", "adagrad", "momentum", "nesterov"]
KERNEL_DIM = 1_000_000


class KernelStep:
    """One step at n = 1e6 on the fused numba kernel or the numpy reference, float64 or float32.

    Set beside ``CopyBandwidth``: a fused adam step moves 7 arrays (reads x, g, m, v;
    writes x, m, v), the others 5, a copy 2; ``benchmarks/peers.py`` turns these into
    fractions of the copy bandwidth.
    """

    params = (FUSED, KERNEL_PATHS, ["float64", "float32"])
    param_names = ["optimizer", "kernels", "dtype"]

    def setup(self, name, path, dtype):
        rng = np.random.default_rng(0)
        self.opt = optimizers.get(name, **HYPER[name]).with_kernels(path)
        self.x = rng.standard_normal(KERNEL_DIM).astype(dtype)
        self.oracle = FixedGradient(rng.standard_normal(KERNEL_DIM).astype(dtype))
        self.state = self.opt.init(self.x)
        self.opt.step(self.x, self.oracle, self.state)  # compiles, or loads numba's cache

    def time_step(self, name, path, dtype):
        self.opt.step(self.x, self.oracle, self.state)


class CopyBandwidth:
    """``np.copyto`` of n = 1e6 elements: the memory-bandwidth yardstick of ``KernelStep``."""

    params = [["float64", "float32"]]
    param_names = ["dtype"]

    def setup(self, dtype):
        self.src = np.random.default_rng(0).standard_normal(KERNEL_DIM).astype(dtype)
        self.dst = np.empty_like(self.src)

    def time_copyto(self, dtype):
        np.copyto(self.dst, self.src)
