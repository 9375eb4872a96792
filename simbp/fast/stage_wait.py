"""Fast-mode stages: the wait inside a quantum of a stage that keeps up (what counts cannot see).

Counts move a quantum's takes as one block, so a stage's FIFO take times are spread over the quantum
(`FastGroup._take`). Where the workers are busy all quantum (a backlog) that is right; where they keep
up, each message is in fact taken at once or after a short wait far below the quantum, and the spread
overstated the wait by about a quantum's random lag: an M/M/4 stage at ρ = 0.5 read +83% mean latency
at quanta of 25 service times, +140% at 50 (docs/performance.md, "Latency at coarse quanta").

So a message whose count-based wait is no longer than the stationary queue's own (`SETTLED` p99
sojourns, or `QUANTUM_SHARE` of the quantum the counts cannot resolve) gets the sojourn of the
stationary c-worker queue at the stage's load instead: with `p` waiting places, the M/M/c/(c+p)
state an accepted arrival finds (Poisson arrivals see time averages) and, behind `n ≥ c` in the
stage, an Erlang(n − c + 1, c/mean) wait; with none (or so many that the load never reaches them),
Erlang C's wait, probability C and then exponential with rate c/mean − λ. For service that is not
exponential the wait is scaled by Allen–Cunneen's (ca² + cs²)/2 (exact in the mean for M/G/1, the
usual GI/G/c approximation). The load is the stage's arrivals over the last `LOAD_MEMORY` seconds.
A larger count-based wait is a backlog the counts see (an overload, a burst draining) and is kept.
The sojourn is given to the sketch as stratum means (`kafka_wait.HealthyWait`'s strata).
"""

from __future__ import annotations

import math

import numpy as np

from .kafka_wait import EDGES, HealthyWait

__all__ = ["StageWait", "RESOLVED", "SETTLED", "QUANTUM_SHARE", "LOAD_MEMORY", "RHO_CAP", "STATES_AT_MOST"]

SETTLED = 3.0  # a count-based wait up to this many p99 sojourns (at the load) is the stationary queue's own
QUANTUM_SHARE = 0.5  # ... or up to this share of the quantum: below it the counts only spread takes
RESOLVED = 2.0  # (sub-)steps up to this many mean service times keep count-based waits (measured within the
# bounds there, and following a run's own transients, e.g. a short run starting empty)
LOAD_MEMORY = 10.0  # seconds: the stage's load is its arrival rate averaged this long
RHO_CAP = 0.98  # loads above this are a backlog the counts see (or a full buffer, stepped finely)
RHO_STEP = 0.0025  # loads closer than this share one table of representatives
STATES_AT_MOST = 200_000  # bounded places beyond this (and a load that may reach them): no formula
_DRAWS = 8192


class StageWait(HealthyWait):
    """Sojourn representatives of a c-worker stage (stratum means) by load and workers."""

    def __init__(self, mean: float, service_scv: float, arrival_scv: float, places: float, profile: np.ndarray,
                 rng: np.random.Generator):
        super().__init__(mean, service_scv, profile, rng)
        if self._service.mean() > 0:  # the distribution's own mean: the profile's would bias every sojourn
            self._service = self._service * (mean / float(self._service.mean()))
        self.places = places  # waiting places (math.inf: unbounded)
        self.factor = (arrival_scv + service_scv) / 2.0  # Allen–Cunneen's scaling of an exponential wait
        self._seed = int(rng.integers(1 << 62))
        self._rate = -1.0  # arrivals a second, averaged over `LOAD_MEMORY` (-1: none seen yet)
        self._since = 0.0  # when the rate was last brought up to date
        self._phase = 0.0  # where the next stratum is read (`stratum_value`: a low-discrepancy sequence)
        self._step = (math.sqrt(2.0) * (1.0 + float(rng.random()))) % 1.0  # its own irrational step
        self.upstream: StageWait | None = None  # the one stage forwarding into this one, if any (timed forwards)
        self.last_key: tuple[int, int] | None = None  # the last table a key was given for
        self._seen = 0.0  # seconds observed (the rate is the plain average until `LOAD_MEMORY` of them)

    def observe(self, arrived: float, t0: float, t1: float, expected: bool = False) -> None:
        """`arrived` items came to the stage in [t0, t1), or were `expected` by its producers' processes
        (a rate without the random count's noise). An empty stage is not stepped: what came since the
        last call before t0 is none, and what was expected the same rate as in [t0, t1)."""
        since = min(self._since, t0) if self._rate >= 0 else t0
        dt = t1 - since
        if dt <= 0 or t1 <= t0:
            return
        rate = arrived / (t1 - t0) if expected else arrived / dt
        self._seen += dt
        if self._rate < 0:
            self._rate = rate
        else:
            self._rate += (rate - self._rate) * dt / min(self._seen, LOAD_MEMORY)
        self._since = t1

    def key(self, workers: int) -> tuple[int, int] | None:
        """The table of the stage's current load with `workers` workers; None when the formula does not
        apply (no load seen, no workers, an unbounded stage at or over `RHO_CAP`)."""
        if self._rate < 0 or workers <= 0 or not self.mean > 0:
            return None
        rho = self._rate * self.mean / workers
        if rho >= RHO_CAP:
            return None
        self.last_key = (int(round(rho / RHO_STEP)), workers)
        return self.last_key

    def _bounded(self, rho: float) -> bool:
        """The places bound the queue at this load (and are few enough to enumerate its states)."""
        return math.isfinite(self.places) and self.places <= STATES_AT_MOST

    def values(self, key: tuple[int, int]) -> np.ndarray:
        """The stratum means of the sojourn at this (load, workers)."""
        table = self._tables.get(key)
        if table is None:
            rho, workers = key[0] * RHO_STEP, key[1]
            waits = self._waits(rho, workers) * self.factor
            sample = np.sort(waits + self._service)
            table = np.add.reduceat(sample, self._cut[:-1]) / np.diff(self._cut)
            self._tables[key] = table
        return table

    def _waits(self, rho: float, workers: int) -> np.ndarray:
        """`_DRAWS` waits of exponential service in the queue (common random numbers across loads)."""
        if rho <= 0.0:
            return np.zeros(_DRAWS)
        finite = self._bounded(rho) and (rho >= 1.0 or self.places * math.log(rho) > -40.0)
        if not finite:  # Erlang C: waits with probability C, then Exp(c/mean − λ)
            chance = erlang_c(rho * workers, workers)
            theta = workers * (1.0 - rho) / self.mean
            return np.where(self._uniform < chance, self._exponential / theta, 0.0)
        states = _arrival_states(rho, workers, int(self.places))  # P(an accepted arrival finds n in the stage)
        found = np.searchsorted(np.cumsum(states), self._uniform * states.sum(), side="right")
        found = np.minimum(found, len(states) - 1)
        ahead = found - workers + 1  # services to wait for (Erlang stages at rate c/mean)
        shapes = np.maximum(ahead, 1).astype(float)
        rng = np.random.default_rng((self._seed, int(rho / RHO_STEP + 0.5), workers))
        return np.where(ahead > 0, rng.gamma(shapes, self.mean / workers), 0.0)

    def stratum_value(self, key: tuple[int, int]) -> float:
        """One stratum's mean, the strata visited in proportion to their shares (steps of an irrational
        length of its own, so two stages' sequences are independent), for an item whose sojourn adds
        to a time of its own (a forward's time before this stage), with the variation of the stages
        before it that forwarded it timed (`spread`)."""
        self._phase = (self._phase + self._step) % 1.0
        index = min(int(np.searchsorted(EDGES, self._phase, side="right")) - 1, len(EDGES) - 2)
        value = float(self.values(key)[index])
        return value + self.upstream.spread() if self.upstream is not None else value

    def spread(self) -> float:
        """A sojourn here minus its mean (and the stages' before): the variation a timed forward carries,
        since it left at the mean (`FastGroup._timed_forwards`)."""
        key = self.last_key
        if key is None:
            return 0.0
        return self.stratum_value(key) - self.mean_sojourn(key)

    def mean_sojourn(self, key: tuple[int, int]) -> float:
        """The sojourn's mean at this (load, workers)."""
        return float(self.values(key) @ self.shares)

    def settled(self, key: tuple[int, int], dt: float) -> float:
        """The longest count-based wait taken as the stationary queue's own (then given the formula's);
        none on (sub-)steps of at most `RESOLVED` service times, where the counts resolve the waits."""
        if dt <= RESOLVED * self.mean * (1 + 1e-9):
            return -math.inf
        return max(SETTLED * self.p99(key), QUANTUM_SHARE * dt)


def erlang_c(load: float, workers: int) -> float:
    """Erlang C: the chance an arrival waits in M/M/c at offered load `load` (= λ × mean) < `workers`."""
    blocking = 1.0
    for k in range(1, workers + 1):  # Erlang B by its recursion (stable for thousands of workers)
        blocking = load * blocking / (k + load * blocking)
    rho = load / workers
    return blocking / (1.0 - rho * (1.0 - blocking))


def _arrival_states(rho: float, workers: int, places: int) -> np.ndarray:
    """M/M/c/(c + places): the stationary probabilities of 0 .. c + places − 1 in the stage (what an
    accepted arrival finds), unnormalised."""
    load = rho * workers
    n = np.arange(workers + places)
    below = n < workers
    log_p = np.empty(len(n))
    log_factorials = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, workers + 1)))))
    log_p[below] = n[below] * math.log(load) - log_factorials[n[below]]
    top = workers * math.log(load) - log_factorials[workers]
    log_p[~below] = top + (n[~below] - workers) * math.log(rho)
    return np.exp(log_p - log_p.max())
