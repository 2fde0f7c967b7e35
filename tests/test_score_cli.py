"""``optbench score`` and ``optbench verify --baselines`` from the command line, and
the shipped baseline bundles: they hold exactly the protocol's runs and re-run bit for bit."""

import json
from pathlib import Path

import pandas as pd
import pytest

from optbench.cli import main
from optbench.environment import environment
from optbench.score.baselines import (Bundle, BundleError, bundle_path, check_bundle, numerics_difference,
                                      read_bundle, reruns, verify_bundle)
from optbench.score.protocol import RULESETS
from optbench.score.trials import baseline_methods, plan
from optbench.score.workloads import workloads

BAD = {
    "unknown optimizer": (["nosuch"], "unknown optimizer 'nosuch'"),
    "bad fixed value": (["adam", "--set", "lr=-1"], "lr must be"),
    "unknown hyper-parameter": (["adam", "--set", "rate=0.1"], "unknown hyper-parameter 'rate'"),
    "trials 0": (["adam", "--trials", "0"], "--trials"),
    "unknown ruleset": (["adam", "--ruleset", "internal"], "--ruleset"),
    "seed without baselines": (["adam", "--seed", "1"], "--rerun-baselines"),
    "more trials than shipped": (["adam", "--trials", "6"], "--rerun-baselines"),
    "missing space file": (["adam", "--space", "nonexistent.toml"], "cannot read"),
}

SPACES = {
    "low above high": ("lr = {log_uniform = [1.0, 0.1]}\n", "low must be < high"),
    "unknown kind": ("lr = {loguniform = [1e-3, 0.1]}\n", "unknown search space 'loguniform'"),
    "not toml": ("lr = [\n", "not valid TOML"),
    "empty": ("", "no dimensions"),
    "not a parameter": ("rate = {log_uniform = [1e-3, 0.1]}\n", "unknown hyper-parameter 'rate'"),
}


def _one_line_exit_2(capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("optbench: error: "), err
    assert expected in err
    return err


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_gets_one_line_and_exit_2_and_runs_nothing(tmp_path, capsys, case):
    args, expected = BAD[case]
    out = tmp_path / "out"
    _one_line_exit_2(capsys, ["score", *args, "--quick", "--out", str(out)], expected)
    assert not out.exists()


@pytest.mark.parametrize("case", sorted(SPACES))
def test_bad_space_files_get_one_line_naming_the_file(tmp_path, capsys, case):
    text, expected = SPACES[case]
    space = tmp_path / "space.toml"
    space.write_text(text)
    out = tmp_path / "out"
    err = _one_line_exit_2(capsys, ["score", "adam", "--space", str(space), "--quick", "--out", str(out)],
                           expected)
    assert not out.exists()
    if case != "not a parameter":  # that one is the optimizer's own message
        assert f"--space {space}" in err


def test_verify_needs_a_directory_or_baselines(tmp_path, capsys):
    _one_line_exit_2(capsys, ["verify"], "--baselines")
    _one_line_exit_2(capsys, ["verify", str(tmp_path), "--baselines"], "not both")


@pytest.mark.parametrize("ruleset", RULESETS)
@pytest.mark.parametrize("level", ["quick", "full"])
def test_the_shipped_bundle_holds_the_protocols_runs(ruleset, level):
    bundle = read_bundle(bundle_path(ruleset))
    trials = 1 if ruleset == "self" else 5
    planned = [p for m in baseline_methods()
               for p in plan(m, workloads(level, available_only=False), ruleset=ruleset, trials=trials,
                             studies=3, seed=0)]
    check_bundle(bundle, planned)
    assert bundle.meta["protocol"] == "optbench-score v1" and bundle.meta["ruleset"] == ruleset
    assert {"python", "numpy", "cpu"} <= set(bundle.meta["environment"])


def test_a_stale_bundle_is_refused():
    bundle = read_bundle(bundle_path("external"))
    planned = plan(baseline_methods()[0], workloads("quick"), ruleset="external", trials=5, studies=3, seed=7)
    with pytest.raises(BundleError, match="rerun-baselines"):
        check_bundle(bundle, planned)


def _sample(bundle: Bundle, per_workload: int = 1) -> Bundle:
    quick = {w.name for w in workloads("quick")}
    runs = bundle.runs[bundle.runs["workload"].isin(quick)].groupby("workload").head(per_workload)
    return Bundle(bundle.meta, runs.reset_index(drop=True),
                  bundle.traces[bundle.traces["run_id"].isin(set(runs["run_id"]))])


def test_shipped_bundle_runs_reproduce_bit_for_bit_or_to_round_off_under_other_numerics():
    sample = _sample(read_bundle(bundle_path("external")))
    table = verify_bundle(sample)
    # bits where the numerics are the bundle's; elsewhere (another BLAS kernel, say) the
    # same steps, costs and status, the metric within ROUND_OFF
    allowed = {"match"} if numerics_difference(sample) is None else {"match", "round-off"}
    assert set(table["result"]) <= allowed, table.to_string()


def _made_here(sample: Bundle) -> Bundle:
    """``sample`` as if its bundle had been made here: this machine's reruns as traces."""
    traces = [trace.assign(run_id=run.run_id) for run, _, trace, _ in reruns(sample)]
    return Bundle({**sample.meta, "environment": environment()}, sample.runs,
                  pd.concat(traces, ignore_index=True)[sample.traces.columns])


def _changed(bundle: Bundle, factor: float, column: str = "value") -> tuple[Bundle, int]:
    """``bundle`` with the last row of its first run's ``column`` multiplied by ``factor``."""
    traces = bundle.traces.copy()
    rows = traces.index[traces["run_id"] == bundle.runs["run_id"].iloc[0]]
    traces.loc[rows[-1], column] = traces.loc[rows[-1], column] * factor
    return Bundle(bundle.meta, bundle.runs, traces), len(rows) - 1


def _other_numerics(bundle: Bundle) -> Bundle:
    env = environment()
    blas = [{**b, "architecture": "OtherKernel"} for b in env["blas"]] or [{"internal_api": "other"}]
    return Bundle({**bundle.meta, "environment": {**env, "blas": blas}}, bundle.runs, bundle.traces)


@pytest.fixture(scope="module")
def made_here():
    return _made_here(_sample(read_bundle(bundle_path("external"))))


def test_with_the_same_numerics_one_ulp_is_a_mismatch(made_here):
    assert numerics_difference(made_here) is None
    assert (verify_bundle(made_here)["result"] == "match").all()
    changed, row = _changed(made_here, 1 + 2 ** -52)
    table = verify_bundle(changed)
    assert table["result"].tolist().count("mismatch") == 1
    detail = table[table["result"] == "mismatch"]["detail"].iloc[0]
    assert f"value differs first at row {row}" in detail


def test_with_other_numerics_round_off_is_named_and_more_is_a_mismatch(made_here):
    other = _other_numerics(made_here)
    assert "OtherKernel" in numerics_difference(other)
    assert (verify_bundle(other)["result"] == "match").all()
    table = verify_bundle(_changed(other, 1 + 1e-14)[0])
    assert table["result"].tolist().count("round-off") == 1
    assert "by up to 1.0e-14 (relative)" in table[table["result"] == "round-off"]["detail"].iloc[0]
    table = verify_bundle(_changed(other, 1 + 1e-9)[0])
    assert table["result"].tolist().count("mismatch") == 1
    table = verify_bundle(_changed(other, 1 + 2 ** -52, column="cost")[0])  # never round-off
    assert table["result"].tolist().count("mismatch") == 1


def test_score_quick_writes_a_scorecard_and_json(tmp_path, capsys):
    out = tmp_path / "score"
    assert main(["score", "sgd", "--quick", "--trials", "2", "--studies", "2", "--out", str(out),
                 "--quiet"]) == 0
    stdout = capsys.readouterr().out
    assert "best baseline" in stdout and "<- submitted" in stdout
    data = json.loads((out / "score.json").read_text())
    assert data["protocol"] == "optbench-score v1" and data["level"] == "quick"
    assert data["trials"] == 2 and data["studies"] == 2
    assert data["verdict"]["cost"]["verdict"] in ("better", "worse", "indistinguishable")
    assert {s["method"] for s in data["scores"]} == {"sgd", "nesterov", "heavy_ball", "adam", "adamw"}
    page = (out / "scorecard.html").read_text()
    assert "optbench-score v1" in page and "sgd" in page
    assert len(list((out / "runs").glob("*.parquet"))) == 5 * 2 * 2  # workloads x studies x trials


@pytest.fixture
def raising_plugin(monkeypatch):
    """The plugin's optimizer, registered for one test only."""
    import optimizers

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))
    yield "tests.plugins.raising_optimizer"
    optimizers.registry._FACTORIES.pop("raising_sgd", None)


def test_an_optimizer_that_raises_is_scored_with_misses_and_exit_1(tmp_path, capsys, raising_plugin):
    out = tmp_path / "score"
    code = main(["score", "raising_sgd", "--set", "after=0", "--plugin", raising_plugin,
                 "--quick",
                 "--trials", "1", "--studies", "1", "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert code == 1
    assert "5 of the submission's runs raised an error" in captured.out
    data = json.loads((out / "score.json").read_text())
    assert data["submission_errors"] == 5
    mine = [s for s in data["scores"] if s["submission"] and s["axis"] == "cost"]
    assert mine[0]["score"] == 0.0


def test_verify_baselines_command_says_round_off_and_fails_on_a_mismatch(made_here, monkeypatch, capsys):
    import optbench.score.baselines as baselines

    other = _other_numerics(made_here)
    n = len(other.runs)
    for bundle, code in ((_changed(other, 1 + 1e-14)[0], 0), (_changed(other, 1 + 1e-9)[0], 1)):
        monkeypatch.setattr(baselines, "read_bundle", lambda path, b=bundle: b)
        assert main(["verify", "--baselines", "external"]) == code
        out = capsys.readouterr().out
        if code == 0:
            assert f"baselines (external): {n - 1} of {n} runs reproduced bit for bit" in out
            assert ("1 to round-off (the same steps, costs and status, the metric within a "
                    "relative 1e-12)") in out
            assert "(OtherKernel)" in out and "MISMATCH" not in out
        else:
            assert out.startswith("MISMATCH ") and "by up to 1.0e-09 (relative)" in out
