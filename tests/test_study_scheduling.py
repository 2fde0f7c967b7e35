"""The local pool's workers and its scheduling: every spec runs exactly once, in any
order, with the serial results; workers start warm and one-threaded; a worker that
dies costs only the runs it kills, wherever they sit in the study."""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
import pytest

import optbench
from optbench.spec import RunSpec
from optbench.store import runs
from optbench.study import (FORKSERVER_PRELOAD, JEMALLOC_ENVIRONMENT, WORKER_ENVIRONMENT, _new_pool,
                            pool_context, run_study, worker_environment)

PLUGIN = "tests.plugins.crashing"


def _specs():
    """Twelve short runs of different lengths on two problems (one stochastic)."""
    specs = []
    for problem, params in (("quadratic", {"dim": 6, "condition_number": 30.0}),
                            ("quadratic", {"dim": 3, "noise": 0.2})):
        for opt, hyper, steps in (("sgd", {"lr": 0.02}, 15), ("adam", {"lr": 0.05}, 40),
                                  ("momentum", {"lr": 0.01, "rho": 0.9}, 25)):
            for seed in (0, 1):
                specs.append(RunSpec(problem=problem, problem_params=params, optimizer=opt,
                                     optimizer_params=hyper, seed=seed, steps=steps, record_every=5))
    return specs


def _crash(dim):
    return RunSpec(problem="crashing", problem_params={"dim": dim}, optimizer="sgd",
                   optimizer_params={"lr": 0.1}, steps=5)


def _table(path):
    data = optbench.load(path).drop(columns="time")
    return data.sort_values(["run_id", "step"]).reset_index(drop=True)


def test_pool_in_any_order_runs_each_spec_once_with_the_serial_results(tmp_path):
    specs = _specs()
    serial = run_study(specs, tmp_path / "serial")
    shuffled = [specs[i] for i in np.random.default_rng(7).permutation(len(specs))]
    # a spec given twice is run once
    outcomes = run_study(shuffled + shuffled[:3], tmp_path / "pool", jobs=2, executor="process")
    ids = [o.run_id for o in outcomes]
    assert sorted(ids) == sorted(s.run_id() for s in specs)  # each spec once, none twice
    assert {o.status for o in outcomes} == {o.status for o in serial} <= {"max_steps", "converged"}
    pd.testing.assert_frame_equal(_table(tmp_path / "serial"), _table(tmp_path / "pool"))
    # run again: everything is already stored
    again = run_study(shuffled, tmp_path / "pool", jobs=2, executor="process")
    assert [o.status for o in again] == ["skipped"] * len(specs)


# a dead worker's run is stored without an environment (it never reported one)
@pytest.mark.filterwarnings("ignore::optbench.store.MixedEnvironmentWarning")
def test_dead_workers_anywhere_cost_only_their_own_runs(tmp_path):
    good = _specs()
    # two runs that kill their worker: one early (most runs are still queued when the
    # pool breaks) and one late, so the lost runs go back to fresh pools twice
    specs = [good[0], _crash(2)] + good[1:9] + [_crash(3)] + good[9:]
    outcomes = run_study(specs, tmp_path, jobs=2, executor="process", plugins=[PLUGIN])
    assert sorted(o.run_id for o in outcomes) == sorted(s.run_id() for s in specs)
    status = {o.run_id: o for o in outcomes}
    for crash in (specs[1], specs[10]):
        assert status[crash.run_id()].status == "error"
        assert "worker process died" in status[crash.run_id()].error
    assert all(status[s.run_id()].status == "max_steps" for s in good)
    table = runs(tmp_path)
    assert len(table) == len(specs) and table["run_id"].is_unique
    # the good runs are the serial ones, bit for bit
    run_study(good, tmp_path / "serial")
    pooled = _table(tmp_path)
    pd.testing.assert_frame_equal(pooled[pooled["run_id"].isin([s.run_id() for s in good])]
                                  .reset_index(drop=True), _table(tmp_path / "serial"))


def _probe():
    """What a worker sees: its BLAS threads, environment, warm modules, kernels."""
    from threadpoolctl import threadpool_info

    from optimizers import kernels

    preload = sys.modules.get("optbench.worker_preload")
    return {
        "blas_threads": sorted({info["num_threads"] for info in threadpool_info()}),
        "environ": {key: os.environ.get(key) for key in (*WORKER_ENVIRONMENT, *JEMALLOC_ENVIRONMENT)},
        "preloaded": preload is not None,
        "warmed": getattr(preload, "WARMED", None),
        "kernels_loaded": kernels._compiled is not None,
        "kernel_path": kernels.active(),
        "plugin": PLUGIN in sys.modules,
        "pid": os.getpid(),
    }


def test_workers_start_one_threaded_and_warm():
    context = pool_context((PLUGIN,))
    with _new_pool(2, context, (PLUGIN,)) as pool:
        seen = [pool.submit(_probe).result() for _ in range(4)]
    for probe in seen:
        assert probe["blas_threads"] == [1]
        assert probe["plugin"]  # imported by the initializer (or the server), not by a run
    if sys.platform.startswith("linux"):
        assert context.get_start_method() == "forkserver"
        for probe in seen:
            assert probe["environ"]["OMP_NUM_THREADS"] == "1"
            assert probe["environ"]["OPENBLAS_NUM_THREADS"] == "1"
            assert probe["preloaded"] and all(probe["warmed"])
            # the numba kernels were loaded by the server, before any run in this worker
            assert probe["kernels_loaded"] == (probe["kernel_path"] == "numba")
        from multiprocessing import forkserver

        server = forkserver._forkserver._forkserver_pid
        assert len(os.listdir(f"/proc/{server}/task")) == 1  # a single thread when it forks
    else:
        assert context.get_start_method() == "spawn"


def test_worker_environment_is_restored(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("JE_ARROW_MALLOC_CONF", "narenas:1")
    with worker_environment():
        assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["OPENBLAS_NUM_THREADS"] == "1"
        assert os.environ["JE_ARROW_MALLOC_CONF"] == "narenas:1"  # the user's jemalloc setting wins
    assert os.environ["OMP_NUM_THREADS"] == "7"
    assert "OPENBLAS_NUM_THREADS" not in os.environ
    assert os.environ["JE_ARROW_MALLOC_CONF"] == "narenas:1"


def test_the_preload_warms_every_fused_rule():
    from optbench import worker_preload

    assert "optbench.worker_preload" in FORKSERVER_PRELOAD
    assert worker_preload.WARMED == (True,) * len(worker_preload.WARM_STEPS)
    assert worker_preload.warm_step("adam", {"lr": -1.0}) is False  # refused, not raised
