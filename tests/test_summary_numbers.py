"""The summary numbers (issue 18): stdout and the report agree, and each number is honest.

Steps to a target are the first *recorded* step, an upper bound between records; an
averaged run is judged by its averaged iterate; a suboptimality below 0 (round-off of
f*) is shown as 0; a median to target counts a seed that never got there as never;
the terminal table has aligned columns two spaces apart.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import optbench
import reports
from optbench.spec import RunSpec
from optbench.study import run_study
from reports.summary import format_summary, summary_table

QUADRATIC = {"problem": "quadratic", "problem_params": {"dim": 5, "condition_number": 10.0}}
NOISY = {"problem": "quadratic",
         "problem_params": {"dim": 5, "condition_number": 10.0, "noise": 1.0}}
NET = {"problem": "mlp", "problem_params": {"dataset": "spiral", "hidden": [8]}}


def _study(path: Path, specs: list[RunSpec]) -> pd.DataFrame:
    run_study(specs, path)
    return optbench.load(path)


def _newton(record_every: int) -> list[RunSpec]:
    return [RunSpec(**QUADRATIC, optimizer="newton", optimizer_params={}, seed=s, steps=30,
                    record_every=record_every) for s in (0, 1)]


def _averaged_sgd() -> list[RunSpec]:
    return [RunSpec(**NOISY, optimizer="sgd", optimizer_params={"lr": 0.05, "average": 0.99},
                    seed=s, steps=300) for s in (0, 1, 2)]


def _net() -> list[RunSpec]:
    return [RunSpec(**NET, optimizer="adam", optimizer_params={"lr": 0.01}, seed=s, steps=60,
                    record_every=10) for s in (0, 1, 2)]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """Newton recorded every 10 steps, a Polyak-averaged SGD, a net (f* unknown)."""
    path = tmp_path_factory.mktemp("mixed")
    _study(path, _newton(10) + _averaged_sgd() + _net())
    return path


def _row(table: pd.DataFrame, optimizer: str) -> pd.Series:
    (index,) = np.flatnonzero(table["optimizer"].str.startswith(optimizer))
    return table.iloc[index]


def _line(text: str, optimizer: str) -> str:
    (line,) = [ln for ln in text.splitlines() if ln.startswith(optimizer)]
    return line


# --------------------------------------------------------------------------- 1. steps to target


def test_steps_recorded_every_ten_are_an_upper_bound(mixed):
    # Newton solves a quadratic in one step; the trace shows it first at step 10
    table = summary_table(optbench.load(mixed))
    newton = _row(table, "newton")
    assert newton["steps_to_target"] == 10 and not newton["steps_exact"]
    assert re.search(r"  <= 10 \(2/2\)  ", _line(format_summary(table), "newton"))
    assert "an upper bound ('<= N')" in " ".join(format_summary(table).split())  # the note


def test_steps_recorded_every_step_are_exact(tmp_path):
    table = summary_table(_study(tmp_path, _newton(1)))
    newton = _row(table, "newton")
    assert newton["steps_to_target"] == 1 and newton["steps_exact"]
    assert re.search(r"  1 \(2/2\)  ", _line(format_summary(table), "newton"))


def _synthetic(curves: list[list[float]]) -> pd.DataFrame:
    """One run per curve of suboptimalities (f* = 0), recorded every step."""
    frames = []
    for seed, subopt in enumerate(curves):
        n = len(subopt)
        frames.append(pd.DataFrame({
            "step": np.arange(n), "loss": subopt, "subopt": subopt,
            "time": np.linspace(0.0, 1.0, n), "n_grad": np.arange(n), "cost": np.arange(n, dtype=float),
            "run_id": f"r{seed}", "problem": "p", "optimizer": "gd", "seed": seed,
            "status": "max_steps", "problem_label": "p", "optimizer_label": "gd"}))
    return pd.concat(frames, ignore_index=True)


def test_median_steps_count_a_seed_that_never_got_there_as_never():
    # reached at steps 2 and 4, the third never: the median seed reached at 4, not at 3
    never = [1.0] * 6
    two = _synthetic([[1, 1, 1e-7, 0, 0, 0], [1, 1, 1, 1, 1e-7, 0], never])
    assert _row(summary_table(two), "gd")["steps_to_target"] == 4
    one = _synthetic([[1, 1, 1e-7, 0, 0, 0], never, never])  # the median seed never did
    row = _row(summary_table(one), "gd")
    assert np.isinf(row["steps_to_target"]) and row["reached"] == "1/3"
    assert re.search(r"  - \(1/3\)  ", _line(format_summary(summary_table(one)), "gd"))


# --------------------------------------------------------------------------- 2. averaging


def test_an_averaged_run_is_judged_by_its_averaged_iterate(mixed):
    data = optbench.load(mixed)
    runs = data[data["optimizer_label"].str.startswith("sgd")]
    last = runs.groupby("run_id").tail(1)
    assert (last["avg_loss"] < last["loss"]).all()  # averaging helps on a noisy quadratic
    table = summary_table(data)
    sgd = _row(table, "sgd")
    f_star = 0.0  # the quadratic's optimum
    assert sgd["final"] == pytest.approx(np.median(last["avg_loss"] - f_star), rel=1e-12)
    assert sgd["iterate"] == "averaged"
    line = _line(format_summary(table), "sgd")
    assert f"{np.median(last['avg_loss']):.3g}" in line and line.endswith("averaged")
    assert f"{np.median(last['subopt']):.3g}" not in line


# --------------------------------------------------------------------------- 3. round-off


def test_a_suboptimality_below_zero_is_round_off_shown_as_zero(tmp_path):
    data = _study(tmp_path, _newton(1))
    last = data.groupby("run_id").tail(1).index
    data.loc[last, "subopt"] = -5.55e-17  # f a hair below the computed f*
    table = summary_table(data)
    newton = _row(table, "newton")
    assert newton["final"] == 0.0 and newton["q25"] == 0.0
    text = format_summary(table)
    assert "-5.55e-17" not in text and "e-17" not in text
    assert "subopt = f - f*, clipped at 0: a value below 0 is round-off" in " ".join(text.split())


# --------------------------------------------------------------------------- 4. agreement


class _Tables(HTMLParser):
    """The report's tables under each <h4> title: {title: [header, row, row, ...]}."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self._title = ""
        self._tag = ""
        self._row: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self._tag = tag
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._row.append("")

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None and self._title:
            self.tables.setdefault(self._title, []).append(self._row)
            self._row = None
        elif tag == "h4":
            self._tag = ""

    def handle_data(self, data):
        if self._tag == "h4":
            self._title = data.strip()
        elif self._row is not None and self._row:
            self._row[-1] += data.strip()


def _stdout_rows(text: str) -> dict[tuple[str, str], dict[str, str]]:
    """{(problem, optimizer): {header: cell}} from the terminal table."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for block in text.split("\n\n"):
        lines = block.splitlines()
        if len(lines) < 2 or not lines[1].startswith("optimizer  "):
            continue
        header = re.split(r"\s{2,}", lines[1].strip())
        for line in lines[2:]:
            cells = re.split(r"\s{2,}", line.strip())
            assert len(cells) == len(header), line
            rows[(lines[0], cells[0])] = dict(zip(header, cells))
    return rows


def test_stdout_and_report_show_the_same_numbers(mixed, tmp_path):
    table = summary_table(optbench.load(mixed))
    text = format_summary(table)
    # the net's optimum is unknown: one seed of three reached the best loss found, and
    # both say so (stdout used to say "-" where the report said "1/3")
    assert re.search(r"  - \(1/3\)  ", _line(text, "adam"))
    stdout = _stdout_rows(text)
    page = _Tables(reports.build_report(mixed, tmp_path / "r.html").read_text())
    ascii_ = {"\N{EN DASH}": "-", "\N{INFINITY}": "inf"}
    compared = 0
    for (problem, optimizer), cells in stdout.items():
        header, *rows = page.tables[problem]
        # one configuration per optimizer: the report's default view is the whole grid,
        # each row naming the configuration it stands for
        (row,) = [r for r in rows if r[header.index("configuration")] == optimizer]
        got = {h: ascii_.get(c, c) for h, c in zip(header, row)}
        final = next(h for h in cells if h.startswith("median final"))
        kind = "suboptimality" if final.endswith("subopt") else "loss"
        assert got[f"median final {kind}"] == cells[final]
        assert f"{got['steps to 1e-06']} ({got['reached 1e-06']})" == cells["steps to 1e-06"]
        assert got["median time [s]"] == cells["median time [s]"]
        assert got["diverged"] == cells["diverged"]
        compared += 1
    assert compared == 3


def test_cli_prints_the_summary_table_of_the_suite(tmp_path, capsys):
    from optbench.cli import main

    suite = tmp_path / "s.toml"
    suite.write_text('seeds = [0, 1]\nsteps = 30\nrecord_every = 10\n'
                     '[[problems]]\nname = "quadratic"\ndim = 5\ncondition_number = 10.0\n'
                     '[[optimizers]]\nname = "newton"\n')
    assert main(["run", str(suite), "--out", str(tmp_path / "out"), "--quiet",
                 "--no-report"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(format_summary(summary_table(optbench.load(tmp_path / "out"))))
    assert "<= 10 (2/2)" in text


# --------------------------------------------------------------------------- 5. layout


def test_columns_are_aligned_and_two_spaces_apart(mixed):
    text = format_summary(summary_table(optbench.load(mixed)))
    blocks = [b.splitlines() for b in text.split("\n\n") if "\noptimizer  " in b]
    assert len(blocks) == 3
    for _, header, *rows in blocks:
        names = re.split(r"\s{2,}", header)
        assert names[:6] == ["optimizer", "oracle", names[2], "steps to 1e-06",
                             "median time [s]", "diverged"] and names[2].startswith("median final ")
        ends = [m.end() for m in re.finditer(r"\S+(?: \S+)*", header)]
        for row in rows:  # numbers end under the end of their header
            row_ends = [m.end() for m in re.finditer(r"\S+(?: \S+)*", row)]
            assert row_ends[1:] == ends[1:], (header, row)
    # the oracle column (12 characters) took the widest block of this study to 107
    assert max(len(line) for line in text.splitlines()) <= 110
