"""Ensembles of small nets: the lecture's "beyond training error".

Three ways to beat one trained model at test time, each compared with the single
models it is built from, on the validation split of an ``mlp`` problem:

- **independent ensemble**: K runs from different seeds (different initial nets and
  minibatch orders); their class probabilities are averaged;
- **snapshot ensemble**: one run with a cosine warm-restart schedule (SGDR) of C equal
  cycles; the iterate at the end of each cycle is a snapshot, and the snapshots'
  probabilities are averaged;
- **Polyak averaging**: one run of the same optimizer wrapped in an exponential
  moving average of its weights (``average`` decay), started after a burn-in
  (``average_start``, by default half the run, so that the random initial net keeps
  no weight in it); the averaged weights are evaluated as one model.

Every member run is an ordinary run (a RunSpec) stored in the results directory like
any other, so ``optbench.load`` shows their traces; the comparison itself is written
to ``<results>/ensembles/<id>.parquet``.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .build import build_optimizer, build_problem
from .environment import environment
from .runner import RunResult, run
from .spec import RunSpec
from .store import write_run

#: Columns of the comparison table.
COLUMNS = ["model", "kind", "members", "val_acc", "val_loss"]


def _log_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-300, None)
    return float(-np.mean(np.log(picked)))


def _score(problem: Any, probs: np.ndarray) -> tuple[float, float]:
    labels = problem.y_val
    return float(np.mean(probs.argmax(axis=1) == labels)), _log_loss(probs, labels)


def _execute(spec: RunSpec, snapshots: tuple[int, ...] = ()) -> RunResult:
    problem = build_problem(spec.problem, spec.problem_params)
    optimizer = build_optimizer(spec.optimizer, spec.optimizer_params)
    return run(problem, optimizer, steps=spec.steps, seed=spec.seed,
               record_every=spec.record_every, snapshots=snapshots, **spec.run_options())


def _store(results_dir: str | os.PathLike | None, spec: RunSpec, result: RunResult) -> None:
    if results_dir is None:
        return
    meta = dict(result.meta)
    meta.update(environment=environment(),
                started=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    write_run(results_dir, spec, result.trace, status=result.status, meta=meta)


def compare_ensembles(
    problem_params: dict[str, Any],
    optimizer: str = "adam",
    optimizer_params: dict[str, Any] | None = None,
    *,
    steps: int = 1500,
    seeds: list[int] | tuple[int, ...] = (0, 1, 2, 3, 4),
    cycles: int = 5,
    average: float = 0.995,
    average_start: int | None = None,
    record_every: int = 50,
    results_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Validation accuracy and loss of single models and of each kind of ensemble.

    Parameters
    ----------
    problem_params
        Parameters of the ``mlp`` problem (``dataset``, ``hidden``...).
    optimizer, optimizer_params
        The method every member is trained with (``lr`` a float for the snapshot
        ensemble, which replaces it by a warm-restart schedule starting there).
    steps
        Steps of every run.
    seeds
        Run seeds of the independent members; the snapshot and Polyak runs use the
        first one.
    cycles
        Number of warm-restart cycles (and snapshots) of the snapshot ensemble;
        ``steps`` must be a multiple of it.
    average
        Decay of the Polyak average of the weights.
    average_start
        Its burn-in: the steps before it starts, from that step's iterate
        (:class:`optimizers.Averaged`); ``None`` is ``steps // 2``, ``0`` starts at the
        initial point as the lecture's loop does.
    record_every
        Trace recording interval of the member runs.
    results_dir
        Where the member runs and the table are stored (nothing is stored if None).

    Returns
    -------
    DataFrame
        One row per model (:data:`COLUMNS`): each single member, ``best single`` and
        ``median single``, ``independent ensemble``, each snapshot, ``snapshot
        ensemble`` and ``polyak average``.

    Raises
    ------
    ValueError
        For fewer than two seeds, ``cycles`` that do not divide ``steps``, a schedule
        as ``lr``, or ``average_start`` outside ``0 .. steps - 1``.
    """
    optimizer_params = dict(optimizer_params or {"lr": 1e-3})
    seeds = [int(s) for s in seeds]
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be at least two distinct run seeds, got {seeds!r}")
    if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 2:
        raise ValueError(f"cycles must be an integer >= 2, got {cycles!r}")
    if steps % cycles:
        raise ValueError(f"steps ({steps}) must be a multiple of cycles ({cycles})")
    lr = optimizer_params.get("lr", 1e-3)
    if not isinstance(lr, (int, float)) or isinstance(lr, bool):
        raise ValueError(f"the snapshot ensemble needs a constant starting lr, got {lr!r}")
    start = steps // 2 if average_start is None else average_start
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < steps:
        raise ValueError(f"average_start must be an integer from 0 to steps - 1 = {steps - 1}, "
                         f"got {average_start!r}")
    problem = build_problem("mlp", problem_params)

    def spec(params: dict[str, Any], seed: int) -> RunSpec:
        return RunSpec(problem="mlp", problem_params=problem_params, optimizer=optimizer,
                       optimizer_params=params, seed=seed, steps=steps, record_every=record_every)

    rows: list[dict[str, Any]] = []
    member_probs = []
    for seed in seeds:
        member = spec(optimizer_params, seed)
        result = _execute(member)
        _store(results_dir, member, result)
        probs = problem.predict_proba(result.x, "val")
        member_probs.append(probs)
        rows.append({"model": f"single seed={seed}", "kind": "single", "members": 1,
                     **dict(zip(("val_acc", "val_loss"), _score(problem, probs)))})
    singles = pd.DataFrame(rows)
    best = singles.loc[singles["val_acc"].idxmax()]
    rows.append({**best.to_dict(), "model": "best single", "kind": "summary"})
    rows.append({"model": "median single", "kind": "summary", "members": 1,
                 "val_acc": float(singles["val_acc"].median()),
                 "val_loss": float(singles["val_loss"].median())})
    acc, loss = _score(problem, np.mean(member_probs, axis=0))
    rows.append({"model": "independent ensemble", "kind": "ensemble", "members": len(seeds),
                 "val_acc": acc, "val_loss": loss})

    period = steps // cycles
    restart = {**optimizer_params,
               "lr": {"schedule": "warm_restarts", "lr": float(lr), "T0": period}}
    snap_spec = spec(restart, seeds[0])
    result = _execute(snap_spec, snapshots=tuple(period * (c + 1) for c in range(cycles)))
    _store(results_dir, snap_spec, result)
    snap_probs = []
    for step in sorted(result.snapshots):
        probs = problem.predict_proba(result.snapshots[step], "val")
        snap_probs.append(probs)
        acc, loss = _score(problem, probs)
        rows.append({"model": f"snapshot step={step}", "kind": "snapshot", "members": 1,
                     "val_acc": acc, "val_loss": loss})
    acc, loss = _score(problem, np.mean(snap_probs, axis=0))
    rows.append({"model": "snapshot ensemble", "kind": "ensemble", "members": len(snap_probs),
                 "val_acc": acc, "val_loss": loss})

    averaging = {"average": average, **({"average_start": start} if start else {})}
    avg_spec = spec({**optimizer_params, **averaging}, seeds[0])
    result = _execute(avg_spec)
    _store(results_dir, avg_spec, result)
    acc, loss = _score(problem, problem.predict_proba(result.x_avg, "val"))
    rows.append({"model": f"polyak average decay={average:g} from step {start}", "kind": "average",
                 "members": 1, "val_acc": acc, "val_loss": loss})

    table = pd.DataFrame(rows, columns=COLUMNS)
    if results_dir is not None:
        _store_table(results_dir, table, {
            "problem_params": problem_params, "optimizer": optimizer,
            "optimizer_params": optimizer_params, "steps": steps, "seeds": seeds,
            "cycles": cycles, "average": average, "average_start": start, "record_every": record_every,
        })
    return table


def _store_table(results_dir: str | os.PathLike, table: pd.DataFrame, config: dict[str, Any]) -> Path:
    """Write the comparison atomically to ``<results_dir>/ensembles/<id>.parquet``."""
    ident = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    folder = Path(results_dir) / "ensembles"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{ident}.parquet"
    tmp = folder / f".{ident}.parquet.tmp"
    table.assign(config=json.dumps(config, sort_keys=True)).to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path
