"""Quasi-random trials (scrambled Halton) and the inverse distribution of each space."""

import math

import numpy as np
import pytest
from scipy.stats import qmc

from optbench.samplers import quasi_random_trials, random_trials
from optbench.search_space import Choice, IntRange, LogUniform, Uniform


def test_from_unit_inverts_each_distribution():
    assert LogUniform(1e-4, 1.0).from_unit(0.5) == pytest.approx(1e-2)
    assert LogUniform(1e-4, 1.0).from_unit(0.0) == pytest.approx(1e-4)
    assert Uniform(0.8, 1.0).from_unit(0.25) == pytest.approx(0.85)
    r = IntRange(3, 5)  # three integers, a third of [0, 1) each
    assert [r.from_unit(u) for u in (0.0, 0.33, 0.34, 0.67, 0.999)] == [3, 3, 4, 5, 5]
    c = Choice(("a", "b"))
    assert [c.from_unit(u) for u in (0.0, 0.49, 0.5, 0.99)] == ["a", "a", "b", "b"]


def test_from_unit_of_uniform_draws_matches_sample_in_distribution():
    space = LogUniform(1e-5, 10.0)
    u = np.random.default_rng(0).random(4000)
    logs = np.log10([space.from_unit(x) for x in u])
    assert abs(np.median(logs) - (-2.0)) < 0.1 and logs.min() >= -5 and logs.max() <= 1


def test_quasi_random_trials_are_a_prefix_and_stay_in_the_space():
    space = {"lr": LogUniform(1e-4, 1.0), "rho": Uniform(0.8, 0.99), "m": IntRange(3, 30)}
    long = quasi_random_trials(space, 16, [0, 2])
    assert quasi_random_trials(space, 5, [0, 2]) == long[:5]
    assert all(space[k].contains(t[k]) for t in long for k in space)
    assert list(long[0]) == list(space)


def test_quasi_random_trials_depend_on_the_seed_not_on_the_key_order():
    a = {"lr": LogUniform(1e-4, 1.0), "rho": Uniform(0.8, 0.99)}
    b = {"rho": Uniform(0.8, 0.99), "lr": LogUniform(1e-4, 1.0)}
    assert [sorted(t.items()) for t in quasi_random_trials(a, 5, 3)] == \
        [sorted(t.items()) for t in quasi_random_trials(b, 5, 3)]
    assert quasi_random_trials(a, 5, 3) != quasi_random_trials(a, 5, 4)


def test_quasi_random_points_cover_the_space_more_evenly_than_random_ones():
    space = {"x": Uniform(0.0, 1.0), "y": Uniform(0.0, 1.0)}
    halton = np.array([[t["x"], t["y"]] for t in quasi_random_trials(space, 64, 0)])
    rand = np.array([[t["x"], t["y"]] for t in random_trials(space, 64, np.random.default_rng(0))])
    assert qmc.discrepancy(halton) < 0.5 * qmc.discrepancy(rand)


def test_quasi_random_trials_of_an_empty_space_and_bad_counts():
    assert quasi_random_trials({}, 5, 0) == [{}]
    with pytest.raises(ValueError, match="n_trials"):
        quasi_random_trials({"x": Uniform(0.0, 1.0)}, 0, 0)
    assert not math.isnan(quasi_random_trials({"x": Uniform(0.0, 1.0)}, 1, 0)[0]["x"])
