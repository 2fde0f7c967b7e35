"""A small progress line on stderr for long studies (no dependency)."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class ProgressReporter(Protocol):
    """What a study reports its runs to: :class:`Progress`, or anything with the same
    ``update`` and ``close``."""

    def update(self, text: str, *, failed: bool = False) -> None:
        """One run finished (``failed`` when its status is ``error``); ``text`` describes it."""

    def close(self) -> None:
        """The study is over."""


class Progress:
    """``[ 12/96]  8.1s  84 left  quadratic  adam[lr=0.001]  seed=1  max_steps``.

    The line shows runs done out of the total, elapsed seconds, runs remaining and,
    once any failed, how many.

    On a terminal the line is rewritten in place after every run; elsewhere (a log
    file, CI) a line is written for about every 5% of the runs, for the last one and
    for every run that failed.  ``quiet=True`` writes
    nothing.
    """

    def __init__(self, total: int, *, stream: TextIO | None = None, quiet: bool = False,
                 label: str = "") -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.label = f"{label}  " if label else ""
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.perf_counter()
        self.width = 0

    def update(self, text: str, *, failed: bool = False) -> None:
        self.done += 1
        self.failed += bool(failed)
        if self.quiet:
            return
        every = max(1, self.total // 20)
        if not (self.tty or failed or self.done % every == 0 or self.done == self.total):
            return
        digits = len(str(self.total))
        elapsed = time.perf_counter() - self.start
        left = self.total - self.done
        failures = f"  {self.failed} failed" if self.failed else ""
        line = (f"{self.label}[{self.done:>{digits}}/{self.total}] {elapsed:6.1f}s  "
                f"{left} left{failures}  {text}")
        if self.tty:
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
