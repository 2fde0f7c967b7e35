"""The ``optbench score`` command, and ``optbench verify --baselines``.

Kept beside :mod:`optbench.cli` (which registers them) so that the command line of
the scoring protocol reads in one place: arguments, the run, the scorecard.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Callable

EXIT_OK, EXIT_FAILED = 0, 1


def _space_file(path: str) -> dict[str, Any]:
    """The search space of a TOML file: ``name = {log_uniform = [low, high]}`` lines
    (or the same under a ``[space]`` table)."""
    from .search_space import spaces_from_dict
    from .suites import tomllib

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"--space {path}: not valid TOML ({err})") from None
    except UnicodeDecodeError:
        raise ValueError(f"--space {path}: not UTF-8 text") from None
    except OSError as err:
        raise ValueError(f"--space {path}: cannot read it ({err.strerror or err})") from None
    if set(data) == {"space"} and isinstance(data["space"], dict):
        data = data["space"]
    if not data:
        raise ValueError(f"--space {path}: no dimensions; write lines like "
                         "lr = {log_uniform = [1e-4, 1.0]}")
    try:
        return spaces_from_dict(data)
    except ValueError as err:
        raise ValueError(f"--space {path}: {err}") from None


def path_text(text: str) -> str:
    """An ``--out`` value: any path but an empty one (which would silently mean the
    default)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a path, got an empty string")
    return text


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("_.") or "submission"


def _progress(quiet: bool, banner: str) -> Callable[[int, str], Any]:
    """Progress lines per stage; the banner before the first (after every check passed)."""
    from .progress import Progress

    shown: list[bool] = []

    def start(total: int, stage: str) -> Progress:
        if not quiet and not shown:
            sys.stderr.write(banner + "\n")
            shown.append(True)
        return Progress(total, quiet=quiet, label=stage)
    return start


def _scores_text(result: Any) -> str:
    table = result.scores[result.scores["axis"] == "cost"]
    width = max(len(m) for m in table["method"])
    lines = [f"{'method':<{width}}  score  95% interval", f"{'-' * width}  -----  ------------"]
    for row in table.sort_values("score", ascending=False).itertuples():
        mark = "  <- submitted" if row.submission else ""
        lines.append(f"{row.method:<{width}}  {row.score:.3f}  [{row.low:.3f}, {row.high:.3f}]{mark}")
    return "\n".join(lines)


def cmd_score(args: argparse.Namespace) -> int:
    from reports import write_scorecard

    from .score import PROTOCOL, score
    from .store import replace_atomically
    from .study import import_plugins

    import_plugins(args.plugin)
    space = _space_file(args.space) if args.space else None
    fixed = dict(args.set)
    out = Path(args.out) if args.out else Path("results") / "score" / _slug(args.optimizer)
    level = "quick" if args.quick else "full"
    banner = (f"optbench: scoring {args.optimizer} under {PROTOCOL} ({level}, {args.ruleset} ruleset) "
              f"into {out}")
    result = score(args.optimizer, fixed=fixed, space=space, ruleset=args.ruleset, level=level,
                   trials=args.trials, studies=args.studies, seed=args.seed, out=out,
                   rerun_baselines=args.rerun_baselines, jobs=args.jobs, executor=args.executor,
                   scheduler=args.scheduler, plugins=tuple(args.plugin),
                   progress=_progress(args.quiet, banner))
    data = result.to_json()
    replace_atomically(out / "score.json",
                       lambda p: p.write_text(json.dumps(data, indent=1, allow_nan=True) + "\n"))
    tables = {"scores": result.scores, "times": result.times, "profile": result.profile,
              "budget": result.budget, "leave_one_out": result.leave_one_out,
              "workloads": result.workloads}
    page = write_scorecard({**result.meta, "protocol": PROTOCOL, "verdict": result.verdict,
                            "notes": result.notes}, tables, out)
    sys.stdout.write(_scores_text(result) + "\n\n" + result.verdict["cost"]["sentence"] + "\n")
    for note in result.notes:
        sys.stdout.write(f"note: {note}\n")
    sys.stdout.write(f"\nscorecard: {page}\njson:      {out / 'score.json'}\n")
    return EXIT_FAILED if result.meta["submission_errors"] else EXIT_OK


def add_executor_options(p: argparse.ArgumentParser, jobs: Callable[[str], int], plugin_does: str) -> None:
    """``--jobs``, ``--executor``, ``--scheduler`` and ``--plugin`` (whose help ends with
    what the plugin is for), as ``claims`` and ``score`` take them."""
    p.add_argument("--jobs", type=jobs, default=1, metavar="N",
                   help="parallel runs; N > 1 uses a local process pool (default 1)")
    p.add_argument("--executor", choices=("serial", "process", "dask"), default=None,
                   help="as for 'run' (default: serial for --jobs 1, process otherwise)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask scheduler address (tcp://host:8786); implies --executor dask")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help=f"import MODULE first, here and in every worker ({plugin_does}); repeatable")


def add_score_parser(sub: Any, jobs: Callable[[str], int], key_value: Callable[[str], tuple]) -> None:
    """Register ``optbench score``."""
    from .score import DEFAULT_STUDIES, DEFAULT_TRIALS, PROTOCOL, RULESETS

    p = sub.add_parser(
        "score",
        help="score an optimizer against tuned baselines on fixed workloads (a scorecard)",
        description=f"Score OPTIMIZER under {PROTOCOL} (see the README): on fixed workloads with "
        "budgets and targets, in each of --studies studies its --trials configurations (quasi-random "
        "points of its search space) are run; its time to target per workload is the median over "
        "studies of the fastest trial's; the score is the performance profile of those times against "
        "the fastest method, integrated over tau in [1, 4] and normalised to [0, 1], with a bootstrap "
        "interval. It is compared with four tuned baselines (nesterov, heavy_ball, adam, adamw) whose "
        "runs ship with optbench. Writes DIR/scorecard.html and DIR/score.json; runs are stored in "
        "DIR/runs, so an interrupted score resumes.",
        epilog="Exit codes: 0 scored (whatever the verdict), 1 scored but some of the submission's runs "
        "raised an error (they count as misses), 2 bad input (nothing is run).",
    )
    p.add_argument("optimizer", metavar="OPTIMIZER",
                   help="a built-in name (adam), a bridged name (torch:AdamW, pytorch_optimizer:Lion, "
                   "optax:adamw) or one a --plugin registers")
    p.add_argument("--set", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="fix a hyper-parameter (not searched); repeatable")
    p.add_argument("--space", metavar="FILE",
                   help="TOML search space, lines like lr = {log_uniform = [1e-4, 1.0]} (also uniform, "
                   "int_range, choice); default: the optimizer's learning rate over 1e-5..10")
    p.add_argument("--ruleset", choices=RULESETS, default="external",
                   help="external: tuned over the space (default); self: its defaults and --set "
                   "values only, with 3x the budget")
    p.add_argument("--quick", action="store_true",
                   help="the quick protocol: the numpy workloads only (minutes on two cores)")
    p.add_argument("--trials", type=jobs, default=DEFAULT_TRIALS, metavar="K",
                   help=f"configurations per study (default {DEFAULT_TRIALS}; the shipped baselines "
                   f"have {DEFAULT_TRIALS})")
    p.add_argument("--studies", type=jobs, default=DEFAULT_STUDIES, metavar="S",
                   help=f"independent studies (default {DEFAULT_STUDIES}; the shipped baselines "
                   f"have {DEFAULT_STUDIES})")
    p.add_argument("--seed", type=int, default=0,
                   help="protocol seed (default 0, the shipped baselines'; another needs --rerun-baselines)")
    p.add_argument("--rerun-baselines", action="store_true",
                   help="run the baselines here instead of using the shipped runs (needed for a "
                   "seconds axis measured on this machine, another seed, or more trials or studies)")
    p.add_argument("--out", type=path_text, metavar="DIR",
                   help="output directory (default results/score/OPTIMIZER)")
    add_executor_options(p, jobs, "it registers optimizers")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_score)


def verify_baselines(args: argparse.Namespace) -> int:
    """``optbench verify --baselines``: re-run the shipped baseline bundles bit for bit (to
    round-off where they were made with other numerics: see ``verify_bundle``)."""
    from .progress import Progress
    from .score.baselines import ROUND_OFF, bundle_path, numerics_difference, read_bundle, verify_bundle
    from .score.protocol import RULESETS

    rulesets = RULESETS if args.baselines == "all" else (args.baselines,)
    bad = 0
    for ruleset in rulesets:
        bundle = read_bundle(bundle_path(ruleset))
        table = verify_bundle(bundle, jobs=args.jobs, executor="process" if args.jobs > 1 else "serial",
                              progress=Progress(len(bundle.runs), label=f"baselines ({ruleset})"))
        counts = table["result"].value_counts()
        for row in table[table["result"] == "mismatch"].itertuples():
            sys.stdout.write(f"MISMATCH {row.run_id} ({row.method} on {row.workload}): {row.detail}\n")
        sys.stdout.write(f"baselines ({ruleset}): {counts.get('match', 0)} of {len(table)} runs reproduced "
                         "bit for bit (step, cost and metric; time excluded)")
        rounded = int(counts.get("round-off", 0))
        if rounded:
            sys.stdout.write(f", {rounded} to round-off (the same steps, costs and status, the metric "
                             f"within a relative {ROUND_OFF:g}): {numerics_difference(bundle)}")
        sys.stdout.write("\n")
        bad += int(counts.get("mismatch", 0))
    return EXIT_FAILED if bad else EXIT_OK
