"""Checking and repairing observed series, then putting every role on one regular time grid.

Unusable data (non-finite or negative values, too few samples, too many missing) raises
`ScenarioError` naming the file, line (CSV) or series and what was expected. Fixable data (rows
out of order, duplicate timestamps, counters and their resets, small gaps, series sampled at
different intervals) is repaired, and each repair is described in `Observed.repairs`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import Problem, ScenarioError
from .observed import MIN_SAMPLES, RATE_ROLES, Observed, RawSeries

__all__ = ["assemble", "looks_like_counter"]

_MAX_MISSING_SHARE = 0.2


def _where(series: RawSeries, index: int) -> tuple[str, int | None]:
    if series.lines is not None:
        return series.column, int(series.lines[index])
    return f"{series.role} sample {index} (t={series.times[index]:.0f})", None


def _fail(series: RawSeries, index: int | None, message: str) -> ScenarioError:
    if index is None:
        return ScenarioError([Problem(series.column, message, None, series.file)])
    field, line = _where(series, index)
    return ScenarioError([Problem(field, message, line, series.file)])


def looks_like_counter(values: np.ndarray) -> bool:
    """A monotonic total: never falls except for resets (a fall to under half), and mostly rises."""
    if len(values) < MIN_SAMPLES:
        return False
    steps = np.diff(values)
    falls = steps < 0
    resets = falls & (values[1:] < 0.5 * values[:-1])
    return bool((falls & ~resets).sum() == 0 and (steps > 0).mean() >= 0.9 and values.max() > 0)


def _order(series: RawSeries, repairs: list[Any]) -> RawSeries:
    """Sort by time and merge duplicate timestamps (identical: dropped; different: averaged)."""
    times, values, lines = series.times, series.values, series.lines
    if np.any(np.diff(times) < 0):
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[order]
        lines = lines[order] if lines is not None else None
        repairs.append((series.file, series.column, "rows were not in time order; sorted by time"))
    same = np.diff(times) == 0
    if same.any():
        first = int(same.argmax()) + 1
        unique, start = np.unique(times, return_index=True)
        sums = np.add.reduceat(values, start)
        counts = np.diff(np.append(start, len(values)))
        merged = sums / counts
        differ = int(sum(1 for k, s in enumerate(start) if counts[k] > 1 and np.ptp(values[s:s + counts[k]]) > 0))
        where = f"line {series.lines[first]}" if series.lines is not None else f"t={times[first]:.0f}"
        repairs.append((series.file, series.column, f"{int(same.sum())} duplicate timestamp(s) (first at {where}); "
                       + (f"{differ} with different values averaged" if differ else "identical repeats dropped")))
        times, values = unique, merged
        lines = lines[start] if lines is not None else None
    return RawSeries(series.role, times, values, series.file, series.column, lines, series.counter, series.labels)


def _check_values(series: RawSeries, scale: float) -> None:
    bad = ~np.isfinite(series.values)
    if bad.any():
        raise _fail(series, int(bad.argmax()), f"{series.values[bad.argmax()]} is not a finite number; "
                                               f"expected {series.role} as a number (NaN and inf cannot be fitted)")
    negative = series.values < 0
    if negative.any() and not series.counter:
        index = int(negative.argmax())
        what = "a rate (messages per second)" if series.role in RATE_ROLES else "a count or time"
        raise _fail(series, index, f"{series.values[index]:g} is negative; expected {what} ≥ 0 for {series.role}")


def _to_rate(series: RawSeries, repairs: list[Any], declared: bool) -> RawSeries:
    """A monotonic total → per-second rate between samples; a fall to below the previous is a reset."""
    values, times = series.values, series.times
    steps = np.diff(values)
    resets = steps < 0
    increase = np.where(resets, values[1:], steps)  # after a reset the counter restarted from 0
    rate = increase / np.diff(times)
    how = "declared a counter" if declared else "a monotonic total (counter), detected; use --gauge " + series.role + " if it is not"
    repairs.append((series.file, series.column, f"{how}: converted to a per-second rate"
                   + (f"; {int(resets.sum())} counter reset(s) (value fell) counted as restarts from 0" if resets.any() else "")))
    lines = series.lines[1:] if series.lines is not None else None
    return RawSeries(series.role, times[1:], rate, series.file, series.column, lines, False, series.labels)


def _step(series: RawSeries, repairs: list[Any]) -> float:
    """The sampling interval: the median gap, or the coarser one when the interval changed part-way."""
    gaps = np.diff(series.times)
    if not len(gaps):
        return 0.0
    median = float(np.median(gaps))
    if np.mean(gaps > 1.5 * median) > 0.25:  # not a few gaps: the sampling interval itself changed
        coarse = float(np.percentile(gaps, 90))
        repairs.append((series.file, series.column, f"the sampling interval changed within the series ({median:g}s and "
                       f"{coarse:g}s): put on a {coarse:g}s grid (rates averaged over each interval)"))
        return coarse
    return median


def _on_grid(series: RawSeries, grid: np.ndarray, step: float) -> np.ndarray:
    """Values at grid times: rates averaged over each grid interval (when sampled finer), gauges interpolated."""
    own = float(np.median(np.diff(series.times)))
    if series.role in RATE_ROLES and own < 0.75 * step:
        # integrate the piecewise-constant rate (each sample covers the interval before it)
        edges = np.concatenate(([series.times[0] - own], series.times))
        cumulative = np.concatenate(([0.0], np.cumsum(series.values * np.diff(edges))))
        counts = np.interp(grid, edges, cumulative) - np.interp(grid - step, edges, cumulative)
        return counts / step
    return np.interp(grid, series.times, series.values)


def _plausible_latency(latency: np.ndarray, series: dict[str, np.ndarray], step: float, file: str, column: str) -> None:
    """Latency far beyond any wait the observed backlog explains is probably in milliseconds."""
    typical, highest = float(np.median(latency)), float(np.max(latency))
    if "lag" in series and "throughput" in series:  # the longest wait the backlog could explain, with room to spare
        rate = np.maximum(series["throughput"], 1e-9)
        waits = float(np.max(series["lag"] / rate))
        implausible = typical > 1 and highest > 20 * (waits + step)
    else:
        waits = float("nan")
        implausible = typical > 60
    if implausible:
        why = (f"the backlog never held more than {waits:.1f}s of work, yet the highest is {highest:g}"
               if waits == waits else "a p99 over a minute most of the time")
        raise ScenarioError([Problem(column, f"latency_p99 median is {typical:g}, expected seconds: implausible ({why}). "
                                     "It looks like milliseconds: pass --scale latency_p99=0.001", None, file)])


def assemble(raw: list[RawSeries], *, counters: set[str], gauges: set[str], scale: dict[str, float],
             source: str, epoch: float | None) -> Observed:
    """Check every series, repair what can be repaired, and put all roles on one regular grid."""
    repairs: list[Any] = []
    cleaned: dict[str, RawSeries] = {}
    for series in raw:
        if len(series.times) == 0:
            raise _fail(series, None, f"no samples for {series.role}")
        series = _order(series, repairs)
        if series.role in counters and series.role not in RATE_ROLES:
            raise _fail(series, None, f"--counter {series.role}: only arrivals and throughput can be counters")
        declared = series.role in counters
        detected = series.role in RATE_ROLES and series.role not in gauges and (
            series.counter or looks_like_counter(series.values))
        series.counter = declared or detected
        _check_values(series, scale.get(series.role, 1.0))
        if series.counter:
            series = _to_rate(series, repairs, declared)
        if series.role in scale:
            series.values = series.values * scale[series.role]
            repairs.append((series.file, series.column, f"multiplied by {scale[series.role]:g} (--scale)"))
        if len(series.times) < MIN_SAMPLES:
            raise _fail(series, None, f"series too short to fit: {len(series.times)} samples of {series.role}; "
                                      f"need at least {MIN_SAMPLES} (an hour at 1-minute resolution is plenty)")
        cleaned[series.role] = series
    steps = {role: _step(s, repairs) for role, s in cleaned.items()}
    step = max(steps.values())
    if step <= 0:
        raise ScenarioError([Problem("time", "all samples share one timestamp; expected a time series", None, source)])
    if len({round(v, 6) for v in steps.values()}) > 1:
        repairs.append("series sampled at different intervals (" + ", ".join(f"{r} {v:g}s" for r, v in steps.items())
                       + f"): all put on a {step:g}s grid (rates averaged over each interval, gauges interpolated)")
    start = max(s.times[0] for s in cleaned.values())
    end = min(s.times[-1] for s in cleaned.values())
    count = int(np.floor((end - start) / step + 1e-9)) + 1
    if count < MIN_SAMPLES:
        raise ScenarioError([Problem("time", f"series too short to fit: the roles overlap for {count} samples of {step:g}s; "
                                     f"need at least {MIN_SAMPLES}", None, source)])
    grid = start + step * np.arange(count)
    for role, series in cleaned.items():
        inside = series.times[(series.times >= start - 1e-9) & (series.times <= end + 1e-9)]
        gaps = np.diff(inside)
        missing = int(np.sum(np.maximum(np.round(gaps / step) - 1, 0))) if steps[role] >= 0.75 * step else 0
        if missing > _MAX_MISSING_SHARE * count:
            raise _fail(series, None, f"{missing} of {count} samples of {role} are missing (gaps in time); "
                                      f"at most {_MAX_MISSING_SHARE:.0%} can be filled in")
        if missing:
            worst = int(np.argmax(gaps))
            repairs.append((series.file, series.column, f"{missing} missing sample(s) filled by linear interpolation "
                           f"(largest gap {gaps[worst]:g}s after t={inside[worst] - start:g}s)"))
    values = {role: _on_grid(s, grid, step) for role, s in cleaned.items()}
    if "consumers" in values:
        rounded = np.maximum(np.round(values["consumers"]), 0)
        if np.any(np.abs(rounded - values["consumers"]) > 1e-6):
            repairs.append("consumers: non-whole counts (averages or interpolation) rounded to whole consumers")
        values["consumers"] = rounded
    if "latency_p99" in values:
        latency_series = cleaned["latency_p99"]
        _plausible_latency(values["latency_p99"], values, step, latency_series.file, latency_series.column)
    if "arrivals" not in values:
        if "throughput" not in values or "lag" not in values:
            raise ScenarioError([Problem("arrivals", "no arrivals: give an arrivals column/series, or both throughput and "
                                         "lag so that arrivals = throughput + change of lag", None, source)])
        derived = values["throughput"] + np.diff(values["lag"], prepend=values["lag"][0]) / step
        if np.any(derived < 0):
            repairs.append(f"arrivals derived as throughput + change of lag were negative in {int((derived < 0).sum())} "
                           "interval(s): set to 0")
        values["arrivals"] = np.maximum(derived, 0.0)
        repairs.append("arrivals not observed: derived as throughput + change of lag per interval")
    return Observed(times=grid - start, step=step, series=values, source=source,
                    start_epoch=(start if epoch is not None else None), repairs=_merge(repairs))


def _merge(repairs: list[Any]) -> list[str]:
    """One line per repair: the same repair to several columns of one file is said once, naming them all."""
    grouped: dict[tuple[str, str], list[str]] = {}
    plain: list[tuple[int, str]] = []
    order: list[tuple[str, str]] = []
    for index, item in enumerate(repairs):
        if isinstance(item, tuple):
            file, column, text = item
            if (file, text) not in grouped:
                grouped[(file, text)] = []
                order.append((file, text))
                plain.append((index, ""))
            grouped[(file, text)].append(column)
        else:
            plain.append((index, item))
    lines: list[str] = []
    keys = iter(order)
    for _, text in plain:
        if text:
            lines.append(text)
        else:
            file, message = next(keys)
            lines.append(f"{file} {', '.join(grouped[(file, message)])}: {message}")
    return lines
