"""Interactive charts of a run as Vega-Lite specs: lag, loss, memory, latency and blocking.

Every panel shares one time axis: drag or scroll on any panel to zoom all of them, double-click
to reset, and hover to read every series at that moment. Crashes and other events are vertical
rules; buffer capacities and the memory limit are horizontal rules. The panels' data come from
`panels` (plain `Panel`s, unit-testable, cached per run); this module turns them into specs
(`timeline_chart`), built as plain dicts rather than through Altair (whose validation took
seconds per rerun). matplotlib stays for the CLI's PNGs and the HTML report.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .panels import (
    PANEL_NAMES,
    Panel,
    Rule,
    byte_unit,
    combine_panels,
    long_form,
    series_panel,
    time_unit,
    timeline_panels,
)
from .sampling import hover_rows

__all__ = ["Panel", "Rule", "time_unit", "timeline_panels", "timeline_chart", "PANEL_NAMES", "byte_unit",
           "panel_spec", "combine_panels", "status_chart", "series_panel", "hover_frame", "HOVER_TIMES",
           "rule_frames", "long_form"]

HOVER_TIMES = 120  # hover positions per panel: enough to read a saw-tooth, cheap for the browser
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d",
           "#bab0ac")
"""Series colours (Tableau 10): neighbours differ in hue, so A and B, or p50 and p99, never look alike."""
_LEGEND_WIDTH_PX = 460  # fits the narrowest chart (1024 px screen with the sidebar open)


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
    ]
    # the label sits at the start of its line, underneath: series start low (queues start empty), so the left
    # end is where least is drawn (at the right end a saw-tooth or a backlog ran through it); a white halo
    # under the letters keeps it readable where a line still crosses it
    label = {"type": "text", "align": "left", "baseline": "top", "dx": 4, "dy": 4, "fontSize": 12}
    for mark in ({**label, "color": "white", "stroke": "white", "strokeWidth": 4, "strokeJoin": "round"},
                 {**label, "color": "#b22222"}):
        layers.append({"data": {"name": f"{name}_limits"}, "mark": mark,
                       "encoding": {"y": y, "x": {"value": 0}, "text": {"field": "label"}}})
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
