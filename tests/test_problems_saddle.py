"""Saddle: the stationary points, the initial point and the slow escape of GD."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from problems.saddle import Saddle


@pytest.mark.parametrize("dim, n_neg", [(2, 1), (5, 2), (3, 3), (1, 1)])
def test_origin_is_a_strict_saddle(dim, n_neg):
    p = Saddle(dim, n_neg)
    zero = np.zeros(dim)
    assert p.loss(zero) == 0.0
    np.testing.assert_array_equal(p.grad(zero), zero)
    eig = np.linalg.eigvalsh(p.hess(zero))
    np.testing.assert_array_equal(eig, [-1.0] * n_neg + [1.0] * (dim - n_neg))


@pytest.mark.parametrize("dim, n_neg", [(2, 1), (5, 2), (3, 3)])
def test_minima_attain_f_star(dim, n_neg):
    p = Saddle(dim, n_neg)
    assert p.f_star == -n_neg / 4
    for signs in itertools.product([-1.0, 1.0], repeat=n_neg):
        x = np.concatenate([np.zeros(dim - n_neg), signs])
        assert p.loss(x) == p.f_star
        np.testing.assert_array_equal(p.grad(x), np.zeros(dim))
        assert np.linalg.eigvalsh(p.hess(x)).min() > 0


def test_loss_formula():
    p = Saddle(4, 2)
    x = np.array([1.0, -2.0, 2.0, 0.5])
    expected = 0.5 * (1 + 4) + (16 / 4 - 4 / 2) + (0.0625 / 4 - 0.25 / 2)
    assert p.loss(x) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("offset", [1e-3, 0.1, 0.0])
def test_x0_starts_near_the_saddle(offset):
    p = Saddle(6, 2, offset=offset)
    for seed in range(5):
        x = p.x0(seed)
        np.testing.assert_array_equal(np.abs(x[4:]), offset)
        assert np.linalg.norm(x[:4]) > 0.1  # the stable coordinates are N(0, 1)
    assert not np.array_equal(p.x0(0)[:4], p.x0(1)[:4])
    if offset > 0:  # the side of the saddle is seeded
        sides = {tuple(np.sign(p.x0(seed)[4:])) for seed in range(20)}
        assert len(sides) > 1


@pytest.mark.parametrize("lr, offset", [(0.1, 1e-3), (0.05, 1e-4)])
def test_gradient_descent_escapes_like_one_plus_lr_to_the_t(lr, offset):
    p = Saddle(3, 1, offset=offset)
    x = p.x0(0)
    threshold = 0.1
    steps = 0
    while abs(x[-1]) < threshold:
        x = x - lr * p.grad(x)
        steps += 1
        assert steps < 10_000
    linear = math.log(threshold / offset) / math.log(1 + lr)
    # the cubic term only slows the escape, by ~1% below |y| = 0.1
    assert linear <= steps <= 1.03 * linear + 1
    # the stable coordinates have contracted like (1 - lr)^t meanwhile
    np.testing.assert_allclose(x[:2], p.x0(0)[:2] * (1 - lr) ** steps, rtol=1e-10)
    # and GD then reaches a minimum
    for _ in range(2000):
        x = x - lr * p.grad(x)
    assert p.loss(x) == pytest.approx(p.f_star, abs=1e-12)


def test_zero_offset_never_escapes():
    p = Saddle(2, 1, offset=0.0)
    x = p.x0(0)
    for _ in range(500):
        x = x - 0.1 * p.grad(x)
    assert x[-1] == 0.0
    assert p.loss(x) == pytest.approx(0.0, abs=1e-12)
