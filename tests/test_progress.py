"""The progress line: throttled in logs, rewritten in place on a terminal."""

from __future__ import annotations

import io

import pytest

from optbench import progress as progress_module
from optbench.progress import Progress, eta, fitted


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_log_output_is_throttled_but_keeps_failures_and_the_end():
    stream = io.StringIO()
    progress = Progress(100, stream=stream)
    for i in range(100):
        progress.update(f"run {i}", failed=(i == 42))
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 21  # every 5th run, plus the flagged one
    assert lines[-1].startswith("[100/100]") and lines[-1].endswith("run 99")
    assert any(line.endswith("run 42") for line in lines)
    assert "1 failed" in lines[-1] and "0 left" in lines[-1]
    assert "95 left" in lines[0]


def test_terminal_line_is_rewritten_in_place(monkeypatch):
    monkeypatch.setattr(progress_module, "REDRAW_EVERY", 0.0)
    stream = FakeTTY()
    progress = Progress(3, stream=stream)
    for i in range(3):
        progress.update(f"run {i}")
    progress.close()
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1


def test_quiet_writes_nothing():
    stream = io.StringIO()
    progress = Progress(5, stream=stream, quiet=True)
    progress.update("x")
    progress.close()
    assert stream.getvalue() == ""


def test_a_terminal_is_redrawn_at_most_ten_times_a_second_but_always_at_the_end():
    stream = FakeTTY()
    progress = Progress(1000, stream=stream)
    for i in range(1000):
        progress.update(f"run {i}", failed=(i == 500))
    progress.close()
    text = stream.getvalue()
    assert 3 <= text.count("\r") < 100  # the first, the failed one, the last: not 1000
    assert "run 500" in text and text.rstrip().endswith("run 999")


@pytest.mark.parametrize("columns", [40, 80, 120])
def test_the_terminal_line_never_wraps(columns, monkeypatch):
    monkeypatch.setattr(progress_module, "REDRAW_EVERY", 0.0)
    stream = FakeTTY()
    progress = Progress(12, stream=stream, columns=columns, label="tune adam")
    for i in range(12):
        progress.update(f"quadratic[condition_number=1800, dim=2, noise=5]  nesterov[lr=0.001, rho=0.9]  "
                        f"seed={i}  max_steps")
    for drawn in stream.getvalue().split("\r")[1:]:
        assert len(drawn.rstrip("\n").rstrip()) <= columns - 1
    assert "\u2026" in stream.getvalue()


def test_the_line_says_how_long_the_rest_will_take(monkeypatch):
    clock = iter([0.0, 10.0, 20.0])
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: next(clock))
    stream = io.StringIO()
    progress = Progress(4, stream=stream)  # a log: every run is a line (total // 20 < 1)
    progress.update("a")
    progress.update("b")
    first, second = stream.getvalue().splitlines()
    assert "3 left  ETA 30s" in first  # 10 s per run so far, 3 runs left
    assert "2 left  ETA 20s" in second


@pytest.mark.parametrize("elapsed, done, left, text", [
    (10.0, 1, 3, "ETA 30s"), (1.0, 1, 125, "ETA 2m05s"), (36.0, 1, 103, "ETA 1h01m"),
    (5.0, 0, 10, ""), (5.0, 5, 0, ""),
])
def test_eta(elapsed, done, left, text):
    assert eta(elapsed, done, left) == text


def test_fitted_keeps_short_lines_and_cuts_long_ones():
    assert fitted("short", 80) == "short"
    cut = fitted("x" * 100, 80)
    assert len(cut) == 79 and cut.endswith("\u2026")
