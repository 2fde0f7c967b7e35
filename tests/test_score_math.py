"""optbench-score v1's arithmetic against hand-computed tables: time to target, the
fastest trial, the median over studies, ratios, the integrated profile, the
bootstrap, the verdict and the leave-one-workload-out check."""

import math

import numpy as np
import pandas as pd
import pytest

from optbench.score.profile import (
    bootstrap_scores,
    budget_points,
    integrated_score,
    interval,
    leave_one_out,
    profile_curve,
    ratios,
    scores,
    verdict,
)
from optbench.score.time_to_target import cube, median_times, run_hit, study_times

INF = math.inf


def _trimmed(cost, value, time=None):
    return pd.DataFrame({"step": range(len(cost)), "cost": cost, "value": value,
                         "time": time if time is not None else [0.1 * c for c in cost]})


def test_run_hit_is_the_first_row_at_or_below_the_target():
    t = _trimmed([0, 1, 2, 4, 8], [10.0, 5.0, 1.0, 0.5, 0.1], [0.0, 0.5, 0.7, 0.9, 2.0])
    assert run_hit(t, 1.0, 100) == (2.0, 0.7)
    assert run_hit(t, 0.3, 100) == (8.0, 2.0)
    assert run_hit(t, 0.01, 100) == (INF, INF)


def test_run_hit_after_the_budget_or_of_an_error_run_is_a_miss():
    t = _trimmed([0, 1, 2, 4, 8], [10.0, 5.0, 1.0, 0.5, 0.1])
    assert run_hit(t, 1.0, 1.5) == (INF, INF)
    assert run_hit(t, 1.0, 2.0)[0] == 2.0  # at the budget counts
    assert run_hit(t, 1.0, 100, status="error") == (INF, INF)
    assert run_hit(t, math.nan, 100) == (INF, INF)


def test_run_hit_skips_nan_values_and_keeps_rows_before_a_divergence():
    t = _trimmed([0, 1, 2, 3], [10.0, math.nan, 0.5, math.inf])
    assert run_hit(t, 1.0, 100, status="diverged")[0] == 2.0


def test_study_times_take_the_fastest_trial_on_each_axis_separately():
    hits = pd.DataFrame({
        "method": ["a"] * 4, "workload": ["w"] * 4, "study": [0, 0, 1, 1], "trial": [0, 1, 0, 1],
        "cost": [30.0, 20.0, INF, 50.0], "seconds": [1.0, 3.0, INF, 2.0]})
    t = study_times(hits).set_index("study")
    assert t.loc[0, "cost"] == 20.0 and t.loc[0, "seconds"] == 1.0  # two different trials
    assert t.loc[1, "cost"] == 50.0
    assert study_times(hits, trials=1).set_index("study").loc[1, "cost"] == INF  # a prefix of the search


def test_median_over_studies_is_infinite_when_half_or_more_missed():
    T = np.array([[[1.0, 2.0, INF], [1.0, INF, INF], [3.0, INF, 5.0]]])
    assert median_times(T).tolist() == [[2.0, INF, 5.0]]
    assert median_times(np.array([[[1.0, INF]]])).tolist() == [[INF]]


def test_cube_fills_missing_entries_with_inf():
    times = pd.DataFrame({"method": ["a"], "workload": ["w1"], "study": [1], "cost": [7.0], "seconds": [1.0]})
    T = cube(times, ["a", "b"], ["w1", "w2"], 2)
    assert T.shape == (2, 2, 2)
    assert T[0, 0, 1] == 7.0 and np.isinf(np.delete(T.ravel(), 1)).all()


# methods A, B, C on three workloads (one study): worked by hand
T3 = np.array([[10.0, 20.0, INF], [20.0, 10.0, 30.0], [40.0, 50.0, INF]])


def test_ratios_and_integrated_score_by_hand():
    r = ratios(T3)
    assert r.tolist() == [[1.0, 2.0, INF], [2.0, 1.0, 1.0], [4.0, 5.0, INF]]
    # (4 - r) / 3 clipped to [0, 1], averaged over the workloads
    assert integrated_score(r) == pytest.approx([5 / 9, 8 / 9, 0.0], abs=1e-15)
    assert scores(T3[:, :, None]) == pytest.approx([5 / 9, 8 / 9, 0.0], abs=1e-15)


def test_a_workload_nobody_reaches_counts_zero_for_everyone():
    r = ratios(np.array([[INF, 1.0], [INF, 2.0]]))
    assert np.isinf(r[:, 0]).all()
    assert integrated_score(r) == pytest.approx([0.5, (2 / 3) / 2])


def test_integrating_the_profile_curve_gives_the_score():
    r = ratios(T3)
    curve = profile_curve(r, ["A", "B", "C"])
    for i, name in enumerate("ABC"):
        c = curve[curve["method"] == name]
        tau, frac = c["tau"].to_numpy(), c["fraction"].to_numpy()
        area = float(np.sum(frac[:-1] * np.diff(tau)))  # steps-post
        assert area / 3.0 == pytest.approx(integrated_score(r)[i], abs=1e-15)
    a = curve[curve["method"] == "A"].set_index("tau")["fraction"]
    assert a[1.0] == pytest.approx(1 / 3)
    assert a[2.0] == pytest.approx(2 / 3) and a[4.0] == pytest.approx(2 / 3)


def test_bootstrap_with_one_study_reproduces_the_point_score():
    reps = bootstrap_scores(T3[:, :, None], n=50)
    assert reps.shape == (50, 3)
    assert (reps == scores(T3[:, :, None])).all()


def test_bootstrap_resamples_studies_paired_across_methods():
    # method 1 is method 0 made twice as slow in every study: paired, it is never ahead
    rng = np.random.default_rng(0)
    base = rng.uniform(10, 100, size=(1, 4, 5))
    reps = bootstrap_scores(np.concatenate([base, 2 * base]), n=200)
    assert (reps[:, 0] == 1.0).all() and np.allclose(reps[:, 1], 2 / 3)


def test_interval_does_not_interpolate_and_keeps_infinities():
    low, high = interval(np.array([[1.0], [2.0], [INF]] * 10), level=0.95)
    assert low[0] == 1.0 and high[0] == INF


def _verdict(sub, best):
    reps = np.column_stack([sub, best])
    point = reps.mean(axis=0)
    return verdict(point, reps, ["s", "b"], "s", ["b"]).verdict


def test_verdict_by_the_paired_interval():
    assert _verdict(np.full(100, 0.9), np.full(100, 0.5)) == "better"
    assert _verdict(np.full(100, 0.1), np.full(100, 0.5)) == "worse"
    assert _verdict(np.full(100, 0.5), np.full(100, 0.5)) == "indistinguishable"
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.2, 100)
    assert _verdict(0.5 + noise, np.full(100, 0.5)) == "indistinguishable"


def test_verdict_names_the_best_baseline():
    reps = np.tile([0.4, 0.3, 0.6], (10, 1))
    v = verdict(reps[0], reps, ["s", "b1", "b2"], "s", ["b1", "b2"])
    assert v.baseline == "b2" and v.verdict == "worse" and v.difference == pytest.approx(-0.2)
    assert "worse than b2" in v.sentence("s")


def test_leave_one_out_detects_a_workload_that_decides_the_ranking():
    T = np.array([[1.0, 1.0, INF], [2.0, 2.0, 1.0]])[:, :, None]  # B wins only through w3
    table = leave_one_out(T, ["A", "B"], ["w1", "w2", "w3"]).set_index("left_out")
    assert scores(T) == pytest.approx([2 / 3, 7 / 9])
    assert table.loc["w3", "top"] == "A" and table.loc["w3", "top_changed"]
    assert table.loc["w3", "kendall_tau"] == pytest.approx(-1.0)
    assert table.loc["w1", "kendall_tau"] == pytest.approx(1.0) and not table.loc["w1", "top_changed"]


def test_budget_points():
    assert budget_points(5) == [1, 2, 4, 5]
    assert budget_points(1) == [1]
    assert budget_points(8) == [1, 2, 4, 8]
