#!/usr/bin/env python
"""The store at scale: a study of many tiny runs, resumed, loaded and reported.

Run from the repository root::

    python -m benchmarks.store_scale                 # 10,000 runs, a few minutes on 2 cores
    python -m benchmarks.store_scale --runs 2000     # smaller

The study is ``quadratic`` (dim 2) x sgd (10 learning rates) x seeds, 10 steps per run
(11 trace rows), so that a run computes in well under a millisecond and storing it is
what is measured.  Printed, each a median over ``--repeats`` (the first study once):

- the study from scratch, ``optbench run SUITE --jobs 2 --no-report`` (a fresh
  process, imports included): runs per second;
- the finished study resumed: the same command (wall time, imports included), and
  in-process the decision of what is stored (``pending``, which is what the index
  speeds up) against reading every run file's footer (``read_meta`` on each, what
  resuming did before the index);
- ``optbench.load`` of every run: the first call after the study (the traces cache is
  built from the files) and a later one (from the cache), against ``pq.read_table`` of
  every file (the floor of reading files one by one);
- ``optbench report DIR`` (wall time).

Nothing is asserted: these are figures for the README, measured on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

LRS = [0.001 * (i + 1) for i in range(10)]


def suite_text(runs: int) -> str:
    seeds = max(1, runs // len(LRS))
    return (f'name = "scale"\nseeds = {list(range(seeds))}\nsteps = 10\n'
            '[[problems]]\nname = "quadratic"\ndim = 2\n'
            f'[[optimizers]]\nname = "sgd"\nlr = {LRS}\n')


def command(*args: str) -> float:
    """Wall seconds of ``optbench ARGS`` in a fresh process (it must succeed)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "optbench", *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"optbench {' '.join(args)} failed:\n{done.stderr}")
    return elapsed


def median_of(repeats: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeats))


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def read_every_footer(out: Path) -> None:
    from optbench.store import read_meta, run_files

    for path in run_files(out):
        read_meta(path)


def read_every_file(out: Path) -> None:
    import pyarrow.parquet as pq

    from optbench.store import run_files

    for path in run_files(out):
        pq.read_table(path)


def measure(runs: int, repeats: int, workdir: Path) -> list[tuple[str, str]]:
    import optbench
    from optbench.store_index import TRACES_NAME
    from optbench.study import pending
    from optbench.suites import load_suite

    suite = workdir / "scale.toml"
    suite.write_text(suite_text(runs))
    out = workdir / "results"
    n = len(load_suite(suite).specs)
    first = command("run", str(suite), "--out", str(out), "--jobs", "2", "--no-report", "--quiet")
    resume = median_of(repeats, lambda: command("run", str(suite), "--out", str(out), "--no-report",
                                                 "--quiet"))
    specs = load_suite(suite).specs
    decide = median_of(repeats, lambda: timed(lambda: pending(specs, out)))
    footers = median_of(repeats, lambda: timed(lambda: read_every_footer(out)))
    (out / TRACES_NAME).unlink(missing_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cold = timed(lambda: optbench.load(out))
        warm = median_of(repeats, lambda: timed(lambda: optbench.load(out)))
    files = median_of(repeats, lambda: timed(lambda: read_every_file(out)))
    report = median_of(repeats, lambda: command("report", str(out), "--out", str(workdir / "r.html")))
    return [
        (f"study of {n} runs from scratch, --jobs 2", f"{first:.1f} s, {n / first:.0f} runs/s"),
        ("resume the finished study (whole command)", f"{resume:.2f} s"),
        ("  decide what is stored (index)", f"{decide:.3f} s"),
        ("  read every footer (before the index)", f"{footers:.3f} s ({footers / decide:.0f}x)"),
        ("load, first call (cache built from the files)", f"{cold:.2f} s"),
        ("load, later calls (from the cache)", f"{warm:.2f} s"),
        ("  pq.read_table of every file", f"{files:.2f} s ({files / warm:.0f}x)"),
        ("optbench report (whole command)", f"{report:.1f} s"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the study (default 10000)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each timing (median)")
    args = parser.parse_args(argv)
    if args.runs < len(LRS) or args.repeats < 1:
        parser.error(f"--runs must be >= {len(LRS)} and --repeats >= 1")
    with tempfile.TemporaryDirectory(prefix="optbench-scale-") as tmp:
        rows = measure(args.runs, args.repeats, Path(tmp))
    width = max(len(goal) for goal, _ in rows)
    print(f"store at scale ({os.cpu_count()} cores, Python {sys.version.split()[0]})")
    for goal, figure in rows:
        print(f"{goal:<{width}}  {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
