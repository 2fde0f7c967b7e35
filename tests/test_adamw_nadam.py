"""The built-in ``adamw`` and ``nadam`` rules of optimizers/adaptive.py.

Four kinds of evidence: two steps of each rule worked out by hand; the fused kernel
held to the numpy reference bit for bit over whole runs (float64 and float32); 300
steps against ``torch.optim.AdamW`` and ``torch.optim.NAdam`` themselves (float64,
every iterate to a relative 1e-12, with constant and scheduled rates); and the
hyper-parameter checks with their messages.  The per-rule cases of
``tests/test_kernels.py`` (its ``CONFIGS``) cover the kernels' other contracts
(dtypes, unusual arrays, the policy).
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

import optimizers
from optimizers import kernels, schedules

HAVE_NUMBA = importlib.util.find_spec("numba") is not None


class Quadratic:
    """f(x) = x'Ax / 2 - b'x with a fixed SPD ``A``: ``grad = A x - b``, a fresh array per call."""

    def __init__(self, A, b):
        self.A = np.asarray(A, dtype=float)
        self.b = np.asarray(b, dtype=float)

    def grad(self, x):
        return (self.A @ x - self.b).astype(x.dtype)


def diagonal_1_4():
    """f(x) = (x1^2 + 4 x2^2) / 2: grad = (x1, 4 x2)."""
    return Quadratic(np.diag([1.0, 4.0]), np.zeros(2))


def rotated(n=6, seed=0):
    """A rotated quadratic with eigenvalues 1..10 and a minimiser away from 0, and a start."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = q @ np.diag(np.linspace(1.0, 10.0, n)) @ q.T
    return Quadratic(A, rng.standard_normal(n)), rng.standard_normal(n)


def run(opt, problem, x0, steps):
    """The iterates x_1 .. x_steps (copies: step works in place) and the final state."""
    x = x0.copy()
    state = opt.init(x)
    out = []
    for _ in range(steps):
        x = opt.step(x, problem, state)
        out.append(x.copy())
    return out, state


# --- two steps by hand -----------------------------------------------------------------


@pytest.mark.parametrize("kernel_choice", ["numpy", "auto"])
def test_adamw_two_steps_by_hand(kernel_choice):
    # f = (x1^2 + 4 x2^2) / 2 from x0 = (1, 1); lr = 0.1, beta1 = 0.5, beta2 = 0.75,
    # eps = 1e-7, weight_decay = 0.5, so every step first multiplies x by 1 - 0.05 = 0.95.
    lr, eps = 0.1, 1e-7
    opt = optimizers.get("adamw", lr=lr, beta1=0.5, beta2=0.75, eps=eps, weight_decay=0.5)
    opt = opt.with_kernels(kernel_choice)
    (x1, x2), state = run(opt, diagonal_1_4(), np.array([1.0, 1.0]), 2)
    # step 1 (t = 1): g = (1, 4); m = 0.5 g = (0.5, 2), v = 0.25 g^2 = (0.25, 4);
    # m / (1 - 0.5) = (1, 4), v / (1 - 0.75) = (1, 16): each coordinate moves by lr = 0.1
    want1 = [0.95 - lr * 1.0 / (1.0 + eps), 0.95 - lr * 4.0 / (4.0 + eps)]
    np.testing.assert_allclose(x1, want1, rtol=1e-15)
    np.testing.assert_allclose(x1, [0.85, 0.85], rtol=1e-7)
    # step 2 (t = 2): g = (x1[0], 4 x1[1]); m = 0.5 m + 0.5 g, v = 0.75 v + 0.25 g^2;
    # bias corrections 1 - 0.5^2 = 0.75 and 1 - 0.75^2 = 0.4375
    g = [want1[0], 4.0 * want1[1]]
    m = [0.25 + 0.5 * g[0], 1.0 + 0.5 * g[1]]
    v = [0.1875 + 0.25 * g[0] ** 2, 3.0 + 0.25 * g[1] ** 2]
    want2 = [0.95 * want1[i] - lr * (m[i] / 0.75) / (math.sqrt(v[i] / 0.4375) + eps)
             for i in range(2)]
    np.testing.assert_allclose(x2, want2, rtol=1e-14)
    np.testing.assert_allclose(state.first_moment, m, rtol=1e-15)
    np.testing.assert_allclose(state.second_moment, v, rtol=1e-15)
    assert state.t == 2


@pytest.mark.parametrize("kernel_choice", ["numpy", "auto"])
def test_nadam_two_steps_by_hand(kernel_choice):
    # f = (x1^2 + 4 x2^2) / 2 from x0 = (1, 1); lr = 0.1, beta1 = 0.5, beta2 = 0.75,
    # eps = 1e-7, momentum_decay = 1, so mu_t = 0.5 (1 - 0.5 * 0.96^t):
    # mu_1 = 0.26, mu_2 = 0.2696, mu_3 = 0.278816.
    lr, eps = 0.1, 1e-7
    opt = optimizers.get("nadam", lr=lr, beta1=0.5, beta2=0.75, eps=eps, momentum_decay=1.0)
    opt = opt.with_kernels(kernel_choice)
    assert [opt.momentum_at(t) for t in (1, 2, 3)] == pytest.approx([0.26, 0.2696, 0.278816],
                                                                    rel=1e-15)
    (x1, x2), state = run(opt, diagonal_1_4(), np.array([1.0, 1.0]), 2)
    # step 1 (t = 1): g = (1, 4); m = 0.5 g = (0.5, 2), v = 0.25 g^2 = (0.25, 4);
    # d = sqrt(v / 0.25) + eps = (1 + eps, 4 + eps); mu_product = mu_1 = 0.26;
    # x -= lr (1 - 0.26) / (1 - 0.26) g / d + lr 0.2696 / (1 - 0.26 * 0.2696) m / d
    c = lr * 0.2696 / (1.0 - 0.26 * 0.2696)
    want1 = [1.0 - lr * 1.0 / (1.0 + eps) - c * 0.5 / (1.0 + eps),
             1.0 - lr * 4.0 / (4.0 + eps) - c * 2.0 / (4.0 + eps)]
    np.testing.assert_allclose(x1, want1, rtol=1e-15)
    np.testing.assert_allclose(x1, [1.0 - 0.1 - 0.5 * 0.02696 / 0.929904] * 2, rtol=1e-6)
    # step 2 (t = 2): g = (x1[0], 4 x1[1]); mu_product = 0.26 * 0.2696 = 0.070096;
    # d = sqrt(v / (1 - 0.75^2)) + eps
    g = [want1[0], 4.0 * want1[1]]
    m = [0.25 + 0.5 * g[0], 1.0 + 0.5 * g[1]]
    v = [0.1875 + 0.25 * g[0] ** 2, 3.0 + 0.25 * g[1] ** 2]
    d = [math.sqrt(v[i] / 0.4375) + eps for i in range(2)]
    a = lr * (1.0 - 0.2696) / (1.0 - 0.070096)
    b = lr * 0.278816 / (1.0 - 0.070096 * 0.278816)
    want2 = [want1[i] - a * g[i] / d[i] - b * m[i] / d[i] for i in range(2)]
    np.testing.assert_allclose(x2, want2, rtol=1e-14)
    np.testing.assert_allclose(state.first_moment, m, rtol=1e-15)
    np.testing.assert_allclose(state.second_moment, v, rtol=1e-15)
    assert state.mu_product == pytest.approx(0.070096, rel=1e-14)
    assert state.t == 2


# --- the fused kernel against the numpy reference, bit for bit --------------------------

CONFIGS = [
    ("adamw", {"lr": 0.01}),
    ("adamw", {"lr": 0.05, "beta1": 0.5, "beta2": 0.75, "eps": 1e-3, "weight_decay": 0.3}),
    ("adamw", {"lr": schedules.StepDecay(0.05, factor=0.5, every=7), "weight_decay": 0.1}),
    ("nadam", {"lr": 0.01}),
    ("nadam", {"lr": 0.05, "beta1": 0.5, "beta2": 0.75, "eps": 1e-3, "momentum_decay": 0.5}),
    ("nadam", {"lr": schedules.InverseTime(0.1, k=0.3), "momentum_decay": 0.0}),
]
CONFIG_IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CONFIGS)]
BACKENDS = ["python", "numba"] if HAVE_NUMBA else ["python"]


@pytest.fixture
def fast_backend(monkeypatch, request):
    """``with_kernels("numba")`` runs the numba kernels, or the same kernels as Python loops."""
    if request.param == "python":
        monkeypatch.setattr(kernels, "_compiled", dict(kernels.RULES))
        monkeypatch.setattr(kernels, "_resolve",
                            lambda choice: "numpy" if choice == "numpy" else "numba")
    return request.param


@pytest.mark.parametrize("fast_backend", BACKENDS, indirect=True)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, kw", CONFIGS, ids=CONFIG_IDS)
def test_fused_kernel_is_the_reference_bit_for_bit(name, kw, dtype, fast_backend):
    """The same IEEE operations in the same order: every iterate and moment of a whole run
    equal, to the bit, in float64 and in float32 (scalars rounded once to float32)."""
    steps = 200 if fast_backend == "numba" else 40
    n = 1001 if fast_backend == "numba" else 37
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0.5, 3.0, n), rng.standard_normal(n)

    class DiagonalQuadratic:  # grad = a x - b, in x's dtype
        def grad(self, x):
            return (a * x - b).astype(x.dtype)

    x0 = rng.standard_normal(n).astype(dtype)
    fast = optimizers.get(name, **kw).with_kernels("numba")
    ref = fast.with_kernels("numpy")
    assert kernels.path_of(fast) == "numba" and kernels.path_of(ref) == "numpy"
    xf, xr = x0.copy(), x0.copy()
    sf, sr = fast.init(xf), ref.init(xr)
    for _ in range(steps):
        xf = fast.step(xf, DiagonalQuadratic(), sf)
        xr = ref.step(xr, DiagonalQuadratic(), sr)
        np.testing.assert_array_equal(xf, xr)
        np.testing.assert_array_equal(sf.first_moment, sr.first_moment)
        np.testing.assert_array_equal(sf.second_moment, sr.second_moment)
    assert xf.dtype == dtype and sf.first_moment.dtype == sf.second_moment.dtype == dtype
    assert getattr(sf, "mu_product", None) == getattr(sr, "mu_product", None)
    assert not np.array_equal(xf, x0)  # the run moved


# --- against torch.optim ----------------------------------------------------------------


@pytest.fixture
def torch64():
    """torch with float64 as its default dtype, restored afterwards.

    ``torch.optim.NAdam`` keeps ``mu_product`` (and the step count) in a tensor of the
    default dtype: in float32 its coefficients carry a relative error of ~1e-7, so
    float64 iterates would agree only to ~1e-7.  optbench keeps ``mu_product`` in float64.
    """
    torch = pytest.importorskip("torch", reason="torch is needed to compare with torch.optim")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(previous)


def _lockstep_with_torch(torch, name, kw, torch_class, torch_kw, steps=300, lrs=None,
                         kernel_choice=None):
    """Run optbench's rule and torch's optimizer side by side on the same quadratic, from the
    same start, with torch's gradient computed at torch's iterate; return the largest
    coordinate-wise relative difference over all steps and the distance travelled."""
    problem, x0 = rotated()
    opt = optimizers.get(name, **kw).with_kernels(kernel_choice)
    param = torch.tensor(x0.copy(), dtype=torch.float64, requires_grad=True)
    reference = torch_class([param], foreach=False, **torch_kw)
    x = x0.copy()
    state = opt.init(x)
    worst = 0.0
    for t in range(steps):
        if lrs is not None:
            for group in reference.param_groups:
                group["lr"] = lrs[t]
        with torch.no_grad():
            param.grad = torch.from_numpy(problem.grad(param.detach().numpy()))
        reference.step()
        x = opt.step(x, problem, state)
        theirs = param.detach().numpy()
        np.testing.assert_allclose(x, theirs, rtol=1e-12, atol=0, err_msg=f"step {t}")
        worst = max(worst, float(np.max(np.abs(x - theirs) / np.abs(theirs))))
    return worst, float(np.linalg.norm(x - x0))


TORCH_KERNELS = ["numpy", "auto"]


@pytest.mark.parametrize("kernel_choice", TORCH_KERNELS)
@pytest.mark.parametrize("kw", [
    {"lr": 0.02, "eps": 1e-8},
    {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.3},
])
def test_adamw_matches_torch(torch64, kw, kernel_choice):
    torch_kw = {"lr": kw["lr"], "betas": (kw.get("beta1", 0.9), kw.get("beta2", 0.999)),
                "eps": kw["eps"], "weight_decay": kw.get("weight_decay", 1e-2)}
    worst, travelled = _lockstep_with_torch(torch64, "adamw", kw, torch64.optim.AdamW, torch_kw,
                                            kernel_choice=kernel_choice)
    assert worst <= 1e-12 and travelled > 1.0


@pytest.mark.parametrize("kernel_choice", TORCH_KERNELS)
@pytest.mark.parametrize("kw", [
    {"lr": 0.02, "eps": 1e-8},
    {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "momentum_decay": 0.05},
])
def test_nadam_matches_torch(torch64, kw, kernel_choice):
    torch_kw = {"lr": kw["lr"], "betas": (kw.get("beta1", 0.9), kw.get("beta2", 0.999)),
                "eps": kw["eps"], "momentum_decay": kw.get("momentum_decay", 4e-3)}
    worst, travelled = _lockstep_with_torch(torch64, "nadam", kw, torch64.optim.NAdam, torch_kw,
                                            kernel_choice=kernel_choice)
    assert worst <= 1e-12 and travelled > 1.0


@pytest.mark.parametrize("name, torch_name, extra", [
    ("adamw", "AdamW", {"weight_decay": 0.2}),
    ("nadam", "NAdam", {"momentum_decay": 0.01}),
])
def test_scheduled_rate_matches_torch_with_the_same_rate_per_step(torch64, name, torch_name, extra):
    """A schedule as lr: step t uses lr_at(t), for AdamW also in the decay, as torch does
    when its group's lr is set to that value before step t."""
    schedule = schedules.StepDecay(0.08, factor=0.5, every=40)
    lrs = [schedule(t) for t in range(300)]
    assert lrs[0] == 0.08 and lrs[40] == 0.04 and lrs[299] == 0.08 * 0.5**7
    opt = optimizers.get(name, lr=schedule, **extra)
    assert [opt.lr_at(t) for t in range(300)] == lrs
    torch_kw = {"lr": lrs[0], "eps": 1e-7, **extra}
    worst, _ = _lockstep_with_torch(torch64, name, {"lr": schedule, **extra},
                                    getattr(torch64.optim, torch_name), torch_kw, lrs=lrs)
    assert worst <= 1e-12
    # and the schedule mattered: the constant first rate gives other iterates
    problem, x0 = rotated()
    scheduled, _ = run(opt, problem, x0, 300)
    constant, _ = run(optimizers.get(name, lr=lrs[0], **extra), problem, x0, 300)
    assert np.array_equal(scheduled[39], constant[39])
    assert not np.allclose(scheduled[-1], constant[-1], rtol=1e-6)


def test_schedule_given_as_description():
    spec = {"schedule": "inverse_time", "lr": 0.5, "k": 1.0}
    for name in ("adamw", "nadam"):
        opt = optimizers.get(name, lr=spec)
        assert [opt.lr_at(t) for t in range(3)] == [0.5, 0.25, 0.5 / 3]
        assert opt.hyperparams["lr"] == spec


@pytest.mark.parametrize("kernel_choice", ["numpy", "auto"])
def test_adamw_without_weight_decay_is_adam_bit_for_bit(kernel_choice):
    problem, x0 = rotated()
    kw = {"lr": 0.03, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6}
    adamw, _ = run(optimizers.get("adamw", weight_decay=0.0, **kw).with_kernels(kernel_choice),
                   problem, x0, 300)
    adam, _ = run(optimizers.get("adam", **kw).with_kernels(kernel_choice), problem, x0, 300)
    np.testing.assert_array_equal(np.array(adamw), np.array(adam))
    decayed, _ = run(optimizers.get("adamw", weight_decay=0.1, **kw), problem, x0, 300)
    assert not np.allclose(decayed[-1], adam[-1], rtol=1e-6)  # the decay is applied


# --- hyper-parameters ---------------------------------------------------------------------


def test_defaults_and_repr():
    assert optimizers.get("adamw").hyperparams == {
        "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7, "weight_decay": 1e-2}
    assert optimizers.get("nadam").hyperparams == {
        "lr": 2e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7, "momentum_decay": 4e-3}
    assert repr(optimizers.get("adamw", lr=0.1, weight_decay=0)) == \
        "adamw[lr=0.1,beta1=0.9,beta2=0.999,eps=1e-07,weight_decay=0.0]"
    assert isinstance(optimizers.get("adamw"), optimizers.AdamW)
    assert isinstance(optimizers.get("nadam"), optimizers.NAdam)
    assert {"adamw", "nadam"} <= set(optimizers.names())


@pytest.mark.parametrize("name, param, value, allowed", [
    ("adamw", "weight_decay", -0.1, r"\[0, inf\)"),
    ("adamw", "weight_decay", -1e-300, r"\[0, inf\)"),
    ("adamw", "weight_decay", math.inf, r"\[0, inf\)"),
    ("adamw", "weight_decay", math.nan, r"\[0, inf\)"),
    ("nadam", "momentum_decay", -0.004, r"\[0, inf\)"),
    ("nadam", "momentum_decay", math.inf, r"\[0, inf\)"),
    ("nadam", "momentum_decay", math.nan, r"\[0, inf\)"),
    ("adamw", "lr", 0.0, r"\(0, inf\)"),
    ("nadam", "lr", math.inf, r"\(0, inf\)"),
    ("adamw", "beta1", 1.0, r"\[0, 1\)"),
    ("nadam", "beta1", -0.1, r"\[0, 1\)"),
    ("adamw", "beta2", 1.5, r"\[0, 1\)"),
    ("nadam", "beta2", 1.0, r"\[0, 1\)"),
    ("adamw", "eps", 0.0, r"\(0, inf\)"),
    ("nadam", "eps", -1e-8, r"\(0, inf\)"),
])
def test_out_of_range(name, param, value, allowed):
    with pytest.raises(ValueError, match=rf"^{name}: {param} must be in {allowed}, got "):
        optimizers.get(name, **{param: value})


def test_messages_in_full():
    with pytest.raises(ValueError) as info:
        optimizers.get("adamw", weight_decay=-0.5)
    assert str(info.value) == "adamw: weight_decay must be in [0, inf), got -0.5"
    with pytest.raises(ValueError) as info:
        optimizers.get("nadam", momentum_decay=-1)
    assert str(info.value) == "nadam: momentum_decay must be in [0, inf), got -1"
    with pytest.raises(ValueError) as info:
        optimizers.get("nadam", momentum_decay="0.004")
    assert str(info.value) == "nadam: momentum_decay must be a real number, got '0.004'"
    with pytest.raises(ValueError, match="^adamw: weight_decay must be a real number, got True$"):
        optimizers.get("adamw", weight_decay=True)


def test_edge_values_are_accepted():
    assert optimizers.get("adamw", weight_decay=0).weight_decay == 0.0
    assert optimizers.get("nadam", momentum_decay=0).momentum_decay == 0.0
    assert optimizers.get("nadam", beta1=0.0, momentum_decay=0.0).momentum_at(5) == 0.0


@pytest.mark.parametrize("name, typo, message", [
    ("adamw", "weight_decy", r"^adamw: unknown hyper-parameter 'weight_decy'; "
                             r"did you mean 'weight_decay'\? \(valid: lr, beta1, beta2, eps, "
                             r"weight_decay\)$"),
    ("nadam", "momentum_decy", r"^nadam: unknown hyper-parameter 'momentum_decy'; "
                               r"did you mean 'momentum_decay'\?"),
    # nadam has no weight decay, adamw no momentum schedule, neither a bias_correction switch
    ("nadam", "weight_decay", r"^nadam: unknown hyper-parameter 'weight_decay'.*"
                              r"\(valid: lr, beta1, beta2, eps, momentum_decay\)$"),
    ("adamw", "momentum_decay", r"^adamw: unknown hyper-parameter 'momentum_decay'"),
    ("adamw", "bias_correction", r"^adamw: unknown hyper-parameter 'bias_correction'"),
])
def test_unknown_hyperparameter(name, typo, message):
    with pytest.raises(TypeError, match=message):
        optimizers.get(name, **{typo: 0.5})


def test_hyperparameters_are_keyword_only():
    with pytest.raises(ValueError, match="^adamw: .*positional"):
        optimizers.get("adamw").__class__(1e-3, 0.9)


def test_unknown_optimizer_name_suggests_the_nearest():
    with pytest.raises(ValueError, match=r"^unknown optimizer 'adamww'; did you mean 'adamw'\?"):
        optimizers.get("adamww")
    with pytest.raises(ValueError, match=r"^unknown optimizer 'nadan'; did you mean 'nadam'\?"):
        optimizers.get("nadan")
