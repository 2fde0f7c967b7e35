"""A plugin for the fault tests: registers ``crashing``, a problem whose gradient
kills the process that computes it (as a segfault in native code would)."""

import os

import numpy as np

import problems


class Crashing(problems.Problem):
    name = "crashing"

    def __init__(self, dim: int = 2) -> None:
        self.dim, self.params, self.f_star, self.has_hess = dim, {"dim": dim}, 0.0, False

    def x0(self, seed: int = 0) -> np.ndarray:
        return np.ones(self.dim)

    def loss(self, x: np.ndarray) -> float:
        return 0.5 * float(x @ x)

    def grad(self, x: np.ndarray) -> np.ndarray:
        os._exit(3)


problems.register("crashing", Crashing)
