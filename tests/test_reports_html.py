"""The HTML report: self-contained, complete (contents, families, failures, environment,
command) and robust (empty directory, only failed runs, nets only, 2-D only, many
problems, runs from differing environments)."""

from __future__ import annotations

import base64
import os
import re
import urllib.parse
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import reports
from optbench import store
from optbench.environment import environment
from optbench.spec import RunSpec
from optbench.study import run_study
from tests.test_reports_data import (
    DIVERGING,
    ERROR_TEXT,
    copy_runs,
    report_results,  # noqa: F401  (the fixture)
)

FAMILIES = ["logistic", "mlp", "quadratic", "rosenbrock", "saddle"]


class Page(HTMLParser):
    """What the tests look at in a report: tags, ids, links, images, headings, text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.h2: list[str] = []
        self.nav_links: list[str] = []
        self.chunks: list[str] = []
        self._stack: list[str] = []
        self._in_nav = False
        self.feed(text)
        self.close()
        self.text = " ".join(self.chunks)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self._stack.append(tag)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "nav":
            self._in_nav = True
        if "href" in attrs:
            self.hrefs.append(attrs["href"])
            if self._in_nav:
                self.nav_links.append(attrs["href"])
        if "src" in attrs:
            self.srcs.append(attrs["src"])

    def handle_endtag(self, tag):
        if tag == "nav":
            self._in_nav = False
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()

    def handle_data(self, data):
        if data.strip():
            self.chunks.append(data.strip())
            if self._stack and self._stack[-1] == "h2":
                self.h2.append(data.strip())


def assert_self_contained(page: Page, raw: str, where: Path | None = None) -> None:
    """Nothing outside the page and its figure files: every image is a PNG embedded
    or in the folder beside the page (``where``), every link lands in the page or on
    one of those files."""
    for ref in page.hrefs + page.srcs:
        assert not ref.startswith(("http://", "https://", "//", "/")), ref
    for src in page.srcs:
        if src.startswith("data:"):
            assert src.startswith("data:image/png;base64,"), src[:40]
            png = base64.b64decode(src.split(",", 1)[1])
        else:
            assert where is not None and re.fullmatch(r"[\w.-]+_figures/[\w.-]+\.png", src), src
            png = (where / urllib.parse.unquote(src)).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "script" not in page.tags and "link" not in page.tags
    assert "@import" not in raw and "url(" not in raw
    for href in page.hrefs:  # every link lands somewhere
        if href.startswith("#"):
            assert href[1:] in page.ids, href
        else:
            assert where is not None and (where / urllib.parse.unquote(href)).is_file(), href


@pytest.fixture(scope="module")
def built(report_results, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("report") / "page.html"
    with warnings.catch_warnings():  # a figure that fails is a warning; here an error
        warnings.filterwarnings("error", message="optbench report: figure")
        path = reports.build_report(report_results, out)
    raw = path.read_text(encoding="utf-8")
    return path, raw, Page(raw)


def test_build_report_writes_the_page_where_asked(built, report_results):  # noqa: F811
    path, raw, page = built
    assert path.name == "page.html" and path.is_file()
    # no temporary file left: the page and its figures' folder
    assert sorted(p.name for p in path.parent.iterdir()) == ["page.html", "page_figures"]
    assert raw.startswith("<!DOCTYPE html>") and page.tags[0] == "html"
    assert "could not be drawn" not in raw


def test_report_is_self_contained(built):
    path, raw, page = built
    assert_self_contained(page, raw, path.parent)
    assert len(page.srcs) >= 15  # profiles, 5 convergence, 4 trajectories, nets x3, ...


def test_report_has_contents_and_a_section_per_family(built):
    _, _, page = built
    assert "Contents" in page.h2
    for title in ["Overview", "Across problems", *FAMILIES, "Learning-rate schedules",
                  "Hyper-parameter tuning", "Ensembles"]:
        assert page.h2.count(title) == 1, title
    for ident in ["overview", "failed", "diverged", "configuration", "environment", "profiles",
                  "tuning", "schedules", "ensembles"]:
        assert f"#{ident}" in page.nav_links, ident
    families = [h for h in page.h2 if h in FAMILIES]
    assert families == FAMILIES
    assert len([h for h in page.nav_links if h.startswith("#family-") and h.count("-") == 1]) == 5


def test_report_lists_failed_and_diverged_runs(built, report_results):  # noqa: F811
    _, _, page = built
    assert ERROR_TEXT in page.text
    assert "Failed runs (1)" in page.text
    assert "traceback" in page.text  # the stored traceback, folded
    runs = store.runs(report_results)
    diverged = runs[runs["status"] == "diverged"]
    assert f"Diverged runs ({len(diverged)})" in page.text and DIVERGING in page.text
    for path in diverged["file"]:
        record = store.read_meta(report_results / path)
        assert record["run_id"] in page.text
        if record.get("diverged_because"):
            assert record["diverged_because"] in page.text


def test_report_lists_unreadable_run_files(report_results, tmp_path):  # noqa: F811
    target = copy_runs(report_results, tmp_path / "r", lambda m: m["spec"]["problem"] == "saddle")
    (target / "0123456789abcdef.parquet").write_bytes(b"not parquet")
    page = Page(reports.build_report(target).read_text())
    assert "Unreadable run files (1)" in page.text and "0123456789abcdef" in page.text
    assert "saddle" in page.h2


def test_report_shows_environment_configuration_and_command(built, report_results):  # noqa: F811
    _, raw, page = built
    env = environment()
    for key in ("numpy", "scipy", "python", "cpu", "git_commit"):
        assert key in page.text
        if env.get(key):
            assert str(env[key]) in page.text, key
    assert "openblas" in page.text.lower() or "blas" in page.text
    assert "same environment" in page.text
    assert "2 seeds" in page.text or "3 seeds" in page.text
    assert "Steps per run" in page.text and "recorded every" in page.text
    assert f"optbench report {report_results}" in page.text
    assert "widen the search range" in page.text  # momentum's best rate is its largest


def test_report_takes_title_and_command(report_results, tmp_path):  # noqa: F811
    subset = copy_runs(report_results, tmp_path / "saddle", lambda m: m["spec"]["problem"] == "saddle")
    path = reports.build_report(subset, title="My <study>", command="make report")
    assert path == subset / "report.html"
    raw = path.read_text()
    page = Page(raw)
    assert "My <study>" in page.text and "make report" in page.text
    assert "<title>My &lt;study&gt;</title>" in raw
    assert page.h2.count("saddle") == 1 and "Trajectories" in page.text
    assert "Training the nets" not in page.text


def test_report_of_an_empty_directory_says_there_are_no_runs(tmp_path):
    path = reports.build_report(tmp_path)
    page = Page(path.read_text())
    assert "There are no runs" in page.text
    assert page.srcs == [] and "optbench report" in page.text


def test_report_of_a_missing_directory_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        reports.build_report(tmp_path / "nope")


def test_report_with_only_failed_runs(tmp_path):
    spec = RunSpec(problem="mlp", problem_params={"dataset": "spiral", "hidden": [4]},
                   optimizer="newton", steps=5)
    (outcome,) = run_study([spec], tmp_path)
    assert outcome.status == "error"
    raw = reports.build_report(tmp_path).read_text()
    page = Page(raw)
    assert_self_contained(page, raw, tmp_path)
    assert "1 run: 1 error" in page.text and ERROR_TEXT in page.text
    assert page.srcs == [] and "Across problems" not in page.h2


def test_report_of_nets_only(report_results, tmp_path):  # noqa: F811
    nets = copy_runs(report_results, tmp_path / "nets", lambda m: m["spec"]["problem"] == "mlp")
    raw = reports.build_report(nets).read_text()
    page = Page(raw)
    assert_self_contained(page, raw, nets)
    assert [h for h in page.h2 if h in FAMILIES] == ["mlp"]
    assert "Training the nets" in page.text and "Trajectories" not in page.text
    assert ERROR_TEXT in page.text  # Newton on the net failed


def test_report_of_many_problems_uses_one_panel_per_problem(tmp_path):
    specs = [RunSpec(problem="quadratic", problem_params={"dim": 5, "condition_number": c},
                     optimizer=name, optimizer_params=params, seed=0, steps=15, record_every=5)
             for c in (2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
             for name, params in (("sgd", {"lr": 0.01}), ("lbfgs", {}))]
    run_study(specs, tmp_path)
    raw = reports.build_report(tmp_path).read_text()
    page = Page(raw)
    assert_self_contained(page, raw, tmp_path)
    assert "one panel per problem" in page.text
    assert sum(t.startswith("quadratic[dim=5,condition_number=") for t in page.chunks) >= 6


def test_a_family_with_very_many_instances_is_summed_up_not_drawn(tmp_path, monkeypatch):
    """Above MAX_INSTANCES_DRAWN instances (the CUTEst suite has 200+), a family gets one
    table per optimizer (instances reached, ranked first, median rank), no per-instance
    curves or rankings; the profiles still compare the optimizers."""
    import reports.html

    monkeypatch.setattr(reports.family_sections, "MAX_INSTANCES_DRAWN", 3)
    specs = [RunSpec(problem="quadratic", problem_params={"dim": 5, "condition_number": c},
                     optimizer=name, optimizer_params=params, seed=0, steps=40, record_every=5)
             for c in (2.0, 5.0, 10.0, 20.0)
             for name, params in (("sgd", {"lr": 1e-4}), ("lbfgs", {}))]
    run_study(specs, tmp_path)
    page = Page(reports.build_report(tmp_path).read_text())
    assert "Summary over instances" in page.text
    assert "one panel per problem" not in page.text
    assert "family-0-convergence" not in page.ids and "family-0-summary" in page.ids
    table = page.chunks[page.chunks.index("median cost to target"):]
    assert table[table.index("lbfgs") + 1] == "4/4"  # lbfgs solves each instance, sgd none
    assert table[table.index("sgd[lr=0.0001]") + 1] == "0/4"
    assert "profiles" in page.ids


def test_report_says_when_runs_come_from_different_environments(report_results, tmp_path):  # noqa: F811
    target = tmp_path / "mixed"
    target.mkdir()
    paths = [p for p in store.run_files(report_results)
             if store.read_meta(p)["spec"]["problem"] == "saddle"][:2]
    for i, path in enumerate(paths):
        trace, record = store.read_run(path)
        spec = RunSpec.from_dict(record["spec"])
        meta = {k: v for k, v in record.items() if k not in ("format", "run_id", "spec", "status")}
        if i:
            meta["environment"] = {**meta["environment"], "numpy": "0.0.fake"}
        store.write_run(target, spec, trace, status=record["status"], meta=meta)
    page = Page(reports.build_report(target).read_text())
    assert "not all made in the same environment" in page.text
    assert "0.0.fake (1 runs)" in page.text


def test_report_overwrites_atomically(report_results, tmp_path):  # noqa: F811
    subset = copy_runs(report_results, tmp_path / "r", lambda m: m["spec"]["problem"] == "logistic")
    out = tmp_path / "out" / "report.html"
    out.parent.mkdir()
    out.write_text("old")
    reports.build_report(subset, out)
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert sorted(os.listdir(out.parent)) == ["report.html", "report_figures"]
    reference = tmp_path / "plain.txt"
    reference.write_text("x")  # the page gets the permissions of any new file
    assert out.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777


def test_write_report_from_a_table_still_works(report_results, tmp_path):  # noqa: F811
    data = store.load(report_results)
    data = data[data["problem"] == "saddle"]
    path = reports.write_report(data, tmp_path / "t.html", title="t", environment=environment(),
                                command="optbench report X")
    page = Page(path.read_text())
    assert "saddle" in page.h2 and "optbench report X" in page.text
    assert environment()["numpy"] in page.text


def test_summary_table_counts_divergence(report_results):  # noqa: F811
    data = store.load(report_results)
    table = reports.summary_table(data)
    row = table[(table["problem"] == "quadratic[dim=2,condition_number=50]")
                & (table["optimizer"] == DIVERGING)]
    assert row["diverged"].iloc[0] >= 2 and np.isinf(row["final"].iloc[0])
    assert "median final subopt" in reports.format_summary(table)


def test_report_of_a_small_study_stays_small(report_results, tmp_path):  # noqa: F811
    # its build time is a benchmark matter, not a test's (shared, noisy machines)
    subset = copy_runs(report_results, tmp_path / "q",
                       lambda m: m["spec"]["problem"] in ("quadratic", "logistic"))
    reports.build_report(subset)
    assert Path(subset / "report.html").stat().st_size < 3_000_000


def test_rendering_frees_figures(report_results, tmp_path):  # noqa: F811
    import matplotlib.pyplot as plt

    from reports.html import render_png

    fig = plt.figure()
    fig.add_subplot().plot([0, 1])
    assert render_png(fig)[:4] == b"\x89PNG"
    assert fig.number not in plt.get_fignums()  # a pyplot figure is closed once rendered
    subset = copy_runs(report_results, tmp_path / "s", lambda m: m["spec"]["problem"] == "saddle")
    reports.build_report(subset)
    assert plt.get_fignums() == []  # the report's own figures never enter pyplot


EVIL_NAME = "evil<script>alert(1)</script>"
EVIL_NOTE = "<img src=x onerror=alert(1)>"


def test_report_escapes_hostile_names_and_parameters(tmp_path):
    """Strings from a suite or a result are text: a problem name or parameter value
    with markup in it shows as written and never becomes a tag of the page."""
    import problems
    from problems.base import Problem

    class Evil(Problem):
        """A 2-D quadratic that takes any parameters (a string ``note`` among them)."""

        name = EVIL_NAME
        f_star = 0.0

        def __init__(self, **params):
            self.dim = 2
            self.params = dict(params)

        def x0(self, seed=0):
            return np.array([1.0, -1.0]) * (1 + seed)

        def loss(self, x):
            return float(0.5 * x @ x)

        def grad(self, x):
            return np.array(x, dtype=float)

    problems.register(EVIL_NAME, Evil)
    try:
        specs = [RunSpec(problem=EVIL_NAME, problem_params={"note": EVIL_NOTE}, optimizer="sgd",
                         optimizer_params={"lr": 0.1}, seed=seed, steps=5) for seed in (0, 1)]
        outcomes = run_study(specs, tmp_path)
        assert all(o.status != "error" for o in outcomes), outcomes
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="optbench report: figure")
            raw = reports.build_report(tmp_path, title=f"t {EVIL_NOTE}",
                                       command=f"optbench report '{EVIL_NAME}'").read_text()
    finally:
        problems.registry._FACTORIES.pop(EVIL_NAME, None)
    assert "<script>alert(1)</script>" not in raw and "<script" not in raw
    assert "<img src=x onerror" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "&lt;img src=x onerror=alert(1)&gt;" in raw
    page = Page(raw)  # still parses, and the markup is text, not tags
    assert_self_contained(page, raw, tmp_path)
    assert page.tags.count("img") == len(page.srcs)  # only the embedded figures
    assert EVIL_NAME in page.h2  # the family section, titled with the name as written
    assert any(EVIL_NAME in t and EVIL_NOTE in t for t in page.chunks)  # the problem label
    assert f"t {EVIL_NOTE}" in page.text


# --------------------------------------------------------------------------- the claims section

from tests.test_claims_framework import FAILING, HOLDING, SEEDS, registry, toy  # noqa: E402,F401


def _claims_page(results_dir, **kwargs):
    raw = reports.build_report(results_dir, **kwargs).read_text(encoding="utf-8")
    return raw, Page(raw)


def _badges(raw: str) -> list[tuple[str, str]]:
    import re

    return re.findall(r"<span class='badge ([a-z]+)'>([^<]*)</span>", raw)


@pytest.fixture
def claims_dir(toy, tmp_path):  # noqa: F811
    """A results directory with the toys' verdicts and one claim whose criterion raised."""
    from optbench import claims
    from optbench.claims.execute import run_claims

    def broken(evidence):
        raise RuntimeError("criterion exploded")

    claims.register(claims.Claim(key="toy-broken", number=3, statement="A claim that breaks.",
                                 experiment="the toys' runs", statistic="none", arms=toy.arms,
                                 criterion=broken))
    run_claims([HOLDING, FAILING, "toy-broken"], tmp_path, quick=True, seeds=SEEDS)
    return tmp_path


def test_report_opens_with_the_claims_verdict_table(claims_dir):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="optbench report: figure")
        raw, page = _claims_page(claims_dir)
    assert_self_contained(page, raw, claims_dir)
    assert page.h2[:3] == ["Contents", "Claims", "Overview"]
    assert page.nav_links[0] == "#claims"
    # one table row per claim, numbered claims first: number, statement, key, summary, badge, link
    start = raw.index("<h2 id='claims'>")
    table = raw[start:raw.index("</table>", start)]
    rows = table.split("<tr>")[2:]
    assert len(rows) == 3
    assert "<td class=''>3</td>" in rows[0] and "A claim that breaks." in rows[0]
    assert "<code>toy-momentum-faster</code>" in rows[1] and "<code>toy-sgd-faster</code>" in rows[2]
    assert "median final subopt ratio momentum/sgd = 0.14" in rows[1]
    assert "not decided: criterion: RuntimeError: criterion exploded" in rows[0]
    assert _badges(table) == [("inconclusive", "inconclusive"), ("holds", "holds"),
                              ("fails", "does not hold")]
    for key, row in zip(["toy-broken", HOLDING, FAILING], rows):
        assert f"href='#claim-{key}'" in row
        assert f"claim-{key}" in page.ids
    assert "1 holds, 1 does not hold, 1 inconclusive" in page.text
    assert "The claim's code failed, so it was not decided" in page.text
    # each claim's figure below its anchor
    section = raw[raw.index("<h2 id='claims'>"):raw.index("<h2 id='overview'>")]
    parts = {key: section[section.index(f"<h3 id='claim-{key}'>"):] for key in
             ("toy-broken", HOLDING, FAILING)}
    for key, part in parts.items():
        part = part[:part.find("<h3", 4) if part.find("<h3", 4) > 0 else None]
        assert f"<img alt='claim {key}' src='report_figures/" in part, key
        assert "Statistic: " in part
        parts[key] = part
    # the registered claim with a figure draws its own; the others get their arms' curves
    assert "draws no figure of its own" not in parts[FAILING]
    assert "draws no figure of its own" in parts[HOLDING]
    assert "Quick budget, seeds 0, 1, 2; 6 runs in 2 arms (sgd, momentum)" in parts[HOLDING]


def test_a_claim_figure_that_fails_is_a_message(claims_dir):
    from dataclasses import replace

    from optbench import claims

    def bad_figure(evidence):
        raise ValueError("no figure today")

    claims.register(replace(claims.get(FAILING), figure=bad_figure), replace=True)
    with pytest.warns(RuntimeWarning, match="claim toy-sgd-faster"):
        raw, page = _claims_page(claims_dir)
    assert "could not be drawn: ValueError('no figure today')" in page.text
    assert_self_contained(page, raw, claims_dir)
    assert f"<img alt='claim {HOLDING}'" in raw  # the other claims keep theirs


def test_an_unregistered_claim_gets_its_arms_curves_and_missing_runs_are_said(claims_dir):
    from optbench import claims
    from optbench.claims.execute import load_verdicts

    claims.unregister(FAILING)
    entry = next(e for e in load_verdicts(claims_dir) if e["key"] == FAILING)
    (claims_dir / f"{entry['runs']['sgd'][0]}.parquet").unlink()
    raw, page = _claims_page(claims_dir)
    part = raw[raw.index(f"<h3 id='claim-{FAILING}'>"):]
    assert f"<img alt='claim {FAILING}'" in part and "draws no figure of its own" in part
    assert "1 run of this claim are no longer in the results directory" in page.text


def test_the_claims_section_escapes_hostile_text(claims_dir):
    import json

    path = claims_dir / "claims" / "verdicts.json"
    document = json.loads(path.read_text())
    entry = document["claims"][0]
    entry.update(statement=EVIL_NAME, experiment=EVIL_NOTE, summary=f"ratio {EVIL_NOTE}",
                 statistic=EVIL_NAME, outcome="<b>holds</b>", key="x' onmouseover='alert(1)")
    path.write_text(json.dumps(document))
    raw, page = _claims_page(claims_dir)
    assert "<script" not in raw and "<img src=x onerror" not in raw and "<b>holds" not in raw
    assert "onmouseover='alert" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw and "&lt;img src=x onerror=alert(1)&gt;" in raw
    assert ("unknown", "&lt;b&gt;holds&lt;/b&gt;") in _badges(raw)
    assert_self_contained(page, raw, claims_dir)  # the odd key's figure link still lands (claim-0)
    assert "#claim-0" in page.hrefs and "claim-0" in page.ids
    assert page.tags.count("img") == len(page.srcs)
    assert any(EVIL_NAME in t for t in page.chunks) and any(EVIL_NOTE in t for t in page.chunks)


def test_an_unreadable_verdicts_file_is_said_and_the_page_still_builds(claims_dir):
    (claims_dir / "claims" / "verdicts.json").write_text("{broken")
    raw, page = _claims_page(claims_dir)
    assert "Claims" in page.h2 and "could not be read" in page.text
    assert "Overview" in page.h2
    assert_self_contained(page, raw, claims_dir)


def test_no_claims_section_without_verdicts(built):
    _, raw, page = built
    assert "Claims" not in page.h2 and "#claims" not in page.nav_links and "class='badge" not in raw
