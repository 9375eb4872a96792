"""Bounded-memory measurement: a log-bucket quantile sketch for latencies.

The sketch keeps counts in geometric buckets (as DDSketch does), so any quantile it reports is
within `RELATIVE_ERROR` (1%) of a value that was really observed at that rank, whatever the run
length. Values are added in numpy blocks: the hot path only appends a float to a list.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LatencySketch", "RELATIVE_ERROR"]

RELATIVE_ERROR = 0.01
_GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
_LOG_GAMMA = math.log(_GAMMA)
_MIN = 1e-9  # values below one nanosecond count as zero
_MAX = 1e8
_OFFSET = math.ceil(math.log(_MIN) / _LOG_GAMMA)
_BUCKETS = math.ceil(math.log(_MAX) / _LOG_GAMMA) - _OFFSET + 2


class LatencySketch:
    """Counts of values in geometric buckets, plus exact count, sum and max."""

    __slots__ = ("counts", "zeros", "count", "total", "maximum")

    def __init__(self) -> None:
        self.counts = np.zeros(_BUCKETS, dtype=np.int64)
        self.zeros = 0
        self.count = 0
        self.total = 0.0
        self.maximum = float("-inf")

    def add_many(self, values: np.ndarray | list[float], *also: "LatencySketch") -> None:
        """Add a block of non-negative values (to this sketch and to each of `also`, measured once)."""
        data = np.asarray(values, dtype=float)
        if data.size == 0:
            return
        size = int(data.size)
        total = float(data.sum())
        largest = float(data.max())
        positive = data[data >= _MIN]
        zeros = int(data.size - positive.size)
        counts = None
        if positive.size:
            index = np.ceil(np.log(np.minimum(positive, _MAX)) / _LOG_GAMMA).astype(np.int64) - _OFFSET
            counts = np.bincount(index, minlength=_BUCKETS)[:_BUCKETS]
        for sketch in (self, *also):
            sketch.count += size
            sketch.total += total
            sketch.maximum = max(sketch.maximum, largest)
            sketch.zeros += zeros
            if counts is not None:
                sketch.counts += counts

    def add_weighted(self, values: np.ndarray | list[float], weights: np.ndarray | list[int]) -> None:
        """Add each value `weights[i]` times (whole numbers): fast mode's representatives of cohorts."""
        data = np.asarray(values, dtype=float)
        if data.size == 0:
            return
        counts = np.asarray(weights, dtype=np.int64)
        self.count += int(counts.sum())
        self.total += float(data @ counts)
        self.maximum = max(self.maximum, float(data.max()))
        positive = data >= _MIN
        self.zeros += int(counts[~positive].sum())
        if positive.any():
            index = np.ceil(np.log(np.minimum(data[positive], _MAX)) / _LOG_GAMMA).astype(np.int64) - _OFFSET
            self.counts += np.bincount(index, weights=counts[positive], minlength=_BUCKETS)[:_BUCKETS].astype(np.int64)

    def merge(self, other: "LatencySketch") -> None:
        """Add another sketch's observations to this one."""
        self.counts += other.counts
        self.zeros += other.zeros
        self.count += other.count
        self.total += other.total
        self.maximum = max(self.maximum, other.maximum)

    def reset(self) -> None:
        """Forget every observation (used at the end of warm-up)."""
        self.counts[:] = 0
        self.zeros = self.count = 0
        self.total = 0.0
        self.maximum = float("-inf")

    def copy(self) -> "LatencySketch":
        clone = LatencySketch()
        clone.merge(self)
        return clone

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def quantile(self, q: float) -> float:
        """The q-quantile (0..1), within 1% relative error; NaN when empty."""
        if self.count == 0:
            return float("nan")
        rank = q * (self.count - 1)
        if rank < self.zeros:
            return 0.0
        cumulative = np.cumsum(self.counts)
        index = int(np.searchsorted(cumulative, rank - self.zeros, side="right"))
        index = min(index, _BUCKETS - 1)
        value = 2.0 * _GAMMA ** (index + _OFFSET) / (_GAMMA + 1)
        return min(value, self.maximum)

    def quantiles(self, qs: tuple[float, ...]) -> list[float]:
        return [self.quantile(q) for q in qs]
