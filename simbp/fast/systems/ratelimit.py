"""A token bucket on counts: how many of a quantum's arrivals find a token (docs/performance.md).

Exact mode's bucket (`simbp.exact.systems.ratelimit`) starts full with `burst` tokens, gains `rate`
a second up to `burst`, and discards a message that finds no whole token. Seen from the messages,
the bucket's deficit (burst − tokens) is a queue: each message admitted adds one, the refill drains
one every 1/rate seconds, and a message that would push it past `burst` is discarded. For Poisson
arrivals that queue is M/D/1/K with K = burst and ρ = arrival rate / rate, so fast mode has three
regimes, chosen by how the bucket compares with a quantum's refill:

- **a bucket of at least `CELL_BUCKET` tokens and an eighth of a quantum's refill** keeps its state
  between quanta: each quantum is cut into cells of at most burst/8 tokens (at most 64 cells, often
  one), and in each cell the messages lost are the deficit path's overshoot of `burst`
  (`boundary.overshoot`: arrivals and refills in random order);
- **a smaller bucket, in a quantum refilling at most `TOKEN_STEPS` tokens**, is met token by token:
  while there is a whole token the next arrival takes it (its time the first of the remaining
  arrivals, uniform in what is left of the quantum); without one, the arrivals until the next token
  is whole are discarded (a binomial draw). Exact in distribution for Poisson arrivals, at a step
  per token passed or waited for;
- **a smaller bucket in a longer quantum** forgets its state within it: each arrival is discarded
  with M/D/1/K's blocking probability at the quantum's expected rate (exact for steady Poisson
  arrivals; solved exactly up to `EXACT_UP_TO` tokens, above that by the diffusion limit, whose
  error is under 1/K).

Evenly spaced arrivals (constant, traces) meet the bucket as a fluid: a quantum passes at most
the whole tokens it has. A waiting bucket (`on_limit: wait`) is the same queue with the held message
one more place (K = burst + 1): what it would have discarded falls due while the producer waits and
is never produced (`skipped`), and the wait is the producer's blocked time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..boundary import overshoot

__all__ = ["FastTokenBucket", "md1k_blocking", "CELLS", "EXACT_UP_TO"]

TOKEN_STEPS = 256  # a quantum refilling at most this many tokens is met token by token
CELLS = 64  # cells per quantum at most for a bucket that keeps its state
CELL_FRACTION = 8  # a cell refills at most burst / CELL_FRACTION tokens
CELL_BUCKET = 64  # a bucket of at least this many tokens keeps its state over cells (fewer: token by token)
EXACT_UP_TO = 400  # M/D/1/K solved exactly up to this many tokens; the diffusion limit above


def md1k_blocking(rho: float, k: int) -> float:
    """M/D/1/K's blocking probability (K in the system at most), from its departure-epoch chain."""
    if rho <= 0:
        return 0.0
    if k > EXACT_UP_TO:
        return _diffusion_blocking(rho, k)
    j = np.arange(k + 1)
    log_a = -rho + j * math.log(rho) - np.array([math.lgamma(x + 1) for x in j])
    a = np.exp(log_a)
    tail = np.clip(1.0 - np.cumsum(a), 0.0, 1.0)  # P(A > j)
    states = k  # after a departure 0..k-1 remain
    p = np.zeros((states, states))
    for i in range(states):
        base = max(i - 1, 0)  # from 0: wait for an arrival, then serve it
        for nxt in range(base, states - 1):
            p[i, nxt] = a[nxt - base]
        p[i, states - 1] = tail[states - 2 - base] if states - 2 - base >= 0 else 1.0
    # π (P − I) = 0, Σπ = 1
    system = (p - np.eye(states)).T
    system[-1, :] = 1.0
    rhs = np.zeros(states)
    rhs[-1] = 1.0
    pi = np.linalg.solve(system, rhs)
    return float(min(max(1.0 - 1.0 / (pi[0] + rho), 0.0), 1.0))


def _diffusion_blocking(rho: float, k: int) -> float:
    """The deficit as reflected Brownian motion on [0, K] (drift ρ − 1, variance ρ per token time):
    the share of arrivals lost at K is its local time there over the arrival rate."""
    drift, variance = rho - 1.0, rho
    if abs(drift) < 1e-9:
        return variance / (2 * k) / rho
    x = 2 * drift * k / variance
    if x > 700:
        return drift / rho
    if x < -700:
        return 0.0
    return drift / -math.expm1(-x) / rho


class FastTokenBucket:
    """`rate` tokens a second up to `burst`; `admit(k, …)` says how many of a quantum's k pass."""

    def __init__(self, rate: float, burst: int, rng: np.random.Generator, waits: bool = False):
        self.rate = float(rate)
        self.burst = int(burst)
        self.waits = waits  # on_limit: wait (hold the producer) rather than drop
        self.tokens = float(burst)
        self.passed = 0
        self.limited = 0  # discarded (drop), or passed after waiting for a token (wait)
        self.skipped = 0  # wait: arrivals that fell due while the producer waited (never produced)
        self.blocked = 0.0  # wait: seconds the producer held a message for a token
        self.waited = 0.0
        self.paused = 0.0  # wait: the producer's pause still to run at the next quantum
        self._rng = rng
        self._blocking: dict[float, float] = {}

    def admit(self, k: int, expected: float, dt: float, evenly: bool) -> int:
        """Of `k` arrivals in a quantum of `dt` s (`expected` by the process), how many take a token."""
        if dt <= 0:
            return 0
        refill = self.rate * dt
        if evenly:
            passed = self._fluid(k, refill)
        elif self.burst >= CELL_BUCKET and self.burst * CELL_FRACTION >= refill:
            passed = self._cells(k, refill, (expected if expected > 0 else k) / dt)
        elif refill <= TOKEN_STEPS:
            passed = self._token_events(k, dt)
        else:
            passed = self._stationary(k, (expected if expected > 0 else k) / dt, dt)
        self.passed += passed
        if not self.waits:
            self.limited += k - passed
        return passed

    def _fluid(self, k: int, refill: float) -> int:
        available = self.tokens + refill
        passed = min(k, int(math.floor(available + 1e-9)))
        self.tokens = min(float(self.burst), available - passed)
        if self.waits and passed < k:  # each arrival the producer waited through is a gap of it held
            self.skipped += k - passed
            self.blocked += (k - passed) / k * refill / self.rate
        return passed

    def _token_events(self, k: int, dt: float) -> int:
        """The quantum's k arrivals (uniform in it) met token by token: exact in distribution, at a
        cost of a few steps per token the quantum refills. Waiting (`on_limit: wait`), an arrival
        without a token reserves the next one and holds the producer until then: the arrivals that
        fall due meanwhile are never produced (`skipped`), and the pause may run into the next quantum."""
        rng, rate, burst = self._rng, self.rate, float(self.burst)
        tokens, now, left, passed = self.tokens, 0.0, k, 0
        if self.paused > 0:  # still holding a message from the last quantum
            pause = min(self.paused, dt)
            skipped = int(rng.binomial(left, pause / dt)) if left else 0
            self.skipped += skipped
            self.blocked += pause
            left -= skipped
            tokens += rate * pause
            self.paused -= pause
            now = pause
            if self.paused > 0:
                self.tokens = tokens
                return 0
            tokens = max(tokens, 0.0)
        while left > 0 and now < dt:
            span = dt - now
            whole = math.floor(tokens + 1e-9)
            if whole >= left and whole > TOKEN_STEPS:  # a large bucket passes them all at once
                passed += left
                tokens = min(burst, tokens - left + rate * span)
                now, left = dt, 0
                break
            if whole >= 1:  # the next arrival takes a token (the first of `left` uniform in what is left)
                gap = span * (1.0 - rng.random() ** (1.0 / left))
                tokens = min(burst, tokens + rate * gap) - 1.0
                now += gap
                passed += 1
                left -= 1
                continue
            if self.waits:  # the next arrival reserves the next token and holds the producer until it
                gap = span * (1.0 - rng.random() ** (1.0 / left))
                tokens = min(burst, tokens + rate * gap)
                now += gap
                left -= 1
                passed += 1
                if tokens >= 1.0 - 1e-9:
                    tokens -= 1.0
                    continue
                tokens -= 1.0
                pause = -tokens / rate
                self.limited += 1
                self.waited += pause
                held = min(pause, dt - now)
                skipped = int(rng.binomial(left, held / (dt - now))) if left and dt > now else 0
                self.skipped += skipped
                self.blocked += held
                left -= skipped
                tokens += rate * held
                now += held
                if pause > held:
                    self.paused = pause - held
                    break
                tokens = 0.0
                continue
            wait = (1.0 - tokens) / rate  # until the next token is whole: arrivals meanwhile are discarded
            if wait >= span:
                now, left = dt, 0
                break
            lost = int(rng.binomial(left, wait / span))
            left -= lost
            tokens, now = 1.0, now + wait
        if now < dt and self.paused <= 0:
            tokens = min(burst, tokens + rate * (dt - now))
        self.tokens = tokens if self.paused > 0 else max(tokens, 0.0)
        return passed

    def _cells(self, k: int, refill: float, arrival_rate: float) -> int:
        cells = max(1, min(CELLS, math.ceil(refill * CELL_FRACTION / self.burst - 1e-9)))
        parts = self._rng.multinomial(k, [1.0 / cells] * cells).tolist() if cells > 1 else [k]
        per_cell = refill / cells
        uniform: Callable[[], float] = self._rng.random
        burst = self.burst
        places = burst + (1 if self.waits else 0)  # waiting, the held message is one more place
        cell_time = per_cell / self.rate
        passed = 0
        tokens = self.tokens
        for a in parts:
            whole = int(math.floor(tokens + 1e-9))
            gained = int(math.floor(tokens + per_cell + 1e-9)) - whole  # tokens that become whole in the cell
            lost = overshoot(places - whole, a, gained, places, uniform()) if a > whole else 0
            lost = min(lost, a)
            if self.waits and lost:  # never produced: they fell due while the producer waited
                self.skipped += lost
                self.blocked += lost / arrival_rate if arrival_rate > 0 else cell_time
            passed += a - lost
            tokens = min(float(burst), max(tokens + per_cell - (a - lost), 0.0))
        self.tokens = tokens
        return passed

    def _stationary(self, k: int, rate: float, dt: float) -> int:
        """Each arrival finds no token with M/D/1/K's blocking probability (K = burst; waiting, the
        held message is one more place, K = burst + 1, and the producer is held that share of time)."""
        places = self.burst + (1 if self.waits else 0)
        rho = round(rate / self.rate, 4)
        blocking = self._blocking.get(rho)
        if blocking is None:
            blocking = md1k_blocking(rho, places)
            if len(self._blocking) < 4096:
                self._blocking[rho] = blocking
        if self.waits:
            self.blocked += blocking * dt
        if not k:
            return 0
        lost = int(self._rng.binomial(k, blocking)) if blocking > 0 else 0
        if self.waits:
            self.skipped += lost
        return k - lost
