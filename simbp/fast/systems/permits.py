"""Calls that interact, on counts: behind a semaphore, or to a downstream that degrades in overload.

Exact mode's calling worker (`simbp.exact.systems.downstream.CallingWorker`) holds its message
through three phases: its own `service`, a FIFO wait for one of the group's semaphore permits (a
semaphore is the group's own, never shared), and the call, which holds the permit only while it
runs (until the answer, or the caller's `timeout`); a failed call is retried after `backoff`
without a permit, and takes a permit again. A call starting with n calls in flight at the
downstream (every group's, itself included) takes `latency × (1 + slowdown × excess)` and fails
with `min(max_error_rate, error_rate + overload.error_rate × excess)`, excess = max(0, n − capacity).

On counts that is a tandem inside the group (`FastPermitGroup`), all of whose items hold a worker:

- the handler stage: up to the free workers take items from the buffer, each holding it for the
  mean service time (a message's own service noise is added to its recorded latency);
- the permit queue, FIFO cohorts, and the call stage: the core's pooled work (`FastGroup`) with
  `min(permits, workers)` servers, an item's work its call (`CallStream`: each call's latency and
  error drawn when it starts, from the calls in flight then: those at the step's start plus the
  step's earlier starts, less the finishes the previous step's ratio predicts);
- failed calls with retries left wait their backoff and join the permit queue again; attempt
  numbers ride along in a run-length FIFO (`AttemptTags`) parallel to the cohorts.

A worker freed by a call's end takes its next item in the next step (the stage is stepped handler
first, so items reaching the permit queue can start their call in the same step). Error bounds:
`simbp.fast.accuracy.PERMITS` and `OVERLOAD`, measured in docs/performance.md.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ...random import draw_function
from ...scenario.schema import ConsumerSpec, DownstreamSpec, _Constant
from ..buffer import FastBuffer
from ..cohorts import Cohorts, Slice
from ..group import REPRESENTATIVES, FastGroup
from .calls import PROFILE_DRAWS, FastDownstream, concurrency, mean_holding
from .callstream import CHUNK, AttemptTags, CallStream

__all__ = ["FastPermitGroup", "interacts", "overloadable", "step_equivalents",
           "STEPS_PER_QUANTUM", "STEPS_PER_CALL"]

KNEE = 0.5  # sub-step a degrading downstream's callers from this share of its capacity in flight (or waiting)
SUBSTEP = 0.25  # of the mean call latency: the sub-step there
MAX_SUBSTEPS = 64
STEPS_PER_QUANTUM = 18.0  # a permit group's quantum costs about 18 core steps (0.7 ms; measured, docs/performance.md)
STEPS_PER_CALL = 0.1  # and each call started in it about a tenth of one (4 µs)


def interacts(consumer: ConsumerSpec, downstream: DownstreamSpec, scenario: Any) -> bool:
    """Whether a calling consumer's calls depend on each other: a semaphore, or a downstream that
    degrades and that its callers can take over its capacity."""
    assert consumer.calls is not None
    return consumer.calls.semaphore is not None or overloadable(downstream, scenario)


def overloadable(downstream: DownstreamSpec, scenario: Any) -> bool:
    """Whether a downstream's overload terms can apply: it has some, and its callers together can
    have more calls in flight than its capacity (workers, or a semaphore's permits, each)."""
    if not (downstream.overload.slowdown > 0 or downstream.overload.error_rate > 0):
        return False
    callers = [c for c in scenario.consumers if c.calls is not None and c.calls.downstream == downstream.name]
    return sum(min(c.workers, c.calls.semaphore or c.workers) for c in callers) > downstream.capacity


def step_equivalents(scenario: Any, quantum: float, quanta: float) -> float:
    """Fast mode's cost of the permit groups in core quantum steps (`simbp.limits`): per quantum,
    `STEPS_PER_QUANTUM` plus `STEPS_PER_CALL` per call (at the mean rate into the group), times the
    sub-steps of a degrading downstream whose calls in flight reach `KNEE` of its capacity."""
    downstreams = {d.name: d for d in scenario.downstreams}
    total = 0.0
    for consumer in scenario.consumers:
        downstream = downstreams.get(consumer.calls.downstream) if consumer.calls is not None else None
        if downstream is None or not interacts(consumer, downstream, scenario):
            continue
        rate = sum(p.mean_rate(scenario.duration) for p in scenario.producers if p.to == consumer.from_)
        assert consumer.calls is not None
        rate *= scenario.load_multiplier * (1 + consumer.calls.retries * downstream.error_rate)
        latency = float(downstream.latency.mean)
        parts = 1
        if overloadable(downstream, scenario):
            if min(rate * latency, consumer.workers) >= KNEE * downstream.capacity and latency > 0:
                parts = min(MAX_SUBSTEPS, math.ceil(quantum / (SUBSTEP * latency) - 1e-9))
        total += quanta * (parts * STEPS_PER_QUANTUM + rate * quantum * STEPS_PER_CALL)
    return total


class _PermitQueue:
    """The items waiting for a permit: what the call stage's `FastGroup` reads as its source."""

    def __init__(self, name: str):
        self.name = name
        self.queue = Cohorts()
        self.taken = 0


class _CallStage(FastGroup):
    """Pooled work of the permits on the calls; finished calls go to the owner (`_finished`), and
    each start's wait for its permit is counted (the semaphore's `waits`, `mean_wait_s`)."""

    owner: FastPermitGroup

    def _record(self, slices: list[Slice], first: int, counted: bool = False) -> None:
        self.owner._finished(slices, first)

    def _take(self, takes: int, immediate: int, t0: float, t1: float, merge_within: float) -> None:
        queue, in_service, owner = self.source.queue, self.in_service, self.owner
        later = takes - immediate
        step = (t1 - t0) / later if later else 0.0
        position = 0
        pieces = [(s, True) for s in queue.pop(immediate)] + [(s, False) for s in queue.pop(later)]
        for (count, c_lo, c_hi, e_lo, e_hi, nbytes), now in pieces:
            if now:
                lo, hi = max(t0, e_lo), max(t0, e_hi)
            else:
                lo, hi = max(t0 + step * position, e_lo), max(t0 + step * (position + count), e_hi)
                position += count
            tail = in_service.items[-1] if in_service.items else None
            older = tail is not None and c_lo < tail[1]  # a retry: keeps its own creation time
            in_service.push(count, c_lo, c_hi, lo, hi, nbytes, -math.inf if older else merge_within)
            first, last = lo - e_lo, hi - e_hi  # the wait of the slice's first and last item
            if first > 1e-12 or last > 1e-12:
                waited = count if min(first, last) > 1e-12 else count * max(first, last) / (abs(first - last) or 1.0)
                owner.waits += min(count, max(1, round(waited)))
                owner.wait_time += count * max(0.5 * (first + last), 0.0)
        self.source.taken += takes
        self.taken += takes


class FastPermitGroup:
    """A consumer group whose calls interact (see the module docstring): handler stage, permit
    queue and call stage, every item holding one of the group's workers."""

    def __init__(self, spec: ConsumerSpec, source: FastBuffer, on_latencies: Callable[[list[float], list[int]], None],
                 downstream: FastDownstream, rng: np.random.Generator, profile_rng: np.random.Generator, base: Any = None,
                 degrades: bool = True):
        calls = spec.calls
        assert calls is not None and spec.service is not None
        self.spec = spec
        self.name = spec.name
        self.source = source
        self.target: FastBuffer | None = None
        self.sink = True
        self.workers = range(spec.workers)
        self.worker_count = spec.workers
        self.count = concurrency(spec)  # what the buffer sees take its items at most (`FastModel._substeps`)
        self.permits = calls.semaphore
        self.retries = calls.retries
        self.backoff = calls.backoff
        self.downstream = downstream
        self.mean_service = mean_holding(spec, _Scenario(downstream.spec))  # what a worker holds a message for
        self.own_mean = spec.mean_service()
        self._own = draw_function(spec.service, rng, base)
        self._own_noise = not isinstance(spec.service, _Constant)
        self._noise: list[float] = []
        self.handling = Cohorts()  # items in their own service; `entered` = when a worker took them
        self.queue = _PermitQueue(f"{spec.name}/permits")
        self.stream = CallStream(spec, downstream.spec, rng, base, degrades)
        profile = draw_function(downstream.spec.latency, profile_rng, base)(PROFILE_DRAWS)
        if calls.timeout is not None:
            profile = np.minimum(profile, calls.timeout)
        stage = _CallStage(spec, self.queue, None, self.stream, self._latencies, profile)  # type: ignore[arg-type]
        stage.owner = self
        stage.count = min(self.permits or spec.workers, spec.workers)
        stage.workers = range(stage.count)
        stage.mean_service = float(np.mean(profile)) if len(profile) else 0.0
        stage._profile = np.sort(profile) if stage.mean_service > 0 else np.array([0.0])
        self._base_call = stage.mean_service
        self.calls = stage
        self.tags = AttemptTags()
        self.backing_off: list[tuple[float, int, float, float, int]] = []  # heap: (ready, tie, created, bytes, attempt)
        self._tie = 0
        self.blocked = Cohorts()  # never holds items for a full target (a sink)
        self.processed = self.consumed = self.forwarded = self.timed_out = self.lost_in_crash = 0
        self.failed = self.call_errors = self.call_timeouts = self.call_retries_made = 0
        self.waits = 0
        self.wait_time = 0.0
        self.peak_in_use = 0
        self.busy_time = 0.0
        self.blocked_time = 0.0
        self.batches = 0
        self._started = self._finishes = 0
        self._values: list[float] = []
        self._weights: list[int] = []
        self._step = (0.0, 0.0)
        self._call_latencies: list[float] = []  # for the downstream's sketch, handed over in `flush_latencies`
        self._on_latencies = on_latencies
        downstream.callers.append(self)

    # ------------------------------------------------------------------ what the model reads
    @property
    def in_service(self) -> _Held:
        return _Held(self)

    def backing_off_count(self) -> int:
        return len(self.backing_off)

    def held_items(self) -> int:
        return self.handling.count + self.queue.queue.count + self.calls.in_service.count + len(self.backing_off)

    def held_bytes(self) -> float:
        return (self.handling.bytes + self.queue.queue.bytes + self.calls.in_service.bytes
                + sum(entry[3] for entry in self.backing_off))

    def busy_seconds(self, now: float) -> float:
        return self.busy_time

    def blocked_seconds(self, now: float) -> float:
        return 0.0

    def waiting_for_permit(self) -> int:
        return self.queue.queue.count

    def flush_latencies(self) -> None:
        if self._call_latencies:
            self.downstream.sketch.add_many(self._call_latencies)
            self._call_latencies = []
        if self._values:
            self._on_latencies(self._values, self._weights)
            self._values, self._weights = [], []

    def _latencies(self, values: list[float], weights: list[int]) -> None:
        self._values.extend(values)
        self._weights.extend(weights)

    def lose_everything(self) -> None:
        """A crash: every item held is lost; the semaphore comes back with all its permits."""
        self.lost_in_crash += self.held_items()
        self.handling.clear()
        self.queue.queue.clear()
        self.tags.clear()
        self.backing_off = []
        calls = self.calls
        calls.in_service.clear()
        calls.done = calls.taken
        self.stream.cover(calls.taken)
        calls.carry = 0.0

    # ------------------------------------------------------------------ one step
    def step(self, t0: float, t1: float, merge_within: float, arrived: int = 0) -> None:
        """One quantum: in sub-steps of a quarter call when the downstream degrades and its calls in
        flight are near its capacity (each call's load is read at its sub-step's start)."""
        parts = 1
        if self.stream.degrades:
            near = self.downstream.in_flight_at(t0) + self.queue.queue.count + self.handling.count
            if near >= KNEE * self.downstream.capacity and self._base_call > 0:
                parts = min(MAX_SUBSTEPS, math.ceil((t1 - t0) / (SUBSTEP * self._base_call) - 1e-9))
        if parts == 1:
            self._advance(t0, t1, merge_within, math.inf)
            return
        for part in range(parts):
            s0, s1 = t0 + (t1 - t0) * part / parts, (t1 if part == parts - 1 else t0 + (t1 - t0) * (part + 1) / parts)
            self._advance(s0, s1, merge_within, s1)

    def _advance(self, t0: float, t1: float, merge_within: float, until: float) -> None:
        """Handler stage, retries due, then the call stage (see the module docstring), taking from the
        buffer only what arrived by `until`."""
        held = self.held_items()
        before, busy = self.handling.count + self.queue.queue.count, self.calls.busy_time
        self._step = (t0, t1)
        entered = self._handle(t0, t1, merge_within, min(self.worker_count - held, _arrived_by(self.source.queue, until)))
        entered += self._retries_due(t1, merge_within)
        calls, stream = self.calls, self.stream
        starts, finishes = self._started, self._finishes
        drift = 1.0 - finishes / starts if starts else 1.0
        in_flight = self.downstream.in_flight_at(t0)
        # a start behind a semaphore sees at most its permits in flight of this group's calls
        most = in_flight - calls.in_service.count + calls.count if self.permits is not None else math.inf
        stream.begin(calls.taken, in_flight, max(-1.0, min(1.0, drift)), most)
        if stream.degrades:
            calls.mean_service = self._base_call * self.downstream.factor(min(in_flight + 1, most))
        taken, done = calls.taken, calls.done
        if calls.in_service.count or self.queue.queue.count:
            calls.step(t0, t1, merge_within, entered)
        stream.cover(calls.taken)
        stream.discard_from(calls.taken)
        self._started, self._finishes = calls.taken - taken, calls.done - done
        stream.chunk = max(CHUNK, self._started + self._started // 4)
        if self._finishes and self.source.queue.count:  # workers freed by the calls that ended take again
            self._take_freed(t0, t1, merge_within, min(self.worker_count - self.held_items(), _arrived_by(self.source.queue, until)))
        # permits in use: all of them while calls wait for one
        in_use = calls.count if self.queue.queue.count else calls.in_service.count
        self.peak_in_use = max(self.peak_in_use, min(in_use, calls.count))
        # workers holding messages: those in their own service, waiting for a permit or backing off,
        # and those in a call, which is the permits' work (pooled work's FIFO keeps short calls behind
        # long ones in service longer than they run)
        # (a failed call's backoff is booked whole when it starts: pooled work may end its call early)
        outside = self.handling.count + self.queue.queue.count
        self.busy_time += 0.5 * (before + outside) * (t1 - t0) + calls.busy_time - busy

    def _handle(self, t0: float, t1: float, merge_within: float, free: int) -> int:
        """Items whose own service ends by `t1` join the permit queue; free workers take new ones."""
        entered = 0
        cutoff = t1 - self.own_mean
        handling = self.handling
        ready = 0
        for count, _, _, e_lo, e_hi, _ in handling.items:
            if e_hi <= cutoff:
                ready += count
                continue
            if e_lo < cutoff:
                ready += int(count * (cutoff - e_lo) / (e_hi - e_lo))
            break
        for count, c_lo, c_hi, e_lo, e_hi, nbytes in handling.pop(ready) if ready else ():
            entered += self._enqueue(count, c_lo, c_hi, e_lo + self.own_mean, e_hi + self.own_mean, nbytes, merge_within, 0)
        takes = min(self.source.queue.count, max(free, 0))
        if takes:
            for count, c_lo, c_hi, e_lo, e_hi, nbytes in self.source.queue.pop(takes):
                lo, hi = max(t0, e_lo), max(t0, e_hi)
                done = count if hi <= cutoff else 0 if lo >= cutoff else int(count * (cutoff - lo) / (hi - lo))
                if done:
                    f = done / count
                    c_cut, e_cut, b_cut = c_lo + f * (c_hi - c_lo), lo + f * (hi - lo), nbytes * f
                    entered += self._enqueue(done, c_lo, c_cut, lo + self.own_mean, e_cut + self.own_mean, b_cut,
                                             merge_within, 0)
                    count, c_lo, lo, nbytes = count - done, c_cut, e_cut, nbytes - b_cut
                handling.push(count, c_lo, c_hi, lo, hi, nbytes, merge_within)
            self.source.taken += takes
        return entered

    def _take_freed(self, t0: float, t1: float, merge_within: float, free: int) -> None:
        """Workers freed during the step take waiting items as they free up (spread over the step);
        those reach the permit queue by the next step."""
        takes = min(self.source.queue.count, max(free, 0))
        if not takes:
            return
        step = (t1 - t0) / takes
        position = 0
        for count, c_lo, c_hi, e_lo, e_hi, nbytes in self.source.queue.pop(takes):
            lo, hi = max(t0 + step * position, e_lo), max(t0 + step * (position + count), e_hi)
            self.handling.push(count, c_lo, c_hi, lo, hi, nbytes, merge_within)
            position += count
        self.source.taken += takes

    def _enqueue(self, count: int, c_lo: float, c_hi: float, e_lo: float, e_hi: float, nbytes: float,
                 merge_within: float, attempt: int) -> int:
        self.queue.queue.push(count, c_lo, c_hi, e_lo, e_hi, nbytes, merge_within)
        if self.retries:
            self.tags.push(count, attempt)
        return count

    def _retries_due(self, t1: float, merge_within: float) -> int:
        """Failed calls whose backoff has passed by `t1` join the permit queue again."""
        entered = 0
        heap = self.backing_off
        while heap and heap[0][0] <= t1:
            ready, _, created, nbytes, attempt = heapq.heappop(heap)
            # a retry keeps its own creation time: never merged into a cohort of younger items
            entered += self._enqueue(1, created, created, ready, ready, nbytes, -math.inf, attempt)
        return entered

    def _finished(self, slices: list[Slice], first: int) -> None:
        """Calls finished: answered (consumed, latency recorded), failed with retries left (backoff),
        or failed on the last attempt (`failed`); the downstream's counters."""
        stream = self.stream
        n = sum(s[0] for s in slices)
        lo, hi = first - stream.base, first - stream.base + n
        holding = np.diff(np.asarray(stream.prefix[lo:hi + 1]))
        latency = np.asarray(stream.latencies[lo:hi])
        error = np.asarray(stream.errors[lo:hi], dtype=bool)
        timeout = np.asarray(stream.timeouts[lo:hi], dtype=bool)
        fails = error | timeout
        attempts = self.tags.pop(n) if self.retries else np.zeros(n, dtype=np.int64)
        retry = fails & (attempts < self.retries)
        downstream = self.downstream
        downstream.calls += n
        downstream.call_seconds += float(latency.sum())
        self._call_latencies.extend(latency.tolist())
        failing = int(fails.sum())
        answered = n - failing
        self.processed += answered
        self.consumed += answered
        if failing:
            timeouts, retried = int(timeout.sum()), int(retry.sum())
            downstream.errors += int(error.sum())
            downstream.abandoned += timeouts
            self.call_errors += failing
            self.call_timeouts += timeouts
            self.failed += failing - retried
        if self.retries:
            self.call_retries_made += int(np.count_nonzero(attempts))
        # each item's take (permit) and creation time, spread evenly over its slice's ranges
        table = np.asarray(slices, dtype=float)
        counts = table[:, 0].astype(np.int64)
        offsets = np.repeat(np.cumsum(counts) - counts, counts)
        u = (np.arange(n) - offsets + 0.5) / np.repeat(table[:, 0], counts)
        starts = np.repeat(table[:, 3], counts) + u * np.repeat(table[:, 4] - table[:, 3], counts)
        created = np.repeat(table[:, 1], counts) + u * np.repeat(table[:, 2] - table[:, 1], counts)
        ok = ~fails
        self._record((starts - created + holding)[ok] if failing else starts - created + holding)
        if failing:
            for end in (starts + latency)[timeout]:
                downstream.running_until(float(end))
            each = np.repeat(table[:, 5] / table[:, 0], counts)
            # its call ends at its start + holding (pooled work may count it finished sooner or later)
            ends = np.maximum(starts + holding, self._step[0])
            for i in np.flatnonzero(retry):
                self._tie += 1
                self.busy_time += self.backoff
                heapq.heappush(self.backing_off, (float(ends[i] + self.backoff), self._tie,
                                                  float(created[i]), float(each[i]), int(attempts[i]) + 1))
        stream.forget_before(first + n)

    def _record(self, values: np.ndarray) -> None:
        """Latencies of answered messages, `REPRESENTATIVES` of them a step, weighted, with the own
        service's noise."""
        if not len(values):
            return
        if len(values) <= REPRESENTATIVES:
            picked, weights = values, [1] * len(values)
        else:
            edges = (np.arange(REPRESENTATIVES + 1) * len(values)) // REPRESENTATIVES
            picked, weights = values[(edges[:-1] + edges[1:]) // 2], np.diff(edges).tolist()
        if self._own_noise:
            if len(self._noise) < len(picked):
                self._noise.extend((self._own(4096) - self.own_mean).tolist())
            picked = picked + np.asarray([self._noise.pop() for _ in range(len(picked))])
        self._values.extend(np.maximum(picked, 0.0).tolist())
        self._weights.extend(weights)


def _arrived_by(queue: Cohorts, until: float) -> int:
    """Items of `queue` that entered it by `until` (all of them when `until` is infinite)."""
    if until == math.inf:
        return queue.count
    total = 0
    for count, _, _, e_lo, e_hi, _ in queue.items:
        if e_hi <= until:
            total += count
            continue
        if e_lo < until:
            total += int(count * (until - e_lo) / (e_hi - e_lo))
        break
    return total


class _Held:
    """The items a permit group holds, as the model's memory reads them (`count`, `bytes`)."""

    __slots__ = ("group",)

    def __init__(self, group: FastPermitGroup):
        self.group = group

    @property
    def count(self) -> int:
        return self.group.held_items()

    @property
    def bytes(self) -> float:
        return self.group.held_bytes()


class _Scenario:
    """The one downstream `mean_holding` needs to see."""

    def __init__(self, downstream: DownstreamSpec):
        self.downstreams = [downstream]
