"""A run's time series as chart panels: plain data (long-form rows in display units) and rules.

`timeline_panels` builds the five standard panels of a run (lag, loss, memory, latency, blocking),
each series thinned for the browser (`sampling`), with the run's events and limits as `Rule`s;
`combine_panels` merges several runs' panels on shared units so a comparison draws true axes.
Specs for the browser are `charts`' job; this module knows nothing of Vega-Lite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..plots import LOSS_REASONS
from ..results import Results
from .sampling import MAX_POINTS, thin_indices

__all__ = ["Panel", "Rule", "time_unit", "byte_unit", "long_form", "timeline_panels", "PANEL_NAMES", "combine_panels",
           "series_panel"]

PANEL_NAMES = ("lag", "loss", "memory", "latency", "blocked")
_LOSS_EXTRA = ("discarded", "retention_lost", "failed")
_MAX_PARTITION_LINES = 24


@dataclass(frozen=True)
class Rule:
    """A horizontal line (`value` on the y axis) or, with `time`, a vertical one, with its label."""

    label: str
    value: float | None = None
    time: float | None = None
    kind: str = "limit"


@dataclass
class Panel:
    """One chart: long-form data (`t`, `series`, `value`, in display units) and its rules."""

    name: str
    title: str
    y_title: str
    data: pd.DataFrame
    rules: list[Rule] = field(default_factory=list)
    y_format: str = ",.0f"
    caption: str = ""
    note: str = ""
    colours: list[str] | None = None  # the colour scale's domain, so that a run keeps its colour in every panel
    y_scale: float = 1.0  # shown value = recorded value × y_scale (1/1024 for KiB, 1e3 for ms): to compare runs

    @property
    def empty(self) -> bool:
        return self.data.empty


def time_unit(seconds: float) -> tuple[str, float]:
    """The time axis unit for a run of this length: ("s", 1), ("min", 60) or ("h", 3600)."""
    if seconds >= 2 * 3600:
        return "h", 3600.0
    if seconds >= 120:
        return "min", 60.0
    return "s", 1.0


def byte_unit(top: float) -> tuple[str, float]:
    """The binary unit that shows `top` bytes as a number below 1024."""
    for unit, size in (("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 1024.0)):
        if top >= size:
            return unit, size
    return "B", 1.0


def long_form(frame: pd.DataFrame, columns: dict[str, str], factor: float, scale: float = 1.0) -> pd.DataFrame:
    """`columns` (column → series label) of `frame` as long rows (t, series, value), each series
    thinned to at most `sampling.MAX_POINTS` samples (its minima and maxima kept).

    Built with numpy rather than `DataFrame.melt` (several times faster: it runs for every panel
    of every new run)."""
    present = {c: label for c, label in columns.items() if c in frame.columns}
    if not present:
        return pd.DataFrame({"t": [], "series": [], "value": []})
    times = frame["time_s"].to_numpy(dtype=float) / factor
    parts_t, parts_value, labels, counts = [], [], [], []
    for column, label in present.items():
        values = frame[column].to_numpy(dtype=float)
        if len(values) > MAX_POINTS:
            kept = thin_indices(values)
            parts_t.append(times[kept])
            parts_value.append(values[kept])
        else:
            parts_t.append(times)
            parts_value.append(values)
        labels.append(label)
        counts.append(len(parts_t[-1]))
    series = np.repeat(np.array(labels, dtype=object), counts)
    return pd.DataFrame({"t": np.concatenate(parts_t), "series": series,
                         "value": np.concatenate(parts_value) * scale})


def _events(results: Results, factor: float) -> list[Rule]:
    events = results.events
    if events is None or events.empty:
        return []
    rules = []
    for row in events.to_dict("records"):
        event, component, detail = str(row["event"]), str(row["component"]), str(row.get("detail") or "")
        label = f"{event} ({component}): {detail}" if detail else f"{event} ({component})"
        rules.append(Rule(label, time=float(row["time_s"]) / factor, kind="crash" if event == "crash" else "event"))
    return rules


def _lag_panel(results: Results, factor: float, events: list[Rule]) -> Panel:
    frame = results.timeseries
    columns = {c: c.rsplit(".", 1)[0] for c in frame.columns if c.endswith(".depth")}
    columns.update({c: f"{c[:-4]} (lag)" for c in frame.columns if c.endswith(".lag") and c.count(".") == 1})
    partitions = [c for c in frame.columns if c.endswith(".lag") and c.count(".") == 2 and ".p" in c]
    if 1 < len(partitions) <= _MAX_PARTITION_LINES:
        columns.update({c: f"{c[:-4]}" for c in partitions})
    rules = list(events)
    for name, component in results.summary.get("components", {}).items():
        capacity = component.get("capacity") if component.get("kind") == "buffer" else None
        if capacity:
            rules.append(Rule(f"{name} capacity {capacity:,}", value=float(capacity)))
    return Panel("lag", "Lag: messages waiting", "messages waiting", long_form(frame, columns, factor), rules,
                 caption="Messages waiting in each buffer, and Kafka lag (messages not yet committed) per topic and "
                         "partition. A line that keeps rising means the consumers are behind.")


def _loss_panel(results: Results, factor: float, events: list[Rule]) -> Panel:
    frame = results.timeseries
    reasons = [r for r in (*LOSS_REASONS, *_LOSS_EXTRA) if r in frame.columns and float(frame[r].sum()) > 0]
    cumulative = frame[["time_s"]].copy()
    for reason in reasons:
        cumulative[reason] = frame[reason].astype(float).cumsum()
    data = long_form(cumulative, {r: r.replace("_", " ") for r in reasons}, factor)
    note = "" if reasons else "nothing lost"
    return Panel("loss", "Loss: messages lost, by reason (cumulative)", "messages lost", data, list(events), note=note,
                 caption="Messages lost so far, by reason: dropped by a full buffer, timed out, lost in a crash, "
                         "deleted by Kafka retention unread, discarded on purpose (rate limit, shedding) or failed "
                         "downstream.")


def _memory_panel(results: Results, factor: float, events: list[Rule]) -> Panel:
    frame = results.timeseries
    limit = results.summary.get("memory_limit_bytes")
    topics = [c for c in frame.columns if c.endswith(".bytes") and c.count(".") == 1
              and results.summary.get("components", {}).get(c[:-6], {}).get("kind") == "topic"]
    if float(frame["memory_bytes"].max()) <= 0 and not limit and topics:
        top = float(frame[topics].max().max())
        unit, size = byte_unit(top)
        data = long_form(frame, {c: f"{c[:-6]} log" for c in topics}, factor, 1 / size)
        return Panel("memory", "Broker storage: bytes the topic keeps", f"bytes kept ({unit})", data, list(events),
                     y_format=",.4~g", caption="A Kafka topic keeps messages on the broker's disk until retention "
                     "deletes them, read or not; the consumers' memory is not modelled, so this panel shows the log.",
                     y_scale=1 / size)
    top = max(float(frame["memory_bytes"].max()), float(limit or 0.0))
    unit, size = byte_unit(top)
    rules = list(events)
    if limit:
        rules.append(Rule(f"memory limit {limit / size:,.4g} {unit}", value=float(limit) / size))
    data = long_form(frame, {"memory_bytes": "memory held"}, factor, 1 / size)
    return Panel("memory", "Memory held by the service", f"memory ({unit})", data, rules, y_format=",.4~g",
                 caption="Bytes the service holds (items waiting and being worked on) against its limit; a crash "
                         "loses everything held.", y_scale=1 / size)


def _latency_panel(results: Results, factor: float, events: list[Rule]) -> Panel:
    frame = results.timeseries.iloc[1:]
    columns = {c: label for c, label in (("latency_p50_s", "p50"), ("latency_p99_s", "p99")) if c in frame.columns}
    top = float(frame[list(columns)].max().max()) if columns and len(frame) else 0.0
    unit, scale = ("s", 1.0) if (not math.isnan(top) and top >= 2.0) else ("ms", 1e3)
    return Panel("latency", "Latency per interval", f"latency ({unit})", long_form(frame, columns, factor, scale),
                 list(events), y_format=",.4~g",
                 caption="Time from production to the end of consumption, per sampling interval: the median (p50) "
                         "and the slowest 1% (p99).", y_scale=scale)


def _blocked_panel(results: Results, factor: float, events: list[Rule]) -> Panel:
    frame = results.timeseries.iloc[1:]
    columns = {c: f"{c.split('.')[0]} blocked" for c in frame.columns if c.endswith(".blocked_fraction")}
    columns.update({c: f"{c.split('.')[0]} busy" for c in frame.columns if c.endswith(".utilisation")})
    return Panel("blocked", "Producers blocked and consumers busy", "share of time (%)",
                 long_form(frame, columns, factor, 100.0), list(events), y_format=",.0f",
                 caption="Share of each interval the producers spent waiting for room (backpressure), and how busy "
                         "the consumers were.")


def timeline_panels(results: Results) -> list[Panel]:
    """The five standard panels of a run, in display order, with units chosen for its length."""
    unit, factor = time_unit(float(results.summary.get("duration_s") or results.timeseries["time_s"].max()))
    events = _events(results, factor)
    builders = (_lag_panel, _loss_panel, _memory_panel, _latency_panel, _blocked_panel)
    panels = [build(results, factor, events) for build in builders]
    for panel in panels:
        panel.data.attrs["time_unit"] = unit
    return panels


_TIME_FACTORS = {"s": 1.0, "min": 60.0, "h": 3600.0}


def _common_units(parts: list[tuple[str, Panel]]) -> tuple[str, Panel]:
    """The time unit and the panel whose y unit all runs are shown in: the largest of each, so that
    runs of different lengths or sizes (a 1-minute A, a 5-minute B; ms against s) share true axes."""
    unit = max((str(p.data.attrs.get("time_unit", "s")) for _, p in parts), key=lambda u: _TIME_FACTORS.get(u, 1.0))
    return unit, min((p for _, p in parts), key=lambda p: p.y_scale)


def _rescaled(panel: Panel, unit: str, y_scale: float) -> tuple[pd.DataFrame, list[Rule]]:
    """The panel's data and rules in `unit` of time and at `y_scale`."""
    time = _TIME_FACTORS.get(str(panel.data.attrs.get("time_unit", "s")), 1.0) / _TIME_FACTORS.get(unit, 1.0)
    value = y_scale / panel.y_scale
    frame = panel.data.copy()
    if time != 1.0:
        frame["t"] = frame["t"] * time
    if value != 1.0:
        frame["value"] = frame["value"] * value
    rules = [Rule(r.label, None if r.value is None else r.value * value, None if r.time is None else r.time * time,
                  r.kind) for r in panel.rules]
    return frame, rules


def combine_panels(runs: dict[str, list[Panel]]) -> list[Panel]:
    """Panels of several runs merged by name, each series labelled with its run ("block: queue"), so
    the runs share every axis; a series named like the panel's only one is labelled by the run alone.
    Each panel's colours are listed run by run, so a run has the same colour in every panel; runs
    recorded in different units (ms and s, KiB and MiB, seconds and minutes) are converted to one."""
    order: list[str] = []
    merged: dict[str, list[tuple[str, Panel]]] = {}
    for run, panels in runs.items():
        for panel in panels:
            if panel.name not in merged:
                order.append(panel.name)
            merged.setdefault(panel.name, []).append((run, panel))
    combined = []
    for name in order:
        parts = merged[name]
        unit, shown = _common_units(parts)
        frames, rules, colours = [], [], []
        for run, panel in parts:
            frame, panel_rules = _rescaled(panel, unit, shown.y_scale)
            if frame.empty:
                colours.append(run)
            else:
                single = frame["series"].nunique() == 1
                frame["series"] = run if single else run + ": " + frame["series"].astype(str)
                frames.append(frame)
                colours.extend(dict.fromkeys(frame["series"]))
            for rule in panel_rules:
                if rule.time is not None:
                    rules.append(Rule(f"{run}: {rule.label}", time=rule.time, kind=rule.kind))
                elif all(rule.label != r.label for r in rules):
                    rules.append(rule)
        data = pd.concat(frames, ignore_index=True) if frames else shown.data
        data.attrs["time_unit"] = unit
        notes = {p.note for _, p in parts}
        combined.append(Panel(name, shown.title, shown.y_title, data, rules, shown.y_format, shown.caption,
                              note=notes.pop() if len(notes) == 1 else "", colours=colours, y_scale=shown.y_scale))
    return combined


def series_panel(results: Results, columns: list[str]) -> Panel:
    """Any of the run's time-series columns, as they are (no unit conversion), in one panel."""
    unit, factor = time_unit(float(results.summary.get("duration_s") or results.timeseries["time_s"].max()))
    data = long_form(results.timeseries, {c: c for c in columns}, factor)
    data.attrs["time_unit"] = unit
    return Panel("series", "Chosen time series", "value (as in timeseries.csv)", data, y_format=",.4~g")
