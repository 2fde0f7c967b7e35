"""Pool workers that end with the process that started them.

A worker of the local pool is a child of the fork server, not of the study's
process, so nothing tells it when that process is killed (SIGKILL, an out-of-memory
kill): it would wait for work for ever, and the fork server with it, since each
worker holds the write end of the server's "alive" pipe, and the resource tracker
with them.  :func:`exit_with` gives a worker a daemon thread that checks every
``interval`` seconds whether the study's process is still there and ends the worker
(``os._exit``) when it is not.  Once the workers are gone the fork server reads EOF
on its alive pipe and exits, and the resource tracker reads EOF on its own pipe and
exits: nothing is left, and nothing holds the caller's stdout or stderr open.
"""

from __future__ import annotations

import os
import sys
import threading
import time

#: The exit status of a worker whose study process is gone.
EXIT_ORPHANED = 70


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (a killed process whose
    parent has not reaped it yet counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    if sys.platform.startswith("linux"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        return state not in (b"Z", b"X")
    return True


def _watch(pid: int, interval: float) -> None:
    while process_alive(pid):
        time.sleep(interval)
    os._exit(EXIT_ORPHANED)


def exit_with(pid: int, interval: float = 0.5) -> threading.Thread:
    """Start a daemon thread that ends this process within ``interval`` seconds of
    process ``pid`` ending; returns the thread."""
    thread = threading.Thread(target=_watch, args=(pid, interval), name="optbench-parent-watch",
                              daemon=True)
    thread.start()
    return thread
