"""A self-contained HTML report of a results table (tables only; figures come later).

The report reads only a results table (``optbench.load``) and the run metadata the
caller passes in; it never runs an optimizer.
"""

from __future__ import annotations

import html
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from .summary import DEFAULT_TARGET, final_rows, summary_table

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.8em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, na_rep="-", float_format=lambda v: f"{v:.3g}")


def render_report(
    data: pd.DataFrame,
    *,
    title: str = "optbench report",
    environment: dict[str, Any] | None = None,
    command: str | None = None,
    target: float = DEFAULT_TARGET,
) -> str:
    """The report as one HTML string."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>Generated {datetime.now(timezone.utc).isoformat(timespec='seconds')}.</p>",
    ]
    last = final_rows(data)
    n_runs = int(last["run_id"].nunique()) if not last.empty else 0
    counts = last["status"].value_counts().to_dict() if n_runs else {}
    parts.append(
        f"<p>{n_runs} runs: "
        + ", ".join(f"{v} {esc(str(k))}" for k, v in sorted(counts.items()))
        + ".</p>"
    )
    table = summary_table(data, target)
    problems = list(dict.fromkeys(table["problem"]))
    if problems:
        parts.append("<h2>Contents</h2><ul>")
        parts += [f"<li><a href='#p{i}'>{esc(p)}</a></li>" for i, p in enumerate(problems)]
        parts.append("</ul>")
    for i, problem in enumerate(problems):
        group = table[table["problem"] == problem].drop(columns=["problem"])
        parts.append(f"<h2 id='p{i}'>{esc(problem)}</h2>")
        parts.append(
            f"<p>Median over seeds; <code>steps_to_target</code>: first recorded step with "
            f"subopt &le; {target:g}, over the runs that reached it.</p>"
        )
        parts.append(_table(group))
    bad = last[last["status"].isin(["diverged", "error"])] if n_runs else last
    if len(bad):
        parts.append("<h2>Diverged and failed runs</h2>")
        parts.append(_table(bad[["run_id", "problem_label", "optimizer_label", "seed", "status", "step"]]))
    if environment:
        parts.append("<h2>Environment</h2><table>")
        for key, value in environment.items():
            parts.append(f"<tr><td>{esc(str(key))}</td><td>{esc(str(value))}</td></tr>")
        parts.append("</table>")
    if command:
        parts.append(f"<p>Regenerate with <code>{esc(command)}</code>.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(data: pd.DataFrame, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Render the report and write it atomically to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_report(data, **kwargs), encoding="utf-8")
    os.replace(tmp, path)
    return path
