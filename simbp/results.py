"""Results of a run: the summary (the `summary.json` contract), the time series, and the verdict.

The summary is end to end over the whole scenario, and conservation holds exactly:
produced = consumed + dropped + timed_out + lost_in_crash + in_flight_at_end.
Latency (production to the end of consumption) and time averages leave out the warm-up.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .metrics import RELATIVE_ERROR, LatencySketch
from .units import format_bytes, format_duration

if TYPE_CHECKING:
    from .engine_contract import SimulatedModel
    from .scenario.schema import Scenario

__all__ = ["Results", "build_results", "verdict_for", "DROP_RATIO_THRESHOLD", "BLOCKED_THRESHOLD"]

DROP_RATIO_THRESHOLD = 1e-4  # above 0.01% of messages lost to drops or time-outs: "dropping"
BLOCKED_THRESHOLD = 0.01  # producers blocked over 1% of the time: "blocking"
GROWTH_THRESHOLD = 0.02  # work in flight grows by over 2% of arrivals in the second half: "falling_behind"


@dataclass
class Results:
    """What a run produced: `summary` (dict), `timeseries` and `events` (DataFrames)."""

    scenario: "Scenario"
    seed: int
    summary: dict[str, Any]
    timeseries: pd.DataFrame
    events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["time_s", "event", "component", "detail"]))
    mode: str = "exact"

    @property
    def verdict(self) -> str:
        return str(self.summary["verdict"])

    def to_json(self) -> str:
        """The summary as stable, indented JSON (same run, same bytes)."""
        return json.dumps(_jsonable(self.summary), indent=2, allow_nan=False) + "\n"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            return None
        return round(value, 9)
    return value


def _latency(sketch: LatencySketch) -> dict[str, float | None]:
    if sketch.count == 0:
        return {"mean": None, "p50": None, "p95": None, "p99": None, "max": None, "count": 0}
    p50, p95, p99 = sketch.quantiles((0.5, 0.95, 0.99))
    return {"mean": sketch.mean, "p50": p50, "p95": p95, "p99": p99, "max": sketch.maximum, "count": sketch.count}


def build_results(model: "SimulatedModel") -> Results:
    """Derive the summary, verdict and tables from a finished model."""
    scenario = model.scenario
    now = model.env.now
    model.flush()
    totals = model.totals()
    warm = model.warmup_state or {}
    start = float(warm.get("time", 0.0))
    span = max(now - start, 1e-12)
    overall = LatencySketch()
    for sketch in model.sketch_by_group.values():
        overall.merge(sketch)
    produced = int(totals["produced"])
    lost = int(totals["dropped"] + totals["timed_out"] + totals["lost_in_crash"] + totals.get("failed", 0))
    blocked = sum(p.blocked_seconds(now) for p in model.producers)
    blocked_fraction = blocked / (now * len(model.producers)) if now > 0 and model.producers else 0.0
    peak_depth = max((b.peak_depth for b in model.buffers.values()), default=0)
    peak_depth = max([peak_depth] + [e.peak_queue_depth() for e in model.extensions])  # Kafka lag counts too
    service = model.service

    components: dict[str, dict[str, Any]] = {}
    for producer in model.producers:
        components[producer.name] = {
            "kind": "producer", "produced": producer.produced, "timed_out": producer.timed_out,
            "lost_in_crash": producer.lost_in_crash, "in_flight_at_end": producer.holds_item(),
            "producer_blocked_fraction": producer.blocked_seconds(now) / now if now > 0 else 0.0,
            "blocked_s": producer.blocked_seconds(now), "mean_rate_per_s": producer.produced / now if now > 0 else 0.0,
        }
    for buffer in model.buffers.values():
        area = buffer.waiting_area(now) - float(warm.get("area", {}).get(buffer.name, 0.0))
        components[buffer.name] = {
            "kind": "buffer", "policy": buffer.policy,
            "capacity": None if math.isinf(buffer.capacity) else buffer.capacity,
            "accepted": buffer.accepted, "dropped": buffer.dropped, "lost_in_crash": buffer.lost_in_crash,
            "in_flight_at_end": buffer.depth, "peak_queue_depth": buffer.peak_depth,
            "mean_queue_depth": area / span, "peak_bytes": buffer.peak_bytes,
            "loss_ratio": buffer.dropped / max(buffer.accepted + buffer.dropped, 1),
        }
    for group in model.groups.values():
        busy = group.busy_seconds(now) - float(warm.get("busy", {}).get(group.name, 0.0))
        entry: dict[str, Any] = {
            "kind": "consumer", "workers": len(group.workers), "processed": group.processed,
            "consumed": group.consumed, "forwarded": group.forwarded, "timed_out": group.timed_out,
            "lost_in_crash": group.lost_in_crash, "in_flight_at_end": group.held_items(),
            "utilisation": max(0.0, busy) / (span * len(group.workers)), "blocked_s": group.blocked_seconds(now),
        }
        if group.sink:
            entry["latency_s"] = _latency(model.sketch_by_group[group.name])
        if group.spec.batch is not None:
            entry["batches"] = group.batches
            entry["mean_batch_size"] = group.processed / group.batches if group.batches else None
        components[group.name] = entry
    for extension in model.extensions:  # topics and consumer groups; autoscaled consumers' figures
        for name, figures in extension.components().items():
            components.setdefault(name, {}).update(figures)

    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "seed": model.seed,
        "mode": model.mode,  # "exact" or "fast" (simbp.fast.model.FastModel)
        "duration_s": now,
        "warmup_s": scenario.warmup,
        "produced": produced,
        "dropped": int(totals["dropped"]),
        "timed_out": int(totals["timed_out"]),
        "lost_in_crash": int(totals["lost_in_crash"]),
        "consumed": int(totals["consumed"]),
        "in_flight_at_end": int(totals["in_flight"]),
        "discarded": int(totals.get("discarded", 0)),  # let go of on purpose (docs/systems.md)
        "failed": int(totals.get("failed", 0)),  # downstream calls failed after every retry (docs/systems.md)
        "retries": int(sum(getattr(p, "retries", 0) for p in model.producers)),  # attempts that were retries
        "loss_ratio": lost / produced if produced else 0.0,
        "latency_s": _latency(overall),
        "latency_relative_error": RELATIVE_ERROR,
        "peak_queue_depth": peak_depth,
        "peak_memory_bytes": service.peak,
        "memory_limit_bytes": None if math.isinf(service.limit) else service.limit,
        "crashes": service.crashes,
        "first_crash_s": service.crash_times[0] if service.crash_times else None,
        "downtime_s": service.downtime_until(now),
        "producer_blocked_fraction": blocked_fraction,
        "throughput_per_s": totals["consumed"] / now if now > 0 else 0.0,
    }
    timeseries = pd.DataFrame(model.samples)
    summary["peak_lag_s"] = _peak_lag_seconds(timeseries, components)
    summary["components"] = components
    verdict, reason = verdict_for(summary, timeseries, scenario)
    summary["verdict"] = verdict
    summary["verdict_reason"] = reason + _discarded_note(summary)
    if scenario.expect is not None:
        summary["expected_verdict"] = scenario.expect.verdict
        summary["expectation_met"] = verdict == scenario.expect.verdict
    events = _events(model)
    return Results(scenario=scenario, seed=model.seed, summary=summary, timeseries=timeseries, events=events,
                   mode=summary["mode"])


def _peak_lag_seconds(timeseries: pd.DataFrame, components: dict[str, dict[str, Any]]) -> float:
    """The highest sampled lag in seconds (age of the oldest message waiting in a buffer, or not yet
    committed on a Kafka topic), over the whole run; each buffer's and topic's own peak goes into its entry."""
    peak = 0.0
    for name, entry in components.items():
        column = f"{name}.lag_s"
        if entry.get("kind") in ("buffer", "topic") and column in timeseries:
            value = float(timeseries[column].max()) if len(timeseries) else 0.0
            value = value if math.isfinite(value) else 0.0
            entry["peak_lag_s"] = value
            peak = max(peak, value)
    return peak


def _events(model: "SimulatedModel") -> pd.DataFrame:
    rows = [{"time_s": t, "event": "crash", "component": "service", "detail": "memory over the limit"} for t in model.service.crash_times]
    rows += [{"time_s": t, "event": "restart", "component": "service", "detail": "came back empty"} for t in model.service.restart_times]
    rows += [row for extension in model.extensions for row in extension.events()]
    frame = pd.DataFrame(rows, columns=["time_s", "event", "component", "detail"])
    return frame.sort_values("time_s", kind="stable").reset_index(drop=True)


def growth_rate(timeseries: pd.DataFrame) -> tuple[float, float]:
    """Items/s and bytes/s by which work in flight grew over the second half of the run."""
    if len(timeseries) < 4:
        return 0.0, 0.0
    half = timeseries[timeseries["time_s"] >= timeseries["time_s"].iloc[-1] / 2]
    if len(half) < 2:
        return 0.0, 0.0
    t = half["time_s"].to_numpy(dtype=float)
    items = np.polyfit(t, half["in_flight"].to_numpy(dtype=float), 1)[0]
    memory = np.polyfit(t, half["memory_bytes"].to_numpy(dtype=float), 1)[0]
    return float(items), float(memory)


def verdict_for(summary: dict[str, Any], timeseries: pd.DataFrame, scenario: "Scenario") -> tuple[str, str]:
    """Which failure mode the run fell into, and one plain sentence saying why."""
    produced = max(summary["produced"], 1)
    if summary["crashes"]:
        first = summary["first_crash_s"]
        limit = summary.get("memory_limit_bytes")
        restart_after = None if scenario.memory is None else scenario.memory.restart_after
        restart = "" if restart_after is None else f", restarting empty after {format_duration(restart_after)}"
        return "crashed", (
            f"memory passed its {format_bytes(limit or 0)} limit at {format_duration(first)} and the service crashed "
            f"{summary['crashes']} time(s){restart}, losing {summary['lost_in_crash']:,} messages "
            f"({summary['lost_in_crash'] / produced:.1%} of those produced)."
        )
    drops = summary["dropped"] + summary["timed_out"] + summary.get("failed", 0)
    if drops / produced > DROP_RATIO_THRESHOLD:
        holders = (c for c in summary["components"].items() if c[1]["kind"] in ("buffer", "topic"))
        worst = max(holders, key=lambda c: c[1]["dropped"], default=None)
        where = f" at {worst[0]!r}" if worst and worst[1]["dropped"] else ""
        if worst and worst[1]["kind"] == "topic" and worst[1]["dropped"] and not summary["timed_out"]:
            return "dropping", (
                f"the consumers fell behind Kafka's retention and {summary['dropped']:,} messages were deleted unread{where}: "
                f"{drops / produced:.2%} of {summary['produced']:,} messages lost, "
                f"while consumers ran at {_busiest(summary):.0%} utilisation."
            )
        parts = []
        if summary["dropped"]:
            parts.append(f"{summary['dropped']:,} dropped{where}")
        if summary["timed_out"]:
            parts.append(f"{summary['timed_out']:,} timed out waiting upstream")
        if summary.get("failed"):
            parts.append(f"{summary['failed']:,} failed at a downstream service")
        cause = "the buffers filled and" if summary["dropped"] or summary["timed_out"] else "downstream calls kept failing:"
        return "dropping", (
            f"{cause} {' and '.join(parts)}: {drops / produced:.2%} of {summary['produced']:,} messages lost, "
            f"while consumers ran at {_busiest(summary):.0%} utilisation."
        )
    if summary["producer_blocked_fraction"] > BLOCKED_THRESHOLD:
        paused = any(c.get("pauses") for c in summary["components"].values() if c["kind"] == "producer")
        where = "paused on write() returning false until 'drain'" if paused else "blocked on a full buffer"
        return "blocking", (
            f"producers spent {summary['producer_blocked_fraction']:.1%} of the time {where}, so "
            f"the load upstream was slowed down (consumers at {_busiest(summary):.0%} utilisation)."
        )
    items_per_s, bytes_per_s = growth_rate(timeseries)
    second_half = summary["produced"] / 2
    if items_per_s > 0 and items_per_s * summary["duration_s"] / 2 > max(GROWTH_THRESHOLD * second_half, 50):
        reason = f"the queue grows {items_per_s:,.0f} items/s (consumers at {_busiest(summary):.0%} utilisation)"
        limit = summary.get("memory_limit_bytes")
        if limit and bytes_per_s > 0 and len(timeseries):
            now_bytes = float(timeseries["memory_bytes"].iloc[-1])
            eta = summary["duration_s"] + (limit - now_bytes) / bytes_per_s
            reason += f" and memory would reach its {format_bytes(limit)} limit at {format_duration(eta)}"
        elif bytes_per_s > 0:
            reason += f", adding {format_bytes(bytes_per_s)}/s of memory with no limit set"
        return "falling_behind", reason + "."
    if drops:
        return "healthy", (
            f"consumers keep up ({_busiest(summary):.0%} utilisation); only {drops:,} of {summary['produced']:,} "
            f"messages were lost, under the {DROP_RATIO_THRESHOLD:.2%} that counts as dropping."
        )
    p99 = summary["latency_s"]["p99"]
    latency = f", p99 latency {format_duration(p99)}" if p99 is not None else ""
    return "healthy", f"consumers keep up ({_busiest(summary):.0%} utilisation at the busiest stage), nothing lost{latency}."


def _discarded_note(summary: dict[str, Any]) -> str:
    """A sentence on messages let go of on purpose (rate limits, RxJS operators, shedding), if any."""
    discarded = summary.get("discarded", 0)
    if not discarded:
        return ""
    return (f" Besides, {discarded:,} messages ({discarded / max(summary['produced'], 1):.1%}) were discarded on purpose "
            "(rate limit, RxJS operators or priority shedding), which is not counted as loss.")


def _busiest(summary: dict[str, Any]) -> float:
    values = [c["utilisation"] for c in summary["components"].values() if c["kind"] in ("consumer", "consumer_group")]
    return max(values, default=0.0)
