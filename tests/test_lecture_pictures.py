"""The lecture's pictures in the quick suite (issue 18): the taco shell shows SGD bouncing
across the valley while momentum moves along it, every method shown within its stable
step range, the quick suite's words on gradient noise agree with its runs, and the
trajectory figures frame each panel on its own path and mark the saddle point."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from matplotlib.collections import LineCollection

import optbench
import optimizers
import problems
from optbench.build import build_problem, execute
from optbench.cli import main
from optbench.suites import load_suite
from reports.trajectories import panel_window, saddle_points, trajectories_figure

#: Steps after which SGD's and momentum's progress along the valley floor are compared.
ALONG_STEPS = 30


def taco_specs(noise: float) -> dict[str, list]:
    """The quick suite's runs of SGD, momentum and Nesterov on the 2-D quadratic (the taco
    shell) with this gradient noise: ``{optimizer: [spec per seed]}``."""
    specs: dict[str, list] = {}
    for spec in load_suite("quick").specs:
        params = spec.problem_params
        if (spec.problem == "quadratic" and params.get("dim") == 2
                and params.get("noise", 0.0) == noise and spec.optimizer in ("sgd", "momentum", "nesterov")):
            specs.setdefault(spec.optimizer, []).append(spec)
    assert set(specs) == {"sgd", "momentum", "nesterov"}, "the quick suite lost its taco shell"
    assert all(len({s.optimizer_label for s in runs}) == 1 for runs in specs.values())
    return specs


def valley_axes(spec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_star, floor, across, curvatures)``: the minimiser, the unit vectors along the
    valley's floor (least curvature) and across it (most), and the Hessian's eigenvalues."""
    problem = build_problem(spec.problem, spec.problem_params)
    curvatures, vectors = np.linalg.eigh(problem.hess(problem.x_star))
    return np.asarray(problem.x_star), vectors[:, 0], vectors[:, -1], curvatures


def coordinates(spec, steps: int | None = None) -> tuple[np.ndarray, np.ndarray, object]:
    """A run of ``spec`` (``steps`` at most): its iterates' offsets from the minimiser along
    the floor and across the valley, and the run's result."""
    if steps is not None:
        spec = dataclasses.replace(spec, steps=steps)
    result = execute(spec)
    x_star, floor, across, _ = valley_axes(spec)
    offsets = result.trace[["x_0", "x_1"]].to_numpy(dtype=float) - x_star
    return offsets @ floor, offsets @ across, result


def bounces(across: np.ndarray, visible: float = 0.01) -> int:
    """Steps that cross the valley's floor from at least ``visible`` times the start's
    distance from it: the iterate's side of the floor changes."""
    crossed = np.sign(across[1:]) != np.sign(across[:-1])
    return int(np.count_nonzero(crossed & (np.abs(across[:-1]) >= visible * abs(across[0]))))


# --------------------------------------------------------------------------- the taco shell


@pytest.fixture(scope="module")
def taco():
    return taco_specs(0.0)


def test_sgd_bounces_across_the_valley_for_many_steps(taco):
    for spec in taco["sgd"]:
        _, across, _ = coordinates(spec, steps=60)
        # every step of the first 40 crosses the floor...
        assert bounces(across[:41]) == 40, spec.seed
        # ...and after 20 steps it still bounces at a visible fraction of its start
        assert abs(across[20]) > 0.05 * abs(across[0]), spec.seed


def test_momentum_swings_slower_than_sgd_and_moves_along_the_valley_several_times_faster(taco):
    for sgd, momentum, nesterov in zip(taco["sgd"], taco["momentum"], taco["nesterov"]):
        assert sgd.seed == momentum.seed == nesterov.seed
        along = {}
        for name, spec in (("sgd", sgd), ("momentum", momentum), ("nesterov", nesterov)):
            floor, across, _ = coordinates(spec, steps=60)
            along[name] = 1.0 - abs(floor[ALONG_STEPS]) / abs(floor[0])  # share of the way
            if name != "sgd":  # no bouncing: a swing across the valley lasts several steps
                assert bounces(across[:41]) <= 15, (name, spec.seed)
        assert along["momentum"] > 2.5 * along["sgd"], along
        assert along["nesterov"] > 2.5 * along["sgd"], along
        assert along["sgd"] < 0.35, along  # SGD creeps: lr * mu = 1% of the way per step


def test_every_method_on_the_taco_shell_is_in_its_stable_step_range():
    """The bounds on a quadratic of curvature L: SGD lr L < 2, heavy ball lr L < 2 (1 + rho),
    Nesterov lr L < 2 (1 + rho) / (1 + 2 rho) (checked first: Nesterov diverges just past
    it); and no run of them diverges."""
    problem = problems.get("quadratic", dim=2, condition_number=100.0)
    for factor, diverges in ((0.97, False), (1.03, True)):
        nesterov = optimizers.get("nesterov", lr=factor * (2.0 * 1.9 / 2.8) / 100.0, rho=0.9)
        result = optbench.run(problem, nesterov, steps=3000, seed=0)
        assert (result.status == "diverged") == diverges, factor
    for noise in (0.0, 1.0):
        for name, specs in taco_specs(noise).items():
            for spec in specs:
                lr = spec.optimizer_params["lr"]
                rho = spec.optimizer_params.get("rho", 0.0)
                L = valley_axes(spec)[3].max()
                bound = {"sgd": 2.0, "momentum": 2.0 * (1 + rho),
                         "nesterov": 2.0 * (1 + rho) / (1 + 2 * rho)}[name]
                assert lr * L < 0.98 * bound, (spec.optimizer_label, lr * L, bound)
                _, _, result = coordinates(spec)
                assert result.status != "diverged", (spec.optimizer_label, spec.seed)


def test_the_quick_suite_words_on_gradient_noise_hold_over_eight_seeds():
    """quick.toml: with gradient noise momentum settles lower than SGD on every seed (its
    mean loss over the second half of a run, about 0.6 of SGD's), scattering less across
    the valley and more along it."""
    noisy = taco_specs(1.0)
    ratios = []
    for s in range(8):
        late = {}
        for name in ("sgd", "momentum"):
            spec = dataclasses.replace(noisy[name][0], seed=s)
            floor, across, result = coordinates(spec)
            half = result.trace["step"].to_numpy() > spec.steps / 2
            late[name] = (result.trace["loss"].to_numpy()[half].mean(),
                          np.sqrt(np.mean(across[half] ** 2)), np.sqrt(np.mean(floor[half] ** 2)))
        ratios.append(late["momentum"][0] / late["sgd"][0])
        assert late["momentum"][0] < late["sgd"][0], s
        assert late["momentum"][1] < late["sgd"][1], s  # less scatter across the valley
        assert late["momentum"][2] > late["sgd"][2], s  # more along its floor
    assert 0.4 < np.median(ratios) < 0.75, ratios


# --------------------------------------------------------------------------- the figures


def run_suite(tmp_path, text: str):
    path = tmp_path / "suite.toml"
    path.write_text(text)
    out = tmp_path / "results"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--no-report"]) == 0
    return optbench.load(out)


NOISY_TACO = """
name = "pictures"
seeds = [0]
steps = 300
[[problems]]
name = "quadratic"
dim = 2
condition_number = 190.0
noise = 1.0
[[optimizers]]
name = "sgd"
lr = [0.01, 0.05]
[[optimizers]]
name = "momentum"
lr = 0.005
[[optimizers]]
name = "newton"
line_search = true
"""


def panels(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def path_of(ax):
    (line,) = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    return line.get_label(), np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def test_each_trajectory_panel_is_framed_on_its_own_path(tmp_path):
    data = run_suite(tmp_path, NOISY_TACO)
    label = "quadratic[dim=2,condition_number=190,noise=1]"
    fig = trajectories_figure(data, label)
    x_star = problems.get("quadratic", dim=2, condition_number=190.0, noise=1.0).x_star
    spans = {}
    for ax in panels(fig):
        name, x, y = path_of(ax)
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        assert x0 < x_star[0] < x1 and y0 < x_star[1] < y1, name  # the optimum is in view
        spans[name] = (x1 - x0, y1 - y0)
        if name == "sgd[lr=0.05]":  # diverged (lr L = 9.5): framed on how it left
            assert (data.loc[data["optimizer_label"] == name, "status"] == "diverged").all()
            assert x0 < x[0] < x1 and y0 < y[0] < y1 and max(x1 - x0, y1 - y0) < 20.0, name
            continue
        for lo, hi, v in ((x0, x1, x), (y0, y1, y)):  # the whole path, with a margin
            margin = 0.05 * (v.max() - v.min())
            assert lo < v.min() - margin and v.max() + margin < hi, name
        # the path fills its panel (not a dot in a window made for another path)
        assert max(np.ptp(x) / (x1 - x0), np.ptp(y) / (y1 - y0)) > 0.5, name
    # Newton's noisy steps wander far along the valley; SGD's panel is not shrunk to match
    assert spans["newton[line_search=True]"][0] > 3.0 * spans["sgd[lr=0.01]"][0], spans
    assert len(set(spans.values())) == len(spans)


def test_panel_window_keeps_a_margin_a_minimum_aspect_and_room_around_a_saddle():
    x, y = np.array([0.0, 1.0, 2.0]), np.array([0.0, 0.0, 0.0])
    (x0, x1), (y0, y1) = panel_window(x, y)
    assert x0 < -0.05 and x1 > 2.05 and y1 - y0 >= 0.25 * (x1 - x0) * 0.99
    (x0, x1), (y0, y1) = panel_window(x, y + 1.0, room=[np.zeros(2)])
    assert x0 < -0.2 and y0 < -0.2  # the saddle at the origin is not on the edge
    diverging = np.array([0.0, -2.0, 4.0, -8.0, 16.0, -1e3, 1e5, np.inf])
    (x0, x1), _ = panel_window(diverging, diverging, anchors=[np.array([1.0, 1.0])], diverged=True)
    assert x0 < -2.0 and x1 > 4.0 and x1 - x0 < 50.0


SADDLE = """
name = "saddle-picture"
seeds = [0]
steps = 200
[[problems]]
name = "saddle"
dim = 2
[[optimizers]]
name = "sgd"
lr = 0.001
[[optimizers]]
name = "adam"
lr = 0.01
"""


def test_the_saddle_panels_mark_the_saddle_and_draw_contours_around_it(tmp_path):
    data = run_suite(tmp_path, SADDLE)
    fig = trajectories_figure(data, "saddle[dim=2]")
    for ax in panels(fig):
        name = path_of(ax)[0]
        (marker,) = [line for line in ax.get_lines() if line.get_label() == "_saddle"]
        np.testing.assert_array_equal(np.column_stack([marker.get_xdata(), marker.get_ydata()]), [[0.0, 0.0]])
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        assert x0 < 0.0 < x1 and y0 < 0.0 < y1, name
        (contours,) = [c for c in ax.collections if c.get_label() == "_saddle_contours"]
        assert isinstance(contours, LineCollection)
        points = np.vstack(contours.get_segments())
        reach = 0.02 * max(x1 - x0, y1 - y0)
        assert (np.abs(points).max(axis=1) < reach).any(), name  # lines through the saddle
        loss = problems.get("saddle", dim=2).loss
        values = np.array([loss(p) for p in points[:: max(1, len(points) // 400)]])
        assert (values > 1e-4).any() and (values < -1e-4).any(), name  # and on both sides
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "saddle point" in labels


def test_saddle_points_are_checked_not_guessed():
    (origin,) = saddle_points(problems.get("saddle", dim=2))
    np.testing.assert_array_equal(origin, [0.0, 0.0])
    assert saddle_points(problems.get("quadratic", dim=2)) == []
    assert saddle_points(problems.get("rosenbrock", dim=2)) == []
    assert saddle_points(problems.get("saddle", dim=3, n_neg=1)) == []  # not drawn in 2-D


def test_configurations_that_split_the_problems_are_one_method_in_the_profiles():
    import pandas as pd

    from reports.profiles import merged_by_family

    pairs = pd.DataFrame([
        {"optimizer": s.optimizer, "optimizer_label": s.optimizer_label, "problem_label": s.problem_label}
        for s in load_suite("quick").specs
    ]).drop_duplicates()
    merged, labels = merged_by_family(pairs)
    methods = set(merged["optimizer_label"])
    for family in ("sgd", "momentum", "nesterov"):  # a rate for the quadratics, one for the rest
        assert f"{family} (per problem)" in methods
        assert not any(m.startswith(f"{family}[") for m in methods)
        one = merged[merged["optimizer_label"] == f"{family} (per problem)"]
        assert set(one["problem_label"]) == set(pairs["problem_label"])  # every problem, once
        assert not one["problem_label"].duplicated().any()
    # configurations that share a problem stay separate methods (adam's bias_correction)
    assert {"adam[lr=0.01,bias_correction=True]", "adam[lr=0.01,bias_correction=False]"} <= methods
    shared = pd.DataFrame({"optimizer": ["adam", "adam"], "optimizer_label": ["a1", "a2"],
                           "problem_label": ["q", "q"]})
    assert merged_by_family(shared)[1] == []
