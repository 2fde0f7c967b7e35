"""Files and names: a suite's name is never a path, ``--out ""`` is refused, stored
runs follow the umask, and a killed writer's temporary file is removed by the next
write of the same file."""

import os
import stat
import time

import pytest

from optbench import RunSpec
from optbench.cli import main
from optbench.store import remove_leftovers, replace_atomically, write_run
from optbench.suites import SuiteError, parse_suite

TABLES = {"problems": [{"name": "quadratic", "dim": 2}], "optimizers": [{"name": "sgd", "lr": 0.1}]}


@pytest.mark.parametrize("name", ["../../escape", "/tmp/absolute", "..", ".", "a\\b", "c:x", "", " "])
def test_a_suite_name_that_is_a_path_is_refused(name):
    with pytest.raises(SuiteError, match="name must be a plain name"):
        parse_suite({"name": name, **TABLES}, source="s.toml")


def test_plain_names_are_accepted():
    for name in ("quick", "my-suite_2", "v1.2", ".hidden"):
        assert parse_suite({"name": name, **TABLES}).name == name


def test_a_path_name_runs_nothing_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    suite = tmp_path / "s.toml"
    suite.write_text('name = "../../escape"\n[[problems]]\nname = "quadratic"\ndim = 2\n'
                     '[[optimizers]]\nname = "sgd"\nlr = 0.1\n')
    assert main(["run", str(suite), "--no-report"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "name must be a plain name" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


@pytest.mark.parametrize("command", [["run"], ["claims", "--list"], ["score", "adam"], ["report", "."]])
def test_an_empty_out_is_refused(capsys, command):
    assert main([*command, "--out", ""]) == 2
    assert "--out: must be a path, got an empty string" in capsys.readouterr().err


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_stored_runs_follow_the_umask(tmp_path, umask, mode):
    import pandas as pd

    old = os.umask(umask)
    try:
        path = write_run(tmp_path, RunSpec(problem="quadratic", optimizer="sgd"), pd.DataFrame({"step": [0]}),
                         status="max_steps", meta={})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    page = tmp_path / "report.html"
    stale = tmp_path / ".report.html.0123456789ab.tmp"
    fresh = tmp_path / ".report.html.ba9876543210.tmp"
    other = tmp_path / ".report.html.not-ours.tmp"
    for f in (stale, fresh, other):
        f.write_text("half a page")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))

    def write(tmp):
        with open(tmp, "x") as handle:
            handle.write("the page")

    replace_atomically(page, write)
    assert page.read_text() == "the page"
    assert not stale.exists()
    assert fresh.exists() and other.exists()  # a live writer's, and a file that is not ours
    assert remove_leftovers(page, older_than=-1) == 1 and not fresh.exists()
