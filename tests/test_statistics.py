"""optbench.statistics: resampling, curve and final statistics, times to target,
bootstrap intervals and profiles, checked on hand-made tables and on real runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optbench
from optbench import statistics as stats
from optbench.spec import RunSpec
from optbench.study import run_study

INF = math.inf


def run(problem="p", optimizer="o", seed=0, status="max_steps", loss=(1.0,), n_grad=None,
        f_star=0.0, time=None):
    """One run in the shape of ``optbench.load``: the losses of its recorded rows, their
    n_grad (default: the step) and f_star (None: unknown, subopt NaN)."""
    loss = np.asarray(loss, dtype=float)
    steps = np.arange(len(loss), dtype=float)
    n_grad = steps if n_grad is None else np.asarray(n_grad, dtype=float)
    with np.errstate(invalid="ignore"):
        subopt = loss - f_star if f_star is not None else np.full(len(loss), np.nan)
    return pd.DataFrame({
        "step": steps, "loss": loss, "subopt": subopt, "grad_norm": np.nan,
        "n_loss": 0.0, "n_grad": n_grad, "n_hess": 0.0,
        "time": steps * 0.1 + 0.01 if time is None else np.asarray(time, dtype=float),
        "lr": 0.1, "run_id": f"{problem}/{optimizer}/{seed}", "problem": problem.split("[")[0],
        "optimizer": optimizer.split("[")[0], "seed": seed, "status": status,
        "problem_label": problem, "optimizer_label": optimizer, "cost": n_grad,
    })


def table(*runs):
    return pd.concat(runs, ignore_index=True)


def hits_at(t, problem, optimizer, seed=0, grid=(0, 10, 20, 30, 40)):
    """A run whose loss (f_star = 0) drops from 1 to 1e-6 at n_grad = t (never for None)."""
    grid = np.asarray(grid, dtype=float)
    loss = np.where(grid >= (np.inf if t is None else t), 1e-6, 1.0)
    return run(problem, optimizer, seed, "max_steps", loss, n_grad=grid)


# --------------------------------------------------------------------------- resample


def test_resample_step_function_hold_divergence_and_error():
    data = table(
        run("p", "o", 0, "converged", [4, 2, 1], n_grad=[0, 10, 20]),          # early stop
        run("p", "o", 1, "diverged", [4, 3, 100, 1e30], n_grad=[0, 10, 20, 30]),
        run("p", "o", 2, "error", [4, 3], n_grad=[0, 10]),
        run("p", "o", 3, "max_steps", [5, 4, 3, 2, 1], n_grad=[0, 7, 14, 21, 28]),
    )
    grid = [0, 5, 10, 15, 20, 25, 30, 40]
    out = stats.resample(data, x="n_grad", y="subopt", grid=grid)
    assert list(out.columns[:7]) == ["problem_label", "optimizer_label", "run_id", "seed",
                                     "status", "x", "y"]
    y = {seed: g["y"].tolist() for seed, g in out.groupby("seed")}
    assert y[0] == [4, 4, 2, 2, 1, 1, 1, 1]                       # held after converging
    assert y[1] == [4, 4, 3, 3, 100, 100, INF, INF]               # inf from its last record on
    np.testing.assert_array_equal(y[2], [4, 4, 3] + [np.nan] * 5)  # error: NaN after its end
    assert y[3] == [5, 5, 4, 3, 3, 2, 1, 1]
    div = out[out["seed"] == 1]["diverged"].tolist()
    assert div == [False] * 6 + [True] * 2
    assert not out[out["seed"] != 1]["diverged"].any()


def test_resample_nan_before_first_record_and_diverged_value():
    data = table(run("p", "o", 0, "diverged", [1.0, 0.5, np.nan], time=[0.5, 1.0, 2.0]))
    out = stats.resample(data, x="time", y="loss", grid=[0.0, 0.5, 1.5, 3.0], diverged_value=np.nan)
    np.testing.assert_array_equal(out["y"], [np.nan, 1.0, 0.5, np.nan])
    out = stats.resample(data, x="time", y="loss", grid=[0.0, 0.5, 1.5, 2.0])
    np.testing.assert_array_equal(out["y"], [np.nan, 1.0, 0.5, np.inf])


def test_resample_default_grids_are_per_pair():
    data = table(
        run("p", "a", 0, "max_steps", [4, 3, 2, 1, 0.5], n_grad=[0, 10, 20, 30, 40]),
        run("p", "b", 0, "max_steps", [4, 3, 2], n_grad=[0, 4, 8]),
    )
    out = stats.resample(data, x="n_grad", n_points=5)
    np.testing.assert_allclose(out[out["optimizer_label"] == "a"]["x"], [0, 10, 20, 30, 40])
    np.testing.assert_allclose(out[out["optimizer_label"] == "b"]["x"], [0, 2, 4, 6, 8])
    np.testing.assert_allclose(out[out["optimizer_label"] == "a"]["y"], [4, 3, 2, 1, 0.5])
    log = stats.resample(data, x="n_grad", n_points=4, log=True)
    np.testing.assert_allclose(log[log["optimizer_label"] == "a"]["x"], [0, 10, 20, 40], rtol=1e-12)
    np.testing.assert_allclose(log[log["optimizer_label"] == "a"]["x"].iloc[2], np.sqrt(10 * 40))


def _naive_step(xs, ys, status, g):
    """The documented definition, point by point."""
    out = []
    for gx in g:
        before = [i for i, xi in enumerate(xs) if xi <= gx]
        if status == "diverged" and gx >= max(xs):
            out.append(np.inf)
        elif not before:
            out.append(np.nan)
        else:
            out.append(ys[max(before)])
    return out


@settings(max_examples=60, deadline=None)
@given(
    increments=st.lists(st.integers(0, 5), min_size=1, max_size=8),
    status=st.sampled_from(["converged", "max_steps", "diverged"]),
    grid=st.lists(st.integers(-2, 45), min_size=1, max_size=10, unique=True),
)
def test_resample_matches_definition(increments, status, grid):
    xs = np.cumsum(increments).astype(float)           # non-decreasing, with repeats
    ys = np.arange(len(xs), dtype=float) + 1.0
    data = run("p", "o", 0, status, ys, n_grad=xs)
    out = stats.resample(data, x="n_grad", y="loss", grid=grid)
    g = np.unique(np.asarray(grid, dtype=float))
    np.testing.assert_array_equal(out["x"], g)
    np.testing.assert_array_equal(out["y"], _naive_step(list(xs), list(ys), status, g))


# --------------------------------------------------------------------------- curves


def test_curve_stats_match_numpy_quantiles():
    rng = np.random.default_rng(3)
    losses = rng.lognormal(size=(5, 6))
    data = table(*(run("p", "o", s, "max_steps", losses[s]) for s in range(5)))
    out = stats.curve_stats(data, x="step", y="loss", grid=np.arange(6))
    np.testing.assert_allclose(out["median"], np.median(losses, axis=0), rtol=1e-14)
    np.testing.assert_allclose(out["q25"], np.quantile(losses, 0.25, axis=0), rtol=1e-14)
    np.testing.assert_allclose(out["q75"], np.quantile(losses, 0.75, axis=0), rtol=1e-14)
    assert (out["n"] == 5).all() and (out["n_diverged"] == 0).all()


def test_curve_stats_with_divergence_and_early_stop():
    data = table(
        run("p", "o", 0, "converged", [8, 1], n_grad=[0, 10]),
        run("p", "o", 1, "max_steps", [8, 4, 2], n_grad=[0, 10, 20]),
        run("p", "o", 2, "diverged", [8, 50], n_grad=[0, 10]),
    )
    out = stats.curve_stats(data, x="n_grad", y="subopt", grid=[0, 10, 20])
    # at 10: values {1, 4, inf}; at 20: {1, 2, inf}
    np.testing.assert_array_equal(out["median"], [8, 4, 2])
    np.testing.assert_array_equal(out["q25"], [8, 2.5, 1.5])
    np.testing.assert_array_equal(out["q75"], [8, INF, INF])
    np.testing.assert_array_equal(out["n_diverged"], [0, 1, 1])
    # two diverged runs out of three: the median is a divergence
    data2 = table(data, run("p", "o", 3, "diverged", [8, 9], n_grad=[0, 5]))
    out2 = stats.curve_stats(data2, x="n_grad", grid=[20])
    assert out2["median"].iloc[0] == INF and out2["q25"].iloc[0] == 1.75  # {1, 2, inf, inf}


# --------------------------------------------------------------------------- final values


def test_final_stats_measure_counts_and_median():
    data = table(
        run("q", "o", 0, "converged", [5, 1.0]),
        run("q", "o", 1, "max_steps", [5, 3.0]),
        run("q", "o", 2, "diverged", [5, 7.0]),
        run("q", "o", 3, "max_steps", [5, 2.0]),
        run("net", "o", 0, "max_steps", [5, 0.3], f_star=None),
        run("net", "o", 1, "error", [5, 0.1], f_star=None),
    )
    out = stats.final_stats(data, n_boot=500).set_index("problem_label")
    assert out.loc["q", "measure"] == "subopt" and out.loc["net", "measure"] == "loss"
    assert out.loc["q", ["n_runs", "n_converged", "n_max_steps", "n_diverged", "n_error"]].tolist() \
        == [4, 1, 2, 1, 0]
    assert out.loc["q", "median"] == 2.5                 # {1, 2, 3, inf}
    assert out.loc["q", "q75"] == INF
    assert out.loc["q", "ci_low"] <= 2.5 <= out.loc["q", "ci_high"]
    assert out.loc["net", "median"] == 0.3 and out.loc["net", "n_error"] == 1
    # a pair's interval does not depend on the other pairs of the table
    alone = stats.final_stats(data[data["problem_label"] == "q"], n_boot=500)
    assert alone[["ci_low", "ci_high"]].to_numpy().tolist() == \
        out.loc[["q"], ["ci_low", "ci_high"]].to_numpy().tolist()


# --------------------------------------------------------------------------- targets


def test_time_to_target_and_success_rates_by_hand():
    data = table(
        run("p", "o", 0, "max_steps", [100, 50, 5, 0.5], n_grad=[0, 3, 6, 9]),
        run("p", "o", 1, "max_steps", [100, 20, 20, 20], n_grad=[0, 3, 6, 9]),
        run("p", "o", 2, "diverged", [100, 8, 1e9], n_grad=[0, 3, 6]),
    )
    targets = stats.targets_for(data, exponents=[0, -1, -2])
    np.testing.assert_allclose(targets["target"], [100, 10, 1])
    assert (targets["reference"] == "f_star").all() and (targets["initial"] == 100).all()
    hits = stats.time_to_target(data, x="n_grad", targets=targets)
    x = hits.pivot(index="seed", columns="target_index", values="x")
    np.testing.assert_array_equal(x.loc[0], [0, 6, 9])
    np.testing.assert_array_equal(x.loc[1], [0, INF, INF])
    np.testing.assert_array_equal(x.loc[2], [0, 3, INF])     # reached 10 before diverging
    assert hits.loc[hits["seed"] == 1, "reached"].tolist() == [True, False, False]
    assert hits.groupby("seed")["x_end"].first().tolist() == [9, 9, 6]

    rates = stats.success_rates(data, x="n_grad", targets=targets)
    assert rates["n_success"].tolist() == [3, 2, 1]
    np.testing.assert_allclose(rates["success_rate"], [1, 2 / 3, 1 / 3])
    np.testing.assert_array_equal(rates["median_x"], [0, 4.5, 9])
    np.testing.assert_allclose(rates["ert"], [0, (6 + 9 + 3) / 2, (9 + 9 + 6) / 1])
    never = stats.success_rates(data, targets=[1e-3])
    assert never["n_success"].tolist() == [0] and never["ert"].tolist() == [INF]


def test_targets_by_pair_and_run():
    data = table(
        run("p", "a", 0, "max_steps", [10, 2]), run("p", "a", 1, "max_steps", [30, 1]),
        run("p", "b", 0, "max_steps", [100, 1]),
    )
    assert stats.targets_for(data, exponents=[0], by="problem")["target"].tolist() == [30]
    assert stats.targets_for(data, exponents=[0], by="pair")["target"].tolist() == [20, 100]
    by_run = stats.targets_for(data, exponents=[-1], by="run")
    np.testing.assert_allclose(by_run["target"], [1, 3, 10])
    hits = stats.time_to_target(data, targets=by_run)
    assert hits["reached"].tolist() == [False, True, True]
    with pytest.raises(ValueError, match="by must be"):
        stats.targets_for(data, by="seed")


def test_unknown_f_star_uses_best_found():
    tol = 1e-8 * (1 + 0.5)
    data = table(
        run("net", "a", 0, "max_steps", [2.0, 1.0, 0.5], f_star=None),
        run("net", "b", 0, "max_steps", [2.0, 0.5 + 0.5 * tol, 0.5 + 0.5 * tol], f_star=None),
        run("net", "c", 0, "max_steps", [2.0, 0.5 + 1e-6, 0.5 + 1e-6], f_star=None),
        run("quad", "a", 0, "max_steps", [2.0, 0.0]),
    )
    targets = stats.targets_for(data, exponents=[0, -10])
    net = targets[targets["problem_label"] == "net"]
    assert (net["reference"] == "best found").all()
    np.testing.assert_allclose(net["f_ref"], 0.5 + tol, rtol=1e-15)
    assert (targets[targets["problem_label"] == "quad"]["reference"] == "f_star").all()
    hits = stats.time_to_target(data, x="step", targets=[0.0])
    assert (hits.loc[hits["problem_label"] == "net", "reference"] == "best found").all()
    x = hits.set_index(["problem_label", "optimizer_label"])["x"]
    assert x["net", "a"] == 2 and x["net", "b"] == 1     # within the tolerance of the best
    assert x["net", "c"] == INF and x["quad", "a"] == 1
    loose = stats.time_to_target(data, x="step", targets=[0.0], rel_tol=1e-5)
    assert loose.set_index(["problem_label", "optimizer_label"]).loc[("net", "c"), "x"] == 1


# --------------------------------------------------------------------------- profiles


def three_by_two():
    times = {("p1", "A"): 10, ("p2", "A"): 20, ("p3", "A"): None,
             ("p1", "B"): 20, ("p2", "B"): 10, ("p3", "B"): 40}
    return table(*(hits_at(t, p, s) for (p, s), t in times.items()))


def test_performance_profile_by_hand():
    data = three_by_two()
    # ratios: p1 A 1, B 2; p2 A 2, B 1; p3 A inf, B 1
    out = stats.performance_profile(data, measure="n_grad", target=1e-3, relative=False,
                                    taus=[1, 1.5, 2, 4])
    rho = out.pivot(index="tau", columns="solver", values="fraction")
    np.testing.assert_allclose(rho["A"], [1 / 3, 1 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(rho["B"], [2 / 3, 2 / 3, 1, 1])
    assert (out["n_problems"] == 3).all()
    default = stats.performance_profile(data, target=1e-3, relative=False)
    assert default[default["solver"] == "A"]["tau"].tolist() == [1, 2]
    # the relative target (1e-3 of the initial gap 1) gives the same here
    rel = stats.performance_profile(data, target=1e-3, taus=[1, 1.5, 2, 4])
    np.testing.assert_allclose(rel["fraction"], out["fraction"])


def test_performance_profile_aggregates_seeds_by_median():
    data = table(
        hits_at(10, "p1", "A", 0), hits_at(30, "p1", "A", 1), hits_at(None, "p1", "A", 2),
        hits_at(20, "p1", "B", 0),
        hits_at(10, "p2", "A", 0),                        # B never ran p2: unsolved by B
    )
    out = stats.performance_profile(data, target=1e-3, relative=False, taus=[1, 1.5, 10])
    rho = out.pivot(index="tau", columns="solver", values="fraction")
    # p1: A median(10, 30, inf) = 30 -> ratio 1.5, B 1; p2: A 1, B inf
    np.testing.assert_allclose(rho["A"], [0.5, 1, 1])
    np.testing.assert_allclose(rho["B"], [0.5, 0.5, 0.5])


def test_data_profile_by_hand():
    data = three_by_two()
    out = stats.data_profile(data, budgets=[0, 10, 20, 40], x="n_grad", target=1e-3, relative=False)
    d = out.pivot(index="budget", columns="solver", values="fraction")
    np.testing.assert_allclose(d["A"], [0, 1 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(d["B"], [0, 1 / 3, 2 / 3, 1])
    assert (out["n_instances"] == 3).all()
    norm = stats.data_profile(data, budgets=[5, 10], target=1e-3, relative=False, normalize=True,
                              dims={"p1": 1, "p2": 1, "p3": 3})
    d = norm.pivot(index="budget", columns="solver", values="fraction")
    np.testing.assert_allclose(d["A"], [1 / 3, 2 / 3])   # 5, 10, inf
    np.testing.assert_allclose(d["B"], [1 / 3, 1])       # 10, 5, 10
    with pytest.raises(ValueError, match="dimension"):
        stats.data_profile(data, normalize=True)


def test_data_profile_instances_are_problem_seed_pairs():
    data = table(hits_at(10, "p1", "A", 0), hits_at(None, "p1", "A", 1),
                 hits_at(30, "p1", "B", 0), hits_at(30, "p1", "B", 1))
    out = stats.data_profile(data, target=1e-3, relative=False)
    d = out.pivot(index="budget", columns="solver", values="fraction")
    assert d.index.tolist() == [0, 10, 30]
    np.testing.assert_allclose(d["A"], [0, 0.5, 0.5])
    np.testing.assert_allclose(d["B"], [0, 0, 1])


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_coverage_of_the_median():
    true_median = math.log(2.0)                          # standard exponential
    samples = np.random.default_rng(2024).exponential(size=(200, 30))
    covered = [low <= true_median <= high
               for low, high in (stats.bootstrap_ci(s, n_boot=1000, rng=i)
                                 for i, s in enumerate(samples))]
    assert 0.88 <= np.mean(covered) <= 0.99


def test_bootstrap_ci_is_seeded_and_handles_inf_and_nan():
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, np.nan]
    assert stats.bootstrap_ci(values, rng=1) == stats.bootstrap_ci(values, rng=1)
    low, high = stats.bootstrap_ci(values, rng=1)
    assert 1 <= low < 3.5 < high <= 6
    assert stats.bootstrap_ci([1.0, 2.0, INF, INF, INF], rng=0)[1] == INF
    assert stats.bootstrap_ci([INF] * 5, rng=0) == (INF, INF)
    assert stats.bootstrap_ci([3.0], rng=0) == (3.0, 3.0)
    assert all(math.isnan(v) for v in stats.bootstrap_ci([np.nan]))
    low, high = stats.bootstrap_ci(np.arange(10.0), statistic=lambda v: v.max(), rng=0)
    assert low <= high == 9
    with pytest.raises(ValueError, match="level"):
        stats.bootstrap_ci([1.0, 2.0], level=95)


def test_missing_column_is_named():
    with pytest.raises(ValueError, match="n_grad"):
        stats.resample(run().drop(columns="n_grad"), x="n_grad")


# --------------------------------------------------------------------------- real runs


def test_end_to_end_on_stored_runs(tmp_path):
    specs = [RunSpec(problem="quadratic", problem_params={"dim": 5}, optimizer="sgd",
                     optimizer_params={"lr": lr}, seed=s, steps=50, record_every=5)
             for lr in (0.05, 0.01) for s in (0, 1)]
    outcomes = run_study(specs, tmp_path)
    data = optbench.load(tmp_path)
    statuses = {o.status for o in outcomes}
    assert statuses <= {"converged", "max_steps", "diverged"}

    curves = stats.resample(data, x="n_grad", n_points=11)
    assert len(curves) == 4 * 11
    last = curves.groupby("run_id").tail(1).set_index("run_id")
    final_rows = data.groupby("run_id").tail(1).set_index("run_id")
    for rid, row in last.iterrows():
        if row["status"] == "diverged":
            assert row["y"] == INF
        else:
            assert row["y"] == final_rows.loc[rid, "subopt"]

    summary = stats.curve_stats(data, x="n_grad", n_points=11)
    assert set(summary["optimizer_label"]) == {"sgd[lr=0.05]", "sgd[lr=0.01]"}
    assert (summary["n"] == 2).all()

    final = stats.final_stats(data, n_boot=200)
    assert final["n_runs"].tolist() == [2, 2] and (final["measure"] == "subopt").all()
    assert (final[[f"n_{s}" for s in stats.STATUSES]].sum(axis=1) == 2).all()

    hits = stats.time_to_target(data, x="n_grad")
    assert len(hits) == 4 * len(stats.DEFAULT_EXPONENTS)
    # the first n_grad with subopt <= target, recomputed directly from the table
    for _, h in hits.sample(20, random_state=0).iterrows():
        rows = data[(data["run_id"] == h["run_id"]) & (data["subopt"] <= h["target"])]
        assert h["x"] == (rows["n_grad"].min() if len(rows) else INF)

    rates = stats.success_rates(data)
    assert rates["success_rate"].between(0, 1).all()
    for frame, _key in ((stats.performance_profile(data), "tau"),
                       (stats.data_profile(data, normalize=True), "budget")):
        assert set(frame["solver"]) == {"sgd[lr=0.05]", "sgd[lr=0.01]"}
        assert frame["fraction"].between(0, 1).all()
        assert (frame.groupby("solver")["fraction"].diff().dropna() >= 0).all()


def test_a_table_without_runs_gives_empty_results(tmp_path):
    empty = optbench.load(tmp_path)
    for frame in (stats.resample(empty), stats.curve_stats(empty), stats.final_stats(empty),
                  stats.targets_for(empty), stats.time_to_target(empty), stats.success_rates(empty),
                  stats.performance_profile(empty), stats.data_profile(empty)):
        assert isinstance(frame, pd.DataFrame) and frame.empty and len(frame.columns) > 0
