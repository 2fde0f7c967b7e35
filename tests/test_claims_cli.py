"""``optbench claims``: --list, a quick run of toy claims from a --plugin (also on a
process pool, whose workers import the plugin), the verdict table, --report, the exit
code when a claim cannot be decided, and bad usage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from optbench import claims
from optbench.cli import main
from tests.test_claims_framework import FAILING, HOLDING, PLUGIN, registry, toy  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
TOYS = ["--plugin", PLUGIN, "--only", HOLDING, FAILING]


def test_list_shows_statements_and_experiments_and_runs_nothing(registry, tmp_path,  # noqa: F811
                                                                 monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["claims", "--list", *TOYS]) == 0
    out = capsys.readouterr().out
    assert out.startswith("claims (2):\n")
    assert HOLDING in out and FAILING in out
    assert "Momentum gets further than SGD on a narrow valley." in out
    assert "experiment: quadratic dim=2, condition number 50" in out
    assert "statistic: ratio = median final subopt of momentum / of sgd" in out
    assert list(tmp_path.iterdir()) == []


def test_quick_run_through_the_real_command_on_two_workers(tmp_path):
    out, report = tmp_path / "res", tmp_path / "page.html"
    argv = [sys.executable, "-m", "optbench", "claims", "--quick", *TOYS, "--seeds", "0", "1", "2",
            "--out", str(out), "--jobs", "2", "--report", str(report)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["#", "claim", "verdict", "summary"]
    assert lines[1].split()[:3] == ["-", HOLDING, "holds"]
    assert lines[2].split()[:5] == ["-", FAILING, "does", "not", "hold"]
    assert "median final subopt ratio momentum/sgd = 0.14" in lines[1]
    assert "1 holds, 1 does not hold, 0 inconclusive" in proc.stdout
    assert f"results:  {out}" in proc.stdout
    assert f"verdicts: {out / 'claims' / 'verdicts.json'}" in proc.stdout
    assert f"report:   {report}" in proc.stdout
    assert "claims: runs" in proc.stderr and "(process, jobs=2)" in proc.stderr
    entries = json.loads((out / "claims" / "verdicts.json").read_text())["claims"]
    assert [e["key"] for e in entries] == [HOLDING, FAILING]
    assert all(e["budget"] == {"quick": True, "seeds": [0, 1, 2]} for e in entries)
    page = report.read_text()
    assert "<h2 id='claims'>Claims</h2>" in page and "<span class='badge holds'>holds</span>" in page
    assert f"--plugin {PLUGIN}" in page  # the command that regenerates it brings the plugin


def test_default_out_is_results_claims_and_a_second_run_resumes(registry, tmp_path,  # noqa: F811
                                                                monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["claims", "--quick", *TOYS, "--seeds", "0", "1"]
    assert main(argv) == 0
    verdicts = tmp_path / "results" / "claims" / "claims" / "verdicts.json"
    assert verdicts.is_file()
    assert "claims: runs  [4/4]" in capsys.readouterr().err
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "claims: runs" not in err  # nothing to run: no progress line of runs
    assert "claims: criteria  [2/2]" in err
    assert len(list((tmp_path / "results" / "claims").glob("*.parquet"))) == 4


def test_a_claim_that_raises_is_reported_at_the_end_and_exits_1(toy, tmp_path, capsys):  # noqa: F811
    def broken(evidence):
        raise RuntimeError("criterion exploded")

    claims.register(claims.Claim(key="toy-broken", number=2, statement="Breaks.", experiment="toys",
                                 statistic="none", arms=toy.arms, criterion=broken))
    argv = ["claims", "--quick", "--quiet", "--only", "toy-broken", HOLDING, "--seeds", "0", "1",
            "--out", str(tmp_path)]
    assert main(argv) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[1].split()[:3] == ["2", "toy-broken", "inconclusive"]
    assert lines[2].split()[:3] == ["-", HOLDING, "holds"]
    assert captured.err.strip() == ("optbench: claim toy-broken not decided: criterion: "
                                    "RuntimeError: criterion exploded")


@pytest.mark.parametrize(
    "argv, word",
    [
        (["claims", "--plugin", PLUGIN, "--only", "nope"], "unknown claim 'nope'"),
        (["claims", *TOYS, "--seeds", "1"], "seeds must be at least 2 distinct"),
        (["claims", *TOYS, "--seeds", "0", "-3"], "seeds must be at least 2 distinct"),
        (["claims", *TOYS, "--seeds", "x"], "invalid int value"),
        (["claims", "--plugin", "tests.plugins.no_such_plugin"], "No module named"),
        (["claims", *TOYS, "--jobs", "0"], "--jobs"),
        (["claims", *TOYS, "--executor", "serial", "--scheduler", "tcp://x:1"],
         "--scheduler goes with --executor dask"),
        (["claims", "--frobnicate"], "unrecognized arguments"),
        (["run", "claims"], "'claims' is not a suite: run the lecture's claims with 'optbench claims'"),
        (["tune", "claims"], "with 'optbench claims'"),
    ],
)
def test_bad_usage_exits_2_with_one_line(registry, argv, word, tmp_path, monkeypatch,  # noqa: F811
                                         capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert word in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing ran, nothing written


def test_help_names_every_option_and_the_run_pointer():
    proc = subprocess.run([sys.executable, "-m", "optbench", "claims", "--help"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0 and "usage: optbench claims" in proc.stdout
    for option in ("--quick", "--only", "--seeds", "--out", "--jobs", "--executor", "--scheduler",
                   "--plugin", "--report", "--list"):
        assert option in proc.stdout, option
    assert "'optbench run claims' points here" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "optbench", "run", "--help"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert "'optbench claims' runs them" in " ".join(proc.stdout.split())


def test_claims_on_an_existing_dask_cluster_match_serial(registry, tmp_path, capsys):  # noqa: F811
    from dask import distributed

    base = ["claims", "--quick", "--quiet", *TOYS, "--seeds", "0", "1"]
    assert main([*base, "--out", str(tmp_path / "serial")]) == 0
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        assert main([*base, "--out", str(tmp_path / "dask"), "--scheduler",
                     cluster.scheduler_address]) == 0
    serial_out, dask_out = capsys.readouterr().out.split("verdicts: ")[:2]
    assert serial_out.splitlines()[:3] == dask_out.split("\n", 1)[1].splitlines()[:3]

    def verdicts(name):
        document = json.loads((tmp_path / name / "claims" / "verdicts.json").read_text())
        return [(e["key"], e["outcome"], e["summary"], e["numbers"], e["runs"]) for e in document["claims"]]

    assert verdicts("dask") == verdicts("serial")


def test_tally_counts_claims_and_checks_apart():
    """The checks are properties verified: never counted as holding claims."""
    from types import SimpleNamespace

    from optbench.cli import _tally

    def result(outcome, kind="claim"):
        return SimpleNamespace(outcome=outcome, claim=SimpleNamespace(kind=kind))

    results = [result("holds"), result("does not hold"), result("holds", "check"),
               result("inconclusive", "check")]
    assert _tally(results) == "1 holds, 1 does not hold, 0 inconclusive; checks: 1 of 2 hold"
    assert _tally(results[:2]) == "1 holds, 1 does not hold, 0 inconclusive"
