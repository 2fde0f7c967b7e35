"""What a run's numbers depend on besides its spec: versions, BLAS, CPU, commit."""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    """The commit of the source tree optbench is imported from, if it is a checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit or None


def _blas() -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_info

    keep = ("internal_api", "version", "threading_layer", "architecture", "num_threads")
    return [{k: info.get(k) for k in keep} for info in threadpool_info()]


@functools.lru_cache(maxsize=1)
def environment() -> dict[str, Any]:
    """Versions of python, numpy, scipy, pandas, pyarrow; BLAS; CPU; platform; commit.

    Computed once per process (it runs ``git``); JSON data.
    """
    import numpy
    import pandas
    import pyarrow
    import scipy

    from . import __version__

    return {
        "optbench": __version__,
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pandas": pandas.__version__,
        "pyarrow": pyarrow.__version__,
        "blas": _blas(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
    }
