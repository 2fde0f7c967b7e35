"""Results store: atomic Parquet files named by spec hash, load() as one tidy table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import optbench
from optbench.spec import RunSpec
from optbench.store import read_meta, run_files, write_run
from optbench.study import run_study


def _spec(**kw):
    base = dict(problem="quadratic", problem_params={"dim": 3, "condition_number": 10.0},
                optimizer="sgd", optimizer_params={"lr": 0.05}, seed=0, steps=20, record_every=5)
    base.update(kw)
    return RunSpec(**base)


def test_run_id_is_stable_and_sensitive():
    a, b = _spec(), _spec()
    assert a.run_id() == b.run_id()
    assert len({a.run_id(), _spec(seed=1).run_id(), _spec(steps=21).run_id(),
                _spec(optimizer_params={"lr": 0.051}).run_id(),
                _spec(problem_params={"dim": 3, "condition_number": 11.0}).run_id(),
                _spec(record_every=4).run_id()}) == 6
    # the spec round-trips through JSON
    again = RunSpec.from_dict(json.loads(json.dumps(a.to_dict())))
    assert again == a and again.run_id() == a.run_id()


def test_spec_rejects_non_json_values():
    with pytest.raises(ValueError, match="finite"):
        _spec(optimizer_params={"lr": float("nan")})
    with pytest.raises(ValueError, match="steps"):
        _spec(steps=-3)


def test_write_is_atomic_and_keeps_metadata(tmp_path):
    spec = _spec()
    trace = pd.DataFrame({"step": [0, 1], "loss": [1.0, 0.5]})
    path = write_run(tmp_path, spec, trace, status="max_steps", meta={"note": "x"})
    assert path.name == f"{spec.run_id()}.parquet"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left
    meta = read_meta(path)
    assert meta["spec"] == spec.to_dict() and meta["status"] == "max_steps" and meta["note"] == "x"


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(OSError, match="disk full"):
        write_run(tmp_path, _spec(), pd.DataFrame({"step": [0]}), status="max_steps", meta={})
    assert list(tmp_path.iterdir()) == []


def test_load_returns_tidy_table_with_parameter_columns(tmp_path):
    specs = [_spec(seed=s) for s in (0, 1)] + [_spec(optimizer="adam", optimizer_params={"lr": 0.1})]
    outcomes = run_study(specs, tmp_path)
    assert sorted(o.status for o in outcomes) == ["max_steps"] * 3
    data = optbench.load(tmp_path)
    for col in ["run_id", "problem", "optimizer", "seed", "step", "loss", "subopt", "grad_norm",
                "n_loss", "n_grad", "n_hess", "time", "lr", "problem.dim",
                "problem.condition_number", "optimizer.lr", "status"]:
        assert col in data.columns, col
    assert data["run_id"].nunique() == 3
    assert len(data) == 3 * 5  # steps 0, 5, 10, 15, 20
    assert set(data["optimizer"]) == {"sgd", "adam"}
    assert sorted(data.groupby("run_id")["seed"].first()) == [0, 0, 1]
    row = data[(data["optimizer"] == "sgd") & (data["seed"] == 1)]
    direct = optbench.run(__import__("problems").get("quadratic", dim=3, condition_number=10.0),
                          __import__("optimizers").get("sgd", lr=0.05), steps=20, seed=1,
                          record_every=5)
    np.testing.assert_array_equal(row["loss"].to_numpy(), direct.trace["loss"].to_numpy())


def test_rerun_skips_stored_runs_and_resumes(tmp_path):
    specs = [_spec(seed=s) for s in range(4)]
    first = run_study(specs[:2], tmp_path)  # an "interrupted" study: half of it done
    assert [o.status for o in first] == ["max_steps"] * 2
    mtimes = {p.name: p.stat().st_mtime_ns for p in run_files(tmp_path)}
    second = run_study(specs, tmp_path)
    assert sorted(o.status for o in second) == ["max_steps", "max_steps", "skipped", "skipped"]
    files = run_files(tmp_path)
    assert len(files) == 4  # every run exactly once
    for p in files:
        if p.name in mtimes:
            assert p.stat().st_mtime_ns == mtimes[p.name]  # not rewritten
    assert optbench.load(tmp_path)["run_id"].nunique() == 4


def test_failing_run_is_stored_as_error_and_study_goes_on(tmp_path):
    bad = _spec(problem="quadratic", problem_params={"dim": 3, "condition_number": 0.5})
    outcomes = run_study([bad, _spec()], tmp_path)
    statuses = {o.run_id: o.status for o in outcomes}
    assert statuses[bad.run_id()] == "error" and statuses[_spec().run_id()] == "max_steps"
    assert "condition_number" in next(o.error for o in outcomes if o.status == "error")
    # an error run is tried again on the next pass, a finished one is not
    again = run_study([bad, _spec()], tmp_path)
    assert sorted(o.status for o in again) == ["error", "skipped"]


def test_load_empty_and_missing(tmp_path):
    assert optbench.load(tmp_path).empty
    with pytest.raises(FileNotFoundError):
        optbench.load(tmp_path / "nope")


def test_load_adds_cost_from_the_stored_cost_model(tmp_path):
    import problems

    spec = _spec()
    run_study([spec], tmp_path)
    data = optbench.load(tmp_path)
    # sgd calls only grad: cost == n_grad
    np.testing.assert_array_equal(data["cost"].to_numpy(), data["n_grad"].to_numpy(dtype=float))
    prob = problems.get("quadratic", dim=3, condition_number=10.0)
    from optbench.cost import cost_column, cost_model

    assert cost_model(prob) == {"loss": 0.5, "grad": 1.0, "hess": 3.0, "hvp": 2.0}
    prob.loss_cost, prob.hess_cost = 0.25, 7.0
    model = cost_model(prob)
    trace = pd.DataFrame({"n_loss": [0, 2], "n_grad": [0, 3], "n_hess": [0, 1]})
    np.testing.assert_array_equal(cost_column(trace, model), [0.0, 0.25 * 2 + 3 + 7.0])
    assert np.isnan(cost_column(trace, None)).all()


def test_runs_lists_every_run_including_failed_ones(tmp_path):
    from optbench.store import runs

    bad = _spec(problem_params={"dim": 3, "condition_number": 0.5})
    run_study([bad, _spec()], tmp_path)
    table = runs(tmp_path).set_index("run_id")
    assert set(table.index) == {bad.run_id(), _spec().run_id()}
    assert table.loc[bad.run_id(), "status"] == "error"
    assert "condition_number" in table.loc[bad.run_id(), "error"]
    assert table.loc[_spec().run_id(), "steps_taken"] == 20
    # load has rows only for runs with a trace
    assert set(optbench.load(tmp_path)["run_id"]) == {_spec().run_id()}


def test_a_run_without_an_environment_does_not_make_the_directory_mixed(tmp_path):
    """A run lost with its worker is stored by the client with no environment record."""
    import warnings as _warnings

    from optbench.store import MixedEnvironmentWarning, write_run
    from optbench.study import run_study

    good = RunSpec(problem="quadratic", optimizer="sgd", problem_params={"dim": 2},
                   optimizer_params={"lr": 0.1}, steps=3)
    run_study([good], tmp_path)
    lost = RunSpec(problem="quadratic", optimizer="sgd", problem_params={"dim": 2},
                   optimizer_params={"lr": 0.2}, steps=3)
    empty = pd.DataFrame({"step": pd.Series(dtype="int64"), "loss": pd.Series(dtype="float64")})
    write_run(tmp_path, lost, empty, status="error", meta={"error": "worker died"})
    with _warnings.catch_warnings():
        _warnings.simplefilter("error", MixedEnvironmentWarning)
        data = optbench.load(tmp_path)
    assert set(data["run_id"]) == {good.run_id()}


def test_replace_atomically_leaves_the_old_file_when_the_write_fails(tmp_path):
    from optbench.store import replace_atomically

    target = tmp_path / "sub" / "page.html"
    assert replace_atomically(target, lambda tmp: tmp.write_text("old")) == target

    def failing(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        replace_atomically(target, failing)
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["page.html"]
