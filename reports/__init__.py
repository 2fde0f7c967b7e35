"""Reports built from results tables only: summary tables and the HTML report."""

from .html import render_report, write_report
from .summary import format_summary, summary_table

__all__ = ["format_summary", "render_report", "summary_table", "write_report"]
