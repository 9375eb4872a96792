"""Rate functions of the arrival processes, shared by exact mode, fast mode, estimates and planning.

Each is written once here: a schedule's rate at time t, a bursty process's phases, a trace's values
and its loop period, and the checks of the files a scenario names. Nothing here imports an engine
or the schema (specs are read by their fields), so every layer may use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..budget import DEFAULT_BUDGETS, BudgetExceeded, Budgets, check_file_size, resolve_inside

__all__ = ["schedule_rate_function", "schedule_rates", "bursty_phases", "read_trace", "trace_period", "check_files",
           "data_file", "read_column", "schedule_integral", "schedule_pieces", "schedule_rates_once", "bursty_integral"]


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


def _breakpoints(spec: Any) -> tuple[np.ndarray, np.ndarray, float | None]:
    times = np.array([p.at for p in spec.points], dtype=float)
    rates = np.array([p.rate for p in spec.points], dtype=float)
    return times, rates, spec.repeat


def _segments_within(spec: Any, end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges of the pieces of one pass over [0, end] (no repeat) and each piece's rates at both ends."""
    times, _, _ = _breakpoints(spec)
    inner = times[(times > 0) & (times < end)]
    edges = np.concatenate(([0.0], inner, [end]))
    left = schedule_rates_once(spec, edges[:-1])
    if spec.interpolation == "linear":
        right = schedule_rates_once(spec, edges[1:])
    else:
        right = left
    return edges, left, right


def schedule_rates_once(spec: Any, t: np.ndarray) -> np.ndarray:
    """A schedule's rate at times `t` within one pass (no repeat applied)."""
    times, rates, _ = _breakpoints(spec)
    if spec.interpolation == "linear":
        return np.interp(t, times, rates)
    index = np.clip(np.searchsorted(times, t, side="right") - 1, 0, None)
    return rates[index]


def _one_pass_integral(spec: Any, end: float) -> tuple[float, float, int]:
    """(expected arrivals, ∫ piece maxima, pieces) over [0, end] of one pass: exact for steps and ramps."""
    if end <= 0:
        return 0.0, 0.0, 0
    edges, left, right = _segments_within(spec, end)
    lengths = np.diff(edges)
    return float(np.sum((left + right) / 2 * lengths)), float(np.sum(np.maximum(left, right) * lengths)), len(lengths)


def schedule_integral(spec: Any, span: float) -> tuple[float, float, float]:
    """A schedule's expected arrivals over [0, span] (exact, repeats included), the integral of the
    rate bound a thinning generator draws at (each piece's maximum) and the number of pieces passed."""
    if span <= 0:
        return 0.0, 0.0, 0.0
    period = spec.repeat
    if not period:
        count, bound, pieces = _one_pass_integral(spec, span)
        return count, bound, float(pieces)
    laps = math.floor(span / period)
    count, bound, pieces = _one_pass_integral(spec, period)
    rest_count, rest_bound, rest_pieces = _one_pass_integral(spec, span - laps * period)
    return laps * count + rest_count, laps * bound + rest_bound, laps * pieces + rest_pieces


def schedule_pieces(spec: Any) -> Iterator[tuple[float, float, float]]:
    """The pieces of a schedule from time 0 on: (begin, end, largest rate in the piece), repeating
    if asked; a schedule that does not repeat ends with one endless piece at its last rate."""
    times, rates, period = _breakpoints(spec)
    if not period:
        edges, left, right = _segments_within(spec, float(times[-1]) if times[-1] > 0 else 0.0)
        for index in range(len(edges) - 1):
            yield float(edges[index]), float(edges[index + 1]), float(max(left[index], right[index]))
        yield float(edges[-1]), math.inf, float(rates[-1])
        return
    edges, left, right = _segments_within(spec, period)
    bounds = np.maximum(left, right).tolist()
    offset = 0.0
    while True:
        for index, bound in enumerate(bounds):
            yield offset + float(edges[index]), offset + float(edges[index + 1]), bound
        offset += period


def bursty_integral(spec: Any, span: float) -> tuple[float, float]:
    """A bursty process's expected arrivals over [0, span] and the number of phases it passes."""
    if span <= 0:
        return 0.0, 0.0
    (rate1, length1), (rate2, length2) = bursty_phases(spec)
    cycle = length1 + length2
    cycles = math.floor(span / cycle)
    rest = span - cycles * cycle
    count = cycles * (rate1 * length1 + rate2 * length2) + rate1 * min(rest, length1) + rate2 * max(rest - length1, 0.0)
    return count, 2.0 * cycles + (2.0 if rest > length1 else 1.0)


def bursty_phases(spec: Any, multiplier: float = 1.0) -> list[tuple[float, float]]:
    """A bursty process's (rate, length) phases in the order they run, rates scaled by `multiplier`."""
    phases = [(spec.on.rate * multiplier, spec.on.duration), (spec.off.rate * multiplier, spec.off.duration)]
    if spec.start == "off":
        phases.reverse()
    return phases


def read_trace(spec: Any, base_dir: Path, budgets: Budgets = DEFAULT_BUDGETS) -> np.ndarray:
    """The trace's values: timestamps (seconds from the first) or counts per bin."""
    values = read_column(base_dir, spec.file, spec.column, budgets)
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


def data_file(base_dir: Path, name: str, budgets: Budgets = DEFAULT_BUDGETS) -> Path:
    """The path of a data file a scenario names: relative, inside `base_dir`, within the `file_size`
    budget (`ValueError` or `BudgetExceeded` otherwise), checked before anything reads it."""
    path = resolve_inside(base_dir, name)
    if not path.is_file():
        raise ValueError(f"file {name!r} not found (paths are relative to the scenario file)")
    check_file_size(path, budgets, shown=name)
    return path


def read_column(base_dir: Path, name: str, column: str | None, budgets: Budgets = DEFAULT_BUDGETS) -> np.ndarray:
    """One numeric column of a CSV a scenario names (the first unless `column` is given).

    Errors (`ValueError`) say what is wrong without quoting the file's contents.
    """
    import pandas as pd

    path = data_file(base_dir, name, budgets)
    try:
        frame = pd.read_csv(path, encoding="utf-8", encoding_errors="strict", low_memory=False)
    except UnicodeDecodeError:
        raise ValueError(f"{name!r} is not UTF-8 text (is it a binary file?)") from None
    except Exception as error:  # pandas raises many kinds; their messages may quote the file
        raise ValueError(f"cannot read {name!r} as CSV ({type(error).__name__})") from None
    if frame.empty:
        raise ValueError(f"{name!r} has no rows")
    chosen = column if column is not None else frame.columns[0]
    if chosen not in frame.columns:
        raise ValueError(f"{name!r} has no column {column!r} (it has {len(frame.columns)} column(s); "
                         "name one in its first line)")
    values = pd.to_numeric(frame[chosen], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(bad.argmax()) + 2
        raise ValueError(f"{name!r} line {row}: the column must hold finite numbers")
    return values


def check_files(scenario: Any, budgets: Budgets = DEFAULT_BUDGETS) -> list[tuple[tuple[Any, ...], str]]:
    """Problems with files a scenario names (traces, empirical CSVs): outside the scenario's folder,
    missing, too large, unreadable, no such column, values that are not finite non-negative numbers."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    for index, producer in enumerate(scenario.producers):
        if producer.arrivals.process == "trace":
            problem = _check_csv(scenario.base_dir, producer.arrivals.file, producer.arrivals.column, budgets)
            if problem is None and producer.arrivals.loop and producer.arrivals.format == "counts":
                if not read_column(scenario.base_dir, producer.arrivals.file, producer.arrivals.column, budgets).sum() > 0:
                    problem = f"{producer.arrivals.file!r}: a looping trace of counts needs at least one arrival"
            if problem:
                problems.append((("producers", index, "arrivals", "file"), problem))
        if getattr(producer.size, "dist", None) == "empirical" and producer.size.file:
            problem = _check_csv(scenario.base_dir, producer.size.file, producer.size.column, budgets)
            if problem:
                problems.append((("producers", index, "size", "file"), problem))
    for index, consumer in enumerate(scenario.consumers):
        if getattr(consumer.service, "dist", None) == "empirical" and consumer.service.file:
            problem = _check_csv(scenario.base_dir, consumer.service.file, consumer.service.column, budgets)
            if problem:
                problems.append((("consumers", index, "service", "file"), problem))
    return problems


def _check_csv(base_dir: Path, file: str, column: str | None, budgets: Budgets) -> str | None:
    try:
        values = read_column(base_dir, file, column, budgets)
    except BudgetExceeded as error:
        return error.problems[0].message
    except ValueError as error:
        return str(error)
    if (values < 0).any():
        return f"{file!r}: the column must not be negative"
    return None
