"""`plan`: the cheapest configuration meeting every target at the planning load (theory first,
then a galloping search confirmed by simulation), and its margin under rising load."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..scenario import Scenario, get_path
from .evaluation import Evaluator, PointResult, Progress, as_study, with_executor
from .figures import display
from .study import Study
from .tables import jsonable, modes_run, point_summary, result_tables, spec_summary
from .theory_bridge import TheoryAnswer, TheoryPrediction, theory_answer, theory_prediction

if TYPE_CHECKING:
    import pandas as pd

    from .executors import Executor

__all__ = ["Margin", "PlanResult", "plan"]

# ====================================================================================== plan
@dataclass
class Margin:
    """How far the load on the chosen configuration can rise before a target fails."""

    planning_load: float
    max_load: float
    first_failing_load: float | None
    failing_targets: list[str]
    up_to: float
    curve: list[tuple[float, PointResult]]

    @property
    def headroom(self) -> float:
        return self.max_load / self.planning_load

    def as_dict(self) -> dict[str, Any]:
        return {"planning_load_multiplier": self.planning_load, "max_load_multiplier": self.max_load,
                "headroom": self.headroom, "first_failing_load_multiplier": self.first_failing_load,
                "failing_targets": self.failing_targets, "searched_up_to": self.up_to,
                "curve": [{"load_multiplier": load, "point": r.point.index, "passed": r.passed} for load, r in self.curve]}


@dataclass
class PlanResult:
    """A plan: the cheapest configuration found, the cheaper ones that failed, theory, margin."""

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

    def phase(self, result: PointResult) -> str:
        """Why a configuration was simulated: "search" (finding the cheapest) or "margin"."""
        return self.phases.get(result.point.index, "search")

    def to_json(self) -> str:
        return json.dumps(jsonable(self.summary), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


class _Planner:
    """Lexicographic search: the fewest of the first search field, then the least of the next, …"""

    def __init__(self, study: Study, evaluator: Evaluator, load: float):
        self.study = study
        self.evaluator = evaluator
        self.load = load
        self.phase: dict[int, str] = {}

    def evaluate(self, changes: dict[str, Any], phase: str) -> PointResult:
        changes = {**changes, "load_multiplier": changes.get("load_multiplier", self.load)}
        point = self.study.make_point(changes, index=len(self.evaluator.order))
        self.check_size(point, phase)
        result = self.evaluator.evaluate([point])[0]
        self.phase.setdefault(result.point.index, phase)
        return result

    def check_size(self, point: Any, phase: str) -> None:
        """Refuse a point too large to simulate before any replication runs (`ScenarioTooLarge`)."""
        from ..errors import Problem, ScenarioTooLarge
        from ..limits import check_size, choose_mode

        mode = choose_mode(point.scenario, self.study.spec.mode or "auto")[0]
        try:
            check_size(point.scenario, allow_large=self.study.allow_large, mode=mode,
                       budgets=self.study.budgets)
        except ScenarioTooLarge as error:
            raise ScenarioTooLarge([Problem(error.problems[0].field, f"plan {phase} point {point.label()}: "
                                            f"{error.problems[0].message}", None, self.study.label)]) from None

    def fits(self, changes: dict[str, Any]) -> bool:
        """Whether the point `changes` make is within the size limits and budgets."""
        from ..errors import ScenarioTooLarge

        try:
            self.check_size(self.study.make_point(changes, index=0), "margin")
        except ScenarioTooLarge:
            return False
        return True

    def cheapest_completion(self, prefix: dict[str, Any], depth: int) -> PointResult | None:
        """The first passing configuration that starts with `prefix`, scanning later fields in order."""
        search = self.study.search
        if depth == len(search):
            result = self.evaluate(prefix, "search")
            return result if result.passed else None
        path, values = search[depth]
        for value in values:
            found = self.cheapest_completion({**prefix, path: value}, depth + 1)
            if found is not None:
                return found
        return None

    def search(self, start: int) -> tuple[PointResult | None, list[PointResult]]:
        """Smallest feasible index of the first field (assumed monotone: more never hurts), by
        galloping from `start` (the theory answer) and bisecting; returns it and the failed cheaper value."""
        path, values = self.study.search[0]
        known: dict[int, PointResult | None] = {}

        def feasible(index: int) -> bool:
            if index not in known:
                known[index] = self.cheapest_completion({path: values[index]}, 1)
            return known[index] is not None

        last = len(values) - 1
        start = min(max(start, 0), last)
        if feasible(start):
            high, step = start, 1
            low = -1
            while high > 0:
                probe = max(high - step, 0)
                if feasible(probe):
                    high, step = probe, step * 2
                else:
                    low = probe
                    break
        else:
            low, step = start, 1
            while True:
                probe = min(low + step, last)
                if feasible(probe):
                    high = probe
                    break
                if probe == last:
                    return None, []
                low, step = probe, step * 2
        while high - low > 1:
            middle = (low + high) // 2
            if feasible(middle):
                high = middle
            else:
                low = middle
        cheaper = [] if low < 0 else self._failed_with(path, values[low])
        return known[high], cheaper

    def _failed_with(self, path: str, value: Any) -> list[PointResult]:
        resolved = get_path(self.study.base.with_changes({path: value}).model_dump(by_alias=True), path)
        return [r for r in self.evaluator.order if r.point.changes.get(path) == resolved and not r.passed
                and self.phase.get(r.point.index) == "search"]

    def margin(self, chosen: PointResult) -> Margin:
        spec = self.study.spec.plan
        assert spec is not None
        up_to = spec.margin.up_to or 4.0 * self.load
        changes = {p: v for p, v in chosen.point.changes.items() if p != "load_multiplier"}
        curve: list[tuple[float, PointResult]] = [(self.load, chosen)]
        low, high = self.load, None
        high_result: PointResult | None = None
        load = min(up_to, low * 2)
        while high is None and load > low:
            if not self.fits({**changes, "load_multiplier": load}):  # the margin stops where the size limits do
                up_to = low
                break
            result = self.evaluate({**changes, "load_multiplier": load}, "margin")
            curve.append((load, result))
            if result.passed:
                low = load
                load = min(up_to, load * 2)
            else:
                high, high_result = load, result
        while high is not None and (high - low) / low > spec.margin.tolerance:
            middle = float(f"{(low + high) / 2:.4g}")
            if not low < middle < high:
                break
            result = self.evaluate({**changes, "load_multiplier": middle}, "margin")
            curve.append((middle, result))
            if result.passed:
                low = middle
            else:
                high, high_result = middle, result
        curve.sort(key=lambda item: item[0])
        failing = high_result.failing() if high_result is not None else []
        return Margin(self.load, low, high, failing, up_to, curve)


def plan(spec: "Study | str | Path", executor: "Executor | None" = None, *, jobs: int | None = None,
         dask: str | None = None, progress: bool | None = None, allow_large: bool | None = None) -> PlanResult:
    """Find the cheapest configuration meeting every target at the planning load, then its margin.

    Theory (Erlang C, M/M/c/K) proposes a starting point; simulation decides. The first search
    field is assumed monotone (more of it never hurts), so the search gallops from the theory
    answer and bisects; later fields are scanned in the order given, cheapest first.
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

    def run(executor: "Executor") -> tuple[_Planner, PointResult | None, list[PointResult], Margin | None]:
        planner = _Planner(study, Evaluator(study, executor, bar), load)
        chosen, cheaper = planner.search(start)
        margin = None
        if chosen is not None and study.spec.plan is not None and study.spec.plan.margin.enabled:
            margin = planner.margin(chosen)
        return planner, chosen, cheaper, margin

    try:
        planner, chosen, cheaper, margin = with_executor(run, executor, jobs, dask)
    finally:
        bar.close()
    evaluated = planner.evaluator.order
    extra = {r.point.index: {"phase": planner.phase.get(r.point.index, "search")} for r in evaluated}
    table, points = result_tables(evaluated, study, extra)
    at_choice = theory_prediction(chosen.point.scenario) if chosen is not None else None
    summary = spec_summary(study)
    summary["kind"] = "plan"
    summary["planning_load_multiplier"] = load
    summary["search"] = {p: v for p, v in study.search}
    summary["recommendation"] = None if chosen is None else {
        "changes": {p: v for p, v in chosen.point.changes.items() if p != "load_multiplier"},
        "point": chosen.point.index, "replications": chosen.replications,
        "figures": {name: value.as_dict() for name, value in chosen.estimates.items()},
        "pass": chosen.verdicts,
    }
    summary["reason"] = None if chosen is not None else "no configuration in the search space meets every target"
    summary["cheaper_failed"] = [{"changes": r.point.changes, "point": r.point.index, "failing": r.failing()} for r in cheaper]
    summary["theory"] = answer.as_dict()
    summary["theory_at_recommendation"] = at_choice.as_dict() if isinstance(at_choice, TheoryPrediction) else at_choice
    summary["agreement"] = _agreement(answer, chosen, path)
    summary["margin"] = margin.as_dict() if margin is not None else None
    summary["points"] = [dict(point_summary(r, study), phase=extra[r.point.index]["phase"]) for r in evaluated]
    summary["replications_run"] = int(sum(r.replications for r in evaluated))
    summary["modes"] = modes_run(table)
    phases = {index: entry["phase"] for index, entry in extra.items()}
    return PlanResult(study, load, chosen, cheaper, answer, at_choice, margin, evaluated, table, points, summary, phases)


def _index_at_least(values: list[Any], target: Any, base: Scenario, path: str) -> int:
    try:
        for index, value in enumerate(values):
            resolved = get_path(base.with_changes({path: value}).model_dump(by_alias=True), path)
            if resolved >= target:
                return index
    except TypeError:
        return 0
    return len(values) - 1


def _agreement(answer: TheoryAnswer, chosen: PointResult | None, path: str) -> str:
    if answer.changes is None:
        return f"no theory answer ({answer.reason})"
    if chosen is None:
        return "theory found a configuration but simulation confirmed none"
    theory_value = answer.changes.get(path)
    simulated = chosen.point.changes.get(path)
    if theory_value == simulated:
        return f"theory and simulation agree on {path} = {display(simulated)}"
    try:
        difference = float(simulated) - float(theory_value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return f"theory says {path} = {theory_value}, simulation {simulated}"
    side = "more" if difference > 0 else "less"
    return (f"simulation needs {display(abs(difference))} {side} {path} than theory ({display(simulated)} against "
            f"{display(theory_value)}): the scenario departs from the model's assumptions, or targets are judged on "
            f"the interval's bound")
