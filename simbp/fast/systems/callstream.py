"""The call stage of calls that interact (`permits.py`): the permits' FIFO queue served call by call.

Given when each item reached the permit queue, the calls are an exact G/G/p queue: a call starts at
the later of its item's arrival and the first free permit, holds the permit for `min(latency ×
factor, timeout)`, and its latency factor and error probability come from the calls in flight at
the downstream at that instant (this group's exactly, other groups' as of their last step). One
Python step per call, with latencies and uniforms drawn in numpy blocks: the queue's per-call
state is what the overload law needs, and a calling service's calls are few next to its messages'
own events in exact mode (docs/performance.md).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
from typing import Any

from ...random import draw_function
from ...scenario.schema import ConsumerSpec, DownstreamSpec
from ..cohorts import Cohorts

__all__ = ["CallStage", "Call", "Retry"]

_BLOCK = 4096  # latencies and uniforms drawn at a time

Call = tuple[float, int, float, float, int, float, bool, bool]
"""A call in flight: (end, tie, created, bytes, attempt, latency at the downstream, error, timed out)."""

Retry = tuple[float, int, float, float, int]
"""A failed call to make again: (when its backoff ends, tie, created, bytes, attempt)."""


class CallStage:
    """`permits` permits serving the permit queue call by call (see the module docstring)."""

    def __init__(self, spec: ConsumerSpec, downstream: DownstreamSpec, rng: Any, base: Any, permits: int,
                 degrades: bool):
        assert spec.calls is not None
        self.permits = permits
        self.capacity = downstream.capacity
        self.slowdown = downstream.overload.slowdown
        self.error_rate = downstream.error_rate
        self.overload_error_rate = downstream.overload.error_rate
        self.max_error_rate = downstream.max_error_rate
        self.degrades = degrades and (self.slowdown > 0 or self.overload_error_rate > 0)
        self.errs = self.error_rate > 0 or (self.degrades and self.overload_error_rate > 0)
        self.timeout = spec.calls.timeout if spec.calls.timeout is not None else math.inf
        self.retries = spec.calls.retries
        self.backoff = spec.calls.backoff
        self._latency = draw_function(downstream.latency, rng, base)
        self._rng = rng
        self._latencies: list[float] = []
        self._uniforms: list[float] = []
        self.calls: list[Call] = []  # heap of calls in flight, by end
        self.bytes = 0.0
        self.tie = 0
        self.waits = 0
        self.wait_time = 0.0
        self.peak_in_use = 0
        self.peak_load = 0  # the most calls in flight at the downstream a start saw, itself included
        self.waiting: deque[tuple[float, float, float]] = deque()  # the queue's oldest items, one by one:
        self.waiting_bytes = 0.0  # (entered, created, bytes), taken from `queue` a cohort at a time
        self.full = False  # every permit busy with items waiting at the end of the last step
        self.held_time = 0.0  # permit-seconds of the calls started (booked whole at their start)

    def _draw_block(self) -> None:
        """Latencies at normal load, and uniforms for the calls' errors, for the next calls."""
        self._latencies = self._latency(_BLOCK).tolist()
        self._uniforms = self._rng.random(_BLOCK).tolist() if self.errs else [1.0] * _BLOCK

    def run(self, queue: Cohorts, retries: list[Retry], t0: float, t1: float, others: Callable[[float], int]) -> list[Call]:
        """Serve the permit queue from `t0` to `t1`: start calls as permits free up, in the order their
        items began to wait (first attempts in `queue`, retries in the heap `retries` once their backoff
        is over); the calls that ended by `t1`, in the order they ended (a failed one with retries left
        is pushed onto `retries` at once, due when its backoff ends)."""
        calls, items, waiting = self.calls, queue.items, self.waiting
        latencies, uniforms = self._latencies, self._uniforms
        permits, timeout, degrades, retry_limit, backoff = self.permits, self.timeout, self.degrades, self.retries, self.backoff
        pop, push = heapq.heappop, heapq.heappush
        watch = degrades or timeout < math.inf  # others' calls, and calls given up on, matter here
        ended: list[Call] = []
        inf = math.inf
        now = t0
        # when a permit last freed (a start then, later than its item's entry, waited for it); at the
        # step's start if the last step left items waiting with every permit busy
        freed = t0 if self.full else -inf
        while True:
            start = first = inf
            if len(calls) < permits:
                if not waiting and items:
                    self._expand(queue)
                if waiting:
                    first = waiting[0][0]
                start = first
                if retries and retries[0][0] < start:
                    start = retries[0][0]
                if start < now:
                    start = now
            end = calls[0][0] if calls else inf
            if end <= start and end <= t1:
                call = pop(calls)
                self.bytes -= call[3]
                if call[0] > now:
                    now = call[0]
                freed = now
                if (call[6] or call[7]) and call[4] < retry_limit:
                    self.tie += 1
                    push(retries, (call[0] + backoff, self.tie, call[2], call[3], call[4] + 1))
                ended.append(call)
                continue
            if start >= t1:
                self.full = bool(waiting or items or (retries and retries[0][0] < t1)) and len(calls) >= permits
                return ended
            if retries and retries[0][0] <= first:
                entered, _, created, nbytes, attempt = pop(retries)
                self.held_time += start - entered  # a retry waiting for its permit holds its worker
            else:
                entered, created, nbytes = waiting.popleft()
                self.waiting_bytes -= nbytes
                attempt = 0
            if start > entered + 1e-12 and start == freed:  # (not just behind an item that entered later)
                self.waits += 1
                self.wait_time += start - entered
            now = start
            if not latencies:
                self._draw_block()
                latencies, uniforms = self._latencies, self._uniforms
            latency, uniform = latencies.pop(), uniforms.pop()
            probability = self.error_rate
            load = len(calls) + 1 + others(start) if watch else len(calls) + 1  # in flight, itself included
            if load > self.peak_load:
                self.peak_load = load
            if degrades:
                excess = load - self.capacity
                if excess > 0:
                    latency *= 1.0 + self.slowdown * excess
                    probability = min(self.max_error_rate, probability + self.overload_error_rate * excess)
            self.tie += 1
            if latency <= timeout:
                push(calls, (start + latency, self.tie, created, nbytes, attempt, latency, uniform < probability, False))
                self.held_time += latency
            else:
                push(calls, (start + timeout, self.tie, created, nbytes, attempt, latency, uniform < probability, True))
                self.held_time += timeout
            self.bytes += nbytes
            if len(calls) > self.peak_in_use:
                self.peak_in_use = len(calls)

    def _expand(self, queue: Cohorts) -> None:
        """Take the queue's oldest cohort into `waiting`, item by item (spread evenly over its ranges)."""
        count, c_lo, c_hi, e_lo, e_hi, nbytes = queue.items[0]
        queue.pop(count)
        each, c_step, e_step = nbytes / count, (c_hi - c_lo) / count, (e_hi - e_lo) / count
        self.waiting.extend((e_lo + (i + 0.5) * e_step, c_lo + (i + 0.5) * c_step, each) for i in range(count))
        self.waiting_bytes += nbytes

    def clear(self) -> None:
        self.calls = []
        self.bytes = 0.0
        self.waiting.clear()
        self.waiting_bytes = 0.0
