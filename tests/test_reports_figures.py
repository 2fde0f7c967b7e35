"""The report's figures: one panel per problem, one line per optimizer, the same colour
for a label in every figure, None without data, and no trouble with diverged runs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import seaborn as sns
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

import reports
from optbench import store
from reports.html import render_png
from reports.nets import UPDATE_RATIO_REFERENCE, load_ensembles
from reports.sensitivity import search_rows
from reports.trajectories import params_from_columns
from tests.test_reports_data import (
    CHOSEN_SGD_LR,
    DIVERGING,
    MOMENTUM_GRID,
    SCHEDULED,
    report_results,  # noqa: F401  (the fixture)
)


@pytest.fixture(scope="module")
def data(report_results):  # noqa: F811
    return store.load(report_results)


@pytest.fixture(scope="module")
def main(data):
    """Every run but the tuning search trials, as the report draws them."""
    return data[data["tune.role"] != "search"]


def named_lines(ax):
    """The lines of an axes that carry an optimizer label (not the _helpers)."""
    return {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def no_runtime_warnings(draw):
    """Draw and render a figure with numpy's runtime warnings (inf - inf...) as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fig = draw()
        assert isinstance(fig, Figure)
        assert render_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
    return fig


# --------------------------------------------------------------------------- palette


def test_palette_maps_sorted_labels_to_colorblind_colours_whatever_the_order():
    labels = ["sgd[lr=0.1]", "adam", "momentum[lr=0.01,rho=0.9]"]
    a, b = reports.Palette(labels), reports.Palette(reversed(labels))
    base = sns.color_palette("colorblind", 10)
    for label in labels:
        assert a.color(label) == b.color(label)
    assert a.color("adam") == tuple(base[0])  # sorted: adam, momentum..., sgd...
    assert a.color("sgd[lr=0.1]") == tuple(base[2])
    assert a.marker("adam") is None


def test_palette_tells_apart_more_labels_than_colours_with_markers():
    labels = [f"sgd[lr={k}]" for k in range(12)]
    palette = reports.Palette(labels)
    looks = {(palette.color(label), palette.marker(label)) for label in labels}
    assert len(looks) == 12
    assert palette.marker(sorted(labels)[10]) is not None


def test_a_label_has_the_same_colour_in_every_figure(main):
    from reports.profiles import merged_by_family

    # the page's palette knows every label a figure draws (profiles merge configurations
    # chosen per problem into one method: reports.html does the same)
    palette = reports.Palette({*main["optimizer_label"], *merged_by_family(main)[0]["optimizer_label"]})
    quadratic = main[main["problem"] == "quadratic"]
    convergence = reports.convergence_figure(quadratic, palette=palette)
    profiles = reports.profiles_figure(main, palette=palette)
    trajectories = reports.trajectories_figure(main, "saddle[dim=2]", palette=palette)
    seen: dict[str, set] = {}
    for fig in (convergence, profiles, trajectories):
        for ax in visible_axes(fig):
            for label, line in named_lines(ax).items():
                seen.setdefault(label, set()).add(to_rgb(line.get_color()))
    assert "lbfgs" in seen and "sgd[lr=0.03]" in seen
    for label, colours in seen.items():
        assert colours == {to_rgb(palette.color(label))}, label
    # figures that build their own palette agree too when they see the same labels
    own: dict[str, set] = {}
    for fig in (reports.convergence_figure(quadratic), reports.profiles_figure(quadratic)):
        for ax in visible_axes(fig):
            for label, line in named_lines(ax).items():
                own.setdefault(label, set()).add(to_rgb(line.get_color()))
    assert set(own) == set(quadratic["optimizer_label"])
    assert all(len(colours) == 1 for colours in own.values())


# --------------------------------------------------------------------------- convergence


def test_convergence_has_a_row_per_problem_and_a_line_per_optimizer(main):
    quadratic = main[main["problem"] == "quadratic"]
    fig = no_runtime_warnings(lambda: reports.convergence_figure(quadratic))
    problems = sorted(quadratic["problem_label"].unique())
    axes = visible_axes(fig)
    assert len(axes) == 3 * len(problems)  # steps, cost, seconds
    for r, problem in enumerate(problems):
        labels = set(quadratic.loc[quadratic["problem_label"] == problem, "optimizer_label"])
        for ax in axes[3 * r:3 * r + 3]:
            assert set(named_lines(ax)) == labels
            assert ax.get_yscale() == "log"  # subopt: f_star is known
        assert axes[3 * r].get_xscale() == "linear"  # steps
        assert axes[3 * r + 1].get_xscale() == "log"  # cost


def test_convergence_with_one_abscissa_has_one_panel_per_problem(main):
    fig = reports.convergence_figure(main, "step")
    assert len(visible_axes(fig)) == main["problem_label"].nunique()
    net = next(ax for ax in visible_axes(fig) if ax.get_title(loc="left").startswith("mlp"))
    assert "loss" in net.get_ylabel()  # f_star unknown for nets


def test_convergence_marks_a_diverged_run_and_draws_inf_without_warnings(main):
    rows = main[main["problem_label"] == "quadratic[dim=2,condition_number=50]"]
    assert (rows.loc[rows["optimizer_label"] == DIVERGING, "status"] == "diverged").all()
    fig = no_runtime_warnings(lambda: reports.convergence_figure(rows))
    first = visible_axes(fig)[0]
    markers = [line for line in first.get_lines() if line.get_label() == "_diverged"]
    assert len(markers) == 1
    assert any("diverged" in text.get_text() for text in first.texts)


def test_convergence_survives_non_finite_losses(main):
    rows = main[main["optimizer_label"] == DIVERGING].copy()
    last = rows.groupby("run_id").tail(1).index
    rows.loc[last, ["loss", "subopt", "grad_norm"]] = [np.nan, np.inf, np.nan]
    fig = no_runtime_warnings(lambda: reports.convergence_figure(rows))
    assert len(visible_axes(fig)) == 3


# --------------------------------------------------------------------------- trajectories


def test_trajectory_problems_are_the_2d_ones(main):
    assert reports.trajectory_problems(main) == [
        "quadratic[dim=2,condition_number=50,noise=0.5]",
        "quadratic[dim=2,condition_number=50]",
        "rosenbrock[dim=2]",
        "saddle[dim=2]",
    ]


def test_trajectories_have_a_panel_per_optimizer_over_a_contour_map(main):
    label = "quadratic[dim=2,condition_number=50]"
    fig = no_runtime_warnings(lambda: reports.trajectories_figure(main, label))
    labels = sorted(main.loc[main["problem_label"] == label, "optimizer_label"].unique())
    axes = visible_axes(fig)
    assert len(axes) == len(labels)
    for ax, expected in zip(axes, labels):
        assert list(named_lines(ax)) == [expected]
        assert ax.collections, "no contour lines"
    diverged = axes[labels.index(DIVERGING)]
    assert any("diverged" in t.get_text() for t in diverged.texts)
    # one seed: the path of sgd is that of seed 0
    path = named_lines(axes[labels.index("sgd[lr=0.03]")])["sgd[lr=0.03]"]
    run = main[(main["problem_label"] == label) & (main["optimizer_label"] == "sgd[lr=0.03]")
               & (main["seed"] == 0)]
    np.testing.assert_array_equal(path.get_xdata(), run["x_0"].to_numpy())


def test_problem_params_read_back_from_columns_rebuild_the_problem(main):
    rows = main[main["problem_label"] == "quadratic[dim=2,condition_number=50,noise=0.5]"]
    params = params_from_columns(rows)
    assert params["dim"] == 2 and isinstance(params["dim"], int)
    assert params["noise"] == 0.5 and params["condition_number"] == 50
    import problems

    assert problems.get("quadratic", **params).dim == 2


def test_trajectories_are_none_without_2d_iterates(main):
    logistic = main[main["problem"] == "logistic"]
    assert reports.trajectories_figure(logistic) is None
    assert reports.trajectories_figure(main, "no such problem") is None
    assert reports.trajectory_problems(logistic) == []


# --------------------------------------------------------------------------- profiles, ranking


def test_profiles_have_two_panels_with_a_line_per_optimizer(main):
    from reports.profiles import merged_by_family

    fig = no_runtime_warnings(lambda: reports.profiles_figure(main))
    perf, dprof = visible_axes(fig)
    # the tuned momentum runs: a configuration chosen per problem is one method, "momentum"
    merged, split = merged_by_family(main)
    assert "momentum (per problem)" in set(merged["optimizer_label"]) and len(split) > 1
    labels = set(merged["optimizer_label"])
    assert set(named_lines(perf)) == labels and set(named_lines(dprof)) == labels
    assert perf.get_xscale() == "log" and dprof.get_xscale() == "log"
    for ax in (perf, dprof):
        for line in named_lines(ax).values():
            y = np.asarray(line.get_ydata(), dtype=float)
            assert ((0 <= y) & (y <= 1)).all()


def test_ranking_table_ranks_each_problem_and_puts_divergence_last(main):
    table = reports.ranking_table(main, target=1e-6)
    quad = table[table["problem_label"] == "quadratic[dim=2,condition_number=50]"]
    assert quad["rank"].min() == 1
    assert quad.iloc[0]["optimizer"] == "newton"  # one Newton step solves a quadratic
    assert quad.iloc[0]["success"] == "2/2" and quad.iloc[0]["cost_to_target"] > 0
    last = quad.iloc[-1]
    assert last["optimizer"] == DIVERGING and np.isinf(last["median"]) and last["diverged"] == 2
    net = table[table["problem_label"].str.startswith("mlp[dataset=spiral,hidden=[8],activation")]
    assert (net["measure"] == "loss").all() and (net["reference"] == "best found").all()


# --------------------------------------------------------------------------- sensitivity


def test_sensitivity_table_finds_the_chosen_rate_and_flags_range_edges(data):
    table = reports.sensitivity_table(data)
    sgd = table[table["optimizer"] == "sgd"]
    momentum = table[table["optimizer"] == "momentum"]
    assert len(sgd) == 4 and len(momentum) == len(MOMENTUM_GRID)
    chosen = sgd[sgd["chosen"]]
    assert chosen["value"].tolist() == [CHOSEN_SGD_LR]  # the evaluation runs' rate
    assert chosen["at_edge"].tolist() == [""]
    assert chosen["color_key"].tolist() == [f"sgd[lr={CHOSEN_SGD_LR:g}]"]
    assert np.isinf(sgd.loc[sgd["value"] == 0.05, "median"]).all()  # diverged trial
    best = momentum[momentum["chosen"]]  # no evaluation runs: the best trial
    assert best["value"].tolist() == [max(MOMENTUM_GRID)] and best["at_edge"].tolist() == ["largest"]


def test_sensitivity_figure_has_a_panel_per_tuned_optimizer_on_a_log_axis(data):
    fig = no_runtime_warnings(lambda: reports.sensitivity_figure(data))
    axes = visible_axes(fig)
    assert len(axes) == 2
    for ax in axes:
        assert ax.get_xscale() == "log"
        assert [line for line in ax.get_lines() if line.get_label() == "_chosen"]
    momentum = next(ax for ax in axes if ax.get_title(loc="left").startswith("momentum"))
    assert any("largest value tried" in t.get_text() for t in momentum.texts)
    sgd = next(ax for ax in axes if ax.get_title(loc="left").startswith("sgd"))
    assert [line for line in sgd.get_lines() if line.get_label() == "_diverged"]


def test_sensitivity_reads_only_the_tag_and_parameter_columns(data):
    search = search_rows(data)
    bare = search[[c for c in search.columns if not c.startswith("tune.") or c == "tune.role"]]
    table = reports.sensitivity_table(bare)
    assert len(table) == 7 and table["chosen"].sum() == 2  # best trial of each optimizer
    assert reports.sensitivity_figure(data, param="beta1") is None


# --------------------------------------------------------------------------- nets


def test_accuracy_figure_has_train_and_validation_lines_per_optimizer(main):
    fig = no_runtime_warnings(lambda: reports.accuracy_figure(main))
    nets = main[main["problem"] == "mlp"]
    axes = visible_axes(fig)
    assert len(axes) == nets["problem_label"].nunique()
    for ax in axes:
        problem = next(p for p in nets["problem_label"].unique()
                       if ax.get_title(loc="left").replace("\n", "") == p)
        labels = set(nets.loc[nets["problem_label"] == problem, "optimizer_label"])
        assert set(named_lines(ax)) == labels
        val = [line for line in ax.get_lines() if line.get_label().startswith("_val ")]
        assert len(val) == len(labels) and all(line.get_linestyle() == "--" for line in val)


def test_update_ratio_figure_has_the_reference_line_on_a_log_axis(main):
    fig = no_runtime_warnings(lambda: reports.update_ratio_figure(main))
    for ax in visible_axes(fig):
        assert ax.get_yscale() == "log"
        ref = [line for line in ax.get_lines() if line.get_label() == "_reference"]
        assert ref and np.allclose(ref[0].get_ydata(), UPDATE_RATIO_REFERENCE)
        assert "lbfgs" not in named_lines(ax)  # scipy's L-BFGS records no update ratio


def test_activation_histograms_show_each_init_and_vanish_with_small_weights(main):
    fig = no_runtime_warnings(lambda: reports.activation_histograms_figure(main))
    axes = visible_axes(fig)
    assert [ax.get_title(loc="left") for ax in axes] == [
        "init=small", "init=large", "init=xavier", "init=he"]
    stds = [float(t.get_text()) for t in axes[0].texts]
    assert len(stds) == 8 and stds[-1] < 1e-3 * stds[0]  # activations collapse layer by layer
    assert reports.activation_histograms_figure(main[main["problem"] != "mlp"]) is None


def test_ensembles_figure_has_two_panels_per_table(report_results):  # noqa: F811
    tables = load_ensembles(report_results)
    assert {"model", "kind", "val_acc", "val_loss", "table"} <= set(tables.columns)
    fig = no_runtime_warnings(lambda: reports.ensembles_figure(tables))
    axes = visible_axes(fig)
    assert len(axes) == 2 * tables["table"].nunique()
    assert len(axes[0].patches) == len(tables)


# --------------------------------------------------------------------------- schedules


def test_schedules_draw_only_runs_whose_rate_changes(main):
    fig = no_runtime_warnings(lambda: reports.schedules_figure(main))
    (ax,) = visible_axes(fig)
    lines = named_lines(ax)
    assert SCHEDULED in lines
    assert not any(label.startswith("sgd[lr=0.03]") for label in lines)
    assert all("schedule" in label for label in lines)  # the warm restarts of the ensembles
    assert ax.get_yscale() == "log"
    y = lines[SCHEDULED].get_ydata()
    assert max(y) == pytest.approx(0.03) and min(y) == pytest.approx(0.03 / 8)


# --------------------------------------------------------------------------- no data


def test_every_figure_is_none_without_data(tmp_path):
    empty = store.load(tmp_path)
    assert empty.empty
    for draw in (reports.convergence_figure, reports.profiles_figure, reports.trajectories_figure,
                 reports.sensitivity_figure, reports.accuracy_figure, reports.update_ratio_figure,
                 reports.schedules_figure, reports.activation_histograms_figure):
        assert draw(empty) is None, draw.__name__
    assert reports.ensembles_figure(pd.DataFrame()) is None
    assert reports.ranking_table(empty).empty and reports.sensitivity_table(empty).empty
