"""The Problem contract, checked on every registered family, and the registry."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

import problems

HAVE_SKLEARN = importlib.util.find_spec("sklearn") is not None
needs_sklearn = pytest.mark.skipif(not HAVE_SKLEARN, reason="needs scikit-learn")

# A few configurations of every registered family.
CONFIGS = [
    ("quadratic", {"dim": 5}),
    ("quadratic", {"dim": 6, "condition_number": 1e3, "rotate": False, "seed": 3}),
    ("quadratic", {"dim": 4, "noise": 0.5, "seed": 1}),
    ("quadratic", {"dim": 3, "noise": 2.0, "rotate": False}),
    ("quadratic", {"dim": 1}),
    ("saddle", {}),
    ("saddle", {"dim": 5, "n_neg": 2, "offset": 1e-2}),
    ("saddle", {"dim": 3, "n_neg": 3}),
    ("rosenbrock", {}),
    ("rosenbrock", {"dim": 7}),
    ("logistic", {"n_samples": 60, "n_features": 4, "batch_size": 16}),
    ("logistic", {"n_samples": 50, "n_features": 3, "standardize": True,
                  "batch_size": None, "seed": 2, "reg": 0.1}),
    pytest.param(("logistic", {"dataset": "breast_cancer", "standardize": True,
                               "batch_size": 64}), marks=needs_sklearn),
]


def _unpack(config):
    """(name, params) of a CONFIGS entry, plain or wrapped in pytest.param."""
    return config.values[0] if hasattr(config, "values") else config


def config_id(config):
    name, params = _unpack(config)
    return name + "[" + ",".join(f"{k}={v}" for k, v in params.items()) + "]"


IDS = [config_id(c) for c in CONFIGS]


@pytest.fixture(params=CONFIGS, ids=IDS)
def problem(request):
    name, params = request.param
    return problems.get(name, **params)


#: Families tested in their own files (no known optimum, no Hessian, or an optional package)
#: (tests/test_problems_mlp.py, tests/test_problems_torch_model.py, tests/test_problems_cutest.py)
OWN_TESTS = {"mlp", "mlp_torch", "cnn", "transformer", "cutest"}


def test_every_registered_family_is_configured():
    configured = {_unpack(c)[0] for c in CONFIGS}
    assert set(problems.names()) - OWN_TESTS <= configured


def sample_points(problem, n=3):
    """Seeded points around the initial points, some moved further out."""
    rng = np.random.default_rng(12345)
    points = [problem.x0(1)]
    for k in range(2, n + 1):
        points.append(problem.x0(k) + 0.3 * rng.standard_normal(problem.dim))
    return points


def fd_grad(loss, x, h=1e-6):
    """Central differences of ``loss``, with a step relative to |x_i|."""
    g = np.empty_like(x)
    for i in range(x.size):
        step = h * max(1.0, abs(x[i]))
        e = np.zeros_like(x)
        e[i] = step
        g[i] = (loss(x + e) - loss(x - e)) / (2 * step)
    return g


def fd_hess(grad, x, h=1e-6):
    """Central differences of ``grad``, symmetrised."""
    cols = []
    for i in range(x.size):
        step = h * max(1.0, abs(x[i]))
        e = np.zeros_like(x)
        e[i] = step
        cols.append((grad(x + e) - grad(x - e)) / (2 * step))
    h_fd = np.column_stack(cols)
    return 0.5 * (h_fd + h_fd.T)


def rel_err(approx, exact):
    return np.linalg.norm(approx - exact) / max(np.linalg.norm(exact), 1e-12)


# The contract ------------------------------------------------------------------------


def test_attributes(problem):
    assert problem.name in problems.names()
    assert isinstance(problem.dim, int) and problem.dim >= 1
    assert isinstance(problem.stochastic, bool)
    assert isinstance(problem.has_hess, bool)
    assert problem.f_star is None or isinstance(problem.f_star, float)
    # params are plain JSON data and rebuild the same problem
    assert json.loads(json.dumps(problem.params)) == problem.params
    again = problems.get(problem.name, **problem.params)
    x = problem.x0(3)
    assert again.loss(x) == problem.loss(x)
    np.testing.assert_array_equal(again.grad(x), problem.grad(x))
    assert repr(problem).startswith(problem.name + "(")


def test_x0(problem):
    a = problem.x0(0)
    assert isinstance(a, np.ndarray) and a.dtype == np.float64
    assert a.shape == (problem.dim,)
    np.testing.assert_array_equal(problem.x0(0), a)
    np.testing.assert_array_equal(problem.x0(), a)
    a[:] = 1e6  # a fresh array: changing it changes nothing
    np.testing.assert_array_equal(problem.x0(0), problems.get(
        problem.name, **problem.params).x0(0))
    assert not np.array_equal(problem.x0(1), problem.x0(2))
    assert np.all(np.isfinite(problem.x0(7)))


def test_x0_rejects_bad_seed(problem):
    with pytest.raises(ValueError, match="seed"):
        problem.x0(-1)


def test_loss_and_grad_types(problem):
    for x in sample_points(problem):
        before = x.copy()
        f = problem.loss(x)
        assert type(f) is float and np.isfinite(f)
        g = problem.grad(x)
        assert isinstance(g, np.ndarray) and g.dtype == np.float64
        assert g.shape == (problem.dim,)
        assert not np.shares_memory(g, x)
        np.testing.assert_array_equal(x, before)  # inputs are not modified
        g2 = problem.grad(x)
        g2 += 1.0  # a new array each call
        np.testing.assert_array_equal(problem.grad(x), g)


def test_accepts_lists_and_rejects_wrong_shape(problem):
    x = problem.x0(1)
    assert problem.loss(list(x)) == problem.loss(x)
    with pytest.raises(ValueError, match="shape"):
        problem.loss(np.zeros(problem.dim + 1))
    with pytest.raises(ValueError, match="shape"):
        problem.grad(np.zeros((problem.dim, 1)))


def test_f_star_is_a_lower_bound(problem):
    # every configured family has a known optimum; a family without one (f_star
    # None) belongs in a list of its own, not here
    assert problem.f_star is not None
    for x in sample_points(problem, n=5):
        assert problem.f_star <= problem.loss(x) + 1e-12


def test_grad_matches_finite_differences(problem):
    for x in sample_points(problem):
        assert rel_err(fd_grad(problem.loss, x), problem.grad(x)) < 1e-6


def test_hess_matches_finite_differences(problem):
    assert problem.has_hess
    for x in sample_points(problem):
        h = problem.hess(x)
        assert h.shape == (problem.dim, problem.dim) and h.dtype == np.float64
        np.testing.assert_array_equal(h, h.T)
        assert rel_err(fd_hess(problem.grad, x), h) < 1e-6


def test_minibatch_oracle_matches_finite_differences(problem):
    oracle = problem.minibatch(np.random.default_rng(0))
    if not problem.stochastic:
        assert oracle is problem
        return
    assert isinstance(oracle, problems.Oracle)
    x = problem.x0(1)
    # a genuine sample, not the full objective
    assert oracle.loss(x) != problem.loss(x)
    assert not np.allclose(oracle.grad(x), problem.grad(x))
    for x in sample_points(problem):
        f = oracle.loss(x)
        assert type(f) is float
        g = oracle.grad(x)
        assert g.dtype == np.float64 and g.shape == (problem.dim,)
        assert rel_err(fd_grad(oracle.loss, x), g) < 1e-6
        assert rel_err(fd_hess(oracle.grad, x), oracle.hess(x)) < 1e-6


def test_minibatch_is_deterministic_given_the_rng(problem):
    x = problem.x0(1)
    a = problem.minibatch(np.random.default_rng(5))
    b = problem.minibatch(np.random.default_rng(5))
    c = problem.minibatch(np.random.default_rng(6))
    assert a.loss(x) == b.loss(x)
    np.testing.assert_array_equal(a.grad(x), b.grad(x))
    if problem.stochastic:  # another seed, another sample
        assert a.loss(x) != c.loss(x)
    else:  # a deterministic problem's "minibatch" is the full objective
        assert c.loss(x) == problem.loss(x)


# Bad parameters -----------------------------------------------------------------------

BAD_PARAMS = [
    ("quadratic", {"dim": 0}, "dim"),
    ("quadratic", {"dim": 2.5}, "dim"),
    ("quadratic", {"dim": True}, "dim"),
    ("quadratic", {"dim": "3"}, "dim"),
    ("quadratic", {"dim": 3, "condition_number": 0.5}, "condition_number"),
    ("quadratic", {"dim": 3, "condition_number": float("inf")}, "condition_number"),
    ("quadratic", {"dim": 3, "condition_number": float("nan")}, "condition_number"),
    ("quadratic", {"dim": 3, "noise": -0.1}, "noise"),
    ("quadratic", {"dim": 3, "rotate": "yes"}, "rotate"),
    ("quadratic", {"dim": 3, "seed": -1}, "seed"),
    ("quadratic", {"dim": 30_000, "rotate": True}, "dim"),
    ("saddle", {"dim": 0}, "dim"),
    ("saddle", {"n_neg": 0}, "n_neg"),
    ("saddle", {"dim": 2, "n_neg": 3}, "n_neg"),
    ("saddle", {"offset": -1e-3}, "offset"),
    ("saddle", {"offset": float("nan")}, "offset"),
    ("rosenbrock", {"dim": 1}, "dim"),
    ("rosenbrock", {"dim": 2.0}, "dim"),
    ("logistic", {"n_samples": 0}, "n_samples"),
    ("logistic", {"n_features": 0}, "n_features"),
    ("logistic", {"reg": 0.0}, "reg"),
    ("logistic", {"reg": -1.0}, "reg"),
    ("logistic", {"batch_size": 0}, "batch_size"),
    ("logistic", {"batch_size": 1.5}, "batch_size"),
    ("logistic", {"standardize": 1}, "standardize"),
    ("logistic", {"seed": -2}, "seed"),
    ("logistic", {"dataset": "mnist"}, "dataset"),
]


@pytest.mark.parametrize("name, params, pname", BAD_PARAMS)
def test_bad_parameters_raise_value_error(name, params, pname):
    with pytest.raises(ValueError, match=pname) as info:
        problems.get(name, **params)
    # the message names the value received too
    bad = params[pname]
    assert repr(bad) in str(info.value) or str(bad) in str(info.value)


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError):
        problems.get("rosenbrock", dim=2, seed=0)


# Registry -----------------------------------------------------------------------------


def test_names_lists_the_builtin_families():
    names = problems.names()
    assert names == sorted(names)
    assert {"quadratic", "saddle", "rosenbrock", "logistic"} <= set(names)


def test_get_builds_the_registered_class():
    assert isinstance(problems.get("quadratic", dim=3), problems.Quadratic)
    assert isinstance(problems.get("saddle"), problems.Saddle)
    assert isinstance(problems.get("rosenbrock", dim=3), problems.Rosenbrock)
    assert isinstance(problems.get("logistic", n_samples=20, n_features=2),
                      problems.Logistic)


@pytest.mark.parametrize("typo, nearest", [("quadratc", "quadratic"),
                                           ("rosenbrok", "rosenbrock"),
                                           ("logistics", "logistic")])
def test_unknown_name_suggests_the_nearest(typo, nearest):
    with pytest.raises(ValueError, match=f"did you mean '{nearest}'"):
        problems.get(typo)


def test_register_a_user_problem():
    from problems import registry

    class Shifted(problems.Problem):
        name = "test_shifted"
        has_hess = False

        def __init__(self, dim=2):
            self.dim = dim
            self.params = {"dim": dim}
            self.f_star = 0.0

        def x0(self, seed=0):
            return np.full(self.dim, float(seed + 1))

        def loss(self, x):
            return 0.5 * float(np.dot(x, x))

        def grad(self, x):
            return np.array(x, dtype=np.float64)

    try:
        assert problems.register("test_shifted", Shifted) is Shifted
        assert "test_shifted" in problems.names()
        p = problems.get("test_shifted", dim=3)
        assert p.loss(p.x0(0)) == 1.5
        with pytest.raises(ValueError, match="no Hessian"):
            p.hess(p.x0(0))
        assert p.minibatch(np.random.default_rng(0)) is p
    finally:
        registry._FACTORIES.pop("test_shifted", None)
    assert "test_shifted" not in problems.names()


def test_register_rejects_bad_arguments():
    with pytest.raises(ValueError):
        problems.register("", problems.Quadratic)
    with pytest.raises(ValueError):
        problems.register("x", 3)
