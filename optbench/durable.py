"""Batched durable writes: the runs a study stores reach the disk in batches, not one
flush per file.

A stored run is written to a temporary file and renamed into place
(:func:`optbench.store.write_run`), so a killed process loses nothing that was renamed:
the kernel holds it.  Only a crash of the machine can lose what the kernel has not yet
written.  Flushing every file before its rename (``fsync``, one journal commit each:
milliseconds, more than a 10-step run takes) would bound that loss to nothing; a
study instead hands each file to :class:`BatchFlush`, whose thread flushes what was
stored in the last ``interval`` seconds, file by file and then the directory, while the
study goes on.  A machine crash can so lose the runs of the last batch, and a file it
leaves damaged fails its checksum and is run again; closing the batch (the end of a
study, also an interrupted one) waits until every file is on disk.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from types import TracebackType

#: Seconds between two flushes of a study's new files.
FLUSH_INTERVAL = 1.0


def _flush_file(path: Path) -> None:
    with contextlib.suppress(OSError):  # replaced or removed since: nothing of ours to flush
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class BatchFlush:
    """Flush files handed to :meth:`add` (and their directories) to disk from a
    background thread every ``interval`` seconds; :meth:`close` flushes the rest and
    returns when all is on disk.  A context manager."""

    def __init__(self, interval: float = FLUSH_INTERVAL) -> None:
        self.interval = interval
        self._pending: list[Path] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="optbench-flush", daemon=True)
        self._thread.start()

    def add(self, path: str | os.PathLike) -> None:
        with self._lock:
            self._pending.append(Path(path))

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        for path in batch:
            _flush_file(path)
        for directory in {path.parent for path in batch}:
            _flush_file(directory)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._flush()

    def __enter__(self) -> "BatchFlush":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
