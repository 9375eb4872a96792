"""Fast mode's random inputs, drawn in blocks from the run's seed tree: arrival counts per quantum,
byte totals of k messages, and the service times of a group's items as prefix sums.

Stream names are exact mode's (`producer/<name>/arrivals`, `producer/<name>/size`,
`consumer/<name>/service`), so the same seed drives the same components in both engines.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..random import draw_function
from ..scenario.rates import bursty_phases, read_trace, schedule_rates, trace_period
from ..scenario.schema import (
    BurstyArrivals,
    ConstantArrivals,
    PoissonArrivals,
    ProducerSpec,
    Scenario,
    ScheduleArrivals,
    TraceArrivals,
    _Constant,
)

__all__ = ["ArrivalCounts", "arrival_counts", "ByteSums", "WorkStream", "DRAW_BLOCK"]

DRAW_BLOCK = 4096  # quanta of arrivals, or draws of sizes and service times, prepared at a time


class ArrivalCounts:
    """Messages a producer emits in each quantum [k·dt, (k+1)·dt), k = 0, 1, …: `next()` is the
    count for the next quantum, and `expected` what the arrival process expected in it."""

    def __init__(self, blocks: Iterator[tuple[list[int], list[float]]], evenly: bool = False):
        self._blocks = blocks
        self.evenly = evenly  # evenly spaced (or replayed) arrivals: a count splits evenly over time
        self._counts: list[int] = []
        self._expected: list[float] = []
        self._index = 0
        self.expected = 0.0

    def next(self) -> int:
        index = self._index
        if index == len(self._counts):
            self._counts, self._expected = next(self._blocks)
            index = 0
        self._index = index + 1
        self.expected = self._expected[index]
        return self._counts[index]


def arrival_counts(spec: ProducerSpec, rng: np.random.Generator, dt: float, scenario: Scenario) -> ArrivalCounts:
    """The per-quantum arrival counts of a producer, drawn `DRAW_BLOCK` quanta at a time."""
    arrivals = spec.arrivals
    multiplier = scenario.load_multiplier
    start = spec.start
    stop = min(spec.stop if spec.stop is not None else math.inf, scenario.duration)
    random = True
    cumulative: Callable[[np.ndarray], np.ndarray] | None = None  # expected arrivals by time after start
    per_quantum: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    exact_counts: Callable[[np.ndarray], np.ndarray] | None = None  # arrivals before each time after start

    if isinstance(arrivals, (PoissonArrivals, ConstantArrivals)):
        rate = arrivals.rate * multiplier
        random = isinstance(arrivals, PoissonArrivals)
        cumulative = lambda tau: rate * tau
    elif isinstance(arrivals, BurstyArrivals):
        (rate1, length1), (rate2, length2) = bursty_phases(arrivals, multiplier)
        cycle, per_cycle = length1 + length2, rate1 * length1 + rate2 * length2
        random = arrivals.within == "poisson"

        def cumulative(tau: np.ndarray) -> np.ndarray:
            cycles = np.floor(tau / cycle)
            x = tau - cycles * cycle
            return cycles * per_cycle + rate1 * np.minimum(x, length1) + rate2 * np.maximum(x - length1, 0.0)
    elif isinstance(arrivals, ScheduleArrivals):
        random = arrivals.within == "poisson"

        def per_quantum(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:  # rate at the midpoint × length
            return schedule_rates(arrivals, (lo + hi) / 2) * multiplier * (hi - lo)
    elif isinstance(arrivals, TraceArrivals):
        values = read_trace(arrivals, scenario.base_dir)
        if arrivals.format == "timestamps":
            n = len(values)
            period = trace_period(arrivals, values)

            def exact_counts(tau: np.ndarray) -> np.ndarray:
                if period is None or period <= 0:
                    return np.searchsorted(values, tau, side="left")
                laps = np.floor(tau / period)
                return laps * n + np.searchsorted(values, tau - laps * period, side="left")
        else:
            width = arrivals.bin
            span = max(stop - start, 0.0)
            bins = int(math.ceil(span / width)) + 1
            base = values if arrivals.loop else np.concatenate([values, np.zeros(max(bins - len(values), 0))])
            laps = int(math.ceil(bins / len(base)))
            scaled = np.tile(base, laps)[:bins] * multiplier
            counts = np.floor(scaled) + (rng.random(bins) < scaled % 1)  # whole messages per bin, as exact mode
            before = np.concatenate([[0.0], np.cumsum(counts)])
            random = False

            def cumulative(tau: np.ndarray) -> np.ndarray:
                index = np.minimum(np.floor(tau / width).astype(np.int64), bins - 1)
                return before[index] + (tau / width - index) * counts[index]
    else:  # pragma: no cover - the schema admits no other process
        raise TypeError(f"unknown arrival process {arrivals!r}")

    whole, fraction = math.floor(multiplier), multiplier % 1

    def blocks() -> Iterator[tuple[list[int], list[float]]]:
        first = 0
        total = 0.0  # running expected arrivals for evenly spaced processes (whole messages by floor)
        done = 0.0
        while True:
            edges = (first + np.arange(DRAW_BLOCK + 1)) * dt
            clipped = np.clip(edges, start, max(stop, start))
            if exact_counts is not None:
                counts = np.diff(exact_counts(clipped - start)).astype(np.int64)
                expected = counts * multiplier
                if multiplier != 1.0:
                    counts = whole * counts + rng.binomial(counts, fraction)
            else:
                if per_quantum is not None:
                    expected = per_quantum(clipped[:-1] - start, clipped[1:] - start)
                else:
                    expected = np.diff(cumulative(clipped - start))  # type: ignore[misc]
                expected = np.maximum(expected, 0.0)
                if random:
                    counts = rng.poisson(expected)
                else:
                    running = total + np.cumsum(expected)
                    floors = np.floor(running + 1e-9)
                    counts = np.diff(np.concatenate([[done], floors])).astype(np.int64)
                    total, done = float(running[-1]), float(floors[-1])
            yield counts.tolist(), expected.tolist()
            first += DRAW_BLOCK

    return ArrivalCounts(blocks(), evenly=not random or exact_counts is not None)


class ByteSums:
    """Total bytes of the next k messages: sums of size draws (plus the per-item overhead)."""

    def __init__(self, dist: Any, rng: np.random.Generator, base_dir: Any, overhead: float):
        self.overhead = overhead
        self.constant = float(dist.value) + overhead if isinstance(dist, _Constant) else None
        self.draw = None if self.constant is not None else draw_function(dist, rng, base_dir)
        self.prefix: list[float] = [0.0]
        self.position = 0

    def total(self, k: int) -> float:
        if self.constant is not None:
            return k * self.constant
        result = k * self.overhead
        while k > 0:
            available = len(self.prefix) - 1 - self.position
            if available == 0:
                block = self.draw(max(DRAW_BLOCK, k))  # type: ignore[misc]
                self.prefix = [0.0] + np.cumsum(block).tolist()
                self.position = 0
                continue
            take = min(k, available)
            result += self.prefix[self.position + take] - self.prefix[self.position]
            self.position += take
            k -= take
        return result


class WorkStream:
    """Service times of a group's items in the order workers take them, kept as prefix sums:
    `work(i)` is the service time of items 0 … i−1 together."""

    def __init__(self, draw: Callable[[int], np.ndarray]):
        self.draw = draw
        self.prefix: list[float] = [0.0]
        self.base = 0  # prefix[j] = work(base + j)

    def work(self, index: int) -> float:
        return self.prefix[index - self.base]

    def last_within(self, low: int, high: int, work: float) -> int:
        """The largest i in [low, high] with work(i) <= `work`. Service times are drawn only as far
        as this search needs, so a long queue does not cost a service time per item."""
        prefix = self.prefix
        while self.base + len(prefix) - 1 < high and prefix[-1] <= work:
            prefix.extend((prefix[-1] + np.cumsum(self.draw(DRAW_BLOCK))).tolist())
        top = min(high, self.base + len(prefix) - 1)
        return bisect_right(prefix, work, low - self.base, top - self.base + 1) - 1 + self.base

    def skip_to(self, index: int) -> None:
        """Items before `index` are gone (lost in a crash): make work(index) known."""
        prefix = self.prefix
        while self.base + len(prefix) - 1 < index:
            prefix.extend((prefix[-1] + np.cumsum(self.draw(DRAW_BLOCK))).tolist())

    def restart(self, index: int) -> None:
        """Continue with item `index`, forgetting every drawn service time (after counted service,
        which draws none: `renewal.ServiceCounts`)."""
        self.prefix = [0.0]
        self.base = index

    def forget_before(self, index: int) -> None:
        if index - self.base > 4 * DRAW_BLOCK:
            del self.prefix[: index - self.base]
            self.base = index
