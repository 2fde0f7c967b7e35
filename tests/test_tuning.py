"""Hyper-parameter search: spaces, methods, selection, evaluation seeds, storage."""

from __future__ import annotations

import itertools
import json
import math
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import optbench
import problems
from optbench.build import build_optimizer
from optbench.store import read_run, run_path
from optbench.tuning import (
    Choice,
    IntRange,
    LogUniform,
    TuningWarning,
    Uniform,
    default_space,
    grid_shape,
    grid_trials,
    random_trials,
    run_objective,
    select_best,
    space_from_dict,
    spaces_from_dict,
    spaces_to_dict,
    tune,
    tune_many,
)

QUAD = {"dim": 5, "condition_number": 10.0}
MU, L = 1.0, 10.0  # the quadratic's extreme eigenvalues
STEPS = 40


def _quick(**kwargs):
    """A fast tune of sgd on the 5-d quadratic; keywords override."""
    args = dict(steps=20, record_every=5, eval_seeds=(100, 101))
    args.update(kwargs)
    return tune("quadratic", QUAD, args.pop("optimizer", "sgd"), **args)


@pytest.fixture(scope="module")
def coarse(tmp_path_factory):
    """Coarse-to-fine search of sgd's lr over the default range, 3 rounds of 10."""
    out = tmp_path_factory.mktemp("coarse")
    with warnings.catch_warnings():
        warnings.simplefilter("error", TuningWarning)  # the default range is wide enough
        result = tune("quadratic", QUAD, "sgd", method="coarse_to_fine", budget=30, rounds=3,
                      shrink=0.3, steps=STEPS, record_every=10, results_dir=out)
    return result, out


def _dense_scan_best_lr(seed: int = 0) -> float:
    """argmin over lr of f(x_T) for gradient descent, in closed form (no optbench)."""
    p = problems.get("quadratic", **QUAD)
    a = p.hess(p.x_star)
    e0 = p.x0(seed) - p.x_star
    lrs = np.geomspace(1e-3, 2.0 / L, 4001)
    values = []
    for lr in lrs:
        e = np.linalg.matrix_power(np.eye(p.dim) - lr * a, STEPS) @ e0
        values.append(0.5 * e @ a @ e)
    return float(lrs[int(np.argmin(values))])


# ------------------------------------------------------------------------ spaces


@pytest.mark.parametrize("dim", [
    LogUniform(1e-5, 10.0), Uniform(0.5, 0.99), IntRange(3, 30),
    Choice([0.9, 0.99, "x", True, [1, 2]]),
])
def test_space_round_trip(dim):
    assert space_from_dict(dim.to_dict()) == dim
    assert space_from_dict(json.loads(json.dumps(dim.to_dict()))) == dim


def test_space_table_round_trip_and_toml():
    space = {"lr": LogUniform(1e-4, 1.0), "rho": Uniform(0.5, 0.99), "m": IntRange(3, 30),
             "eps": Choice([1e-8, 1e-7])}
    assert spaces_to_dict(space)["lr"] == {"log_uniform": [1e-4, 1.0]}
    assert spaces_from_dict(spaces_to_dict(space)) == space
    if sys.version_info >= (3, 11):
        import tomllib

        text = 'lr = {log_uniform = [1e-5, 10]}\nm = {int_range = [3, 30]}\n'
        assert spaces_from_dict(tomllib.loads(text)) == {"lr": LogUniform(1e-5, 10.0),
                                                         "m": IntRange(3, 30)}


@pytest.mark.parametrize("make, match", [
    (lambda: LogUniform(0.0, 1.0), "low must be > 0"),
    (lambda: LogUniform(-1.0, 1.0), "low must be > 0"),
    (lambda: LogUniform(1.0, 0.1), "low must be < high"),
    (lambda: Uniform(0.5, 0.5), "low must be < high"),
    (lambda: Uniform(0.0, math.inf), "high must be finite"),
    (lambda: IntRange(1.5, 3), "low must be an integer"),
    (lambda: IntRange(5, 3), "low must be < high"),
    (lambda: Choice([]), "must not be empty"),
    (lambda: Choice([1, 1]), "distinct"),
])
def test_bad_bounds_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_space_data_names_the_parameter():
    with pytest.raises(ValueError, match=r"^lr: log_uniform: low must be < high"):
        spaces_from_dict({"lr": {"log_uniform": [1.0, 0.1]}})
    with pytest.raises(ValueError, match=r"^rho: unknown search space 'normal'"):
        spaces_from_dict({"rho": {"normal": [0.0, 1.0]}})
    with pytest.raises(ValueError, match=r"^m: int_range takes \[low, high\]"):
        spaces_from_dict({"m": {"int_range": [3]}})


def test_space_outside_the_optimizers_range_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"search space rho = uniform\(0.5, 1\): .*\[0, 1\)"):
        _quick(optimizer="momentum", space={"rho": Uniform(0.5, 1.0)}, fixed={"lr": 0.1},
               results_dir=tmp_path)
    with pytest.raises(ValueError, match="missing a required argument: 'lr'.*fixed="):
        _quick(optimizer="momentum", space={"rho": Uniform(0.5, 0.9)}, results_dir=tmp_path)
    with pytest.raises(ValueError, match="both searched and fixed"):
        _quick(space={"lr": LogUniform(1e-3, 1.0)}, fixed={"lr": 0.1}, results_dir=tmp_path)
    assert not list(tmp_path.glob("*.parquet"))  # refused before running anything


def test_grids_and_samples():
    log = LogUniform(1e-4, 1.0)
    assert np.allclose(log.grid(5), [1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    assert Uniform(0.0, 1.0).grid(3) == [0.0, 0.5, 1.0]
    assert IntRange(3, 5).grid(10) == [3, 4, 5]
    assert IntRange(0, 10).grid(3) == [0, 5, 10]
    assert Choice(["a", "b"]).grid(1) == ["a", "b"]
    rng = np.random.default_rng(0)
    draws = [log.sample(rng) for _ in range(2000)]
    assert all(1e-4 <= d <= 1.0 for d in draws)
    # uniform in log space: about a quarter of the draws in each decade
    assert abs(np.mean(np.array(draws) < 1e-3) - 0.25) < 0.05
    ints = {IntRange(3, 5).sample(rng) for _ in range(200)}
    assert ints == {3, 4, 5} and all(isinstance(i, int) for i in ints)


def test_narrow_in_log_space_clipped_to_the_range():
    log = LogUniform(1e-4, 1.0)
    mid = log.narrow(1e-2, 0.5)  # 4 decades -> 2, centred at 1e-2
    assert mid.low == pytest.approx(1e-3) and mid.high == pytest.approx(1e-1)
    low = log.narrow(1e-4, 0.5)  # clipped at the lower end
    assert low.low == 1e-4 and low.high == pytest.approx(1e-3)
    lin = Uniform(0.0, 1.0).narrow(0.9, 0.4)
    assert lin.low == pytest.approx(0.7) and lin.high == 1.0
    ints = IntRange(3, 30).narrow(10, 0.2)
    assert isinstance(ints, IntRange) and ints.low <= 10 <= ints.high and ints.high - ints.low < 27
    assert IntRange(3, 4).narrow(4, 0.1) == IntRange(3, 4)  # keeps two integers
    choice = Choice([1, 2])
    assert choice.narrow(1, 0.1) is choice
    with pytest.raises(ValueError, match="outside"):
        log.narrow(10.0, 0.5)


def test_edge_rule():
    log = LogUniform(1e-5, 10.0)  # 6 decades: the outer 10% is 0.6 decade at each end
    assert log.edge_side(1e-5) == "lower" and log.edge_side(10.0) == "upper"
    assert log.at_edge(1e-5 * 10 ** 0.5) and not log.at_edge(1e-4)
    assert log.at_edge(10.0 / 10 ** 0.5) and not log.at_edge(1.0)
    assert Uniform(0.0, 1.0).at_edge(0.95) and not Uniform(0.0, 1.0).at_edge(0.85)
    assert IntRange(0, 100).at_edge(95) and not IntRange(0, 100).at_edge(50)
    assert not Choice([1, 2, 3]).at_edge(3)


# ---------------------------------------------------------------------- defaults


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam",
                                  "newton", "lbfgs_stochastic"])
def test_default_space_tunes_lr_only(name):
    space = default_space(name)
    assert space == {"lr": LogUniform(1e-5, 10.0)}
    for value in (1e-5, 10.0):
        build_optimizer(name, {"lr": value})


def test_default_space_without_lr():
    assert default_space("lbfgs") == {"m": IntRange(3, 30)}
    build_optimizer("lbfgs", {"m": 3})
    build_optimizer("lbfgs", {"m": 30})
    assert default_space("bfgs") == {}
    with pytest.raises(ValueError, match="unknown optimizer"):
        default_space("sgdd")


def test_nothing_to_tune_is_one_trial(tmp_path):
    result = _quick(optimizer="bfgs", budget=10, results_dir=tmp_path)
    assert len(result.trials) == 1 and result.budget_runs == 1
    assert result.best_params == {} and result.optimizer_params == {}
    assert len(result.evaluation_run_ids) == 2


# ----------------------------------------------------------------------- methods


@pytest.mark.filterwarnings("ignore::optbench.tuning.TuningWarning")
def test_grid_covers_exactly_the_grid(tmp_path):
    space = {"lr": LogUniform(1e-3, 0.1), "rho": Uniform(0.5, 0.9)}
    result = _quick(optimizer="momentum", space=space, method="grid", budget=10,
                    results_dir=tmp_path)
    points = list(zip(result.trials["lr"], result.trials["rho"]))
    expected = set(itertools.product(space["lr"].grid(3), space["rho"].grid(3)))  # floor(10**0.5)
    assert len(points) == len(set(points)) == 9
    assert set(points) == expected
    assert result.budget_runs == 9


def test_grid_shape_fits_the_budget():
    three = {k: LogUniform(1e-3, 1.0) for k in "abc"}
    assert grid_shape(three, 64) == {"a": 4, "b": 4, "c": 4}  # 64 ** (1/3) < 4 in floats
    assert grid_shape(three, 63) == {"a": 3, "b": 3, "c": 3}
    mixed = {"lr": LogUniform(1e-3, 1.0), "eps": Choice([1e-8, 1e-7]), "m": IntRange(3, 4)}
    shape = grid_shape(mixed, 20)  # 2 choices leave 10: 3 per dim, but m has 2 integers
    assert shape == {"lr": 3, "eps": 2, "m": 2}
    trials = grid_trials(mixed, 20)
    assert len(trials) == 12 and len({json.dumps(t, sort_keys=True) for t in trials}) == 12
    assert grid_trials(mixed, 100, points={"lr": 5, "m": 2}) != trials
    with pytest.raises(ValueError, match="do not fit"):
        grid_trials(mixed, 10, points=5)
    assert grid_trials({}, 5) == [{}]


def test_random_search_is_reproducible_from_its_seed(tmp_path):
    space = {"lr": LogUniform(1e-3, 0.1), "rho": Uniform(0.5, 0.9)}
    runs = [_quick(optimizer="momentum", space=space, budget=5, search_seed=seed,
                   results_dir=tmp_path / str(i))
            for i, seed in enumerate((7, 7, 8))]
    cols = ["lr", "rho"]
    pd.testing.assert_frame_equal(runs[0].trials[cols], runs[1].trials[cols])
    assert runs[0].trials["run_ids"].tolist() == runs[1].trials["run_ids"].tolist()
    assert runs[0].tune_id == runs[1].tune_id
    assert not np.isin(runs[2].trials["lr"], runs[0].trials["lr"]).any()
    assert runs[0].tune_id != runs[2].tune_id
    # independent of the order of the space's keys
    a = random_trials(space, 4, np.random.default_rng(3))
    b = random_trials(dict(reversed(space.items())), 4, np.random.default_rng(3))
    assert [sorted(t.items()) for t in a] == [sorted(t.items()) for t in b]


def test_random_search_draws_each_discrete_point_once():
    trials = random_trials({"m": IntRange(3, 6)}, 10, np.random.default_rng(0))
    assert sorted(t["m"] for t in trials) == [3, 4, 5, 6]


def test_coarse_to_fine_narrows_around_the_best_lr(coarse):
    result, _ = coarse
    first, last = (LogUniform(*s["lr"]["log_uniform"]) for s in (result.spaces[0], result.spaces[-1]))
    assert len(result.spaces) == 3
    assert first == LogUniform(1e-5, 10.0)
    assert last.width() <= 0.3 ** 2 * first.width() * (1 + 1e-9)  # two narrowings (or more: clipping)
    best_scan = _dense_scan_best_lr()
    assert last.low <= best_scan <= last.high
    assert last.low <= 2.0 / (L + MU) <= last.high
    assert result.best_params["lr"] == pytest.approx(best_scan, rel=0.3)
    assert result.trials["round"].value_counts().sort_index().tolist() == [10, 10, 10]
    assert result.trials["trial"].tolist() == list(range(30))
    # every later trial lies in its round's range
    for r in (1, 2):
        rng = LogUniform(*result.spaces[r]["lr"]["log_uniform"])
        assert result.trials.loc[result.trials["round"] == r, "lr"].map(rng.contains).all()
    assert result.warnings == []


def test_no_rounding_of_sampled_values(coarse):
    result, out = coarse
    row = result.trials.iloc[0]
    _, record = read_run(run_path(out, row["run_ids"][0]))
    assert record["spec"]["optimizer_params"]["lr"] == row["lr"]  # exactly the sample


# ---------------------------------------------------------------- selection rules


def _trace(subopt_last: float, steps: int = 10) -> pd.DataFrame:
    subopt = np.linspace(1.0, subopt_last, 3)
    return pd.DataFrame({"step": [0, steps // 2, steps], "loss": subopt, "subopt": subopt,
                         "n_grad": [0, steps // 2, steps]})


def test_diverged_runs_score_inf_and_are_never_chosen():
    assert run_objective(_trace(1e-12), "diverged") == (math.inf, math.inf)
    assert run_objective(_trace(1e-12), "error", "best") == (math.inf, math.inf)
    trials = pd.DataFrame({
        "trial": [0, 1, 2],
        "score": [0.0, 0.5, 0.3],  # the diverged one even scores best here
        "final": [0.0, 0.5, 0.3],
        "status": ["diverged", "max_steps", "converged"],
        "n_grad": [10, 10, 10],
    })
    assert select_best(trials) == 2
    trials["status"] = ["diverged", "error", "diverged"]
    assert select_best(trials) is None


def test_diverged_trials_in_a_real_search(coarse):
    result, _ = coarse
    trials = result.trials
    diverged = trials[trials["status"] == "diverged"]
    assert len(diverged) > 0 and np.isinf(diverged["score"]).all()  # lr > 2/L diverges
    assert trials.loc[result.best_trial, "status"] != "diverged"
    assert result.best_score == trials.loc[trials["status"] != "diverged", "score"].min()


def test_tie_rule():
    trials = pd.DataFrame({
        "trial": [0, 1, 2, 3],
        "score": [1.0, 1.0, 1.0, 2.0],
        "final": [0.2, 0.1, 0.1, 0.0],
        "status": ["max_steps"] * 4,
        "n_grad": [5, 30, 20, 1],
    })
    assert select_best(trials) == 2  # equal score: lower final, then fewer gradients
    trials["n_grad"] = [5, 20, 20, 1]
    assert select_best(trials) == 1  # all equal but the trial number: the earlier one
    trials["final"] = [0.1, 0.1, 0.1, 0.0]
    trials["n_grad"] = [20, 20, 20, 1]
    assert select_best(trials) == 0


def test_ties_in_a_real_search_go_to_the_earlier_trial(tmp_path):
    # in 3 steps L-BFGS stores at most 3 pairs, so every m >= 3 gives the same run
    result = _quick(optimizer="lbfgs", space={"m": Choice([20, 5, 10])}, method="grid",
                    budget=3, steps=3, record_every=1, results_dir=tmp_path)
    assert result.trials["score"].nunique() == 1 and result.trials["n_grad"].nunique() == 1
    assert result.best_trial == 0 and result.best_params == {"m": 20}


def test_steps_to_target_objective():
    trace = _trace(1e-8)
    assert run_objective(trace, "max_steps", "steps_to_target", target=0.6)[0] == 5.0
    score, final = run_objective(trace, "max_steps", "steps_to_target", target=1e-9)
    assert score == math.inf and final == pytest.approx(1e-8)
    assert run_objective(trace, "max_steps", "best")[0] == pytest.approx(1e-8)


def test_objective_the_problem_cannot_serve(tmp_path):
    with pytest.raises(ValueError, match="val_acc"):
        _quick(objective="val_acc", results_dir=tmp_path)
    with pytest.raises(ValueError, match="objective must be one of"):
        _quick(objective="fastest", results_dir=tmp_path)


def test_edge_warning_when_the_range_is_too_narrow(tmp_path):
    with pytest.warns(TuningWarning, match=r"best lr = 1e-05 is at the upper edge"):
        result = _quick(space={"lr": LogUniform(1e-6, 1e-5)}, method="grid", budget=4,
                        results_dir=tmp_path)
    assert len(result.warnings) == 1 and "lr" in result.warnings[0]
    assert result.best_params["lr"] == pytest.approx(1e-5)


# --------------------------------------------------- evaluation, budget, storage


def test_eval_seeds_must_not_overlap_search_seeds(tmp_path):
    with pytest.raises(ValueError, match=r"overlap.*\[1\]"):
        _quick(search_seeds=(0, 1), eval_seeds=(1, 2), results_dir=tmp_path)
    assert not list(tmp_path.glob("*.parquet"))


def test_evaluation_runs_use_exactly_the_eval_seeds(coarse):
    result, out = coarse
    data = optbench.load(out).groupby("run_id").first()
    evaluation = data[data["tune.role"] == "evaluation"]
    assert sorted(evaluation.index) == sorted(result.evaluation_run_ids)
    assert sorted(evaluation["seed"]) == [100, 101, 102, 103, 104]
    assert (evaluation["optimizer.lr"] == result.best_params["lr"]).all()
    assert set(data.loc[data["tune.role"] == "search", "seed"]) == {0}
    assert len(result.evaluation["values"]) == 5
    assert result.evaluation["median"] == pytest.approx(np.median(result.evaluation["values"]))
    assert "evaluation" in result.note and "biased" in result.note


def test_trials_are_stored_with_round_and_trial_tags(coarse):
    result, out = coarse
    data = optbench.load(out)
    assert {"tune.round", "tune.trial", "tune.role", "tune.id"} <= set(data.columns)
    runs = data.groupby("run_id").first()
    assert (runs["tune.id"] == result.tune_id).all()
    for _, row in result.trials.iterrows():
        (rid,) = row["run_ids"]
        assert runs.loc[rid, "tune.round"] == row["round"]
        assert runs.loc[rid, "tune.trial"] == row["trial"]
        assert runs.loc[rid, "tune.role"] == "search"


def test_budget_in_runs_and_gradient_evaluations(tmp_path):
    result = _quick(search_seeds=(0, 1), budget=7, results_dir=tmp_path)  # 3 trials x 2 seeds
    assert len(result.trials) == 3 and result.budget_runs == 6
    assert all(len(ids) == 2 for ids in result.trials["run_ids"])
    data = optbench.load(tmp_path)
    last = data[data["tune.role"] == "search"].groupby("run_id")["n_grad"].last()
    assert result.budget_n_grad == last.sum() == result.trials["n_grad"].sum()
    json.dumps(result.to_dict(), allow_nan=False)  # JSON-friendly, infinities included


def test_rerun_resumes_from_the_store(tmp_path):
    first = _quick(budget=4, results_dir=tmp_path)
    files = sorted(p.stat().st_mtime_ns for p in tmp_path.glob("*.parquet"))
    again = _quick(budget=4, results_dir=tmp_path)
    assert sorted(p.stat().st_mtime_ns for p in tmp_path.glob("*.parquet")) == files
    assert again.best_params == first.best_params and again.tune_id == first.tune_id


def test_tune_many_gives_every_optimizer_the_same_budget(tmp_path):
    table = tune_many("quadratic", QUAD, ["sgd", "adam"], budget=4, steps=20, record_every=5,
                      eval_seeds=(100,), results_dir=tmp_path)
    assert table["optimizer"].tolist() == ["sgd", "adam"]
    assert table["budget_runs"].tolist() == [4, 4]
    assert table["budget_n_grad"].tolist() == [80, 80]
    assert table["eval_median"].notna().all()
