"""Compatibility: the names `simbp.planning.core` used to hold, now in their own modules (see
`simbp.planning`). New code imports from `simbp.planning`."""

from __future__ import annotations

from .evaluation import FALLING_BEHIND, PointResult
from .figures import HEADLINE_FIGURES, figure_kind, format_figure, parse_figure_value
from .plan import Margin, PlanResult, plan
from .spec import SweepSpec
from .statistics import CONFIDENCE, JUDGE_RULES, Estimate, Target, estimate, t_quantile_975
from .study import Point, Study, load_study, replication_seed
from .sweep import SweepResult, sweep
from .theory_bridge import TheoryAnswer, TheoryPrediction, theory_prediction

__all__ = [
    "SweepSpec", "Study", "Target", "Point", "Estimate", "PointResult", "SweepResult", "PlanResult", "TheoryPrediction",
    "TheoryAnswer", "Margin", "load_study", "sweep", "plan", "estimate", "t_quantile_975", "replication_seed",
    "theory_prediction", "figure_kind", "format_figure", "parse_figure_value", "HEADLINE_FIGURES", "JUDGE_RULES",
    "CONFIDENCE", "FALLING_BEHIND",
]
