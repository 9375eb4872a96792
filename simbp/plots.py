"""Plots of a run: lag, loss, memory, latency, producer blocking. Each returns a matplotlib `Figure`.

Figures are built with `matplotlib.figure.Figure` (no pyplot, no global state, never `show()`), so
the CLI, the report and the dashboard all draw the same pictures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator

from .units import format_bytes, format_duration

if TYPE_CHECKING:
    import pandas as pd

    from .results import Results

__all__ = ["plot_lag", "plot_loss", "plot_memory", "plot_latency", "plot_blocked", "PLOTS", "PLOT_NAMES", "LOSS_REASONS"]

LOSS_REASONS = ("dropped", "timed_out", "lost_in_crash")
_COLOURS = {"dropped": "#d62728", "timed_out": "#ff7f0e", "lost_in_crash": "#7f0000", "discarded": "#9467bd",
            "retention_lost": "#8c564b"}


def _figure(title: str, height: float = 3.2) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(8, height), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title, loc="left", fontsize=11)
    axes.grid(True, alpha=0.3)
    return figure, axes


def _time_axis(axes: Axes, frame: "pd.DataFrame") -> np.ndarray:
    seconds = frame["time_s"].to_numpy(dtype=float)
    span = seconds[-1] if len(seconds) else 0.0
    if span >= 2 * 3600:
        axes.set_xlabel("time (h)")
        return seconds / 3600
    if span >= 120:
        axes.set_xlabel("time (min)")
        return seconds / 60
    axes.set_xlabel("time (s)")
    return seconds


def _crash_lines(axes: Axes, results: "Results", scale: Callable[[float], float]) -> None:
    events = results.events
    crashes: list[float] = events.loc[events["event"] == "crash", "time_s"].astype(float).tolist() if len(events) else []
    for index, when in enumerate(crashes):
        axes.axvline(scale(float(when)), color="black", linestyle="--", linewidth=1,
                     label="crash" if index == 0 else None)


def _scale_for(frame: "pd.DataFrame") -> Callable[[float], float]:
    span = float(frame["time_s"].iloc[-1]) if len(frame) else 0.0
    factor = 3600.0 if span >= 2 * 3600 else 60.0 if span >= 120 else 1.0
    return lambda t: t / factor


def plot_lag(results: "Results") -> Figure:
    """Queue depth per buffer (and Kafka lag where there is a topic) over time."""
    frame = results.timeseries
    figure, axes = _figure("Lag: messages waiting")
    x = _time_axis(axes, frame)
    columns = [c for c in frame.columns if c.endswith(".depth") or (c.endswith(".lag") and c.count(".") == 1)]
    for column in columns:
        axes.plot(x, frame[column].to_numpy(dtype=float), label=column.rsplit(".", 1)[0] + (" (lag)" if column.endswith(".lag") else ""))
    partitions = [c for c in frame.columns if c.endswith(".lag") and c.count(".") == 2 and ".p" in c]
    if 0 < len(partitions) <= 24:  # per-partition lag, thin, so a hot partition stands out
        hottest = max(partitions, key=lambda c: float(frame[c].to_numpy(dtype=float).max()))
        for index, column in enumerate(partitions):
            is_hot = column == hottest and len(partitions) > 1
            axes.plot(x, frame[column].to_numpy(dtype=float), linewidth=2 if is_hot else 0.8, alpha=0.9, zorder=3 if is_hot else 1,
                      linestyle=":" if is_hot else "-", color="#d62728" if is_hot else "#999999",
                      label=f"{column[:-4]} (hottest partition)" if is_hot else ("other partitions" if index == 0 else None))
    for component in results.summary.get("components", {}).values():
        capacity = component.get("capacity") if component.get("kind") == "buffer" else None
        if capacity:
            axes.axhline(capacity, color="grey", linestyle=":", linewidth=1)
    _crash_lines(axes, results, _scale_for(frame))
    axes.set_ylabel("messages")
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    if columns:
        axes.legend(loc="upper left", fontsize=8)
    return figure


def plot_loss(results: "Results") -> Figure:
    """Messages lost: cumulative by reason (lines) and per interval (bars)."""
    frame = results.timeseries
    figure = Figure(figsize=(8, 4.2), dpi=100, layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    top.set_title("Loss: messages lost, by reason", loc="left", fontsize=11)
    x = _time_axis(bottom, frame)
    reasons = [r for r in (*LOSS_REASONS, "discarded", "retention_lost") if r in frame.columns]
    width = (x[1] - x[0]) * 0.9 if len(x) > 1 else 1.0
    base = np.zeros(len(frame))
    any_loss = False
    for reason in reasons:
        values = frame[reason].to_numpy(dtype=float)
        if values.sum() <= 0:
            continue
        any_loss = True
        top.plot(x, np.cumsum(values), label=reason.replace("_", " "), color=_COLOURS.get(reason))
        bottom.bar(x - width / 0.9, values, width=width, bottom=base, color=_COLOURS.get(reason), align="edge")
        base += values
    if not any_loss:
        top.text(0.5, 0.5, "nothing lost", transform=top.transAxes, ha="center", va="center", color="green")
    top.set_ylabel("cumulative")
    bottom.set_ylabel("per interval")
    for axes in (top, bottom):
        axes.grid(True, alpha=0.3)
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    _crash_lines(top, results, _scale_for(frame))
    if any_loss:
        top.legend(loc="upper left", fontsize=8)
    return figure


def plot_memory(results: "Results") -> Figure:
    """Service memory against its limit, with crashes marked."""
    frame = results.timeseries
    figure, axes = _figure("Memory held by the service")
    x = _time_axis(axes, frame)
    axes.plot(x, frame["memory_bytes"].to_numpy(dtype=float), color="#1f77b4", label="memory")
    limit = results.summary.get("memory_limit_bytes")
    if limit:
        axes.axhline(limit, color="#d62728", linestyle="--", linewidth=1, label=f"limit {format_bytes(limit)}")
    _crash_lines(axes, results, _scale_for(frame))
    axes.set_ylabel("bytes")
    axes.yaxis.set_major_locator(MultipleLocator(_binary_step(max(float(frame["memory_bytes"].max()), limit or 0.0))))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_bytes(v)))
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left", fontsize=8)
    return figure


def _binary_step(top: float) -> float:
    """A tick step that is a power of two bytes, giving about four to eight ticks up to `top`."""
    step = 1.0
    while top / step > 8:
        step *= 2
    return step


def plot_latency(results: "Results") -> Figure:
    """Latency (production to end of consumption) per interval: p50 and p99."""
    frame = results.timeseries
    figure, axes = _figure("Latency per interval")
    frame = frame.iloc[1:]  # the first row is the start: no interval behind it
    x = _time_axis(axes, frame)
    for column, label in (("latency_p50_s", "p50"), ("latency_p99_s", "p99")):
        if column in frame.columns:
            axes.plot(x, frame[column].to_numpy(dtype=float), label=label)
    axes.set_ylabel("latency")
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_duration(v) if v > 0 else "0"))
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left", fontsize=8)
    return figure


def plot_blocked(results: "Results") -> Figure:
    """Fraction of each interval producers spent blocked, and consumer utilisation."""
    frame = results.timeseries
    figure, axes = _figure("Producers blocked and consumers busy")
    frame = frame.iloc[1:]  # the first row is the start: no interval behind it
    x = _time_axis(axes, frame)
    for column in frame.columns:
        if column.endswith(".blocked_fraction"):
            axes.plot(x, frame[column].to_numpy(dtype=float), label=f"{column.split('.')[0]} blocked")
    for column in frame.columns:
        if column.endswith(".utilisation"):
            axes.plot(x, frame[column].to_numpy(dtype=float), linestyle="--", label=f"{column.split('.')[0]} busy")
    axes.set_ylabel("fraction of time")
    axes.set_ylim(-0.02, 1.05)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
    axes.legend(loc="upper left", fontsize=8)
    return figure


PLOTS: dict[str, Callable[["Results"], Figure]] = {
    "lag": plot_lag,
    "loss": plot_loss,
    "memory": plot_memory,
    "latency": plot_latency,
    "blocked": plot_blocked,
}
PLOT_NAMES = tuple(PLOTS)
