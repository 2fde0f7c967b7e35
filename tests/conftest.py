"""Shared fixtures: tiny problems written out in full, independent of problems/."""

from __future__ import annotations

import numpy as np
import pytest


class DiagQuadratic:
    """f(x) = 1/2 sum(a_i x_i^2); a tiny, fully transparent problem for harness tests."""

    name = "diag_quadratic"

    def __init__(self, a=(1.0, 10.0), stochastic=False, noise=0.0):
        self.a = np.asarray(a, dtype=float)
        self.dim = len(self.a)
        self.params = {"a": list(a)}
        self.f_star = 0.0
        self.stochastic = stochastic
        self.noise = noise
        self.has_hess = True

    def x0(self, seed=0):
        return np.ones(self.dim) + 0.1 * np.random.default_rng(seed).standard_normal(self.dim)

    def loss(self, x):
        return float(0.5 * np.sum(self.a * x * x))

    def grad(self, x):
        return self.a * x

    def hess(self, x):
        return np.diag(self.a)

    def minibatch(self, rng):
        xi = self.noise * rng.standard_normal(self.dim)
        outer = self

        class Batch:
            def loss(self, x):
                return outer.loss(x) + float(xi @ x)

            def grad(self, x):
                return outer.grad(x) + xi

            def hess(self, x):
                return outer.hess(x)

        return Batch()


@pytest.fixture
def diag_quadratic():
    return DiagQuadratic()
