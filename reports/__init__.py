"""Reports built from results tables only: figures, summary tables and the HTML report.

The entry points are :func:`build_report`, the HTML page of a results directory
with its figures beside it, and :func:`write_scorecard`, the page of ``optbench score``.  Every
figure function takes the tables of :mod:`optbench.store` and
returns a :class:`matplotlib.figure.Figure` (None when its data is absent); the
same optimizer label has the same colour in every figure of a report
(:class:`Palette`).  Nothing here runs an optimizer.
"""

from importlib import import_module
from pathlib import Path
from typing import Any

#: Where each public name lives.  Modules are imported when a name is first used, so
#: that ``optbench run`` can print its summary table without loading matplotlib.
_HOME = {
    "convergence_figure": "convergence",
    "build_report": "html", "render_report": "html", "report_html": "html", "write_report": "html",
    "accuracy_figure": "nets", "activation_histograms_figure": "nets", "ensembles_figure": "nets",
    "load_ensembles": "nets", "update_ratio_figure": "nets",
    "profiles_figure": "profiles", "ranking_table": "profiles",
    "Results": "results", "read_results": "results",
    "View": "views", "default_view": "views",
    "schedules_figure": "schedules",
    "write_scorecard": "scorecard",
    "sensitivity_figure": "sensitivity", "sensitivity_table": "sensitivity",
    "Palette": "style",
    "format_summary": "summary", "summary_table": "summary",
    "trajectories_figure": "trajectories", "trajectory_problems": "trajectories",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(f".{_HOME[name]}", __name__), name)
    if (Path(__file__).parent / f"{name}.py").is_file():  # a submodule: reports.html
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Palette",
    "Results",
    "View",
    "accuracy_figure",
    "activation_histograms_figure",
    "build_report",
    "convergence_figure",
    "default_view",
    "ensembles_figure",
    "format_summary",
    "load_ensembles",
    "profiles_figure",
    "ranking_table",
    "read_results",
    "render_report",
    "report_html",
    "schedules_figure",
    "sensitivity_figure",
    "sensitivity_table",
    "summary_table",
    "trajectories_figure",
    "trajectory_problems",
    "write_scorecard",
    "update_ratio_figure",
    "write_report",
]
