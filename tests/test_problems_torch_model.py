"""PyTorch modules as problems: mlp_torch (against the numpy mlp), cnn, transformer,
TorchModelProblem."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch extra is not installed")
pytest.importorskip("sklearn")  # the digits data

import optbench  # noqa: E402
import optimizers  # noqa: E402
import problems  # noqa: E402
from problems.torch_model import TorchModelProblem, grokking_split  # noqa: E402

#: Tiny nets: cheap enough for finite differences over every coordinate.
TINY_MLP = {"dataset": "spiral", "hidden": (5, 4), "n_samples": 30, "batch_size": 8}
TINY_CNN = {"channels": (2, 3), "batch_size": 16}
TINY_TRANSFORMER = {"p": 5, "d_model": 8, "heads": 2, "batch_size": 4}

H = 1e-6


def fd_grad(loss, x):
    """Central differences with steps ``H * max(1, |x_i|)``."""
    g = np.empty_like(x)
    for i in range(x.size):
        step = H * max(1.0, abs(x[i]))
        up, down = x.copy(), x.copy()
        up[i] += step
        down[i] -= step
        g[i] = (loss(up) - loss(down)) / (2 * step)
    return g


def fd_hvp(grad, x, v):
    """Central difference of ``grad`` along ``v``: ``(g(x + h v) - g(x - h v)) / 2h``."""
    h = H / max(1.0, np.linalg.norm(v))
    return (grad(x + h * v) - grad(x - h * v)) / (2 * h)


def rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def points(problem):
    """The initial point and a seeded random point near it."""
    x0 = problem.x0(0)
    rng = np.random.default_rng(7)
    return [x0, x0 + 0.2 * np.abs(x0).mean() * rng.standard_normal(problem.dim)]


TINY_PROBLEMS = {
    "mlp_torch-tanh": ("mlp_torch", {**TINY_MLP, "activation": "tanh", "reg": 0.1}),
    "mlp_torch-relu": ("mlp_torch", {**TINY_MLP, "activation": "relu"}),
    "mlp_torch-elu": ("mlp_torch", {**TINY_MLP, "activation": "elu", "alpha": 0.7}),
    "cnn": ("cnn", {**TINY_CNN, "reg": 0.05}),
    "transformer": ("transformer", TINY_TRANSFORMER),
    "transformer-post-2": ("transformer", {**TINY_TRANSFORMER, "d_model": 4, "layers": 2,
                                           "norm_first": False, "reg": 0.1}),
}


@pytest.fixture(scope="module", params=sorted(TINY_PROBLEMS))
def tiny(request):
    name, params = TINY_PROBLEMS[request.param]
    return problems.get(name, **params)


# Derivatives ---------------------------------------------------------------------------


def smooth_points(problem):
    """:func:`points`, without x0 for the relu mlp: its zero biases put a pre-activation
    of the second layer exactly at relu's kink (for rows the first layer zeroes out),
    where the gradient is a one-sided derivative (the numpy mlp does the same)."""
    if problem.params.get("activation") == "relu":
        return points(problem)[1:]
    return points(problem)


def test_grad_matches_finite_differences(tiny):
    for x in smooth_points(tiny):
        g = tiny.grad(x)
        assert g.dtype == np.float64 and g.shape == (tiny.dim,)
        assert rel(fd_grad(tiny.loss, x), g) < 1e-6


def test_hvp_matches_finite_differences_of_grad(tiny):
    rng = np.random.default_rng(3)
    for x in smooth_points(tiny):
        v = rng.standard_normal(tiny.dim)
        assert rel(fd_hvp(tiny.grad, x, v), tiny.hvp(x, v)) < 1e-5
    # the minibatch oracle has one too, of its own objective
    oracle = tiny.minibatch(np.random.default_rng(1))
    x, v = points(tiny)[1], rng.standard_normal(tiny.dim)
    assert rel(fd_grad(oracle.loss, x), oracle.grad(x)) < 1e-6
    assert rel(fd_hvp(oracle.grad, x, v), oracle.hvp(x, v)) < 1e-5


def test_no_dense_hessian(tiny):
    assert tiny.has_hess is False and tiny.f_star is None
    with pytest.raises(ValueError, match="no dense Hessian.*hvp"):
        tiny.hess(tiny.x0(0))
    with pytest.raises(ValueError, match="no dense Hessian"):
        tiny.minibatch(np.random.default_rng(0)).hess(tiny.x0(0))


# mlp_torch is mlp ------------------------------------------------------------------------

SAME_AS_MLP = [
    {},  # the defaults: digits, one hidden layer of 64 relu units, reg 1e-4
    {"hidden": [16, 8], "activation": "tanh", "reg": 0.1, "init": "xavier"},
    {"activation": "sigmoid", "preprocess": "center", "seed": 2},
    {"activation": "leaky_relu", "batch_size": None},
    {"activation": "elu", "alpha": 0.7, "dataset": "spiral", "hidden": [6, 5]},
]


@pytest.mark.parametrize("params", SAME_AS_MLP, ids=str)
def test_mlp_torch_equals_mlp(params):
    t, m = problems.get("mlp_torch", **params), problems.get("mlp", **params)
    assert t.dim == m.dim and t.params == m.params and t.stochastic == m.stochastic
    np.testing.assert_array_equal(t.x0(4), m.x0(4))
    x = t.x0(4) + 0.1 * np.random.default_rng(0).standard_normal(t.dim)
    assert t.loss(x) == pytest.approx(m.loss(x), rel=1e-12, abs=0)
    g_t, g_m = t.grad(x), m.grad(x)
    assert np.max(np.abs(g_t - g_m)) <= 1e-12 * np.max(np.abs(g_m))
    # the same generator state draws the same rows, so the same minibatch objective
    bt, bm = t.minibatch(np.random.default_rng(5)), m.minibatch(np.random.default_rng(5))
    if t.stochastic:
        np.testing.assert_array_equal(bt.indices, bm.indices)
    assert bt.loss(x) == pytest.approx(bm.loss(x), rel=1e-12, abs=0)
    assert np.max(np.abs(bt.grad(x) - bm.grad(x))) <= 1e-12 * np.max(np.abs(bm.grad(x)))
    mt, mm = t.metrics(x), m.metrics(x)
    assert mt.keys() == mm.keys() == {"train_acc", "val_loss", "val_acc"}
    assert mt["train_acc"] == mm["train_acc"] and mt["val_acc"] == mm["val_acc"]
    assert mt["val_loss"] == pytest.approx(mm["val_loss"], rel=1e-12)


# Bits ------------------------------------------------------------------------------------


def test_loss_and_grad_is_the_two_calls_bit_for_bit(tiny):
    x = points(tiny)[1]
    value, g = tiny.loss_and_grad(x)
    assert value == tiny.loss(x)
    np.testing.assert_array_equal(g, tiny.grad(x))
    for _ in range(3):  # and every call gives the same bits
        again, g_again = tiny.loss_and_grad(x)
        assert again == value
        np.testing.assert_array_equal(g_again, g)
    oracle = tiny.minibatch(np.random.default_rng(2))
    value, g = oracle.loss_and_grad(x)
    assert value == oracle.loss(x)
    np.testing.assert_array_equal(g, oracle.grad(x))


def test_a_contiguous_point_is_shared_not_copied(tiny):
    x = tiny.x0(0)
    assert tiny._flat(x, False).data_ptr() == x.ctypes.data
    # anything else is converted: a strided or read-only point gives the same numbers
    strided = np.repeat(x, 2)[::2]
    frozen = x.copy()
    frozen.flags.writeable = False
    assert tiny.loss(strided) == tiny.loss(frozen) == tiny.loss(x)
    assert tiny.loss(list(x)) == tiny.loss(x)


# Runs ------------------------------------------------------------------------------------

RUNS = {
    "mlp_torch": {},
    "cnn": {"channels": (4, 8)},
}


def _trace(result):
    return result.trace.drop(columns=["time"])


@pytest.mark.parametrize("name", sorted(RUNS))
def test_adam_runs_and_repeats_bit_for_bit(name):
    p = problems.get(name, **RUNS[name])
    runs = [optbench.run(p, optimizers.get("adam", lr=1e-3), steps=50, seed=0, record_every=5)
            for _ in range(2)]
    trace = runs[0].trace
    assert {"train_acc", "val_loss", "val_acc"} <= set(trace.columns)
    assert runs[0].status == "max_steps" and trace["step"].iloc[-1] == 50
    assert np.all(np.isfinite(trace[["loss", "grad_norm", "val_loss"]].to_numpy()))
    assert trace["loss"].iloc[-1] < 0.8 * trace["loss"].iloc[0]
    assert trace["train_acc"].iloc[-1] > trace["train_acc"].iloc[0]
    # the same spec twice: the same trace, bit for bit, but the clock
    assert _trace(runs[1]).equals(_trace(runs[0]))
    np.testing.assert_array_equal(runs[1].x, runs[0].x)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_a_torch_optimizer_runs_through_the_bridge(name):
    p = problems.get(name, **RUNS[name])
    result = optbench.run(p, optimizers.get("torch:Adam", lr=1e-3), steps=20, seed=0,
                          record_every=10)
    trace = result.trace
    assert np.all(np.isfinite(trace["loss"])) and trace["loss"].iloc[-1] < trace["loss"].iloc[0]
    # torch's Adam and optbench's adam (eps 1e-8 there, 1e-7 here) take nearly the same steps
    ours = optbench.run(p, optimizers.get("adam", lr=1e-3, eps=1e-8), steps=20, seed=0,
                        record_every=10)
    np.testing.assert_allclose(result.x, ours.x, rtol=0, atol=1e-6)


# Minibatches -----------------------------------------------------------------------------


def test_minibatches_are_seeded_and_without_replacement(tiny):
    assert tiny.stochastic
    a = tiny.minibatch(np.random.default_rng(11))
    b = tiny.minibatch(np.random.default_rng(11))
    c = tiny.minibatch(np.random.default_rng(12))
    assert len(np.unique(a.indices)) == a.indices.size == tiny.batch_size
    assert np.all((0 <= a.indices) & (a.indices < tiny.n_train))
    np.testing.assert_array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, c.indices)
    x = points(tiny)[1]
    assert a.loss(x) == b.loss(x) != c.loss(x)


def test_full_batch_is_deterministic():
    for name, params in (("mlp_torch", {**TINY_MLP, "batch_size": None}),
                         ("cnn", {**TINY_CNN, "batch_size": None}),
                         ("transformer", {**TINY_TRANSFORMER, "batch_size": None})):
        p = problems.get(name, **params)
        assert not p.stochastic and p.minibatch(np.random.default_rng(0)) is p


# Precision and parameters ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["mlp_torch", "cnn"])
def test_float32(name):
    params = {**TINY_MLP} if name == "mlp_torch" else {**TINY_CNN}
    p32 = problems.get(name, **params, dtype="float32")
    p64 = problems.get(name, **params)
    assert p32.params["dtype"] == "float32" and "dtype" not in p64.params
    x = p32.x0(1)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, p64.x0(1).astype(np.float32))
    value, g = p32.loss_and_grad(x)
    assert isinstance(value, float) and g.dtype == np.float32
    assert value == pytest.approx(p64.loss(x), rel=1e-5)
    assert rel(g.astype(float), p64.grad(x)) < 1e-4
    assert p32.minibatch(np.random.default_rng(0)).grad(x).dtype == np.float32
    if name == "mlp_torch":
        m32 = problems.get("mlp", **params, dtype="float32")
        assert value == pytest.approx(m32.loss(x), rel=1e-5)
    result = optbench.run(p32, optimizers.get("adam", lr=1e-2), steps=10, seed=0,
                          record_every=5)
    assert result.x.dtype == np.float32 and np.isfinite(result.trace["loss"]).all()


BAD = [
    ("mlp_torch", {"batchnorm": True}, "batchnorm"),
    ("mlp_torch", {"activation": "maxout"}, "activation"),
    ("mlp_torch", {"activation": "swish"}, "activation"),
    ("mlp_torch", {"hidden": []}, "hidden"),
    ("mlp_torch", {"reg": -1.0}, "reg"),
    ("mlp_torch", {"batch_size": 0}, "batch_size"),
    ("mlp_torch", {"batch_size": 10**6}, "batch_size"),
    ("mlp_torch", {"init": "glorot"}, "init"),
    ("mlp_torch", {"dtype": "float16"}, "dtype"),
    ("mlp_torch", {"seed": -1}, "seed"),
    ("cnn", {"channels": (8,)}, "channels"),
    ("cnn", {"channels": (0, 4)}, "channels"),
    ("cnn", {"channels": "8,16"}, "channels"),
    ("cnn", {"batch_size": 5000}, "batch_size"),
    ("cnn", {"reg": float("nan")}, "reg"),
    ("cnn", {"preprocess": "whiten"}, "preprocess"),
    ("cnn", {"val_fraction": 1.0}, "val_fraction"),
    ("cnn", {"dtype": "float16"}, "dtype"),
    ("transformer", {"p": 1}, "p"),
    ("transformer", {"p": 2.5}, "p"),
    ("transformer", {"d_model": 0}, "d_model"),
    ("transformer", {"heads": 0}, "heads"),
    ("transformer", {"heads": 3}, "heads"),  # does not divide d_model 32
    ("transformer", {"layers": 0}, "layers"),
    ("transformer", {"train_fraction": 0.0}, "train_fraction"),
    ("transformer", {"train_fraction": 1.0}, "train_fraction"),
    ("transformer", {"p": 5, "train_fraction": 0.01}, "train_fraction"),  # no training pair
    ("transformer", {"batch_size": 5000}, "batch_size"),
    ("transformer", {"reg": -1.0}, "reg"),
    ("transformer", {"seed": -1}, "seed"),
    ("transformer", {"dtype": "float16"}, "dtype"),
    ("transformer", {"norm_first": "yes"}, "norm_first"),
]


@pytest.mark.parametrize(("name", "params", "word"), BAD, ids=lambda v: str(v))
def test_bad_parameters_name_the_parameter(name, params, word):
    with pytest.raises(ValueError, match=word):
        problems.get(name, **params)


def test_params_rebuild_the_same_problem(tiny):
    again = problems.get(tiny.name, **tiny.params)
    x = points(tiny)[1]
    assert again.params == tiny.params and again.loss(x) == tiny.loss(x)
    assert repr(tiny).startswith(tiny.name + "(")


# transformer: modular addition ----------------------------------------------------------


def test_transformer_data_split():
    p = problems.get("transformer", **TINY_TRANSFORMER)
    train, val = grokking_split(5, 0.3, 0)
    assert (p.n_train, p.n_val) == (len(train), len(val)) == (8, 17)
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.union1d(train, val), np.arange(25))  # all pairs
    # seeded: the same seed the same split, another seed another
    np.testing.assert_array_equal(grokking_split(5, 0.3, 0)[0], train)
    assert not np.array_equal(grokking_split(5, 0.3, 1)[0], train)
    # the rows: [a, b, =] (token p) with target (a + b) mod p, int64
    for X, y, rows in ((p._X_train, p._y_train, train), (p._X_val, p._y_val, val)):
        assert X.dtype == y.dtype == torch.int64 and X.shape == (len(rows), 3)
        np.testing.assert_array_equal(X[:, 0] * 5 + X[:, 1], rows)
        assert bool((X[:, 2] == 5).all()) and bool((y == (X[:, 0] + X[:, 1]) % 5).all())
    default = problems.get("transformer")
    assert (default.n_train, default.n_val) == (2823, 9409 - 2823)
    assert default.params == {"p": 97, "d_model": 32, "heads": 4, "layers": 1,
                              "train_fraction": 0.3, "norm_first": True, "batch_size": 512,
                              "reg": 0.0, "seed": 0}


def test_transformer_is_deterministic_and_leaves_torch_rng_alone():
    state = torch.random.get_rng_state()
    p = problems.get("transformer", **TINY_TRANSFORMER)
    x0 = p.x0(3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == 1
    np.testing.assert_array_equal(x0, problems.get("transformer", **TINY_TRANSFORMER).x0(3))
    assert not np.array_equal(x0, p.x0(4))
    # LayerNorm gains start at 1 (the module's own init, not He's zero "biases")
    gains = [s for s in p.layout if s.name.endswith("norm1.weight")]
    assert gains and np.all(x0[gains[0].start:gains[0].stop] == 1)


def test_transformer_float32():
    p32 = problems.get("transformer", **TINY_TRANSFORMER, dtype="float32")
    p64 = problems.get("transformer", **TINY_TRANSFORMER)
    x = p32.x0(1)
    assert x.dtype == np.float32 and p32.params["dtype"] == "float32"
    value, g = p32.loss_and_grad(x)
    assert g.dtype == np.float32 and value == p32.loss(x)
    np.testing.assert_array_equal(g, p32.grad(x))
    assert value == pytest.approx(p64.loss(x.astype(float)), rel=1e-5)
    assert rel(g.astype(float), p64.grad(x.astype(float))) < 1e-4
    assert p32.hvp(x, np.ones(p32.dim, dtype=np.float32)).dtype == np.float32


def test_transformer_adam_runs_and_repeats_bit_for_bit():
    p = problems.get("transformer")  # the defaults: p 97, d_model 32, batch 512
    runs = [optbench.run(p, optimizers.get("adam", lr=1e-3), steps=30, seed=0,
                         record_every=10) for _ in range(2)]
    trace = runs[0].trace
    assert {"train_acc", "val_loss", "val_acc"} <= set(trace.columns)
    assert runs[0].status == "max_steps" and trace["step"].iloc[-1] == 30
    assert np.all(np.isfinite(trace[["loss", "train_acc", "val_acc"]].to_numpy()))
    assert trace["loss"].iloc[-1] < trace["loss"].iloc[0]
    assert _trace(runs[1]).equals(_trace(runs[0]))
    np.testing.assert_array_equal(runs[1].x, runs[0].x)


# The generic class -----------------------------------------------------------------------


def _generic(**kwargs):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    return TorchModelProblem(module, X[:30], y[:30], X[30:], y[30:], **kwargs)


def test_generic_module_problem():
    p = _generic(batch_size=10, reg=0.3)
    state = torch.random.get_rng_state()
    assert p.dim == 3 * 4 + 4 + 4 * 2 + 2 and p.stochastic and p.name == "torch_model"
    x0 = p.x0(1)  # the module's own init, seeded, leaving torch's generator alone
    np.testing.assert_array_equal(x0, p.x0(1))
    assert not np.array_equal(x0, p.x0(2))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert rel(fd_grad(p.loss, x0), p.grad(x0)) < 1e-6
    v = np.random.default_rng(0).standard_normal(p.dim)
    assert rel(fd_hvp(p.grad, x0, v), p.hvp(x0, v)) < 1e-5
    he = _generic(init="he").x0(0)
    assert np.all(he[12:16] == 0) and np.all(he[:12] != 0)  # biases 0, weights drawn
    assert sorted(p.metrics(x0)) == ["train_acc", "val_acc", "val_loss"]


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"init": "lecun"}, "init"),
    ({"transposed": ["nope"]}, "transposed"),
    ({"transposed": ["0.bias"]}, "transposed"),
    ({"loss_fn": 3}, "loss_fn"),
    ({"batch_size": 31}, "batch_size"),
])
def test_generic_bad_parameters(kwargs, word):
    with pytest.raises(ValueError, match=word):
        _generic(**kwargs)
    with pytest.raises(ValueError, match="module"):
        TorchModelProblem("not a module", [[0.0]], [0], [[0.0]], [0])


# torch stays optional --------------------------------------------------------------------


def test_import_problems_does_not_import_torch():
    code = "import problems, sys; assert 'torch' not in sys.modules; problems.names()"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_torch_building_names_the_extra():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import problems\n"
        "for name in ('mlp_torch', 'cnn', 'transformer'):\n"
        "    try:\n"
        "        problems.get(name)\n"
        "    except ImportError as exc:\n"
        "        assert \"pip install 'optbench[torch]'\" in str(exc), exc\n"
        "    else:\n"
        "        raise AssertionError(name)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
