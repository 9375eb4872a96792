"""Running points: replications on an executor until every target is decided (or the budget is
spent), each configuration once; the warm-up cut chosen per point, runs lengthened when too short;
figures estimated and targets judged pass, fail or undecided (`Evaluator`, `PointResult`).

One point's life: its first `replications.min` runs come back as raw data; the point's warm-up
cut and the run length it needs are measured from them (`steady.choose_cut`). They are kept when
at least `MARGIN` times as long as needed; otherwise they were a pilot, and the point is run
again with fresh seeds: at the length a reliable pilot asks for (those runs are kept whatever they
show), or longer still after an unreliable one, up to `steady_state.longest` × the duration; then
every run's window after the cut gives its figures. Further replications, run at the chosen
length and cut, are added `replications.step` at a time while a checked figure is neither tight
enough nor decided, up to `replications.max`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..limits import estimate_messages
from .estimators import estimate_figure, identical
from .figures import HEADLINE_FIGURES, format_figure
from .judging import FAIL, PASS, UNDECIDED, replications_to_decide, worst
from .statistics import Estimate
from .steady import RunPlan, choose_cut
from .study import Point, Study, load_study, replication_seed

if TYPE_CHECKING:
    from .executors import Executor, Replication

__all__ = ["FALLING_BEHIND", "PointResult", "Evaluator", "Progress", "with_executor", "as_study"]

FALLING_BEHIND = "falling_behind"  # the implicit target every point must meet: the backlog is not growing
MAX_RUN_MESSAGES = 5_000_000  # runs are never lengthened past this many messages each
MARGIN = 2.0  # first runs are kept only when this many times as long as needed; a pilot is reliable when at least 1/MARGIN of it


def _round_up(seconds: float) -> float:
    """A run length to ask for: `seconds` rounded up to two significant digits."""
    if seconds <= 0:
        return 0.0
    scale = 10.0 ** (math.floor(math.log10(seconds)) - 1)
    return math.ceil(seconds / scale - 1e-9) * scale


@dataclass
class PointResult:
    """A point's replications, the estimate of each figure and the judgement of each target.

    `judgements` maps each target's figure (and `falling_behind` when it applies) to "pass",
    "fail" or "undecided"; `verdicts` is the same as booleans (True only for a pass).
    `steady` says how the runs were analysed (warm-up cut, run length, whether they were too
    short and how long they would need to be); `to_decide` the replications that would decide
    each undecided target (None: no number would).
    """

    point: Point
    rows: list[dict[str, Any]]
    estimates: dict[str, Estimate]
    verdicts: dict[str, bool]
    judgements: dict[str, str] = field(default_factory=dict)
    steady: dict[str, Any] = field(default_factory=dict)
    to_decide: dict[str, int | None] = field(default_factory=dict)

    @property
    def replications(self) -> int:
        return len(self.rows)

    @property
    def mode(self) -> str:
        """The engine mode its replications ran in ("exact", "fast", or both as "exact/fast")."""
        return "/".join(sorted({str(row["mode"]) for row in self.rows if row.get("mode")}))

    @property
    def judgement(self) -> str:
        """"pass" (every target passes), "fail" (one fails) or "undecided"."""
        return worst(list(self.judgements.values())) if self.judgements else (PASS if all(self.verdicts.values()) else FAIL)

    @property
    def passed(self) -> bool:
        return self.judgement == PASS

    def failing(self) -> list[str]:
        """The targets this point fails (undecided ones are not failures: see `undecided`)."""
        if not self.judgements:
            return [figure for figure, ok in self.verdicts.items() if not ok]
        return [figure for figure, value in self.judgements.items() if value == FAIL]

    def undecided(self) -> list[str]:
        return [figure for figure, value in self.judgements.items() if value == UNDECIDED]

    def decision_note(self, study: Study) -> str:
        """What it would take to decide this point, in words ("" when it is decided)."""
        parts = []
        if self.steady.get("too_short"):
            needed = self.steady.get("needed_s")
            parts.append("runs too short to reach a steady state" + (
                f" (about {format_figure(needed, 'duration')} per run needed)" if needed and math.isfinite(needed) else ""))
        for figure in self.undecided():
            if figure not in self.to_decide:
                continue  # undecided only because the runs are too short (said above)
            count = self.to_decide.get(figure)
            if count is None:
                parts.append(f"{figure}: the estimate sits on the limit; no number of replications would decide it")
            else:
                parts.append(f"{figure}: about {count} replications ({max(count - self.replications, 1)} more) would decide it")
        return "; ".join(parts)


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


@dataclass
class _Run:
    """A point being evaluated: its run length, its cut once chosen, raw data and finished rows."""

    point: Point
    duration: float
    attempt: int = 0
    final: bool = False  # this length was chosen by a reliable pilot: the runs are kept whatever they show
    cut: int | None = None
    raws: dict[int, dict[str, Any]] = field(default_factory=dict)
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    too_short: bool = False
    needed: float = math.nan
    cap: float = math.inf  # the longest run the study's size limits and budgets allow, once found below `longest`


class Evaluator:
    """Runs points to the replication rule, each point once (results cached by configuration)."""

    def __init__(self, study: Study, executor: "Executor", progress: Progress):
        self.study = study
        self.executor = executor
        self.progress = progress
        self.cache: dict[str, PointResult] = {}
        self.order: list[PointResult] = []

    def evaluate(self, points: list[Point]) -> list[PointResult]:
        from .executors import run_replication

        runs: dict[int, _Run] = {}
        seen: set[str] = set()
        for point in points:
            if point.identity not in self.cache and point.identity not in seen:
                seen.add(point.identity)
                runs[point.index] = _Run(point, point.scenario.duration)
        batch = [task for run in runs.values() for task in self._tasks(run, 0, self.study.spec.replications.min)]
        self.progress.add(len(batch), len(runs))
        open_runs = dict(runs)
        while batch:
            for row in self.executor.map(run_replication, batch):
                run = runs[row["point"]]
                if "_raw" in row:
                    run.raws[row["replication"]] = row
                else:
                    run.rows[row["replication"]] = self._flagged(run, row)
                self.progress.done(1)
            batch = []
            for index, run in list(open_runs.items()):
                if run.cut is None and run.raws:
                    retry = self._settle_length(run)
                    if retry:
                        batch += retry
                        continue
                if self._settled(run):
                    del open_runs[index]
                    self.progress.done(points=1)
                    continue
                more = min(self.study.spec.replications.step, self.study.spec.replications.most - len(run.rows))
                batch += self._tasks(run, len(run.rows), more)
            self.progress.add(len(batch))
        for run in runs.values():
            result = self._result(run)
            self.cache[run.point.identity] = result
            self.order.append(result)
        return [self.cache[point.identity] for point in points]

    # ------------------------------------------------------------------ tasks and run length
    def _tasks(self, run: _Run, start: int, count: int) -> list["Replication"]:
        from .executors import Replication

        spec, steady = self.study.spec, self.study.steady
        data = run.point.scenario.model_dump(by_alias=True)
        plan = RunPlan(run.duration, run.cut) if steady.enabled else None
        return [Replication(run.point.index, r, replication_seed(spec.seed, run.point.key, r, run.attempt), data,
                            str(self.study.base.base_dir), spec.mode, True, steady, plan, self.study.budgets.as_dict())
                for r in range(start, start + count)]

    def _settle_length(self, run: _Run) -> list["Replication"]:
        """Choose the point's cut from its first runs; run again longer if they were a pilot
        (returns the new tasks), else turn each into its window's row.

        Runs that start empty understate queues, latency and loss, so a point that already misses
        a `max` target on too-short runs would miss it by more on longer ones: it is not
        lengthened (nor is one whose backlog keeps growing)."""
        from .executors import window_row

        steady = self.study.steady
        raws = [run.raws[r] for r in sorted(run.raws)]
        cut, too_short, needed, trusted = choose_cut([raw["_raw"] for raw in raws], steady)
        behind = sum(raw["_raw"]["summary"]["verdict"] == FALLING_BEHIND for raw in raws) * 2 > len(raws)
        base = run.point.scenario.duration
        rows = [window_row(raw, cut, base) for raw in raws]
        longest = min(steady.longest * base, max(base, MAX_RUN_MESSAGES / max(estimate_messages(run.point.scenario) / base, 1e-9)),
                      max(base, run.cap))
        # Runs that measured the length they need do not also measure the figures (keeping runs
        # because they look settled keeps the calm ones and biases every figure low: measured,
        # mean and p99 latency 1.5-3% low on M/M/2 at ρ 0.8), except the spec's own runs when
        # comfortably long. A reliable pilot (trusted, and at least half the length it says is
        # needed) sets the length of fresh runs (`final`) that are kept whatever they show, unless
        # they would not even be a reliable pilot; an unreliable one sets the next pilot's length.
        reliable = trusted and needed < MARGIN * run.duration * (1 - 1e-9)
        comfortable = run.attempt == 0 and trusted and not too_short and run.duration >= MARGIN * needed
        if identical(rows):  # nothing random: the figures are exact at any length (a periodic series is not noise)
            comfortable, too_short, needed = True, False, 0.0
        if not (comfortable or (run.final and reliable)) and run.duration < longest * (1 - 1e-9) and not behind \
                and not self._misses_a_max(rows):
            wanted = _round_up(MARGIN * needed)
            chosen = min(longest, max(base, wanted) if reliable else max(2 * run.duration, wanted))
            allowed = self._within_budgets(run.point, chosen, run.duration)
            if allowed < chosen:
                run.cap = longest = allowed  # lengthening stops where the size limits and budgets do
            run.duration = allowed
            run.final = reliable or run.duration >= longest * (1 - 1e-9)
            run.attempt += 1
            run.raws = {}
            tasks = self._tasks(run, 0, len(raws))
            self.progress.add(len(tasks))
            return tasks
        run.cut, run.too_short, run.needed = cut, run.duration < needed * (1 - 1e-9) and not behind, needed
        for row in rows:
            run.rows[row["replication"]] = self._flagged(run, row)
        run.raws = {}
        return []

    def _within_budgets(self, point: Point, duration: float, shortest: float) -> float:
        """The longest run length, from `duration` halving down to `shortest` (what already ran),
        that the study's size limits and runtime budgets allow (`simbp.limits.check_size`); a
        `duration` no longer than what already ran is allowed as it is."""
        from ..errors import ScenarioTooLarge
        from ..limits import check_size, choose_mode

        if duration <= shortest:
            return duration
        while duration > shortest * (1 + 1e-9):
            scenario = point.scenario.with_changes({"duration": duration})
            try:
                check_size(scenario, allow_large=self.study.allow_large,
                           mode=choose_mode(scenario, self.study.spec.mode or "auto")[0], budgets=self.study.budgets)
                return duration
            except ScenarioTooLarge:  # BudgetExceeded included
                duration = max(shortest, duration / 2)
        return shortest

    def _misses_a_max(self, rows: list[dict[str, Any]]) -> bool:
        exact = identical(rows)
        return any(t.high is not None and t.kind != "rate" and t.judge(estimate_figure(t.figure, rows, exact)) == FAIL
                   for t in self.study.targets)

    def _flagged(self, run: _Run, row: dict[str, Any]) -> dict[str, Any]:
        if self.study.steady.enabled:
            row["steady.too_short"] = int(run.too_short)
            row["steady.needed_s"] = run.needed if run.too_short else math.nan
        return row

    # ------------------------------------------------------------------ stopping and judging
    def _rows(self, run: _Run) -> list[dict[str, Any]]:
        return [run.rows[r] for r in sorted(run.rows)]

    def _settled(self, run: _Run) -> bool:
        rule = self.study.spec.replications
        rows = self._rows(run)
        n = len(rows)
        if n < rule.min:
            return False
        if n >= rule.most or identical(rows):
            return True
        if rule.stop_when_decided and self._fails(rows):
            return True  # a point that fails stays failed: more replications would only narrow the miss
        for figure in self.study.check_figures:
            value = estimate_figure(figure, rows)
            target = self.study.target(figure)
            tight = rule.target_relative_half_width is not None and value.relative_half_width() <= rule.target_relative_half_width
            decided = rule.stop_when_decided and target is not None and target.decided(value)
            asked = rule.target_relative_half_width is not None or (rule.stop_when_decided and target is not None)
            if asked and not (tight or decided or self._futile(target, value, n)):
                return False
        return True

    def _fails(self, rows: list[dict[str, Any]]) -> bool:
        if sum(1 for row in rows if row.get("verdict") == FALLING_BEHIND) * 2 > len(rows):
            return True
        return any(t.judge(estimate_figure(t.figure, rows), self.study.judge) == FAIL for t in self.study.targets)

    def _futile(self, target: Any, value: Estimate, replications: int) -> bool:
        """Whether even the whole budget could not decide this target (its estimate sits on the
        limit, or deciding would take more replications than `replications.max`): stop adding."""
        if target is None or not self.study.spec.replications.stop_when_decided or replications < 3:
            return False
        if self.study.spec.replications.target_relative_half_width is not None:
            return False  # a width was asked for: keep going for it
        needed = replications_to_decide(target, value, replications)
        return needed is None or needed > self.study.spec.replications.most

    def _result(self, run: _Run) -> PointResult:
        study = self.study
        rows = self._rows(run)
        exact = identical(rows)
        utilisation = [f for f in study.figures if f.startswith("components.") and f.endswith(".utilisation")]
        names = list(dict.fromkeys([*HEADLINE_FIGURES, *(t.figure for t in study.targets), *study.check_figures,
                                    study.plot_figure("heatmap"), study.plot_figure("curve"), *utilisation]))
        estimates = {name: estimate_figure(name, rows, exact) for name in names if name in study.figures}
        judgements = {t.figure: t.judge(estimates[t.figure], study.judge) for t in study.targets}
        if run.too_short:  # a run that never settled cannot certify anything
            judgements = {figure: UNDECIDED if value == PASS else value for figure, value in judgements.items()}
        # A backlog that is still growing at the end of the run meets no target for long, whatever
        # the figures of a short run say: such a point fails (more time would only make it worse).
        behind = sum(1 for row in rows if row.get("verdict") == FALLING_BEHIND)
        if behind * 2 > len(rows):
            judgements[FALLING_BEHIND] = FAIL
        to_decide = {t.figure: replications_to_decide(t, estimates[t.figure], len(rows))
                     for t in study.targets if judgements.get(t.figure) == UNDECIDED and not run.too_short}
        steady = {"analysis": "steady state" if study.steady.enabled else "whole run",
                  "warmup_s": rows[0].get("warmup_s") if rows else None, "run_s": run.duration,
                  "lengthened": round(math.log2(run.duration / run.point.scenario.duration)),
                  "too_short": run.too_short, "needed_s": run.needed if run.too_short else None}
        verdicts = {figure: value == PASS for figure, value in judgements.items()}
        return PointResult(run.point, rows, estimates, verdicts, judgements, steady, to_decide)


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
