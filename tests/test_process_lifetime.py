"""A study's processes end with it: SIGTERM stops ``optbench run --jobs 2`` like Ctrl-C
(finished runs kept, exit 143), and after a SIGKILL of the study's process its pool
workers, fork server and resource tracker exit on their own, releasing the caller's
pipes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optbench.parent_watch import process_alive

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")

SLOW_SUITE = """
name = "slow"
seeds = [0, 1, 2, 3, 4, 5, 6, 7]
steps = 20000
[[problems]]
name = "quadratic"
dim = 1000
condition_number = 1e9
[[optimizers]]
name = "sgd"
lr = 1e-12
"""


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rsplit(b")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _start(tmp_path):
    suite = tmp_path / "slow.toml"
    suite.write_text(SLOW_SUITE)
    proc = subprocess.Popen([sys.executable, "-m", "optbench", "run", str(suite), "--jobs", "2",
                             "--out", str(tmp_path / "out"), "--no-report"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the fork server and two workers (and the tracker)
        family = _descendants(proc.pid)
        if len(family) >= 4:
            return proc, family
        time.sleep(0.2)
    proc.kill()
    pytest.fail("the pool never started")


def _all_gone(pids: set[int], seconds: float = 20.0) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = {p for p in pids if process_alive(p)}
        if not alive:
            return set()
        time.sleep(0.1)
    return alive


def test_sigterm_stops_like_ctrl_c_and_leaves_no_process(tmp_path):
    proc, family = _start(tmp_path)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)  # returns only once every holder of the pipes is gone
    assert proc.returncode == 143, err.decode()
    assert "terminated; finished runs are stored, run again to resume" in err.decode()
    assert not _all_gone(family)


def test_after_a_sigkill_the_workers_fork_server_and_tracker_exit(tmp_path):
    proc, family = _start(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert not _all_gone(family), "left behind after the study was killed"
    proc.stdout.read()  # EOF: nobody holds the pipe any more
    proc.stderr.read()


def test_process_alive_sees_a_zombie_as_gone():
    assert process_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while process_alive(child.pid) and time.monotonic() < deadline:  # exited, not reaped: a zombie
        time.sleep(0.05)
    assert not process_alive(child.pid)
    child.wait()
    assert not process_alive(child.pid)


def test_a_local_dask_cluster_gets_no_more_workers_than_cores_or_runs(monkeypatch):
    from optbench.study import JobsCappedWarning, local_workers

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    with pytest.warns(JobsCappedWarning, match="--jobs 1000 capped at 2 workers"):
        assert local_workers(1000, 50) == 2
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    with pytest.warns(JobsCappedWarning, match=r"capped at 3 workers \(the runs to make\)"):
        assert local_workers(1000, 3) == 3
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert local_workers(4, 100) == 4
