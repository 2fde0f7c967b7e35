"""The optbench command line: list, run (with resume), report, verify, and bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest

import optbench
from optbench.cli import main

SMALL = """
description = "tiny"
seeds = [0, 1]
steps = 30
record_every = 10

[[problems]]
name = "quadratic"
dim = 5
condition_number = 10.0

[[optimizers]]
name = "sgd"
lr = 0.05

[[optimizers]]
name = "adam"
lr = 0.05
"""


@pytest.fixture
def suite_file(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    return path


def test_list_shows_problems_optimizers_and_defaults(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ["quadratic", "rosenbrock", "logistic", "saddle", "sgd", "momentum", "nesterov",
                 "adagrad", "rmsprop", "adam", "newton", "lbfgs", "bfgs", "lbfgs_stochastic",
                 "beta2=0.999", "condition_number=100.0", "quick"]:
        assert word in out, word


def test_run_writes_results_summary_and_report(tmp_path, suite_file, capsys):
    out = tmp_path / "res"
    assert main(["run", str(suite_file), "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "quadratic" in text and "sgd[lr=0.05]" in text and "median final subopt" in text
    data = optbench.load(out)
    assert data["run_id"].nunique() == 4
    html = (out / "report.html").read_text()
    assert "<html" in html and "sgd[lr=0.05]" in html
    # resume: nothing is run again
    assert main(["run", str(suite_file), "--out", str(out)]) == 0
    assert "4 already stored" in capsys.readouterr().err
    assert main(["verify", str(out)]) == 0
    assert "4 of 4 runs reproduced" in capsys.readouterr().out
    assert main(["report", str(out), "--out", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").exists()


def test_verify_detects_a_changed_trace(tmp_path, suite_file, capsys):
    import pyarrow.parquet as pq

    out = tmp_path / "res"
    assert main(["run", str(suite_file), "--out", str(out), "--quiet", "--no-report"]) == 0
    path = sorted(out.glob("*.parquet"))[0]
    table = pq.read_table(path)
    frame = table.to_pandas()
    frame.loc[2, "loss"] += 1e-12
    import json

    import pyarrow as pa

    from optbench.store import checksum

    changed = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(changed.replace_schema_metadata(table.schema.metadata), path)
    capsys.readouterr()
    assert main(["verify", str(out)]) == 1
    assert "CORRUPT" in capsys.readouterr().out  # changed behind its checksum's back: damaged
    record = json.loads(table.schema.metadata[b"optbench"])
    record["checksum"] = checksum(changed, record)  # a whole file with other numbers
    pq.write_table(changed.replace_schema_metadata({b"optbench": json.dumps(record).encode()}), path)
    assert main(["verify", str(out)]) == 1
    assert "MISMATCH" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, word",
    [
        (["run", "nonexistent-suite"], "no suite file"),
        (["run", "--jobs", "0"], "--jobs"),
        (["frobnicate"], "invalid choice"),
        (["report", "/no/such/dir"], "not found"),
    ],
)
def test_bad_usage_exits_2_with_one_line(argv, word, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert word in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "change, word",
    [
        (('name = "sgd"', 'name = "sgdd"'), "unknown optimizer 'sgdd'"),
        (('name = "quadratic"', 'name = "quadratc"'), "unknown problem 'quadratc'"),
        (("lr = 0.05\n\n[[optimizers]]", "lr = -0.05\n\n[[optimizers]]"), "lr"),
        (("steps = 30", "steps = [30"), "malformed TOML"),
    ],
)
def test_bad_suite_through_the_real_command(tmp_path, change, word):
    path = tmp_path / "bad.toml"
    path.write_text(SMALL.replace(*change))
    proc = subprocess.run(
        [sys.executable, "-m", "optbench", "run", str(path), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert word in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()  # nothing ran


def test_help_everywhere():
    for command in ("", "run", "tune", "list", "report", "verify", "ensemble"):
        argv = [command, "--help"] if command else ["--help"]
        proc = subprocess.run([sys.executable, "-m", "optbench", *argv], capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0 and "usage: optbench" in proc.stdout


def test_run_on_an_existing_dask_cluster(tmp_path, suite_file, capsys):
    distributed = pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        argv = ["run", str(suite_file), "--out", str(tmp_path / "d"), "--quiet", "--no-report",
                "--scheduler", cluster.scheduler_address]
        assert main(argv) == 0
    assert optbench.load(tmp_path / "d")["run_id"].nunique() == 4
    capsys.readouterr()
    assert main(["run", str(suite_file), "--executor", "serial", "--scheduler", "tcp://x:1"]) == 2
    assert "--scheduler goes with --executor dask" in capsys.readouterr().err


def test_tune_command_searches_then_evaluates_on_fresh_seeds(tmp_path, capsys):
    from tests.test_suites import TUNED

    path = tmp_path / "tuned.toml"
    path.write_text(TUNED)
    out = tmp_path / "t"
    assert main(["tune", str(path), "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "tuning (search on seeds 7" in text and "re-run on seeds 0, 1" in text
    data = optbench.load(out)
    search = data[data["tune.role"] == "search"]
    evaluation = data[data["tune.role"] == "evaluation"]
    assert set(search["seed"]) == {7} and set(evaluation["seed"]) == {0, 1}
    # 4 search runs per optimizer (1 seed), then 2 evaluation runs of each choice
    assert search.groupby("optimizer")["run_id"].nunique().to_dict() == {"momentum": 4, "sgd": 4}
    assert evaluation["run_id"].nunique() == 4
    # the searched lr stays inside the suite's space for sgd; momentum keeps its fixed rho
    assert search.loc[search["optimizer"] == "sgd", "optimizer.lr"].between(1e-4, 1e-1).all()
    assert (data.loc[data["optimizer"] == "momentum", "optimizer.rho"] == 0.5).all()
    # the summary and the report cover the evaluation runs only
    assert "sgd[lr=" in text and "report:" in text


def test_tuned_report_says_only_evaluation_runs_count(tmp_path):
    from tests.test_suites import TUNED

    path = tmp_path / "tuned.toml"
    path.write_text(TUNED)
    out = tmp_path / "t"
    assert main(["tune", str(path), "--out", str(out), "--quiet"]) == 0
    page = (out / "report.html").read_text()
    assert "Hyper-parameter tuning" in page
    assert "only the evaluation runs" in page and "seeds the search never saw" in page
