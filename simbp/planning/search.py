"""How `plan` searches: for the cheapest configuration that passes every target (a pass, never an
undecided point), with `headroom` also at the planning load × headroom; then the margin.

Every search field is assumed monotone: more of it never hurts (more workers, a bigger buffer).

- **By order** (no prices): the fewest of the first field, then the least of the next … The first
  field's smallest feasible value is found by galloping from the theory answer and bisecting;
  later fields are scanned in the order given.
- **By cost** (`cost:` prices per unit): configurations in order of total cost. A configuration
  at or below (in every field) one that failed or stayed undecided cannot pass, so it is skipped;
  the first that passes is the cheapest. Each field's smallest useful value is found first, with
  every other field at its most generous, which prunes most of the space.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from ..scenario.schema import get_path
from .evaluation import Evaluator, PointResult
from .judging import PASS
from .study import Study

__all__ = ["Planner", "Margin", "MAX_COST_EVALUATIONS"]

MAX_COST_EVALUATIONS = 300  # configurations the cost search may simulate before giving up


@dataclass
class Margin:
    """How far the load on the chosen configuration can rise before a target fails."""

    planning_load: float
    max_load: float
    first_failing_load: float | None
    failing_targets: list[str]
    up_to: float
    curve: list[tuple[float, PointResult]]
    undecided_targets: list[str] | None = None

    @property
    def headroom(self) -> float:
        return self.max_load / self.planning_load

    def as_dict(self) -> dict[str, Any]:
        return {"planning_load_multiplier": self.planning_load, "max_load_multiplier": self.max_load,
                "headroom": self.headroom, "first_failing_load_multiplier": self.first_failing_load,
                "failing_targets": self.failing_targets, "undecided_targets": self.undecided_targets or [],
                "searched_up_to": self.up_to,
                "curve": [{"load_multiplier": load, "point": r.point.index, "passed": r.passed, "judgement": r.judgement}
                          for load, r in self.curve]}


class Planner:
    """Evaluates configurations for `plan` and remembers why each was simulated (its phase)."""

    def __init__(self, study: Study, evaluator: Evaluator, load: float):
        self.study = study
        self.evaluator = evaluator
        self.load = load
        self.phase: dict[int, str] = {}
        self.headroom_checks: dict[int, PointResult] = {}  # search point → its run at load × headroom

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

    def feasible(self, changes: dict[str, Any]) -> PointResult | None:
        """The configuration's result when it passes at the planning load (and at load × headroom
        when the spec asks for headroom), else None."""
        result = self.evaluate(changes, "search")
        if result.judgement != PASS:
            return None
        headroom = self.study.spec.headroom
        if headroom and headroom > 1:
            higher = self.evaluate({**changes, "load_multiplier": self.load * headroom}, "headroom")
            self.headroom_checks[result.point.index] = higher
            if higher.judgement != PASS:
                return None
        return result

    # ------------------------------------------------------------------ by order
    def cheapest_completion(self, prefix: dict[str, Any], depth: int) -> PointResult | None:
        """The first passing configuration that starts with `prefix`, scanning later fields in order."""
        search = self.study.search
        if depth == len(search):
            return self.feasible(prefix)
        path, values = search[depth]
        for value in values:
            found = self.cheapest_completion({**prefix, path: value}, depth + 1)
            if found is not None:
                return found
        return None

    def search(self, start: int) -> tuple[PointResult | None, list[PointResult]]:
        """Smallest feasible index of the first field, by galloping from `start` (the theory answer)
        and bisecting; returns it and the configurations with the next cheaper value."""
        path, values = self.study.search[0]
        known: dict[int, PointResult | None] = {}

        def feasible(index: int) -> bool:
            if index not in known:
                known[index] = self.cheapest_completion({path: values[index]}, 1)
            return known[index] is not None

        last = len(values) - 1
        start = min(max(start, 0), last)
        if feasible(start):
            high, step, low = start, 1, -1
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
        cheaper = [] if low < 0 else self._searched_with({path: values[low]})
        return known[high], cheaper

    def _searched_with(self, fixed: dict[str, Any]) -> list[PointResult]:
        """Search-phase configurations with these field values that did not pass."""
        data = self.study.base.with_changes(fixed).model_dump(by_alias=True)
        resolved = {path: get_path(data, path) for path in fixed}
        return [r for r in self.evaluator.order if all(r.point.changes.get(p) == v for p, v in resolved.items())
                and not r.passed and self.phase.get(r.point.index) == "search"]

    # ------------------------------------------------------------------ by cost
    def search_by_cost(self, theory: dict[str, Any] | None) -> tuple[PointResult | None, list[PointResult]]:
        """The cheapest passing configuration under the spec's prices (see the module docstring)."""
        names = [path for path, _ in self.study.search]
        values = [list(v) for _, v in self.study.search]
        blocked: list[tuple[int, ...]] = []  # index tuples that did not pass: everything at or below them cannot

        def below_a_miss(index: tuple[int, ...]) -> bool:
            return any(all(a <= b for a, b in zip(index, miss)) for miss in blocked)

        def attempt(index: tuple[int, ...]) -> PointResult | None:
            found = self.feasible(dict(zip(names, (values[i][k] for i, k in enumerate(index)))))
            if found is None:
                blocked.append(index)
            return found

        top = tuple(len(v) - 1 for v in values)
        for axis in range(len(names)):  # each field's least useful value, every other field at its most
            low, high = -1, top[axis]
            while high - low > 1:
                middle = (low + high) // 2
                probe = tuple(middle if i == axis else top[i] for i in range(len(names)))
                if below_a_miss(probe) or attempt(probe) is None:
                    low = middle
                else:
                    high = middle
        order = sorted(itertools.product(*(range(len(v)) for v in values)),
                       key=lambda index: (self._cost(names, values, index), index))
        if theory is not None:  # theory's answer first: a cheap pass bounds everything after it
            first = tuple(values[i].index(theory[p]) if theory.get(p) in values[i] else -1 for i, p in enumerate(names))
            if -1 not in first and not below_a_miss(first):
                order.remove(first)
                order.insert(0, first)
        best: tuple[float, PointResult] | None = None
        evaluations = 0
        for index in order:
            cost = self._cost(names, values, index)
            if best is not None and cost >= best[0]:
                break
            if below_a_miss(index):
                continue
            evaluations += 1
            if evaluations > MAX_COST_EVALUATIONS:
                break
            found = attempt(index)
            if found is not None and (best is None or cost < best[0]):
                best = (cost, found)
        if best is None:
            return None, []
        chosen = best[1]
        cheaper = [r for r in self.evaluator.order if self.phase.get(r.point.index) == "search" and not r.passed
                   and (self.study.cost_of(r.point.changes) or math.inf) < best[0]]
        return chosen, cheaper

    def _cost(self, names: list[str], values: list[list[Any]], index: tuple[int, ...]) -> float:
        cost = self.study.cost_of(dict(zip(names, (values[i][k] for i, k in enumerate(index)))))
        return math.inf if cost is None else cost

    # ------------------------------------------------------------------ margin
    def margin(self, chosen: PointResult) -> Margin:
        """Raise the load on the chosen configuration (doubling, then bisecting to the tolerance)
        until it stops passing: the highest load shown to pass every target."""
        spec = self.study.spec.plan
        assert spec is not None
        up_to = spec.margin.up_to or 4.0 * self.load
        changes = {p: v for p, v in chosen.point.changes.items() if p != "load_multiplier"}
        curve: list[tuple[float, PointResult]] = [(self.load, chosen)]
        low, high = self.load, None
        high_result: PointResult | None = None
        known = {r.point.changes.get("load_multiplier"): r for r in self.headroom_checks.values()
                 if all(r.point.changes.get(p) == v for p, v in changes.items())}
        load = min(up_to, low * 2)
        while high is None and load > low:
            if load not in known and not self.fits({**changes, "load_multiplier": load}):
                up_to = low  # the margin stops where the size limits do
                break
            result = known.get(load) or self.evaluate({**changes, "load_multiplier": load}, "margin")
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
        undecided = high_result.undecided() if high_result is not None else []
        return Margin(self.load, low, high, failing, up_to, curve, undecided)
