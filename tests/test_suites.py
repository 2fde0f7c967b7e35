"""Suite files: grid expansion, validation with nearest-name hints, built-in suites."""

from __future__ import annotations

import pytest

import optimizers
from optbench.suites import SuiteError, builtin_names, load_suite, parse_suite, validate

EXAMPLE = """
seeds = [0, 1, 2]
steps = 50
record_every = 5

[[problems]]
name = "quadratic"
dim = 10
condition_number = [10.0, 1000.0]
seed = 0

[[optimizers]]
name = "momentum"
lr = [0.001, 0.01]
rho = 0.9

[[optimizers]]
name = "adam"
lr = 0.001
"""


def _write(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_grid_expansion(tmp_path):
    suite = load_suite(_write(tmp_path, EXAMPLE))
    # 2 problems x (2 + 1) optimizers x 3 seeds
    assert len(suite.specs) == 18
    assert suite.name == "s"
    combos = {(s.problem_params["condition_number"], s.optimizer, s.optimizer_params["lr"], s.seed)
              for s in suite.specs}
    assert len(combos) == 18
    assert {s.steps for s in suite.specs} == {50} and {s.record_every for s in suite.specs} == {5}
    assert all(s.problem_params["seed"] == 0 for s in suite.specs)


def test_lists_in_one_table_form_a_cartesian_product():
    data = {"problems": [{"name": "quadratic", "dim": [2, 3], "condition_number": [1.0, 2.0, 4.0]}],
            "optimizers": [{"name": "sgd", "lr": 0.1}]}
    assert len(parse_suite(data).specs) == 6


@pytest.mark.parametrize(
    "text, words",
    [
        ("stepz = 5\n" + EXAMPLE, ["unknown key 'stepz'", "did you mean 'steps'"]),
        (EXAMPLE.replace("condition_number", "conditon_number"),
         ["unknown parameter 'conditon_number'", "did you mean 'condition_number'"]),
        (EXAMPLE.replace('name = "adam"', 'name = "adma"'), ["unknown optimizer 'adma'", "'adam'"]),
        (EXAMPLE.replace('name = "quadratic"', 'name = "quadratik"'), ["unknown problem", "'quadratic'"]),
        (EXAMPLE.replace("seeds = [0, 1, 2]", "seeds = [0, 1.5]"), ["seeds"]),
        (EXAMPLE.replace("seeds = [0, 1, 2]", "seeds = [1, 1]"), ["seeds", "duplicates"]),
        (EXAMPLE.replace("steps = 50", "steps = 0"), ["steps", ">= 1"]),
        (EXAMPLE.replace("lr = [0.001, 0.01]", "lr = []"), ["lr", "empty"]),
        (EXAMPLE.replace("record_every = 5", 'record_every = "5"'), ["record_every"]),
        (EXAMPLE + '\n[[optimizers]]\nname = "adam"\nlr = 0.001\n', ["duplicates"]),
        ("steps = 5\n", ["[[problems]]"]),
        (EXAMPLE.replace("steps = 50", "steps = = 50"), ["malformed TOML", "line 3"]),
    ],
)
def test_bad_suites_raise_one_clear_error(tmp_path, text, words):
    path = _write(tmp_path, text)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    "change, word",
    [(("lr = 0.001", "lr = -1.0"), "lr"), (("rho = 0.9", "rho = 1.5"), "rho"),
     (("dim = 10", "dim = 0"), "dim")],
)
def test_bad_values_fail_validation_before_running(tmp_path, change, word):
    suite = load_suite(_write(tmp_path, EXAMPLE.replace(*change)))
    with pytest.raises(SuiteError, match=word):
        validate(suite)


def test_lr_schedule_and_averaging_tables(tmp_path):
    text = EXAMPLE.replace(
        'lr = 0.001\n', 'lr = {schedule = "step", lr = 0.01, factor = 0.5, every = 10}\naverage = 0.99\n'
    )
    suite = load_suite(_write(tmp_path, text))
    validate(suite)
    adam = [s for s in suite.specs if s.optimizer == "adam"]
    assert adam[0].optimizer_params["lr"]["schedule"] == "step"
    assert adam[0].optimizer_params["average"] == 0.99


def test_builtin_suites_load_and_validate():
    names = builtin_names()
    assert {"quick", "standard"} <= set(names)
    for name in names:
        if name in ("frameworks", "cutest"):  # their own tests, where their extras are
            continue
        suite = load_suite(name)
        validate(suite)
        assert suite.specs and suite.description
    quick = load_suite("quick")
    assert {s.seed for s in quick.specs} == {0, 1, 2}
    assert {s.problem for s in quick.specs} >= {"quadratic", "saddle", "rosenbrock", "logistic"}
    assert set(optimizers.names()) <= {s.optimizer for s in quick.specs}
    adam = [s for s in quick.specs if s.optimizer == "adam"]
    assert {s.optimizer_params.get("bias_correction", True) for s in adam} == {True, False}


def test_unknown_suite_name():
    with pytest.raises(SuiteError, match="built-in: .*quick"):
        load_suite("no-such-suite")


def test_pairs_that_cannot_run_are_dropped_with_a_note(tmp_path):
    text = """
steps = 5
[[problems]]
name = "quadratic"
dim = 3
[[problems]]
name = "mlp"
dataset = "spiral"
hidden = [[4]]
n_samples = 60
batch_size = 16
[[optimizers]]
name = "newton"
[[optimizers]]
name = "sgd"
lr = 0.1
"""
    suite = validate(load_suite(_write(tmp_path, text)))
    pairs = {(s.problem, s.optimizer) for s in suite.specs}
    assert pairs == {("quadratic", "newton"), ("quadratic", "sgd"), ("mlp", "sgd")}
    assert len(suite.skipped) == 1 and "needs a Hessian" in suite.skipped[0]
    only_nets = text.replace('[[optimizers]]\nname = "sgd"\nlr = 0.1\n', "").replace(
        '[[problems]]\nname = "quadratic"\ndim = 3\n', "")
    with pytest.raises(SuiteError, match="no run can be done"):
        validate(load_suite(_write(tmp_path, only_nets, "nets.toml")))


def test_optimizer_table_restricted_to_some_problems(tmp_path):
    text = EXAMPLE.replace('name = "adam"\nlr = 0.001\n',
                           'name = "adam"\nlr = 0.001\nproblems = ["rosenbrock"]\n')
    text += '\n[[problems]]\nname = "rosenbrock"\n'
    suite = load_suite(_write(tmp_path, text))
    pairs = {(s.problem, s.optimizer) for s in suite.specs}
    assert pairs == {("quadratic", "momentum"), ("rosenbrock", "momentum"), ("rosenbrock", "adam")}
    # the restriction is not an optimizer parameter: it does not change the run's identity
    assert all("problems" not in s.optimizer_params for s in suite.specs)
    bad = text.replace('problems = ["rosenbrock"]', 'problems = ["rosenbrok"]')
    with pytest.raises(SuiteError, match="did you mean 'rosenbrock'"):
        load_suite(_write(tmp_path, bad, "bad.toml"))


TUNED = """
seeds = [0, 1]
steps = 50
record_every = 10
[tune]
method = "random"
budget = 4
search_seeds = [7]
[tune.space.sgd]
lr = {log_uniform = [1e-4, 1e-1]}
[[problems]]
name = "quadratic"
dim = 4
[[optimizers]]
name = "sgd"
[[optimizers]]
name = "momentum"
rho = 0.5
"""


def test_tune_section_is_parsed_and_validated(tmp_path):
    suite = validate(load_suite(_write(tmp_path, TUNED)))
    assert suite.tune["method"] == "random" and suite.tune["budget"] == 4
    assert suite.tune["search_seeds"] == [7] and suite.seeds == [0, 1]
    assert suite.tune["space"]["sgd"] == {"lr": {"log_uniform": [1e-4, 1e-1]}}
    assert suite.tune["rounds"] == 3  # a default filled in
    assert load_suite(_write(tmp_path, EXAMPLE, "plain.toml")).tune is None


@pytest.mark.parametrize(
    "change, word",
    [
        (("budget = 4", "budgte = 4"), "did you mean 'budget'"),
        (('method = "random"', 'method = "bayes"'), "method must be one of"),
        (("search_seeds = [7]", "search_seeds = [1, 7]"), "also evaluation seeds"),
        (("[1e-4, 1e-1]", "[1e-1, 1e-4]"), "space.sgd"),
        (("[tune.space.sgd]", "[tune.space.sgdd]"), "unknown optimizer 'sgdd'"),
        (("budget = 4", "budget = 0"), "budget"),
    ],
)
def test_bad_tune_sections(tmp_path, change, word):
    with pytest.raises(SuiteError, match=word):
        load_suite(_write(tmp_path, TUNED.replace(*change)))


def test_a_problem_too_large_for_memory_is_refused_before_allocating(tmp_path):
    import tracemalloc

    text = EXAMPLE.replace("dim = 10", "dim = 1000000").replace(
        "condition_number = [10.0, 1000.0]", "condition_number = 10.0")
    suite = load_suite(_write(tmp_path, text))
    tracemalloc.start()
    try:
        with pytest.raises(SuiteError, match=r"quadratic.*dim=1000000.*needs about .* available"):
            validate(suite)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000  # a dense 1e6 x 1e6 matrix was never allocated
