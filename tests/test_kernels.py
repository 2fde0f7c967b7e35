"""The fused kernels of optimizers/kernels.py against the numpy reference, and the kernel policy.

Tolerances.  A fused kernel performs its reference's operations in the same order, so
the two paths agree to rounding: every step is compared with ``rtol = 1e-12`` and
``atol = 1e-12 * max|x|`` (float64), the same after 100 steps, and float32 against
float32 to a few units in the last place (``rtol = 1e-6``).  (On the machines tried
they agree bit for bit.)  A float32 run is compared with the float64 reference at
float32 accuracy: ``rtol = atol = 2e-4`` (relative to ``max|x|``) after 25 steps.

The fast path is exercised twice where numba is installed: compiled by numba, and as
the same kernels run as plain Python loops (the only way without numba, as in
``tox -e nofast``, where the sizes are kept small); the reference path is
``with_kernels("numpy")``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import optimizers
from optimizers import kernels, schedules
from optimizers.averaging import Averaged

HAVE_NUMBA = importlib.util.find_spec("numba") is not None
BACKENDS = ["python", "numba"] if HAVE_NUMBA else ["python"]

STEP_DECAY = schedules.StepDecay(0.05, factor=0.5, every=7)
INVERSE_TIME = schedules.InverseTime(0.1, k=0.3)

CONFIGS = [
    ("sgd", {"lr": 0.05}),
    ("sgd", {"lr": STEP_DECAY}),
    ("momentum", {"lr": 0.01}),
    ("momentum", {"lr": INVERSE_TIME, "rho": 0.5}),
    ("nesterov", {"lr": 0.01}),
    ("nesterov", {"lr": STEP_DECAY, "rho": 0.3}),
    ("adagrad", {"lr": 0.1}),
    ("adagrad", {"lr": INVERSE_TIME, "eps": 1e-3}),
    ("rmsprop", {"lr": 0.01}),
    ("rmsprop", {"lr": STEP_DECAY, "decay_rate": 0.5, "eps": 1e-3}),
    ("adam", {"lr": 0.01}),
    ("adam", {"lr": STEP_DECAY, "beta1": 0.5, "beta2": 0.75, "eps": 0.1}),
    ("adam", {"lr": 0.01, "bias_correction": False}),
    ("adam", {"lr": INVERSE_TIME, "beta1": 0.0, "bias_correction": False}),
    ("adamw", {"lr": 0.01}),
    ("adamw", {"lr": STEP_DECAY, "beta1": 0.5, "beta2": 0.75, "eps": 0.1, "weight_decay": 0.3}),
    ("nadam", {"lr": 0.01}),
    ("nadam", {"lr": INVERSE_TIME, "beta1": 0.5, "beta2": 0.75, "eps": 0.1,
               "momentum_decay": 0.5}),
]
CONFIG_IDS = [name + "".join(f"-{k}={v if not isinstance(v, schedules.Schedule) else v.name}"
                             for k, v in kw.items()) for name, kw in CONFIGS]
STATE_ARRAYS = {"sgd": (), "momentum": ("v",), "nesterov": ("v",),
                "adagrad": ("grad_squared",), "rmsprop": ("grad_squared",),
                "adam": ("first_moment", "second_moment"),
                "adamw": ("first_moment", "second_moment"),
                "nadam": ("first_moment", "second_moment")}
FIRST_ORDER = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam"]


@pytest.fixture(autouse=True)
def fresh_policy(monkeypatch):
    """Every test starts from the environment's policy with OPTBENCH_KERNELS unset."""
    monkeypatch.delenv(kernels.ENV_VAR, raising=False)
    monkeypatch.setattr(kernels, "_setting", None)
    monkeypatch.setattr(kernels, "_path", None)


def fast_path(monkeypatch, backend):
    """Make the process-wide policy's fast path the numba kernels or their Python loops."""
    if backend == "numba":
        kernels.use("numba")
    else:
        monkeypatch.setattr(kernels, "_compiled", dict(kernels.RULES))
        monkeypatch.setattr(kernels, "_path", "numba")


class NoisyQuadratic:
    """grad = a * x - b + 0.3 * noise, a fresh array in ``dtype`` at every call (seeded)."""

    def __init__(self, a, b, seed, dtype=np.float64):
        self.a, self.b, self.dtype = a, b, dtype
        self.rng = np.random.default_rng(seed)

    def grad(self, x):
        noise = self.rng.standard_normal(x.shape)
        return (self.a * x - self.b + 0.3 * noise).astype(self.dtype)


def problem(n, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, n)
    b = rng.standard_normal(n)
    x0 = rng.standard_normal(n).astype(dtype)
    return a, b, x0


def assert_close64(actual, desired):
    if np.array_equal(actual, desired):  # the usual case, and a cheap test
        return
    scale = max(1.0, float(np.max(np.abs(desired))))
    np.testing.assert_allclose(actual, desired, rtol=1e-12, atol=1e-12 * scale)


def assert_close32(actual, desired):
    if np.array_equal(actual, desired):
        return
    np.testing.assert_allclose(actual, desired, rtol=1e-6, atol=1e-6 * float(np.abs(desired).max()))


def lockstep(name, kw, n, steps, monkeypatch, backend, dtype=np.float64):
    """Run the fast and the reference path side by side, comparing after every step."""
    fast_path(monkeypatch, backend)
    a, b, x0 = problem(n, dtype=dtype)
    fast = optimizers.get(name, **kw)
    ref = fast.with_kernels("numpy")
    xf, xr = x0.copy(), x0.copy()
    sf, sr = fast.init(xf), ref.init(xr)
    of, orf = NoisyQuadratic(a, b, 1, dtype), NoisyQuadratic(a, b, 1, dtype)
    compare = assert_close64 if dtype == np.float64 else assert_close32
    for _ in range(steps):
        xf = fast.step(xf, of, sf)
        xr = ref.step(xr, orf, sr)
        compare(xf, xr)
        for attr in STATE_ARRAYS[name]:
            compare(getattr(sf, attr), getattr(sr, attr))
    assert sf.t == sr.t == steps
    assert xf.dtype == xr.dtype == dtype
    return xf, xr


CASES = [(backend, n) for backend in BACKENDS
         for n in ([1, 7, 1000, 10**5] if backend == "numba" else [1, 7, 1000])]


@pytest.mark.parametrize("backend, n", CASES, ids=[f"{b}-n{n}" for b, n in CASES])
@pytest.mark.parametrize("name, kw", CONFIGS, ids=CONFIG_IDS)
def test_fast_path_agrees_with_the_reference_every_step(name, kw, backend, n, monkeypatch):
    steps = 100 if backend == "numba" or n < 1000 else 20
    xf, xr = lockstep(name, kw, n, steps, monkeypatch, backend)
    assert_close64(xf, xr)  # after all the steps
    assert not np.array_equal(xf, problem(n)[2])  # the run moved


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, kw", CONFIGS, ids=CONFIG_IDS)
def test_float32_fast_path_agrees_with_the_float32_reference(name, kw, backend, monkeypatch):
    lockstep(name, kw, 300, 50, monkeypatch, backend, dtype=np.float32)


@pytest.mark.parametrize("policy", ["numpy", "auto"])
@pytest.mark.parametrize("name, kw", CONFIGS, ids=CONFIG_IDS)
def test_float32_run_agrees_with_the_float64_reference(name, kw, policy):
    a, b, x0 = problem(500)
    ref = optimizers.get(name, **kw).with_kernels("numpy")
    opt = optimizers.get(name, **kw).with_kernels(policy)
    x64, x32 = x0.copy(), x0.astype(np.float32)
    s64, s32 = ref.init(x64), opt.init(x32)
    o64, o32 = NoisyQuadratic(a, b, 2), NoisyQuadratic(a, b, 2, np.float32)
    for _ in range(25):
        x64 = ref.step(x64, o64, s64)
        x32 = opt.step(x32, o32, s32)
    assert x32.dtype == np.float32
    scale = float(np.abs(x64).max())
    np.testing.assert_allclose(x32, x64, rtol=2e-4, atol=2e-4 * scale)
    # and not equal: the float32 run really ran in float32
    assert not np.array_equal(x32.astype(np.float64), x64)


@pytest.mark.parametrize("policy", ["numpy", "auto"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", FIRST_ORDER)
def test_dtype_is_kept_and_the_gradient_is_not_modified(name, dtype, policy):
    opt = optimizers.get(name, lr=0.01).with_kernels(policy)
    x0 = np.linspace(-1.0, 1.0, 11).astype(dtype)
    state = opt.init(x0)
    for attr in STATE_ARRAYS[name]:
        assert getattr(state, attr).dtype == dtype
    for g_dtype in (dtype, np.float64, np.float32):
        g = np.linspace(3.0, -2.0, 11).astype(g_dtype)
        kept = g.copy()
        x = x0.copy()

        class Kept:
            def grad(self, x, g=g):
                return g

        out = opt.step(x, Kept(), state)
        assert out is x and x.dtype == dtype
        np.testing.assert_array_equal(g, kept)
        assert not np.array_equal(x, x0)
    for attr in STATE_ARRAYS[name]:
        assert getattr(state, attr).dtype == dtype


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_integer_start_gets_float64_state(name):
    state = optimizers.get(name, lr=0.01).init(np.arange(4))
    for attr in STATE_ARRAYS[name]:
        assert getattr(state, attr).dtype == np.float64


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", FIRST_ORDER)
def test_unusual_arrays_give_the_reference_iterates(name, backend, monkeypatch):
    """A strided x and a float16 x (numpy path) and a 2-D x (kernel on a flat view)."""
    fast_path(monkeypatch, backend)
    rng = np.random.default_rng(5)
    for x0 in (rng.standard_normal(20)[::2], rng.standard_normal((3, 4)),
               rng.standard_normal(6).astype(np.float16)):
        g = np.ones(x0.shape, dtype=x0.dtype)

        class Fixed:
            def grad(self, x, g=g):
                return g

        fast = optimizers.get(name, lr=0.01)
        ref = fast.with_kernels("numpy")
        xf, xr = x0.copy(), x0.copy()
        if x0.ndim == 1 and x0.size == 10:  # the strided case: keep x a view
            base_f, base_r = np.zeros(20, x0.dtype), np.zeros(20, x0.dtype)
            base_f[::2], base_r[::2] = x0, x0
            xf, xr = base_f[::2], base_r[::2]
        sf, sr = fast.init(xf), ref.init(xr)
        for _ in range(3):
            xf = fast.step(xf, Fixed(), sf)
            xr = ref.step(xr, Fixed(), sr)
        assert xf.dtype == x0.dtype and xf.shape == x0.shape
        np.testing.assert_array_equal(xf, xr)


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_the_default_path_is_the_kernel(name, monkeypatch):
    """With a kernel that raises patched in, the default policy reaches it, "numpy" does not."""
    def boom(*args):
        raise RuntimeError("the fused kernel ran")

    monkeypatch.setattr(kernels, "_compiled", {rule: boom for rule in kernels.RULES})
    monkeypatch.setattr(kernels, "_resolve", lambda choice: "numpy" if choice == "numpy" else "numba")
    x = np.ones(5)
    oracle = NoisyQuadratic(np.ones(5), np.zeros(5), 0)
    opt = optimizers.get(name, lr=0.01)
    with pytest.raises(RuntimeError, match="fused kernel ran"):
        opt.step(x.copy(), oracle, opt.init(x))
    # the environment variable switches to the reference
    monkeypatch.setenv(kernels.ENV_VAR, "numpy")
    kernels.use(None)  # read the environment again
    assert kernels.policy() == "numpy" and kernels.active() == "numpy"
    state = opt.init(x)
    assert opt.step(x.copy(), oracle, state) is not None and state.t == 1
    # so does the function, over an environment asking for numba
    monkeypatch.setenv(kernels.ENV_VAR, "numba")
    kernels.use(None)
    with pytest.raises(RuntimeError):
        opt.step(x.copy(), oracle, opt.init(x))
    kernels.use("numpy")
    opt.step(x.copy(), oracle, opt.init(x))
    # and the context manager, which restores the previous policy
    kernels.use(None)
    with kernels.using("numpy") as path:
        assert path == "numpy"
        opt.step(x.copy(), oracle, opt.init(x))
    assert kernels.active() == "numba"
    with pytest.raises(RuntimeError):
        opt.step(x.copy(), oracle, opt.init(x))
    # and the per-instance choice, whatever the process-wide policy
    opt.with_kernels("numpy").step(x.copy(), oracle, opt.init(x))
    with kernels.using("numpy"):
        with pytest.raises(RuntimeError):
            opt.with_kernels("numba").step(x.copy(), oracle, opt.init(x))


def test_averaged_optimizer_follows_its_inner_choice(monkeypatch):
    def boom(*args):
        raise RuntimeError("the fused kernel ran")

    monkeypatch.setattr(kernels, "_compiled", {rule: boom for rule in kernels.RULES})
    monkeypatch.setattr(kernels, "_resolve", lambda choice: "numpy" if choice == "numpy" else "numba")
    x = np.ones(3)
    oracle = NoisyQuadratic(np.ones(3), np.zeros(3), 0)
    averaged = Averaged(optimizers.get("adam"))
    with pytest.raises(RuntimeError):
        averaged.step(x.copy(), oracle, averaged.init(x))
    reference = averaged.with_kernels("numpy")
    assert reference.inner.kernels == "numpy" and averaged.inner.kernels is None
    assert reference.hyperparams == averaged.hyperparams
    reference.step(x.copy(), oracle, reference.init(x))


def test_with_kernels_leaves_identity_alone():
    opt = optimizers.get("adam", lr=0.01, bias_correction=False)
    twin = opt.with_kernels("numpy")
    assert twin is not opt and opt.kernels is None and twin.kernels == "numpy"
    assert twin.hyperparams == opt.hyperparams and repr(twin) == repr(opt)
    assert twin.with_kernels(None).kernels is None


def test_policy_is_validated():
    for bad in ("fast", "NUMBA", "", 1):
        with pytest.raises(ValueError, match="'auto', 'numba', 'numpy'"):
            kernels.use(bad)
        with pytest.raises(ValueError, match="'auto', 'numba', 'numpy'"):
            optimizers.get("sgd", lr=0.1).with_kernels(bad)
        with pytest.raises(ValueError, match="'auto', 'numba', 'numpy'"):
            kernels.active(bad)
    assert kernels.policy() == "auto"  # a refused value changes nothing


def test_environment_value_is_validated(monkeypatch):
    monkeypatch.setenv(kernels.ENV_VAR, "fortran")
    with pytest.raises(ValueError, match=r"OPTBENCH_KERNELS must be one of 'auto', 'numba', 'numpy', "
                                         r"got 'fortran'"):
        kernels.active()
    monkeypatch.setenv(kernels.ENV_VAR, " numpy ")  # surrounding blanks are forgiven
    assert kernels.active() == "numpy"


def test_numba_policy_without_numba_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` now raises ImportError
    with pytest.raises(ImportError, match=r"needs the package 'numba'.*pip install optbench\[fast\]"):
        kernels.use("numba")
    assert kernels.policy() == "auto"  # unchanged by the refusal
    with pytest.raises(ImportError, match="needs the package 'numba'"):
        optimizers.get("adam").with_kernels("numba")
    monkeypatch.setenv(kernels.ENV_VAR, "numba")
    with pytest.raises(ImportError, match="needs the package 'numba'"):
        kernels.active()
    opt = optimizers.get("adam")
    with pytest.raises(ImportError, match="needs the package 'numba'"):
        opt.step(np.ones(2), NoisyQuadratic(np.ones(2), np.zeros(2), 0), opt.init(np.ones(2)))
    # "auto" falls back to the reference, which runs
    monkeypatch.setenv(kernels.ENV_VAR, "auto")
    kernels.use(None)
    assert kernels.active() == "numpy"
    assert kernels.fused("adam") is None
    x = np.ones(2)
    state = opt.init(x)
    assert opt.step(x, NoisyQuadratic(np.ones(2), np.zeros(2), 0), state) is x and state.t == 1


def test_auto_picks_numba_exactly_when_it_is_installed():
    assert kernels.active("auto") == ("numba" if HAVE_NUMBA else "numpy")
    assert kernels.active("numpy") == "numpy"


def run_python(code, **env):
    environment = {k: v for k, v in os.environ.items() if k != kernels.ENV_VAR}
    environment.update(env)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=environment, check=True)
    return out.stdout.strip()


def test_importing_optimizers_compiles_nothing_and_the_environment_sets_the_policy():
    code = ("import sys, optimizers; from optimizers import kernels; "
            "print('numba' in sys.modules, kernels.active())")
    assert run_python(code) == f"False {'numba' if HAVE_NUMBA else 'numpy'}"
    assert run_python(code, OPTBENCH_KERNELS="numpy") == "False numpy"


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_kernel_against_its_formula(backend, monkeypatch):
    """Direct calls of every kernel in RULES on random float64 arrays, against the formula."""
    rng = np.random.default_rng(7)
    n = 257
    if backend == "numba":
        kernels.use("numba")
    else:
        monkeypatch.setattr(kernels, "_compiled", dict(kernels.RULES))
        monkeypatch.setattr(kernels, "_path", "numba")
    x, g = rng.standard_normal(n), rng.standard_normal(n)
    m, v = rng.standard_normal(n), rng.uniform(0.0, 2.0, n)
    lr, rho, b1, b2, eps, c2 = 0.03, 0.7, 0.8, 0.95, 1e-3, 0.4
    want = {
        "sgd": (x - lr * g,),
        "momentum": (x - lr * (rho * m + g), rho * m + g),
        "nesterov": (x - rho * m + (1 + rho) * (rho * m - lr * g), rho * m - lr * g),
        "adagrad": (x - lr * g / (np.sqrt(v + g * g) + eps), v + g * g),
        "rmsprop": (x - lr * g / (np.sqrt(rho * v + (1 - rho) * g * g) + eps),
                    rho * v + (1 - rho) * g * g),
    }
    m1, v1 = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
    want["adam"] = (x - lr * m1 / (np.sqrt(v1 / c2) + eps), m1, v1)
    want["adam_uncorrected"] = (x - lr * m1 / (np.sqrt(v1) + eps), m1, v1)
    decay, moment_step = 0.99, 0.02
    want["adamw"] = (decay * x - lr * m1 / (np.sqrt(v1 / c2) + eps), m1, v1)
    d = np.sqrt(v1 / c2) + eps
    want["nadam"] = (x - lr * g / d - moment_step * m1 / d, m1, v1)
    calls = {
        "sgd": ((), (lr,)), "momentum": ((m,), (lr, rho)), "nesterov": ((m,), (lr, rho, 1 + rho)),
        "adagrad": ((v,), (lr, eps)), "rmsprop": ((v,), (lr, rho, 1 - rho, eps)),
        "adam": ((m, v), (lr, b1, 1 - b1, b2, 1 - b2, c2, eps)),
        "adam_uncorrected": ((m, v), (lr, b1, 1 - b1, b2, 1 - b2, eps)),
        "adamw": ((m, v), (decay, lr, b1, 1 - b1, b2, 1 - b2, c2, eps)),
        "nadam": ((m, v), (lr, moment_step, b1, 1 - b1, b2, 1 - b2, c2, eps)),
    }
    assert set(calls) == set(kernels.RULES)
    for rule, (state, coefficients) in calls.items():
        arrays = [a.copy() for a in (x, g, *state)]
        kept = arrays[1].copy()
        kernels.fused(rule)(*arrays, *coefficients)
        np.testing.assert_array_equal(arrays[1], kept)  # g is read only
        got = [arrays[0], *arrays[2:]]
        for u, w in zip(got, want[rule]):
            np.testing.assert_allclose(u, w, rtol=1e-13, atol=1e-15)


class Bowl32:
    """f(x) = sum(a x^2) / 2 evaluated in x's dtype, with its Hessian."""

    def __init__(self, n):
        self.a = np.linspace(1.0, 10.0, n)

    def loss(self, x):
        return float(0.5 * np.sum(self.a.astype(x.dtype) * x * x))

    def grad(self, x):
        return self.a.astype(x.dtype) * x

    def hess(self, x):
        return np.diag(self.a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", [
    lambda: optimizers.get("newton"),
    lambda: optimizers.get("newton", lr=2.0, line_search=True),
    lambda: optimizers.get("lbfgs_stochastic"),
    lambda: optimizers.get("lbfgs_stochastic", lr=0.1, line_search=False),
    lambda: Averaged(optimizers.get("momentum", lr=0.05)),
    lambda: Averaged(optimizers.get("adam", lr=0.3)).with_kernels("numpy"),
], ids=["newton", "newton-line-search", "lbfgs-stochastic", "lbfgs-stochastic-fixed-step",
        "averaged-momentum", "averaged-adam-numpy"])
def test_other_optimizers_keep_the_dtype(make, dtype):
    opt = make()
    problem = Bowl32(6)
    x = np.linspace(-1.0, 2.0, 6).astype(dtype)
    f0 = problem.loss(x)
    state = opt.init(x)
    for _ in range(5):
        out = opt.step(x, problem, state)
        assert out is x and x.dtype == dtype
    assert problem.loss(x) < 0.5 * f0
    if isinstance(opt, Averaged):
        assert opt.average(state).dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, kw", CONFIGS, ids=CONFIG_IDS)
def test_one_step_from_a_random_state_is_the_reference_to_the_bit(name, kw, backend, dtype,
                                                                   monkeypatch):
    """The same IEEE operations in the same order, none fused (no fastmath, no FMA), each
    rounded to the arrays' dtype: the step's result is the reference's, bit for bit.  (A
    float32 kernel that computed in float64 would fail here.)"""
    fast_path(monkeypatch, backend)
    rng = np.random.default_rng(11)
    n = 4099
    x0 = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    fast = optimizers.get(name, **kw)
    ref = fast.with_kernels("numpy")
    sf, sr = fast.init(x0), ref.init(x0)
    sf.t = sr.t = 5  # a later step: schedule and bias corrections away from t = 1
    for attr in STATE_ARRAYS[name]:
        start = rng.uniform(0.0, 2.0, n) if attr in ("grad_squared", "second_moment") \
            else rng.standard_normal(n)
        getattr(sf, attr)[...] = start
        getattr(sr, attr)[...] = start

    class Fixed:
        def grad(self, x):
            return g

    xf = fast.step(x0.copy(), Fixed(), sf)
    xr = ref.step(x0.copy(), Fixed(), sr)
    np.testing.assert_array_equal(xf, xr)
    for attr in STATE_ARRAYS[name]:
        np.testing.assert_array_equal(getattr(sf, attr), getattr(sr, attr))


def test_path_of_an_optimizer(monkeypatch):
    monkeypatch.setattr(kernels, "_resolve", lambda choice: "numpy" if choice == "numpy" else "numba")
    adam = optimizers.get("adam")
    assert kernels.path_of(adam) == "numba"
    assert kernels.path_of(adam.with_kernels("numpy")) == "numpy"
    assert kernels.path_of(Averaged(adam).with_kernels("numpy")) == "numpy"
    assert kernels.path_of(Averaged(adam)) == "numba"
    assert kernels.path_of(optimizers.get("newton")) == "numpy"
    assert kernels.path_of(optimizers.get("lbfgs")) == "numpy"
    with kernels.using("numpy"):
        assert kernels.path_of(adam) == "numpy"
        assert kernels.path_of(adam.with_kernels("numba")) == "numba"


def test_warm_up_readies_exactly_the_optimizers_kernel(monkeypatch):
    calls = []

    def recorder(rule):
        def kernel(*args):
            calls.append((rule, args[0].dtype, type(args[-1])))
        return kernel

    monkeypatch.setattr(kernels, "_compiled", {rule: recorder(rule) for rule in kernels.RULES})
    monkeypatch.setattr(kernels, "_resolve", lambda choice: "numpy" if choice == "numpy" else "numba")
    x32 = np.ones(3, dtype=np.float32)
    assert kernels.warm_up(optimizers.get("adam", bias_correction=False), x32) == "numba"
    assert kernels.warm_up(Averaged(optimizers.get("nesterov", lr=0.1)), np.ones(3)) == "numba"
    assert calls == [("adam_uncorrected", np.float32, np.float32), ("nesterov", np.float64, float)]
    assert kernels.warm_up(optimizers.get("adam").with_kernels("numpy"), x32) == "numpy"
    assert kernels.warm_up(optimizers.get("newton"), x32) == "numpy"
    assert kernels.warm_up(optimizers.get("adam"), np.ones(3, dtype=np.float16)) == "numba"
    assert len(calls) == 2  # nothing to ready on the numpy path or for float16


def test_warm_up_compiles_for_the_dtype():
    if not HAVE_NUMBA:  # without numba there is nothing to compile: the reference runs
        assert kernels.warm_up(optimizers.get("rmsprop", lr=0.1), np.ones(2)) == "numpy"
        return
    opt = optimizers.get("rmsprop", lr=0.1).with_kernels("numba")
    assert kernels.warm_up(opt, np.ones(2, dtype=np.float32)) == "numba"
    dispatcher = kernels.fused("rmsprop", "numba")
    assert any(str(sig[0].dtype) == "float32" for sig in dispatcher.signatures)
