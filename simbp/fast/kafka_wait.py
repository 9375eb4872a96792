"""Fast-mode Kafka: the wait inside a quantum of a member that keeps up (what counts cannot see).

A member of a healthy group drains its partitions within each quantum, so counts place every
message right after its creation and see no wait. In exact mode the member wakes on the first
message (fetch.min.bytes = 1), and what arrives meanwhile waits for the batch in hand and then for
the records ahead of it in the next poll batch: a single-server FIFO queue over the member's
partitions (polls in turn reorder, the mean is the same). Its latency is the GI/G/1 sojourn at the
member's load ρ, taken here as wait + processing time: Kingman's mean wait with the
Krämer–Langenbach-Belz correction for smooth arrivals (`round_robin` deals a Poisson stream in turn,
so a partition sees Erlang gaps), waiting with probability ρ (GI/M/1's σ for smooth arrivals) for an
exponential time, plus a processing time from the distribution's profile. The sojourn is given to
the sketch as stratum means (exact means, and strata centred on p50/p95/p99/p99.9) at each flush,
counted per load until then, their weights carried as fractions until they add up to whole messages.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["HealthyWait", "mean_wait"]

# stratum edges in probability: each representative is its stratum's mean; p50, p95, p99 and p99.9
# fall in the middle of a stratum, so the sketch reads them near the distribution's own quantile
EDGES = np.array([0.0, 0.15, 0.3, 0.45, 0.55, 0.7, 0.8, 0.88, 0.94, 0.96, 0.975, 0.9875, 0.9925, 0.996, 0.998,
                  0.9995, 1.0])
P99_STRATUM = 11  # [0.9875, 0.9925]
RHO_CAP = 0.98  # above this the member does not keep up for long: the counts' own backlog takes over
RHO_STEP = 0.0025  # loads closer than this share one table of representatives
_DRAWS = 8192


def mean_wait(rho: float, arrival_scv: float, service_scv: float, mean: float) -> float:
    """GI/G/1 mean wait: Kingman with the Krämer–Langenbach-Belz factor (exact for M/G/1)."""
    if rho <= 0.0 or mean <= 0.0:
        return 0.0
    total = arrival_scv + service_scv
    if total <= 0.0:
        return 0.0
    kingman = rho / (1.0 - rho) * total / 2.0 * mean
    if arrival_scv < 1.0:
        factor = math.exp(-2.0 * (1.0 - rho) * (1.0 - arrival_scv) ** 2 / (3.0 * rho * total))
    else:
        factor = math.exp(-(1.0 - rho) * (arrival_scv - 1.0) / (arrival_scv + 4.0 * service_scv))
    return kingman * factor


class HealthyWait:
    """Sojourn representatives (stratum means) by load, and the fractional weights not yet given."""

    def __init__(self, mean: float, service_scv: float, profile: np.ndarray, rng: np.random.Generator):
        self.mean = mean
        self.service_scv = service_scv
        draws = np.asarray(profile, dtype=float)
        if draws.size == 0:
            draws = np.full(1, mean)
        self._service = rng.choice(draws, _DRAWS) if draws.size != _DRAWS else rng.permutation(draws)
        self._uniform = rng.random(_DRAWS)
        self._exponential = rng.standard_exponential(_DRAWS)
        self.shares = np.diff(EDGES)
        self._cut = np.round(EDGES * _DRAWS).astype(np.int64)
        self._tables: dict[tuple[int, int], np.ndarray] = {}
        self._pending: dict[tuple[int, int], np.ndarray] = {}
        self._counts: dict[tuple[int, int], int] = {}

    @staticmethod
    def rho_rows(rhos: np.ndarray) -> list[int]:
        """The table rows of these loads (capped at `RHO_CAP`)."""
        return np.rint(np.clip(rhos, 0.0, RHO_CAP) / RHO_STEP).astype(np.int64).tolist()

    @staticmethod
    def scv_row(arrival_scv: float) -> int:
        return int(round(arrival_scv * 100))

    def values(self, key: tuple[int, int]) -> np.ndarray:
        """The stratum means of the sojourn at this (load, arrival scv)."""
        table = self._tables.get(key)
        if table is None:
            rho, arrival_scv = key[0] * RHO_STEP, key[1] / 100.0
            wait = mean_wait(rho, arrival_scv, self.service_scv, self.mean)
            chance = rho if arrival_scv >= 1.0 else min(rho, wait / (wait + self.mean)) if wait > 0 else 0.0
            waits = np.where(self._uniform < chance, self._exponential * (wait / chance), 0.0) if chance > 0 else 0.0
            sample = np.sort(waits + self._service)
            sums = np.add.reduceat(sample, self._cut[:-1])
            table = sums / np.diff(self._cut)
            self._tables[key] = table
        return table

    def p99(self, key: tuple[int, int]) -> float:
        """The sojourn's p99 at this load (the mean of the stratum centred on it)."""
        return float(self.values(key)[P99_STRATUM])

    def add(self, key: tuple[int, int], count: int) -> None:
        """`count` messages at this load; given to the sketch at the next `emit`."""
        counts = self._counts
        counts[key] = counts.get(key, 0) + count

    def emit(self, values: list[float], weights: list[int]) -> None:
        """The whole weights of the messages added so far go to `values`/`weights`; fractions wait."""
        for key, count in self._counts.items():
            pending = self._pending.get(key)
            pending = self.shares * count if pending is None else pending + self.shares * count
            whole = np.floor(pending + 1e-9)
            if whole.any():
                table = self.values(key)
                for index in np.flatnonzero(whole):
                    values.append(float(table[index]))
                    weights.append(int(whole[index]))
                pending = pending - whole
            self._pending[key] = pending
        self._counts = {}

    def drain(self, values: list[float], weights: list[int]) -> None:
        """At the end: everything added, the fractions left to the largest remainders (whole messages)."""
        self.emit(values, weights)
        for key, pending in self._pending.items():
            count = int(round(float(pending.sum())))
            if count <= 0:
                continue
            table = self.values(key)
            for index in np.argsort(-pending)[:count]:
                values.append(float(table[index]))
                weights.append(1)
        self._pending = {}
