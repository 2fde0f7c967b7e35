"""The report's figures read at the page's width: every text at least MIN_FONT_PT once a
figure is shown in the PAGE_WIDTH_IN-wide column, no two texts overlapping, legends
inside the figure and off the panels; and one colour per optimizer family, its
configurations told apart by line style.

Each figure is drawn once (module fixtures) on the small study of
tests/test_reports_data.py and on crowded synthetic tables (45 configurations, of which
the figures draw 16; 24 problems), then measured: the tests check the rule, not a layout.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D

import reports
from optbench import store
from optbench.claims import Budget, Evidence
from reports.claims import arms_figure
from reports.nets import load_ensembles
from reports.style import (
    MIN_FONT_PT,
    PAGE_WIDTH_IN,
    TEXT_PT,
    Palette,
    data_palette,
    families_of,
    legend_size,
    new_figure,
    palette_for,
    smallest_text_pt,
    theme,
)
from tests.test_reports_data import report_results  # noqa: F401  (the fixture)
from tests.test_reports_scale import study_table

# --------------------------------------------------------------------------- smallest_text_pt


def test_smallest_text_pt_scales_a_figure_wider_than_the_page_and_skips_hidden_texts():
    fig = new_figure(25.0, 4.0)
    fig.text(0.5, 0.5, "ten points", fontsize=10)
    fig.text(0.1, 0.1, "hidden", fontsize=4).set_visible(False)
    fig.text(0.1, 0.9, "", fontsize=3)  # empty: nothing to read
    assert smallest_text_pt(fig) == pytest.approx(10 * 12.5 / 25)  # 5.0
    assert smallest_text_pt(fig, page_width_in=25.0) == pytest.approx(10.0)


def test_smallest_text_pt_sees_tick_labels_and_skips_hidden_axes():
    fig = new_figure(6.0, 4.0)
    shown, hidden = fig.subplots(1, 2)
    shown.tick_params(labelsize=7)
    hidden.set_title("tiny", fontsize=2)
    hidden.set_visible(False)
    assert smallest_text_pt(fig) == pytest.approx(7.0)  # the tick labels, drawn first


# --------------------------------------------------------------------------- the figures




@pytest.fixture(scope="module")
def crowd():
    """45 configurations (3 families x 15 rates) on two problems: figures draw 16."""
    return study_table(seeds=2)


@pytest.fixture(scope="module")
def many():
    """24 problems (the most the page draws a family's panels for) x 8 configurations."""
    table = study_table(conditions=tuple(np.geomspace(2.0, 1e4, 24)), seeds=1, steps=6)
    labels = sorted(table["optimizer_label"].unique())
    return table[table["optimizer_label"].isin(labels[::6])]


def longer(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """``table`` with the labels of ``column`` grown by a few parameters."""
    extra = ",weight_decay=0.01,beta2=0.999,eps=1e-08,preprocess=standardize]"
    return table.assign(**{column: table[column].str.replace("]", extra, regex=False)})


def evidence(trace: pd.DataFrame) -> Evidence:
    return Evidence(trace=trace.assign(arm=trace["optimizer"]), runs=pd.DataFrame(), tables={},
                    budget=Budget.default(quick=True))


DRAWS = {  # coarse curves and contour grids where they cost time: the layout is measured
    "convergence rows, 1 problem": lambda d: reports.convergence_figure(
        d.main[d.main["problem"] == "rosenbrock"], n_points=20),
    "convergence rows, 3 problems": lambda d: reports.convergence_figure(
        d.main[d.main["problem"].isin(["quadratic", "saddle"])], n_points=20),
    "convergence rows, crowded": lambda d: reports.convergence_figure(d.crowd, n_points=20),
    "convergence per problem": lambda d: reports.convergence_figure(d.main, "cost", n_points=20),
    "convergence per problem, 24 crowded": lambda d: reports.convergence_figure(
        d.many, "cost", n_points=20),
    "trajectories": lambda d: reports.trajectories_figure(d.main, "saddle[dim=2]", grid_points=30),
    "trajectories, diverged": lambda d: reports.trajectories_figure(
        d.main, "quadratic[dim=2,condition_number=50]", grid_points=30),
    "trajectories, crowded": lambda d: reports.trajectories_figure(
        d.crowd, "quadratic[dim=2,condition_number=10]", grid_points=30),
    "profiles": lambda d: reports.profiles_figure(d.main),
    "profiles, crowded": lambda d: reports.profiles_figure(d.crowd),
    "accuracy": lambda d: reports.accuracy_figure(d.main, n_points=20),
    "update ratio": lambda d: reports.update_ratio_figure(d.main, n_points=20),
    "activation histograms": lambda d: reports.activation_histograms_figure(d.main),
    "ensembles": lambda d: reports.ensembles_figure(load_ensembles(d.results)),
    "sensitivity": lambda d: reports.sensitivity_figure(d.data),
    "schedules": lambda d: reports.schedules_figure(d.main),
    "schedules, crowded": lambda d: reports.schedules_figure(
        d.crowd.assign(lr=d.crowd["lr"] * (1.0 + d.crowd["step"]))),
    "claim arms": lambda d: arms_figure(evidence(d.main[d.main["problem"] == "quadratic"])),
    # labels long enough to wrap panel titles on three lines or more
    "convergence per problem, long titles": lambda d: reports.convergence_figure(
        longer(d.main, "problem_label"), "cost", n_points=20),
    "trajectories, long titles": lambda d: reports.trajectories_figure(
        longer(longer(d.main, "optimizer_label"), "problem_label"),
        longer(d.main, "problem_label")["problem_label"].iloc[0], grid_points=30),
}


class Inputs:
    def __init__(self, data, main, crowd, many, results):
        self.data, self.main, self.crowd, self.many, self.results = data, main, crowd, many, results


@pytest.fixture(scope="module")
def main(report_results):  # noqa: F811
    """Every run of the shared study but its tuning search trials."""
    traces = store.load(report_results)
    return traces[traces["tune.role"] != "search"]


@pytest.fixture(scope="module")
def figures(main, crowd, many, report_results):  # noqa: F811
    """``{name: (figure, smallest_text_pt)}``: each figure drawn (without rendering) once."""
    data = store.load(report_results)
    inputs = Inputs(data, main, crowd, many, report_results)
    drawn = {}
    for name, draw in DRAWS.items():
        fig = draw(inputs)
        assert fig is not None, name
        drawn[name] = (fig, smallest_text_pt(fig))
    return drawn


@pytest.mark.parametrize("name", list(DRAWS))
def test_every_text_reads_at_least_min_font_pt_at_page_width(figures, name):
    fig, smallest = figures[name]
    assert smallest >= MIN_FONT_PT, name
    assert fig.get_figwidth() <= PAGE_WIDTH_IN + 1e-9, name  # never shrunk by the page


def text_boxes(fig) -> list[tuple[str, np.ndarray]]:
    """``(text, [x0, y0, x1, y1])`` in pixels of every visible, non-empty text of the
    figure's visible axes (titles, axis labels, tick labels in view, texts) and of the
    figure (suptitle); legends apart (:func:`legend_boxes`)."""
    renderer = fig.canvas.get_renderer()
    texts = list(fig.texts)  # the suptitle among them
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label,
                  ax.xaxis.offsetText, ax.yaxis.offsetText, *ax.texts,
                  *in_view(ax, ax.get_xticklabels(), 0), *in_view(ax, ax.get_yticklabels(), 1)]
    unique = {id(t): t for t in texts if t.get_visible() and t.get_text()}.values()
    return [(t.get_text(), np.asarray(t.get_window_extent(renderer).extents)) for t in unique]


def in_view(ax, labels, axis: int) -> list:
    """The tick labels drawn: those of ticks within the axes (the locator gives more)."""
    extents = ax.get_window_extent().extents
    lo, hi = extents[axis] - 1, extents[axis + 2] + 1
    transform = ax.get_xaxis_transform() if axis == 0 else ax.get_yaxis_transform()
    position = [transform.transform(label.get_position())[axis] for label in labels]
    return [label for label, p in zip(labels, position) if lo <= p <= hi]


def legend_boxes(fig) -> list[np.ndarray]:
    renderer = fig.canvas.get_renderer()
    return [np.asarray(legend.get_window_extent(renderer).extents) for legend in fig.legends]


def overlapping(a: np.ndarray, b: np.ndarray, slack: float = 1.0) -> bool:
    return bool(min(a[2], b[2]) - max(a[0], b[0]) > slack and min(a[3], b[3]) - max(a[1], b[1]) > slack)


@pytest.mark.parametrize("name", list(DRAWS))
def test_no_text_overlaps_another_or_leaves_the_figure(figures, name):
    fig = figures[name][0]
    boxes = text_boxes(fig)
    legends = legend_boxes(fig)
    frame = np.array([0.0, 0.0, *(fig.get_size_inches() * fig.dpi)])
    for text, box in boxes + [("legend", box) for box in legends]:
        assert (box[:2] >= frame[:2] - 1).all() and (box[2:] <= frame[2:] + 1).all(), (name, text)
    for i, (text, box) in enumerate(boxes):
        for other, other_box in boxes[i + 1:]:
            assert not overlapping(box, other_box), (name, text, other)
        for legend in legends:
            assert not overlapping(box, legend), (name, text, "legend")
    panels = [np.asarray(ax.get_window_extent().extents) for ax in fig.axes if ax.get_visible()]
    for legend in legends:
        assert not any(overlapping(legend, panel) for panel in panels), (name, "legend on a panel")


def test_legend_size_is_an_upper_bound_of_the_drawn_legend():
    texts = ["adam[lr=0.01,average=0.995]", "sgd[lr={schedule=step,lr=0.03,\nfactor=0.5,every=10}]",
             "momentum[lr=0.003,rho=0.9]", "lbfgs", "newton"]
    with theme():
        for ncols in (1, 2, 5):
            fig = new_figure(12.0, 6.0)
            handles = [Line2D([], []) for _ in texts]
            legend = fig.legend(handles, texts, ncols=ncols, title="optimizer", fontsize=TEXT_PT)
            fig.draw_without_rendering()
            box = legend.get_window_extent(fig.canvas.get_renderer())
            width, height = legend_size(texts, ncols, title="optimizer")
            assert box.width / fig.dpi <= width <= 1.3 * box.width / fig.dpi, ncols
            assert box.height / fig.dpi <= height <= 1.3 * box.height / fig.dpi, ncols


# --------------------------------------------------------------------------- families


FAMILIES = {"sgd[lr=0.1]": "sgd", "sgd[lr=1]": "sgd", "sgd[lr=0.01]": "sgd", "adam[lr=0.1]": "adam",
            "lbfgs": "lbfgs"}


def test_labels_of_a_family_share_its_colour_and_differ_in_line_style():
    palette = Palette(FAMILIES, FAMILIES)
    sgd = sorted(label for label, family in FAMILIES.items() if family == "sgd")
    assert len({palette.color(label) for label in sgd}) == 1
    assert [palette.linestyle(label) for label in sgd] == ["-", "--", ":"]  # sorted order
    assert palette.line_kw(sgd[0]) == {"color": palette.color(sgd[0])}  # solid: no linestyle
    assert palette.line_kw(sgd[1])["linestyle"] == "--"
    assert palette.family("sgd[lr=1]") == "sgd"


def test_families_take_the_colours_in_sorted_order():
    import seaborn as sns

    palette = Palette(FAMILIES, FAMILIES)
    base = [tuple(c) for c in sns.color_palette("colorblind", 10)]
    assert palette.color("adam[lr=0.1]") == base[0]  # adam, lbfgs, sgd
    assert palette.color("lbfgs") == base[1]
    assert palette.color("sgd[lr=1]") == base[2]
    assert len({palette.color(label) for label in ("adam[lr=0.1]", "lbfgs", "sgd[lr=1]")}) == 3


def test_a_family_beyond_its_four_line_styles_adds_markers():
    labels = {f"sgd[lr={k}]": "sgd" for k in range(9)}
    palette = Palette(labels, labels)
    looks = {(palette.color(label), palette.linestyle(label), palette.marker(label)) for label in labels}
    assert len(looks) == 9
    ordered = sorted(labels)
    assert palette.marker(ordered[3]) is None and palette.marker(ordered[4]) is not None
    # without line styles (a figure that uses them for something else), markers tell them apart
    unstyled = {(kw["color"], kw.get("marker"), kw.get("linestyle"))
                for kw in (palette.line_kw(label, linestyle=False) for label in labels)}
    assert len(unstyled) == 9 and all(style is None for _, _, style in unstyled)


def test_more_than_ten_families_repeat_colours_with_markers():
    families = {f"opt{k:02d}[lr=1]": f"opt{k:02d}" for k in range(12)}
    families["opt00[lr=2]"] = "opt00"
    families["opt10[lr=2]"] = "opt10"
    palette = Palette(families, families)
    looks = {(palette.color(label), palette.linestyle(label), palette.marker(label)) for label in families}
    assert len(looks) == len(families)
    assert palette.color("opt10[lr=1]") == palette.color("opt00[lr=1]")
    assert palette.marker("opt10[lr=1]") is not None and palette.marker("opt00[lr=1]") is None


def test_extended_keeps_colours_and_styles_and_places_new_labels():
    palette = Palette(FAMILIES, FAMILIES)
    wider = palette.extended(["sgd[lr=5]", "nadam[lr=1]", "lbfgs"],
                             {"sgd[lr=5]": "sgd", "nadam[lr=1]": "nadam"})
    for label in FAMILIES:
        assert wider.color(label) == palette.color(label)
        assert wider.linestyle(label) == palette.linestyle(label)
        assert wider.marker(label) == palette.marker(label)
    assert wider.color("sgd[lr=5]") == palette.color("sgd[lr=1]")
    assert wider.linestyle("sgd[lr=5]") == "-."  # the fourth sgd label
    assert wider.color("nadam[lr=1]") not in {palette.color(label) for label in FAMILIES}
    assert palette.extended(["lbfgs"]) is palette
    assert "sgd[lr=5]" not in palette and "sgd[lr=5]" in wider


def test_without_families_each_label_is_its_own_family_as_before():
    labels = [f"sgd[lr={k}]" for k in range(12)]
    plain, mapped = Palette(labels), Palette(labels, {label: label for label in labels})
    for label in labels:
        assert plain.linestyle(label) == "-" and "linestyle" not in plain.line_kw(label)
        assert (plain.color(label), plain.marker(label)) == (mapped.color(label), mapped.marker(label))
    assert len({plain.color(label) for label in labels}) == 10
    wider = plain.extended(["zeta"])
    assert wider.color("zeta") == plain.color(sorted(labels)[2])  # the 13th label, colour 3
    assert palette_for(["a"], None).color("a") == Palette(["a"]).color("a")


def test_figures_draw_a_family_in_one_colour_with_its_line_styles(main):
    quadratic = main[main["problem_label"] == "quadratic[dim=2,condition_number=50]"]
    families = families_of(quadratic)
    assert families["sgd[lr=0.03]"] == "sgd"
    fig = reports.convergence_figure(quadratic, "step")
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()
             if not line.get_label().startswith("_")}
    sgd = sorted(label for label in lines if families[label] == "sgd")
    assert len(sgd) >= 2
    assert len({to_rgb(lines[label].get_color()) for label in sgd}) == 1
    assert len({lines[label].get_linestyle() for label in sgd}) == len(sgd)
    assert to_rgb(lines["adam[lr=0.1]"].get_color()) != to_rgb(lines[sgd[0]].get_color())
    (legend,) = fig.legends  # the legend shows the same line styles
    styles = {text.get_text(): handle.get_linestyle()
              for text, handle in zip(legend.get_texts(), legend.legend_handles)}
    assert styles[sgd[1]] == lines[sgd[1]].get_linestyle()


def test_claim_arms_have_a_colour_each_even_of_one_optimizer(main):
    sgd = main[(main["optimizer"] == "sgd") & (main["problem"] == "quadratic")]
    trace = sgd.assign(arm=sgd["optimizer_label"])
    assert trace["arm"].nunique() >= 3
    fig = arms_figure(Evidence(trace=trace, runs=pd.DataFrame(), tables={},
                               budget=Budget.default(quick=True)))
    colours = {line.get_label(): to_rgb(line.get_color()) for ax in fig.axes for line in ax.get_lines()
               if not line.get_label().startswith("_")}
    assert len(colours) == trace["arm"].nunique() == len(set(colours.values()))


def test_data_palette_reads_the_families_only_for_labels_it_lacks(main):
    class Unreadable:
        @property
        def columns(self):
            raise AssertionError("read the table although the palette knows every label")

    page = Palette(["sgd[lr=0.03]", "adam[lr=0.1]"])
    assert data_palette(["sgd[lr=0.03]"], page, Unreadable()) is page
    quadratic = main[main["problem"] == "quadratic"]
    own = data_palette(quadratic["optimizer_label"].unique(), None, quadratic)
    assert own.family("sgd[lr=0.03]") == "sgd" and own.family("lbfgs") == "lbfgs"
    wider = data_palette(["sgd[lr=0.05]"], Palette(["sgd[lr=0.03]"], {"sgd[lr=0.03]": "sgd"}), quadratic)
    assert wider.color("sgd[lr=0.05]") == wider.color("sgd[lr=0.03]")
