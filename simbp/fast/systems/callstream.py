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
        self.full = False  # every permit busy with items waiting at the end of the last step
        self.held_time = 0.0  # permit-seconds of the calls started (booked whole at their start)

    def draw(self) -> tuple[float, float]:
        """A call's latency at normal load and a uniform for its error."""
        if not self._latencies:
            self._latencies = self._latency(_BLOCK).tolist()
            self._uniforms = self._rng.random(_BLOCK).tolist() if self.errs else [1.0] * _BLOCK
        return self._latencies.pop(), self._uniforms.pop()

    def run(self, queue: Cohorts, retries: list[Retry], t0: float, t1: float, others: Callable[[float], int],
            ended: Callable[[Call], None]) -> None:
        """Serve the permit queue from `t0` to `t1`: start calls as permits free up, in the order their
        items began to wait (first attempts in `queue`, retries in the heap `retries` once their backoff
        is over), and hand each call that ends by `t1` to `ended` (in the order they end; it may push
        retries)."""
        calls, items = self.calls, queue.items
        now = t0
        # when a permit last freed (a start then, later than its item's entry, waited for it); at the
        # step's start if the last step left items waiting with every permit busy
        freed = t0 if self.full else -math.inf
        while True:
            start = first = math.inf
            if len(calls) < self.permits:
                if items:
                    head = items[0]
                    first = head[3] + (head[4] - head[3]) / (2 * head[0])  # its first item's entry
                again = retries[0][0] if retries else math.inf
                start = max(now, min(first, again))
            end = calls[0][0] if calls else math.inf
            if end <= start and end <= t1:
                call = heapq.heappop(calls)
                self.bytes -= call[3]
                now = freed = max(now, call[0])
                ended(call)
                continue
            if start >= t1:
                self.full = bool(items or (retries and retries[0][0] < t1)) and len(calls) >= self.permits
                return
            if retries and retries[0][0] <= first:
                entered, _, created, nbytes, attempt = heapq.heappop(retries)
                self.held_time += start - entered  # a retry waiting for its permit holds its worker
            else:
                (_, c_lo, c_cut, e_lo, e_cut, nbytes), = queue.pop(1)
                entered, created, attempt = 0.5 * (e_lo + e_cut), 0.5 * (c_lo + c_cut), 0
            if start > entered + 1e-12 and start == freed:  # (not just behind an item that entered later)
                self.waits += 1
                self.wait_time += start - entered
            now = start
            latency, uniform = self.draw()
            probability = self.error_rate
            if self.degrades:
                excess = len(calls) + 1 + others(start) - self.capacity
                if excess > 0:
                    latency *= 1.0 + self.slowdown * excess
                    probability = min(self.max_error_rate, probability + self.overload_error_rate * excess)
            hold = latency if latency <= self.timeout else self.timeout
            self.tie += 1
            heapq.heappush(calls, (start + hold, self.tie, created, nbytes, attempt, latency, uniform < probability,
                                   latency > self.timeout))
            self.bytes += nbytes
            self.held_time += hold
            if len(calls) > self.peak_in_use:
                self.peak_in_use = len(calls)

    def clear(self) -> None:
        self.calls = []
        self.bytes = 0.0
