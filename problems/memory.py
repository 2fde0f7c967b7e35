"""Memory checks: refuse a problem too large for this machine before building it.

Every built-in family has a static ``estimated_bytes(**params) -> int``, with the
constructor's parameters and defaults, that computes (without allocating the problem's
arrays or loading its data) an upper-ish estimate of the peak memory of building the
problem and making one oracle call on it.  :func:`check_fits` compares that estimate
with the memory the machine has available.

A family with a ``dtype`` parameter (quadratic, logistic and mlp: ``"float64"`` or
``"float32"``) takes it in ``estimated_bytes`` too and counts its arrays at that
dtype's item size, so a float32 problem's estimate is about half its float64 one
(what stays float64, such as a block of float64 draws, is counted at 8 bytes).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Mapping

#: Share of the available memory a single problem may take, by default.
DEFAULT_FRACTION = 0.8


def available_memory_bytes() -> int | None:
    """The memory available to new allocations, in bytes, or None if unknown.

    ``MemAvailable`` of ``/proc/meminfo`` (Linux: free memory plus what the kernel can
    reclaim, such as the page cache); else ``os.sysconf("SC_AVPHYS_PAGES") *
    os.sysconf("SC_PAGE_SIZE")`` (free physical pages only); else None.
    """
    # no /proc/meminfo (not Linux) or an unreadable line: fall through to sysconf
    with contextlib.suppress(OSError, ValueError, KeyError, IndexError):
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    fields = line.split()
                    unit = fields[2].lower() if len(fields) > 2 else "kb"
                    factor = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}[unit]
                    return int(fields[1]) * factor
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    if pages < 0 or page_size <= 0:
        return None
    return int(pages) * int(page_size)


def format_bytes(n: float) -> str:
    """``n`` bytes in decimal units with one decimal: ``"640.0 GB"``, ``"12.0 kB"``.

    >>> format_bytes(640e9), format_bytes(12_000), format_bytes(5)
    ('640.0 GB', '12.0 kB', '5 B')
    """
    if n < 1000:
        return f"{int(n)} B"
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        n /= 1000.0
        if n < 1000 or unit == "PB":
            break
    return f"{n:.1f} {unit}"


def check_fits(
    family_name: str,
    factory: Callable[..., Any],
    params: Mapping[str, Any],
    fraction: float = DEFAULT_FRACTION,
    *,
    available: int | None = None,
) -> None:
    """Refuse (ValueError) a problem whose estimated memory exceeds ``fraction`` of
    the available memory; do nothing otherwise.

    Calls ``factory.estimated_bytes(**params)`` -- nothing is allocated.  Nothing is
    checked when ``factory`` has no ``estimated_bytes`` (a user family without one) or
    when the available memory is unknown.  ``available`` overrides
    :func:`available_memory_bytes` (for tests and for callers that know better).
    The parameters themselves are not validated here: that is the constructor's job,
    though ``estimated_bytes`` raises the constructor's ValueError for invalid values
    of the parameters it uses (``dim=-1``...), which then propagates.

    >>> from problems import Quadratic
    >>> check_fits("quadratic", Quadratic, {"dim": 10})  # fits: returns None
    >>> check_fits("quadratic", Quadratic, {"dim": 200_000, "rotate": True},
    ...            available=20_300_000_000)
    Traceback (most recent call last):
    ...
    ValueError: quadratic(dim=200000, rotate=True) needs about 1.6 TB; 20.3 GB are available ...
    """
    estimate = getattr(factory, "estimated_bytes", None)
    if estimate is None:
        return
    needed = int(estimate(**params))
    if available is None:
        available = available_memory_bytes()
    if available is None:
        return
    if needed > fraction * available:
        args = ", ".join(f"{k}={v!r}" for k, v in params.items())
        raise ValueError(
            f"{family_name}({args}) needs about {format_bytes(needed)}; "
            f"{format_bytes(available)} are available (a problem may take at most "
            f"{fraction:.0%} of it); choose smaller parameters"
        )
