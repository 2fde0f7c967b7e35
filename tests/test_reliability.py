"""Faults lose nothing; bad input gets one clear line; stored runs can be re-checked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import optbench
from optbench.cli import main
from optbench.spec import RunSpec
from optbench.store import (CorruptRunWarning, checksum, MixedEnvironmentWarning, read_meta, run_files,
                            runs, stored_ids)
from optbench.study import run_study

ROOT = Path(__file__).resolve().parents[1]


def _specs(n=4, steps=30):
    return [RunSpec(problem="quadratic", problem_params={"dim": 5, "condition_number": 10.0},
                    optimizer="adam", optimizer_params={"lr": 0.05}, seed=s, steps=steps,
                    record_every=5) for s in range(n)]


# -- SIGKILL at a random moment, then resume ------------------------------------------

KILL_SUITE = """
seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
steps = 3000
record_every = 10
[[problems]]
name = "quadratic"
dim = 30
[[optimizers]]
name = "sgd"
lr = 0.001
[[optimizers]]
name = "adam"
lr = 0.01
"""


def test_sigkill_then_rerun_stores_every_run_exactly_once(tmp_path):
    suite = tmp_path / "kill.toml"
    suite.write_text(KILL_SUITE)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "optbench", "run", str(suite), "--out", str(out), "--quiet",
           "--no-report"]
    rng = np.random.default_rng(2026)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # wait until some runs are stored, then kill at a random moment a little later
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("*.parquet"))) < 2:
        time.sleep(0.02)
    time.sleep(float(rng.uniform(0.0, 0.5)))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    stored_before = len(list(out.glob("*.parquet")))
    assert 0 < stored_before < 20, "the kill should land mid-study"
    for path in out.glob("*.parquet"):
        read_meta(path)  # every stored file is whole
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    files = sorted(out.glob("*.parquet"))
    assert len(files) == 20  # 2 optimizers x 10 seeds, each once
    assert {read_meta(p)["status"] for p in files} <= {"converged", "max_steps", "diverged"}
    assert not list(out.glob(".*.tmp"))  # no temporary left behind
    assert optbench.load(out)["run_id"].nunique() == 20


# -- failed writes ------------------------------------------------------------------------

def test_unwritable_output_is_one_clear_error_before_running(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    suite = tmp_path / "s.toml"
    suite.write_text(KILL_SUITE.replace("seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]", "seeds = [0]"))
    assert main(["run", str(suite), "--out", str(blocker / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "cannot write results to" in err and str(blocker / "out") in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_full_disk_mid_study_stops_naming_the_file_and_leaves_no_partial(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = os.write

    def fills_up(fd, data):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(os, "write", fills_up)
    with pytest.raises(OSError, match="cannot write .*parquet: No space left on device"):
        run_study(_specs(5), tmp_path)
    assert len(run_files(tmp_path)) == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    for path in run_files(tmp_path):
        read_meta(path)


@pytest.mark.parametrize("command", ["run", "report"])
def test_full_disk_exits_3_not_the_bad_input_code_and_names_the_file(command, tmp_path, monkeypatch, capsys):
    suite = tmp_path / "s.toml"
    suite.write_text(KILL_SUITE.replace("steps = 3000", "steps = 20"))
    out = tmp_path / "out"
    if command == "report":
        assert main(["run", str(suite), "--out", str(out), "--quiet", "--no-report"]) == 0
        capsys.readouterr()
    real = os.replace

    def full(src, dst, *args, **kwargs):
        if str(dst).endswith((".parquet", ".html")):
            raise OSError(28, "No space left on device")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full)
    argv = ["run", str(suite), "--out", str(out), "--quiet"] if command == "run" else ["report", str(out)]
    assert main(argv) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "make room and run again" in err[0], err
    assert "cannot write " + str(out) in err[0]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


# -- corrupt files ------------------------------------------------------------------------

def test_corrupt_file_is_named_skipped_by_load_and_rerun_by_run(tmp_path, capsys):
    specs = _specs(3)
    run_study(specs, tmp_path)
    victim = tmp_path / f"{specs[1].run_id()}.parquet"
    victim.write_bytes(victim.read_bytes()[:100])  # truncated
    with pytest.warns(CorruptRunWarning, match=victim.name):
        data = optbench.load(tmp_path)
    assert data["run_id"].nunique() == 2
    with pytest.warns(CorruptRunWarning):
        assert len(runs(tmp_path)) == 2
    with pytest.warns(CorruptRunWarning, match=victim.name):  # a study names it too
        assert specs[1].run_id() not in stored_ids(tmp_path, statuses=["max_steps", "converged"])
    # the report of a directory with a corrupt file still works
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptRunWarning)
        assert main(["report", str(tmp_path), "--out", str(tmp_path / "r.html")]) == 0
    # verify names it and fails
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptRunWarning)
        assert main(["verify", str(tmp_path)]) == 1
    assert f"CORRUPT {specs[1].run_id()}" in capsys.readouterr().out
    # run again: the corrupt run is computed and replaced, the others are kept
    with pytest.warns(CorruptRunWarning, match=victim.name):
        outcomes = run_study(specs, tmp_path)
    assert sorted(o.status for o in outcomes) == ["max_steps", "skipped", "skipped"]
    read_meta(victim)
    assert optbench.load(tmp_path)["run_id"].nunique() == 3


# -- a run that raises, a worker that dies --------------------------------------------------

def _crash_specs():
    crash = RunSpec(problem="crashing", problem_params={"dim": 2}, optimizer="sgd",
                    optimizer_params={"lr": 0.1}, steps=5)
    raises = RunSpec(problem="quadratic", problem_params={"dim": -1}, optimizer="sgd",
                     optimizer_params={"lr": 0.1}, steps=5)
    return _specs(3), crash, raises


@pytest.mark.parametrize("executor", ["process", "dask"])
def test_dead_worker_and_raising_run_are_errors_and_the_study_goes_on(tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
        import dask

        # fail a task at its first dead worker (distributed is imported first, so
        # that leaving this context restores its configuration instead of removing it)
        context = dask.config.set({"distributed.scheduler.allowed-failures": 0})
    else:
        import contextlib

        context = contextlib.nullcontext()
    good, crash, raises = _crash_specs()
    with context:
        outcomes = run_study(good + [crash, raises], tmp_path, jobs=2, executor=executor,
                             plugins=["tests.plugins.crashing"])
    status = {o.run_id: o for o in outcomes}
    assert all(status[s.run_id()].status == "max_steps" for s in good)
    assert status[crash.run_id()].status == "error"
    assert "worker" in status[crash.run_id()].error
    assert status[raises.run_id()].status == "error" and "dim" in status[raises.run_id()].error
    table = runs(tmp_path).set_index("run_id")
    assert table.loc[crash.run_id(), "status"] == "error" and len(table) == 5


# -- verify -------------------------------------------------------------------------------

def _rewrite_meta(path, change):
    """Change a stored run's record as another (valid) writer would: checksum renewed."""
    table = pq.read_table(path)
    meta = dict(table.schema.metadata)
    record = json.loads(meta[b"optbench"])
    change(record)
    record["checksum"] = checksum(table.replace_schema_metadata(None), record)
    meta[b"optbench"] = json.dumps(record).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)


def test_verify_sample_and_environment_differences(tmp_path, capsys):
    specs = _specs(6)
    run_study(specs, tmp_path)
    assert main(["verify", str(tmp_path), "--sample", "3", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "3 of 3 runs reproduced" in out
    first = tmp_path / f"{specs[0].run_id()}.parquet"
    _rewrite_meta(first, lambda r: r["environment"].update(numpy="0.0.1"))
    assert main(["verify", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "6 of 6 runs reproduced" in out and "1 runs were made in another environment" in out
    # a changed value: the first differing step and column are named
    table = pq.read_table(first)
    frame = table.to_pandas()
    frame.loc[frame["step"] == 15, "grad_norm"] *= 1 + 1e-15
    changed = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(changed.replace_schema_metadata(table.schema.metadata), first)
    assert main(["verify", str(tmp_path)]) == 1  # bytes changed behind the checksum's back
    assert f"CORRUPT {specs[0].run_id()}" in capsys.readouterr().out
    _rewrite_meta(first, lambda r: None)  # as a valid file made elsewhere with other numbers
    assert main(["verify", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"MISMATCH {specs[0].run_id()}: column 'grad_norm' first differs at step 15" in out


def test_load_says_when_environments_are_mixed(tmp_path):
    specs = _specs(2)
    run_study(specs, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MixedEnvironmentWarning)
        optbench.load(tmp_path)  # one environment: no warning
    _rewrite_meta(tmp_path / f"{specs[1].run_id()}.parquet",
                  lambda r: r["environment"].update(optbench="0.0.9"))
    with pytest.warns(MixedEnvironmentWarning, match="2 environments"):
        data = optbench.load(tmp_path)
    assert data["run_id"].nunique() == 2


def test_run_id_ignores_key_order_and_covers_every_field():
    a = RunSpec(problem="quadratic", problem_params={"dim": 3, "seed": 1}, optimizer="adam",
                optimizer_params={"lr": 0.1, "beta1": 0.8})
    b = RunSpec(problem="quadratic", problem_params={"seed": 1, "dim": 3}, optimizer="adam",
                optimizer_params={"beta1": 0.8, "lr": 0.1})
    assert a.run_id() == b.run_id()
    changed = [
        RunSpec(**{**a.to_dict(), "problem_params": {"dim": 3, "seed": 2}}),
        RunSpec(**{**a.to_dict(), "optimizer_params": {"lr": 0.1, "beta1": 0.9}}),
        RunSpec(**{**a.to_dict(), "seed": 1}),
        RunSpec(**{**a.to_dict(), "steps": 101}),
        RunSpec(**{**a.to_dict(), "record_every": 2}),
        RunSpec(**{**a.to_dict(), "options": {"tol_grad": 1e-8}}),
        RunSpec(**{**a.to_dict(), "optimizer": "rmsprop"}),
        RunSpec(**{**a.to_dict(), "problem": "rosenbrock"}),
    ]
    assert len({s.run_id() for s in changed} | {a.run_id()}) == len(changed) + 1


def test_trace_format_is_part_of_the_identity(monkeypatch):
    from optbench import spec as spec_module

    s = _specs(1)[0]
    before = s.run_id()
    monkeypatch.setattr(spec_module, "TRACE_FORMAT", spec_module.TRACE_FORMAT + 1)
    assert s.run_id() != before


def test_plugin_that_does_not_exist(tmp_path, capsys):
    suite = tmp_path / "s.toml"
    suite.write_text(KILL_SUITE)
    assert main(["run", str(suite), "--plugin", "no_such_module_xyz", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no_such_module_xyz" in err and len(err.strip().splitlines()) == 1
