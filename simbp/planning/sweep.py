"""`sweep`: every point of a spec's grid run to its replication rule, targets judged, and the
cheapest passing point per load."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .advice import WARN_HEADROOM, headroom_warnings
from .evaluation import Evaluator, PointResult, Progress, as_study, with_executor
from .judging import UNDECIDED
from .study import Study
from .tables import jsonable, modes_run, point_summary, result_tables, spec_summary

if TYPE_CHECKING:
    import pandas as pd

    from .executors import Executor

__all__ = ["SweepResult", "sweep", "resolved_vary"]

# ====================================================================================== sweep
@dataclass
class SweepResult:
    """A sweep: every point's replications (`table`), per-point estimates (`points`), the summary."""

    study: Study
    results: list[PointResult]
    table: "pd.DataFrame"
    points: "pd.DataFrame"
    summary: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(jsonable(self.summary), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def sweep(spec: "Study | str | Path", executor: "Executor | None" = None, *, jobs: int | None = None,
          dask: str | None = None, progress: bool | None = None, allow_large: bool | None = None) -> SweepResult:
    """Run every point of a spec's grid to its replication rule and judge the targets.

    `executor` (see `simbp.planning.executors`) or `jobs`/`dask` choose where runs happen; the results are
    the same whichever is used. `progress` shows a bar (default: when stderr is a terminal).
    """
    study = as_study(spec, allow_large)
    bar = Progress(progress, f"sweep {study.spec.name}")
    try:
        results = with_executor(lambda ex: Evaluator(study, ex, bar).evaluate(study.points), executor, jobs, dask)
    finally:
        bar.close()
    table, points = result_tables(results, study)
    summary = spec_summary(study)
    summary["kind"] = "sweep"
    summary["vary"] = {path: values for path, values in resolved_vary(study).items()}
    summary["points"] = [point_summary(r, study) for r in results]
    summary["replications_run"] = int(sum(r.replications for r in results))
    summary["modes"] = modes_run(table)
    summary["recommendations"] = _recommendations(study, results)
    return SweepResult(study, results, table, points, summary)


def resolved_vary(study: Study) -> dict[str, list[Any]]:
    values: dict[str, list[Any]] = {}
    for point in study.points:
        for path, value in point.changes.items():
            values.setdefault(path, [])
            if value not in values[path]:
                values[path].append(value)
    return values


def _recommendations(study: Study, results: list[PointResult]) -> list[dict[str, Any]]:
    """Per load: the cheapest point that passes every target (by the spec's prices, or by the `cost`
    order: fewest of the first, then …); cheaper points left undecided; headroom warnings from the
    same configuration at the higher loads of the grid and from utilisation."""
    varied = list(resolved_vary(study))
    order = resolved_vary(study)
    ranking = study.spec.cost if isinstance(study.spec.cost, list) else [p for p in varied if p != "load_multiplier"]

    def rank(result: PointResult) -> Any:
        priced = study.cost_of(result.point.changes)
        ordered = tuple(_rank(order.get(p, []), result.point.changes.get(p)) for p in ranking)
        return (priced if priced is not None else 0.0, ordered, result.point.index)

    by_load: dict[Any, list[PointResult]] = {}
    for result in results:
        by_load.setdefault(result.point.changes.get("load_multiplier"), []).append(result)
    recommendations = []
    for load, group in by_load.items():
        passing = [r for r in group if r.passed]
        entry: dict[str, Any] = {"load_multiplier": load if load is not None else study.base.load_multiplier}
        if not study.targets:
            entry.update(recommendation=None, reason="no targets given")
            recommendations.append(entry)
            continue
        best = min(passing, key=rank) if passing else None
        undecided = [r for r in group if r.judgement == UNDECIDED and (best is None or rank(r) < rank(best))]
        if best is None:
            reason = "no point in the sweep meets every target at this load"
            if undecided:
                reason = f"no point in the sweep is shown to meet every target at this load ({len(undecided)} undecided)"
            entry.update(recommendation=None, reason=reason)
        else:
            changes = {p: v for p, v in best.point.changes.items() if p != "load_multiplier" or load is None}
            entry.update(recommendation=changes, point=best.point.index,
                         figures={t.figure: best.estimates[t.figure].as_dict() for t in study.targets},
                         cost=study.cost_of(best.point.changes),
                         warnings=headroom_warnings(best, study, _grid_headroom(best, results, study), None))
        entry["undecided"] = [{"point": r.point.index, "changes": r.point.changes, "to_decide": r.decision_note(study)}
                              for r in undecided]
        recommendations.append(entry)
    return recommendations


def _grid_headroom(best: PointResult, results: list[PointResult], study: Study) -> float | None:
    """How far the grid shows the same configuration passing above this load, when the grid shows
    that to be less than the headroom asked (or `WARN_HEADROOM`); None when it cannot tell: no
    higher load fails, or the first that fails is beyond the headroom asked (the configuration
    breaks somewhere between the last passing load and it: `plan` measures where)."""
    load = best.point.changes.get("load_multiplier")
    if load is None:
        return None
    same = [r for r in results if all(r.point.changes.get(p) == v for p, v in best.point.changes.items() if p != "load_multiplier")]
    higher = sorted((r for r in same if (r.point.changes.get("load_multiplier") or 0) > load),
                    key=lambda r: r.point.changes["load_multiplier"])
    reached = load
    for result in higher:
        if not result.passed:
            floor = study.spec.headroom or WARN_HEADROOM
            return reached / load if result.point.changes["load_multiplier"] / load < floor * (1 - 1e-9) else None
        reached = result.point.changes["load_multiplier"]
    return None


def _rank(values: list[Any], value: Any) -> Any:
    if all(isinstance(v, (int, float)) for v in values) and isinstance(value, (int, float)):
        return value
    return values.index(value) if value in values else len(values)

