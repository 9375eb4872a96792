"""Calls that interact in fast mode: behind a semaphore, or to a downstream that degrades in overload.

Exact mode's calling worker (`simbp.exact.systems.downstream.CallingWorker`) holds its message
through three phases: its own `service`, a FIFO wait for one of the group's semaphore permits (a
semaphore is the group's own, never shared), and the call, which holds the permit only while it
runs (until the answer, or the caller's `timeout`); a failed call is retried after `backoff`
without a permit, and takes a permit again. A call starting with n calls in flight at the
downstream (every group's, itself included) takes `latency × (1 + slowdown × excess)` and fails
with `min(max_error_rate, error_rate + overload.error_rate × excess)`, excess = max(0, n − capacity).

Fast mode steps it as a tandem inside the group (`FastPermitGroup`), all of whose items hold one of
its workers:

- the handler stage, on counts: up to the free workers take items from the buffer (FIFO cohorts),
  each holding it for the mean service time (a message's own service noise is added to its
  recorded latency);
- the permit queue (cohorts of first attempts) and the call stage, call by call
  (`callstream.CallStage`): a G/G/p queue whose calls read the calls in flight when they start, so
  the overload law is applied as exact mode applies it;
- failed calls with retries left wait their backoff, then for a permit again, in the order they
  began to wait among the first attempts.

A worker freed by a call's end takes its next item from the buffer within the step, spread over
it. The cost is a Python step per call (no quantum needs to resolve the call latency), so fast mode
gains over exact mode by leaving out the messages' other events. Error bounds:
`simbp.fast.accuracy.PERMIT_WAITS` and `OVERLOAD`, measured in docs/performance.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...random import draw_function
from ...scenario.schema import ConsumerSpec, DownstreamSpec, _Constant
from ..buffer import FastBuffer
from ..cohorts import Cohorts
from .calls import FastDownstream, concurrency, mean_holding
from .callstream import Call, CallStage, Retry
from .sink import SinkGroup

__all__ = ["FastPermitGroup", "interacts", "overloadable", "step_equivalents",
           "STEPS_PER_QUANTUM", "STEPS_PER_CALL"]

STEPS_PER_QUANTUM = 3.0  # a permit group's quantum costs about 3 core steps (measured, docs/performance.md)
STEPS_PER_CALL = 0.1  # and each call about a tenth of one (4 µs: a Python step per call)


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


def step_equivalents(scenario: Any, quanta: float) -> float:
    """Fast mode's cost of the permit groups in core quantum steps (`simbp.limits`): per quantum,
    `STEPS_PER_QUANTUM`, and `STEPS_PER_CALL` per call (at the mean rate into the group, retries
    included)."""
    downstreams = {d.name: d for d in scenario.downstreams}
    total = 0.0
    for consumer in scenario.consumers:
        downstream = downstreams.get(consumer.calls.downstream) if consumer.calls is not None else None
        if downstream is None or consumer.calls is None or not interacts(consumer, downstream, scenario):
            continue
        rate = sum(p.mean_rate(scenario.duration) for p in scenario.producers if p.to == consumer.from_)
        rate *= scenario.load_multiplier * (1 + consumer.calls.retries * downstream.error_rate)
        total += quanta * STEPS_PER_QUANTUM + rate * scenario.duration * STEPS_PER_CALL
    return total


class FastPermitGroup(SinkGroup):
    """A consumer group whose calls interact (see the module docstring): handler stage, permit
    queue and call stage, every item holding one of the group's workers."""

    def __init__(self, spec: ConsumerSpec, source: FastBuffer, on_latencies: Callable[[list[float], list[int]], None],
                 downstream: FastDownstream, rng: np.random.Generator, base: Any = None, degrades: bool = True):
        calls = spec.calls
        assert calls is not None and spec.service is not None
        self._start_sink(spec, source, concurrency(spec), on_latencies)
        self.worker_count = spec.workers
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
        self.queue = Cohorts()  # items waiting for a permit; `entered` = when they began to wait
        self.calls = CallStage(spec, downstream.spec, rng, base, concurrency(spec), degrades)
        self.backing_off: list[Retry] = []  # heap of failed calls to make again, by when their backoff ends
        self.blocked = Cohorts()  # never holds items for a full target (a sink)
        self.failed = self.call_errors = self.call_timeouts = self.call_retries_made = 0
        self._call_latencies: list[float] = []  # for the downstream's sketch, handed over in `flush_latencies`
        self._t1 = 0.0
        self._ended = 0  # calls ended this step that freed their worker (answered, or failed for good)
        downstream.callers.append(self)

    # ------------------------------------------------------------------ what the model reads
    @property
    def in_service(self) -> _Held:
        return _Held(self)

    @property
    def waits(self) -> int:
        return self.calls.waits

    @property
    def wait_time(self) -> float:
        return self.calls.wait_time

    @property
    def peak_in_use(self) -> int:
        return self.calls.peak_in_use

    def in_flight(self) -> int:
        """This group's calls in flight."""
        return len(self.calls.calls)

    def held_items(self) -> int:
        return self.handling.count + self.queue.count + len(self.calls.waiting) + len(self.calls.calls) + len(self.backing_off)

    def held_bytes(self) -> float:
        return (self.handling.bytes + self.queue.bytes + self.calls.waiting_bytes + self.calls.bytes
                + sum(entry[3] for entry in self.backing_off))

    def busy_seconds(self, now: float) -> float:
        return self.busy_time

    def blocked_seconds(self, now: float) -> float:
        return 0.0

    def waiting_for_permit(self) -> int:
        return self.queue.count + len(self.calls.waiting) + sum(1 for retry in self.backing_off if retry[0] <= self._t1)

    def flush_latencies(self) -> None:
        if self._call_latencies:
            self.downstream.sketch.add_many(self._call_latencies)
            self._call_latencies = []
        if self._values:
            self._on_latencies(self._values, self._weights)
            self._values, self._weights = [], []

    def lose_everything(self) -> None:
        """A crash: every item held is lost; the semaphore comes back with all its permits."""
        self.lost_in_crash += self.held_items()
        self.handling.clear()
        self.queue.clear()
        self.backing_off = []
        self.calls.clear()

    # ------------------------------------------------------------------ one step
    def step(self, t0: float, t1: float, merge_within: float, arrived: int = 0) -> None:
        """Handler stage, retries due, the calls; then workers freed by calls take new items."""
        before = self.handling.count + self.queue.count + len(self.calls.waiting)
        self._t1 = t1
        self._handle(t0, t1, merge_within, self.worker_count - self.held_items())
        self._ended = 0
        self._count(self.calls.run(self.queue, self.backing_off, t0, t1, self.downstream.others(self)))
        if self._ended and self.source.queue.count:
            self._take_freed(t0, t1, merge_within, self.worker_count - self.held_items())
        # workers holding messages: in their own service or waiting for a permit (counted at the step's
        # ends), in a call (each booked whole when it starts) or backing off (booked when it fails)
        held_time = self.calls.held_time
        self.calls.held_time = 0.0
        after = self.handling.count + self.queue.count + len(self.calls.waiting)
        self.busy_time += 0.5 * (before + after) * (t1 - t0) + held_time

    def _handle(self, t0: float, t1: float, merge_within: float, free: int) -> None:
        """Items whose own service ends by `t1` join the permit queue; free workers take new ones."""
        cutoff = t1 - self.own_mean
        handling = self.handling
        ready = 0
        for count, _, _, e_lo, e_hi, _ in handling.items:
            if e_hi <= cutoff:
                ready += count
                continue
            if e_lo < cutoff:  # the items whose (evenly spread) entries are due by the cutoff
                ready += min(count, int(count * (cutoff - e_lo) / (e_hi - e_lo) + 0.5))
            break
        for count, c_lo, c_hi, e_lo, e_hi, nbytes in handling.pop(ready) if ready else ():
            self._enqueue(count, c_lo, c_hi, e_lo + self.own_mean, e_hi + self.own_mean, nbytes, merge_within)
        takes = min(self.source.queue.count, max(free, 0))
        if takes:
            for count, c_lo, c_hi, e_lo, e_hi, nbytes in self.source.queue.pop(takes):
                lo, hi = max(t0, e_lo), max(t0, e_hi)
                done = count if hi <= cutoff else 0 if lo >= cutoff else min(count, int(count * (cutoff - lo) / (hi - lo) + 0.5))
                if done:
                    f = done / count
                    c_cut, e_cut, b_cut = c_lo + f * (c_hi - c_lo), lo + f * (hi - lo), nbytes * f
                    self._enqueue(done, c_lo, c_cut, lo + self.own_mean, e_cut + self.own_mean, b_cut, merge_within)
                    count, c_lo, lo, nbytes = count - done, c_cut, e_cut, nbytes - b_cut
                handling.push(count, c_lo, c_hi, lo, hi, nbytes, merge_within)
            self.source.taken += takes

    def _take_freed(self, t0: float, t1: float, merge_within: float, free: int) -> None:
        """Workers freed by calls that ended during the step take waiting items (spread over the
        step); those reach the permit queue by the next step."""
        takes = min(self.source.queue.count, max(free, 0), self._ended)
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
                 merge_within: float) -> None:
        self.queue.push(count, c_lo, c_hi, e_lo, e_hi, nbytes, merge_within)

    def _count(self, ended: list[Call]) -> None:
        """Calls that ended: answered (the message consumed, its latency recorded), failed with retries
        left (already waiting out their backoff), or failed for good (`failed`); the downstream's counters."""
        if not ended:
            return
        downstream, values, noise = self.downstream, self._values, self._own_noise
        latencies = self._call_latencies
        answered = 0
        for end, _, created, _, attempt, latency, error, timed_out in ended:
            latencies.append(latency)
            if attempt:
                self.call_retries_made += 1
            if not (error or timed_out):
                answered += 1
                value = end - created + self._noise_draw() if noise else end - created
                values.append(value if value > 0 else 0.0)
                continue
            self.call_errors += 1
            if error:
                downstream.errors += 1
            if timed_out:
                downstream.abandoned += 1
                self.call_timeouts += 1
                downstream.running_until(end - self.calls.timeout + latency)
            if attempt < self.retries:
                self.busy_time += self.backoff
            else:
                self.failed += 1
                self._ended += 1
        downstream.calls += len(ended)
        downstream.call_seconds += sum(latencies[-len(ended):])
        self.processed += answered
        self.consumed += answered
        self._ended += answered
        self._weights.extend([1] * answered)
        if len(values) >= 8192 or len(latencies) >= 8192:
            self.flush_latencies()

    def _noise_draw(self) -> float:
        """A message's own service time less its mean (the handler stage holds each for the mean)."""
        if not self._noise:
            self._noise = (self._own(4096) - self.own_mean).tolist()
        return float(self._noise.pop())


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
