"""Fitting: service capacity, per-consumer service time and its variability from observed metrics.

Capacity is read where it shows: in an interval that begins and ends with at least one interval's
worth of work waiting (lag ≥ throughput × step + consumers), the consumers never ran dry, so the
throughput there *is* the capacity. Per consumer, x_i = throughput_i / consumers_i. The estimate is
the mean of x_i over those saturated intervals with a 95% t interval whose sample size is reduced
for lag-1 autocorrelation (n_eff = n (1 − ρ) / (1 + ρ)). Service variability comes from the noise
of saturated throughput: with c busy consumers and service times of mean m and squared coefficient
of variation cv², the completions in an interval of length Δ have variance ≈ cv² × mean (renewal
theory), so cv² ≈ c × Var(x_iΔ) / mean(x_iΔ), with Var from successive differences (slow drifts cancel)
and a 95% interval from 10 batch means; the service is exponential unless that interval excludes 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .observed import Observed

__all__ = ["Fit", "estimate", "t_quantile"]

_MIN_SATURATED = 5
_MIN_FOR_VARIABILITY = 10


def t_quantile(df: float) -> float:
    """Two-sided 95% Student t quantile (0.975) for `df` degrees of freedom (Cornish-Fisher, ≤0.1% off for df ≥ 2)."""
    if df <= 1:
        return 12.706
    z = 1.959963984540054
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


@dataclass
class Fit:
    """Fitted parameters, their 95% intervals, and what the data could not identify."""

    kind: str
    kind_reason: str
    workers: int
    workers_source: str
    capacity_per_s: float  # per consumer (worker)
    capacity_interval: tuple[float | None, float | None]
    capacity_method: str
    saturated_intervals: int
    service_mean_s: float
    service_interval: tuple[float | None, float | None]
    service: dict[str, Any]  # the scenario's distribution
    service_cv2: float | None
    service_cv2_interval: tuple[float | None, float | None]
    service_method: str
    initial_backlog: float
    unidentified: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def total_capacity_per_s(self) -> float:
        """Capacity of all `workers` together (messages per second)."""
        return self.capacity_per_s * self.workers


def _saturated(obs: Observed, consumers: np.ndarray) -> np.ndarray:
    """Intervals that start and end with at least one interval's work (plus one item per consumer) waiting."""
    lag = obs.series["lag"]
    thr = obs.series["throughput"]
    need = thr * obs.step + consumers
    before = np.concatenate(([0.0], lag[:-1]))  # lag at the start of interval i (sample i−1)
    mask = (before >= need) & (lag >= need) & (thr > 0)
    mask[0] = False
    return mask


def _mean_interval(x: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, 95% t-interval half width (autocorrelation-adjusted), n_eff and lag-1 autocorrelation."""
    n = len(x)
    mean = float(x.mean())
    if n < 2:
        return mean, math.inf, n, 0.0
    centred = x - mean
    denom = float((centred**2).sum())
    rho = float((centred[1:] * centred[:-1]).sum() / denom) if denom > 0 else 0.0
    rho = min(max(rho, 0.0), 0.95)
    n_eff = max(n * (1 - rho) / (1 + rho), 2.0)
    half = t_quantile(n_eff - 1) * float(x.std(ddof=1)) / math.sqrt(n_eff)
    return mean, half, n_eff, rho


def _kind(obs: Observed, requested: str) -> tuple[str, str]:
    if requested in ("buffer", "kafka"):
        return requested, f"--as {requested}"
    if obs.hints.get("kind") == "kafka":
        return "kafka", "the Prometheus series name Kafka topics or consumer groups"
    return "buffer", "nothing in the data names Kafka (use --as kafka for a topic and consumer group)"


def _service(cv2: float | None, interval: tuple[float | None, float | None], mean: float) -> tuple[dict[str, Any], str]:
    """Exponential unless the cv² interval excludes 1; then gamma (steadier) or lognormal (more variable)."""
    low, high = interval
    if cv2 is None or low is None or high is None or low <= 1.0 <= high:
        return {"dist": "exponential", "mean": mean}, "exponential" + ("" if cv2 is None else f" (cv² {cv2:.2f}, interval includes 1)")
    if cv2 < 0.7:
        shape = round(1.0 / max(cv2, 0.02), 2)
        return {"dist": "gamma", "mean": mean, "shape": shape}, f"gamma with shape {shape:g} (cv² {cv2:.2f})"
    sigma = round(math.sqrt(math.log(1 + cv2)), 3)
    return {"dist": "lognormal", "mean": mean, "sigma": sigma}, f"lognormal with sigma {sigma:g} (cv² {cv2:.2f})"


def estimate(obs: Observed, *, kind: str = "auto", workers: int | None = None) -> Fit:
    """Fit capacity, service time and variability; say plainly what the data could not identify."""
    unidentified: list[str] = []
    notes: list[str] = []
    chosen_kind, kind_reason = _kind(obs, kind)
    n = len(obs.times)
    if "consumers" in obs.series:
        consumers = np.maximum(obs.series["consumers"], 1.0)
        source = "observed consumer count"
    else:
        consumers = np.full(n, float(workers or 1))
        source = "--workers" if workers else "not observed: one worker standing for the whole service"
        if not workers:
            unidentified.append("the consumer count was not observed: capacity is the whole service's, modelled as one "
                                "worker; pass --workers N (or a consumers series) to plan per-consumer")
    have = "lag" in obs.series and "throughput" in obs.series
    mask = _saturated(obs, consumers) if have else np.zeros(n, dtype=bool)
    if "consumers" in obs.series:
        during = consumers[mask] if mask.any() else consumers
        values, counts = np.unique(during, return_counts=True)
        fitted_workers = int(values[np.argmax(counts)])
        if np.ptp(consumers) > 0:
            notes.append(f"the consumer count varied ({int(consumers.min())}–{int(consumers.max())}); the fitted scenario "
                         f"uses {fitted_workers} (the most common {'while saturated' if mask.any() else 'count'}) throughout")
    else:
        fitted_workers = int(workers or 1)
    per = obs.series["throughput"] / consumers if "throughput" in obs.series else None
    saturated = int(mask.sum())
    cv2 = None
    cv2_interval: tuple[float | None, float | None] = (None, None)
    if per is not None and saturated >= _MIN_SATURATED:
        x = per[mask]
        mean, half, n_eff, rho = _mean_interval(x)
        capacity = mean
        interval: tuple[float | None, float | None] = (mean - half, mean + half)
        method = (f"mean throughput per consumer over {saturated} saturated intervals (backlog ≥ one interval's work at both "
                  f"ends); 95% t interval with n_eff {n_eff:.1f} for lag-1 autocorrelation {rho:.2f}")
        if saturated >= _MIN_FOR_VARIABILITY:
            cv2, cv2_interval = _dispersion(x, mask, consumers, obs.step)
            if not math.isfinite(cv2):
                cv2, cv2_interval = None, (None, None)
    elif per is not None and per.max() > 0:
        capacity = float(per.max())
        interval = (capacity, None)
        method = "lower bound: the highest observed throughput per consumer (no saturated interval)"
        if saturated:
            unidentified.append(f"only {saturated} saturated interval(s) (need {_MIN_SATURATED}): capacity is at least "
                                f"{capacity:.4g}/s per consumer, the highest throughput seen")
        else:
            unidentified.append(f"the system was never saturated (the backlog never held an interval's work): capacity is "
                                f"at least {capacity:.4g}/s per consumer (the highest throughput seen), and the fitted "
                                "scenario runs at that lower bound, so it is pessimistic")
    else:
        peak = float(np.max(obs.series["arrivals"]))
        capacity = max(peak / fitted_workers, 1e-6) if peak > 0 else 1.0
        interval = (None, None)
        method = "not identified: no throughput (or no lag) observed; assumed equal to the peak arrival rate"
        unidentified.append("capacity could not be estimated without throughput and lag; the fitted scenario assumes "
                            f"{capacity:.4g}/s per consumer (the peak arrival rate), which is a guess")
    service_mean = 1.0 / capacity
    low, high = interval
    service_interval = (1.0 / high if high and high > 0 else None, 1.0 / low if low and low > 0 else None)
    service, family = _service(cv2, cv2_interval, service_mean)
    if cv2 is None:
        service_method = ("exponential assumed: too few saturated intervals to read variability from throughput noise "
                          f"(need {_MIN_FOR_VARIABILITY}, have {saturated})")
        unidentified.append("service-time variability: assumed exponential")
    else:
        service_method = (f"{family}: from the dispersion of saturated throughput (cv² ≈ consumers × Var/mean of counts "
                          "per interval, variance from successive differences)")
    backlog = float(obs.series["lag"][0]) if "lag" in obs.series else 0.0
    if backlog > 0:
        notes.append(f"the first sample already had a backlog of {backlog:.0f}: added to the first interval's arrivals")
    if "latency_p99" not in obs.series:
        unidentified.append("latency was not observed: the backtest compares lag and throughput only")
    return Fit(chosen_kind, kind_reason, fitted_workers, source, capacity, interval, method, saturated, service_mean,
               service_interval, service, cv2, cv2_interval, service_method, backlog, unidentified, notes)


def _dispersion(x: np.ndarray, mask: np.ndarray, consumers: np.ndarray, step: float) -> tuple[float, tuple[float, float]]:
    """cv² of service from saturated per-consumer counts: c × Var/mean, Var from successive differences."""
    counts = x * step
    index = np.flatnonzero(mask)
    adjacent = np.diff(index) == 1
    diffs = np.diff(counts)[adjacent]
    c = float(np.median(consumers[mask]))
    mean = float(counts.mean())
    if len(diffs) < 5 or mean <= 0:
        return float("nan"), (float("nan"), float("nan"))
    halves = diffs**2 / 2  # each has mean Var(count) when the level drifts slowly
    cv2 = c * float(halves.mean()) / mean
    # 95% interval from batch means (10 batches of consecutive differences: no distributional assumption)
    batches = np.array([b.mean() for b in np.array_split(halves, 10)]) * c / mean
    half = t_quantile(9) * float(batches.std(ddof=1)) / math.sqrt(len(batches))
    return cv2, (max(cv2 - half, 0.0), cv2 + half)
