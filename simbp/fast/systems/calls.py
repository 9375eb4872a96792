"""Downstream calls on counts, when the calls do not interact (docs/systems.md, `downstreams:`).

Exact mode's calling worker serves a message, calls the downstream, and retries failed calls after
a backoff; a call takes `latency × (1 + slowdown × excess)` and fails with a probability that grows
with the excess of calls in flight over the downstream's capacity, and a semaphore caps the calls
in flight. Without a semaphore and without overload terms (`slowdown` and `overload.error_rate`
0), calls do not interact: each message holds its worker for an independent time, its own service
plus each attempt's `min(latency, timeout)` plus the backoffs between attempts, and fails when its
last attempt fails. That is a service-time distribution, so fast mode serves it with the core's
pooled work (`FastGroup`): each item's holding time, its calls, errors, timeouts and outcome are
drawn together when its service time is drawn, and counted when it finishes.

A semaphore, or a downstream that degrades with the calls in flight, makes each call depend on the
others in flight at its start: `permits.py` steps those as a tandem inside the group.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

import numpy as np

from ...metrics import LatencySketch
from ...random import draw_function
from ...scenario.schema import ConsumerSpec, DownstreamSpec
from ..buffer import FastBuffer
from ..cohorts import Slice
from ..group import REPRESENTATIVES, FastGroup
from ..inputs import WorkStream

__all__ = ["CallOutcomes", "FastCallingGroup", "FastDownstream", "PROFILE_DRAWS", "concurrency", "mean_holding"]

PROFILE_DRAWS = 4096


def mean_holding(consumer: ConsumerSpec, scenario: Any) -> float:
    """Mean seconds a worker holds a message: its service, plus, for a consumer calling a downstream,
    its calls (each at most the timeout) and the backoffs between them (what quanta must resolve)."""
    mean = consumer.mean_service()
    calls = consumer.calls
    if calls is None:
        return mean
    downstream = next((d for d in scenario.downstreams if d.name == calls.downstream), None)
    if downstream is None:
        return mean
    latency = float(downstream.latency.mean)
    if calls.timeout is not None:
        latency = min(latency, calls.timeout)
    failing = min(1.0, downstream.error_rate)
    attempts = sum(failing ** n for n in range(calls.retries + 1))
    return mean + attempts * latency + (attempts - 1) * calls.backoff


def concurrency(consumer: ConsumerSpec) -> int:
    """Messages a consumer serves at once: its workers, or its semaphore's permits when fewer (the
    rate it can take items at is this over `mean_holding`)."""
    semaphore = consumer.calls.semaphore if consumer.calls is not None else None
    return min(consumer.workers, semaphore) if semaphore is not None else consumer.workers


class FastDownstream:
    """A downstream's counters, added to by the groups that call it as their items finish."""

    def __init__(self, spec: DownstreamSpec):
        self.spec = spec
        self.name = spec.name
        self.capacity = spec.capacity
        self.calls = 0
        self.errors = 0
        self.abandoned = 0
        self.call_seconds = 0.0  # downstream time of finished calls (the mean in flight's numerator)
        self.in_flight = 0.0  # calls in flight at the last sample (its interval's average)
        self.peak_in_flight = 0.0
        self.sketch = LatencySketch()
        self.slowdown = spec.overload.slowdown
        self.callers: list[Any] = []  # permit groups (`permits.py`) calling it: their calls in flight
        self.pooled = 0  # groups calling it whose calls are pooled work (`FastCallingGroup`)
        self.running: list[float] = []  # heap: when calls their callers gave up on (timeout) end here
        self._last_seconds = 0.0
        self._last_time = 0.0

    def others(self, group: Any) -> Callable[[float], int]:
        """For `group`'s calls: the calls in flight at an instant besides its own (other groups', as of
        their last step, and those whose caller gave up, until they end here)."""
        others = sum(g.in_flight() for g in self.callers if g is not group)
        running = self.running

        def at(now: float) -> int:
            while running and running[0] <= now:
                heapq.heappop(running)
            return others + len(running)
        return at

    def running_until(self, end: float) -> None:
        """A call its caller gave up on keeps the downstream busy until `end`."""
        heapq.heappush(self.running, end)

    def factor(self, in_flight: float) -> float:
        """A call's latency factor when it starts with `in_flight` calls (itself included)."""
        return 1.0 + self.slowdown * max(0.0, in_flight - self.capacity)

    def sample(self, now: float) -> float:
        """Calls in flight over the last interval, on average (what the time series shows)."""
        elapsed = now - self._last_time
        if elapsed > 0:
            self.in_flight = (self.call_seconds - self._last_seconds) / elapsed
            if self.pooled:
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        if self.callers and not self.pooled:  # callers stepped call by call: the count at this instant, as
            self.in_flight = float(sum(g.in_flight() for g in self.callers) + len(self.running))  # in exact mode
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight, *(float(g.calls.peak_load) for g in self.callers))
        self._last_seconds, self._last_time = self.call_seconds, now
        return self.in_flight


class CallOutcomes:
    """Per item, in the order workers take them: holding time drawn with the item's calls, kept as
    running totals so a finished range is counted in O(1) (calls, errors, timeouts, retries,
    failed, downstream seconds), and the calls' latencies for the downstream's sketch."""

    def __init__(self, spec: ConsumerSpec, downstream: DownstreamSpec, rng: np.random.Generator, base: Any):
        calls = spec.calls
        assert calls is not None and spec.service is not None
        self.service = draw_function(spec.service, rng, base)
        self.latency = draw_function(downstream.latency, rng, base)
        self.rng = rng
        self.error_rate = min(downstream.error_rate, downstream.max_error_rate)
        self.timeout = calls.timeout
        self.retries = calls.retries
        self.backoff = calls.backoff
        self.totals: list[np.ndarray] = []  # per block: cumulative [calls, errors, timeouts, failed, seconds, failed calls]
        self.latencies: list[np.ndarray] = []  # per block: each item's call latencies, flattened
        self.offsets: list[np.ndarray] = []  # per block: where each item's latencies start
        self.drawn = 0
        self.base = 0  # items before the first kept block

    def draw(self, n: int) -> np.ndarray:
        """Holding times of the next `n` items (and their outcomes, kept)."""
        held = self.service(n).astype(float)
        active = np.ones(n, dtype=bool)
        calls = np.zeros(n)
        errors = np.zeros(n)
        timeouts = np.zeros(n)
        fails_n = np.zeros(n)  # calls that failed, by error or time-out (one each, as exact mode counts)
        seconds = np.zeros(n)
        failed = np.zeros(n, dtype=bool)
        latencies, owners = [], []
        for attempt in range(self.retries + 1):
            index = np.flatnonzero(active)
            if not len(index):
                break
            latency = self.latency(len(index))
            slow = latency > self.timeout if self.timeout is not None else np.zeros(len(index), dtype=bool)
            error = (self.rng.random(len(index)) < self.error_rate) if self.error_rate > 0 else np.zeros(len(index), dtype=bool)
            fails = slow | error
            held[index] += np.minimum(latency, self.timeout) if self.timeout is not None else latency
            calls[index] += 1
            errors[index] += error
            timeouts[index] += slow
            fails_n[index] += fails
            seconds[index] += latency
            latencies.append(latency)
            owners.append(index)
            retry = fails & (attempt < self.retries)
            held[index[retry]] += self.backoff
            failed[index[fails & ~retry]] = True
            active[:] = False
            active[index[retry]] = True
        order = np.argsort(np.concatenate(owners), kind="stable") if owners else np.empty(0, dtype=np.int64)
        flat = np.concatenate(latencies)[order] if latencies else np.empty(0)
        per_item = np.bincount(np.concatenate(owners), minlength=n) if owners else np.zeros(n, dtype=np.int64)
        self.latencies.append(flat)
        self.offsets.append(np.concatenate(([0], np.cumsum(per_item))))
        self.totals.append(np.cumsum(np.stack([calls, errors, timeouts, failed.astype(float), seconds, fails_n]), axis=1))
        self.drawn += n
        return held

    def between(self, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """Totals [calls, errors, timeouts, failed, seconds, failed calls] of items first … last − 1, and their
        calls' latencies."""
        sums = np.zeros(6)
        pieces = []
        start = self.base
        for totals, offsets, flat in zip(self.totals, self.offsets, self.latencies):
            size = totals.shape[1]
            lo, hi = max(first - start, 0), min(last - start, size)
            if lo < hi:
                sums += totals[:, hi - 1] - (totals[:, lo - 1] if lo > 0 else 0.0)
                pieces.append(flat[offsets[lo]:offsets[hi]])
            start += size
        return sums, (np.concatenate(pieces) if pieces else np.empty(0))

    def failed_between(self, first: int, last: int) -> np.ndarray:
        """Whether each of items first … last − 1 failed (its last call erred or timed out)."""
        parts = []
        start = self.base
        for totals in self.totals:
            size = totals.shape[1]
            lo, hi = max(first - start, 0), min(last - start, size)
            if lo < hi:
                cumulative = totals[3]
                before = cumulative[lo - 1] if lo > 0 else 0.0
                parts.append(np.diff(cumulative[lo:hi], prepend=before) > 0.5)
            start += size
        return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)

    def forget_before(self, index: int) -> None:
        while self.totals and self.base + self.totals[0].shape[1] <= index:
            self.base += self.totals[0].shape[1]
            self.totals.pop(0)
            self.offsets.pop(0)
            self.latencies.pop(0)


class FastCallingGroup(FastGroup):
    """A consumer group whose messages each call a downstream that does not interact (see the
    module): the core's pooled work on holding times, with the calls counted as items finish."""

    def __init__(self, spec: ConsumerSpec, source: FastBuffer, on_latencies: Callable[[list[float], list[int]], None],
                 downstream: FastDownstream, outcomes: CallOutcomes, profile_rng: np.random.Generator, base: Any = None,
                 target: FastBuffer | None = None):
        work = WorkStream(outcomes.draw)
        profile = CallOutcomes(spec, downstream.spec, profile_rng, base).draw(PROFILE_DRAWS)
        # a forwarding group's calls cannot fail (`simbp.semantics`): every finished item is forwarded
        super().__init__(spec, source, target, work, on_latencies, profile)
        self.mean_service = float(np.mean(profile))  # what a worker holds a message for
        self.downstream = downstream
        downstream.pooled += 1
        self.outcomes = outcomes
        self.failed = 0
        self.call_errors = 0
        self.call_timeouts = 0
        self.call_retries_made = 0
        self._counted = 0  # items finished and counted

    def step(self, t0: float, t1: float, merge_within: float, arrived: int = 0) -> None:
        super().step(t0, t1, merge_within, arrived)
        finished = self.done
        if finished <= self._counted:
            return
        sums, latencies = self.outcomes.between(self._counted, finished)
        calls, errors, timeouts, failed, seconds, failed_calls = (float(x) for x in sums)
        items = finished - self._counted
        self._counted = finished
        self.failed += int(failed)  # a failed message is neither consumed nor processed
        self.consumed -= int(failed)
        self.processed -= int(failed)
        self.call_errors += int(failed_calls)  # an erroring call that also timed out counts once
        self.call_timeouts += int(timeouts)
        self.call_retries_made += int(calls) - items  # every message makes one first call
        downstream = self.downstream
        downstream.calls += int(calls)
        downstream.errors += int(errors)
        downstream.abandoned += int(timeouts)
        downstream.call_seconds += seconds
        if len(latencies):
            downstream.sketch.add_many(latencies.tolist())
        self.outcomes.forget_before(finished - 4096)

    def _record(self, slices: list[Slice], first: int, counted: bool = False) -> None:
        """As `FastGroup._record`, but a failed message is not consumed: its latency is left out (exact
        mode records only answered messages), the others' handed to the sketch as the means of up to
        `REPRESENTATIVES` groups of their sorted values per slice."""
        last = first + sum(piece[0] for piece in slices)
        failed = self.outcomes.failed_between(first, last)
        if not failed.any():
            super()._record(slices, first, counted)
            return
        base = self.work.base
        prefix = np.asarray(self.work.prefix[first - base:last - base + 1])
        position = 0
        for count, c_lo, c_hi, k_lo, k_hi, _ in slices:
            u = (np.arange(count) + 0.5) / count
            latency = (k_lo - c_lo) + u * ((k_hi - k_lo) - (c_hi - c_lo)) + np.diff(prefix[position:position + count + 1])
            kept = np.sort(latency[~failed[position:position + count]])
            for group in np.array_split(kept, min(len(kept), REPRESENTATIVES)) if len(kept) else ():
                self._values.append(float(group.mean()))
                self._weights.append(len(group))
            position += count
        if len(self._values) >= 1 << 13:
            self.flush_latencies()

    def lose_everything(self) -> None:
        super().lose_everything()
        self._counted = self.done
