"""Capacity planning (docs/planning.md): sweeps over scenario fields, replications with 95%
confidence intervals, targets judged on them, and `plan`, the cheapest configuration meeting every
target, started from queueing theory and confirmed by simulation.

Modules, one job each: `spec` (the spec schema), `study` (validation against the base scenario,
points, seeds), `statistics` (intervals, judging), `executors` (where replications run),
`evaluation` (points run to the replication rule), `tables`, `sweep`, `theory_bridge` (which
queueing model applies), `plan` (search and margin); presentation: `plots`, `html`, `files`, `cli`.
Importing this package loads neither matplotlib nor streamlit.
"""

from __future__ import annotations

from .evaluation import FALLING_BEHIND, PointResult
from .executors import DaskExecutor, Executor, ProcessExecutor, Replication, SerialExecutor, make_executor, run_replication
from .figures import HEADLINE_FIGURES, figure_kind, format_figure, parse_figure_value
from .plan import Margin, PlanResult, plan
from .spec import SweepSpec
from .statistics import CONFIDENCE, JUDGE_RULES, Estimate, Target, estimate, t_quantile_975
from .study import Point, Study, load_study, replication_seed
from .sweep import SweepResult, sweep
from .theory_bridge import TheoryAnswer, TheoryPrediction, theory_prediction

__all__ = [
    "load_study", "sweep", "plan", "Study", "SweepSpec", "Point", "Target", "Estimate", "PointResult", "SweepResult",
    "PlanResult", "Margin", "TheoryPrediction", "TheoryAnswer", "theory_prediction", "estimate", "t_quantile_975",
    "replication_seed", "figure_kind", "format_figure", "parse_figure_value", "HEADLINE_FIGURES", "JUDGE_RULES",
    "CONFIDENCE", "FALLING_BEHIND", "Executor", "SerialExecutor", "ProcessExecutor", "DaskExecutor", "make_executor",
    "Replication", "run_replication",
]
