"""Reports built from results tables only: figures, summary tables and the HTML report.

The entry points are :func:`build_report`, the self-contained HTML page of a results
directory, and :func:`write_scorecard`, the page of ``optbench score``.  Every
figure function takes the tables of :mod:`optbench.store` and
returns a :class:`matplotlib.figure.Figure` (None when its data is absent); the
same optimizer label has the same colour in every figure of a report
(:class:`Palette`).  Nothing here runs an optimizer.
"""

from .convergence import convergence_figure
from .html import build_report, render_report, report_html, write_report
from .nets import (
    accuracy_figure,
    activation_histograms_figure,
    ensembles_figure,
    load_ensembles,
    update_ratio_figure,
)
from .profiles import profiles_figure, ranking_table
from .results import Results, read_results
from .schedules import schedules_figure
from .scorecard import write_scorecard
from .sensitivity import sensitivity_figure, sensitivity_table
from .style import Palette
from .summary import format_summary, summary_table
from .trajectories import trajectories_figure, trajectory_problems

__all__ = [
    "Palette",
    "Results",
    "accuracy_figure",
    "activation_histograms_figure",
    "build_report",
    "convergence_figure",
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
