"""The harness's side of the stepwise contract: duck-typed problems and optimizers,
the warm-up step before the clock, the iterate check, and the state's bytes."""

from __future__ import annotations

import numpy as np
import pytest

import optimizers
import optbench
from optbench.spec import RunSpec
from optbench.step_contract import state_bytes
from optbench.study import run_study


class BareBowl:
    """A deterministic problem with exactly the documented attributes and no minibatch."""

    name = "bare_bowl"
    dim = 3
    params: dict = {}
    f_star = 0.0
    stochastic = False
    has_hess = False

    def x0(self, seed=0):
        return np.array([1.0, -2.0, 3.0])

    def loss(self, x):
        return 0.5 * float(x @ x)

    def grad(self, x):
        return x.copy()

    def hess(self, x):
        return np.eye(3)


def test_a_deterministic_problem_needs_no_minibatch_method():
    assert not hasattr(BareBowl(), "minibatch")
    result = optbench.run(BareBowl(), optimizers.get("sgd", lr=0.5), steps=3)
    # x_k = x0 * 0.5^k, so the loss is loss0 / 4^k
    assert result.trace["loss"].iloc[-1] == pytest.approx(7.0 / 64)


class CallLog(optimizers.Optimizer):
    """A plugin-style optimizer (defined outside the optimizers package) logging its calls."""

    name = "call_log"

    def __init__(self, lr=0.1):
        self.lr = lr
        self.hyperparams = {"lr": lr}
        self.calls: list[tuple[str, int]] = []

    def init(self, x0):
        self.calls.append(("init", x0.ctypes.data))
        return optimizers.State()

    def step(self, x, oracle, state):
        self.calls.append(("step", x.ctypes.data))
        x -= self.lr * oracle.grad(x)
        state.t += 1
        return x


def test_a_plugin_takes_one_throwaway_step_on_a_copy_before_the_run():
    opt = CallLog()
    result = optbench.run(BareBowl(), opt, steps=4)
    kinds = [kind for kind, _ in opt.calls]
    assert kinds == ["init", "step", "init", "step", "step", "step", "step"]
    warm_init, warm_step, run_init = (opt.calls[i][1] for i in range(3))
    assert warm_init == warm_step != run_init            # the warm-up works on its own copy
    assert all(address == run_init for _, address in opt.calls[3:])
    # the warm-up is not counted and does not move the run: 4 gradients, x0 * 0.9^4
    assert result.trace["n_grad"].tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(result.x, BareBowl().x0() * 0.9**4, rtol=0, atol=1e-15)
    assert result.trace["lr"].iloc[-1] == 0.1            # lr_at from a plain self.lr


def test_the_warm_up_draws_no_minibatch_from_the_run_generator(diag_quadratic):
    from tests.conftest import DiagQuadratic

    noisy = DiagQuadratic(stochastic=True, noise=0.3)
    built_in = optbench.run(noisy, optimizers.get("sgd", lr=0.1), steps=20)
    plugin = optbench.run(noisy, CallLog(0.1), steps=20)
    np.testing.assert_array_equal(built_in.trace["loss"], plugin.trace["loss"])


class Returns(CallLog):
    def __init__(self, what):
        super().__init__()
        self.what = what

    def step(self, x, oracle, state):
        return self.what(x)


@pytest.mark.parametrize("what, message", [
    (lambda x: x.astype(np.float32), "to shape (3,) float32"),
    (lambda x: np.append(x, 0.0), "to shape (4,) float64"),
    (lambda x: list(x), "returned a list, not a numpy array"),
])
def test_an_iterate_of_another_shape_or_dtype_is_an_error_naming_it(what, message):
    with pytest.raises(ValueError, match="changed the iterate|returned a") as err:
        optbench.run(BareBowl(), Returns(what), steps=3)
    assert message in str(err.value)


def test_a_nan_iterate_is_diverged():
    result = optbench.run(BareBowl(), Returns(lambda x: x * np.nan), steps=3)
    assert result.status == "diverged"


def test_in_a_study_a_bad_optimizer_is_an_error_and_the_others_run(tmp_path):
    class Halves(CallLog):
        def step(self, x, oracle, state):
            return x[:1]

    optimizers.register("halves_for_test", Halves)
    try:
        specs = [RunSpec(problem="quadratic", problem_params={"dim": 4}, optimizer=name,
                         optimizer_params={"lr": 0.005}, steps=5) for name in ("halves_for_test", "sgd")]
        outcomes = {o.optimizer: o for o in run_study(specs, tmp_path)}
    finally:
        optimizers.registry._FACTORIES.pop("halves_for_test")
    assert outcomes["halves_for_test[lr=0.005]"].status == "error"
    assert "changed the iterate from shape (4,)" in outcomes["halves_for_test[lr=0.005]"].error
    assert outcomes["sgd[lr=0.005]"].status == "max_steps"


def test_state_bytes_of_built_in_rules_and_plugins():
    x = np.zeros(10)
    adam = optimizers.get("adam")
    # first and second moments and the scratch buffer, 10 float64 each
    assert state_bytes(adam, adam.init(x)) == 3 * 10 * 8
    assert state_bytes(optimizers.get("sgd", lr=0.1), optimizers.get("sgd", lr=0.1).init(x)) == 0
    averaged = optimizers.Averaged(optimizers.get("momentum", lr=0.1), decay=0.9)
    inner = state_bytes(optimizers.get("momentum", lr=0.1), optimizers.get("momentum", lr=0.1).init(x))
    assert state_bytes(averaged, averaged.init(x)) == inner + 10 * 8
    result = optbench.run(BareBowl(), optimizers.get("adam", lr=0.1), steps=2)
    assert result.meta["state_bytes"] == 3 * 3 * 8


def test_an_optimizer_that_measures_its_own_state_is_asked():
    class Measured(CallLog):
        def state_bytes(self, state):
            return 12345

    assert optbench.run(BareBowl(), Measured(), steps=1).meta["state_bytes"] == 12345


def test_a_subclass_that_sets_only_init_and_step_runs():
    class Minimal(optimizers.Optimizer):  # no name, hyperparams, schedule or lr
        def init(self, x0):
            return optimizers.State()

        def step(self, x, oracle, state):
            x -= 0.5 * oracle.grad(x)
            return x

    result = optbench.run(BareBowl(), Minimal(), steps=2)
    assert result.meta["optimizer"] == "optimizer[]"
    assert np.isnan(result.trace["lr"]).all()
    np.testing.assert_array_equal(result.x, BareBowl().x0() * 0.25)
