"""The report of a large study stays readable: figures cap what they draw and say so,
long lists of runs are summed up per configuration, long tables fold their tail.

The study is synthetic, a long table shaped like ``optbench.load()`` built here with
numpy (no run is made): 2-D quadratics x (sgd, momentum, adam) x 15 learning rates x
seeds, the largest rates diverging.  No test here measures time (shared, noisy
machines); the limits they check are what keeps the report's time bounded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import reports
import reports.convergence
import reports.html
import reports.trajectories
from reports.results import Results
from reports.schedules import scheduled_runs
from reports.trajectories import drawn_runs
from tests.test_reports_html import Page

FAMILIES = ("sgd", "momentum", "adam")
RATES = np.geomspace(1e-3, 1.0, 15)
#: Rates at or above this diverge (the top 5 of 15).
DIVERGE_FROM = RATES[10]


def study_table(conditions=(10.0, 1000.0), seeds=4, steps=10) -> pd.DataFrame:
    """A long table like optbench.load(): one row per step of every run."""
    runs = pd.DataFrame(
        [(c, fam, lr, s) for c in conditions for fam in FAMILIES for lr in RATES
         for s in range(seeds)], columns=["c", "optimizer", "lr", "seed"])
    n = steps + 1
    k = np.tile(np.arange(n), len(runs))
    per_row = runs.loc[np.repeat(runs.index, n)].reset_index(drop=True)
    position = np.log(per_row["lr"] / RATES[0]) / np.log(RATES[-1] / RATES[0])  # 0 .. 1
    shift = {"sgd": 0.0, "momentum": -0.1, "adam": -0.2}
    q = 0.3 + 0.6 * position + per_row["optimizer"].map(shift) + 0.01 * per_row["seed"]
    diverging = (per_row["lr"] >= DIVERGE_FROM).to_numpy()
    q = np.where(diverging, 3.0, np.clip(q, 0.05, 0.99))
    loss = per_row["c"] * q ** (2 * k)
    loss = np.where(diverging & (k == steps), np.inf, loss)
    labels = [f"{o}[lr={lr:.3g}]" for o, lr in zip(per_row["optimizer"], per_row["lr"])]
    return pd.DataFrame({
        "step": k, "loss": loss, "subopt": loss, "grad_norm": np.sqrt(loss),
        "n_loss": 0, "n_grad": k, "n_hess": 0, "n_hvp": 0, "time": 1e-5 * k,
        "lr": per_row["lr"], "x_0": -np.cos(k) * q ** k, "x_1": 0.5 * np.sin(k) * q ** k,
        "cost": k.astype(float),
        "run_id": [f"r{i:05d}" for i in np.repeat(runs.index, n)],
        "problem": "quadratic", "optimizer": per_row["optimizer"], "seed": per_row["seed"],
        "status": np.where(diverging, "diverged", "max_steps"),
        "problem_label": [f"quadratic[dim=2,condition_number={c:g}]" for c in per_row["c"]],
        "optimizer_label": labels, "state_bytes": 16,
        "problem.dim": 2, "problem.condition_number": per_row["c"], "optimizer.lr": per_row["lr"],
    })


@pytest.fixture(scope="module")
def study() -> pd.DataFrame:
    return study_table()


@pytest.fixture(scope="module")
def page(study):
    raw = reports.render_report(study, title="scale", command="optbench report DIR")
    return raw, Page(raw)


def named_lines(ax) -> list[str]:
    return [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]


def between(raw: str, start: str, end: str) -> str:
    i = raw.index(start)
    return raw[i:raw.index(end, i)]


def body_rows(html: str) -> int:
    """Table rows of ``html`` that are not header rows."""
    return html.count("<tr>") - html.count("<thead><tr>")


# --------------------------------------------------------------------------- figures


def test_convergence_draws_at_most_max_curves_and_says_so(study):
    limit = reports.convergence.MAX_CURVES
    assert study["optimizer_label"].nunique() == 45 > limit
    fig = reports.convergence_figure(study, "cost")
    drawn = set()
    for ax in [ax for ax in fig.axes if ax.get_visible()]:
        labels = named_lines(ax)
        assert 0 < len(labels) <= limit
        drawn |= set(labels)
        assert any(t.get_text() == f"{len(labels)} of 45 configurations" for t in ax.texts)
    assert len(drawn) <= limit
    assert {label.split("[")[0] for label in drawn} == set(FAMILIES)  # each optimizer is seen
    (legend,) = fig.legends
    assert len(legend.get_texts()) == len(drawn)


def test_convergence_of_a_few_configurations_draws_them_all(study):
    few = study[study["optimizer_label"].isin(["sgd[lr=0.001]", "adam[lr=0.001]"])]
    fig = reports.convergence_figure(few, "cost")
    for ax in [ax for ax in fig.axes if ax.get_visible()]:
        assert sorted(named_lines(ax)) == ["adam[lr=0.001]", "sgd[lr=0.001]"]
        assert not any("configurations" in t.get_text() for t in ax.texts)


def test_trajectories_draw_at_most_max_panels_and_say_so(study):
    limit = reports.trajectories.MAX_PANELS
    label = "quadratic[dim=2,condition_number=10]"
    fig = reports.trajectories_figure(study, label)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == limit < 45
    assert f"{limit} of 45 optimizer configurations" in fig._suptitle.get_text()
    titles = {ax.get_title(loc="left") for ax in panels}
    assert {t.split("[")[0] for t in titles} == set(FAMILIES)
    assert not any(t.startswith("sgd[lr=1]") for t in titles)  # diverged: never among the best


def test_best_labels_takes_each_optimizers_best_then_the_next_best(study):
    from reports.selection import best_labels

    one = study[study["problem_label"] == "quadratic[dim=2,condition_number=10]"]
    assert best_labels(one, 3) == ["adam[lr=0.001]", "momentum[lr=0.001]", "sgd[lr=0.001]"]
    chosen = best_labels(one, 5)  # then the next best two: adam's, the lowest q
    assert chosen == sorted(["adam[lr=0.001]", "adam[lr=0.00164]", "adam[lr=0.00268]",
                             "momentum[lr=0.001]", "sgd[lr=0.001]"])
    assert best_labels(one, 100) == sorted(one["optimizer_label"].unique())


# --------------------------------------------------------------------------- the page


def test_page_sums_up_many_diverged_runs_per_configuration(study, page):
    raw, parsed = page
    n_diverged = study.drop_duplicates("run_id")["status"].eq("diverged").sum()
    assert n_diverged == 2 * 3 * 5 * 4 > reports.overview.MAX_LISTED_RUNS
    assert f"Diverged runs ({n_diverged})" in parsed.text
    section = between(raw, "<h3 id='diverged'>", "<h3 id='configuration'>")
    assert body_rows(section) == 2 * 3 * 5  # one row per (problem, optimizer) configuration
    assert "each configuration is one row, not each run" in section
    assert "r00000" not in section  # no run ids listed
    assert "4/4" in section and "0\N{EN DASH}3" in section  # 4 of 4 runs, seeds 0-3


def test_page_ranks_one_configuration_per_optimizer_and_folds_the_whole_grid(page):
    raw, parsed = page
    limit = reports.family_sections.MAX_RANKED_ROWS
    rankings = raw[raw.index("<h3 id='family-0-ranking'>"):]
    first = rankings[:rankings.index("<h4>", rankings.index("<h4>") + 1)]  # the first problem
    view, grid = first.split("<details class='more'>", 1)
    assert body_rows(view) == 3  # sgd, momentum, adam: each in its best configuration
    assert "Every configuration on all seeds (45 configurations" in grid
    shown, folded = grid.split("<details class='more'>", 1)
    assert body_rows(shown) == limit
    assert body_rows(folded) == 45 - limit
    assert f"show the other {45 - limit} optimizer configurations" in folded
    assert f"Only the first {limit} of 45 optimizer configurations are shown" in parsed.text


def test_page_captions_say_how_the_view_was_chosen(page):
    _, parsed = page
    assert "Each optimizer is drawn in one configuration per problem" in parsed.text
    assert "over seeds 0\N{EN DASH}1, drawn on seeds 2\N{EN DASH}3 only" in parsed.text
    assert "Too many optimizer configurations" not in parsed.text  # three curves a panel
    assert len(parsed.srcs) == 1 + 1 + 2  # profiles, convergence, one trajectory per problem


def test_linked_grid_figures_are_pngs_of_every_configuration(study, tmp_path):
    path = reports.write_report(study, tmp_path / "scale.html", title="scale")
    names = {p.name for p in (tmp_path / "scale_figures").iterdir()}
    grids = sorted(n for n in names if n.endswith("-all.png"))
    assert len(grids) == 1 + 2  # convergence, a trajectory figure per problem
    assert not [n for n in names if n.endswith("-all.svg")]  # hundreds of paths: no SVG
    assert path.read_text().count("All 45 configurations, all seeds") == 3


def test_page_sums_up_many_failed_runs_per_configuration():
    runs = pd.DataFrame({
        "run_id": [f"e{i:03d}" for i in range(60)], "problem": "mlp",
        "problem_label": "mlp[hidden=[4]]", "optimizer": "newton",
        "optimizer_label": [f"newton[damping={i % 3}]" for i in range(60)],
        "seed": [i // 3 for i in range(60)], "status": "error",
        "error": "ValueError: newton needs a Hessian", "steps_taken": 0})
    records = [{"run_id": rid, "traceback": f"Traceback of {rid}"} for rid in runs["run_id"]]
    results = Results(data=pd.DataFrame(), runs=runs, records=records)
    raw = reports.html.report_html(results, title="t", command="c")
    section = between(raw, "<h3 id='failed'>", "<h3 id='diverged'>")
    assert "Failed runs (60)" in section
    assert body_rows(section) == 3  # one row per (problem, optimizer, error)
    assert "0\N{EN DASH}19" in section and "needs a Hessian" in section
    assert "Traceback of e000" in section and "Traceback of e003" not in section


# --------------------------------------------------------------------------- fast paths


def drawn_runs_reference(rows: pd.DataFrame, seed=None) -> dict[str, pd.DataFrame]:
    """The loop drawn_runs replaced, kept as the readable reference."""
    rows = rows[rows["x_0"].notna() & rows["x_1"].notna()]
    if rows.empty:
        return {}
    if seed is None:
        per_seed = rows.groupby("seed")["optimizer_label"].nunique()
        common = int(per_seed[per_seed == per_seed.max()].index.min())
    out = {}
    for label, group in rows.groupby("optimizer_label", sort=True):
        chosen = seed if seed is not None else (
            common if (group["seed"] == common).any() else int(group["seed"].min()))
        run = group[group["seed"] == chosen]
        if not run.empty:
            first = sorted(run["run_id"].unique())[0]
            out[label] = run[run["run_id"] == first]
    return out


@pytest.mark.parametrize("seed", [None, 1, 3])
def test_drawn_runs_matches_the_reference_loop(study, seed):
    rows = study[study["problem_label"] == "quadratic[dim=2,condition_number=10]"]
    # uneven seeds: some labels lack seed 0, one has only seed 3, one has two runs of seed 1
    rows = rows[~((rows["optimizer"] == "adam") & (rows["seed"] == 0))]
    rows = rows[~((rows["optimizer_label"] == "sgd[lr=0.001]") & (rows["seed"] < 3))]
    twin = rows[(rows["optimizer_label"] == "momentum[lr=0.001]") & (rows["seed"] == 1)]
    rows = pd.concat([rows, twin.assign(run_id="a-twin")])
    fast, slow = drawn_runs(rows, seed), drawn_runs_reference(rows, seed)
    assert list(fast) == list(slow)
    for label in slow:
        pd.testing.assert_frame_equal(fast[label], slow[label])


def test_scheduled_runs_finds_the_runs_whose_rate_changes(study):
    data = study.copy()
    changing = data["run_id"].isin(["r00000", "r00007"])
    data.loc[changing, "lr"] = data.loc[changing, "lr"] * (1.0 + data.loc[changing, "step"])
    data.loc[data["run_id"] == "r00001", "lr"] = np.nan  # no rate at all (L-BFGS)
    assert sorted(scheduled_runs(data)["run_id"].unique()) == ["r00000", "r00007"]
