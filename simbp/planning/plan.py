"""`plan`: the cheapest configuration passing every target at the planning load (theory first, then
a search confirmed by simulation: `simbp.planning.search`), its margin under rising load, and the
advice around it (`simbp.planning.advice`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..scenario import Scenario, get_path
from .advice import Sensitivity, agreement, deciding_target, explanation, headroom_warnings, undecided_report
from .evaluation import Evaluator, PointResult, Progress, as_study, with_executor
from .judging import UNDECIDED, Target
from .search import Margin, Planner
from .study import Study
from .tables import jsonable, modes_run, point_summary, result_tables, spec_summary
from .theory_bridge import TheoryAnswer, TheoryPrediction, theory_answer, theory_prediction

if TYPE_CHECKING:
    import pandas as pd

    from .executors import Executor

__all__ = ["Margin", "PlanResult", "plan"]

@dataclass
class PlanResult:
    """A plan: the cheapest configuration found, the cheaper ones that did not pass, theory, margin,
    and the advice around them (warnings, sensitivity, what limits the choice)."""

    study: Study
    load: float
    recommendation: PointResult | None
    cheaper_failed: list[PointResult]
    theory: TheoryAnswer
    theory_at_recommendation: TheoryPrediction | str | None
    margin: Margin | None
    evaluated: list[PointResult]
    table: "pd.DataFrame"
    points: "pd.DataFrame"
    summary: dict[str, Any]
    phases: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    sensitivity: list[Sensitivity] = field(default_factory=list)
    deciding: Target | None = None
    explanation: str = ""

    def phase(self, result: PointResult) -> str:
        """Why a configuration was simulated: "search", "headroom", "sensitivity" or "margin"."""
        return self.phases.get(result.point.index, "search")

    def to_json(self) -> str:
        return json.dumps(jsonable(self.summary), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def plan(spec: "Study | str | Path", executor: "Executor | None" = None, *, jobs: int | None = None,
         dask: str | None = None, progress: bool | None = None, allow_large: bool | None = None) -> PlanResult:
    """Find the cheapest configuration that passes every target at the planning load (and at load ×
    `headroom`), then its margin, its sensitivity to each parameter and what limits it.

    Theory proposes a starting point where a model applies; simulation decides, and an undecided
    configuration is never recommended (see `simbp.planning.search`).
    """
    study = as_study(spec, allow_large, need_plan=True)
    assert study.spec.plan is not None
    load = study.spec.plan.load_multiplier or study.base.load_multiplier
    answer = theory_answer(study, load)
    path, values = study.search[0]
    start = 0
    if answer.changes is not None and path in answer.changes:
        start = _index_at_least(values, answer.changes[path], study.base, path)
    bar = Progress(progress, f"plan {study.spec.name}")

    def run(executor: "Executor") -> tuple[Planner, PointResult | None, list[PointResult], Margin | None, list[Sensitivity]]:
        planner = Planner(study, Evaluator(study, executor, bar), load)
        if study.prices is not None:
            chosen, cheaper = planner.search_by_cost(answer.changes)
        else:
            chosen, cheaper = planner.search(start)
        margin = None
        if chosen is not None and study.spec.plan is not None and study.spec.plan.margin.enabled:
            margin = planner.margin(chosen)
        wanted = study.spec.plan is not None and study.spec.plan.sensitivity
        sensitivity = _sensitivity(planner, chosen) if chosen is not None and wanted else []
        return planner, chosen, cheaper, margin, sensitivity

    try:
        planner, chosen, cheaper, margin, sensitivity = with_executor(run, executor, jobs, dask)
    finally:
        bar.close()
    evaluated = planner.evaluator.order
    phases = {r.point.index: planner.phase.get(r.point.index, "search") for r in evaluated}
    table, points = result_tables(evaluated, study, {index: {"phase": phase} for index, phase in phases.items()})
    at_choice = theory_prediction(chosen.point.scenario) if chosen is not None else None
    at_theory = _simulated_at(answer.changes, evaluated, phases)
    deciding = deciding_target(chosen, study) if chosen is not None else None
    warnings = headroom_warnings(chosen, study, margin.headroom if margin else None,
                                 margin.up_to / load if margin and margin.first_failing_load is None else None) if chosen else []
    searched = [r for r in evaluated if phases[r.point.index] == "search"]
    summary = spec_summary(study)
    summary["kind"] = "plan"
    summary["planning_load_multiplier"] = load
    summary["search"] = {p: v for p, v in study.search}
    summary["search_by"] = "cost" if study.prices is not None else "order"
    summary["recommendation"] = None if chosen is None else {
        "changes": {p: v for p, v in chosen.point.changes.items() if p != "load_multiplier"},
        "point": chosen.point.index, "replications": chosen.replications,
        "figures": {name: value.as_dict() for name, value in chosen.estimates.items()},
        "pass": chosen.verdicts, "cost": study.cost_of(chosen.point.changes),
        "headroom_checked_at": load * study.spec.headroom if study.spec.headroom else None,
    }
    summary["reason"] = None if chosen is not None else _no_answer(searched)
    summary["cheaper_failed"] = [{"changes": r.point.changes, "point": r.point.index, "failing": r.failing(),
                                  "undecided": r.undecided(), "judgement": r.judgement} for r in cheaper]
    summary["undecided"] = undecided_report(searched, chosen, study)
    summary["theory"] = answer.as_dict()
    summary["theory_at_recommendation"] = at_choice.as_dict() if isinstance(at_choice, TheoryPrediction) else at_choice
    summary["agreement"] = agreement(answer, chosen, path, at_theory, study)
    summary["margin"] = margin.as_dict() if margin is not None else None
    summary["warnings"] = warnings
    summary["deciding_target"] = deciding.figure if deciding is not None else None
    summary["sensitivity"] = [s.as_dict(deciding.figure) for s in sensitivity] if deciding is not None else []
    text = explanation(chosen, study, deciding, cheaper, sensitivity, margin.headroom if margin else None) if chosen else ""
    summary["explanation"] = text
    summary["points"] = [dict(point_summary(r, study), phase=phases[r.point.index]) for r in evaluated]
    summary["replications_run"] = int(sum(r.replications for r in evaluated))
    summary["modes"] = modes_run(table)
    return PlanResult(study, load, chosen, cheaper, answer, at_choice, margin, evaluated, table, points, summary, phases,
                      warnings, sensitivity, deciding, text)


def _no_answer(searched: list[PointResult]) -> str:
    undecided = [r for r in searched if r.judgement == UNDECIDED]
    if undecided:
        return (f"no configuration in the search space is shown to meet every target; {len(undecided)} were too close "
                f"to call (undecided), see `undecided`")
    return "no configuration in the search space meets every target"


def _simulated_at(changes: dict[str, Any] | None, evaluated: list[PointResult], phases: dict[int, str]) -> PointResult | None:
    """The simulated search point at theory's answer, if the search reached it."""
    if changes is None:
        return None
    return next((r for r in evaluated if phases[r.point.index] == "search"
                 and all(r.point.changes.get(p) == v for p, v in changes.items())), None)


def _sensitivity(planner: Planner, chosen: PointResult) -> list[Sensitivity]:
    """Each search field one step down and up from the choice (and the load ± the headroom asked,
    or ± 20%), the other fields fixed."""
    study = planner.study
    changes = {p: v for p, v in chosen.point.changes.items() if p != "load_multiplier"}
    found = []
    for path, values in study.search:
        resolved = [get_path(study.base.with_changes({path: v}).model_dump(by_alias=True), path) for v in values]
        if changes.get(path) not in resolved:
            continue
        at = resolved.index(changes[path])
        low = values[at - 1] if at > 0 else None
        high = values[at + 1] if at + 1 < len(values) else None
        found.append(Sensitivity(path, resolved[at - 1] if low is not None else changes[path],
                                 resolved[at + 1] if high is not None else changes[path],
                                 planner.evaluate({**changes, path: low}, "sensitivity") if low is not None else chosen,
                                 planner.evaluate({**changes, path: high}, "sensitivity") if high is not None else chosen))
    step = (study.spec.headroom or 1.2) - 1
    loads = [float(f"{planner.load * (1 - step):.4g}"), float(f"{planner.load * (1 + step):.4g}")]
    found.append(Sensitivity("load_multiplier", loads[0], loads[1],
                             planner.evaluate({**changes, "load_multiplier": loads[0]}, "sensitivity"),
                             planner.evaluate({**changes, "load_multiplier": loads[1]}, "sensitivity")))
    return found


def _index_at_least(values: list[Any], target: Any, base: Scenario, path: str) -> int:
    try:
        for index, value in enumerate(values):
            resolved = get_path(base.with_changes({path: value}).model_dump(by_alias=True), path)
            if resolved >= target:
                return index
    except TypeError:
        return 0
    return len(values) - 1
