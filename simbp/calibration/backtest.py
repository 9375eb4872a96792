"""Backtest: replay the fitted scenario and compare its lag, throughput and latency with the observed.

The comparison is on the observed grid: simulated sample k+1 covers the same interval as observed
sample k (see `scenario_out`). Errors are normalised root-mean-square errors, RMSE divided by the
observed range (max − min), so 0 is a perfect replay and 0.1 means typically 10% of the swing off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .observed import Observed
from .scenario_out import lag_column, throughput_column

__all__ = ["Backtest", "backtest", "nrmse"]


@dataclass
class Backtest:
    """Observed and simulated series on the observed grid, and the comparison figures."""

    times: np.ndarray
    observed: dict[str, np.ndarray]
    simulated: dict[str, np.ndarray]
    figures: dict[str, Any]
    summary: dict[str, Any]


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


def backtest(obs: Observed, scenario: Any, kind: str, *, seed: int = 0, allow_large: bool = False) -> Backtest:
    """Run the fitted scenario once (seed given) and compare it with the observations."""
    import simbp

    results = simbp.run(scenario, seed=seed, allow_large=allow_large)
    frame = results.timeseries
    n = len(obs.times)
    rows = frame.iloc[1:n + 1]
    def column(name: str) -> np.ndarray:
        values = rows[name].to_numpy(dtype=float) if name in rows else np.full(len(rows), np.nan)
        return np.concatenate((values, np.full(n - len(values), np.nan)))[:n]
    simulated = {"lag": column(lag_column(kind)), "throughput": column(throughput_column(kind)) / obs.step,
                 "latency_p99": column("latency_p99_s"), "arrivals": column("produced") / obs.step}
    observed = {role: values for role, values in obs.series.items()}
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
    figures["seed"] = seed
    figures["normalisation"] = "NRMSE = RMSE / (observed max − observed min), over every observed sample"
    figures["simulated_verdict"] = results.summary.get("verdict")
    figures["mode"] = results.summary.get("mode", "exact")
    return Backtest(obs.times, observed, simulated, figures, results.summary)
