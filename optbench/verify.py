"""Re-run stored runs from their specs and compare the traces bit for bit.

Every trace column except ``time`` must be identical (NaN equal to NaN).  A
mismatch is reported with the first differing step and column, and with whether the
run was made in a different environment (optbench version, python, numpy, scipy,
BLAS), which can explain it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .build import execute
from .environment import environment
from .spec import RunSpec
from .store import CorruptRunFile, environment_key, read_run, run_files
from .code_identity import stale_because
from .plugins import import_plugins

#: Columns of :func:`verify`'s table.
COLUMNS = ["run_id", "problem", "optimizer", "seed", "result", "detail", "same_environment"]


def first_mismatch(stored: pd.DataFrame, fresh: pd.DataFrame) -> str | None:
    """Where two traces first differ (``time`` excluded), or None if identical."""
    if list(stored.columns) != list(fresh.columns):
        return f"columns differ: {list(stored.columns)} vs {list(fresh.columns)}"
    if len(stored) != len(fresh):
        return f"{len(stored)} stored rows vs {len(fresh)} now"
    for col in stored.columns:
        if col == "time":
            continue
        a, b = stored[col].to_numpy(), fresh[col].to_numpy()
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            a, b = a.astype(float), b.astype(float)
            same = (a == b) | (np.isnan(a) & np.isnan(b))
        else:
            same = a == b
        if not np.all(same):
            i = int(np.argmin(same))
            return (f"column {col!r} first differs at step {stored['step'].iloc[i]}: "
                    f"stored {a[i]!r}, now {b[i]!r}")
    return None


def verify(
    results_dir: str | os.PathLike,
    *,
    sample: int | None = None,
    seed: int = 0,
    plugins: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Re-run the runs of ``results_dir`` (all, or a seeded sample of ``sample``).

    Returns one row per checked file (:data:`COLUMNS`); ``result`` is ``match``,
    ``mismatch``, ``corrupt`` (the file cannot be read), ``not rerun`` (a stored
    error run: there is no trace to compare) or ``plugin missing`` (the run was made
    with a ``--plugin`` module that is not imported here: nothing is re-run).  A
    mismatch of a run whose problem's or optimizer's code has changed since it was
    stored says so.
    """
    import_plugins(plugins)
    files = run_files(results_dir)
    if sample is not None:
        if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
            raise ValueError(f"sample must be an integer >= 1, got {sample!r}")
        if sample < len(files):
            rng = np.random.default_rng(seed)
            files = sorted(rng.choice(np.array(files, dtype=object), size=sample, replace=False))
    here = environment_key(environment(), _current_format())
    rows = []
    for path in files:
        try:
            stored, record = read_run(path)
        except CorruptRunFile as err:
            rows.append({"run_id": Path(path).stem, "problem": None, "optimizer": None,
                         "seed": None, "result": "corrupt", "detail": str(err),
                         "same_environment": None})
            continue
        spec = RunSpec.from_dict(record["spec"])
        base = {"run_id": record["run_id"], "problem": spec.problem_label,
                "optimizer": spec.optimizer_label, "seed": spec.seed,
                "same_environment": environment_key(record.get("environment"),
                                                    record.get("format")) == here}
        if record.get("status") == "error":
            rows.append({**base, "result": "not rerun", "detail": "a stored error run"})
            continue
        missing = missing_plugins(record, plugins)
        if missing:
            rows.append({**base, "result": "plugin missing", "detail": (
                f"made with the plugin(s) {', '.join(missing)}, not imported here: "
                f"verify again with {' '.join('--plugin ' + m for m in missing)}")})
            continue
        try:
            fresh = execute(spec).trace
        except Exception as exc:  # the run cannot be made any more
            rows.append({**base, "result": "mismatch", "detail": f"re-run failed: {exc}"})
            continue
        where = first_mismatch(stored, fresh)
        if where:
            changed = stale_because(record.get("code"), spec)
            if changed:
                where += f" ({changed} since the run was stored)"
        rows.append({**base, "result": "mismatch" if where else "match", "detail": where or ""})
    return pd.DataFrame(rows, columns=COLUMNS)


def missing_plugins(record: dict, plugins: tuple[str, ...]) -> list[str]:
    """The plugin modules a stored run was made with that are not imported in this process."""
    import sys

    made_with = [entry.get("module") for entry in record.get("plugins") or []
                 if isinstance(entry, dict)]
    return [name for name in made_with
            if isinstance(name, str) and name not in plugins and name not in sys.modules]


def _current_format() -> int:
    from .spec import TRACE_FORMAT

    return TRACE_FORMAT
