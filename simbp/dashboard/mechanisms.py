"""Mechanism-aware views of a run: Kafka groups, Node.js streams, downstream concurrency.

Each function reads a run's summary and time series and returns plain tables and `Panel`s for
the mechanisms the scenario uses (nothing for those it does not): a Kafka group's assignment with
its idle members, lag in messages and seconds per partition, Burrow's status over time and why
the lag saw-tooths; a Node.js stream's buffer against its high-water mark; a downstream's calls
in flight against its capacity and the semaphore's permits. Advice lives in `advice`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..exact.kafka import STATUS_NAMES
from ..results import Results
from .panels import Panel, Rule, byte_unit, long_form, time_unit

__all__ = ["KafkaGroup", "kafka_groups", "stream_panels", "downstream_panels", "retry_panel", "STATUS_COLOURS"]

STATUS_COLOURS = {"OK": "#2ca02c", "WARN": "#ffbf00", "STOP": "#d62728", "STALL": "#7f0000"}


@dataclass
class KafkaGroup:
    """What a teacher points at in one consumer group."""

    name: str
    topic: str
    consumers: int
    active: int
    idle: list[int]
    assignment: pd.DataFrame
    partitions: pd.DataFrame
    status: pd.DataFrame
    commit_interval_s: float | None
    sawtooth_peak: float | None
    lag_panel: Panel
    notes: list[str] = field(default_factory=list)


def _factor(results: Results) -> tuple[str, float]:
    return time_unit(float(results.summary.get("duration_s") or results.timeseries["time_s"].max()))


def kafka_groups(results: Results) -> list[KafkaGroup]:
    """Every consumer group of the run, with its tables, status over time and lag-in-seconds panel."""
    components = results.summary.get("components", {})
    frame = results.timeseries
    unit, factor = _factor(results)
    groups = []
    for name, entry in components.items():
        if entry.get("kind") != "consumer_group":
            continue
        topic_name = str(entry.get("topic"))
        topic = components.get(topic_name, {})
        members = entry.get("consumer_detail") or []
        assignment = pd.DataFrame([{
            "consumer": f"{name}-{m['consumer']}",
            "partitions": ", ".join(str(p) for p in m.get("partitions", [])) or "none",
            "messages processed": int(m.get("processed", 0)),
            "state": "idle: no partition" if not m.get("partitions") else "working",
        } for m in members])
        idle = [int(m["consumer"]) for m in members if not m.get("partitions")]
        status_now = entry.get("partition_status", {})
        worst = entry.get("worst_partition_status", {})
        partitions = pd.DataFrame([{
            "partition": int(p["partition"]),
            "owner": f"{name}-{p['owner']}" if p.get("owner") is not None else "nobody",
            "lag (messages)": int(p.get("lag", 0)),
            "lag (seconds)": float(p.get("lag_s") or 0.0),
            "committed offset": int(p.get("committed_offset", 0)),
            "log end offset": int(p.get("log_end_offset", 0)),
            "deleted unread": int(p.get("retention_lost", 0)),
            "status at end": status_now.get(str(p["partition"]), ""),
            "worst status": worst.get(str(p["partition"]), ""),
        } for p in topic.get("partition_detail", [])])
        status_columns = sorted((c for c in frame.columns if c.startswith(f"{name}.p") and c.endswith(".status")),
                                key=lambda c: int(c[len(name) + 2:-7]))
        status = frame[["time_s", *status_columns]].melt(id_vars="time_s", var_name="partition", value_name="code")
        status["t"] = status.pop("time_s") / factor
        status["partition"] = status["partition"].str.slice(len(name) + 1, -7)
        status["status"] = [STATUS_NAMES[int(code)] if 0 <= int(code) < len(STATUS_NAMES) else "?" for code in status["code"]]
        interval = _commit_interval(results, name)
        throughput = float(entry.get("processed", 0)) / max(float(results.summary.get("duration_s") or 1.0), 1e-9)
        peak = throughput * interval if interval else None
        columns = {c: c.rsplit(".", 1)[0] for c in frame.columns
                   if c.startswith(f"{topic_name}.p") and c.endswith(".lag_s")}
        columns[f"{topic_name}.lag_s"] = f"{topic_name} (worst partition)"
        long = long_form(frame, columns, factor)
        long.attrs["time_unit"] = unit
        rules = []
        retention = topic.get("retention_time_s")
        if retention and retention <= 10 * float(results.summary.get("duration_s") or 0.0):
            rules.append(Rule(f"retention {retention:g} s: older messages are deleted, read or not", value=float(retention)))
        if interval:
            rules.append(Rule(f"commit interval {interval:g} s", value=float(interval)))
        panel = Panel("kafka_lag_s", f"Kafka lag in seconds: how far {name} is behind, per partition", "lag (s)", long,
                      rules, y_format=",.3~g")
        group = KafkaGroup(name, topic_name, int(entry.get("consumers", 0)), int(entry.get("consumers_active", 0)), idle,
                           assignment, partitions, status, interval, peak, panel)
        group.notes = _kafka_notes(group, entry, topic, results)
        groups.append(group)
    return groups


def _commit_interval(results: Results, group: str) -> float | None:
    for spec in getattr(results.scenario, "consumer_groups", []) or []:
        if spec.name == group:
            return float(spec.commit.interval) if spec.commit.interval is not None else None
    return None


def _kafka_notes(group: KafkaGroup, entry: dict[str, Any], topic: dict[str, Any], results: Results) -> list[str]:
    notes = []
    partitions = int(topic.get("partitions", 0))
    if group.idle:
        notes.append(f"**{len(group.idle)} of {group.consumers} consumers are idle**: Kafka gives each partition to "
                     f"exactly one consumer of a group, and {group.topic} has {partitions} partitions. Consumers beyond "
                     "the partition count add nothing; add partitions (before you need them) to read faster.")
    if group.sawtooth_peak and group.commit_interval_s:
        peak_lag = max((int(v) for v in group.partitions.get("lag (messages)", [])), default=0)
        notes.append(f"**Why the lag saw-tooths:** lag counts messages not yet *committed*. Offsets are committed every "
                     f"{group.commit_interval_s:g} s, so even a group that keeps up shows lag climbing to about "
                     f"throughput × interval ≈ {group.sawtooth_peak:,.0f} messages (across all partitions) before "
                     f"each commit drops it; lag in seconds sits near the interval. A lag that keeps rising past "
                     f"that, or whose troughs rise, is a real backlog. (Lag at the end, per partition: up to "
                     f"{peak_lag:,}.)")
    lost = int(topic.get("retention_lost", 0))
    if lost:
        notes.append(f"**{lost:,} messages were deleted unread** by retention ({topic.get('retention_time_s', 0):g} s): "
                     "a consumer further behind than the retention period silently loses the oldest data. Alert on "
                     "lag in seconds against retention.")
    if entry.get("rebalances"):
        notes.append(f"{entry['rebalances']} rebalances paused the group for {entry.get('rebalancing_s', 0):.1f} s in all.")
    return notes


def stream_panels(results: Results) -> list[tuple[Panel, dict[str, Any]]]:
    """Per Node.js writable: its buffered bytes against the high-water mark, and its handshake counts."""
    components = results.summary.get("components", {})
    frame = results.timeseries
    unit, factor = _factor(results)
    found = []
    for name, entry in components.items():
        mark = entry.get("high_water_mark")
        if mark is None or entry.get("kind") != "buffer":
            continue
        counts_bytes = entry.get("high_water_mark_unit") == "bytes"
        column = f"{name}.bytes" if counts_bytes else f"{name}.depth"
        if column not in frame.columns:
            continue
        top = max(float(frame[column].max()), float(mark))
        size_unit, size = byte_unit(top) if counts_bytes else ("chunks", 1.0)
        long = long_form(frame, {column: f"{name} buffered"}, factor, 1 / size)
        long.attrs["time_unit"] = unit
        rule = Rule(f"highWaterMark {float(mark) / size:,.4g} {size_unit}", value=float(mark) / size)
        panel = Panel("stream", f"Node.js stream {name}: buffered against its highWaterMark",
                      f"buffered ({size_unit})", long, [rule], y_format=",.4~g")
        producers = {n: c for n, c in components.items() if c.get("kind") == "producer" and "pauses" in c}
        found.append((panel, {"writes": entry.get("writes", 0), "write() returned false": entry.get("writes_returned_false", 0),
                              "'drain' events": entry.get("drains", 0),
                              **{f"{n} paused": c.get("pauses", 0) for n, c in producers.items()}}))
    return found


def downstream_panels(results: Results) -> list[tuple[Panel, dict[str, Any]]]:
    """Per downstream: calls in flight against its capacity and the callers' semaphore permits."""
    components = results.summary.get("components", {})
    frame = results.timeseries
    unit, factor = _factor(results)
    found = []
    for name, entry in components.items():
        if entry.get("kind") != "downstream" or f"{name}.in_flight" not in frame.columns:
            continue
        columns = {f"{name}.in_flight": "calls in flight"}
        rules = [Rule(f"{name} capacity {entry.get('capacity')}", value=float(entry.get("capacity") or 0))]
        callers = {n: c for n, c in components.items() if c.get("downstream") == name}
        for caller, figures in callers.items():
            semaphore = figures.get("semaphore")
            if semaphore:
                rules.append(Rule(f"{caller} semaphore {semaphore.get('permits')} permits",
                                  value=float(semaphore.get("permits") or 0)))
            if f"{caller}.semaphore_waiting" in frame.columns:
                columns[f"{caller}.semaphore_waiting"] = f"{caller} waiting for a permit"
        long = long_form(frame, columns, factor)
        long.attrs["time_unit"] = unit
        panel = Panel("downstream", f"Downstream {name}: calls in flight against its capacity", "calls", long, rules)
        latency = entry.get("call_latency_s") or {}
        figures = {"calls": entry.get("calls", 0), "errors": entry.get("errors", 0),
                   "error ratio": f"{float(entry.get('error_ratio') or 0):.1%}",
                   "peak in flight": entry.get("peak_in_flight", 0),
                   "call p99": f"{float(latency.get('p99') or 0) * 1e3:,.0f} ms"}
        found.append((panel, figures))
    return found


def retry_panel(results: Results) -> Panel | None:
    """Retries per interval beside first attempts, when callers retry (a retry storm shows here)."""
    frame = results.timeseries
    if "retries" not in frame.columns or float(frame["retries"].sum()) <= 0:
        return None
    unit, factor = _factor(results)
    data = frame[["time_s", "retries"]].copy()
    data["first attempts"] = frame["produced"] - frame["retries"]
    long = long_form(data, {"retries": "retries", "first attempts": "first attempts"}, factor)
    long.attrs["time_unit"] = unit
    return Panel("retries", "Retries against first attempts, per interval", "messages per interval", long, [])
