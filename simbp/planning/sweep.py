"""`sweep`: every point of a spec's grid run to its replication rule, targets judged, and the
cheapest passing point per load."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .evaluation import Evaluator, PointResult, Progress, as_study, with_executor
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
    """The cheapest passing point (by the `cost` order: fewest of the first, then …), per load."""
    varied = list(resolved_vary(study))
    cost = study.spec.cost or [p for p in varied if p != "load_multiplier"]
    by_load: dict[Any, list[PointResult]] = {}
    for result in results:
        by_load.setdefault(result.point.changes.get("load_multiplier"), []).append(result)
    order = resolved_vary(study)
    recommendations = []
    for load, group in by_load.items():
        passing = [r for r in group if r.passed]
        entry: dict[str, Any] = {"load_multiplier": load if load is not None else study.base.load_multiplier}
        if not study.targets:
            entry.update(recommendation=None, reason="no targets given")
        elif not passing:
            entry.update(recommendation=None, reason="no point in the sweep meets every target at this load")
        else:
            best = min(passing, key=lambda r: (tuple(_rank(order.get(p, []), r.point.changes.get(p)) for p in cost), r.point.index))
            changes = {p: v for p, v in best.point.changes.items() if p != "load_multiplier" or load is None}
            entry.update(recommendation=changes, point=best.point.index,
                         figures={t.figure: best.estimates[t.figure].as_dict() for t in study.targets})
        recommendations.append(entry)
    return recommendations


def _rank(values: list[Any], value: Any) -> Any:
    if all(isinstance(v, (int, float)) for v in values) and isinstance(value, (int, float)):
        return value
    return values.index(value) if value in values else len(values)

