"""Compatibility: the names `simbp.planning.report` used to hold, now in `plots`, `html`, `files`
and `cli`. New code imports from those modules."""

from __future__ import annotations

from .cli import add_planning_commands
from .files import write_plan_report, write_sweep_report
from .html import render_plan_html, render_sweep_html
from .plots import find_knee, plot_heatmap, plot_load_curve, plot_margin, plot_plan_search

__all__ = ["plot_heatmap", "plot_load_curve", "plot_plan_search", "plot_margin", "find_knee", "write_sweep_report",
           "write_plan_report", "render_sweep_html", "render_plan_html", "add_planning_commands"]
