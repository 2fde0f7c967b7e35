"""Problems in float32: the ``dtype`` parameter of the quadratic, logistic and mlp
families.

A float32 problem stores its data in float32, returns float32 points and gradients
(and a Python float loss), agrees with its float64 twin to float32 precision, and
keeps ``f_star`` computed in float64.  The float64 default leaves ``params`` (and so
the identity of stored results) exactly as before the parameter existed.  Gradients
are checked by finite differences in float64 (tests/test_problems.py); here the
float32 gradient is compared with the float64 one.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

import optbench
import optimizers
import problems
from problems import logistic as logistic_module
from problems._validate import check_dtype

HAVE_SKLEARN = importlib.util.find_spec("sklearn") is not None
needs_sklearn = pytest.mark.skipif(not HAVE_SKLEARN, reason="needs scikit-learn")

#: float32 against float64 on the same points: a few float32 ulps, amplified by the
#: conditioning of the sums (measured: relative 4e-8 to 4e-7).
RTOL = 1e-5

CONFIGS = [
    ("quadratic", {"dim": 30, "condition_number": 1e3}),
    ("quadratic", {"dim": 40, "rotate": False, "condition_number": 1e4, "seed": 2}),
    ("quadratic", {"dim": 12, "noise": 0.5, "seed": 1}),
    ("quadratic", {"dim": 12, "noise": 0.5, "rotate": False}),
    ("logistic", {"n_samples": 300, "n_features": 6, "batch_size": 32}),
    ("logistic", {"n_samples": 9000, "n_features": 5, "batch_size": None, "seed": 3}),
    ("logistic", {"n_samples": 5000, "n_features": 8, "batch_size": 64, "standardize": True}),
    pytest.param(("logistic", {"dataset": "breast_cancer", "standardize": True,
                               "batch_size": 50}), marks=needs_sklearn),
]


def _id(config):
    name, params = config.values[0] if hasattr(config, "values") else config
    return name + "[" + ",".join(f"{k}={v}" for k, v in params.items()) + "]"


@pytest.fixture(params=CONFIGS, ids=[_id(c) for c in CONFIGS])
def twins(request):
    """(float64 problem, float32 problem) with the same parameters."""
    name, params = request.param
    return problems.get(name, **params), problems.get(name, **params, dtype="float32")


def sample_points(problem, n=3):
    rng = np.random.default_rng(99)
    return [problem.x0(k) + 0.3 * rng.standard_normal(problem.dim) for k in range(n)]


def rel(a, b):
    return float(np.linalg.norm(np.asarray(a, float) - b) / max(np.linalg.norm(b), 1e-300))


# Types ---------------------------------------------------------------------------------


def test_dtype_is_kept_everywhere(twins):
    p64, p32 = twins
    assert p64.dtype == np.float64 and p32.dtype == np.float32
    for seed in (0, 3):
        x0 = p32.x0(seed)
        assert x0.dtype == np.float32 and x0.shape == (p32.dim,)
        np.testing.assert_allclose(x0, p64.x0(seed), rtol=1e-6, atol=1e-6)
    batch = p32.minibatch(np.random.default_rng(0))
    for x in [p32.x0(1), *sample_points(p64)]:  # a float32 point, then float64 ones
        for oracle in (p32, batch):
            assert type(oracle.loss(x)) is float
            assert oracle.grad(x).dtype == np.float32
            value, g = oracle.loss_and_grad(x)
            assert type(value) is float and g.dtype == np.float32
            assert oracle.hess(x).dtype == np.float32


def test_data_are_stored_in_float32(twins):
    p64, p32 = twins
    if p32.name == "quadratic":
        arrays = ["x_star", "eigenvalues", "_a" if p32.rotate else "_sqrt_lam"]
    else:
        arrays = ["X", "y", "_yx"]
    for attr in arrays:
        a32, a64 = getattr(p32, attr), getattr(p64, attr)
        assert a32.dtype == np.float32 and a64.dtype == np.float64, attr
        assert a32.nbytes * 2 == a64.nbytes, attr
        np.testing.assert_allclose(a32, a64, rtol=1e-5, atol=1e-5 * np.abs(a64).max())


# Numbers ----------------------------------------------------------------------------------


def test_float32_agrees_with_float64_to_float32_precision(twins):
    p64, p32 = twins
    for x in sample_points(p64):
        assert abs(p32.loss(x) - p64.loss(x)) <= RTOL * abs(p64.loss(x))
        assert rel(p32.grad(x), p64.grad(x)) <= RTOL
        assert rel(p32.hess(x), p64.hess(x)) <= RTOL


def test_float32_minibatch_is_the_same_sample(twins):
    p64, p32 = twins
    b64 = p64.minibatch(np.random.default_rng(4))
    b32 = p32.minibatch(np.random.default_rng(4))
    if p64.stochastic and p64.name == "logistic":
        np.testing.assert_array_equal(b32.indices, b64.indices)
    if p64.stochastic and p64.name == "quadratic":
        np.testing.assert_allclose(b32.xi, b64.xi, rtol=1e-7)
    for x in sample_points(p64):
        assert abs(b32.loss(x) - b64.loss(x)) <= RTOL * max(abs(b64.loss(x)), 1.0)
        assert rel(b32.grad(x), b64.grad(x)) <= RTOL


def test_f_star_is_computed_in_float64(twins):
    p64, p32 = twins
    assert type(p32.f_star) is float
    # the minimum of the rounded data: within float32 round-off of the float64 one
    assert abs(p32.f_star - p64.f_star) <= 1e-6 * max(1.0, abs(p64.f_star))
    for x in sample_points(p64):
        assert p32.f_star <= p32.loss(x) + 1e-6 * abs(p32.loss(x))


def test_the_float32_f_star_is_the_float64_solve_of_the_stored_data():
    """The blocked float64 evaluation (more than one block of rows) gives the same
    objective, gradient, Hessian and minimum as float64 on a float64 copy."""
    n = logistic_module.ROW_BLOCK * 2 + 123
    p32 = problems.get("logistic", n_samples=n, n_features=4, batch_size=None, seed=5,
                       standardize=True, dtype="float32")
    yx64 = p32._yx.astype(np.float64)
    blocked = logistic_module._objective64(p32._yx, p32.reg)
    direct = logistic_module._objective64(yx64, p32.reg)
    w = np.random.default_rng(0).standard_normal(p32.dim)
    assert blocked[0](w) == pytest.approx(direct[0](w), rel=1e-13)
    np.testing.assert_allclose(blocked[1](w), direct[1](w), rtol=1e-12)
    np.testing.assert_allclose(blocked[2](w), direct[2](w), rtol=1e-12)
    w_direct, f_direct = logistic_module._solve(*direct, p32.dim)
    assert p32.f_star == pytest.approx(f_direct, rel=1e-13)
    np.testing.assert_allclose(p32.w_star, w_direct, rtol=1e-6, atol=1e-9)
    # and the float32 gradient vanishes there, to float32 precision
    g = p32.grad(p32.w_star)
    assert np.linalg.norm(g) <= 1e-5 * np.linalg.norm(p32.grad(np.zeros(p32.dim)))


def test_float32_synthetic_data_are_the_float64_data_rounded():
    """Built a block of rows at a time (several blocks here): the same numbers."""
    n = logistic_module.ROW_BLOCK * 2 + 7
    x64, y64 = logistic_module.synthetic_data(n, 6, 8)
    x32, y32 = logistic_module.synthetic_data(n, 6, 8, np.float32)
    assert x32.dtype == np.float32 and y32.dtype == np.float64
    np.testing.assert_array_equal(x32, x64.astype(np.float32))
    np.testing.assert_array_equal(y32, y64)


def test_float32_standardisation_matches_float64():
    p64 = problems.get("logistic", n_samples=9000, n_features=5, standardize=True)
    p32 = problems.get("logistic", n_samples=9000, n_features=5, standardize=True,
                       dtype="float32")
    features = p32.X[:, :-1].astype(np.float64)
    np.testing.assert_allclose(features.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(features.std(axis=0), 1.0, rtol=1e-6)
    np.testing.assert_allclose(p32.X, p64.X, rtol=0, atol=1e-5)


def test_rotated_float32_quadratic_is_orthogonally_diagonalised():
    p64 = problems.get("quadratic", dim=60, condition_number=100.0)
    p32 = problems.get("quadratic", dim=60, condition_number=100.0, dtype="float32")
    np.testing.assert_array_equal(p32._a, p32._a.T)
    lam = np.linalg.eigvalsh(p32._a.astype(np.float64))
    np.testing.assert_allclose(lam, p64.eigenvalues, rtol=1e-5)
    np.testing.assert_array_equal(p32.x_star, p64.x_star.astype(np.float32))
    assert p32.loss(p32.x_star) == 0.0 and not p32.grad(p32.x_star).any()


def test_log_spaced_and_standard_normal_round_the_float64_numbers():
    from problems.quadratic import log_spaced, standard_normal

    for dim, kappa in [(1, 10.0), (2, 1e3), (100_003, 1e6)]:
        np.testing.assert_array_equal(log_spaced(kappa, dim, np.float32),
                                      np.geomspace(1.0, kappa, dim).astype(np.float32))
    shift = np.linspace(-1, 1, 200_000).astype(np.float32)
    expected = np.random.default_rng(3).standard_normal(200_000) + shift
    got = standard_normal(np.random.default_rng(3), 200_000, np.float32, shift)
    np.testing.assert_array_equal(got, expected.astype(np.float32))


# Parameters and identity ---------------------------------------------------------------

#: The params of the default (float64) problems, as they were before ``dtype`` existed.
FLOAT64_PARAMS = {
    "quadratic": {"dim": 3, "condition_number": 100.0, "seed": 0, "rotate": True, "noise": 0.0},
    "logistic": {"n_samples": 50, "n_features": 2, "reg": 1e-3, "batch_size": 32,
                 "standardize": False, "seed": 0, "dataset": "synthetic"},
}
SIZES = {"quadratic": {"dim": 3}, "logistic": {"n_samples": 50, "n_features": 2}}


@pytest.mark.parametrize("name", sorted(FLOAT64_PARAMS))
@pytest.mark.parametrize("dtype", [None, "float64", np.float64, float, np.dtype("float64")])
def test_float64_params_are_unchanged(name, dtype):
    extra = {} if dtype is None else {"dtype": dtype}
    p = problems.get(name, **SIZES[name], **extra)
    assert p.params == FLOAT64_PARAMS[name]
    assert "dtype" not in p.params and p.dtype == np.float64
    assert repr(p) == repr(problems.get(name, **SIZES[name]))


@pytest.mark.parametrize("name", sorted(FLOAT64_PARAMS))
@pytest.mark.parametrize("dtype", ["float32", np.float32, np.dtype("float32")])
def test_float32_params_name_the_dtype_and_rebuild_the_problem(name, dtype):
    p = problems.get(name, **SIZES[name], dtype=dtype)
    assert p.params == {**FLOAT64_PARAMS[name], "dtype": "float32"}
    assert json.loads(json.dumps(p.params)) == p.params
    again = problems.get(name, **p.params)
    x = p.x0(2)
    assert again.dtype == np.float32 and again.loss(x) == p.loss(x)
    np.testing.assert_array_equal(again.grad(x), p.grad(x))
    assert repr(p).endswith("dtype='float32')")


def test_the_spec_hash_of_a_default_run_does_not_see_the_parameter():
    from optbench.spec import RunSpec

    spec = RunSpec(problem="quadratic", optimizer="sgd", problem_params={"dim": 3},
                   optimizer_params={"lr": 0.1})
    spec32 = RunSpec(problem="quadratic", optimizer="sgd",
                     problem_params={"dim": 3, "dtype": "float32"}, optimizer_params={"lr": 0.1})
    assert spec32.run_id() != spec.run_id()
    assert spec.problem_params == {"dim": 3}


BAD_DTYPES = ["float16", "f4", "double", "int64", "Float32", "", None, True, int, np.float16,
              np.complex64, 3]


@pytest.mark.parametrize("name", sorted(FLOAT64_PARAMS))
@pytest.mark.parametrize("bad", BAD_DTYPES, ids=repr)
def test_a_bad_dtype_is_refused_with_the_allowed_values(name, bad):
    message = f"dtype must be one of 'float64', 'float32', got {bad!r}"
    with pytest.raises(ValueError) as info:
        problems.get(name, **SIZES[name], dtype=bad)
    assert str(info.value) == message
    with pytest.raises(ValueError) as info:
        problems.factory(name).estimated_bytes(**SIZES[name], dtype=bad)
    assert str(info.value) == message


def test_check_dtype_accepts_the_names_and_their_numpy_types():
    assert check_dtype("float32") == np.float32 and check_dtype(np.float32) == np.float32
    assert check_dtype("float64") == np.float64 and check_dtype(float) == np.float64


@pytest.mark.parametrize("name, params", [("rosenbrock", {}), ("saddle", {})])
def test_families_without_the_parameter_do_not_accept_it(name, params):
    with pytest.raises(TypeError, match="dtype"):
        problems.get(name, **params, dtype="float32")
    assert problems.get(name, **params).dtype == np.float64


# End to end ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name, params", [
    ("logistic", {"n_samples": 400, "n_features": 5, "batch_size": 32}),
    ("quadratic", {"dim": 20, "noise": 0.1}),
    ("mlp", {"dataset": "spiral", "hidden": [8], "activation": "tanh", "batch_size": 32}),
])
def test_a_stepwise_run_stays_in_float32(name, params):
    p32 = problems.get(name, **params, dtype="float32")
    p64 = problems.get(name, **params)
    opt = {"name": "momentum", "lr": 0.01}
    r32 = optbench.run(p32, optimizers.get(**opt), steps=50, tol_grad=None)
    r64 = optbench.run(p64, optimizers.get(**opt), steps=50, tol_grad=None)
    assert r32.x.dtype == np.float32
    assert r32.status == r64.status == "max_steps"
    # the same minibatches, the same method: the same path up to float32 round-off
    assert r32.trace["loss"].iloc[-1] == pytest.approx(r64.trace["loss"].iloc[-1], rel=1e-4)
    assert r32.trace["loss"].iloc[-1] < r32.trace["loss"].iloc[0]


def test_the_float32_log_loss_is_stable_and_accurate():
    from problems.logistic import log1p_exp

    z = np.concatenate([np.linspace(-120.0, 120.0, 20_001),
                        [0.0, 1e-30, -1e-30, 88.0, -88.0, 1e4, -1e4]])
    z32 = z.astype(np.float32)
    got = log1p_exp(z32)
    ref = np.logaddexp(0.0, z32.astype(np.float64))  # exact at the rounded inputs
    assert got.dtype == np.float32 and np.isfinite(got).all()
    tiny = np.finfo(np.float32).tiny
    np.testing.assert_allclose(got, ref, rtol=4 * np.finfo(np.float32).eps, atol=tiny)
    np.testing.assert_array_equal(log1p_exp(z), np.logaddexp(0.0, z))  # float64: itself


# The nets --------------------------------------------------------------------------------

MLP_CONFIGS = [
    {"dataset": "spiral", "hidden": [8], "activation": "tanh", "batch_size": 32},
    {"dataset": "spiral", "hidden": [6, 5], "activation": "elu", "batchnorm": True,
     "batch_size": 32},
    {"dataset": "spiral", "hidden": [6], "activation": "maxout", "batch_size": None},
    {"dataset": "spiral", "hidden": [6], "activation": "leaky_relu", "batch_size": 16},
    pytest.param({"hidden": [16], "batch_size": 64}, marks=needs_sklearn),
]


@pytest.mark.parametrize("params", MLP_CONFIGS)
def test_mlp_in_float32(params):
    p64 = problems.get("mlp", **params)
    p32 = problems.get("mlp", **params, dtype="float32")
    assert p32.params == {**p64.params, "dtype": "float32"} and "dtype" not in p64.params
    for a in (p32.X_train, p32.X_val):
        assert a.dtype == np.float32 and not a.flags.writeable
    np.testing.assert_array_equal(p32.X_train, p64.X_train.astype(np.float32))
    np.testing.assert_array_equal(p32.x0(2), p64.x0(2).astype(np.float32))
    b64 = p64.minibatch(np.random.default_rng(0))
    b32 = p32.minibatch(np.random.default_rng(0))
    for x in (p32.x0(1), p64.x0(3)):  # a float32 point and a float64 one
        for o32, o64 in ((p32, p64), (b32, b64)):
            value = o32.loss(x)
            g = o32.grad(x)
            assert type(value) is float and g.dtype == np.float32
            assert abs(value - o64.loss(x)) <= RTOL * o64.loss(x)
            assert rel(g, o64.grad(x)) <= RTOL
        m32, m64 = p32.metrics(x), p64.metrics(x)
        assert all(type(v) is float for v in m32.values())
        assert m32["val_loss"] == pytest.approx(m64["val_loss"], rel=RTOL)
        assert p32.predict_proba(x).dtype == np.float32
        assert all(a.dtype == np.float32 for a in p32.forward_activations(x))
        assert all(a.dtype == np.float32 for a in p32.pre_activations(x, p32.X_val))


def test_mlp_layers_are_views_of_a_float32_point():
    p = problems.get("mlp", dataset="spiral", hidden=[4], dtype="float32")
    x = p.x0(0)
    layers = p.layers(x)
    layers[0].b[:] = 7.0
    assert x.dtype == np.float32 and (x[p.layout[1].start:p.layout[1].stop] == 7.0).all()


@pytest.mark.parametrize("bad", ["float16", None], ids=repr)
def test_mlp_refuses_a_bad_dtype(bad):
    message = f"dtype must be one of 'float64', 'float32', got {bad!r}"
    for build in (problems.MLP, problems.MLP.estimated_bytes):
        with pytest.raises(ValueError) as info:
            build(dataset="spiral", hidden=[2], dtype=bad)
        assert str(info.value) == message
