"""Rosenbrock against scipy.optimize.rosen, rosen_der and rosen_hess."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der, rosen_hess

from problems.rosenbrock import Rosenbrock


@pytest.mark.parametrize("dim", [2, 3, 6, 11])
def test_matches_scipy(dim):
    p = Rosenbrock(dim)
    rng = np.random.default_rng(dim)
    points = [p.x0(0), p.x0(3), np.ones(dim)] + [2 * rng.standard_normal(dim)
                                                 for _ in range(4)]
    for x in points:
        assert p.loss(x) == pytest.approx(rosen(x), rel=1e-13, abs=1e-300)
        np.testing.assert_allclose(p.grad(x), rosen_der(x), rtol=1e-13, atol=1e-12)
        np.testing.assert_allclose(p.hess(x), rosen_hess(x), rtol=1e-13, atol=1e-12)


def test_minimum():
    p = Rosenbrock(5)
    assert p.f_star == 0.0
    assert p.loss(np.ones(5)) == 0.0
    np.testing.assert_array_equal(p.grad(np.ones(5)), np.zeros(5))
    assert np.linalg.eigvalsh(p.hess(np.ones(5))).min() > 0


@pytest.mark.parametrize("dim", [2, 5])
def test_x0_is_the_classic_start_then_perturbed(dim):
    p = Rosenbrock(dim)
    classic = np.array([-1.2, 1.0] * dim)[:dim]
    np.testing.assert_array_equal(p.x0(0), classic)
    if dim == 2:  # 100 (1 - 1.44)^2 + 2.2^2
        assert p.loss(p.x0(0)) == pytest.approx(24.2, rel=1e-14)
    for seed in (1, 2, 3):
        delta = p.x0(seed) - classic
        assert 0 < np.abs(delta).max() < 0.5  # perturbation of scale 0.1
