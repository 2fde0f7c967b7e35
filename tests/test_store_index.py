"""Stored runs are checked whole; the index and traces cache answer without opening
every file, and are never trusted over the files (issue 17)."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import optbench
from optbench import durable, store, store_index
from optbench.cli import main
from optbench.spec import RunSpec
from optbench.store import CorruptRunWarning, checksum, read_meta
from optbench.study import pending, plan, run_study


def _specs(n=4, steps=12):
    return [RunSpec(problem="quadratic", problem_params={"dim": 3, "condition_number": 10.0},
                    optimizer="adam", optimizer_params={"lr": 0.05}, seed=s, steps=steps,
                    record_every=3) for s in range(n)]


def _path(directory, spec):
    return directory / f"{spec.run_id()}.parquet"


def _flip(path, start=200, stop=260):
    data = bytearray(path.read_bytes())
    for i in range(start, min(stop, len(data) - 8)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _quietly(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptRunWarning)
        return fn(*args)


# -- checked whole -----------------------------------------------------------------------

def test_a_file_with_damaged_data_pages_is_named_and_run_again(tmp_path, capsys):
    specs = _specs()
    run_study(specs, tmp_path)
    victim = _path(tmp_path, specs[1])
    read_meta(victim)  # the footer alone still reads: only a whole check finds the damage
    _flip(victim)
    with pytest.warns(CorruptRunWarning, match=victim.name):
        todo, done = pending(specs, tmp_path)
    assert [s.run_id() for s in todo] == [specs[1].run_id()] and len(done) == 3
    with pytest.warns(CorruptRunWarning, match=victim.name):
        assert optbench.load(tmp_path)["run_id"].nunique() == 3
    assert _quietly(main, ["verify", str(tmp_path)]) == 1
    assert f"CORRUPT {specs[1].run_id()}" in capsys.readouterr().out
    outcomes = _quietly(run_study, specs, tmp_path)
    assert sorted(o.status for o in outcomes) == ["max_steps", "skipped", "skipped", "skipped"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptRunWarning)  # whole again: no warning
        assert optbench.load(tmp_path)["run_id"].nunique() == 4


def test_the_checksum_covers_every_value_and_the_record():
    table = store.trace_table(pd.DataFrame({"step": np.arange(3), "loss": [1.0, 0.5, 0.25]}))
    record = {"status": "max_steps", "spec": {"a": 1}}
    base = checksum(table, record)
    assert base == checksum(table, dict(record))
    other = store.trace_table(pd.DataFrame({"step": np.arange(3), "loss": [1.0, 0.5, np.nextafter(0.25, 1)]}))
    assert checksum(other, record) != base
    assert checksum(table, {**record, "status": "converged"}) != base
    assert checksum(table, {**record, "checksum": "ignored"}) == base


@pytest.mark.parametrize("change", [
    lambda r: r.update(spec={}),
    lambda r: r["spec"].update(colour="red"),
    lambda r: r["spec"].update(seed="zero"),
    lambda r: r.update(spec=[1, 2]),
])
def test_a_run_whose_spec_is_malformed_is_named_skipped_and_run_again(change, tmp_path, capsys):
    specs = _specs(3)
    run_study(specs, tmp_path)
    victim = _path(tmp_path, specs[0])
    table = pq.read_table(victim)
    record = json.loads(table.schema.metadata[b"optbench"])
    change(record)
    record["checksum"] = checksum(table.replace_schema_metadata(None), record)  # whole, but wrong
    pq.write_table(table.replace_schema_metadata({b"optbench": json.dumps(record).encode()}), victim)

    with pytest.warns(CorruptRunWarning, match=f"{victim.name}: malformed run spec"):
        assert len(store.runs(tmp_path)) == 2
    with pytest.warns(CorruptRunWarning, match=victim.name):
        assert optbench.load(tmp_path)["run_id"].nunique() == 2
    assert _quietly(main, ["report", str(tmp_path), "--out", str(tmp_path / "r.html")]) == 0
    assert _quietly(main, ["verify", str(tmp_path)]) == 1
    assert f"CORRUPT {specs[0].run_id()}" in capsys.readouterr().out
    outcomes = _quietly(run_study, specs, tmp_path)
    assert sorted(o.status for o in outcomes) == ["max_steps", "skipped", "skipped"]
    read_meta(victim)


def test_a_spec_that_is_not_the_files_run_is_refused(tmp_path):
    specs = _specs(2)
    run_study(specs, tmp_path)
    first, second = _path(tmp_path, specs[0]), _path(tmp_path, specs[1])
    os.replace(first, second)  # a run file under another run's name
    with pytest.warns(CorruptRunWarning, match="is not the spec of run"):
        assert store.runs(tmp_path).empty


# -- the index -----------------------------------------------------------------------------

def test_a_finished_study_decides_what_is_stored_without_opening_a_run_file(tmp_path, monkeypatch):
    specs = _specs(6)
    run_study(specs, tmp_path)
    assert (tmp_path / store_index.INDEX_NAME).is_file()

    def no_reading(path):
        raise AssertionError(f"read {path}")

    monkeypatch.setattr(store, "read_whole", no_reading)
    monkeypatch.setattr(store, "read_meta", no_reading)
    todo, done = pending(specs, tmp_path)
    assert todo == [] and len(done) == 6
    assert len(store.runs(tmp_path)) == 6


def test_a_file_changed_since_it_was_indexed_is_read_again(tmp_path, monkeypatch):
    specs = _specs(3)
    run_study(specs, tmp_path)
    victim = _path(tmp_path, specs[2])
    read = []
    real = store.read_whole
    monkeypatch.setattr(store, "read_whole", lambda p: read.append(p.name) or real(p))
    stat = victim.stat()
    _flip(victim)  # same size, bytes changed in place
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    with pytest.warns(CorruptRunWarning, match=victim.name):
        todo, _ = pending(specs, tmp_path)
    assert read == [victim.name] and [s.run_id() for s in todo] == [specs[2].run_id()]


@pytest.mark.parametrize("damage", [b"", b"not parquet at all", None])
def test_a_lost_or_damaged_index_is_rebuilt_from_the_files(damage, tmp_path):
    specs = _specs(4)
    run_study(specs, tmp_path)
    index = tmp_path / store_index.INDEX_NAME
    expected = store.runs(tmp_path)
    if damage is None:
        index.unlink()
    elif damage:
        index.write_bytes(damage)
    else:
        _flip(index, 100, 140)
    assert store.runs(tmp_path).equals(expected)
    assert pending(specs, tmp_path)[0] == []
    assert store_index.read_index(tmp_path).keys() == {s.run_id() for s in specs}


def test_an_index_entry_whose_file_is_gone_is_dropped(tmp_path):
    specs = _specs(3)
    run_study(specs, tmp_path)
    _path(tmp_path, specs[0]).unlink()
    found = plan(specs, tmp_path)
    assert [s.run_id() for s in found.todo] == [specs[0].run_id()]
    assert specs[0].run_id() not in store_index.read_index(tmp_path)


# -- the traces cache ------------------------------------------------------------------------

def test_load_from_the_cache_equals_load_from_the_files(tmp_path):
    specs = _specs(5)
    run_study(specs, tmp_path)
    first = optbench.load(tmp_path)  # builds the cache
    assert (tmp_path / store_index.TRACES_NAME).is_file()
    cached = optbench.load(tmp_path)
    (tmp_path / store_index.TRACES_NAME).unlink()
    index = tmp_path / store_index.INDEX_NAME
    index.unlink()
    from_files = optbench.load(tmp_path)
    pd.testing.assert_frame_equal(cached, from_files)
    pd.testing.assert_frame_equal(first, from_files)
    assert list(from_files["run_id"].unique()) == sorted(s.run_id() for s in specs)


def test_load_after_a_study_reads_no_run_file(tmp_path, monkeypatch):
    specs = _specs(4)
    run_study(specs[:2], tmp_path)
    run_study(specs, tmp_path)  # the cache gets the new runs beside the old ones

    def no_reading(path):
        raise AssertionError(f"read {path}")

    monkeypatch.setattr(store, "read_whole", no_reading)
    data = optbench.load(tmp_path)
    assert sorted(data["run_id"].unique()) == sorted(s.run_id() for s in specs)
    assert (data.groupby("run_id").size() == 5).all()


def test_the_cache_follows_a_run_that_was_made_again(tmp_path):
    specs = _specs(3)
    run_study(specs, tmp_path)
    before = optbench.load(tmp_path)
    victim = _path(tmp_path, specs[1])
    victim.unlink()
    longer = [*specs[:1], RunSpec.from_dict({**specs[1].to_dict()}), *specs[2:]]
    run_study(longer, tmp_path)
    after = optbench.load(tmp_path)
    pd.testing.assert_frame_equal(before.drop(columns="time"), after.drop(columns="time"))
    damaged = tmp_path / store_index.TRACES_NAME
    _flip(damaged, 100, 140)
    pd.testing.assert_frame_equal(optbench.load(tmp_path).drop(columns="time"), after.drop(columns="time"))


# -- batched durable writes ----------------------------------------------------------------

def test_a_study_flushes_every_file_it_stored_before_it_returns(tmp_path, monkeypatch):
    flushed = []
    real = durable._flush_file
    monkeypatch.setattr(durable, "_flush_file", lambda p: flushed.append(p.name) or real(p))
    specs = _specs(5)
    run_study(specs, tmp_path)
    assert {f"{s.run_id()}.parquet" for s in specs} <= set(flushed)
    assert tmp_path.name in flushed  # and the directory that names them


def test_batch_flush_flushes_in_the_background_and_on_close(tmp_path, monkeypatch):
    flushed = []
    monkeypatch.setattr(durable, "_flush_file", lambda p: flushed.append(p.name))
    batch = durable.BatchFlush(interval=0.01)
    (tmp_path / "a").write_text("a")
    batch.add(tmp_path / "a")
    for _ in range(500):
        if "a" in flushed:
            break
        import time

        time.sleep(0.01)
    assert "a" in flushed  # the thread flushed it while the batch was open
    (tmp_path / "b").write_text("b")
    batch.add(tmp_path / "b")
    batch.close()
    assert "b" in flushed and not batch._thread.is_alive()
