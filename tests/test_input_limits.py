"""Bad suite input gets one clear SuiteError naming the file and the parameter, before
anything runs: deep nesting, grid bombs, huge files, absurd step counts and tune
settings, non-finite numbers and bytes that are not UTF-8.  No bomb is ever expanded
here: the refusal comes from counting, so every test is quick."""

from __future__ import annotations

import tracemalloc

import pytest

from optbench import suites
from optbench.cli import main
from optbench.suites import MAX_RUNS, MAX_STEPS, MAX_SUITE_BYTES, SuiteError, load_suite
from problems import registry

SMALL = """
[[problems]]
name = "quadratic"
dim = 2

[[optimizers]]
name = "sgd"
lr = 0.1
"""


def _write(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _refused(path, *words, **kwargs):
    """load_suite(path) raises a one-line SuiteError naming the file and ``words``."""
    with pytest.raises(SuiteError) as info:
        load_suite(path, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    for word in words:
        assert word in message, (word, message)
    return message


def _values(n, fmt="{}"):
    return "[" + ", ".join(fmt.format(i + 1) for i in range(n)) + "]"


# 1. nesting deeper than tomllib's recursion


@pytest.mark.parametrize("value", ["[" * 5000 + "]" * 5000, "{a=" * 2000 + "1" + "}" * 2000])
def test_nesting_too_deep_for_the_parser_is_a_suite_error(tmp_path, value):
    path = _write(tmp_path, f"x = {value}\n" + SMALL)
    _refused(path, "malformed TOML", "nested deeper")


def test_400_nested_lists_are_still_read(tmp_path):
    path = _write(tmp_path, "x = " + "[" * 400 + "]" * 400 + "\n" + SMALL)
    _refused(path, "unknown key 'x'")
    deep = SMALL.replace("lr = 0.1", "lr = " + "[" * 400 + "0.1" + "]" * 400)
    assert len(load_suite(_write(tmp_path, deep, "p.toml")).specs) == 1  # a bad value, for validate


# 2. grid bombs: counted, never expanded


ADAM_BOMB = f"""
[[problems]]
name = "quadratic"
dim = 2

[[optimizers]]
name = "adam"
lr = {_values(100, "{}e-4")}
beta1 = {_values(100, "0.{:03d}")}
beta2 = {_values(100, "0.9{:03d}")}
eps = {_values(100, "{}e-9")}
bias_correction = [{", ".join(["true", "false"] * 5)}]
"""


def _refused_without_allocating(path, *words, **kwargs):
    tracemalloc.start()
    try:
        message = _refused(path, *words, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, peak
    return message


def test_one_table_of_a_billion_configurations_is_refused_before_expansion(tmp_path):
    message = _refused_without_allocating(
        _write(tmp_path, ADAM_BOMB), "optimizers[0] (adam)", "1000000000", str(MAX_RUNS),
        "--max-runs")
    assert "lr" in message and "bias_correction" in message  # the axes, with their lengths


def test_a_study_of_a_billion_runs_is_refused_before_expansion(tmp_path):
    text = f"""
seeds = {_values(1000)}
[[problems]]
name = "quadratic"
dim = 2
condition_number = {_values(1000, "{}.0")}
[[optimizers]]
name = "sgd"
lr = {_values(1000, "{}e-6")}
"""
    _refused_without_allocating(_write(tmp_path, text), "1000000000 runs", str(MAX_RUNS),
                                "--max-runs")


def test_an_optimizer_table_that_applies_to_nothing_is_still_counted(tmp_path):
    text = SMALL + f"""
[[optimizers]]
name = "adam"
problems = ["rosenbrock"]
lr = {_values(400, "{}e-5")}
beta1 = {_values(300, "0.{:03d}")}
"""
    _refused_without_allocating(_write(tmp_path, text), "optimizers[1] (adam)", "120000")


RESTRICTED = f"""
[[problems]]
name = "quadratic"
dim = 2
condition_number = {_values(40, "{}.0")}
[[problems]]
name = "rosenbrock"
[[optimizers]]
name = "sgd"
problems = ["rosenbrock"]
lr = {_values(40, "{}e-4")}
[[optimizers]]
name = "adam"
"""


def test_the_count_respects_problems_restrictions_and_the_max_runs_keyword(tmp_path):
    path = _write(tmp_path, RESTRICTED)
    # sgd: 40 configurations x rosenbrock only; adam: 1 x (40 + 1) problems
    assert len(load_suite(path, max_runs=81).specs) == 81
    _refused(path, "81 runs", "limit of 80 runs", max_runs=80)
    assert len(suites.parse_suite({"seeds": [0, 1], **_toml(RESTRICTED)}, max_runs=162).specs) == 162
    with pytest.raises(SuiteError, match="162 runs"):
        suites.parse_suite({"seeds": [0, 1], **_toml(RESTRICTED)}, max_runs=161)


def _toml(text):
    import tomllib

    return tomllib.loads(text)


def test_a_select_filter_is_counted_after_its_substitution(tmp_path, monkeypatch):
    class Selected(registry._FACTORIES["quadratic"]):  # type: ignore[misc,valid-type]
        @staticmethod
        def select(largest: int = 2) -> dict[str, list]:
            return {"dim": list(range(1, largest + 1))}

    monkeypatch.setitem(registry._FACTORIES, "test_selected", Selected)
    text = SMALL.replace('name = "quadratic"\ndim = 2',
                         f'name = "test_selected"\nselect = {{largest = 400}}\n'
                         f'condition_number = {_values(300, "{}.0")}')
    _refused_without_allocating(_write(tmp_path, text), "problems[0] (test_selected)", "120000")


# 3. a file too large to parse in about a second


def test_a_file_larger_than_the_limit_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.toml"
    padding = "# " + "x" * 97 + "\n"
    text = SMALL + padding * ((MAX_SUITE_BYTES - len(SMALL)) // len(padding))
    path.write_text(text + " " * (MAX_SUITE_BYTES - len(text)))
    assert path.stat().st_size == MAX_SUITE_BYTES
    assert len(load_suite(path).specs) == 1  # at the limit: read
    with path.open("a") as f:
        f.write(" ")
    _refused(path, f"{MAX_SUITE_BYTES + 1} bytes", str(MAX_SUITE_BYTES))


# 4. step counts and tuning budgets with a stated bound


@pytest.mark.parametrize("key", ["steps", "record_every"])
@pytest.mark.parametrize("value", ["9223372036854775807", str(MAX_STEPS + 1)])
def test_steps_and_record_every_have_an_upper_bound(tmp_path, key, value):
    _refused(_write(tmp_path, f"{key} = {value}\n" + SMALL),
             f"{key} must be an integer >= 1 and <= {MAX_STEPS}, got {value}")


def test_points_per_decade_has_an_upper_bound(tmp_path):
    _refused(_write(tmp_path, 'record = "log"\npoints_per_decade = 1000000000000\n' + SMALL),
             "points_per_decade", str(suites.MAX_POINTS_PER_DECADE))


TUNED = SMALL.replace("lr = 0.1\n", "") + "\n[tune]\n"


@pytest.mark.parametrize(
    "setting, words",
    [
        ("budget = 1000000000", [f"tune: budget must be an integer >= 1 and <= {MAX_RUNS}"]),
        ('method = "grid"\nbudget = 1000000000', ["tune: budget", "--max-runs"]),
        ("rounds = 0", ["tune: rounds must be an integer >= 1, got 0"]),
        ('rounds = "3"', ["tune: rounds must be an integer >= 1, got '3'"]),
        ('method = "coarse_to_fine"\nrounds = 30',
         ["tune: coarse_to_fine needs at least one trial per round", "20 trials", "30 rounds"]),
        ("budget = 1\nsearch_seeds = [7, 8]", ["tune: a budget of 1 runs", "2 search seeds"]),
        ("shrink = nan", ["tune: shrink must be a number in (0, 1], got nan"]),
        ("shrink = 0.0", ["tune: shrink"]),
        ("shrink = 1.5", ["tune: shrink"]),
        ("shrink = true", ["tune: shrink"]),
        ("target = inf", ["tune: target must be a finite number >= 0, got inf"]),
        ("target = -1.0", ["tune: target"]),
        ('target = "small"', ["tune: target"]),
        ("grid_points = -1", ["tune: grid_points must be an integer >= 1 and <= the budget (20)"]),
        ("grid_points = 1000000000", ["tune: grid_points"]),
        ("grid_points = true", ["tune: grid_points"]),
        ("grid_points = {lr = 0}", ["tune: grid_points.lr"]),
        ("grid_points = [3]", ["tune: grid_points"]),
        ("search_seed = -1", ["tune: search_seed must be an integer >= 0, got -1"]),
        ("search_seeds = [7, 7]", ["tune: search_seeds", "duplicates"]),
    ],
)
def test_bad_tune_settings_are_refused_with_the_suite(tmp_path, setting, words):
    _refused(_write(tmp_path, TUNED + setting + "\n"), *words)


def test_bad_tune_settings_stop_the_cli_before_tuning_begins(tmp_path, capsys):
    path = _write(tmp_path, TUNED + 'method = "coarse_to_fine"\nrounds = 0\n')
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == f"optbench: error: {path}: tune: rounds must be an integer >= 1, got 0\n"
    assert not (tmp_path / "out").exists()


# 5. non-finite numbers and bytes that are not UTF-8


@pytest.mark.parametrize(
    "old, new, words",
    [
        ("dim = 2", "dim = 2\ncondition_number = nan", ["problems[0] (quadratic)", "condition_number"]),
        ("lr = 0.1", "lr = inf", ["optimizers[0] (sgd)", "lr must be a finite number", "got inf"]),
        ("lr = 0.1", "lr = [0.1, -inf]", ["optimizers[0] (sgd)", "lr", "-inf"]),
        ("lr = 0.1", 'lr = {schedule = "step", lr = nan, every = 2}', ["optimizers[0] (sgd)", "lr"]),
        ("lr = 0.1", "lr = 1" + "0" * 400, ["optimizers[0] (sgd)", "lr", "too large for a float"]),
        ("[[problems]]", "tol_grad = inf\n[[problems]]", ["tol_grad", "finite"]),
    ],
)
def test_non_finite_numbers_name_the_file_the_table_and_the_key(tmp_path, old, new, words):
    _refused(_write(tmp_path, SMALL.replace(old, new, 1)), *words)


def test_bytes_that_are_not_utf8_name_the_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_bytes(b'name = "s\xff"\n' + SMALL.encode())
    _refused(path, "not UTF-8 text", "0xff")


@pytest.mark.parametrize("kind", ["nesting", "bomb"])
def test_the_cli_prints_one_line_and_exits_2(tmp_path, capsys, kind):
    text = "x = " + "[" * 5000 + "]" * 5000 + "\n" + SMALL if kind == "nesting" else ADAM_BOMB
    path = _write(tmp_path, text)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"optbench: error: {path}: ") and err.count("\n") == 1, err


def test_max_runs_on_the_command_line_lowers_and_raises_the_limit(tmp_path, capsys):
    path = _write(tmp_path, 'seeds = [0, 1]\nsteps = 3\n' + SMALL.replace("lr = 0.1", "lr = [0.1, 0.2, 0.3]"))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--max-runs", "5"]) == 2
    err = capsys.readouterr().err
    assert "makes 6 runs" in err and "limit of 5 runs" in err and "--max-runs N" in err, err
    assert not out.exists()
    assert main(["run", str(path), "--out", str(out), "--quiet", "--no-report", "--max-runs", "6"]) == 0
    assert len(list(out.glob("*.parquet"))) == 6
    assert main(["run", str(path), "--max-runs", "0"]) == 2
    assert "--max-runs" in capsys.readouterr().err
