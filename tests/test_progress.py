"""The progress line: throttled in logs, rewritten in place on a terminal."""

from __future__ import annotations

import io

from optbench.progress import Progress


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


def test_terminal_line_is_rewritten_in_place():
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
