"""A small progress line on stderr for long studies (no dependency)."""

from __future__ import annotations

import shutil
import sys
import time
from typing import Protocol, TextIO

#: On a terminal the line is redrawn at most this often (seconds), and always for the
#: last run and a failed one.
REDRAW_EVERY = 0.1


def eta(elapsed: float, done: int, left: int) -> str:
    """The time the ``left`` runs will take at the pace so far (elapsed / done per run):
    ``"ETA 42s"``, ``"ETA 3m05s"``, ``"ETA 1h02m"``; "" before the first run is done."""
    if done <= 0 or left <= 0:
        return ""
    seconds = round(elapsed / done * left)
    if seconds < 60:
        return f"ETA {seconds}s"
    if seconds < 3600:
        return f"ETA {seconds // 60}m{seconds % 60:02d}s"
    return f"ETA {seconds // 3600}h{seconds % 3600 // 60:02d}m"


def fitted(line: str, columns: int) -> str:
    """``line`` cut to ``columns - 1`` characters (ending in an ellipsis when cut), so
    that rewriting it in place never wraps on a terminal that wide."""
    room = max(columns - 1, 10)
    return line if len(line) <= room else line[: room - 1] + "\u2026"


class ProgressReporter(Protocol):
    """What a study reports its runs to: :class:`Progress`, or anything with the same
    ``update`` and ``close``."""

    def update(self, text: str, *, failed: bool = False) -> None:
        """One run finished (``failed`` when its status is ``error``); ``text`` describes it."""

    def close(self) -> None:
        """The study is over."""


class Progress:
    """``[ 12/96]  8.1s  84 left  ETA 57s  quadratic  adam[lr=0.001]  seed=1  max_steps``.

    The line shows runs done out of the total, elapsed seconds, runs remaining, the
    estimated time they will take at the pace so far (:func:`eta`) and, once any
    failed, how many.

    On a terminal the line is rewritten in place (at most every :data:`REDRAW_EVERY`
    seconds, and for the last run and every failed one), cut to the terminal's width
    so that it never wraps (``columns`` overrides the width); elsewhere (a log file,
    CI) a whole line is written for about every 5% of the runs, for the last one and
    for every run that failed.  ``quiet=True`` writes nothing.
    """

    def __init__(self, total: int, *, stream: TextIO | None = None, quiet: bool = False,
                 label: str = "", columns: int | None = None) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.label = f"{label}  " if label else ""
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.perf_counter()
        self.width = 0
        self.columns = columns
        self.drawn = -REDRAW_EVERY

    def update(self, text: str, *, failed: bool = False) -> None:
        self.done += 1
        self.failed += bool(failed)
        if self.quiet:
            return
        every = max(1, self.total // 20)
        now = time.perf_counter()
        last = failed or self.done == self.total
        if self.tty and not (last or now - self.drawn >= REDRAW_EVERY):
            return
        if not (self.tty or last or self.done % every == 0):
            return
        self.drawn = now
        self._write(self._line(text, now - self.start))

    def _line(self, text: str, elapsed: float) -> str:
        digits = len(str(self.total))
        left = self.total - self.done
        failures = f"  {self.failed} failed" if self.failed else ""
        remaining = eta(elapsed, self.done, left)
        return (f"{self.label}[{self.done:>{digits}}/{self.total}] {elapsed:6.1f}s  "
                f"{left} left{'  ' + remaining if remaining else ''}{failures}  {text}")

    def _write(self, line: str) -> None:
        if self.tty:
            columns = self.columns or shutil.get_terminal_size(fallback=(80, 24)).columns
            line = fitted(line, columns)
            pad = max(self.width - len(line), 0)
            self.stream.write("\r" + line + " " * pad)
            self.width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and not self.quiet and self.width:
            self.stream.write("\n")
            self.stream.flush()
