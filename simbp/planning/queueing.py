"""Queueing formulas the theory bridge needs beyond `simbp.theory`.

- The exact M/M/c/K sojourn-time distribution of accepted messages (FIFO): by PASTA an arrival
  finds n in the system with probability π_n / (1 − π_K); with n < c it is served at once
  (Exp(μ)), otherwise it first waits for n − c + 1 departures at rate cμ (Erlang) and is then
  served. Its tail is a mixture of hypoexponential tails, computed in log space.
- The squared coefficient of variation of each service-time distribution the schema offers
  (`None` when its variance is infinite: a Pareto tail with α ≤ 2).
- The Allen–Cunneen approximation for the mean wait of a G/G/c queue:
  Wq ≈ C(c, a) / (cμ − λ) × (ca² + cs²) / 2, exact for M/M/c (ca² = cs² = 1).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import theory

__all__ = ["mmck_sojourn_tail", "mmck_sojourn_quantile", "service_scv", "allen_cunneen_wait"]


def _log_poisson_tails(x: float, most: int) -> tuple[np.ndarray, np.ndarray]:
    """log P(Poisson(x) < k) and log P(Poisson(x) ≥ k) for k = 0 … most (accumulated in log space)."""
    extra = int(x + 40 * math.sqrt(x + 1) + 50)
    j = np.arange(most + extra + 1, dtype=float)
    log_pmf = -x + j * math.log(x) - np.array([math.lgamma(v + 1) for v in j]) if x > 0 else np.where(j == 0, 0.0, -np.inf)
    below = np.concatenate(([-np.inf], np.logaddexp.accumulate(log_pmf)))[: most + 1]  # P(N < k)
    at_least = np.logaddexp.accumulate(log_pmf[::-1])[::-1][: most + 1]  # P(N ≥ k)
    return below, at_least


def _wait_then_serve_tails(waits: np.ndarray, rate: float, mu: float, time: float) -> np.ndarray:
    """P(Erlang(w, rate) + Exp(mu) > t) for each w in `waits` (w = 0: the service alone)."""
    most = int(waits.max(initial=0)) + 1
    if abs(rate - mu) <= 1e-12 * mu:  # one worker: Erlang(w + 1, mu)
        below, _ = _log_poisson_tails(mu * time, most)
        return np.exp(below[waits + 1])
    wait_below, _ = _log_poisson_tails(rate * time, most)  # P(Erlang(w, rate) > t) = P(Poisson(rate t) < w)
    # ∫ f_W(w) e^(−μ(t − w)) dw = e^(−μt) (rate / (rate − μ))^w P(Poisson((rate − μ) t) ≥ w)
    _, inside = _log_poisson_tails((rate - mu) * time, most)
    log_term = -mu * time + waits * math.log(rate / (rate - mu)) + inside[waits]
    result = np.exp(np.minimum(wait_below[waits], 0.0)) + np.exp(np.minimum(log_term, 0.0))
    return np.where(waits == 0, math.exp(-mu * time), np.minimum(result, 1.0))


def _arrival_states(arrival_rate: float, service_rate: float, workers: int, system_capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, probability an accepted arrival finds n) for the states that matter (≥ 1e-16 of the mass)."""
    states = np.asarray(theory.mmck_state_probabilities(arrival_rate, service_rate, workers, system_capacity))
    shares = states[:system_capacity] / (1.0 - states[system_capacity])
    found = np.flatnonzero(shares >= 1e-16)
    return found, shares[found]


def mmck_sojourn_tail(arrival_rate: float, service_rate: float, workers: int, system_capacity: int, time: float,
                      _states: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """M/M/c/K P(T > t) for the sojourn T of an accepted message (FIFO)."""
    if time <= 0:
        return 1.0
    found, shares = _states if _states is not None else _arrival_states(arrival_rate, service_rate, workers, system_capacity)
    waits = np.maximum(0, found - workers + 1)
    tails = _wait_then_serve_tails(waits, workers * service_rate, service_rate, time)
    return float(min(1.0, max(0.0, float(np.dot(shares, tails)))))


def mmck_sojourn_quantile(arrival_rate: float, service_rate: float, workers: int, system_capacity: int,
                          quantile: float) -> float:
    """The `quantile` of the M/M/c/K sojourn time of accepted messages, by bisection.

    When the buffer is practically never full (blocking below 1e-12) and the queue stable, the
    M/M/c quantile is returned: the two differ by less than that."""
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be between 0 and 1, got {quantile!r}")
    if arrival_rate < workers * service_rate and theory.mmck_blocking(arrival_rate, service_rate, workers,
                                                                      system_capacity) < 1e-12:
        return theory.mmc_sojourn_quantile(arrival_rate, service_rate, workers, quantile)
    tail = 1.0 - quantile
    low, high = 0.0, 1.0 / service_rate
    states = _arrival_states(arrival_rate, service_rate, workers, system_capacity)

    def above(t: float) -> bool:
        return mmck_sojourn_tail(arrival_rate, service_rate, workers, system_capacity, t, states) > tail

    while above(high):
        low, high = high, high * 2.0
    for _ in range(200):
        middle = (low + high) / 2
        if above(middle):
            low = middle
        else:
            high = middle
        if high - low <= 1e-10 * high:
            break
    return high


def service_scv(distribution: Any) -> float | None:
    """Squared coefficient of variation (variance ÷ mean²) of a schema distribution; None when the
    variance is infinite (Pareto with α ≤ 2) or cannot be known up front."""
    kind = getattr(distribution, "dist", None)
    mean = distribution.mean
    if kind == "constant":
        return 0.0
    if kind == "exponential":
        return 1.0
    if kind == "uniform":
        return ((distribution.high - distribution.low) ** 2 / 12) / mean**2 if mean > 0 else 0.0
    if kind == "lognormal":
        return math.expm1(distribution.sigma**2)
    if kind == "gamma":
        return 1.0 / distribution.shape
    if kind == "erlang":
        return 1.0 / distribution.k
    if kind == "pareto":
        alpha = distribution.alpha
        return None if alpha <= 2 else 1.0 / (alpha * (alpha - 2))
    if kind == "empirical" and distribution.values:
        values = distribution.values
        average = sum(values) / len(values)
        return (sum((v - average) ** 2 for v in values) / len(values)) / average**2 if average > 0 else 0.0
    return None


def allen_cunneen_wait(arrival_rate: float, service_rate: float, workers: int, arrival_scv: float,
                       service_scv: float) -> float:
    """Allen–Cunneen G/G/c mean wait: the M/M/c (Erlang C) wait scaled by (ca² + cs²) / 2."""
    return theory.mmc_mean_wait(arrival_rate, service_rate, workers) * (arrival_scv + service_scv) / 2.0
