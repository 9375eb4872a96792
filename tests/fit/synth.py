"""An independent reference system for the fit tests: a discrete-time M/M/c queue in numpy (not simbp).

Every `dt` seconds, Poisson(λ(t)·dt) messages arrive and Poisson(min(n, c)·μ·dt) of the n in the
system complete (at most n): c exponential servers of rate μ each, in fine time steps. Metrics are
sampled every `step` seconds the way a monitoring system reports them: arrivals and throughput
averaged over the interval before each sample, lag (messages waiting, not in service) and the
consumer count at the sample, and a p99 latency estimate (the FIFO wait of the message completing
at the sample plus an exponential service's p99).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# The truth behind the "incident": 4 consumers of 25 messages/s each (100/s in all); 70/s arrive,
# then 150/s for ten minutes (minute 15 to 25), so a backlog of about 30,000 builds and drains.
WORKERS, MU = 4, 25.0


def spike_profile(base: float, peak: float, start: float, stop: float):
    """Rate λ(t): `base`, and `peak` between `start` and `stop` (seconds)."""
    return lambda t: np.where((t >= start) & (t < stop), peak, base)


def mmc_metrics(rate, *, c: int, mu: float, duration: float, step: float = 10.0, dt: float = 0.05,
                seed: int = 1, lag_seconds: bool = False) -> pd.DataFrame:
    """Simulate and return a metrics frame: time, arrivals, throughput, lag, consumers, latency_p99
    (and, with `lag_seconds`, the true lag in seconds: not a metric the fit reads)."""
    rng = np.random.default_rng(seed)
    substeps = int(round(step / dt))
    samples = int(round(duration / step))
    t = (np.arange(samples * substeps) + 0.5) * dt
    arrivals = rng.poisson(rate(t) * dt)
    n = 0
    done_per = np.zeros(len(t), dtype=np.int64)
    in_system = np.zeros(len(t), dtype=np.int64)
    for k in range(len(t)):
        n += int(arrivals[k])
        busy = n if n < c else c
        done = min(int(rng.poisson(busy * mu * dt)), n) if busy else 0
        n -= done
        done_per[k] = done
        in_system[k] = n
    arr = arrivals.reshape(samples, substeps).sum(axis=1) / step
    thr = done_per.reshape(samples, substeps).sum(axis=1) / step
    system = in_system[substeps - 1::substeps]
    waiting = np.maximum(system - c, 0)
    # FIFO: the message completing at time t arrived when cumulative arrivals reached cumulative departures
    arrived, departed = np.cumsum(arrivals), np.cumsum(done_per)
    at_sample = departed[substeps - 1::substeps]
    arrival_time = t[np.minimum(np.searchsorted(arrived, at_sample), len(t) - 1)]
    sample_time = t[substeps - 1::substeps]
    p99 = np.maximum(sample_time - arrival_time, 0) + 4.6 / mu  # its wait plus an exponential service's p99
    frame = pd.DataFrame({"time": step * np.arange(1, samples + 1), "arrivals": arr, "throughput": thr,
                          "lag": waiting, "consumers": c, "latency_p99": p99})
    if lag_seconds:  # the truth the plan is judged on: age of the oldest message waiting (not in service)
        oldest = np.minimum(np.searchsorted(arrived, at_sample + c + 1), len(t) - 1)  # FIFO: number departed+c+1
        frame["lag_s"] = np.where(waiting > 0, sample_time - (t[oldest] - dt / 2), 0.0)
    return frame


def prometheus_response(times: np.ndarray, series: list[tuple[dict, np.ndarray]]) -> dict:
    """A `/api/v1/query_range` response body holding the given series."""
    return {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": labels, "values": [[float(ts), f"{v:.6g}"] for ts, v in zip(times, values)]}
        for labels, values in series]}}
