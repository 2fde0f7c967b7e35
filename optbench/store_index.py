"""The index of a results directory: what each stored run file holds, so that a study
decides what is stored, and ``load`` reads ten thousand runs, without opening every file.

Two hidden files sit beside the runs; both are caches, never the truth::

    results/
      .optbench-index            one row per whole run file: run_id, the file's
                                 (inode, size, mtime_ns), status, code and record
      .optbench-traces           the traces of the indexed runs, one table, with
                                 the (inode, size, mtime_ns) each was read from

An entry is trusted only while its file's ``(inode, size, mtime_ns)`` is the one it
was made from: a file that is new, replaced, rewritten in place or damaged is read
whole and checked against its checksum (:func:`optbench.store.check_whole`) before it
is indexed, and a file that fails is named in a warning and left out (so it is run
again).  Each cache holds the sha256 of its own content and is rebuilt when it does not
match it or cannot be read.  Both are replaced atomically; two processes updating them
at once cost a re-read, never a wrong answer, since each entry is checked against its
file.  A directory holding only run files (an older optbench, a copy) works as before:
the first reader builds the index.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import store

INDEX_NAME = ".optbench-index"
TRACES_NAME = ".optbench-traces"
DIGEST_KEY = b"optbench-sha256"
KEYS_KEY = b"optbench-keys"

#: The traces cache is not kept above this many rows (``load`` then reads the files).
MAX_CACHED_ROWS = 20_000_000

Key = tuple[int, int, int]


@dataclass
class Entry:
    """One whole run file: its run id, ``(inode, size, mtime_ns)``, status, and its
    ``code`` fingerprint and metadata record as JSON text (parsed when asked for)."""

    run_id: str
    key: Key
    status: str
    code_json: str
    record_json: str

    @property
    def record(self) -> dict[str, Any]:
        return json.loads(self.record_json)

    @property
    def code(self) -> Any:
        return json.loads(self.code_json)

    @classmethod
    def of(cls, run_id: str, key: Key, record: dict[str, Any]) -> "Entry":
        return cls(run_id, key, str(record.get("status")), json.dumps(record.get("code")),
                   json.dumps(record))


def file_key(path: str | os.PathLike) -> Key:
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def scan(directory: Path) -> dict[str, Key]:
    """``{run_id: (inode, size, mtime_ns)}`` of the run files in ``directory`` (one stat
    each, no read)."""
    keys: dict[str, Key] = {}
    with os.scandir(directory) as found:
        for item in found:
            name = item.name
            if name.endswith(store.SUFFIX) and not name.startswith("."):
                with_stat = item.stat()
                keys[name[: -len(store.SUFFIX)]] = (with_stat.st_ino, with_stat.st_size,
                                                    with_stat.st_mtime_ns)
    return keys


def _digest(table: pa.Table) -> str:
    return store.checksum(table.replace_schema_metadata(None), {})


def _read_checked(path: Path) -> pa.Table | None:
    """A cache file's table if it is whole (its content gives its digest), else None."""
    try:
        table = pq.ParquetFile(path).read()
    except (OSError, pa.ArrowException):
        return None
    meta = table.schema.metadata or {}
    if meta.get(DIGEST_KEY, b"").decode() != _digest(table):
        return None
    return table


def _write_cache(path: Path, table: pa.Table, extra: dict[bytes, bytes] | None = None) -> None:
    meta = {DIGEST_KEY: _digest(table).encode(), **(extra or {})}
    table = table.replace_schema_metadata(meta)
    try:
        store.replace_atomically(path, lambda tmp: pq.write_table(table, tmp))
    except OSError:  # a cache that cannot be written is rebuilt by the next reader
        pass


def read_index(directory: Path) -> dict[str, Entry]:
    table = _read_checked(directory / INDEX_NAME)
    if table is None:
        return {}
    cols = table.to_pydict()
    return {rid: Entry(rid, (ino, size, mtime), status, code, record)
            for rid, ino, size, mtime, status, code, record in zip(
                cols["run_id"], cols["ino"], cols["size"], cols["mtime_ns"], cols["status"],
                cols["code"], cols["record"])}


def write_index(directory: Path, entries: Iterable[Entry]) -> None:
    rows = sorted(entries, key=lambda e: e.run_id)
    table = pa.table({
        "run_id": [e.run_id for e in rows],
        "ino": pa.array([e.key[0] for e in rows], pa.int64()),
        "size": pa.array([e.key[1] for e in rows], pa.int64()),
        "mtime_ns": pa.array([e.key[2] for e in rows], pa.int64()),
        "status": [e.status for e in rows],
        "code": [e.code_json for e in rows],
        "record": [e.record_json for e in rows],
    })
    _write_cache(directory / INDEX_NAME, table)


def _warn_corrupt(err: store.CorruptRunFile) -> None:
    warnings.warn(f"skipping {err}", store.CorruptRunWarning, stacklevel=4)


def refresh(directory: str | os.PathLike, *,
            on_corrupt: Callable[[store.CorruptRunFile], None] = _warn_corrupt,
            read: dict[str, pa.Table] | None = None) -> dict[str, Entry]:
    """``{run_id: Entry}`` of every whole run file of ``directory``, sorted by run id.

    Files the index knows unchanged are not opened; the others are read whole and
    checked (``on_corrupt`` gets each that fails; by default a CorruptRunWarning
    naming it), and the index is rewritten when anything changed.  ``read``, when
    given, receives the trace tables of the files that were read."""
    directory = Path(directory)
    if not directory.is_dir():
        return {}
    keys = scan(directory)
    old = read_index(directory)
    entries: dict[str, Entry] = {}
    for rid in sorted(keys):
        known = old.get(rid)
        if known is not None and known.key == keys[rid]:
            entries[rid] = known
            continue
        try:
            table, record = store.read_whole(directory / f"{rid}{store.SUFFIX}")
        except store.CorruptRunFile as err:
            on_corrupt(err)
            continue
        entries[rid] = Entry.of(rid, keys[rid], record)
        if read is not None:
            read[rid] = table
    if entries.keys() != old.keys() or any(entries[r] is not old[r] for r in entries):
        write_index(directory, entries.values())
    return entries


def add(directory: str | os.PathLike, written: Iterable[tuple[str, Key, dict[str, Any]]]) -> None:
    """Index runs this process has just stored (``(run_id, key, record)``) without
    reading them back; the other entries are kept as the index holds them."""
    directory = Path(directory)
    entries = read_index(directory)
    for rid, key, record in written:
        entries[rid] = Entry.of(rid, key, record)
    write_index(directory, entries.values())


def cached_traces(directory: Path, entries: dict[str, Entry]) -> tuple[pa.Table | None, set[str]]:
    """The cached trace rows of the runs in ``entries`` whose file is unchanged since
    they were cached, and the set of those run ids."""
    table = _read_checked(directory / TRACES_NAME)
    if table is None:
        return None, set()
    keys = json.loads((table.schema.metadata or {}).get(KEYS_KEY, b"{}"))
    valid = {rid for rid, key in keys.items() if rid in entries and tuple(key) == entries[rid].key}
    if not valid:
        return None, set()
    if len(valid) < len(keys):
        table = table.filter(pc.is_in(table["run_id"], pa.array(sorted(valid))))
    return table.replace_schema_metadata(None), valid


def with_run_id(table: pa.Table, run_id: str) -> pa.Table:
    """A run's trace table with a ``run_id`` column (and no metadata)."""
    table = table.replace_schema_metadata(None)
    return table.append_column("run_id", pa.array([run_id] * table.num_rows, pa.string()))


def sorted_by_run(parts: list[pa.Table]) -> pa.Table | None:
    """Trace tables with a ``run_id`` column as one, rows ordered by run id (a stable
    sort: each run keeps its step order); None when there are no rows."""
    parts = [p for p in parts if p.num_rows]
    if not parts:
        return None
    combined = pa.concat_tables(parts, promote_options="default")
    return combined.take(pc.sort_indices(combined, [("run_id", "ascending")]))


def add_traces(directory: str | os.PathLike, traces: dict[str, pa.Table]) -> None:
    """Put the traces of runs this process has just stored and indexed (:func:`add`)
    into the traces cache, beside the cached runs that are still valid."""
    directory = Path(directory)
    entries = read_index(directory)
    new = {rid: table for rid, table in traces.items() if rid in entries}
    cached, valid = cached_traces(directory, entries)
    parts = [with_run_id(table, rid) for rid, table in new.items()]
    if cached is not None:
        kept = valid - new.keys()
        if len(kept) < len(valid):
            cached = cached.filter(pc.is_in(cached["run_id"], pa.array(sorted(kept))))
        parts.append(cached)
        valid = kept
    combined = sorted_by_run(parts)
    if combined is not None:
        write_traces(directory, combined, {rid: entries[rid] for rid in valid | new.keys()})


def write_traces(directory: Path, table: pa.Table, entries: dict[str, Entry]) -> None:
    """Cache ``table`` (trace rows with a ``run_id`` column) for the runs of ``entries``."""
    if table.num_rows > MAX_CACHED_ROWS:
        return
    keys = {rid: list(entries[rid].key) for rid in entries}
    _write_cache(directory / TRACES_NAME, table, {KEYS_KEY: json.dumps(keys).encode()})
