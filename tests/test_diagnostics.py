"""optbench.diagnostics.activation_stats on mlp problems."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from optbench.diagnostics import ACTIVATION_STATS_COLUMNS, activation_stats
from problems.mlp import ACTIVATIONS, MLP

SPIRAL = {"dataset": "spiral", "hidden": (6, 5, 4), "n_samples": 60, "batch_size": None}


def test_one_row_per_hidden_layer_with_the_documented_columns():
    p = MLP(**SPIRAL, activation="tanh")
    stats = activation_stats(p, p.x0(0))
    assert isinstance(stats, pd.DataFrame)
    assert tuple(stats.columns) == ACTIVATION_STATS_COLUMNS
    assert stats["layer"].tolist() == [1, 2, 3]
    assert stats["width"].tolist() == [6, 5, 4]
    assert stats["activation"].tolist() == ["tanh"] * 3
    assert stats["layer"].dtype == np.int64 and stats["mean"].dtype == np.float64


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mean_and_std_are_those_of_the_activations(activation):
    p = MLP(**SPIRAL, activation=activation, batchnorm=True)
    x = p.x0(1) + 0.5 * np.random.default_rng(0).standard_normal(p.dim)
    stats = activation_stats(p, x)
    for row, h in zip(stats.itertuples(), p.forward_activations(x)):
        assert row.mean == pytest.approx(h.mean(), rel=1e-12, abs=1e-15)
        assert row.std == pytest.approx(h.std(), rel=1e-12)
        assert h.shape == (p.n_train, row.width)


def test_rows_x_are_used_when_given():
    p = MLP(**SPIRAL, activation="relu")
    x = p.x0(0)
    on_train, on_val = activation_stats(p, x), activation_stats(p, x, p.X_val)
    assert not np.allclose(on_train["mean"], on_val["mean"])
    for row, h in zip(on_val.itertuples(), p.forward_activations(x, p.X_val)):
        assert row.mean == pytest.approx(h.mean(), rel=1e-12)


def test_saturation_of_tanh_and_sigmoid():
    for activation in ("tanh", "sigmoid"):
        p = MLP(**SPIRAL, activation=activation, init="large")
        # weights of std 100: a first-layer input z = a @ w has std 100 |a|, far
        # beyond the tails' thresholds (|z| > 2.65 for tanh, 4.6 for sigmoid) but
        # for the few spiral points near the center (|a| < 0.05 or so)
        x = 100.0 * p.x0(0)
        h = p.forward_activations(x)
        if activation == "tanh":
            expected = [np.mean(np.abs(a) > 0.99) for a in h]
        else:
            expected = [np.mean((a <= 0.01) | (a >= 0.99)) for a in h]
        stats = activation_stats(p, x)
        np.testing.assert_allclose(stats["frac_saturated"], expected, rtol=1e-12)
        assert stats["frac_saturated"].iloc[0] > 0.8
        assert stats["frac_dead"].isna().all()
        small = activation_stats(p, 1e-4 * x)  # small weights: none saturated
        np.testing.assert_array_equal(small["frac_saturated"], 0.0)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_dead_units_of_relu_and_leaky_relu(activation):
    p = MLP(**SPIRAL, activation=activation)
    x = p.x0(0)
    alive = activation_stats(p, x)
    layers = p.layers(x)
    layers[0].b[[1, 4]] = -1e3  # two of the six first-layer units never fire
    stats = activation_stats(p, x)
    assert stats["frac_dead"].iloc[0] == pytest.approx(alive["frac_dead"].iloc[0] + 2 / 6)
    for row, h in zip(stats.itertuples(), p.forward_activations(x)):
        assert row.frac_dead == np.mean(np.all(h <= 0, axis=0))
    assert stats["frac_saturated"].isna().all()


@pytest.mark.parametrize("activation", ["elu", "maxout"])
def test_no_saturation_or_death_measure_for_other_activations(activation):
    p = MLP(**SPIRAL, activation=activation)
    stats = activation_stats(p, p.x0(0))
    assert stats["frac_saturated"].isna().all() and stats["frac_dead"].isna().all()
    assert all(math.isfinite(v) for v in stats["std"])


def test_evaluation_mode_is_used_with_batchnorm():
    p = MLP(**SPIRAL, activation="tanh", batchnorm=True)
    x = p.x0(0)
    rows = p.X_train[:5]
    stats = activation_stats(p, x, rows)
    evaluation = p.forward_activations(x, rows)
    training = p.forward_activations(x, rows, training=True)
    assert stats["mean"].iloc[0] == pytest.approx(evaluation[0].mean(), rel=1e-12)
    assert stats["mean"].iloc[0] != pytest.approx(training[0].mean(), rel=1e-3)


def test_docstring_examples():
    import doctest

    from optbench import diagnostics

    result = doctest.testmod(diagnostics, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
