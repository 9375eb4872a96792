"""Running points: replications to the spec's rule on an executor, each configuration once,
figures estimated and targets judged (`Evaluator`, `PointResult`)."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .figures import HEADLINE_FIGURES
from .statistics import Estimate, estimate
from .study import Point, Study, load_study, replication_seed

if TYPE_CHECKING:
    from .executors import Executor

__all__ = ["FALLING_BEHIND", "PointResult", "Evaluator", "Progress", "with_executor", "as_study"]

# ====================================================================================== evaluation
FALLING_BEHIND = "falling_behind"  # the implicit target every point must meet: the backlog is not growing


@dataclass
class PointResult:
    """A point's replications, the estimate of each figure and pass/fail per target."""

    point: Point
    rows: list[dict[str, Any]]
    estimates: dict[str, Estimate]
    verdicts: dict[str, bool]

    @property
    def replications(self) -> int:
        return len(self.rows)

    @property
    def passed(self) -> bool:
        return all(self.verdicts.values())

    def failing(self) -> list[str]:
        return [figure for figure, ok in self.verdicts.items() if not ok]


class Progress:
    """A tqdm bar of replications done (total grows as rounds add replications) and points finished."""

    def __init__(self, enabled: bool | None, description: str):
        if enabled is None:
            enabled = _stderr_is_terminal()
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=0, unit="run", desc=description, file=sys.stderr, dynamic_ncols=True, leave=False)
        self.points_done = 0
        self.points_total = 0

    def add(self, replications: int, points: int = 0) -> None:
        self.points_total += points
        if self.bar is not None:
            self.bar.total += replications
            self.bar.refresh()

    def done(self, replications: int = 0, points: int = 0) -> None:
        self.points_done += points
        if self.bar is not None:
            if points:
                self.bar.set_postfix_str(f"points {self.points_done}/{self.points_total}", refresh=False)
            self.bar.update(replications)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class Evaluator:
    """Runs points to the replication rule, each point once (results cached by configuration)."""

    def __init__(self, study: Study, executor: "Executor", progress: Progress):
        self.study = study
        self.executor = executor
        self.progress = progress
        self.cache: dict[str, PointResult] = {}
        self.order: list[PointResult] = []

    def evaluate(self, points: list[Point]) -> list[PointResult]:
        from .executors import Replication, run_replication

        spec = self.study.spec
        todo: dict[int, Point] = {}
        seen: set[str] = set()
        for point in points:
            if point.identity not in self.cache and point.identity not in seen:
                seen.add(point.identity)
                todo[point.index] = point
        rows: dict[int, list[dict[str, Any]]] = {index: [] for index in todo}
        data = {index: point.scenario.model_dump(by_alias=True) for index, point in todo.items()}
        base_dir = str(self.study.base.base_dir)
        budgets = self.study.budgets.as_dict()

        def tasks(point: Point, start: int, count: int) -> list[Replication]:
            return [Replication(point.index, r, replication_seed(spec.seed, point.key, r), data[point.index], base_dir,
                                spec.mode, True, budgets) for r in range(start, start + count)]

        batch = [task for point in todo.values() for task in tasks(point, 0, spec.replications.min)]
        self.progress.add(len(batch), len(todo))
        open_points = dict(todo)
        while batch:
            for row in self.executor.map(run_replication, batch):
                rows[row["point"]].append(row)
                self.progress.done(1)
            batch = []
            for index, point in list(open_points.items()):
                point_rows = sorted(rows[index], key=lambda r: r["replication"])
                if self._settled(point_rows):
                    del open_points[index]
                    self.progress.done(points=1)
                    continue
                more = min(spec.replications.step, spec.replications.most - len(point_rows))
                batch += tasks(point, len(point_rows), more)
            self.progress.add(len(batch))
        for index, point in todo.items():
            result = self._result(point, sorted(rows[index], key=lambda r: r["replication"]))
            self.cache[point.identity] = result
            self.order.append(result)
        return [self.cache[point.identity] for point in points]

    def _settled(self, rows: list[dict[str, Any]]) -> bool:
        rule = self.study.spec.replications
        n = len(rows)
        if n < rule.min:
            return False
        if n >= rule.most:
            return True
        for figure in self.study.check_figures:
            value = estimate(row.get(figure, math.nan) for row in rows)
            tight = rule.target_relative_half_width is not None and value.relative_half_width() <= rule.target_relative_half_width
            target = self.study.target(figure)
            decided = rule.stop_when_decided and target is not None and target.decided(value)
            if not (tight or decided):
                return False
        return True

    def _result(self, point: Point, rows: list[dict[str, Any]]) -> PointResult:
        study = self.study
        names = list(dict.fromkeys([*HEADLINE_FIGURES, *(t.figure for t in study.targets), *study.check_figures,
                                    study.plot_figure("heatmap"), study.plot_figure("curve")]))
        estimates = {name: estimate(row.get(name, math.nan) for row in rows) for name in names if name in study.figures}
        verdicts = {t.figure: t.passes(estimates[t.figure], study.judge) for t in study.targets}
        # A backlog that is still growing at the end of the run meets no target for long, whatever
        # the figures of a short run say: such a point fails (more time would only make it worse).
        behind = sum(1 for row in rows if row.get("verdict") == "falling_behind")
        if behind * 2 > len(rows):
            verdicts[FALLING_BEHIND] = False
        return PointResult(point, rows, estimates, verdicts)

def with_executor(run: Callable[["Executor"], Any], executor: "Executor | None", jobs: int | None, dask: str | None) -> Any:
    from .executors import make_executor

    if executor is not None:
        return run(executor)
    owned = make_executor(jobs, dask)
    try:
        return run(owned)
    finally:
        owned.close()


def as_study(spec: "Study | str | Path", allow_large: bool | None, need_plan: bool = False) -> Study:
    if isinstance(spec, Study):
        return spec
    return load_study(spec, allow_large=allow_large, need_plan=need_plan)

