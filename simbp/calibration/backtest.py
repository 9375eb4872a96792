"""Backtest: replay the fitted scenario and compare its lag, throughput and latency with the observed.

The comparison is on the observed grid: simulated sample k+1 covers the same interval as observed
sample k (see `scenario_out`). Errors are normalised root-mean-square errors, RMSE divided by the
observed range (max − min), so 0 is a perfect replay and 0.1 means typically 10% of the swing off.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .estimate import t_quantile
from .observed import Observed
from .scenario_out import lag_column, throughput_column

__all__ = ["Backtest", "backtest", "nrmse", "replications_within", "BACKTEST_REPLICATIONS", "BACKTEST_SECONDS"]

BACKTEST_REPLICATIONS = 5  # replays with successive seeds: the backtest's figures get a spread
BACKTEST_SECONDS = 60.0  # estimated computing the replays may take together (fewer replays when over it)


@dataclass
class Backtest:
    """Observed and simulated series on the observed grid, and the comparison figures."""

    times: np.ndarray
    observed: dict[str, np.ndarray]
    simulated: dict[str, np.ndarray]
    figures: dict[str, Any]
    summary: dict[str, Any]
    bands: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # per-sample min, max over replays


def nrmse(observed: np.ndarray, simulated: np.ndarray) -> float | None:
    """RMSE over the observed range (NaN pairs left out); None when the observed series is flat."""
    keep = np.isfinite(observed) & np.isfinite(simulated)
    if keep.sum() < 2:
        return None
    swing = float(np.ptp(observed[keep]))
    if swing <= 0:
        return None
    return float(np.sqrt(np.mean((observed[keep] - simulated[keep]) ** 2)) / swing)


def _clock(obs: Observed, t: float) -> str | float:
    """An observed time as ISO-8601 when the input had absolute timestamps, else seconds from the start."""
    if obs.start_epoch is None:
        return round(t, 6)
    import datetime as dt

    return dt.datetime.fromtimestamp(obs.start_epoch + t, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def _r(value: float | None, digits: int = 6) -> float | None:
    return None if value is None or not math.isfinite(value) else float(f"{value:.{digits}g}")


def _replay(obs: Observed, scenario: Any, kind: str, seed: int, run_options: dict[str, Any]) -> tuple[dict[str, np.ndarray], Any]:
    """One replay's series on the observed grid, and its Results."""
    import simbp

    results = simbp.run(scenario, seed=seed, **run_options)
    n = len(obs.times)
    rows = results.timeseries.iloc[1:n + 1]

    def column(name: str) -> np.ndarray:
        values = rows[name].to_numpy(dtype=float) if name in rows else np.full(len(rows), np.nan)
        return np.concatenate((values, np.full(n - len(values), np.nan)))[:n]
    simulated = {"lag": column(lag_column(kind)), "throughput": column(throughput_column(kind)) / obs.step,
                 "latency_p99": column("latency_p99_s"), "arrivals": column("produced") / obs.step}
    return simulated, results


def _figures(obs: Observed, observed: dict[str, np.ndarray], simulated: dict[str, np.ndarray]) -> dict[str, Any]:
    """Peak lag (value, time, error) and the NRMSE of each observed role, for one replay."""
    figures: dict[str, Any] = {}
    if "lag" in observed:
        o, s = observed["lag"], simulated["lag"]
        io_, is_ = int(np.argmax(o)), int(np.nanargmax(s))
        figures.update({
            "observed_peak_lag": _r(float(o[io_])), "simulated_peak_lag": _r(float(s[is_])),
            "peak_lag_relative_error": _r((float(s[is_]) - float(o[io_])) / float(o[io_])) if o[io_] > 0 else None,
            "observed_peak_time": _clock(obs, float(obs.times[io_])), "simulated_peak_time": _clock(obs, float(obs.times[is_])),
            "peak_time_offset_s": _r(float(obs.times[is_] - obs.times[io_])),
            "lag_nrmse": _r(nrmse(o, s), 4),
        })
    if "throughput" in observed:
        figures["throughput_nrmse"] = _r(nrmse(observed["throughput"], simulated["throughput"]), 4)
    if "latency_p99" in observed:
        figures["latency_p99_nrmse"] = _r(nrmse(observed["latency_p99"], simulated["latency_p99"]), 4)
        figures["observed_peak_latency_p99_s"] = _r(float(np.max(observed["latency_p99"])))
        figures["simulated_peak_latency_p99_s"] = _r(float(np.nanmax(simulated["latency_p99"])))
    return figures


def replications_within(scenario: Any, wanted: int, seconds: float) -> tuple[int, str]:
    """How many replays fit in `seconds` of estimated computing (at least 1), and why fewer than wanted."""
    from ..limits import choose_mode, estimate_seconds

    mode, _ = choose_mode(scenario, "auto")
    each = max(estimate_seconds(scenario, mode), 1e-3)
    count = max(1, min(wanted, int(seconds // each)))
    why = "" if count == wanted else (f"{count} of {wanted} replays: each takes about {each:.1f}s in {mode} mode and "
                                      f"the backtest may take {seconds:g}s")
    return count, why


def _spread(values: list[float]) -> dict[str, float | None]:
    """Mean, 95% t interval of the mean over replays, and the range of single replays."""
    x = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if not len(x):
        return {"mean": None, "low": None, "high": None, "min": None, "max": None}
    mean = float(x.mean())
    half = t_quantile(len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x)) if len(x) > 1 else math.nan
    return {"mean": _r(mean), "low": _r(mean - half), "high": _r(mean + half), "min": _r(float(x.min())),
            "max": _r(float(x.max()))}


_SPREAD = ("simulated_peak_lag", "peak_lag_relative_error", "peak_time_offset_s", "lag_nrmse", "throughput_nrmse",
           "latency_p99_nrmse", "simulated_peak_latency_p99_s")


def _band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample lowest and highest over the replays (NaN where no replay has a value)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an interval no replay has a value for (no latency)
        return np.nanmin(values, axis=0), np.nanmax(values, axis=0)


def backtest(obs: Observed, scenario: Any, kind: str, *, seed: int = 0, replications: int = BACKTEST_REPLICATIONS,
             seconds: float = BACKTEST_SECONDS, allow_large: bool = False, run_options: dict[str, Any] | None = None) -> Backtest:
    """Replay the fitted scenario with seeds `seed`, `seed`+1, … and compare each with the observations.

    The figures of the first replay (`seed`) are the block's plain keys; `replications` more seeds
    (as many as fit in `seconds` of estimated computing) give each figure's mean, 95% interval and
    range under `spread`. `run_options` go to `simbp.run` (the dashboard's budgets and cancellation).
    """
    options = {"allow_large": allow_large, **(run_options or {})}
    count, why = replications_within(scenario, replications, seconds)
    observed = {role: values for role, values in obs.series.items()}
    simulated, results = _replay(obs, scenario, kind, seed, options)
    figures = _figures(obs, observed, simulated)
    runs = [simulated]
    per_run = [figures]
    for extra in range(1, count):
        series, _ = _replay(obs, scenario, kind, seed + extra, options)
        runs.append(series)
        per_run.append(_figures(obs, observed, series))
    figures["seed"] = seed
    figures["normalisation"] = "NRMSE = RMSE / (observed max − observed min), over every observed sample"
    figures["simulated_verdict"] = results.summary.get("verdict")
    figures["mode"] = results.summary.get("mode", "exact")
    figures["replications"] = count
    figures["seeds"] = [seed + k for k in range(count)]
    if why:
        figures["replications_note"] = why
    figures["spread"] = {key: _spread([f[key] for f in per_run]) for key in _SPREAD if key in figures}
    figures["spread_note"] = ("over the replays (seeds): mean, 95% t interval of the mean (low, high) and the range of "
                              "single replays (min, max)")
    bands = {role: _band(np.vstack([r[role] for r in runs])) for role in simulated}
    return Backtest(obs.times, observed, simulated, figures, results.summary, bands)
