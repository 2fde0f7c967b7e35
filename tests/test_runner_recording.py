"""The runner's recording schedule (every k, log-spaced), fused evaluations, dtypes
and its per-process BLAS controller."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import optbench
import optimizers
from optbench.build import execute
from optbench.runner import CountingOracle, blas_controller, record_steps
from optbench.spec import RunSpec
from tests.conftest import DiagQuadratic


class CountingProblem(DiagQuadratic):
    """Counts every evaluation the harness makes, recording included."""

    def __init__(self, *args, fused=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = {"loss": 0, "grad": 0, "loss_and_grad": 0}
        if fused:
            self.loss_and_grad = self._loss_and_grad

    def loss(self, x):
        self.calls["loss"] += 1
        return super().loss(x)

    def grad(self, x):
        self.calls["grad"] += 1
        return super().grad(x)

    def _loss_and_grad(self, x):
        self.calls["loss_and_grad"] += 1
        return float(0.5 * np.sum(self.a * x * x)), self.a * x


def test_record_every_steps():
    assert list(record_steps(10, 3)) == [3, 6, 9, 10]
    assert list(record_steps(9, 3)) == [3, 6, 9]
    assert list(record_steps(5, 1)) == [1, 2, 3, 4, 5]
    assert list(record_steps(0, 1)) == []


@pytest.mark.parametrize("steps", [1, 7, 1000, 10**6])
def test_log_steps_are_increasing_bounded_and_end_at_the_budget(steps):
    points = list(record_steps(steps, 1, "log", 20))
    assert points[-1] == steps
    assert all(b > a for a, b in zip(points, points[1:]))
    assert points[0] >= 1
    decades = max(np.log10(steps), 1.0)
    assert len(points) <= 20 * decades + 2


def test_log_steps_follow_the_points_per_decade():
    points = list(record_steps(10**6, 1, "log", 10))
    # 10 per decade over 6 decades: 10**(j/10) rounded, duplicates among the first removed
    expected = sorted({int(round(10 ** (j / 10))) for j in range(0, 61)})
    assert points == expected
    sparse = list(record_steps(10**6, 1000, "log", 10))
    assert all(b - a >= 1000 for a, b in zip(sparse, sparse[1:-1]))
    assert sparse[-1] == 10**6


def test_a_long_log_recorded_run_has_few_rows_and_as_many_evaluations():
    assert len(list(record_steps(10**6, 1, "log"))) == 208  # 1e6 steps at 40 per decade
    assert len(list(record_steps(10**6, 1, "log", 20))) == 110
    steps = 10**5
    problem = CountingProblem((1.0, 2.0))
    result = optbench.run(problem, optimizers.get("sgd", lr=1e-7), steps=steps, record="log",
                          points_per_decade=20, tol_grad=None)
    rows = len(result.trace)
    assert 80 <= rows <= 110
    assert result.trace["step"].tolist() == [0, *record_steps(steps, 1, "log", 20)]
    # the method's gradients plus one loss + grad per recorded row, nothing else
    assert problem.calls["grad"] == steps + rows
    assert problem.calls["loss"] == rows


def test_record_every_costs_one_evaluation_per_row():
    problem = CountingProblem()
    result = optbench.run(problem, optimizers.get("sgd", lr=1e-3), steps=1000, record_every=100,
                          tol_grad=None)
    assert len(result.trace) == 11
    assert problem.calls["loss"] == 11
    assert problem.calls["grad"] == 1000 + 11


def test_recorder_uses_the_fused_loss_and_grad():
    problem = CountingProblem(fused=True)
    plain = CountingProblem()
    a = optbench.run(problem, optimizers.get("sgd", lr=1e-2), steps=50, record_every=10)
    b = optbench.run(plain, optimizers.get("sgd", lr=1e-2), steps=50, record_every=10)
    assert problem.calls["loss_and_grad"] == len(a.trace) == 6
    assert problem.calls["loss"] == 0
    pd_cols = ["step", "loss", "grad_norm", "n_loss", "n_grad"]
    assert a.trace[pd_cols].equals(b.trace[pd_cols])


def test_counting_oracle_loss_and_grad_counts_one_of_each():
    fused = CountingProblem(fused=True)
    counter = CountingOracle(fused)
    x = np.array([1.0, 2.0])
    value, g = counter.loss_and_grad(x)
    assert (counter.n_loss, counter.n_grad) == (1, 1)
    assert fused.calls == {"loss": 0, "grad": 0, "loss_and_grad": 1}
    assert value == fused.loss(x) and np.array_equal(g, fused.grad(x))
    plain = CountingProblem()
    counter = CountingOracle(plain)
    counter.loss_and_grad(x)
    assert (counter.n_loss, counter.n_grad) == (1, 1)
    assert plain.calls == {"loss": 1, "grad": 1, "loss_and_grad": 0}
    with pytest.raises(ValueError, match="shape"):
        CountingOracle(type("Bad", (), {"loss_and_grad": lambda self, x: (0.0, x[:1])})()) \
            .loss_and_grad(x)


def test_log_recording_through_a_spec():
    spec = RunSpec("quadratic", "sgd", {"dim": 3}, {"lr": 1e-3}, steps=1000,
                   options={"record": "log", "points_per_decade": 5})
    assert spec.run_id() != RunSpec("quadratic", "sgd", {"dim": 3}, {"lr": 1e-3},
                                    steps=1000).run_id()
    trace = execute(spec).trace
    assert trace["step"].tolist() == [0, *record_steps(1000, 1, "log", 5)]


@pytest.mark.parametrize("options, word", [({"record": "sometimes"}, "record"),
                                           ({"points_per_decade": 0}, "points_per_decade"),
                                           ({"diverge_factor": 0}, "diverge_factor")])
def test_bad_record_options_are_refused_by_name(options, word):
    with pytest.raises(ValueError, match=word):
        RunSpec("quadratic", "sgd", {"dim": 3}, {"lr": 1e-3}, options=options)


@pytest.mark.parametrize("kwargs, word", [({"record": "often"}, "record"),
                                          ({"points_per_decade": 0}, "points_per_decade")])
def test_bad_record_arguments_of_run(kwargs, word):
    with pytest.raises(ValueError, match=word):
        optbench.run(DiagQuadratic(), optimizers.get("sgd", lr=0.1), steps=5, **kwargs)


def test_float32_start_keeps_its_dtype_and_integer_start_becomes_float64():
    problem = DiagQuadratic()
    x32 = np.array([1.0, -1.0], dtype=np.float32)
    result = optbench.run(problem, optimizers.get("sgd", lr=0.1), steps=5, x0=x32)
    assert result.x.dtype == np.float32
    reference = optbench.run(problem, optimizers.get("sgd", lr=0.1), steps=5, x0=x32.astype(float))
    np.testing.assert_allclose(result.x, reference.x, rtol=1e-6)
    ints = optbench.run(problem, optimizers.get("sgd", lr=0.1), steps=5, x0=np.array([1, -1]))
    assert ints.x.dtype == np.float64


def test_trace_dtypes_and_empty_extra_columns():
    trace = optbench.run(DiagQuadratic(), optimizers.get("sgd", lr=0.1), steps=3).trace
    for col in ("step", "n_loss", "n_grad", "n_hess"):
        assert trace[col].dtype == np.int64
    for col in ("loss", "subopt", "grad_norm", "time", "lr", "x_0", "x_1"):
        assert trace[col].dtype == np.float64


def test_blas_controller_is_cached_and_limits_blas_during_a_run():
    assert blas_controller() is blas_controller()
    seen = []

    class Spy(DiagQuadratic):
        def grad(self, x):
            seen.append({info["internal_api"]: info["num_threads"] for info in threadpool_info()
                         if info["user_api"] == "blas"})
            return super().grad(x)

    optbench.run(Spy(), optimizers.get("sgd", lr=0.1), steps=2)
    assert seen and all(all(n == 1 for n in s.values()) for s in seen)


def test_the_update_path_is_recorded_in_the_run_meta():
    from optimizers import kernels

    problem = DiagQuadratic()
    adam = optimizers.get("adam")
    assert optbench.run(problem, adam, steps=2).meta["kernels"] == kernels.active()
    assert optbench.run(problem, adam.with_kernels("numpy"), steps=2).meta["kernels"] == "numpy"
    averaged = optimizers.Averaged(optimizers.get("sgd", lr=0.1).with_kernels("numpy"))
    assert optbench.run(problem, averaged, steps=2).meta["kernels"] == "numpy"
    assert optbench.run(problem, optimizers.get("newton"), steps=2).meta["kernels"] == "numpy"
    assert "kernels" not in optbench.run(problem, optimizers.get("lbfgs"), steps=2).meta


def test_an_explicit_list_of_steps_is_recorded_and_tested_there_only():
    assert list(record_steps(100, 1, [50, 3, 3, 200, 7])) == [3, 7, 50, 100]
    problem = CountingProblem()
    result = optbench.run(problem, optimizers.get("sgd", lr=1e-3), steps=100,
                          record=[50, 3, 7], tol_grad=None)
    assert result.trace["step"].tolist() == [0, 3, 7, 50, 100]
    assert problem.calls["loss"] == 5
    spec = RunSpec("quadratic", "sgd", {"dim": 3}, {"lr": 1e-3}, steps=20,
                   options={"record": [5, 10]})
    assert execute(spec).trace["step"].tolist() == [0, 5, 10, 20]
    with pytest.raises(ValueError, match="record"):
        RunSpec("quadratic", "sgd", {"dim": 3}, {"lr": 1e-3}, options={"record": [0, 5]})
    with pytest.raises(ValueError, match="record"):
        optbench.run(problem, optimizers.get("sgd", lr=1e-3), steps=5, record=[1.5])
