"""The mlp family: the objective and its gradient, batch norm modes, init, data, layout."""

from __future__ import annotations

import json

import numpy as np
import pytest

from optbench.diagnostics import activation_stats
from problems import mlp_data
from problems.mlp import (
    ACTIVATIONS,
    BN_EPS,
    INITS,
    MLP,
    MLPBatchOracle,
    batchnorm_backward,
    batchnorm_forward,
    init_std,
    softmax_cross_entropy,
)

pytest.importorskip("sklearn")  # the digits data; the spiral needs nothing

#: A tiny net on a few spiral points: cheap enough for finite differences everywhere.
TINY = {"dataset": "spiral", "hidden": (5, 4), "n_samples": 30, "batch_size": 8}
#: Activations with a kink: relu, leaky relu, maxout, and elu unless alpha = 1 (its
#: slope jumps from alpha to 1 at 0; the tests use alpha = 0.7).
KINKED = ("relu", "leaky_relu", "maxout", "elu")


# Reference implementations, written for reading, not for speed ----------------------


def reference_activation(name, z, alpha=1.0):
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.1 * z)
    if name == "elu":
        return np.where(z >= 0, z, alpha * (np.exp(z) - 1.0))
    if name == "maxout":
        w = z.shape[1] // 2
        return np.maximum(z[:, :w], z[:, w:])
    raise AssertionError(name)


def reference_logits(problem, x, X, stats=None):
    """Logits of ``X``; batch norm uses ``stats`` [(mean, var)] or the batch's own.

    Also returns the statistics used and the pre-activations of every hidden layer.
    """
    layers = problem.layers(x)
    a, used, pre = X, [], []
    for i, layer in enumerate(layers[:-1]):
        z = a @ layer.W + layer.b
        if problem.batchnorm:
            mean, var = (z.mean(axis=0), z.var(axis=0)) if stats is None else stats[i]
            used.append((mean, var))
            z = layer.gamma * (z - mean) / np.sqrt(var + BN_EPS) + layer.beta
        pre.append(z)
        a = reference_activation(problem.activation, z, problem.alpha)
    return a @ layers[-1].W + layers[-1].b, used, pre


def reference_objective(problem, x, X, y):
    """Training-mode mean cross-entropy of the rows plus reg/2 * sum of |W|^2."""
    logits, _, _ = reference_logits(problem, x, X)
    log_p = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    penalty = sum(np.sum(layer.W**2) for layer in problem.layers(x))
    return -np.mean(log_p[np.arange(len(y)), y]) + 0.5 * problem.reg * penalty


# Gradients by central finite differences -------------------------------------------

H = 1e-6


def kink_pattern(problem, x, rows):
    """Which side of its kink every pre-activation of ``rows`` is on (training mode)."""
    parts = []
    for z in problem.pre_activations(x, rows, training=True):
        if problem.activation == "maxout":
            w = z.shape[1] // 2
            parts.append((z[:, :w] >= z[:, w:]).ravel())
        else:
            parts.append((z > 0).ravel())
    return np.concatenate(parts)


def fd_grad(loss, x, pattern=None):
    """Central differences with steps ``H * max(1, |x_i|)``.

    With ``pattern`` (a function of the point), also reports whether every perturbed
    point lies in the same smooth piece as ``x`` (no pre-activation crossed a kink).
    """
    g = np.empty_like(x)
    base = None if pattern is None else pattern(x)
    smooth = True
    for i in range(x.size):
        step = H * max(1.0, abs(x[i]))
        up, down = x.copy(), x.copy()
        up[i] += step
        down[i] -= step
        g[i] = (loss(up) - loss(down)) / (2 * step)
        if base is not None:
            smooth &= np.array_equal(pattern(up), base) and np.array_equal(pattern(down), base)
    return g, smooth


def check_gradient(problem, oracle, rows, x_of_seed):
    """Compare ``oracle.grad`` with finite differences at the first smooth seeded point."""
    kinked = problem.activation in KINKED
    for seed in range(20):
        x = x_of_seed(seed)
        pattern = (lambda z: kink_pattern(problem, z, rows)) if kinked else None
        g_fd, smooth = fd_grad(oracle.loss, x, pattern)
        if smooth:
            break
    else:
        pytest.fail("no seeded point away from the kinks")
    g = oracle.grad(x)
    # Rounding: each difference quotient carries an error of about eps*|f|/H (two
    # loss values, each correct to a few ulps of |f| ~ 1, divided by 2H), so the
    # vector of them up to sqrt(dim) * 4 eps |f| / H ~ 1e-8 for these nets.  This
    # floor matters only where the gradient itself is tiny (init="small" without
    # batch norm, |g| ~ 1e-4); elsewhere the relative error of 1e-6 decides.
    floor = np.sqrt(x.size) * 4 * np.finfo(float).eps * max(1.0, abs(oracle.loss(x))) / H
    assert np.linalg.norm(g_fd - g) <= 1e-6 * np.linalg.norm(g) + floor


# "msra" is another name of "he": the same initial points (test_init_std_values),
# so the same finite-difference checks; it is left out here.
FD_INITS = [init for init in INITS if init != "msra"]


@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("init", FD_INITS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradient_matches_finite_differences(activation, init, batchnorm):
    p = MLP(**{**TINY, "hidden": (4, 3)}, activation=activation, init=init,
            batchnorm=batchnorm, alpha=0.7)
    assert p.stochastic
    # the full objective, at the initial point of this init
    check_gradient(p, p, None, p.x0)
    # a minibatch oracle, at the initial point moved by a little seeded noise (so
    # that the point is not one the full objective was just checked at)
    oracle = p.minibatch(np.random.default_rng(1))
    rows = p.X_train[oracle.indices]

    def moved(seed):
        x = p.x0(seed)
        return x + 0.1 * np.abs(x).mean() * np.random.default_rng(seed).standard_normal(x.size)

    check_gradient(p, oracle, rows, moved)


def test_gradient_of_a_deeper_net_with_regularisation():
    p = MLP(dataset="spiral", hidden=(3, 4, 3), n_samples=24, batch_size=None,
            activation="tanh", batchnorm=True, reg=0.3)
    x = p.x0(2)
    g_fd, _ = fd_grad(p.loss, x)
    assert np.linalg.norm(g_fd - p.grad(x)) <= 1e-6 * np.linalg.norm(p.grad(x))


@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_loss_matches_the_reference_formula(activation, batchnorm):
    p = MLP(**TINY, activation=activation, batchnorm=batchnorm, reg=0.05, alpha=0.7)
    x = p.x0(3)
    x += 0.3 * np.random.default_rng(0).standard_normal(p.dim)  # gamma, beta, b != 1, 0
    assert p.loss(x) == pytest.approx(
        reference_objective(p, x, p.X_train, p.y_train), rel=1e-12)
    oracle = p.minibatch(np.random.default_rng(4))
    rows, labels = p.X_train[oracle.indices], p.y_train[oracle.indices]
    assert oracle.loss(x) == pytest.approx(reference_objective(p, x, rows, labels), rel=1e-12)


def test_penalty_covers_the_weights_only():
    p = MLP(**TINY, batchnorm=True, reg=0.5)
    x = p.x0(0)
    for layer in p.layers(x):  # biases and batch norm parameters: not penalised
        layer.b[...] = 3.0
        if layer.gamma is not None:
            layer.gamma[...] = 5.0
            layer.beta[...] = -2.0
    weights = np.concatenate([layer.W.ravel() for layer in p.layers(x)])
    assert p.penalty(x) == pytest.approx(0.25 * weights @ weights, rel=1e-14)
    # so the gradient of gamma, beta, b is the data term's alone
    q = MLP(**TINY, batchnorm=True, reg=0.0)
    for g_reg, g0, layer in zip(p.layers(p.grad(x)), q.layers(q.grad(x)), p.layers(x)):
        np.testing.assert_allclose(g_reg.W - g0.W, 0.5 * layer.W, atol=1e-12)
        np.testing.assert_array_equal(g_reg.b, g0.b)


# Batch normalisation --------------------------------------------------------------


def test_batchnorm_forward_normalises_each_feature():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((40, 6)) * np.geomspace(0.1, 30, 6) + np.arange(6) * 5
    gamma, beta = rng.uniform(0.5, 2.0, 6), rng.standard_normal(6)
    y, cache, mean, var = batchnorm_forward(z, gamma, beta)
    x_hat = (y - beta) / gamma
    np.testing.assert_allclose(x_hat.mean(axis=0), 0.0, atol=1e-12)
    # (biased) variance var / (var + eps): 1 to within eps/var <= 1e-5/0.01
    np.testing.assert_allclose(x_hat.var(axis=0), 1.0, atol=2e-3)
    np.testing.assert_allclose(x_hat.var(axis=0), var / (var + BN_EPS), rtol=1e-12)
    np.testing.assert_allclose(mean, z.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(var, z.var(axis=0), rtol=1e-12)
    np.testing.assert_allclose(cache.x_hat, x_hat, rtol=1e-12, atol=1e-12)


def test_batchnorm_backward_matches_finite_differences():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((7, 3)) * 2 + 1
    gamma, beta, w = rng.uniform(0.5, 2, 3), rng.standard_normal(3), rng.standard_normal((7, 3))

    def f(zz):
        return float(np.sum(w * batchnorm_forward(zz, gamma, beta)[0]))

    dz, dgamma, dbeta = batchnorm_backward(w, batchnorm_forward(z, gamma, beta)[1])
    g_fd = np.empty(z.size)
    for i in range(z.size):
        e = np.zeros(z.size)
        e[i] = 1e-6
        g_fd[i] = (f(z + e.reshape(z.shape)) - f(z - e.reshape(z.shape))) / 2e-6
    np.testing.assert_allclose(dz.ravel(), g_fd, atol=1e-8)
    x_hat = (z - z.mean(axis=0)) / np.sqrt(z.var(axis=0) + BN_EPS)
    np.testing.assert_allclose(dgamma, np.sum(w * x_hat, axis=0), rtol=1e-12)
    np.testing.assert_allclose(dbeta, w.sum(axis=0), rtol=1e-12)


def bn_point(problem, seed=0):
    """A point with gamma, beta and b away from their initial 1, 0, 0."""
    x = problem.x0(seed)
    rng = np.random.default_rng(seed + 100)
    for layer in problem.layers(x):
        layer.b[...] = rng.standard_normal(layer.b.shape)
        if layer.gamma is not None:
            layer.gamma[...] = rng.uniform(0.5, 2.0, layer.gamma.shape)
            layer.beta[...] = rng.standard_normal(layer.beta.shape)
    return x


def test_training_mode_normalises_with_the_batch_statistics():
    p = MLP(**TINY, activation="tanh", batchnorm=True)
    x = bn_point(p)
    oracle = p.minibatch(np.random.default_rng(0))
    rows = p.X_train[oracle.indices]
    pre = p.pre_activations(x, rows, training=True)
    for z, layer in zip(pre, p.layers(x)):
        x_hat = (z - layer.beta) / layer.gamma
        np.testing.assert_allclose(x_hat.mean(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(x_hat.var(axis=0), 1.0, atol=1e-3)  # var/(var+eps)
    # the minibatch oracle is exactly this training-mode net on its rows
    logits, _, ref_pre = reference_logits(p, x, rows)
    for z, z_ref in zip(pre, ref_pre):
        np.testing.assert_allclose(z, z_ref, rtol=1e-12, atol=1e-12)


def test_evaluation_mode_uses_the_training_population_statistics():
    p = MLP(**{**TINY, "hidden": (5, 4, 3)}, activation="tanh", batchnorm=True)
    x = bn_point(p, 1)
    # direct numpy: the training split's mean and biased variance, layer after layer
    _, stats, _ = reference_logits(p, x, p.X_train)
    for _mean, var in stats:
        assert np.all(var > 1e-3)
    logits, _, pre = reference_logits(p, x, p.X_val, stats)
    for z, z_ref in zip(p.pre_activations(x, p.X_val), pre):
        np.testing.assert_allclose(z, z_ref, rtol=1e-12, atol=1e-12)
    for h, z_ref in zip(p.forward_activations(x, p.X_val), pre):
        np.testing.assert_allclose(h, np.tanh(z_ref), rtol=1e-12, atol=1e-12)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(p.predict_proba(x, "val"), e / e.sum(axis=1, keepdims=True),
                               rtol=1e-12)


def test_evaluation_mode_differs_from_the_statistics_of_a_small_batch():
    p = MLP(**TINY, activation="tanh", batchnorm=True)
    x = bn_point(p, 2)
    rows = p.X_train[:6]
    evaluation = p.pre_activations(x, rows)
    training = p.pre_activations(x, rows, training=True)
    for z_eval, z_train in zip(evaluation, training):
        assert np.max(np.abs(z_eval - z_train)) > 1e-2
    # evaluation treats rows independently; training mode couples them
    np.testing.assert_allclose(p.pre_activations(x, rows[:2])[1], evaluation[1][:2],
                               rtol=1e-12, atol=1e-14)
    assert not np.allclose(p.pre_activations(x, rows[:2], training=True)[1], training[1][:2])


def test_full_objective_is_the_evaluation_loss_on_the_training_split():
    # training mode over the whole training split = evaluation mode on it
    p = MLP(**TINY, activation="relu", batchnorm=True, reg=0.01)
    x = bn_point(p, 3)
    proba = p.predict_proba(x, "train")
    cross_entropy = -np.mean(np.log(proba[np.arange(p.n_train), p.y_train]))
    assert p.loss(x) == pytest.approx(cross_entropy + p.penalty(x), rel=1e-12)
    # while a minibatch uses its own statistics
    oracle = p.minibatch(np.random.default_rng(0))
    proba_rows = proba[oracle.indices]
    ce_rows = -np.mean(np.log(proba_rows[np.arange(p.batch_size), p.y_train[oracle.indices]]))
    assert abs(oracle.loss(x) - (ce_rows + p.penalty(x))) > 1e-3


def test_batchnorm_needs_two_rows_per_batch():
    with pytest.raises(ValueError, match="batch_size"):
        MLP(**{**TINY, "batch_size": 1}, batchnorm=True)
    assert MLP(**{**TINY, "batch_size": 1}).stochastic


# Problems are pure functions of x ----------------------------------------------------


@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "bn"])
def test_results_do_not_depend_on_call_history(batchnorm):
    p = MLP(**TINY, batchnorm=batchnorm)
    x, other = p.x0(0), p.x0(1)
    f, g, m = p.loss(x), p.grad(x), p.metrics(x)
    oracle = p.minibatch(np.random.default_rng(0))
    fb, gb = oracle.loss(x), oracle.grad(x)
    # other evaluations in between: at another point, on other rows, other modes
    p.loss(other), p.grad(other), p.metrics(other), p.predict_proba(other)
    p.minibatch(np.random.default_rng(1)).grad(other)
    p.forward_activations(other, p.X_val[:3], training=True)
    assert p.loss(x) == f and oracle.loss(x) == fb
    np.testing.assert_array_equal(p.grad(x), g)
    np.testing.assert_array_equal(oracle.grad(x), gb)
    assert p.metrics(x) == m


# Initialisation ------------------------------------------------------------------------


def deep_tanh(init):
    return MLP(hidden=(100,) * 10, activation="tanh", init=init, preprocess="standardize")


def test_small_init_makes_the_activations_vanish():
    stats = activation_stats(deep_tanh("small"), deep_tanh("small").x0(0))
    assert len(stats) == 10
    assert stats["std"].iloc[-1] < 1e-3
    assert stats["std"].is_monotonic_decreasing


def test_large_init_saturates_tanh():
    p = deep_tanh("large")
    assert activation_stats(p, p.x0(0))["frac_saturated"].iloc[-1] > 0.5


def test_xavier_init_keeps_a_healthy_spread():
    p = deep_tanh("xavier")
    stats = activation_stats(p, p.x0(0))
    assert 0.1 < stats["std"].iloc[-1] < 1.0
    assert stats["frac_saturated"].iloc[-1] < 0.1


@pytest.mark.parametrize("init", INITS)
def test_x0_draws_the_weights_with_the_init_scale(init):
    p = MLP(hidden=(300, 200), init=init, batchnorm=True)
    x = p.x0(0)
    for layer in p.layers(x):
        fan_in = layer.W.shape[0]
        assert layer.W.std() == pytest.approx(init_std(init, fan_in), rel=0.03)
        assert abs(layer.W.mean()) < 0.05 * init_std(init, fan_in)
        np.testing.assert_array_equal(layer.b, 0.0)
        if layer.gamma is not None:
            np.testing.assert_array_equal(layer.gamma, 1.0)
            np.testing.assert_array_equal(layer.beta, 0.0)
    assert layer.gamma is None  # the output layer has no batch norm


def test_init_std_values():
    assert init_std("small", 50) == 0.01
    assert init_std("large", 50) == 1.0
    assert init_std("xavier", 64) == 0.125
    assert init_std("he", 32) == 0.25
    assert init_std("msra", 32) == init_std("he", 32)
    p, q = MLP(**TINY, init="he"), MLP(**TINY, init="msra")
    np.testing.assert_array_equal(p.x0(4), q.x0(4))


def test_x0_is_deterministic_per_seed_and_differs_across_seeds():
    p = MLP(**TINY)
    a = p.x0(0)
    assert a.dtype == np.float64 and a.shape == (p.dim,)
    np.testing.assert_array_equal(p.x0(0), a)
    np.testing.assert_array_equal(MLP(**TINY).x0(0), a)
    np.testing.assert_array_equal(MLP(**TINY, seed=5).x0(0), a)  # data seed: not x0's
    assert not np.array_equal(p.x0(1), a)
    a[:] = 7.0  # a fresh array each call
    assert not np.array_equal(p.x0(0), a)
    with pytest.raises(ValueError, match="seed"):
        p.x0(-1)


# Data ----------------------------------------------------------------------------------


def test_digits_split_is_stratified_and_seeded():
    raw_x, raw_y = mlp_data.load_digits()
    p = MLP()
    assert (p.n_train + p.n_val, p.n_features, p.n_classes) == (1797, 64, 10)
    rows = np.concatenate([p.train_rows, p.val_rows])
    np.testing.assert_array_equal(np.sort(rows), np.arange(1797))  # a partition
    np.testing.assert_array_equal(p.y_train, raw_y[p.train_rows])
    np.testing.assert_array_equal(p.y_val, raw_y[p.val_rows])
    per_class = np.bincount(raw_y)
    assert np.all(np.abs(np.bincount(p.y_val) - 0.25 * per_class) <= 1)
    assert np.all(np.abs(np.bincount(p.y_train) - 0.75 * per_class) <= 1)
    same, other = MLP(seed=0), MLP(seed=1)
    np.testing.assert_array_equal(same.val_rows, p.val_rows)
    np.testing.assert_array_equal(same.X_train, p.X_train)
    assert not np.array_equal(other.val_rows, p.val_rows)
    assert np.all(np.abs(np.bincount(other.y_val) - 0.25 * per_class) <= 1)
    # the split does not depend on the network
    np.testing.assert_array_equal(MLP(hidden=(7, 3), activation="elu").val_rows, p.val_rows)


def test_val_fraction_and_classes_of_digits():
    p = MLP(classes=3, val_fraction=0.5)
    assert p.n_classes == 3 and p.widths[-1] == 3
    assert set(np.unique(p.y_train)) == {0, 1, 2}
    assert abs(p.n_val - p.n_train) <= 3


def test_preprocessing_statistics_come_from_the_training_split():
    raw_x, _ = mlp_data.load_digits()
    center = MLP(preprocess="center")
    np.testing.assert_allclose(center.X_train.mean(axis=0), 0.0, atol=1e-12)
    # the validation split is shifted by the training mean, so it is not centered
    assert np.abs(center.X_val.mean(axis=0)).max() > 0.05
    np.testing.assert_allclose(center.X_val, raw_x[center.val_rows]
                               - raw_x[center.train_rows].mean(axis=0), rtol=1e-13)

    std = MLP(preprocess="standardize")
    train_raw = raw_x[std.train_rows]
    constant = train_raw.std(axis=0) == 0
    assert constant.any()  # digits has always-blank pixels
    np.testing.assert_allclose(std.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(std.X_train.std(axis=0)[~constant], 1.0, rtol=1e-12)
    np.testing.assert_array_equal(std.X_train[:, constant], 0.0)  # left at 0
    scale = np.where(constant, 1.0, train_raw.std(axis=0))
    np.testing.assert_allclose(
        std.X_val, (raw_x[std.val_rows] - train_raw.mean(axis=0)) / scale, rtol=1e-13)
    assert np.abs(std.X_val.std(axis=0)[~constant] - 1.0).max() > 0.01

    none = MLP(preprocess="none")
    np.testing.assert_array_equal(none.X_train, train_raw)


def test_spiral_has_the_requested_classes_and_samples():
    p = MLP(dataset="spiral", n_samples=250, classes=5, preprocess="none")
    assert p.n_train + p.n_val == 250
    assert (p.n_features, p.n_classes, p.widths[-1]) == (2, 5, 5)
    y = np.concatenate([p.y_train, p.y_val])
    np.testing.assert_array_equal(np.bincount(y), [50] * 5)
    # ceil(0.25 * 250) = 63 validation rows, 12.6 per class: 12 or 13 of each
    assert p.n_val == 63 and set(np.bincount(p.y_val).tolist()) == {12, 13}
    radius = np.linalg.norm(np.vstack([p.X_train, p.X_val]), axis=1)
    assert radius.max() == pytest.approx(1.0) and radius.min() == 0.0
    x, labels = mlp_data.spiral(7, 3, seed=0)  # 3 + 2 + 2 points
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 2, 2])
    q = MLP(dataset="spiral")
    assert (q.n_train + q.n_val, q.n_classes) == (300, 3)


def test_spiral_follows_the_arms():
    x, y = mlp_data.spiral(3000, 3, seed=0)
    t = np.linalg.norm(x, axis=1)
    angle = np.arctan2(x[:, 0], x[:, 1])  # x = t (sin, cos)
    expected = 4.0 * (y + t)
    residual = np.angle(np.exp(1j * (angle - expected)))  # wrapped to (-pi, pi]
    keep = t > 0
    assert np.std(residual[keep]) == pytest.approx(mlp_data.SPIRAL_NOISE, rel=0.1)
    assert abs(np.mean(residual[keep])) < 0.02


def test_spiral_data_is_seeded():
    a, b, c = (MLP(dataset="spiral", seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert a.X_train.shape == c.X_train.shape
    assert not np.allclose(a.X_train, c.X_train)


# The flat vector ----------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "maxout"])
@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "bn"])
def test_dim_is_the_sum_of_the_layer_sizes(activation, batchnorm):
    p = MLP(**TINY, activation=activation, batchnorm=batchnorm)
    pieces = 2 if activation == "maxout" else 1
    hidden = [(2, 5), (5, 4)]
    expected = sum(i * o * pieces + o * pieces * (3 if batchnorm else 1) for i, o in hidden)
    expected += 4 * 3 + 3  # output layer: W, b
    assert p.dim == expected
    assert p.widths == [2, 5, 4, 3]
    # the blocks tile [0, dim) in order: per layer W, b (, gamma, beta)
    assert p.layout[0].start == 0 and p.layout[-1].stop == p.dim
    assert all(a.stop == b.start for a, b in zip(p.layout, p.layout[1:]))
    names = [(blk.layer, blk.name) for blk in p.layout]
    per_hidden = ["W", "b", "gamma", "beta"] if batchnorm else ["W", "b"]
    assert names == [(i, n) for i in range(2) for n in per_hidden] + [(2, "W"), (2, "b")]
    assert p.layers(p.x0(0))[0].W.shape == (2, 5 * pieces)


def test_layer_arrays_are_views_into_the_vector():
    p = MLP(**TINY, batchnorm=True)
    x = p.x0(0)
    layers = p.layers(x)
    for layer in layers:
        for a in layer:
            if a is not None:
                assert np.shares_memory(a, x)
    first = p.layout[0]
    x[first.start] = 123.0
    assert layers[0].W[0, 0] == 123.0  # changing the vector changes the layer
    layers[1].gamma[2] = -4.0  # and the other way round
    gamma = next(b for b in p.layout if b.layer == 1 and b.name == "gamma")
    assert x[gamma.start + 2] == -4.0
    W_out = p.layout[-2]
    np.testing.assert_array_equal(layers[-1].W.ravel(), x[W_out.start:W_out.stop])


def test_gradient_has_the_same_layout():
    p = MLP(**TINY, reg=0.0)
    x = p.x0(0)
    g = p.layers(p.grad(x))
    # d loss / d b_out = mean(softmax - onehot), which sums to 0 over the classes
    assert abs(g[-1].b.sum()) < 1e-12
    proba = p.predict_proba(x, "train")
    onehot = np.eye(3)[p.y_train]
    np.testing.assert_allclose(g[-1].b, (proba - onehot).mean(axis=0), rtol=1e-10)


# The objective --------------------------------------------------------------------------


def test_loss_is_finite_for_huge_logits():
    p = MLP(**TINY, batchnorm=False)
    x = p.x0(0)
    p.layers(x)[-1].W[...] *= 1e6
    logits, _, _ = reference_logits(p, x, p.X_train)
    assert np.abs(logits).max() > 1e5
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        naive = reference_objective(p, x, p.X_train, p.y_train)
    assert not np.isfinite(naive)  # the textbook formula overflows here
    f, g = p.loss(x), p.grad(x)
    assert np.isfinite(f) and f > 1e3 and np.all(np.isfinite(g))
    loss, d = softmax_cross_entropy(np.array([[1000.0, 0.0, -1000.0]]), np.array([1]))
    assert loss == 1000.0
    np.testing.assert_allclose(d, [[1.0, -1.0, 0.0]], atol=1e-300)


def test_metrics_keys_and_values():
    p = MLP(**TINY, batchnorm=True)
    x = bn_point(p)
    m = p.metrics(x)
    assert set(m) == {"train_acc", "val_loss", "val_acc"}
    assert all(type(v) is float for v in m.values())
    proba = p.predict_proba(x, "val")
    assert proba.shape == (p.n_val, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-14)
    assert m["val_loss"] == pytest.approx(
        -np.mean(np.log(proba[np.arange(p.n_val), p.y_val])), rel=1e-12)
    assert m["val_acc"] == p.accuracy(x, "val") == np.mean(proba.argmax(axis=1) == p.y_val)
    assert m["train_acc"] == p.accuracy(x, "train")
    assert p.predict_proba(x, "train").shape == (p.n_train, 3)


def test_run_adds_the_metrics_to_the_trace():
    import optbench

    class PlainSGD:  # a stand-in optimizer, independent of the optimizers package
        def init(self, x):
            return None

        def step(self, x, oracle, state):
            return x - 0.1 * oracle.grad(x)

    p = MLP(**TINY)
    result = optbench.run(p, PlainSGD(), steps=4, seed=1)
    assert {"train_acc", "val_loss", "val_acc"} <= set(result.trace.columns)
    assert len(result.trace) == 5
    assert result.trace["val_acc"].iloc[0] == p.metrics(p.x0(1))["val_acc"]
    assert (result.trace["n_grad"].diff().dropna() == 1).all()  # one minibatch grad a step


def test_adam_reaches_95_percent_validation_accuracy_on_digits():
    p = MLP(dataset="digits", hidden=(64,), activation="relu", init="he",
            preprocess="standardize", batch_size=64)
    x = p.x0(0)
    m, v = np.zeros(p.dim), np.zeros(p.dim)
    rng = np.random.default_rng(0)
    lr, beta1, beta2, eps = 1e-3, 0.9, 0.999, 1e-7
    assert p.metrics(x)["val_acc"] < 0.5
    for t in range(1, 601):  # about 28 epochs of the 1347 training rows
        g = p.minibatch(rng).grad(x)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        x -= lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    assert p.metrics(x)["val_acc"] >= 0.95


# Minibatches ----------------------------------------------------------------------------


def test_minibatch_draws_distinct_rows_deterministically():
    p = MLP(**TINY)
    a = p.minibatch(np.random.default_rng(5))
    b = p.minibatch(np.random.default_rng(5))
    c = p.minibatch(np.random.default_rng(6))
    assert isinstance(a, MLPBatchOracle)
    assert len(a.indices) == 8 and len(set(a.indices.tolist())) == 8
    assert np.all((0 <= a.indices) & (a.indices < p.n_train))
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(
        a.indices, np.random.default_rng(5).choice(p.n_train, 8, replace=False))
    x = p.x0(0)
    assert a.loss(x) == b.loss(x) and a.loss(x) != c.loss(x)
    assert a.loss(x) != p.loss(x)
    with pytest.raises(ValueError, match="Hessian"):
        a.hess(x)
    with pytest.raises(ValueError, match="Hessian"):
        p.hess(x)
    assert not p.has_hess and p.f_star is None


@pytest.mark.parametrize("batch_size", [None, 22])
def test_full_batch_is_not_stochastic(batch_size):
    p = MLP(**{**TINY, "batch_size": batch_size})
    assert p.n_train == 22  # 30 points, 8 of them validation
    assert not p.stochastic
    assert p.minibatch(np.random.default_rng(0)) is p


def test_params_are_json_and_rebuild_the_problem():
    p = MLP(**TINY, activation="elu", alpha=0.5, batchnorm=True, seed=2)
    assert p.params["hidden"] == [5, 4]
    assert json.loads(json.dumps(p.params)) == p.params
    again = MLP(**p.params)
    x = p.x0(1)
    assert again.loss(x) == p.loss(x)
    np.testing.assert_array_equal(again.grad(x), p.grad(x))
    assert repr(p).startswith("mlp(dataset='spiral', hidden=[5, 4]")
    assert MLP(hidden=32).params["hidden"] == [32]
    assert MLP().params["n_samples"] == 1797 and MLP().params["classes"] == 10


def test_inputs_are_not_modified_and_gradients_are_fresh():
    p = MLP(**TINY, batchnorm=True)
    x = p.x0(0)
    before = x.copy()
    g = p.grad(x)
    p.loss(list(x))
    np.testing.assert_array_equal(x, before)
    assert not np.shares_memory(g, x)
    g += 1.0
    assert not np.array_equal(p.grad(x), g)


# Bad input -----------------------------------------------------------------------------

BAD = [
    ({"activation": "relux"}, "activation.*did you mean 'relu'"),
    ({"activation": "softplus"}, "activation must be one of 'sigmoid', 'tanh'"),
    ({"init": "xavir"}, "init.*did you mean 'xavier'"),
    ({"init": None}, "init must be one of"),
    ({"dataset": "mnist"}, "dataset must be one of 'digits', 'spiral'"),
    ({"preprocess": "whiten"}, "preprocess must be one of 'none', 'center', 'standardize'"),
    ({"hidden": ()}, "hidden must be a non-empty list"),
    ({"hidden": []}, "hidden"),
    ({"hidden": (8, 0)}, "hidden.*>= 1"),
    ({"hidden": (-3,)}, "hidden"),
    ({"hidden": (2.5,)}, "hidden"),
    ({"hidden": "64"}, "hidden"),
    ({"hidden": (True,)}, "hidden"),
    ({"reg": -1e-3}, "reg"),
    ({"reg": float("nan")}, "reg"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 2.0}, "batch_size"),
    ({"batch_size": 23}, "batch_size must be at most the training split's 22 rows"),
    ({"batchnorm": "yes"}, "batchnorm"),
    ({"seed": -1}, "seed"),
    ({"val_fraction": 0.0}, "val_fraction"),
    ({"val_fraction": 1.0}, "val_fraction"),
    ({"alpha": 0.0}, "alpha"),
    ({"classes": 1}, "classes"),
    ({"n_samples": 9, "classes": 5}, "n_samples must be at least 2 per class"),
    ({"val_fraction": 0.99}, "empty split"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[str(c) for c, _ in BAD])
def test_bad_parameters_raise_value_error(change, message):
    with pytest.raises(ValueError, match=message):
        MLP(**{**TINY, **change})


@pytest.mark.parametrize("change, message", [
    ({"classes": 11}, "classes must be an integer in \\[2, 10\\]"),
    ({"n_samples": 100}, "n_samples is fixed by dataset='digits' to 1797"),
    ({"batch_size": 1348}, "batch_size must be at most the training split's 1347 rows"),
])
def test_bad_digits_parameters(change, message):
    with pytest.raises(ValueError, match=message):
        MLP(**change)


def test_bad_evaluation_arguments():
    p = MLP(**TINY)
    x = p.x0(0)
    with pytest.raises(ValueError, match="split must be one of 'train', 'val'"):
        p.predict_proba(x, "test")
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2\)"):
        p.forward_activations(x, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="shape"):
        p.loss(np.zeros(p.dim + 1))


def test_docstring_examples():
    import doctest

    from problems import mlp, mlp_data as data_module

    for module in (mlp, data_module):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0
    assert doctest.testmod(mlp).attempted > 0
