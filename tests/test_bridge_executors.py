"""Bridged optimizers are reproducible bit for bit on every executor, and verify checks them.

A study of torch.optim (and, where installed, optax) runs on the serial, process and
dask executors gives the same traces (every column but ``time``); ``optbench verify``
re-runs them and finds every one identical; a torch optimizer that raises ends as an
``error`` run with its message while the rest of the study goes on.
"""

from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch", reason="the torch extra is not installed")

import optbench  # noqa: E402
from optbench.cli import main  # noqa: E402
from optbench.spec import RunSpec  # noqa: E402
from optbench.study import run_study  # noqa: E402

HAS_OPTAX = importlib.util.find_spec("optax") is not None


def _specs() -> list[RunSpec]:
    bridged = [("torch:Adam", {"lr": 0.01}), ("torch:SGD", {"lr": 0.01, "momentum": 0.9}),
               ("pytorch_optimizer:Lion", {"lr": 0.001})]
    if HAS_OPTAX:
        bridged.append(("optax:adam", {"learning_rate": 0.01}))
    if importlib.util.find_spec("pytorch_optimizer") is None:
        bridged = [b for b in bridged if not b[0].startswith("pytorch_optimizer")]
    problems = [("logistic", {"n_samples": 200, "n_features": 5, "batch_size": 16}),
                ("quadratic", {"dim": 8})]
    return [RunSpec(problem=p, problem_params=pp, optimizer=o, optimizer_params=op, seed=seed,
                    steps=60, record_every=20)
            for p, pp in problems for o, op in bridged for seed in (0, 1)]


@pytest.fixture(scope="module")
def serial_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    outcomes = run_study(_specs(), out)
    assert {o.status for o in outcomes} <= {"max_steps", "converged"}, outcomes
    return out


def _traces(directory):
    data = optbench.load(directory).drop(columns=["time"])
    return data.sort_values(["run_id", "step"]).reset_index(drop=True)


@pytest.mark.parametrize("executor", ["process", "dask"])
def test_bridged_runs_are_the_same_bits_on_every_executor(serial_dir, tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
    run_study(_specs(), tmp_path, jobs=2, executor=executor)
    serial, other = _traces(serial_dir), _traces(tmp_path)
    assert len(serial) == len(_specs()) * 4
    assert serial.equals(other)


def test_verify_reproduces_bridged_runs(serial_dir, capsys):
    assert main(["verify", str(serial_dir)]) == 0
    n = len(_specs())
    assert f"{n} of {n} runs reproduced bit for bit" in capsys.readouterr().out


def test_a_raising_torch_optimizer_is_an_error_run_and_the_study_goes_on(tmp_path):
    # a negative rate: torch itself raises when the bridge builds the optimizer, inside the run
    specs = [RunSpec(problem="quadratic", problem_params={"dim": 4}, optimizer="torch:Adam",
                     optimizer_params={"lr": -1.0}, steps=5),
             RunSpec(problem="quadratic", problem_params={"dim": 4}, optimizer="torch:Adam",
                     optimizer_params={"lr": 0.01}, steps=5)]
    outcomes = {o.optimizer: o for o in run_study(specs, tmp_path)}
    bad = outcomes["torch:Adam[lr=-1]"]
    assert bad.status == "error" and "Invalid learning rate" in bad.error
    assert outcomes["torch:Adam[lr=0.01]"].status == "max_steps"


@pytest.mark.parametrize("executor", ["process", "dask"])
def test_torch_model_runs_are_the_same_bits_on_every_executor(tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
    specs = [RunSpec(problem="mlp_torch", problem_params={"hidden": [16], "batch_size": 32},
                     optimizer=name, optimizer_params=params, seed=seed, steps=40, record_every=20)
             for name, params in (("adam", {"lr": 0.01}), ("torch:Adam", {"lr": 0.01}))
             for seed in (0, 1)]
    run_study(specs, tmp_path / "serial")
    run_study(specs, tmp_path / executor, jobs=2, executor=executor)
    serial, other = _traces(tmp_path / "serial"), _traces(tmp_path / executor)
    assert len(serial) == len(specs) * 3 and serial.equals(other)
