"""Set the targets of optbench-score v1: writes ``optbench/score/data/targets_v1.csv``.

The rule (AlgoPerf's way of setting targets, from the tuned baselines with a large
search), chosen so that a baseline tuned with the protocol's small search reaches its
target in most studies:

1. every baseline of the protocol is tuned on every workload with a large search:
   the first ``TRIALS`` (20) points of a scrambled Halton sequence over its space
   (seeded ``[TARGET_SEED, 0]``), each configuration run on ``SEEDS`` (3) run seeds
   (``optbench.score.protocol.run_seed(TARGET_SEED, r, k)``: seeds the score never
   uses), with the workload's budget and no early stop;
2. a configuration's value is the median over its seeds of the best metric value
   recorded within the budget;
3. a baseline's value is that of its ``TOP`` (4)-th best configuration: the value its
   best fifth of configurations reach, so that a search of K = 5 points from its space
   includes one as good with probability 1 - 0.8 ** 5 = 0.67;
4. the target is the best baseline's value;
5. on a ``subopt`` workload the target is at least ``FLOOR`` (1e-12) times the median
   suboptimality at x0: below that, round-off rather than the method decides.

Run from the repository root: ``python scripts/score_targets.py [--jobs 2] [--out DIR]``
(the runs are stored in ``--out``, so an interrupted run resumes).  The baseline
bundle must be rebuilt afterwards (``scripts/score_baselines.py``): its runs stop at
the targets.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys

import numpy as np

from optbench.progress import Progress
from optbench.samplers import quasi_random_trials
from optbench.score.protocol import BASELINES, PROTOCOL, run_seed
from optbench.score.time_to_target import trim
from optbench.score.workloads import TARGETS_FILE, WORKLOADS
from optbench.store import read_run, run_path
from optbench.study import run_study

TARGET_SEED = 9
TRIALS = 20
SEEDS = 3
FLOOR = 1e-12
TOP = 4


def _configs(baseline):
    return quasi_random_trials(baseline.space, TRIALS, [TARGET_SEED, 0])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="results/score-targets")
    parser.add_argument("--workload", action="append", help="only these workloads (default: all)")
    args = parser.parse_args(argv)
    chosen = [w for w in WORKLOADS if not args.workload or w.name in args.workload]
    rows = {}
    if TARGETS_FILE.exists():
        with TARGETS_FILE.open(newline="") as f:
            rows = {r["workload"]: r for r in csv.DictReader(line for line in f if not line.startswith("#"))}
    for w in chosen:
        if not w.available():
            print(f"skipping {w.name}: {w.requires} is not installed", file=sys.stderr)
            continue
        planned = []
        for b in BASELINES:
            for k, params in enumerate(_configs(b)):
                for r in range(SEEDS):
                    spec = w.spec(b.optimizer, {**b.fixed, **params}, run_seed(TARGET_SEED, r, k),
                                  target=math.nan)
                    planned.append((b.name, k, params, spec))
        specs = [p[3] for p in planned]
        run_study(specs, args.out, jobs=args.jobs, executor="process" if args.jobs > 1 else "serial",
                  progress=Progress(len(specs), label=w.name))
        values, x0 = {}, []
        for name, k, params, spec in planned:
            trace, record = read_run(run_path(args.out, spec.run_id()))
            t = trim(trace, record.get("cost_model"), w.metric)
            x0.append(float(t["value"].iloc[0]))
            within = t[t["cost"] <= w.budget]["value"].to_numpy(dtype=float)
            best = float(np.min(within[np.isfinite(within)])) if np.isfinite(within).any() else math.inf
            values.setdefault(name, {}).setdefault((k, json.dumps(params, sort_keys=True)), []).append(best)
        chosen = {}
        for name, configs in values.items():
            ranked = sorted((float(np.median(v)), key) for key, v in configs.items())
            chosen[name] = ranked[TOP - 1]
        name = min(chosen, key=lambda n: chosen[n][0])
        best, (k, params) = chosen[name]
        value_x0 = float(np.median(x0))
        target, rule = best, f"the best baseline's {TOP}th best configuration of {TRIALS}, within the budget"
        if w.metric == "subopt" and best < FLOOR * value_x0:
            target, rule = FLOOR * value_x0, f"floor: {FLOOR:g} x the suboptimality at x0"
        rows[w.name] = {"workload": w.name, "metric": w.metric, "target": repr(target),
                        "value_x0": repr(value_x0), "rule": rule, "best_baseline": name,
                        "best_params": params, "best_value": repr(best), "budget": w.budget}
        print(f"{w.name}: target {target:.6g} ({rule}; {name} {params})", file=sys.stderr)
    fields = ["workload", "metric", "target", "value_x0", "rule", "best_baseline", "best_params",
              "best_value", "budget"]
    TARGETS_FILE.parent.mkdir(parents=True, exist_ok=True)
    with TARGETS_FILE.open("w", newline="") as f:
        f.write(f"# Targets of {PROTOCOL}, by scripts/score_targets.py (its docstring has the rule):\n")
        f.write(f"# {TRIALS} Halton trials per baseline, {SEEDS} seeds each; the best baseline's {TOP}th "
                f"best configuration within the budget; floor {FLOOR:g} x subopt(x0).\n")
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for w in WORKLOADS:
            if w.name in rows:
                writer.writerow({k: rows[w.name].get(k, "") for k in fields})
    return 0


if __name__ == "__main__":
    sys.exit(main())
