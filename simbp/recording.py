"""Counters both engines record the same way: totals (conservation), time-series rows, the warm-up cut.

Written once over `simbp.engine_contract.SimulatedModel`, so exact and fast mode cannot drift apart:
produced = consumed + dropped + timed_out + lost_in_crash + in_flight (+ discarded + failed, the
systems keys' two terms, 0 when unused), with extensions adding their additive totals.
"""

from __future__ import annotations

from typing import Any

from .engine_contract import SimulatedModel

__all__ = ["flush", "totals", "time_series_row", "warmup_snapshot", "EXTENSION_TOTALS"]

EXTENSION_TOTALS = ("dropped", "consumed", "in_flight", "discarded", "failed")
"""The totals an extension may add to (each additive, each 0 when it has none)."""


def flush(model: SimulatedModel) -> None:
    """Hand buffered latencies to the sketches (groups and extensions)."""
    for group in model.groups.values():
        group.flush_latencies()
    for extension in model.extensions:
        extension.flush()


def totals(model: SimulatedModel) -> dict[str, float]:
    """Cumulative counters for the whole model at this instant (the conservation terms)."""
    producers, buffers, groups = model.producers, model.buffers.values(), model.groups.values()
    result: dict[str, float] = {
        "produced": sum(p.produced for p in producers),
        "dropped": sum(b.dropped for b in buffers),
        "timed_out": sum(p.timed_out for p in producers) + sum(g.timed_out for g in groups),
        "lost_in_crash": (sum(p.lost_in_crash for p in producers) + sum(b.lost_in_crash for b in buffers)
                          + sum(g.lost_in_crash for g in groups)),
        "consumed": sum(g.consumed for g in groups),
        "in_flight": (sum(b.depth for b in buffers) + sum(g.held_items() for g in groups)
                      + sum(p.holds_item() for p in producers)),
        "discarded": 0,  # deliberate drops (operators, rate limits, shedding)
        "failed": 0,  # downstream calls failed on their last attempt
    }
    for extension in model.extensions:
        extra = extension.totals()
        for key in EXTENSION_TOTALS:
            result[key] += extra.get(key, 0)
    return result


def time_series_row(model: SimulatedModel, last: dict[str, float]) -> dict[str, float]:
    """One row of the time series at this instant; per-interval figures are differences of the
    totals remembered in `last` (updated here). Call `flush(model)` first."""
    now = model.env.now
    row: dict[str, float] = {"time_s": now}
    current = model.totals()
    for key in ("produced", "dropped", "timed_out", "lost_in_crash", "consumed"):
        row[key] = current[key] - last.get(key, 0.0)
        last[key] = current[key]
    row["in_flight"] = current["in_flight"]
    service = model.service
    row["memory_bytes"] = service.held
    row["service_up"] = 0.0 if service.down else 1.0
    row["crashes"] = service.crashes - last.get("crashes", 0)
    last["crashes"] = service.crashes
    elapsed = now - last.get("time", 0.0)
    last["time"] = now
    blocked_total = 0.0
    for producer in model.producers:
        blocked = producer.blocked_seconds(now)
        delta = blocked - last.get(f"{producer.name}.blocked", 0.0)
        last[f"{producer.name}.blocked"] = blocked
        row[f"{producer.name}.blocked_fraction"] = delta / elapsed if elapsed > 0 else 0.0
        blocked_total += delta
    row["producer_blocked_s"] = blocked_total
    for buffer in model.buffers.values():
        row[f"{buffer.name}.depth"] = buffer.depth
        row[f"{buffer.name}.bytes"] = buffer.bytes
        row[f"{buffer.name}.lag_s"] = buffer.lag_seconds(now)
        row[f"{buffer.name}.dropped"] = buffer.dropped - last.get(f"{buffer.name}.dropped", 0)
        last[f"{buffer.name}.dropped"] = buffer.dropped
    for group in model.groups.values():
        busy = group.busy_seconds(now)
        delta = busy - last.get(f"{group.name}.busy", 0.0)
        last[f"{group.name}.busy"] = busy
        workers = len(group.workers)
        row[f"{group.name}.utilisation"] = max(0.0, delta) / (elapsed * workers) if elapsed > 0 and workers else 0.0
        row[f"{group.name}.consumed"] = group.processed - last.get(f"{group.name}.processed", 0)
        last[f"{group.name}.processed"] = group.processed
    row["latency_p50_s"], row["latency_p99_s"] = model.interval_sketch.quantiles((0.5, 0.99))
    model.interval_sketch.reset()
    for extension in model.extensions:
        extension.sample(row)
    return row


def warmup_snapshot(model: SimulatedModel) -> dict[str, Any]:
    """The counters at the end of the warm-up, which results subtract; resets the latency sketches
    (call `flush(model)` first so latencies before the cut are not carried over)."""
    for sketch in model.sketch_by_group.values():
        sketch.reset()
    now = model.env.now
    state = {"time": now, "busy": {g.name: g.busy_seconds(now) for g in model.groups.values()},
             "area": {b.name: b.waiting_area(now) for b in model.buffers.values()},
             "totals": model.totals()}
    for extension in model.extensions:
        extension.end_warmup()
    return state
