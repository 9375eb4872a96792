"""Steady-state output analysis: the warm-up cut, run lengths, and each replication's figures of
the window after the cut.

A run starts empty, so its first stretch is a warm-up that flatters every figure (shorter queues,
fewer losses, lower tails). The cut is found with MSER-5 (White 1997): the batch boundary that
minimises the squared standard error of the mean of what remains of the number-in-system series.
On strongly autocorrelated output (a queue near saturation) MSER-5 on a single run is swamped by
noise and usually cuts nothing, so, as Hoad, Robinson & Davies (2010) recommend, it is applied to
the average of the point's first replications (`choose_cut`); the cut is then removed from every
replication of the point, and each reports it (`warmup_s`). A cut in the second half of the runs
means they never settled: too short. So does a window with too few completions beyond the tail
quantile a target asks about (`TAIL_EVENTS`). Too-short runs were a pilot: the planner runs the
point again with fresh seeds at the length needed (`evaluation`), up to `SteadyState.longest`
times the spec's duration; the length is trusted only from a window spanning `PILOT_TIMES`
correlation times.

Per replication (run where the replication runs): `run_probe` runs with an observer
(`SketchSnapshots`, an engine extension) that copies the cumulative latency sketches at every
candidate cut, and returns that raw data; `window` turns raw data and a cut into the summary of
the window: latency from the final sketches minus the snapshot at the cut (what a run with
`warmup:` set to the cut reports), loss, throughput, utilisation and blocking from the per-sample
counts after the cut. Counts, peaks and crashes stay whole-run, as the engine's own `warmup`
leaves them. What is pooled over replications stays small: the window's latency sketches as their
non-zero bucket counts and its loss counts in `LOSS_BATCHES` batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .. import semantics
from ..metrics import LatencySketch

__all__ = ["SteadyState", "RunPlan", "Cut", "PILOT_TIMES", "changing_load", "SketchSnapshots", "mser_cut",
           "correlation_time", "run_times", "choose_cut",
           "run_probe", "run_at_cut", "run_whole", "window", "sketch_state", "sketch_from_state", "MSER_BATCH",
           "TAIL_EVENTS", "LOSS_BATCHES", "POOLED"]

MSER_BATCH = 5  # MSER-5: the truncation rule works on means of 5 consecutive samples
SAMPLES = 1000  # planning runs are sampled at least this often: the correlation time is resolved to duration / 2000
TAIL_EVENTS = 10  # completions beyond the highest targeted quantile each replication's window must hold
LOSS_BATCHES = 20  # the window's loss counts are returned in this many batches (for the design effect)
TAU_BATCHES = 10  # batches per window for the correlation time
PILOT_TIMES = 50  # a window spanning fewer correlation times (batches of five) underestimates them: not trusted to set a run length
RUN_TIMES = 200  # a window must span this many correlation times of the number in system (≈ 100 independent looks)
FEWEST_RUN_TIMES = 100  # … and never fewer than this, however few the replications


def run_times(replications: int) -> float:
    """The correlation times a window must span for intervals over `replications` runs to hold:
    `RUN_TIMES` from five replications on. With fewer, Student's t interval is so much wider
    (t₁ = 12.7, t₂ = 4.3) that a start-up bias or a skewed spread of shorter runs stays inside
    it: the requirement scales with n / t²₍ₙ₋₁₎, but never below `FEWEST_RUN_TIMES` (at 50 τ,
    three replications of M/M/2 at ρ 0.95 put p99 intervals around the truth only 80-83% of the
    time: a short window's pooled p99 is biased low; benchmarks/coverage.py)."""
    from .statistics import t_quantile_975

    if replications < 2:
        return RUN_TIMES
    scale = (replications / t_quantile_975(replications - 1) ** 2) / (5 / t_quantile_975(4) ** 2)
    return max(FEWEST_RUN_TIMES, RUN_TIMES * min(1.0, scale))


POOLED = "_pooled"  # a replication row's key for what is pooled over replications; not a figure
_LOST = ("dropped", "timed_out", "lost_in_crash")


@dataclass(frozen=True)
class SteadyState:
    """How a point's replications are analysed: steady state (`enabled`) or the whole run as the
    engine reports it (a transient study). `warmup`: a fixed cut in seconds (None: detect it).
    `longest`: runs may be lengthened to this many times the spec's duration. `tail_quantile`: the
    highest latency quantile a target asks about (each window must hold enough completions).
    `replications`: the most a point may get (fewer make wider intervals, which need shorter runs)."""

    enabled: bool = True
    warmup: float | None = None
    longest: float = 64.0
    tail_quantile: float | None = None
    replications: int = 10


@dataclass(frozen=True)
class RunPlan:
    """What one replication task does: run `duration` seconds and either return raw data for the
    cut to be chosen (`cut` None) or the figures of the window after sample `cut`."""

    duration: float
    cut: int | None = None


class SketchSnapshots:
    """Engine extension that copies the cumulative latency sketches at the samples `wanted`
    (indices), so the figures after any of them can be derived once the run is over."""

    def __init__(self, wanted: set[int]):
        self.model: Any = None
        self.wanted = wanted
        self.taken: dict[int, dict[str, LatencySketch]] = {}

    def sample(self, row: dict[str, float]) -> None:
        index = len(self.model.samples)  # the row is appended right after the extensions see it
        if index in self.wanted:
            self.taken[index] = {name: sketch.copy() for name, sketch in self.model.sketch_by_group.items()}

    # the other extension hooks: this observer changes nothing in the run
    def start(self) -> None: ...

    def flush(self) -> None: ...

    def end_warmup(self) -> None: ...

    def totals(self) -> dict[str, float]:
        return {}

    def components(self) -> dict[str, dict[str, Any]]:
        return {}

    def events(self) -> list[dict[str, Any]]:
        return []

    def peak_queue_depth(self) -> int:
        return 0


def changing_load(scenario: Any) -> str:
    """Why the load of a scenario is not stationary (a steady state cannot be reached), or ""."""
    for producer in scenario.producers:
        arrivals = producer.arrivals
        process = semantics.arrival_process(arrivals.process)
        repeats = getattr(arrivals, "repeat", None) is not None
        if process.stationary == "never" or (process.stationary == "when repeating" and not repeats):
            return f"producer {producer.name!r} {process.unsteady}"
        if producer.start > 0 or (producer.stop is not None and producer.stop < scenario.duration):
            return f"producer {producer.name!r} starts late or stops early"
    return ""


# ====================================================================================== the cut
def mser_cut(series: np.ndarray | list[float], batch: int = MSER_BATCH) -> tuple[int, bool]:
    """MSER-`batch` truncation: (samples to delete, too short).

    The series is cut into means of `batch` samples; the cut d (in batches, at most half of them)
    minimises Σ_{j≥d} (b_j − mean)² / (m − d)², the squared standard error of the remaining mean.
    Runs start empty, so a warm-up is a stretch holding *less* than what follows: a cut that
    would remove a stretch holding more is an excursion, not a warm-up (removing it would bias
    every figure low), and is not considered. When the minimum falls on the half-way limit the
    statistic was still falling there: the run had not settled by its middle, too short to trust.
    """
    values = np.asarray(series, dtype=float)
    m = len(values) // batch
    if m < 4:
        return 0, True
    means = values[: m * batch].reshape(m, batch).mean(axis=1)
    tail_sum = np.cumsum(means[::-1])[::-1]
    tail_squares = np.cumsum((means**2)[::-1])[::-1]
    remaining = np.arange(m, 0, -1, dtype=float)
    spread = np.maximum(tail_squares - tail_sum**2 / remaining, 0.0)  # Σ (b − mean)² over the batches kept
    statistic = np.round(spread / remaining**2, 12)  # rounding: ties (a flat series) go to the earliest cut
    half = m // 2
    head = np.concatenate(([0.0], np.cumsum(means)))[: half + 1]
    removed_mean = np.divide(head, np.arange(half + 1), out=np.full(half + 1, -np.inf), where=np.arange(half + 1) > 0)
    kept_mean = tail_sum[: half + 1] / remaining[: half + 1]
    allowed = removed_mean <= kept_mean + 1e-12
    best = int(np.argmin(np.where(allowed, statistic[: half + 1], np.inf)))
    return best * batch, bool(best == half and statistic[half] < statistic[0])


def correlation_time(series: np.ndarray | list[float], span: float, batches: int = TAU_BATCHES) -> float:
    """The integrated autocorrelation time of a sampled series, in seconds, by batch means:
    (span / batches) × Var(batch means) / (2 Var(samples)), less half a sampling interval (what
    independent samples give: a correlation shorter than the sampling interval is not resolved).
    Twice this is how far apart two samples must be to count as independent. It is
    underestimated on short runs, so the planner keeps first runs only with a margin."""
    values = np.asarray(series, dtype=float)
    size = len(values) // batches
    if size < 2 or values.var() == 0:
        return 0.0
    step = span / len(values)
    means = values[: size * batches].reshape(batches, size).mean(axis=1)
    return max(0.0, float(step * size * means.var(ddof=1) / (2 * values.var(ddof=1)) - step / 2))


def candidate_cuts(samples: int) -> set[int]:
    """Sample indices a cut may fall on: MSER batch boundaries in the first half."""
    return set(range(0, samples // 2 + 1, MSER_BATCH))


class Cut(NamedTuple):
    """The point's warm-up cut (`sample`, an index), whether its runs are too short, the run length
    they need (seconds), and whether that need can be trusted (`trusted`: the window spans
    `PILOT_TIMES` correlation times, so the estimate of the correlation time itself holds)."""

    sample: int
    too_short: bool
    needed: float
    trusted: bool


def choose_cut(raws: list[dict[str, Any]], settings: SteadyState) -> Cut:
    """The point's cut from its first replications' raw data.

    The cut is MSER-5 on the replications' average number in system (or the first sample at or
    after a fixed `warmup`). The run length needed is the cut plus `run_times` correlation times
    of the number in system (the mean of the replications' batch-means estimates), and at least
    what gives each window `TAIL_EVENTS` completions beyond the tail quantile asked; twice the
    run when MSER found no settled stretch (then nothing about the length is trusted).
    """
    times = [row["time_s"] for row in raws[0]["samples"]]
    duration = times[-1]
    if settings.warmup is not None:
        cut = next((k for k in sorted(candidate_cuts(len(times))) if times[k] >= settings.warmup - 1e-12), None)
        if cut is None:
            return Cut(0, True, 2.0 * settings.warmup, False)
    else:
        length = min(len(raw["samples"]) for raw in raws)
        average = np.mean([[row["in_flight"] for row in raw["samples"][:length]] for raw in raws], axis=0)
        cut, unsettled = mser_cut(average)
        if unsettled:
            return Cut(cut, True, 2.0 * duration, False)
    span = max(duration - times[cut], 1e-9)
    tau = float(np.mean([correlation_time([row["in_flight"] for row in raw["samples"][cut + 1:]], span) for raw in raws]))
    needed = times[cut] + run_times(settings.replications) * tau
    if settings.tail_quantile is not None:
        wanted = TAIL_EVENTS / max(1e-9, 1.0 - settings.tail_quantile)
        fewest = min(_window_completions(raw, cut) for raw in raws)
        rate = fewest / span
        needed = max(needed, times[cut] + (wanted / rate if rate > 0 else 2.0 * span))
    return Cut(cut, duration < needed * (1 - 1e-9), needed, span >= PILOT_TIMES * tau)


def _window_completions(raw: dict[str, Any], cut: int) -> int:
    final = raw["final"]
    before = raw["snapshots"].get(cut, {})
    return sum(state["count"] - (before[name]["count"] if name in before else 0) for name, state in final.items())


# ====================================================================================== runs
def _simulate(scenario: Any, seed: int, mode: str | None, allow_large: bool,
              observer: SketchSnapshots | None = None, budgets: Any = None) -> tuple[Any, dict[str, Any]]:
    """Run like `simbp.run` (mode choice, size check, runtime budgets, summary keys), with an
    optional observer extension."""
    from ..budget import Budgets
    from ..limits import check_size, choose_mode
    from ..results import build_results

    budgets = budgets if isinstance(budgets, Budgets) else Budgets().with_overrides(budgets)
    chosen, reason = choose_mode(scenario, mode or "auto")
    check_size(scenario, allow_large=allow_large, mode=chosen, budgets=budgets)
    about_mode: dict[str, Any] = {"mode_reason": reason}
    if chosen == "fast":
        from ..fast.accuracy import fast_error_summary
        from ..fast.model import FastModel

        model: Any = FastModel(scenario, seed)
        about_mode["quantum_s"] = model.quantum
        about_mode["fast_error"] = fast_error_summary(kafka=bool(scenario.topics), scenario=scenario, quantum=model.quantum)
    else:
        from ..exact.model import Model

        model = Model(scenario, seed)
    guard = budgets.guard(label=getattr(scenario, "_source", None))
    model.guard = guard
    if observer is not None:
        observer.model = model
        model.extensions.append(observer)
    model.run(lambda fraction: guard.check_clock())
    summary: dict[str, Any] = {}
    for key, value in build_results(model).summary.items():  # as simbp.run orders it
        summary[key] = value
        if key == "mode":
            summary.update(about_mode)
    return model, summary


def _prepared(scenario: Any, duration: float) -> Any:
    """The scenario to run: this duration, no engine warm-up (the cut is chosen afterwards), and
    enough samples for MSER."""
    changes: dict[str, Any] = {"duration": duration, "warmup": 0.0}
    if scenario.sample_interval is None or duration / scenario.sample_interval < SAMPLES:
        changes["sample_interval"] = duration / SAMPLES
    return scenario.with_changes(changes)


def _sample_count(scenario: Any) -> int:
    interval = scenario.effective_sample_interval
    return int(math.floor(scenario.duration / interval - 1e-9)) + 2  # t = 0, every interval, and the end


def run_probe(scenario: Any, seed: int, mode: str | None, allow_large: bool, duration: float,
              budgets: Any = None) -> dict[str, Any]:
    """Run and return the raw data `choose_cut` and `window` need (the cut is not known yet)."""
    run = _prepared(scenario, duration)
    observer = SketchSnapshots(candidate_cuts(_sample_count(run)))
    model, summary = _simulate(run, seed, mode, allow_large, observer, budgets)
    return _raw(model, summary, observer)


def run_at_cut(scenario: Any, seed: int, mode: str | None, allow_large: bool, duration: float,
               cut: int, budgets: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run and return the figures of the window after sample `cut` (the point's cut is known)."""
    run = _prepared(scenario, duration)
    observer = SketchSnapshots({cut})
    model, summary = _simulate(run, seed, mode, allow_large, observer, budgets)
    return window(_raw(model, summary, observer), cut, duration)


def run_whole(scenario: Any, seed: int, mode: str | None, allow_large: bool,
              budgets: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A transient study: the run as the engine reports it (latency after the scenario's own
    `warmup`, counts over the whole run), and the same data for pooling."""
    model, summary = _simulate(scenario, seed, mode, allow_large, budgets=budgets)
    rows = model.samples
    summary["steady"] = {"analysis": 0, "window_s": rows[-1]["time_s"], "too_short": 0, "needed_s": math.nan,
                         **_counts(rows, 0)}
    return summary, _pooled(rows, 0, dict(model.sketch_by_group), _sinks(model))


def _sinks(model: Any) -> set[str]:
    return {name for name, group in model.groups.items() if getattr(group, "sink", True)}


def _raw(model: Any, summary: dict[str, Any], observer: SketchSnapshots) -> dict[str, Any]:
    sinks = _sinks(model)
    return {"summary": summary, "samples": model.samples,
            "final": {name: sketch_state(s) for name, s in model.sketch_by_group.items() if name in sinks},
            "snapshots": {index: {name: sketch_state(s) for name, s in taken.items() if name in sinks}
                          for index, taken in observer.taken.items()}}


# ====================================================================================== the window
def window(raw: dict[str, Any], cut: int, base_duration: float, too_short: bool = False,
           needed: float = math.nan) -> tuple[dict[str, Any], dict[str, Any]]:
    """(summary of the window after sample `cut`, pooled data) from a replication's raw data."""
    summary = raw["summary"]
    rows = raw["samples"]
    before = raw["snapshots"].get(cut, {})
    sketches = {name: sketch_from_state(state) for name, state in raw["final"].items()}
    for name, sketch in sketches.items():
        if name in before:
            _subtract(sketch, sketch_from_state(before[name]))
    _window_figures(summary, rows, cut, sketches)
    summary["warmup_s"] = rows[cut]["time_s"]
    summary["steady"] = {"analysis": 1, "window_s": rows[-1]["time_s"] - rows[cut]["time_s"],
                         "too_short": int(too_short), "needed_s": needed, "run_s": rows[-1]["time_s"],
                         "lengthened": round(math.log2(max(rows[-1]["time_s"] / base_duration, 1.0))),
                         **_counts(rows, cut), **_halves(rows, cut)}
    return summary, _pooled(rows, cut, sketches, set(sketches))


def _subtract(final: LatencySketch, before: LatencySketch) -> None:
    """Leave in `final` only the observations made after `before` (a cumulative copy) was taken."""
    final.counts -= before.counts
    final.zeros -= before.zeros
    final.count -= before.count
    final.total -= before.total
    if final.count == 0:
        final.maximum = float("-inf")


def _counts(rows: list[dict[str, float]], cut: int) -> dict[str, int]:
    after = rows[cut + 1:]
    return {"produced": int(sum(r["produced"] for r in after)), "lost": int(sum(r[k] for r in after for k in _LOST)),
            "consumed": int(sum(r["consumed"] for r in after))}


def _halves(rows: list[dict[str, float]], cut: int) -> dict[str, float]:
    """Mean number in system over the first quarter of the window and over the rest: a residual
    warm-up shows as a difference the replications agree on."""
    values = [row["in_flight"] for row in rows[cut + 1:]]
    quarter = max(1, len(values) // 4)
    early, late = values[:quarter], values[quarter:] or values
    return {"in_flight_early": float(np.mean(early)) if early else math.nan, "in_flight_late": float(np.mean(late)) if late else math.nan}


def _latency(sketch: LatencySketch) -> dict[str, float | None]:
    """The summary's latency figures of a sketch (as `simbp.results` writes them)."""
    if sketch.count == 0:
        return {"mean": None, "p50": None, "p95": None, "p99": None, "max": None, "count": 0}
    p50, p95, p99 = sketch.quantiles((0.5, 0.95, 0.99))
    return {"mean": sketch.mean, "p50": p50, "p95": p95, "p99": p99, "max": sketch.maximum, "count": sketch.count}


def _window_figures(summary: dict[str, Any], rows: list[dict[str, float]], cut: int,
                    sketches: dict[str, LatencySketch]) -> None:
    """Replace the figures the engine leaves out of its warm-up by their values after the cut."""
    after = rows[cut + 1:]
    span = max(rows[-1]["time_s"] - rows[cut]["time_s"], 1e-12)
    steps = [row["time_s"] - previous["time_s"] for previous, row in zip(rows[cut:], after)]
    counts = _counts(rows, cut)
    summary["loss_ratio"] = counts["lost"] / counts["produced"] if counts["produced"] else 0.0
    summary["throughput_per_s"] = counts["consumed"] / span
    overall = LatencySketch()
    for sketch in sketches.values():
        overall.merge(sketch)
    summary["latency_s"] = _latency(overall)
    producers = [name for name, c in summary["components"].items() if c.get("kind") == "producer"]
    blocked = sum(row.get("producer_blocked_s", 0.0) for row in after)
    summary["producer_blocked_fraction"] = blocked / (span * len(producers)) if producers else 0.0
    first = rows[0]
    for name, entry in summary["components"].items():
        kind = entry.get("kind")
        if kind == "consumer" and f"{name}.utilisation" in first:
            entry["utilisation"] = sum(row[f"{name}.utilisation"] * step for row, step in zip(after, steps)) / span
            if name in sketches and "latency_s" in entry:
                entry["latency_s"] = _latency(sketches[name])
        elif kind == "buffer" and f"{name}.depth" in first and after:
            entry["mean_queue_depth"] = float(np.mean([row[f"{name}.depth"] for row in after]))
        elif kind == "producer" and f"{name}.blocked_fraction" in first:
            entry["producer_blocked_fraction"] = sum(row[f"{name}.blocked_fraction"] * step
                                                     for row, step in zip(after, steps)) / span


def _pooled(rows: list[dict[str, float]], cut: int, sketches: dict[str, LatencySketch], sinks: set[str]) -> dict[str, Any]:
    """What the planner pools over replications: window sketches and loss counts in batches."""
    after = rows[cut + 1:]
    batches = []
    for part in np.array_split(np.arange(len(after)), min(LOSS_BATCHES, max(len(after), 1))):
        if len(part):
            produced = sum(after[k]["produced"] for k in part)
            lost = sum(after[k][key] for k in part for key in _LOST)
            batches.append((int(produced), int(lost)))
    return {"sketches": {name: sketch_state(s) for name, s in sketches.items() if name in sinks}, "loss_batches": batches}


# ====================================================================================== sketches as data
def sketch_state(sketch: LatencySketch) -> dict[str, Any]:
    """A sketch as small plain data: non-zero buckets and their counts."""
    index = np.flatnonzero(sketch.counts)
    return {"index": index.tolist(), "counts": sketch.counts[index].tolist(), "zeros": int(sketch.zeros),
            "count": int(sketch.count), "total": float(sketch.total), "maximum": float(sketch.maximum)}


def sketch_from_state(state: dict[str, Any]) -> LatencySketch:
    """The sketch `sketch_state` described."""
    sketch = LatencySketch()
    sketch.counts[np.asarray(state["index"], dtype=np.int64)] = np.asarray(state["counts"], dtype=np.int64)
    sketch.zeros, sketch.count, sketch.total = int(state["zeros"]), int(state["count"]), float(state["total"])
    sketch.maximum = float(state["maximum"])
    return sketch
