"""Your own optimizer as a --plugin: found in the working directory, recorded with each
run, re-run when its code changes, and named by verify when it is missing.  The
worked Lion example of the README runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import optimizers
from optbench import code_identity
from optbench.plugins import PluginError, import_plugins, provenance
from optbench.spec import RunSpec
from optbench.store import read_meta, run_files
from optbench.study import plan, run_study

README = Path(__file__).resolve().parents[1] / "README.md"


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _section("Benchmark your own optimizer"), re.S)


def _optbench(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "optbench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def lion_dir(tmp_path):
    plugin, = [b for b in _blocks("python") if "class Lion" in b]
    suite, = [b for b in _blocks("toml") if "lion" in b]
    (tmp_path / "lion_opt.py").write_text(plugin)
    (tmp_path / "lion.toml").write_text(suite)
    return tmp_path


def test_the_readme_lion_takes_the_hand_computed_first_step(lion_dir, monkeypatch):
    namespace: dict = {}
    exec(compile((lion_dir / "lion_opt.py").read_text(), "lion_opt.py", "exec"), namespace)
    try:
        lion = optimizers.get("lion", lr=0.1, weight_decay=0.5)

        class Oracle:
            def grad(self, x):
                return np.array([2.0, -3.0, 0.0])

        x = np.array([1.0, 1.0, 1.0])
        state = lion.init(x)
        x = lion.step(x, Oracle(), state)
        # x *= 1 - 0.1*0.5; x -= 0.1*sign(0.1*g); m = 0.01*g
        np.testing.assert_array_equal(x, [0.95 - 0.1, 0.95 + 0.1, 0.95])
        np.testing.assert_allclose(state.momentum, [0.02, -0.03, 0.0], rtol=1e-15)
        assert state.t == 1
    finally:
        optimizers.registry._FACTORIES.pop("lion", None)


def test_the_readme_plugin_runs_is_recorded_rerun_when_edited_and_verified(lion_dir):
    done = _optbench(lion_dir, "run", "lion.toml", "--plugin", "lion_opt", "--no-report")
    assert done.returncode == 0, done.stderr
    assert "9 to run" in done.stderr
    files = run_files(lion_dir / "results" / "lion")
    assert len(files) == 9
    records = [read_meta(f) for f in files]
    assert all(r["status"] in ("max_steps", "converged") for r in records)
    (entry,) = records[0]["plugins"]
    assert entry["module"] == "lion_opt" and len(entry["source"]) == 16
    lion_code = {r["code"]["optimizer"] for r in records if r["spec"]["optimizer"] == "lion"}
    assert len(lion_code) == 1

    again = _optbench(lion_dir, "run", "lion.toml", "--plugin", "lion_opt", "--no-report")
    assert "9 already stored" in again.stderr and "0 to run" in again.stderr

    # the user edits her optimizer: its 6 runs are made again, Adam's 3 are not
    source = (lion_dir / "lion_opt.py").read_text()
    (lion_dir / "lion_opt.py").write_text(source.replace("m *= self.beta2", "m *= self.beta2  # edited"))
    edited = _optbench(lion_dir, "run", "lion.toml", "--plugin", "lion_opt", "--no-report")
    assert edited.returncode == 0, edited.stderr
    assert "3 already stored" in edited.stderr
    assert "6 to run (6 re-run: optimizer lion code changed)" in edited.stderr
    assert "6 re-run: optimizer lion code changed" in edited.stdout

    missing = _optbench(lion_dir, "verify", "results/lion")
    assert missing.returncode == 1
    assert "MISMATCH" not in missing.stdout
    assert "plugin missing" in missing.stdout and "--plugin lion_opt" in missing.stdout
    ok = _optbench(lion_dir, "verify", "results/lion", "--plugin", "lion_opt")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "9 of 9 runs reproduced bit for bit" in ok.stdout


def test_a_plugin_is_found_in_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "plugin_in_cwd_for_test.py").write_text("VALUE = 42\n__version__ = '1.2'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    try:
        import_plugins(["plugin_in_cwd_for_test"])
        assert sys.modules["plugin_in_cwd_for_test"].VALUE == 42
        (entry,) = provenance(["plugin_in_cwd_for_test"])
        assert entry["module"] == "plugin_in_cwd_for_test" and entry["version"] == "1.2"
    finally:
        sys.modules.pop("plugin_in_cwd_for_test", None)


def test_a_missing_plugin_is_one_line_naming_where_it_was_looked_for(tmp_path, monkeypatch, capsys):
    from optbench.cli import main

    monkeypatch.chdir(tmp_path)
    looked = "No module named 'no_such_plugin_xyz' .looked in the working directory"
    with pytest.raises(PluginError, match=looked):
        import_plugins(["no_such_plugin_xyz"])
    assert main(["run", "quick", "--plugin", "no_such_plugin_xyz"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_such_plugin_xyz" in err[0]


SIGN_PLUGIN = """
import numpy as np
import optimizers


class Sign(optimizers.Optimizer):
    name = "sign_for_test"

    def __init__(self, lr=0.01):
        self.lr, self.hyperparams = lr, {"lr": lr}

    def init(self, x0):
        return optimizers.State()

    def step(self, x, oracle, state):
        x -= self.lr * np.sign(oracle.grad(x))
        return x


optimizers.register("sign_for_test", Sign)
"""


def test_code_fingerprint_follows_the_plugin_module_source(tmp_path, monkeypatch):
    import importlib

    (tmp_path / "sign_plugin_for_test.py").write_text(SIGN_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = RunSpec(problem="quadratic", problem_params={"dim": 3}, optimizer="sign_for_test",
                   optimizer_params={"lr": 0.01}, steps=5)
    try:
        module = importlib.import_module("sign_plugin_for_test")
        first = code_identity.fingerprint(spec)
        assert first == code_identity.fingerprint(spec)
        run_study([spec], tmp_path / "res")
        assert plan([spec], tmp_path / "res").skipped == [spec]
        # a helper beside the class changes: the whole module is the plugin's code
        (tmp_path / "sign_plugin_for_test.py").write_text(SIGN_PLUGIN + "\nHELPER = 1\n")
        importlib.reload(module)
        changed = code_identity.fingerprint(spec)
        assert changed["problem"] == first["problem"] and changed["optimizer"] != first["optimizer"]
        stale = plan([spec], tmp_path / "res")
        assert stale.todo == [spec] and stale.stale == {"optimizer sign_for_test code changed": 1}
    finally:
        optimizers.registry._FACTORIES.pop("sign_for_test", None)
        sys.modules.pop("sign_plugin_for_test", None)


def test_a_built_in_fingerprint_covers_its_base_classes_only():
    adam = code_identity.code_hash("optimizer", "adam")
    assert adam == code_identity.code_hash("optimizer", "adam")
    assert adam != code_identity.code_hash("optimizer", "rmsprop")
    text = code_identity._factory_text(optimizers.factory("adam"))
    assert "class Adam(" in text and "class Optimizer(" in text and "class RMSProp(" not in text


def test_a_run_stored_without_a_fingerprint_is_run_again():
    spec = RunSpec(problem="quadratic", problem_params={"dim": 3}, optimizer="sgd",
                   optimizer_params={"lr": 0.01})
    assert code_identity.stale_because(None, spec) == "stored without a code fingerprint"
    assert code_identity.stale_because(code_identity.fingerprint(spec), spec) is None


def test_the_readme_bridged_suite_runs_as_written(tmp_path, capsys):
    pytest.importorskip("torch", reason="the torch extra is not installed")
    pytest.importorskip("pytorch_optimizer", reason="pytorch-optimizer is not installed")
    from optbench.cli import main

    suite, = [b for b in _blocks("toml") if "torch:AdamW" in b]
    (tmp_path / "byo.toml").write_text(suite)
    assert main(["run", str(tmp_path / "byo.toml"), "--out", str(tmp_path / "res"), "--quiet",
                 "--no-report"]) == 0
    out = capsys.readouterr().out
    for label in ("torch:AdamW[lr=0.001,weight_decay=0.01]", "pytorch_optimizer:Lion[lr=0.0003]",
                  "adam[lr=0.001]"):
        assert label in out
    import optbench

    memory = optbench.load(tmp_path / "res").groupby("optimizer")["state_bytes"].first()
    n = 64 * 64 + 64 + 64 * 10 + 10  # the digits net's parameters
    assert memory["adam"] == 3 * n * 8 and memory["pytorch_optimizer:Lion"] == n * 8
    assert 2 * n * 8 < memory["torch:AdamW"] < 2 * n * 8 + 64  # two moments and a step counter


@pytest.mark.parametrize("name", ["../../etc/x", "..etc", "/tmp/lion_opt", "lion_opt.py", "a b", ""])
def test_a_plugin_must_be_a_module_name_never_a_path(name, tmp_path, monkeypatch, capsys):
    from optbench.cli import main

    monkeypatch.chdir(tmp_path)
    before = set(sys.modules)
    with pytest.raises(PluginError, match="plugin must be a module name"):
        import_plugins([name])
    assert set(sys.modules) == before  # refused before anything is imported
    assert main(["run", "quick", "--plugin", name, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "plugin must be a module name" in err[0]
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("source, expected", [
    ("X = 1\nraise RuntimeError('boom in plugin')\n",
     r"RuntimeError: boom in plugin \(.*broken_plugin_for_test.py, line 2\)"),
    ("def (\n", r"SyntaxError: .*\(.*broken_plugin_for_test.py, line 1\)"),
    ("import no_such_dependency_xyz\n",
     r"ModuleNotFoundError: No module named 'no_such_dependency_xyz' \(.*line 1\)"),
])
def test_a_plugin_that_fails_to_import_is_one_line_with_its_file_and_line(
        source, expected, tmp_path, monkeypatch, capsys):
    from optbench.cli import main

    (tmp_path / "broken_plugin_for_test.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    try:
        failed = "plugin 'broken_plugin_for_test' failed while importing: "
        with pytest.raises(PluginError, match=failed + expected):
            import_plugins(["broken_plugin_for_test"])
        argv = ["run", "quick", "--plugin", "broken_plugin_for_test", "--out", str(tmp_path / "r")]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "broken_plugin_for_test" in err[0], err
        assert not (tmp_path / "r").exists()
    finally:
        sys.modules.pop("broken_plugin_for_test", None)
