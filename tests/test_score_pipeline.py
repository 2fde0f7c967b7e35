"""The scoring pipeline end to end on two small workloads, the baselines re-run:
a baseline against itself, a copy of the best baseline, a crippled optimizer, the
self-tuning ruleset, and verdicts that do not move when the seeds change."""

import math

import numpy as np
import pytest

from optbench.score import Workload, score, submission
from optbench.search_space import LogUniform
from optbench.score.protocol import BASELINES, run_seed
from optbench.score.trials import baseline_methods, configurations, plan

SMALL = [
    Workload("quad", "quadratic", {"dim": 5, "condition_number": 10.0, "seed": 0}, 200, "subopt",
             preset_target=1e-4),
    Workload("logreg", "logistic", {"n_samples": 200, "n_features": 5, "batch_size": 20, "seed": 0},
             300, "subopt", preset_target=1e-2),
]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("score")


def _score(out, optimizer, seed=0, **kwargs):
    return score(optimizer, workloads=SMALL, rerun_baselines=True, out=out / f"seed{seed}", seed=seed,
                 **kwargs)


def _point(result, method, axis="cost"):
    s = result.scores[(result.scores["axis"] == axis) & (result.scores["method"] == method)]
    return s.iloc[0]


def _best_baseline(result):
    return result.verdict["cost"]["baseline"]


def _copy_of(name):
    b = next(b for b in BASELINES if b.name == name)
    fixed = {k: v for k, v in b.fixed.items() if k not in b.space}
    return b.optimizer, fixed, dict(b.space)


def test_a_baseline_scored_against_itself_gets_its_own_score(out):
    for b in BASELINES[2:]:  # adam, adamw
        optimizer, fixed, space = _copy_of(b.name)
        result = _score(out, optimizer, fixed=fixed, space=space)
        mine = _point(result, result.meta["submission"]["name"])
        theirs = _point(result, b.name)
        assert mine["score"] == theirs["score"]
        assert (mine["low"], mine["high"]) == (theirs["low"], theirs["high"])


def test_a_copy_of_the_best_baseline_is_indistinguishable_from_it(out):
    probe = _score(out, "sgd")
    best = _best_baseline(probe)
    optimizer, fixed, space = _copy_of(best)
    result = _score(out, optimizer, fixed=fixed, space=space)
    mine = _point(result, result.meta["submission"]["name"])
    theirs = _point(result, best)
    assert theirs["low"] <= mine["score"] <= theirs["high"]
    assert result.verdict["cost"]["verdict"] == "indistinguishable"
    assert result.verdict["cost"]["difference"] == 0.0


def test_a_crippled_optimizer_scores_zero_and_is_worse(out):
    result = _score(out, "adam", fixed={"lr": 1e-9})
    mine = _point(result, "adam[lr=1e-09]")
    assert mine["score"] == 0.0 and mine["high"] == 0.0
    assert result.verdict["cost"]["verdict"] == "worse"
    assert np.isinf(result.hits[result.hits["method"] == "adam[lr=1e-09]"]["cost"]).all()


@pytest.mark.parametrize("seed", [1, 2])
def test_verdicts_do_not_move_with_the_seeds(out, seed):
    crippled = _score(out, "adam", seed=seed, fixed={"lr": 1e-9})
    assert crippled.verdict["cost"]["verdict"] == "worse"
    best = _best_baseline(crippled)
    optimizer, fixed, space = _copy_of(best)
    copy = _score(out, optimizer, seed=seed, fixed=fixed, space=space)
    assert copy.verdict["cost"]["verdict"] == "indistinguishable"


def test_the_tables_are_complete(out):
    result = _score(out, "sgd")
    methods = [result.meta["submission"]["name"]] + [b.name for b in BASELINES]
    assert sorted(result.scores["method"].unique()) == sorted(methods)
    assert set(result.scores["axis"]) == {"cost", "seconds"}
    assert len(result.hits) == 5 * 3 * len(SMALL) * len(methods)
    assert sorted(result.budget["trials"].unique()) == [1, 2, 4, 5]
    assert list(result.leave_one_out["left_out"]) == ["quad", "logreg"]
    assert ((result.scores["score"] >= 0) & (result.scores["score"] <= 1)).all()
    data = result.to_json()
    assert data["protocol"] == "optbench-score v1" and "environment" in data
    assert any("caller" in n for n in result.notes)


def test_the_budget_curve_of_a_prefix_matches_a_smaller_search(out):
    full = _score(out, "sgd")
    small = _score(out, "sgd", trials=2)
    a = full.budget[full.budget["trials"] == 2].set_index("method")["score"]
    b = small.scores[small.scores["axis"] == "cost"].set_index("method")["score"]
    assert a.to_dict() == pytest.approx(b.to_dict())


def test_self_ruleset_runs_the_defaults_once_per_study_with_three_times_the_budget(out):
    result = _score(out, "adam", ruleset="self")
    mine = result.hits[result.hits["method"] == "adam (submission)"]
    assert set(mine["trial"]) == {0} and len(mine) == 3 * len(SMALL)
    assert result.workloads["budget"].tolist() == [600, 900]
    assert result.budget.empty and result.meta["ruleset"] == "self"


def test_runs_follow_the_protocols_seeds_and_halton_points():
    method = baseline_methods()[0]
    runs = plan(method, SMALL, ruleset="external", trials=5, studies=3, seed=4)
    assert len(runs) == 5 * 3 * len(SMALL)
    r = runs[-1]
    assert (r.study, r.trial, r.spec.seed) == (2, 4, run_seed(4, 2, 4))
    assert r.spec.optimizer_params == {**configurations(method, "external", 5, 2, 4)[4]}
    assert configurations(method, "external", 5, 0, 0) != configurations(method, "external", 5, 1, 0)
    assert r.spec.options["tol_subopt"] == 1e-4 or r.spec.options["tol_subopt"] == 1e-2


def test_bad_input_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="unknown optimizer"):
        submission("no_such_optimizer")
    with pytest.raises(ValueError, match="lr"):
        score("adam", fixed={"lr": -1.0}, workloads=SMALL, out=tmp_path / "a")
    with pytest.raises(ValueError, match="ruleset"):
        score("adam", ruleset="internal", workloads=SMALL, out=tmp_path / "b")
    with pytest.raises(ValueError, match="trials"):
        score("adam", trials=0, workloads=SMALL, out=tmp_path / "c")
    with pytest.raises(ValueError, match="rerun-baselines"):  # the bundle has other workloads
        score("adam", workloads=SMALL, out=tmp_path / "d")
    assert not any(tmp_path.iterdir())


def test_missing_target_is_refused(tmp_path):
    w = Workload("none", "quadratic", {"dim": 3}, 10, "subopt", preset_target=math.nan)
    with pytest.raises(ValueError, match="without a target"):
        score("adam", workloads=[w], out=tmp_path / "x", rerun_baselines=True)


def test_a_dask_cluster_gives_the_same_score_as_one_process(tmp_path, out):
    pytest.importorskip("distributed", reason="the dask executor needs dask.distributed")
    serial = _score(out, "sgd", trials=2, studies=2)
    dask = score("sgd", workloads=SMALL, rerun_baselines=True, out=tmp_path / "dask", trials=2, studies=2,
                 executor="dask", jobs=2)
    key = ["method", "workload", "study", "trial"]
    a = serial.hits.sort_values(key).reset_index(drop=True)
    b = dask.hits.sort_values(key).reset_index(drop=True)
    assert a[key + ["cost", "status", "run_id"]].equals(b[key + ["cost", "status", "run_id"]])
    cost = serial.scores[serial.scores["axis"] == "cost"]
    assert cost["score"].tolist() == dask.scores[dask.scores["axis"] == "cost"]["score"].tolist()


@pytest.mark.parametrize("name, package, rate", [("torch:SGD", "torch", "lr"),
                                                 ("optax:adam", "optax", "learning_rate")])
def test_bridged_optimizers_are_scored_like_built_in_ones(out, name, package, rate):
    pytest.importorskip(package, reason=f"{name} needs {package}")
    result = _score(out, name, trials=2, studies=1, space={rate: LogUniform(1e-3, 0.5)})
    assert result.meta["submission"]["optimizer"] == name
    mine = result.hits[result.hits["method"] == name]
    assert len(mine) == 2 * len(SMALL) and (mine["status"] != "error").all()
    assert np.isfinite(mine["cost"]).any()  # lr up to 0.5 reaches the small quadratic's target


def test_a_workload_nobody_reaches_is_named_in_a_note(out):
    hard = Workload("hard", "quadratic", {"dim": 5, "condition_number": 10.0, "seed": 0}, 20, "subopt",
                    preset_target=1e-30)
    result = score("sgd", workloads=[SMALL[0], hard], rerun_baselines=True, out=out / "hard", trials=2,
                   studies=1)
    assert any(n.startswith("no method reached the target of hard ") for n in result.notes), result.notes
    assert not any("quad" in n for n in result.notes if n.startswith("no method"))
