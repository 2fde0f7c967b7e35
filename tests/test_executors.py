"""Executors: serial, local processes and a real dask LocalCluster give the same runs."""

from __future__ import annotations

import pandas as pd
import pytest

import optbench
from optbench.spec import RunSpec
from optbench.study import run_study


def _specs():
    specs = [
        RunSpec(problem="quadratic", problem_params={"dim": 4, "noise": 0.1},
                optimizer=opt, optimizer_params=params, seed=s, steps=40, record_every=10)
        for opt, params in (("sgd", {"lr": 0.02}), ("adam", {"lr": 0.05}))
        for s in (0, 1)
    ]
    # one run that raises inside the worker: its problem parameters are invalid
    specs.append(RunSpec(problem="quadratic", problem_params={"dim": 0},
                         optimizer="sgd", optimizer_params={"lr": 0.1}, steps=5))
    return specs


def _table(path):
    data = optbench.load(path).drop(columns="time")
    return data.sort_values(["run_id", "step"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def serial_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    outcomes = run_study(_specs(), out)
    assert sorted(o.status for o in outcomes).count("error") == 1
    return out


def test_dask_local_cluster_matches_serial(serial_dir, tmp_path):
    pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
    outcomes = run_study(_specs(), tmp_path, jobs=2, executor="dask")
    statuses = sorted(o.status for o in outcomes)
    assert statuses.count("error") == 1 and len(statuses) == 5
    error = next(o for o in outcomes if o.status == "error")
    assert "dim" in error.error
    pd.testing.assert_frame_equal(_table(serial_dir), _table(tmp_path))


def test_process_pool_matches_serial(serial_dir, tmp_path):
    run_study(_specs(), tmp_path, jobs=2, executor="process")
    pd.testing.assert_frame_equal(_table(serial_dir), _table(tmp_path))


def test_tags_are_stored_and_loaded(tmp_path):
    specs = _specs()[:2]
    tags = {specs[0].run_id(): {"tune.round": 1, "tune.trial": 7}}
    run_study(specs, tmp_path, tags=tags)
    data = optbench.load(tmp_path)
    tagged = data[data["run_id"] == specs[0].run_id()]
    assert (tagged["tune.round"] == 1).all() and (tagged["tune.trial"] == 7).all()
    assert data.loc[data["run_id"] == specs[1].run_id(), "tune.round"].isna().all()


def test_bad_executor_settings(tmp_path):
    with pytest.raises(ValueError, match="executor"):
        run_study(_specs(), tmp_path, executor="threads")
    with pytest.raises(ValueError, match="scheduler"):
        run_study(_specs(), tmp_path, executor="process", scheduler="tcp://127.0.0.1:1")
