"""The report's default view: each optimizer's best configuration per problem, chosen
on seeds it is not shown on (or by a tuning study), one label per optimizer, the
oracle named where a problem is stochastic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports.views import FULL_BATCH, default_view, oracle_label


def runs(problem: str, optimizer: str, label: str, seeds, finals, *, status="max_steps",
         oracle=FULL_BATCH, role=None, avg=None) -> list[dict]:
    """Trace rows of one configuration: per seed two records, the last one's subopt
    ``finals[seed]``."""
    rows = []
    for seed in seeds:
        run_id = f"{problem}-{label}-{seed}"
        for step, subopt in ((0, 1.0), (10, finals[seed])):
            row = {"run_id": run_id, "problem": problem.split("[")[0], "problem_label": problem,
                   "optimizer": optimizer, "optimizer_label": label, "seed": seed,
                   "status": status, "step": step, "loss": subopt + 0.5, "subopt": subopt,
                   "time": 0.1 * step, "cost": float(step), "oracle": oracle}
            if role is not None:
                row["tune.role"] = role
            if avg is not None:
                row["avg_loss"] = (avg[seed] + 0.5) if step else 1.5
            rows.append(row)
    return rows


def table(*groups: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([row for group in groups for row in group])


SEEDS = (0, 1, 2, 3)
# lr=0.1 wins on seeds 0-1 (the choosing half), lr=0.01 on seeds 2-3 (the shown half)
LUCKY = {0: 1e-8, 1: 1e-8, 2: 1e-2, 3: 1e-2}
STEADY = {0: 1e-4, 1: 1e-4, 2: 1e-4, 3: 1e-4}
WORSE = {s: 1e-1 for s in SEEDS}


def grid() -> pd.DataFrame:
    return table(runs("q", "sgd", "sgd[lr=0.1]", SEEDS, LUCKY),
                 runs("q", "sgd", "sgd[lr=0.01]", SEEDS, STEADY),
                 runs("q", "sgd", "sgd[lr=1]", SEEDS, WORSE),
                 runs("q", "adam", "adam", SEEDS, STEADY))


def test_the_choice_is_made_on_the_first_half_of_the_seeds_and_shown_on_the_rest():
    view = default_view(grid())
    choice = view.choice.set_index("optimizer")
    assert choice.loc["sgd", "configuration"] == "sgd[lr=0.1]"  # best on seeds 0-1
    assert choice.loc["sgd", "how"] == "held-out seeds"
    assert choice.loc["sgd", "configurations"] == 3
    assert choice.loc["sgd", "choosing_seeds"] == (0, 1)
    assert choice.loc["sgd", "shown_seeds"] == (2, 3)
    assert choice.loc["adam", "how"] == "only one"
    # every optimizer on the problem is shown on the same seeds, the others dropped
    assert set(view.data["seed"]) == {2, 3}
    assert set(view.data["optimizer_label"]) == {"sgd", "adam"}
    assert set(view.data["configuration"]) == {"sgd[lr=0.1]", "adam"}
    assert view.dropped
    # on the shown seeds the chosen configuration is judged honestly: worse than adam
    last = view.data.groupby("optimizer_label")["subopt"].last()
    assert last["sgd"] > last["adam"]


def test_a_diverged_configuration_is_never_the_best():
    data = table(runs("q", "sgd", "sgd[lr=10]", SEEDS, {s: 0.0 for s in SEEDS}, status="diverged"),
                 runs("q", "sgd", "sgd[lr=0.01]", SEEDS, STEADY))
    choice = default_view(data).choice
    assert choice["configuration"].tolist() == ["sgd[lr=0.01]"]


def test_an_averaged_run_is_chosen_by_its_averaged_iterate():
    good_avg = {s: 1e-9 for s in SEEDS}
    data = table(runs("q", "sgd", "sgd[average=0.9]", SEEDS, WORSE, avg=good_avg),
                 runs("q", "sgd", "sgd[lr=0.01]", SEEDS, STEADY, avg={s: np.nan for s in SEEDS}))
    assert default_view(data).choice["configuration"].tolist() == ["sgd[average=0.9]"]


def test_a_tuning_study_s_choice_wins_and_all_its_seeds_are_shown():
    data = table(runs("q", "sgd", "sgd[lr=0.5]", SEEDS, STEADY, role="eval"),
                 runs("q", "sgd", "sgd[lr=0.1]", SEEDS, LUCKY, role="grid"))
    view = default_view(data)
    (row,) = view.choice.itertuples()
    assert (row.configuration, row.how) == ("sgd[lr=0.5]", "tuned")
    assert set(view.data["configuration"]) == {"sgd[lr=0.5]"}


def test_one_seed_chooses_and_shows_on_the_same_seed_and_says_so():
    data = table(runs("q", "sgd", "sgd[lr=0.1]", (0,), LUCKY),
                 runs("q", "sgd", "sgd[lr=0.01]", (0,), STEADY))
    view = default_view(data)
    (row,) = view.choice.itertuples()
    assert (row.configuration, row.how, row.shown_seeds) == ("sgd[lr=0.1]", "same seed", (0,))


def test_one_configuration_per_optimizer_keeps_every_run():
    data = table(runs("q", "sgd", "sgd[lr=0.1]", SEEDS, LUCKY),
                 runs("q", "adam", "adam[lr=0.01]", SEEDS, STEADY))
    view = default_view(data)
    assert len(view.data) == len(data) and not view.dropped
    assert set(view.choice["how"]) == {"only one"}
    assert sorted(view.data["optimizer_label"].unique()) == ["adam", "sgd"]


def test_problems_choose_on_their_own():
    data = pd.concat([grid(), table(runs("r", "sgd", "sgd[lr=0.1]", SEEDS, WORSE),
                                    runs("r", "sgd", "sgd[lr=0.01]", SEEDS, STEADY))])
    choice = default_view(data).choice.set_index(["problem", "optimizer"])["configuration"]
    assert choice[("q", "sgd")] == "sgd[lr=0.1]" and choice[("r", "sgd")] == "sgd[lr=0.01]"


def test_on_a_stochastic_problem_each_label_names_its_oracle():
    data = table(runs("noisy", "sgd", "sgd[lr=0.1]", SEEDS, STEADY, oracle="noisy"),
                 runs("noisy", "lbfgs", "lbfgs", SEEDS, {s: 1e-20 for s in SEEDS}),
                 runs("exact", "sgd", "sgd[lr=0.1]", SEEDS, STEADY))
    view = default_view(data)
    labels = set(zip(view.data["problem_label"], view.data["optimizer_label"]))
    assert labels == {("noisy", "sgd (noisy)"), ("noisy", "lbfgs (full batch)"), ("exact", "sgd")}


@pytest.mark.parametrize(("family", "oracle", "stochastic", "label"), [
    ("sgd", "minibatch", True, "sgd (minibatch)"),
    ("lbfgs", FULL_BATCH, True, "lbfgs (full batch)"),
    ("sgd", FULL_BATCH, False, "sgd"),
    ("sgd", None, True, "sgd"),
    ("sgd", float("nan"), True, "sgd"),
])
def test_oracle_label(family, oracle, stochastic, label):
    assert oracle_label(family, oracle, stochastic) == label


def test_an_empty_table_has_an_empty_view():
    empty = grid().iloc[:0]
    view = default_view(empty)
    assert view.data.empty and view.choice.empty and not view.dropped


# --------------------------------------------------------------------------- in the report

from optbench import load  # noqa: E402
from optbench.spec import RunSpec  # noqa: E402
from optbench.study import run_study  # noqa: E402
from reports import build_report, format_summary, summary_table  # noqa: E402
from reports.figure_files import FigureFolder  # noqa: E402
from tests.test_report_figure_files import Figures  # noqa: E402
from tests.test_summary_numbers import _stdout_rows, _Tables  # noqa: E402

QUADRATIC = {"dim": 5, "condition_number": 10.0}
LOGISTIC = {"n_samples": 64, "n_features": 3, "batch_size": 16}


@pytest.fixture(scope="module")
def grid_study(tmp_path_factory):
    """A learning-rate grid of SGD beside Adam on a quadratic, SGD (minibatch) beside
    L-BFGS (full batch) on logistic regression; four seeds."""
    where = tmp_path_factory.mktemp("grid")
    specs = [RunSpec(problem="quadratic", problem_params=QUADRATIC, optimizer=name,
                     optimizer_params=params, seed=seed, steps=30, record_every=10)
             for seed in range(4)
             for name, params in [("sgd", {"lr": 0.01}), ("sgd", {"lr": 0.05}), ("sgd", {"lr": 0.1}),
                                  ("adam", {"lr": 0.05})]]
    specs += [RunSpec(problem="logistic", problem_params=LOGISTIC, optimizer=name,
                      optimizer_params=params, seed=seed, steps=30, record_every=10)
              for seed in range(4) for name, params in [("sgd", {"lr": 0.5}), ("lbfgs", {})]]
    run_study(specs, where)
    page = build_report(where)
    return where, page.read_text(encoding="utf-8")


def _figure(raw: str, alt: str) -> dict:
    (figure,) = [f for f in Figures(raw).figures if f["img"]["alt"] == alt]
    return figure


def test_figures_draw_the_view_and_link_the_whole_grid(grid_study, tmp_path, monkeypatch):
    where, raw = grid_study
    figure = _figure(raw, "convergence on quadratic")
    png, _, svg, grid_png = figure["links"]  # the linked grid is a PNG alone
    assert grid_png.endswith("-convergence-on-quadratic-all.png") and (where / grid_png).is_file()
    assert "All 4 configurations, all seeds" in raw
    shown = (where / svg).read_text()  # the legend's text: one entry per optimizer
    assert ">sgd<" in shown and ">adam<" in shown and "lr=0.05" not in shown
    assert "over seeds 0–1, drawn on seeds 2–3 only" in raw
    # what the linked figure draws: every configuration
    linked = {}
    original = FigureFolder.link

    def link(self, draw, alt):
        fig = draw()
        linked[alt] = {t.get_text() for legend in fig.legends for t in legend.get_texts()}
        return original(self, lambda: fig, alt)

    monkeypatch.setattr(FigureFolder, "link", link)
    build_report(where, tmp_path / "again.html")
    assert {"sgd[lr=0.05]", "sgd[lr=0.01]", "sgd[lr=0.1]"} <= linked["convergence on quadratic all"]


def test_rankings_name_the_configuration_and_fold_the_grid_with_stdout_s_numbers(grid_study):
    where, raw = grid_study
    label = "quadratic[dim=5,condition_number=10]"
    header, *rows = _Tables(raw).tables[label]
    view = [r for r in rows if r != header and len(r) == len(header)][:2]
    assert [r[header.index("optimizer")] for r in view] in (["adam", "sgd"], ["sgd", "adam"])
    chosen = default_view(load(where)).choice.set_index(["problem", "optimizer"])
    sgd_row = next(r for r in view if r[header.index("optimizer")] == "sgd")
    assert sgd_row[header.index("configuration")] == chosen.loc[(label, "sgd"), "configuration"]
    assert "Every configuration on all seeds (4 configurations" in raw
    # the folded table holds every configuration with the numbers optbench run prints
    stdout = _stdout_rows(format_summary(summary_table(load(where))))
    folded = rows[rows.index(next(r for r in rows if r[0] == "rank" and r is not header)):]
    fheader, *frows = folded
    compared = 0
    for (problem, optimizer), cells in stdout.items():
        if problem != label:
            continue
        (row,) = [r for r in frows if r[fheader.index("optimizer")] == optimizer]
        final = next(h for h in cells if h.startswith("median final"))
        assert row[fheader.index("median final suboptimality")].replace("\N{EN DASH}", "-") == cells[final]
        compared += 1
    assert compared == 4


def test_profiles_keep_full_batch_and_stochastic_methods_apart(grid_study):
    where, raw = grid_study
    exact = _figure(raw, "performance and data profiles full batch")
    noisy = _figure(raw, "performance and data profiles stochastic")
    exact_text = (where / exact["links"][2]).read_text()
    noisy_text = (where / noisy["links"][2]).read_text()
    assert "lbfgs (full batch)" in exact_text and "sgd (minibatch)" not in exact_text
    assert "sgd (minibatch)" in noisy_text and "lbfgs" not in noisy_text
    logistic = (where / _figure(raw, "convergence on logistic")["links"][2]).read_text()
    assert "sgd (minibatch)" in logistic and "lbfgs (full batch)" in logistic


def test_one_colour_per_optimizer_across_the_page(grid_study):
    from reports.family_sections import page_palette
    from reports.sensitivity import sensitivity_table

    data = load(grid_study[0])
    view = default_view(data)
    palette = page_palette(data, view, sensitivity_table(data, "lr"))
    sgd = {palette.color(label) for label in ("sgd", "sgd (minibatch)", "sgd[lr=0.01]", "sgd[lr=0.1]")}
    assert len(sgd) == 1 and palette.color("adam") not in sgd
    assert palette.linestyle("sgd[lr=0.01]") != palette.linestyle("sgd[lr=0.1]")
