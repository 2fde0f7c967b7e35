"""The ``optbench`` command line.

Exit codes: 0 success; 1 a run or a check failed; 2 bad usage or bad input (one
line on stderr, no traceback); 3 the disk could not take the results (full, over
quota, an I/O error); 130 interrupted; 143 terminated.
"""

from __future__ import annotations

import argparse
import errno
import inspect
import os
import shlex
import signal
import sys
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NoReturn, Sequence


import optimizers
import problems

from . import __version__
from .cli_score import add_executor_options, add_score_parser, path_text, verify_baselines
from .progress import Progress
from .suites import MAX_RUNS, SuiteError, builtin_names, load_suite, validate

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143

#: Errors of a disk that cannot take more (full, over quota, failing): exit EXIT_STORAGE, not
#: EXIT_USAGE, since the input was fine and a rerun with room resumes.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG})


class UsageError(Exception):
    """Bad usage or bad input: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one clear line instead of usage + error
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _signature(factory) -> str:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return "(...)"
    parts = []
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            parts.append("**params")
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    return "(" + ", ".join(parts) + ")"


def _first_line(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _bridged_names_help() -> str:
    """The ``PACKAGE:NAME`` lines of ``optbench list``: each known package, and whether
    it is installed here (found, not imported)."""
    import importlib.util

    from optimizers import frameworks

    lines = ["bridged optimizers (PACKAGE:NAME, with the class's own keyword arguments, "
             "e.g. torch:AdamW, pytorch_optimizer:Lion, optax:adamw):\n"]
    for prefix, (module, _, extra) in frameworks.PACKAGES.items():
        top = module.split(".")[0]
        here = "installed" if importlib.util.find_spec(top) is not None else \
            f"not installed: pip install 'optbench[{extra}]'"
        lines.append(f"  {prefix}:NAME  an optimizer of {module} ({here})\n")
    return "".join(lines)


def cmd_list(args: argparse.Namespace) -> int:
    if args.family == "cutest":
        return _list_cutest(args.max_dim, args.classification)
    if args.max_dim is not None or args.classification is not None:
        raise UsageError("--max-dim and --classification filter 'optbench list cutest'")
    out = sys.stdout
    for title, registry in (("problems", problems), ("optimizers", optimizers)):
        out.write(f"{title}:\n")
        for name in registry.names():
            factory = registry.factory(name)
            out.write(f"  {name}{_signature(factory)}\n")
            line = _first_line(factory)
            if line:
                out.write(f"      {line}\n")
    out.write("  (every optimizer table in a suite also takes average = DECAY: Polyak averaging,\n"
              "   and average_start = STEPS: its burn-in, the steps before it starts)\n")
    out.write(_bridged_names_help())
    out.write("schedules (lr = {schedule = NAME, ...}):\n")
    for name in optimizers.schedules.names():
        out.write(f"  {name}{_signature(optimizers.schedules.factory(name))}\n")
    out.write("built-in suites:\n")
    for name in builtin_names():
        try:
            suite = load_suite(name)
        except SuiteError as err:  # the frameworks suite without the torch or jax extra
            out.write(f"  {name}: cannot be used here: {str(err).split(': ', 1)[-1]}\n")
            continue
        out.write(f"  {name}: {len(suite.specs)} runs. {suite.description}\n")
    return EXIT_OK


def _list_cutest(max_dim: int | None, classification: str | None) -> int:
    """``optbench list cutest``: one line per unconstrained CUTEst problem (those that
    ``problems.cutest.select`` keeps for the filters, excluded ones included, with
    their reason), then a count."""
    from problems import cutest

    kept = set(cutest.select(max_dim=max_dim, classification=classification, include_excluded=True))
    records = cutest.catalogue()
    rows = [("name", "dim", "other sizes", "classification", "f_star", "excluded")]
    rows += [
        (r["name"], str(r["dim"]), ",".join(map(str, r["sizes"][1:])) or "-",
         r["classification"] or "-", "known" if r["f_star"] is not None else "-",
         r["excluded"] or "-")
        for r in records if r["name"] in kept
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        cells = [f"{row[i]:>{widths[i]}}" if i == 1 else f"{row[i]:<{widths[i]}}" for i in range(5)]
        sys.stdout.write("  ".join(cells + [row[5]]).rstrip() + "\n")
    filters = [f"max_dim {max_dim}"] if max_dim is not None else []
    filters += [f"classification {classification!r}"] if classification is not None else []
    excluded = sum(r["excluded"] is not None for r in records if r["name"] in kept)
    sys.stdout.write(
        f"{len(rows) - 1} of {len(records)} unconstrained CUTEst problems"
        + (f" ({', '.join(filters)})" if filters else "")
        + f"; {excluded} excluded (select leaves them out unless include_excluded = true)\n"
    )
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from reports import format_summary, summary_table  # light: no matplotlib until a report

    from .store import load
    from .study import import_plugins, plan, pool_context, run_study

    import_plugins(args.plugin)
    if args.executor in ("process", "dask") and args.jobs > 1 and args.scheduler is None:
        # start the workers' fork server now: its imports overlap reading the suite
        pool_context(tuple(args.plugin))
    if args.suite == "claims" and not Path(args.suite).is_file():
        raise UsageError("'claims' is not a suite: run the lecture's claims with 'optbench claims' "
                         "(see 'optbench claims --help')")
    suite = load_suite(args.suite, max_runs=args.max_runs)
    validate(suite)
    out = Path(args.out) if args.out else Path("results") / suite.name
    for note in suite.skipped:
        sys.stderr.write(f"optbench: skipping {note}\n")
    found = plan(suite.specs, out)
    progress = Progress(len(found.todo), quiet=args.quiet)
    tuning = suite.tune is not None or args.command == "tune"
    if not args.quiet and not tuning:
        stale = f" ({found.describe_stale()})" if found.stale else ""
        sys.stderr.write(
            f"optbench: suite {suite.name!r}: {len(suite.specs)} runs, {len(found.skipped)} already "
            f"stored in {out}, {len(found.todo)} to run{stale} ({args.executor}, jobs={args.jobs})\n"
        )
    if tuning:
        order, errors = _tune_suite(suite, out, args)
    else:
        outcomes = run_study(suite.specs, out, jobs=args.jobs, executor=args.executor,
                             progress=progress, scheduler=args.scheduler,
                             plugins=tuple(args.plugin), planned=found)
        # this suite's runs only, in the suite's order (problems, then optimizers)
        order = {spec.run_id(): i for i, spec in enumerate(suite.specs)}
        errors = [o for o in outcomes if o.status == "error"]
    data = load(out)
    data = data[data["run_id"].isin(order.keys())]
    data = data.iloc[data["run_id"].map(order).argsort(kind="stable")]
    table = summary_table(data)
    sys.stdout.write(format_summary(table) + "\n")
    if not tuning and found.stale:
        sys.stdout.write(f"\n{found.describe_stale()} (stored by other code)\n")
    if not args.no_report:
        from reports import build_report

        report = build_report(out, out / "report.html", title=f"optbench: {suite.name}",
                              command=f"optbench report {shlex.quote(str(out))}")
        sys.stdout.write(f"\nresults: {out}\nreport:  {report}\n")
    for o in errors:
        sys.stderr.write(f"optbench: run failed: {o.describe()}\n")
    return EXIT_FAILED if errors else EXIT_OK


def _tune_suite(suite, out: Path, args: argparse.Namespace):
    """Tune every optimizer table on every problem table of ``suite`` with the same
    budget, then evaluate each choice on the suite's seeds.  Returns the evaluation
    run ids (in suite order) and the failed runs among them."""
    from .store import read_meta, run_path
    from .study import Outcome
    from .suites import TUNE_DEFAULTS
    from .tuning import default_space, spaces_from_dict, summary_table, tune

    settings = suite.tune or dict(TUNE_DEFAULTS, search_seeds=[max(suite.seeds) + 1000])
    results = []
    order: dict[str, int] = {}
    errors = []
    for pname, pparams in suite.problem_configs:
        for oname, oparams in suite.optimizer_configs:
            if not any(s.problem == pname and s.problem_params == pparams and s.optimizer == oname
                       and s.optimizer_params == oparams for s in suite.specs):
                continue  # a pair validate() left out
            # the tuned parameters: the suite's space for this optimizer, else the default;
            # the table's values for them are replaced by the search, the rest are fixed
            if oname in settings["space"]:
                space = spaces_from_dict(settings["space"][oname])
            else:
                space = default_space(oname)
            fixed = {k: v for k, v in oparams.items() if k not in space}
            progress = None if args.quiet else (
                lambda n, stage: Progress(n, label=stage))
            if not args.quiet:
                sys.stderr.write(f"optbench: tuning {oname} on {pname} {pparams}\n")
            result = tune(
                pname, pparams, oname, space=space, fixed=fixed,
                method=settings["method"], budget=settings["budget"],
                rounds=settings["rounds"], shrink=settings["shrink"],
                grid_points=settings["grid_points"], steps=suite.steps,
                record_every=suite.record_every, options=suite.options,
                search_seeds=settings["search_seeds"], eval_seeds=suite.seeds,
                objective=settings["objective"], target=settings["target"],
                search_seed=settings["search_seed"], results_dir=out, jobs=args.jobs,
                executor=args.executor, scheduler=args.scheduler, progress=progress,
                plugins=tuple(args.plugin),
            )
            results.append(result)
            for rid in result.evaluation_run_ids:
                order.setdefault(rid, len(order))
                record = read_meta(run_path(out, rid))
                if record.get("status") == "error":
                    errors.append(Outcome(rid, pname, oname, record["spec"]["seed"], "error",
                                          record.get("error")))
    table = summary_table(results)
    sys.stdout.write("tuning (search on seeds " + ", ".join(map(str, settings["search_seeds"]))
                     + "; the choice re-run on seeds " + ", ".join(map(str, suite.seeds))
                     + ", and only those runs count below):\n")
    shown = table[["optimizer", "chosen", "search_score", "eval_median", "budget_runs",
                   "budget_n_grad", "warnings"]]
    sys.stdout.write(shown.to_string(index=False) + "\n\n")
    return order, errors


def _claim_rows(results) -> list[tuple[str, str, str, str]]:
    """``(#, key, verdict, summary)`` per claim: a check's verdict says so, and the
    summary starts with the verdict's map over its deciding setting, where it has one."""
    from .claims import verdict_text

    return [(str(r.claim.number or "-"), r.key, r.outcome + (" (check)" if r.claim.kind == "check" else ""),
             verdict_text(r.verdict.by_setting, r.verdict.summary)) for r in results]


def _tally(results) -> str:
    """``"12 holds, 1 does not hold, 0 inconclusive"`` over the claims; the checks (properties
    verified, not evidence) are counted apart: ``"; checks: 2 of 2 hold"``."""
    from .claims import OUTCOMES

    claims = [r for r in results if r.claim.kind != "check"]
    checks = [r for r in results if r.claim.kind == "check"]
    text = ", ".join(f"{sum(r.outcome == o for r in claims)} {o}" for o in OUTCOMES)
    if checks:
        held = sum(r.outcome == OUTCOMES[0] for r in checks)
        text += f"; checks: {held} of {len(checks)} hold"
    return text


def _verdict_table(rows: list[tuple[str, str, str, str]]) -> str:
    """``  #  claim  verdict  summary`` with the summary wrapped under its column."""
    import textwrap

    header = ("#", "claim", "verdict", "summary")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    indent = sum(widths) + 2 * 3 + 2
    lines = []
    for row in [header, *rows]:
        lead = "  " + "  ".join(f"{row[i]:>{widths[i]}}" if i == 0 else f"{row[i]:<{widths[i]}}"
                                for i in range(3)) + "  "
        summary = textwrap.wrap(row[3], width=max(110 - indent, 40)) or [""]
        lines.append(lead + summary[0])
        lines.extend(" " * indent + more for more in summary[1:])
    return "\n".join(lines)


def cmd_claims(args: argparse.Namespace) -> int:
    """``optbench claims``: list the claims, or run them and print their verdicts."""
    from .claims import Budget
    from .claims.execute import DEFAULT_RESULTS, run_claims, select, verdicts_path
    from .study import import_plugins

    import_plugins(args.plugin)  # user claims exist before they are selected
    selected = select(args.only)
    Budget.default(args.quick, args.seeds)  # bad seeds: one line, before anything is said
    if args.list:
        out = sys.stdout
        out.write(f"claims ({len(selected)}):\n")
        for claim in selected:
            out.write(f"  {claim.number or '-':>2}  {claim.key}"
                      f"{'  (check)' if claim.kind == 'check' else ''}\n")
            for label, text in (("", claim.statement), ("experiment: ", claim.experiment),
                                ("statistic: ", claim.statistic)):
                out.write(_wrapped(label + text, "        ") + "\n")
        return EXIT_OK
    out_dir = Path(args.out) if args.out else DEFAULT_RESULTS
    progress = None if args.quiet else (lambda n, stage: Progress(n, label=stage))
    if not args.quiet:
        sys.stderr.write(f"optbench: {len(selected)} claims{' (quick)' if args.quick else ''} "
                         f"into {out_dir} ({args.executor}, jobs={args.jobs})\n")
    results = run_claims([c.key for c in selected], out_dir, quick=args.quick, seeds=args.seeds,
                         jobs=args.jobs, executor=args.executor, scheduler=args.scheduler,
                         progress=progress, plugins=tuple(args.plugin))
    sys.stdout.write(_verdict_table(_claim_rows(results)) + "\n")
    sys.stdout.write(f"\n{_tally(results)}\nresults:  {out_dir}\nverdicts: {verdicts_path(out_dir)}\n")
    if args.report:
        from reports import build_report

        report = build_report(out_dir, Path(args.report), title="optbench: claims",
                              command=f"optbench report {shlex.quote(str(out_dir))} "
                              f"--out {shlex.quote(str(args.report))}"
                              + "".join(f" --plugin {shlex.quote(m)}" for m in args.plugin))
        sys.stdout.write(f"report:   {report}\n")
    broken = [r for r in results if r.error]
    failed_runs = [(r.key, rid) for r in results for rid in r.failed_runs]
    for r in broken:
        sys.stderr.write(f"optbench: claim {r.key} not decided: {r.error}\n")
    for key, rid in dict.fromkeys(failed_runs):
        sys.stderr.write(f"optbench: claim {key}: run {rid} failed (status error)\n")
    return EXIT_FAILED if broken or failed_runs else EXIT_OK


def _wrapped(text: str, indent: str) -> str:
    import textwrap

    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent)


def cmd_report(args: argparse.Namespace) -> int:
    from reports import build_report

    from .study import import_plugins

    import_plugins(args.plugin)  # claims registered there draw their own figures
    directory = Path(args.dir)
    if not directory.is_dir():
        raise UsageError(f"results directory not found: {directory}")
    path = build_report(directory, Path(args.out) if args.out else None)
    sys.stdout.write(f"report: {path}\n")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from .environment import environment
    from .store import environment_key
    from .verify import verify

    if args.baselines:
        if args.dir is not None:
            raise UsageError("give either DIR or --baselines, not both")
        return verify_baselines(args)
    if args.dir is None:
        raise UsageError("give a results directory DIR (or --baselines to check the shipped baseline runs)")
    directory = Path(args.dir)
    if not directory.is_dir():
        raise UsageError(f"results directory not found: {directory}")
    table = verify(directory, sample=args.sample, seed=args.seed, plugins=tuple(args.plugin))
    if table.empty:
        sys.stdout.write(f"no runs in {directory}\n")
        return EXIT_OK
    shown = table.drop(columns=["detail"]).assign(
        same_environment=table["same_environment"].map({True: "yes", False: "NO", None: "?"}))
    sys.stdout.write(shown.to_string(index=False) + "\n")
    bad = table[table["result"].isin(["mismatch", "corrupt", "plugin missing"])]
    for row in bad.itertuples():
        sys.stdout.write(f"{row.result.upper()} {row.run_id}: {row.detail}\n")
    checked = int((~table["result"].isin(["not rerun", "plugin missing"])).sum())
    matched = int((table["result"] == "match").sum())
    sys.stdout.write(f"{matched} of {checked} runs reproduced bit for bit (time excluded)\n")
    other = table[table["same_environment"] == False]  # noqa: E712 (None means unknown)
    if len(other):
        sys.stdout.write(
            f"{len(other)} runs were made in another environment than this one "
            f"({environment_key(environment())}); that can explain a mismatch\n")
    return EXIT_FAILED if len(bad) else EXIT_OK


def cmd_ensemble(args: argparse.Namespace) -> int:
    from .ensembles import compare_ensembles
    from .suites import validate_params

    problem_params = {"dataset": args.dataset, "hidden": args.hidden,
                      "activation": args.activation, "init": args.init,
                      "batch_size": args.batch_size, **dict(args.problem_param)}
    optimizer_params = {"lr": args.lr, **dict(args.optimizer_param)}
    if args.steps % args.cycles:
        raise UsageError(f"--steps ({args.steps}) must be a multiple of --cycles ({args.cycles})")
    if args.average_start is not None and args.average_start >= args.steps:
        raise UsageError(f"--average-start must be less than --steps ({args.steps}), "
                         f"got {args.average_start}")
    validate_params("problems", "mlp", problem_params)
    validate_params("optimizers", args.optimizer, optimizer_params)
    out = Path(args.out)
    table = compare_ensembles(
        problem_params, args.optimizer, optimizer_params, steps=args.steps,
        seeds=list(range(args.members)), cycles=args.cycles, average=args.average,
        average_start=args.average_start, results_dir=out,
    )
    sys.stdout.write(table.to_string(index=False, float_format=lambda v: f"{v:.4f}") + "\n")
    sys.stdout.write(f"\nmember runs and the table (ensembles/): {out}\n")
    return EXIT_OK


def _key_value(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE read as a TOML value (``64``, ``[64, 64]``, ``true``,
    ``"digits"``); a bare word is taken as text."""
    from .suites import tomllib

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    return key.strip(), parsed


def _widths(text: str) -> list[int]:
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected widths like 64 or 128,128, got {text!r}") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"widths must be integers >= 1, got {text!r}")
    return widths


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return parse


def _integer_at_least(minimum: int):
    """An argparse type: an integer >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value
    return parse


#: Parallel jobs, and a number of steps that may be 0.
_jobs = _integer_at_least(1)
_step_count = _integer_at_least(0)


def _run_options(p: argparse.ArgumentParser) -> None:
    """The arguments ``run`` and ``tune`` share."""
    p.add_argument("suite", nargs="?", default="quick",
                   help="a TOML suite file or a built-in suite "
                   f"({', '.join(builtin_names())}); default quick. The lecture's claims are "
                   "not a suite: 'optbench claims' runs them")
    p.add_argument("--out", type=path_text, metavar="DIR",
                   help="results directory (default results/SUITE_NAME)")
    p.add_argument("--jobs", type=_jobs, default=1, metavar="N",
                   help="parallel runs; N > 1 uses a local process pool (default 1)")
    p.add_argument("--executor", choices=("serial", "process", "dask"), default=None,
                   help="serial; process (a local pool of --jobs workers); dask (the cluster "
                   "at --scheduler, or a LocalCluster of --jobs workers). Default: serial for "
                   "--jobs 1, process otherwise")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask scheduler address (tcp://host:8786); implies --executor dask")
    p.add_argument("--no-report", action="store_true", help="do not write report.html")
    p.add_argument("--max-runs", type=_jobs, default=MAX_RUNS, metavar="N",
                   help=f"refuse a suite of more than N runs (its grids are counted, never expanded, "
                   f"before anything runs; also the bound of [tune] budget); default {MAX_RUNS}")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import MODULE in every process first (it registers user problems "
                   "or optimizers; found in the working directory first, as python -m does); "
                   "repeatable. Nothing else is imported by name, except the known optimizer "
                   "packages of bridged names (torch:, pytorch_optimizer:, heavyball:, "
                   "schedulefree:, prodigyopt:, optax:)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="optbench",
        description="Benchmark optimizers on standard problems, reproducibly.",
        epilog="Exit codes: 0 ok, 1 a run or check failed, 2 bad usage or input, 3 the disk could not "
        "take the results (full, quota, I/O error), 130 interrupted (Ctrl-C), 143 terminated "
        "(SIGTERM); finished runs are kept in every case.",
    )
    parser.add_argument("--version", action="version", version=f"optbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    p = sub.add_parser(
        "list",
        help="problems, optimizers, schedules and built-in suites; 'list cutest': the CUTEst problems",
        description="Without FAMILY: every problem and optimizer family with its parameters "
        "and defaults, the schedules and the built-in suites. 'optbench list cutest': one line "
        "per unconstrained CUTEst problem (name, default dim, the other sizes S2MPJ offers, "
        "classification, whether f_star is known, why it is excluded if it is), filtered as a "
        "suite's select = {max_dim = N, classification = \"GLOB\"} filters them; needs the "
        "cutest extra.",
    )
    p.add_argument("family", nargs="?", choices=("cutest",), metavar="FAMILY",
                   help="cutest: list the problems of that collection")
    p.add_argument("--max-dim", type=_jobs, metavar="N",
                   help="with cutest: the problems of default dimension <= N")
    p.add_argument("--classification", metavar="GLOB",
                   help="with cutest: the problems whose classification matches GLOB "
                   "(fnmatch, e.g. 'C-CS*' or '*-AN-*')")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser(
        "run",
        help="run a suite (default: the built-in quick suite)",
        description="Run a study. Runs already stored in --out are skipped, so an "
        "interrupted study resumes where it stopped.",
    )
    _run_options(p)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser(
        "tune",
        help="search each optimizer's hyper-parameters, then re-run the choice on fresh seeds",
        description="Tune every optimizer of a suite on every problem with the same budget "
        "(the suite's [tune] table; defaults: random search of lr over 1e-5..10, 20 runs), "
        "then re-run each chosen configuration on the suite's seeds, which the search never "
        "saw: only those runs count in the summary and the report. Runs already stored in "
        "--out are reused.",
    )
    _run_options(p)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser(
        "claims",
        help="run the lecture's claims as experiments and print a verdict for each",
        description="Run each claim's experiment (its arms: seeded runs, stored like any "
        "study and shared between claims, all in one study on --jobs workers), apply its "
        "criterion and print a verdict per claim: holds, does not hold, or inconclusive. "
        "Runs already stored in --out are reused, so an interrupted run resumes. Verdicts "
        "go to --out/claims/verdicts.json (a claim's entry is replaced, the others kept), "
        "measured tables to --out/claims/KEY/. Exit 1 when a claim could not be decided "
        "(its code raised) or a run failed, after all the others were.",
        epilog="'optbench run claims' points here: the claims are not a suite.",
    )
    p.add_argument("--quick", action="store_true",
                   help="the smaller experiments (CI size; seeds 0-4 unless --seeds)")
    p.add_argument("--only", nargs="+", action="extend", metavar="KEY",
                   help="run (or --list) only these claims; repeatable")
    p.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                   help="run seeds of every arm, at least 2 distinct (default 0-7; 0-4 with --quick)")
    p.add_argument("--out", type=path_text, metavar="DIR",
                   help="results directory (default results/claims, as 'run' uses results/SUITE)")
    add_executor_options(p, _jobs, "it registers claims with optbench.claims.register, or problems "
                         "and optimizers")
    p.add_argument("--report", metavar="FILE", help="also write the HTML report of --out to FILE")
    p.add_argument("--list", action="store_true",
                   help="list the claims (number, key, statement, experiment) and run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_claims)
    p = sub.add_parser(
        "report", help="write the HTML report of a results directory",
        description="Write an HTML page from the runs stored in DIR, its figures as PNG and "
        "SVG files in the folder beside it (report_figures/ for report.html; click a figure "
        "to open it full size): an overview (runs, failures, divergences, the environment), per problem the "
        "convergence curves, performance and data profiles, rankings with bootstrap intervals, "
        "trajectories of 2-D problems, tuning and schedules where the study has them, and the "
        "lecture's claims where DIR holds their verdicts. No optimizer is run: the report is "
        "drawn from the stored runs alone. Exit 2 when DIR is not a results directory.")
    p.add_argument("dir", metavar="DIR", help="results directory")
    p.add_argument("--out", type=path_text, metavar="FILE", help="output file (default DIR/report.html)")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import MODULE first (user claims registered there draw their figures)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser(
        "ensemble",
        help="validation accuracy of single nets, independent and snapshot ensembles, Polyak averaging",
        description="Train an mlp problem several ways and compare, on the validation split, "
        "the single models, an independent ensemble (--members seeds), a snapshot ensemble "
        "(one warm-restart run with --cycles snapshots) and the Polyak average of the weights. "
        "Member runs are stored in --out like any other run; the table in --out/ensembles/.",
    )
    p.add_argument("--dataset", choices=("digits", "spiral"), default="digits")
    p.add_argument("--hidden", type=_widths, default=[64], metavar="W[,W...]",
                   help="hidden widths (default 64)")
    p.add_argument("--activation", default="relu", help="default relu")
    p.add_argument("--init", default="he", help="default he")
    p.add_argument("--batch-size", type=_positive(int), default=64, help="default 64")
    p.add_argument("-p", "--problem-param", type=_key_value, action="append", default=[],
                   metavar="KEY=VALUE", help="another mlp parameter, e.g. -p batchnorm=true")
    p.add_argument("--optimizer", default="adam", help="default adam")
    p.add_argument("--lr", type=_positive(float), default=1e-3, help="default 1e-3")
    p.add_argument("-o", "--optimizer-param", type=_key_value, action="append", default=[],
                   metavar="KEY=VALUE", help="another optimizer parameter, e.g. -o beta1=0.8")
    p.add_argument("--steps", type=_positive(int), default=1500, help="steps per run (default 1500)")
    p.add_argument("--members", type=_positive(int), default=5,
                   help="independent members, seeds 0..K-1 (default 5)")
    p.add_argument("--cycles", type=_positive(int), default=5,
                   help="warm-restart cycles and snapshots (default 5; divides --steps)")
    p.add_argument("--average", type=float, default=0.995, help="Polyak decay (default 0.995)")
    p.add_argument("--average-start", type=_step_count, default=None, metavar="STEPS",
                   help="the Polyak average's burn-in: it starts from the iterate after STEPS "
                   "steps (default half of --steps; 0 starts at the initial point)")
    p.add_argument("--out", type=path_text, metavar="DIR", default="results/ensembles",
                   help="results directory (default results/ensembles)")
    p.set_defaults(func=cmd_ensemble)
    p = sub.add_parser("verify", help="re-run stored runs and compare their traces bit for bit",
                       description="Re-run stored runs from their specs and compare every "
                       "trace column except time bit for bit. Exit 1 on any mismatch, "
                       "unreadable file, or run made with a --plugin module not given here "
                       "(it is named, and not re-run).")
    p.add_argument("dir", metavar="DIR", nargs="?", help="results directory")
    p.add_argument("--baselines", nargs="?", const="all", choices=("all", "external", "self"),
                   help="instead of DIR: re-run the baseline runs shipped for 'optbench score' "
                   "(RULESET: external, self or all, the default)")
    p.add_argument("--jobs", type=_jobs, default=1, metavar="N",
                   help="with --baselines: parallel runs (default 1)")
    p.add_argument("--sample", type=_jobs, metavar="K", help="check a seeded sample of K runs")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import MODULE first (it registers user problems or optimizers)")
    p.set_defaults(func=cmd_verify)
    add_score_parser(sub, _jobs, _key_value)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings (a corrupt run file, mixed environments) as one line each."""
    sys.stderr.write(f"optbench: warning: {message}\n")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it stops as on Ctrl-C."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


@contextmanager
def _sigterm_stops() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` for the block (in the main thread only;
    elsewhere signals cannot be handled), then the old handler is restored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def main(argv: Sequence[str] | None = None) -> int:
    with warnings.catch_warnings(), _sigterm_stops():  # both restored when main returns
        warnings.showwarning = _show_warning
        return _main(argv)


def _quiet_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's final flush of a
    closed pipe does not print a second error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        if getattr(args, "executor", "") is None:
            if args.scheduler:
                args.executor = "dask"
            else:
                args.executor = "process" if args.jobs > 1 else "serial"
        if getattr(args, "scheduler", None) and args.executor != "dask":
            raise UsageError(f"--scheduler goes with --executor dask, not {args.executor}")
        return args.func(args)
    except UsageError as err:
        sys.stderr.write(f"optbench: error: {err}\n")
        return EXIT_USAGE
    except BrokenPipeError:  # `optbench list cutest | head`: the reader has enough
        _quiet_stdout()
        return 0
    except OSError as err:
        if err.errno not in STORAGE_ERRNOS:
            sys.stderr.write(f"optbench: error: {err}\n")
            return EXIT_USAGE
        # a full disk is not bad input: what was stored is whole and kept
        sys.stderr.write(f"\noptbench: error: {err}; what was stored is kept, make room and run again "
                         "to resume\n")
        return EXIT_STORAGE
    except (SuiteError, ValueError) as err:
        sys.stderr.write(f"optbench: error: {err}\n")
        return EXIT_USAGE
    except ImportError as err:  # a --plugin module that cannot be imported
        sys.stderr.write(f"optbench: error: {err}\n")
        return EXIT_USAGE
    except KeyboardInterrupt as stop:
        how = "terminated" if isinstance(stop, Terminated) else "interrupted"
        sys.stderr.write(f"\noptbench: {how}; finished runs are stored, run again to resume\n")
        return EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
