"""Interactive charts of a run (Vega-Lite through Altair): lag, loss, memory, latency and blocking.

Every panel shares one time axis: drag or scroll on any panel to zoom all of them, double-click
to reset, and hover to read every series at that moment. Crashes and other events are vertical
rules; buffer capacities and the memory limit are horizontal rules. Panels are built from plain
`Panel` data first (unit-testable, cached per run), then drawn by `timeline_chart`; a comparison
draws the same panels for several runs on shared y scales. matplotlib stays for the CLI's PNGs and
the HTML report. Altair is imported only when a chart is drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..plots import LOSS_REASONS
from ..results import Results
from .sampling import MAX_POINTS, hover_rows, thin_indices

__all__ = ["Panel", "Rule", "time_unit", "timeline_panels", "timeline_chart", "PANEL_NAMES", "byte_unit",
           "panel_spec", "combine_panels", "status_chart", "series_panel", "hover_frame", "HOVER_TIMES",
           "rule_frames", "long_form"]

PANEL_NAMES = ("lag", "loss", "memory", "latency", "blocked")
_LOSS_EXTRA = ("discarded", "retention_lost", "failed")
_MAX_PARTITION_LINES = 24
HOVER_TIMES = 120  # hover positions per panel: enough to read a saw-tooth, cheap for the browser
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d",
           "#bab0ac")
"""Series colours (Tableau 10): neighbours differ in hue, so A and B, or p50 and p99, never look alike."""
_LEGEND_WIDTH_PX = 460  # fits the narrowest chart (1024 px screen with the sidebar open)


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


_RULE_STYLES = (("crash", "#000000", [5, 3]), ("event", "#8c8c8c", [1, 3]))


def rule_frames(panel: Panel) -> dict[str, pd.DataFrame]:
    """The panel's rules as data (limits, crashes, other events), so that a chart's spec stays the
    same from run to run and the browser only swaps its data instead of building a new chart."""
    frames = {"limits": pd.DataFrame({"value": [float(r.value) for r in panel.rules if r.value is not None],
                                      "label": [r.label for r in panel.rules if r.value is not None]})}
    for kind, _, _ in _RULE_STYLES:
        chosen = [r for r in panel.rules if r.time is not None and r.kind == kind]
        frames[kind] = pd.DataFrame({"t": [float(r.time or 0.0) for r in chosen], "label": [r.label for r in chosen]})
    return frames


def _rule_layers(panel: Panel, x: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """Limits (red dashed, labelled), crashes (black dashed) and other events (grey dotted), always
    present (empty when the run has none) and fed from named data (`rule_frames`)."""
    name = prefix + panel.name
    y = {"field": "value", "type": "quantitative"}
    layers: list[dict[str, Any]] = [
        {"data": {"name": f"{name}_limits"}, "mark": {"type": "rule", "strokeDash": [6, 4], "color": "#b22222"},
         "encoding": {"y": y, "tooltip": [{"field": "label", "title": "line"}]}},
        {"data": {"name": f"{name}_limits"},
         "mark": {"type": "text", "align": "right", "baseline": "top", "dx": -4, "dy": 4, "color": "#b22222",
                  "fontSize": 12},
         "encoding": {"y": y, "x": {"value": {"expr": "width"}}, "text": {"field": "label"}}},
    ]
    for kind, colour, dash in _RULE_STYLES:  # a fixed colour: a colour scale here would be shared with the lines
        layers.append({"data": {"name": f"{name}_{kind}"},
                       "mark": {"type": "rule", "strokeWidth": 1.5, "color": colour, "strokeDash": dash},
                       "encoding": {"x": x, "tooltip": [{"field": "label", "title": kind},
                                                        {"field": "t", "title": "at", "format": ",.4~g"}]}})
    return layers


def _field(name: str) -> str:
    """A data field name as Vega-Lite reads it (dots and brackets would mean nested fields)."""
    return name.replace("\\", "\\\\").replace(".", "\\.").replace("[", "\\[").replace("]", "\\]")


def panel_spec(panel: Panel, *, unit: str, height: int = 190, y_domain: tuple[float, float] | None = None,
               colour: str = "series", prefix: str = "") -> dict[str, Any]:
    """One panel as a Vega-Lite layer: lines, a hover rule with every value, points, and its rules.

    The panel's data is the named dataset `prefix + panel.name`; its hover layer is the view named
    `prefix + panel.name + "_hover"`, which the chart's shared zoom and hover parameters bind to.
    """
    x = {"field": "t", "type": "quantitative", "title": f"time ({unit})", "axis": {"format": ",.4~g"},
         "scale": {"nice": False}}  # the axis ends where the run ends
    y: dict[str, Any] = {"field": "value", "type": "quantitative", "title": panel.y_title,
                         "axis": {"format": panel.y_format}}
    if y_domain is not None:
        y["scale"] = {"domain": list(y_domain)}
    data = {"name": prefix + panel.name}
    shown = [str(name) for name in panel.data[colour].unique()] if not panel.empty else []
    longest = max((len(name) for name in shown), default=8)
    columns = max(1, min(4, _LEGEND_WIDTH_PX // (min(longest, 40) * 7 + 30)))  # a legend never widens the chart
    scale: dict[str, Any] = {"range": list(PALETTE)}
    if panel.colours:
        scale["domain"] = list(panel.colours)
    colour_field = {"field": colour, "type": "nominal", "title": None, "scale": scale,
                    "legend": {"orient": "top", "labelLimit": 280, "columns": columns}}
    lines = {"data": data, "mark": {"type": "line", "strokeWidth": 1.8}, "encoding": {"x": x, "y": y, "color": colour_field}}
    hover = {"param": "hover", "empty": False}
    names = shown if colour == "series" else [str(name) for name in panel.data["series"].unique()] \
        if not panel.empty else []
    # one invisible rule per hover time holding every series' value there (`hover_frame`): the Voronoi cell
    # nearest the pointer selects that time in every panel and shows all the values at once
    selector = {"name": prefix + panel.name + "_hover", "data": {"name": prefix + panel.name + "_hover"},
                "mark": {"type": "rule", "color": "#888888", "strokeWidth": 1},
                "encoding": {"x": x, "opacity": {"condition": {**hover, "value": 0.6}, "value": 0.0},
                             "tooltip": [{"field": "t", "type": "quantitative", "title": f"time ({unit})",
                                          "format": ",.4~g"},
                                         *[{"field": _field(name), "type": "quantitative", "title": name,
                                            "format": panel.y_format} for name in names]]}}
    points = {"data": data, "transform": [{"filter": hover}], "mark": {"type": "circle", "size": 50},
              "encoding": {"x": x, "y": y, "color": {**colour_field, "legend": None}}}
    title = panel.title + (f" ({panel.note})" if panel.note and not panel.empty else "")
    return {"title": {"text": title, "anchor": "start"}, "height": height, "width": "container",
            "layer": [lines, selector, points, *_rule_layers(panel, x, prefix)]}


def hover_frame(panel: Panel, max_times: int = HOVER_TIMES, colour: str = "series") -> pd.DataFrame:
    """The panel's values side by side per time (a column per series), at most `max_times` times.

    Built here rather than by a Vega pivot, and thinned: the browser draws an invisible rule and a
    Voronoi cell per row, which was most of a rerun's drawing time at 300 samples a panel. A series
    without a sample at a chosen time shows its latest value before it.
    """
    if panel.empty:
        return pd.DataFrame({"t": [0.0]})
    data = panel.data
    times = np.unique(data["t"].to_numpy(dtype=float))
    chosen = times[hover_rows(len(times), max_times)]
    columns: dict[str, np.ndarray] = {"t": chosen}
    codes, names = pd.factorize(data[colour], sort=False)
    all_t, all_values = data["t"].to_numpy(dtype=float), data["value"].to_numpy(dtype=float)
    for code, name in enumerate(names):
        rows = codes == code
        t, values = all_t[rows], all_values[rows]
        if len(t) > 1 and (np.diff(t) < 0).any():
            order = np.argsort(t, kind="stable")
            t, values = t[order], values[order]
        at = np.searchsorted(t, chosen, side="right") - 1
        columns[str(name)] = np.where(at >= 0, values[np.clip(at, 0, None)], np.nan)
    return pd.DataFrame(columns)


def timeline_chart(panels: list[Panel], *, height: int = 190, y_domains: dict[str, tuple[float, float]] | None = None,
                   colour: str = "series") -> dict[str, Any]:
    """The panels stacked on one shared, zoomable time axis with a shared hover, as a Vega-Lite spec.

    The spec carries its data as named `datasets` (DataFrames, which Streamlit sends as Arrow).
    Built as plain data, not through Altair: Altair's schema validation took seconds per rerun.
    """
    unit = str(next((p.data.attrs.get("time_unit") for p in panels if p.data.attrs.get("time_unit")), "s"))
    views = [p.name + "_hover" for p in panels]
    datasets = {p.name: (p.data if not p.empty else
                         pd.DataFrame({"t": [0.0], "series": [p.note or "no data"], "value": [0.0]})) for p in panels}
    datasets.update({p.name + "_hover": hover_frame(p, colour=colour) for p in panels})
    datasets.update({f"{p.name}_{kind}": frame for p in panels for kind, frame in rule_frames(p).items()})
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "datasets": datasets,
        "params": [
            {"name": "zoom", "select": {"type": "interval", "encodings": ["x"]}, "bind": "scales", "views": views},
            {"name": "hover", "select": {"type": "point", "encodings": ["x"], "nearest": True,
                                         "on": "pointerover", "clear": "pointerout"}, "views": views},
        ],
        "vconcat": [panel_spec(p, unit=unit, height=height, y_domain=(y_domains or {}).get(p.name), colour=colour)
                    for p in panels],
        "spacing": 28,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "usermeta": {"embedOptions": {"renderer": "svg"}},  # crisp on a projector, and testable
        "resolve": {"scale": {"x": "shared", "color": "independent"}},
        "config": {"axis": {"labelFontSize": 13, "titleFontSize": 13}, "legend": {"labelFontSize": 13},
                   "title": {"fontSize": 15}, "view": {"stroke": None}},
    }


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


def status_chart(status: pd.DataFrame, *, unit: str, colours: dict[str, str], height: int = 150) -> dict[str, Any]:
    """Burrow's status per partition over time (rows of t, partition, status) as coloured strips, one
    rectangle per stretch of equal status rather than one per sample (the browser draws far fewer)."""
    times = sorted(set(status["t"]))
    step = float(pd.Series(times).diff().dropna().median()) if len(times) > 1 else 1.0
    step = step if step == step and step > 0 else 1.0
    rows = []
    for partition, part in status.sort_values("t", kind="stable").groupby("partition", sort=False):
        t, codes = part["t"].to_numpy(dtype=float), part["status"].to_numpy()
        start = 0
        for index in range(1, len(t) + 1):
            if index == len(t) or codes[index] != codes[start]:
                rows.append((t[start], t[index] if index < len(t) else t[-1] + step, partition, codes[start]))
                start = index
    frame = pd.DataFrame(rows, columns=["t", "t2", "partition", "status"])
    partitions = frame["partition"].nunique()
    height = max(height, 30 * partitions)  # a readable row per partition, every label shown (presenter type too)
    end = float(frame["t2"].max()) if len(frame) else 1.0
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "datasets": {"status": frame[["t", "t2", "partition", "status"]]},
        "data": {"name": "status"},
        "title": {"text": "Burrow status per partition over time", "anchor": "start"},
        "height": height, "width": "container",
        "mark": {"type": "rect"},
        "encoding": {
            "x": {"field": "t", "type": "quantitative", "title": f"time ({unit})", "axis": {"format": ",.4~g"},
                  "scale": {"domain": [0.0, end], "nice": False}},
            "x2": {"field": "t2"},
            "y": {"field": "partition", "type": "nominal", "title": "partition", "sort": None},
            "color": {"field": "status", "type": "nominal", "title": None,
                      "scale": {"domain": list(colours), "range": list(colours.values())},
                      "legend": {"orient": "top"}},
            "tooltip": [{"field": "partition"}, {"field": "status"},
                        {"field": "t", "type": "quantitative", "title": f"time ({unit})", "format": ",.4~g"}],
        },
        "params": [{"name": "zoom", "select": {"type": "interval", "encodings": ["x"]}, "bind": "scales"}],
        "autosize": {"type": "fit-x", "contains": "padding"},
        "usermeta": {"embedOptions": {"renderer": "svg"}},
        "config": {"axis": {"labelFontSize": 13, "titleFontSize": 13}, "legend": {"labelFontSize": 13},
                   "title": {"fontSize": 15}},
    }


def series_panel(results: Results, columns: list[str]) -> Panel:
    """Any of the run's time-series columns, as they are (no unit conversion), in one panel."""
    unit, factor = time_unit(float(results.summary.get("duration_s") or results.timeseries["time_s"].max()))
    data = long_form(results.timeseries, {c: c for c in columns}, factor)
    data.attrs["time_unit"] = unit
    return Panel("series", "Chosen time series", "value (as in timeseries.csv)", data, y_format=",.4~g")
