"""optimizers.torch_bridge: torch optimizers run unchanged through optbench.run.

Conformance: each torch.optim rule through the bridge gives the trace of optbench's own
rule with the same hyper-parameters (float64, the same seed, minibatches included).
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch extra is not installed")

import optimizers  # noqa: E402
import problems  # noqa: E402
from optbench.runner import run  # noqa: E402
from optimizers.torch_bridge import TorchOptimizer, bridge_factory  # noqa: E402

TINY = np.finfo(np.float64).tiny
STEPS = 300


def quadratic(**params):
    return problems.get("quadratic", dim=20, condition_number=100.0, **params)


def logistic(**params):
    return problems.get("logistic", n_samples=500, n_features=10, **params)


def max_relative_difference(a, b, column):
    x, y = a[column].to_numpy(), b[column].to_numpy()
    return float(np.max(np.abs(x - y) / np.maximum(np.abs(y), TINY)))


def assert_same_trace(bridged, reference, rtol=1e-12):
    """The same rows, ``n_grad`` equal, ``loss`` and ``grad_norm`` equal to ``rtol`` relative."""
    assert bridged.status == reference.status
    a, b = bridged.trace, reference.trace
    assert len(a) == len(b)
    np.testing.assert_array_equal(a["n_grad"], b["n_grad"])
    for column in ("loss", "grad_norm"):
        assert max_relative_difference(a, b, column) <= rtol, column


# torch class, its keywords, optbench name, its keywords, lr on (quadratic, logistic).  The
# rates keep every run stable, moving and away from chaos for 300 steps: RMSProp at lr=1e-2
# on the quadratic oscillates and amplifies the last-bit differences of torch's arithmetic
# (lerp, fused multiply-adds) to 10% of the loss, NAdam at 1e-2 to 4e-9 of the gradient norm.
CASES = {
    "sgd": (torch.optim.SGD, {}, "sgd", {}, (3e-3, 3e-3)),
    "momentum": (torch.optim.SGD, {"momentum": 0.9}, "momentum", {"rho": 0.9}, (1e-3, 1e-3)),
    "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}, "nesterov", {"rho": 0.9},
                 (1e-3, 1e-3)),
    "adagrad": (torch.optim.Adagrad, {"eps": 1e-7}, "adagrad", {"eps": 1e-7}, (0.3, 3e-2)),
    "rmsprop": (torch.optim.RMSprop, {"alpha": 0.99, "eps": 1e-7}, "rmsprop",
                {"decay_rate": 0.99, "eps": 1e-7}, (3e-3, 1e-3)),
    "adam": (torch.optim.Adam, {"eps": 1e-7}, "adam", {"eps": 1e-7}, (1e-2, 3e-3)),
    "adamw": (torch.optim.AdamW, {"eps": 1e-7, "weight_decay": 1e-2}, "adamw",
              {"eps": 1e-7, "weight_decay": 1e-2}, (1e-2, 3e-3)),
    "nadam": (torch.optim.NAdam, {"eps": 1e-7, "momentum_decay": 4e-3}, "nadam",
              {"eps": 1e-7, "momentum_decay": 4e-3}, (3e-3, 3e-3)),
}


@pytest.fixture
def default_dtype():
    """``torch.set_default_dtype``, restored after the test."""
    before = torch.get_default_dtype()
    yield torch.set_default_dtype
    torch.set_default_dtype(before)


@pytest.mark.parametrize("problem_name", ["quadratic", "logistic"])
@pytest.mark.parametrize("case", list(CASES))
def test_torch_rules_give_optbench_traces(case, problem_name, default_dtype):
    torch_class, torch_kwargs, name, kwargs, rates = CASES[case]
    if case == "nadam":
        # torch keeps NAdam's mu_product in its default dtype, float32 unless changed (a
        # relative difference of ~5e-10 in the loss); optbench's is float64
        default_dtype(torch.float64)
    lr = rates[problem_name == "logistic"]
    problem = quadratic() if problem_name == "quadratic" else logistic(batch_size=32)
    reference = optimizers.get(name, lr=lr, **kwargs)
    bridged = TorchOptimizer(torch_class, lr=lr, **torch_kwargs)
    a = run(problem, bridged, steps=STEPS, seed=3)
    b = run(problem, reference, steps=STEPS, seed=3)
    assert b.status == "max_steps"
    assert b.trace["loss"].iloc[-1] < 0.9 * b.trace["loss"].iloc[0]
    assert_same_trace(a, b)


class Spy(torch.optim.SGD):
    """SGD recording what each step sees; every instance is listed (a run's is the last,
    after the harness's warm-up one)."""

    instances: list[Spy] = []

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        self.seen = []
        Spy.instances.append(self)

    def step(self, closure=None):
        group = self.param_groups[0]
        p = group["params"][0]
        self.seen.append({"data_ptr": p.data_ptr(), "dtype": p.dtype, "lr": group["lr"]})
        return super().step(closure)


def test_the_parameter_is_the_run_array():
    x = quadratic().x0(0)
    opt = TorchOptimizer(Spy, lr=1e-3)
    state = opt.init(x)
    assert x.ctypes.data == state.param.data_ptr()
    assert state.param.requires_grad and state.param.is_leaf
    before = x.copy()
    assert opt.step(x, quadratic(), state) is x
    assert not np.array_equal(x, before)  # updated in place through the shared memory

    Spy.instances.clear()
    result = run(quadratic(), opt, steps=5)
    pointers = {seen["data_ptr"] for seen in Spy.instances[-1].seen}
    assert pointers == {result.x.ctypes.data}


def test_another_array_is_copied_into_the_parameter():
    problem = quadratic()
    opt = TorchOptimizer(torch.optim.SGD, lr=1e-3)
    x = problem.x0(0)
    state = opt.init(x)
    other = problem.x0(1)
    expected = other - 1e-3 * problem.grad(other)
    out = opt.step(other, problem, state)
    assert out.ctypes.data == state.param.data_ptr()
    np.testing.assert_allclose(out, expected, rtol=1e-15, atol=0)  # torch may fuse the multiply-add
    np.testing.assert_array_equal(other, problem.x0(1))  # the array given is not written


def test_float32_runs_in_float32():
    problem = quadratic(dtype="float32")
    Spy.instances.clear()
    result = run(problem, TorchOptimizer(Spy, lr=1e-3), steps=50)
    assert {seen["dtype"] for seen in Spy.instances[-1].seen} == {torch.float32}
    assert result.x.dtype == np.float32
    assert np.isfinite(result.trace[["loss", "grad_norm"]].to_numpy()).all()
    assert result.trace["loss"].iloc[-1] < result.trace["loss"].iloc[0]


class CountedProblem:
    """The problem, counting every evaluation made through it (by anyone)."""

    def __init__(self, inner):
        self.inner = inner
        self.evaluations = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def loss(self, x):
        self.evaluations += 1
        return self.inner.loss(x)

    def grad(self, x):
        self.evaluations += 1
        return self.inner.grad(x)

    def loss_and_grad(self, x):
        self.evaluations += 1
        return self.inner.loss_and_grad(x)


class ClosureCountingLBFGS(torch.optim.LBFGS):
    instances: list[ClosureCountingLBFGS] = []

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        self.closure_calls = 0
        ClosureCountingLBFGS.instances.append(self)

    def step(self, closure):
        def counted():
            self.closure_calls += 1
            return closure()

        return super().step(counted)


def test_lbfgs_counts_every_closure_call_and_matches_scipy():
    problem = CountedProblem(logistic(batch_size=None))
    assert not problem.stochastic
    ClosureCountingLBFGS.instances.clear()
    bridged = TorchOptimizer(ClosureCountingLBFGS, lr=1.0, line_search_fn="strong_wolfe",
                             tolerance_grad=1e-12, tolerance_change=1e-14)
    result = run(problem, bridged, steps=10, tol_grad=None)
    run_calls = ClosureCountingLBFGS.instances[-1].closure_calls
    all_calls = sum(opt.closure_calls for opt in ClosureCountingLBFGS.instances)
    last = result.trace.iloc[-1]
    assert run_calls > 10  # several evaluations per step: they are all counted
    assert last["n_loss"] == last["n_grad"] == run_calls
    # every closure call evaluated the problem once; the recorder once per row
    assert problem.evaluations == all_calls + len(result.trace)

    scipy_result = run(logistic(batch_size=None), optimizers.get("lbfgs", gtol=1e-10),
                       steps=200, tol_grad=None)
    ours, theirs = last["loss"], scipy_result.trace["loss"].iloc[-1]
    assert abs(ours - theirs) <= 1e-6 * abs(theirs)


def test_closure_option_overrides_the_signature():
    problem = quadratic()
    calls = []

    class TakesOptionalClosure(torch.optim.SGD):
        def step(self, closure=None):
            calls.append(closure is not None)
            return super().step(closure)

    for given, expected in ((None, False), (True, True)):
        calls.clear()
        opt = TorchOptimizer(TakesOptionalClosure, lr=1e-3, closure=given)
        result = run(problem, opt, steps=3)
        assert calls[-3:] == [expected] * 3
        assert ("closure" in opt.hyperparams) == (given is not None)
        assert result.trace["n_loss"].iloc[-1] == (3 if expected else 0)


def test_a_schedule_sets_the_group_lr_before_every_step():
    spec = {"schedule": "step", "lr": 0.01, "factor": 0.5, "every": 10}
    schedule = optimizers.schedules.from_spec(spec)
    Spy.instances.clear()
    opt = TorchOptimizer(Spy, lr=spec)
    result = run(quadratic(), opt, steps=35)
    assert opt.hyperparams["lr"] == spec
    assert [seen["lr"] for seen in Spy.instances[-1].seen] == [schedule(t) for t in range(35)]
    steps = result.trace["step"].to_numpy()
    expected = [schedule(max(s - 1, 0)) for s in steps]
    np.testing.assert_array_equal(result.trace["lr"].to_numpy(), expected)


def test_lr_at_without_a_schedule():
    assert TorchOptimizer(torch.optim.SGD, lr=0.3).lr_at(7) == 0.3
    assert TorchOptimizer(torch.optim.Adam).lr_at(0) == 0.001  # the class's default

    def factory(params, **kwargs):
        return torch.optim.SGD(params, lr=0.1, **kwargs)

    assert math.isnan(TorchOptimizer(factory).lr_at(0))
    constant = TorchOptimizer(torch.optim.SGD, lr={"schedule": "constant", "lr": 0.2})
    assert constant.hyperparams == {"lr": 0.2} and constant.lr_at(5) == 0.2


def test_runs_are_reproducible_bit_for_bit():
    traces = [run(logistic(batch_size=32), TorchOptimizer(torch.optim.Adam, lr=1e-2),
                  steps=100, seed=1).trace.drop(columns="time") for _ in range(2)]
    assert traces[0].equals(traces[1])


class Raises(torch.optim.SGD):
    def step(self, closure=None):
        raise RuntimeError("this optimizer cannot step")


class WritesNaN(torch.optim.SGD):
    @torch.no_grad()
    def step(self, closure=None):
        self.param_groups[0]["params"][0].fill_(math.nan)


def replacing(change):
    class Replaces(torch.optim.SGD):
        def step(self, closure=None):
            p = self.param_groups[0]["params"][0]
            p.data = change(p.data)

    return Replaces


def test_an_optimizer_error_propagates():
    with pytest.raises(RuntimeError, match="cannot step"):
        run(quadratic(), TorchOptimizer(Raises, lr=1e-3), steps=5)


def test_nan_is_a_divergence():
    result = run(quadratic(), TorchOptimizer(WritesNaN, lr=1e-3), steps=5)
    assert result.status == "diverged"
    assert np.isfinite(result.trace["loss"].iloc[0])


@pytest.mark.parametrize("change, message", [
    (lambda data: data.float(), "dtype torch.float64 -> torch.float32"),
    (lambda data: data[:5].clone(), r"shape \(20,\) -> \(5,\)"),
    (lambda data: data.clone(), "storage"),
])
def test_a_replaced_parameter_is_refused(change, message):
    with pytest.raises(ValueError, match=message) as error:
        run(quadratic(), TorchOptimizer(replacing(change), lr=1e-3, name="replaces"), steps=5)
    assert str(error.value).startswith("replaces: step 0 changed the parameter's")


def test_warm_up_leaves_x_and_no_state_behind():
    problem = logistic(batch_size=None)
    opt = TorchOptimizer(torch.optim.LBFGS, lr=1.0)
    x = problem.x0(0)
    before = x.copy()
    opt.warm_up(x, problem)
    np.testing.assert_array_equal(x, before)
    state = opt.init(x)
    assert state.t == 0 and len(state.optimizer.state) == 0


def test_state_bytes_of_adam():
    problem = quadratic()
    opt = TorchOptimizer(torch.optim.Adam, lr=1e-3)
    x = problem.x0(0)
    state = opt.init(x)
    assert opt.state_bytes(state) == 0
    for _ in range(3):
        x = opt.step(x, problem, state)
    step = state.optimizer.state[state.param]["step"]
    assert opt.state_bytes(state) == 2 * problem.dim * 8 + step.numel() * step.element_size()
    result = run(problem, opt, steps=3)
    assert result.meta["state_bytes"] == opt.state_bytes(state)


def test_bridge_factory_signature_and_unknown_keywords():
    build = bridge_factory(torch.optim.AdamW, "torch:AdamW")
    parameters = inspect.signature(build).parameters
    assert list(parameters)[:4] == ["lr", "betas", "eps", "weight_decay"]
    assert "params" not in parameters and parameters["weight_decay"].default == 0.01
    with pytest.raises(ValueError) as error:
        build(betas2=(0.9, 0.99))
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("torch:AdamW: unknown keyword argument 'betas2'; did you mean 'betas'?")
    assert "(torch.optim.AdamW(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01, ...))" \
        in message

    takes_any = bridge_factory(lambda params, **kwargs: torch.optim.SGD(params, lr=0.1), "mine")
    assert takes_any(anything=1).hyperparams == {"anything": 1}


def test_bridge_factory_turns_lists_into_tuples():
    # NAdam keeps betas as given (Adam would make a tuple itself)
    opt = bridge_factory(torch.optim.NAdam, "torch:NAdam")(lr=1e-3, betas=[0.8, 0.99])
    assert opt.name == "torch:NAdam" and opt.hyperparams == {"lr": 1e-3, "betas": [0.8, 0.99]}
    state = opt.init(quadratic().x0(0))
    betas = state.optimizer.param_groups[0]["betas"]
    assert isinstance(betas, tuple) and betas == (0.8, 0.99)


def test_names_and_repr():
    assert TorchOptimizer(torch.optim.AdamW, lr=1e-3).name == "torch:AdamW"
    assert repr(TorchOptimizer(torch.optim.SGD, lr=0.1, momentum=0.9)) \
        == "torch:SGD[lr=0.1,momentum=0.9]"
    assert TorchOptimizer(Spy, lr=0.1).name.endswith("test_torch_bridge.Spy")


def test_pytorch_optimizer_lion_runs():
    pytorch_optimizer = pytest.importorskip("pytorch_optimizer", reason="pytorch-optimizer is not installed")
    result = run(logistic(batch_size=32), TorchOptimizer(pytorch_optimizer.Lion, lr=1e-3),
                 steps=50)
    assert result.status == "max_steps"
    assert np.isfinite(result.trace[["loss", "grad_norm"]].to_numpy()).all()
    assert result.trace["loss"].iloc[-1] < result.trace["loss"].iloc[0]


def test_schedulefree_records_the_evaluation_point():
    schedulefree = pytest.importorskip("schedulefree", reason="schedulefree is not installed")
    opt = TorchOptimizer(schedulefree.AdamWScheduleFree, lr=1e-2)
    assert opt.average is not None
    assert TorchOptimizer(torch.optim.Adam).average is None
    every_step = run(logistic(batch_size=32), opt, steps=50)
    trace = every_step.trace
    assert "avg_loss" in trace.columns
    assert np.isfinite(trace[["loss", "grad_norm", "avg_loss"]].to_numpy()).all()
    assert not np.array_equal(trace["avg_loss"].to_numpy()[1:], trace["loss"].to_numpy()[1:])
    # the evaluation point is read without moving the iterate: recording changes nothing
    rarely = run(logistic(batch_size=32), opt, steps=50, record_every=25)
    np.testing.assert_array_equal(every_step.x, rarely.x)
    np.testing.assert_array_equal(every_step.x_avg, rarely.x_avg)


class Noisy(torch.optim.SGD):
    """SGD plus noise drawn from torch's global generator (as some optimizers do)."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                p.add_(torch.randn_like(p), alpha=1e-3)
        return super().step(closure)


def test_the_run_seed_reaches_torch_global_generator():
    first = run(quadratic(), TorchOptimizer(Noisy, lr=1e-3), steps=20, seed=4)
    torch.manual_seed(12345)  # whatever happened to the global generator in between
    torch.randn(7)
    again = run(quadratic(), TorchOptimizer(Noisy, lr=1e-3), steps=20, seed=4)
    other = run(quadratic(), TorchOptimizer(Noisy, lr=1e-3), steps=20, seed=5)
    np.testing.assert_array_equal(first.x, again.x)
    assert not np.array_equal(first.x - quadratic().x0(4), other.x - quadratic().x0(5))


def test_a_torch_run_records_its_update_path():
    result = run(quadratic(), optimizers.get("torch:Adam", lr=1e-3), steps=3)
    assert result.meta["kernels"] == "torch"


def test_closure_is_a_suite_parameter_too():
    signature = inspect.signature(optimizers.factory("torch:SGD"))
    assert signature.parameters["closure"].default is None
    opt = optimizers.get("torch:SGD", lr=0.01, closure=True)
    assert opt.hyperparams["closure"] is True


def test_an_averaged_torch_optimizer_counts_torch_state_and_the_average():
    from optbench.step_contract import state_bytes

    averaged = optimizers.Averaged(TorchOptimizer(torch.optim.Adam, lr=1e-3), decay=0.9)
    result = run(quadratic(), averaged, steps=3)
    n = 20
    assert result.meta["state_bytes"] == 2 * n * 8 + 4 + n * 8  # moments, step, the average
    x = np.ones(n)
    state = averaged.init(x)
    assert state_bytes(averaged, state) == n * 8  # torch's state is empty before a step


def test_a_heavyball_optimizer_runs():
    pytest.importorskip("heavyball", reason="heavyball is not installed")
    result = run(quadratic(), optimizers.get("heavyball:AdamW", lr=1e-2), steps=30)
    assert result.status == "max_steps" and np.isfinite(result.trace["loss"]).all()
    assert result.trace["loss"].iloc[-1] < result.trace["loss"].iloc[0]
