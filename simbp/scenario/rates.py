"""Rate functions of the arrival processes, shared by exact mode, fast mode, estimates and planning.

Each is written once here: a schedule's rate at time t, a bursty process's phases, a trace's values
and its loop period, and the checks of the files a scenario names. Nothing here imports an engine
or the schema (specs are read by their fields), so every layer may use it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["schedule_rate_function", "schedule_rates", "bursty_phases", "read_trace", "trace_period", "check_files"]


def schedule_rate_function(spec: Any) -> tuple[Callable[[float], float], float]:
    """The rate at time t for a schedule (step or linear, repeating if asked) and its maximum."""
    times = np.array([p.at for p in spec.points], dtype=float)
    rates = np.array([p.rate for p in spec.points], dtype=float)
    period = spec.repeat

    def rate_at(t: float) -> float:
        if period:
            t = t % period
        if spec.interpolation == "linear":
            return float(np.interp(t, times, rates))
        index = int(np.searchsorted(times, t, side="right")) - 1
        return float(rates[max(index, 0)])

    return rate_at, float(rates.max())


def schedule_rates(spec: Any, t: np.ndarray) -> np.ndarray:
    """A schedule's rate at each time of `t` (vectorised `schedule_rate_function`)."""
    times = np.array([p.at for p in spec.points], dtype=float)
    rates = np.array([p.rate for p in spec.points], dtype=float)
    if spec.repeat:
        t = np.mod(t, spec.repeat)
    if spec.interpolation == "linear":
        return np.interp(t, times, rates)
    index = np.clip(np.searchsorted(times, t, side="right") - 1, 0, None)
    return rates[index]


def bursty_phases(spec: Any, multiplier: float = 1.0) -> list[tuple[float, float]]:
    """A bursty process's (rate, length) phases in the order they run, rates scaled by `multiplier`."""
    phases = [(spec.on.rate * multiplier, spec.on.duration), (spec.off.rate * multiplier, spec.off.duration)]
    if spec.start == "off":
        phases.reverse()
    return phases


def read_trace(spec: Any, base_dir: Path) -> np.ndarray:
    """The trace's values: timestamps (seconds from the first) or counts per bin."""
    import pandas as pd

    frame = pd.read_csv(base_dir / spec.file)
    column = spec.column or frame.columns[0]
    values = pd.to_numeric(frame[column], errors="raise").dropna().to_numpy(dtype=float)
    if spec.format == "timestamps":
        values = np.sort(values)
        return values - values[0]
    return values


def trace_period(spec: Any, values: np.ndarray) -> float | None:
    """How long one lap of a looping trace lasts (None: it does not loop). Timestamps: the last
    one plus a mean gap, so the next lap does not start on top of the last arrival; counts: bins × bin."""
    if not spec.loop:
        return None
    if spec.format == "timestamps":
        return float(values[-1] + values[-1] / max(len(values) - 1, 1))
    return len(values) * spec.bin


def check_files(scenario: Any) -> list[tuple[tuple[Any, ...], str]]:
    """Problems with files a scenario names (traces, empirical CSVs): missing, unreadable, no column."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    for index, producer in enumerate(scenario.producers):
        if producer.arrivals.process == "trace":
            problem = _check_csv(scenario.base_dir, producer.arrivals.file, producer.arrivals.column, nonnegative=True)
            if problem:
                problems.append((("producers", index, "arrivals", "file"), problem))
        if getattr(producer.size, "dist", None) == "empirical" and producer.size.file:
            problem = _check_csv(scenario.base_dir, producer.size.file, producer.size.column, nonnegative=True)
            if problem:
                problems.append((("producers", index, "size", "file"), problem))
    for index, consumer in enumerate(scenario.consumers):
        if getattr(consumer.service, "dist", None) == "empirical" and consumer.service.file:
            problem = _check_csv(scenario.base_dir, consumer.service.file, consumer.service.column, nonnegative=True)
            if problem:
                problems.append((("consumers", index, "service", "file"), problem))
    return problems


def _check_csv(base_dir: Path, file: str, column: str | None, *, nonnegative: bool) -> str | None:
    import pandas as pd

    path = base_dir / file
    if not path.is_file():
        return f"file {str(path)!r} not found (paths are relative to the scenario file)"
    try:
        frame = pd.read_csv(path)
    except Exception as error:
        return f"cannot read {file!r} as CSV: {error}"
    if frame.empty:
        return f"{file!r} has no rows"
    name = column or frame.columns[0]
    if name not in frame.columns:
        return f"{file!r} has no column {name!r} (columns: {', '.join(map(str, frame.columns))})"
    values = pd.to_numeric(frame[name], errors="coerce")
    if values.isna().any():
        row = int(values.isna().to_numpy().argmax()) + 2
        return f"{file!r} line {row}: column {name!r} must hold numbers"
    if nonnegative and (values < 0).any():
        return f"{file!r}: column {name!r} must not be negative"
    return None
