"""The scorecard of ``optbench score`` (reports/scorecard.py), from small synthetic tables:
three workloads, a submission with a hostile name and the four baselines, a missed
target, an infinite interval bound and an undefined Kendall's tau; the external
ruleset (with a budget curve) and the self ruleset (an empty budget table)."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports import scorecard

PROTOCOL = "optbench-score v1"
SUBMISSION = "sgd<script>alert(1)</script>"
BASELINES = ["nesterov", "heavy_ball", "adam", "adamw"]
METHODS = [SUBMISSION, *BASELINES]
WORKLOADS = ["quadratic_ill", "rosenbrock", "mlp_digits"]
HOSTILE_DESCRIPTION = "a net <img src=x onerror=alert(2)>"
HOSTILE_NOTE = "a note with <b>markup</b> & an ampersand"
#: Time to target (gradient-equivalents) of each method on each workload; adam misses rosenbrock.
COST = {
    SUBMISSION: [300.0, 900.0, 400.0],
    "nesterov": [400.0, 600.0, 800.0],
    "heavy_ball": [450.0, 1500.0, 900.0],
    "adam": [1000.0, math.inf, 500.0],
    "adamw": [1300.0, 2100.0, 450.0],
}
SENTENCE = (f"{SUBMISSION} is better than nesterov, the best baseline, at 95%: score difference "
            "+0.120 [+0.030, +0.210]")


def _ratios(times: dict[str, list[float]]) -> dict[str, np.ndarray]:
    t = np.array([times[m] for m in METHODS])
    best = t.min(axis=0)
    return {m: t[i] / best for i, m in enumerate(METHODS)}


def _tables(ruleset: str) -> dict[str, pd.DataFrame]:
    scores, times, profile = [], [], []
    for axis, unit in (("cost", 1.0), ("seconds", 0.002)):
        axis_times = {m: [v * unit for v in COST[m]] for m in METHODS}
        ratios = _ratios(axis_times)
        inside = np.concatenate([r[np.isfinite(r) & (r <= 4.0)] for r in ratios.values()])
        taus = np.unique(np.concatenate([[1.0, 4.0], inside]))
        for m in METHODS:
            r = ratios[m]
            score = float(np.clip((4.0 - r) / 3.0, 0.0, 1.0).mean())
            scores.append({"axis": axis, "method": m, "submission": m == SUBMISSION, "score": score,
                           "low": max(0.0, score - 0.1), "high": min(1.0, score + 0.1)})
            for w, t, ratio in zip(WORKLOADS, axis_times[m], r):
                high = math.inf if m == "heavy_ball" else t * 1.2
                times.append({"axis": axis, "method": m, "workload": w, "time": t, "low": t * 0.8,
                              "high": high, "ratio": ratio})
            profile += [{"axis": axis, "method": m, "tau": float(tau), "fraction": float((r <= tau).mean())}
                        for tau in taus]
    if ruleset == "external":
        budget = pd.DataFrame([{"trials": k, "method": m, "score": 0.2 + 0.1 * k - 0.05 * i,
                                "low": 0.1 + 0.1 * k - 0.05 * i, "high": 0.3 + 0.1 * k - 0.05 * i}
                               for k in (1, 2, 4, 5) for i, m in enumerate(METHODS)])
    else:
        budget = pd.DataFrame(columns=["trials", "method", "score", "low", "high"])
    leave_one_out = pd.DataFrame([
        {"left_out": "quadratic_ill", "kendall_tau": 0.8, "top": SUBMISSION, "top_changed": False},
        {"left_out": "rosenbrock", "kendall_tau": float("nan"), "top": "nesterov", "top_changed": True},
        {"left_out": "mlp_digits", "kendall_tau": 1.0, "top": SUBMISSION, "top_changed": False},
    ])
    workloads = pd.DataFrame([
        {"workload": "quadratic_ill", "problem": "quadratic", "metric": "subopt", "target": 1e-6,
         "budget": 1000, "description": "an ill-conditioned quadratic, 50-D"},
        {"workload": "rosenbrock", "problem": "rosenbrock", "metric": "subopt", "target": 1e-4,
         "budget": 2000, "description": "Rosenbrock's banana valley, 2-D"},
        {"workload": "mlp_digits", "problem": "mlp", "metric": "val_loss", "target": 0.35,
         "budget": 1000, "description": HOSTILE_DESCRIPTION},
    ])
    return {"scores": pd.DataFrame(scores), "times": pd.DataFrame(times), "profile": pd.DataFrame(profile),
            "budget": budget, "leave_one_out": leave_one_out, "workloads": workloads}


def _meta(ruleset: str, rerun: bool) -> dict:
    verdict = {"verdict": "better", "baseline": "nesterov", "difference": 0.12, "low": 0.03, "high": 0.21,
               "level": 0.95, "sentence": SENTENCE}
    space = {"lr": {"log_uniform": [1e-4, 1.0]}} if ruleset == "external" else {}
    environment = {"optbench": "0.1.0", "python": "3.11.9", "numpy": "2.1.0", "cpu": "test cpu",
                   "platform": "Linux", "git_commit": "abc123"}
    return {
        "protocol": PROTOCOL, "level": "quick", "ruleset": ruleset,
        "trials": 5 if ruleset == "external" else 1, "studies": 3, "seed": 0, "tau_max": 4.0,
        "level_of_intervals": 0.95,
        "submission": {"name": SUBMISSION, "optimizer": "sgd", "fixed": {"nesterov": False}, "space": space},
        "baselines": [{"name": b, "optimizer": b, "fixed": {"lr": 0.01},
                       "space": {"lr": {"log_uniform": [1e-4, 1.0]}, "rho": {"uniform": [0.8, 0.99]}}}
                      for b in BASELINES],
        "baselines_rerun": rerun, "environment": environment,
        "baseline_environment": {} if rerun else dict(environment, cpu="another cpu"),
        "budget_factor": 1 if ruleset == "external" else 3,
        "verdict": {"cost": verdict,
                    "seconds": dict(verdict, verdict="indistinguishable",
                                    sentence=f"{SUBMISSION} is indistinguishable from nesterov")},
        "notes": [HOSTILE_NOTE],
    }


class Page(HTMLParser):
    """What the tests look at: the text, links, images (with the link around each),
    row classes and the tables as lists of rows of cell texts."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.images: list[dict] = []
        self.title = ""
        self.tables: list[list[list[str]]] = []
        self.row_classes: list[tuple[str, list[str]]] = []
        self.chunks: list[str] = []
        self._anchor: str | None = None
        self._in_title = False
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._row_class = ""
        self.feed(text)
        self.close()
        self.text = " ".join(" ".join(self.chunks).split())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "a":
            self._anchor = attrs.get("href")
            self.hrefs.append(attrs.get("href"))
        elif tag == "img":
            self.images.append({**attrs, "link": self._anchor})
        elif tag == "title":
            self._in_title = True
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row, self._row_class = [], attrs.get("class") or ""
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag == "a":
            self._anchor = None
        elif tag == "title":
            self._in_title = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self.row_classes.append((self._row_class, self._row))
            self._row = None

    def handle_data(self, data):
        self.chunks.append(data)
        if self._in_title:
            self.title += data
        if self._cell is not None:
            self._cell.append(data)


def _write(out: Path, ruleset: str, rerun: bool):
    path = scorecard.write_scorecard(_meta(ruleset, rerun), _tables(ruleset), out)
    raw = path.read_text(encoding="utf-8")
    return path, raw, Page(raw)


@pytest.fixture(scope="module")
def external(tmp_path_factory):
    """The scorecard of the external ruleset, baselines not rerun."""
    out = tmp_path_factory.mktemp("external")
    return out, *_write(out, "external", rerun=False)


@pytest.fixture(scope="module")
def self_tuned(tmp_path_factory):
    """The scorecard of the self ruleset (an empty budget table, baselines rerun), written
    into a folder holding an earlier scorecard's budget figure."""
    out = tmp_path_factory.mktemp("self")
    (out / "figures").mkdir()
    for suffix in (".svg", ".png"):
        (out / "figures" / f"budget{suffix}").write_text("an earlier scorecard's figure")
    return out, *_write(out, "self", rerun=True)


def _times_tables(page: Page) -> list[list[list[str]]]:
    """The per-workload tables, cost then seconds (their header: workload, target, the methods)."""
    tables = [t for t in page.tables if t[0][:2] == ["workload", "target"]]
    assert len(tables) == 2
    assert not any(c.endswith(" s") for row in tables[0][1:] for c in row[2:])
    assert any(" s " in c for row in tables[1][1:] for c in row[2:])  # e.g. "0.6 s 0.48 s – 0.72 s ..."
    return tables


def test_the_page_names_the_protocol_the_verdict_and_every_method(external):
    out, path, raw, page = external
    assert path == out / "scorecard.html" and path.is_file()
    assert PROTOCOL in page.title and SUBMISSION in page.title
    assert SENTENCE in page.text
    assert f"Score of {SUBMISSION} on the primary axis" in page.text  # its score, under the verdict
    for method in METHODS:
        assert method in page.text, method
    marked = [cells for cls, cells in page.row_classes if cls == "submission"]
    assert marked and all(any(SUBMISSION in c for c in cells) for cells in marked)
    scores = next(t for t in page.tables if t[0][:2] == ["rank", "method"])
    assert [row[1] for row in scores[1:]][0] == SUBMISSION  # the best cost score, ranked first
    assert "another machine" in page.text  # the baselines' seconds are not from this machine
    for text in ("1,000", "2,000", "val_loss", "0.35"):  # the workloads' budgets, metrics and targets
        assert text in page.text


def test_figures_are_written_as_svg_and_png_and_open_full_size(external):
    out, _path, _raw, page = external
    linked = {img["src"]: img["link"] for img in page.images}
    for name in ("profile", "budget"):
        svg, png = out / "figures" / f"{name}.svg", out / "figures" / f"{name}.png"
        assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml") and "<svg" in svg.read_text()
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert linked.get(f"figures/{name}.png") == f"figures/{name}.svg"
        assert f"figures/{name}.png" in page.hrefs


def test_figure_text_is_at_least_9_points_at_page_width(external):
    out, _path, _raw, page = external
    widths = {img["src"]: int(img["width"]) for img in page.images}
    for name in ("profile", "budget"):
        svg = (out / "figures" / f"{name}.svg").read_text(encoding="utf-8")
        width_pt = float(re.search(r'<svg[^>]*width="([\d.]+)pt"', svg).group(1))
        sizes = [float(s) for s in re.findall(r"font-size: ([\d.]+)px", svg)]  # SVG units: points
        assert len(sizes) >= 10 and min(sizes) >= 9.0, (name, sorted(set(sizes)))
        shown_px = widths[f"figures/{name}.png"]
        assert shown_px == round(width_pt / 72 * 96)  # shown at its natural size ...
        assert shown_px <= scorecard.PAGE_WIDTH_PX  # ... which fits the page


def test_hostile_strings_are_escaped(external):
    out, _path, raw, page = external
    assert "<script" not in raw and "<img src=x" not in raw and "<b>markup" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "script" not in page.tags
    assert HOSTILE_NOTE in page.text and HOSTILE_DESCRIPTION in page.text  # shown as text
    for svg in (out / "figures").glob("*.svg"):
        text = svg.read_text(encoding="utf-8")
        assert "<script" not in text and "&lt;script&gt;" in text  # the legend names the method


def test_missed_targets_show_as_missed(external):
    _out, _path, _raw, page = external
    for table in _times_tables(page):
        header = table[0]
        column = next(i for i, h in enumerate(header) if h.startswith("adam") and not h.startswith("adamw"))
        rows = {row[0].split()[0]: row for row in table[1:]}
        assert rows["rosenbrock"][column] == "missed"
        assert rows["quadratic_ill"][column] != "missed" and "missed" not in rows["mlp_digits"][column]
        assert sum(c == "missed" for row in table[1:] for c in row) == 1  # one inf time per axis
        heavy = next(i for i, h in enumerate(header) if h.startswith("heavy_ball"))
        assert "\N{INFINITY}" in rows["quadratic_ill"][heavy]  # an infinite interval bound is not "missed"


def test_leave_one_out_shows_an_undefined_tau_and_a_changed_top(external):
    _out, _path, _raw, page = external
    table = next(t for t in page.tables if t[0][0] == "workload left out")
    rows = {row[0]: row for row in table[1:]}
    assert rows["rosenbrock"][1:] == ["undefined", "nesterov", "yes"]
    assert rows["quadratic_ill"][1:] == ["0.80", SUBMISSION, "no"]
    assert "Kendall" in page.text and "whether that differs" in page.text


def test_an_empty_budget_table_gives_a_sentence_instead_of_a_figure(self_tuned):
    out, _path, _raw, page = self_tuned
    assert "No budget curve: under the self ruleset" in page.text
    assert not any("budget" in (img["src"] or "") for img in page.images)
    assert not any("figures/budget" in (href or "") for href in page.hrefs)
    assert not (out / "figures" / "budget.svg").exists() and not (out / "figures" / "budget.png").exists()
    assert (out / "figures" / "profile.svg").is_file()  # the other figure is still drawn
    assert "another machine" not in page.text  # the baselines were rerun here
    assert "3 times the budget" in page.text  # the self ruleset's budget factor
