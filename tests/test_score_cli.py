"""``optbench score`` and ``optbench verify --baselines`` from the command line, and
the shipped baseline bundles: they hold exactly the protocol's runs and re-run bit for bit."""

import json
from pathlib import Path

import pytest

from optbench.cli import main
from optbench.score.baselines import (Bundle, BundleError, bundle_path, check_bundle, read_bundle,
                                      verify_bundle)
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


def test_bundle_runs_reproduce_bit_for_bit_and_a_changed_value_is_caught():
    sample = _sample(read_bundle(bundle_path("external")))
    table = verify_bundle(sample)
    assert (table["result"] == "match").all(), table.to_string()
    traces = sample.traces.copy()
    rows = traces.index[traces["run_id"] == sample.runs["run_id"].iloc[0]]
    traces.loc[rows[-1], "value"] = traces.loc[rows[-1], "value"] * (1 + 1e-15) + 1e-300
    table = verify_bundle(Bundle(sample.meta, sample.runs, traces))
    assert table["result"].tolist().count("mismatch") == 1
    detail = table[table["result"] == "mismatch"]["detail"].iloc[0]
    assert f"value differs first at row {len(rows) - 1}" in detail


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
