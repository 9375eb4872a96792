"""Downstream dependencies: a service consumers call (a database, an HTTP API), and a semaphore.

The downstream serves `capacity` concurrent calls at its normal latency. A call that starts while
n calls are in flight (itself included) takes `latency × (1 + slowdown × max(0, n − capacity))` and
fails with probability `min(max_error_rate, error_rate + overload_error_rate × max(0, n − capacity))`;
its answer (result or error) comes back after that latency. When `slowdown × capacity > 1`, more
concurrency lowers the downstream's throughput: the congestion collapse a semaphore prevents.

A `Semaphore(n)` (as async-mutex's) lets at most n calls of a consumer group be in flight; the
others wait in FIFO order, holding their message. A caller's `timeout` gives up on a slow call (an
error for the caller) while the downstream goes on working on it until its latency has passed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...metrics import LatencySketch
from ..clock import NORMAL, Timer, after
from ..consumer import WorkerGroup

if TYPE_CHECKING:
    import simpy

    from ...scenario.systems import DownstreamSpec

__all__ = ["Downstream", "Semaphore", "CallingGroup", "CallingWorker"]


class Downstream:
    """A called service: calls in flight, their latency and errors (see the module docstring)."""

    def __init__(self, env: "simpy.Environment", spec: "DownstreamSpec", latencies: Iterator[float], uniforms: Iterator[float]):
        self.env = env
        self.spec = spec
        self.name = spec.name
        self.capacity = spec.capacity
        self.slowdown = spec.overload.slowdown
        self.error_rate = spec.error_rate
        self.overload_error_rate = spec.overload.error_rate
        self.max_error_rate = spec.max_error_rate
        self.latencies = latencies
        self.uniforms = uniforms
        self.in_flight = 0
        self.peak_in_flight = 0
        self.calls = 0
        self.errors = 0
        self.abandoned = 0  # calls whose caller had timed out before the answer came
        self.sketch = LatencySketch()
        self._pending_latencies: list[float] = []
        self._area = 0.0
        self._changed = 0.0

    def begin(self) -> tuple[float, bool]:
        """Start a call: its latency and whether it fails, from the load at this instant."""
        now = self.env.now
        self._area += self.in_flight * (now - self._changed)
        self._changed = now
        n = self.in_flight + 1
        self.in_flight = n
        if n > self.peak_in_flight:
            self.peak_in_flight = n
        self.calls += 1
        excess = n - self.capacity
        latency = next(self.latencies)
        probability = self.error_rate
        if excess > 0:
            latency *= 1.0 + self.slowdown * excess
            probability = min(self.max_error_rate, probability + self.overload_error_rate * excess)
        failed = probability > 0 and next(self.uniforms) < probability
        if failed:
            self.errors += 1
        self._pending_latencies.append(latency)
        return latency, failed

    def end(self, _event: Any = None) -> None:
        """A call's answer has left the downstream."""
        now = self.env.now
        self._area += self.in_flight * (now - self._changed)
        self._changed = now
        self.in_flight -= 1

    def in_flight_area(self, now: float) -> float:
        """Integral of calls in flight over time (call-seconds) up to `now`."""
        return self._area + self.in_flight * (now - self._changed)

    def flush(self) -> None:
        if self._pending_latencies:
            self.sketch.add_many(self._pending_latencies)
            self._pending_latencies = []


class Semaphore:
    """async-mutex's `Semaphore(permits)`: at most `permits` holders; the rest wait, first come first served."""

    def __init__(self, permits: int):
        self.permits = permits
        self.in_use = 0
        self.peak_in_use = 0
        self.waiters: deque[Any] = deque()
        self.waits = 0  # acquire() calls that had to queue
        self.granted_after_wait = 0
        self.wait_time = 0.0  # summed over the waits that were granted

    def acquire(self, worker: Any) -> bool:
        """Take a permit now (True) or queue `worker`, whose `permit_granted()` runs when one frees."""
        if self.in_use < self.permits:
            self.in_use += 1
            if self.in_use > self.peak_in_use:
                self.peak_in_use = self.in_use
            return True
        self.waiters.append(worker)
        self.waits += 1
        return False

    def release(self) -> None:
        """Give the permit back: straight to the longest waiter if there is one."""
        if self.waiters:
            self.granted_after_wait += 1
            self.waiters.popleft().permit_granted()
        else:
            self.in_use -= 1

    def crash(self) -> None:
        """The process died: nobody holds or waits for a permit."""
        self.in_use = 0
        self.waiters.clear()


def _nothing(_event: Any) -> None:
    """A timer's default callback (a calling worker sets its callbacks at each wait)."""


class CallingWorker:
    """A worker that serves a message (`service`), then calls the downstream once (behind the
    group's semaphore, if any), retrying failed calls; then finishes or forwards the message."""

    __slots__ = ("group", "index", "env", "created", "size", "pending", "started", "attempt",
                 "queued_since", "blocked_since", "waiting", "holding", "timer", "_schedule")

    def __init__(self, group: "CallingGroup", index: int):
        self.group = group
        self.index = index
        self.env = group.env
        self._schedule = group.env.schedule
        self.reset()

    def reset(self) -> None:
        self.created = 0.0
        self.size = 0.0
        self.pending: Any = None
        # one reusable timer for the worker's own waits (service, call, backoff), one at a time;
        # a new one after a crash, so a wait pending then is forgotten
        self.timer = Timer(self.env, _nothing)
        self.started = 0.0
        self.attempt = 0
        self.queued_since: float | None = None
        self.blocked_since: float | None = None
        self.waiting: Any = None
        self.holding = False

    def held(self) -> int:
        return 1 if self.holding else 0

    def start(self, created: float, size: float) -> None:
        """Handed a message by the buffer."""
        self.created = created
        self.size = size
        self.started = self.env.now
        self.attempt = 0
        self.holding = True
        duration = next(self.group.service_times)  # type: ignore[arg-type]
        if duration > 0:
            self._wait(duration, self._served)
        else:
            self._acquire()

    def _wait(self, delay: float, callback: Any, *more: Any) -> None:
        """Call `callback(event)` (then each of `more`) `delay` seconds from now, on the timer."""
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        timer = self.timer
        timer.callbacks = [callback, *more] if more else [callback]
        self._schedule(timer, NORMAL, delay)
        self.pending = timer

    def _served(self, event: Any) -> None:
        if event is not self.pending:
            return
        self.pending = None
        self._acquire()

    def _acquire(self) -> None:
        semaphore = self.group.semaphore
        if semaphore is None or semaphore.acquire(self):
            self._call()
        else:
            self.queued_since = self.env.now

    def permit_granted(self) -> None:
        """The semaphore handed this worker a permit."""
        self.group.semaphore.wait_time += self.env.now - self.queued_since  # type: ignore[union-attr, operator]
        self.queued_since = None
        self._call()

    def _call(self) -> None:
        group = self.group
        downstream = group.downstream
        if self.attempt:
            group.call_retries_made += 1
        latency, failed = downstream.begin()
        timeout = group.call_timeout
        if timeout is not None and latency > timeout:
            after(self.env, latency, downstream.end)  # the downstream still works on it
            downstream.abandoned += 1
            group.call_timeouts += 1
            self._wait(timeout, self._failed)
            return
        self._wait(latency, downstream.end, self._failed if failed else self._answered)

    def _release_permit(self) -> None:
        if self.group.semaphore is not None:
            self.group.semaphore.release()

    def _answered(self, event: Any) -> None:
        if event is not self.pending:
            return
        self.pending = None
        self._release_permit()
        self._finish()

    def _failed(self, event: Any) -> None:
        if event is not self.pending:
            return
        self.pending = None
        group = self.group
        group.call_errors += 1
        self._release_permit()
        if self.attempt < group.call_retries:
            self.attempt += 1
            if group.call_backoff > 0:
                self._wait(group.call_backoff, self._retry)
            else:
                self._acquire()
            return
        group.failed += 1
        group.service.release(self.size)
        self._done_with_message()

    def _retry(self, event: Any) -> None:
        if event is not self.pending:
            return
        self.pending = None
        self._acquire()

    def _finish(self) -> None:
        if self.group.finish(self, self.created, self.size):
            self._done_with_message()

    def _forwarded(self) -> None:
        self.group.forwarded += 1
        self._unblock()

    def _gave_up(self) -> None:
        self.group.timed_out += 1
        self.group.service.release(self.size)
        self._unblock()

    def _unblock(self) -> None:
        self.group.blocked_time += self.env.now - self.blocked_since  # type: ignore[operator]
        self.blocked_since = None
        self.waiting = None
        self._done_with_message()

    def _done_with_message(self) -> None:
        group = self.group
        group.busy_time += self.env.now - self.started
        self.holding = False
        item = group.source.take()
        if item is None:
            group.source.idle.append(self)
        else:
            self.start(item[0], item[1])


class CallingGroup(WorkerGroup):
    """A consumer group whose workers each call a downstream per message.

    Utilisation counts the time a worker holds a message (its own work, waiting for a permit and
    the call): for an async handler that is the share of its concurrency in use.
    """

    def __init__(self, *args: Any, downstream: Downstream, **kwargs: Any):
        super().__init__(*args, **kwargs)
        calls = self.spec.calls
        assert calls is not None, "a CallingGroup is built only for consumers with `calls`"
        self.downstream = downstream
        self.semaphore = Semaphore(calls.semaphore) if calls.semaphore is not None else None
        self.call_timeout = calls.timeout
        self.call_retries = calls.retries
        self.call_backoff = calls.backoff
        self.failed = 0
        self.call_errors = 0
        self.call_timeouts = 0
        self.call_retries_made = 0
        self.workers = [CallingWorker(self, i) for i in range(len(self.workers))]

    def busy_seconds(self, now: float) -> float:
        return self.busy_time + sum(now - w.started for w in self.workers if w.holding)

    def crash(self) -> None:
        """Lose every message the workers hold; the semaphore comes back empty."""
        now = self.env.now
        for worker in self.workers:
            if worker.holding:
                self.busy_time += now - worker.started
                self.lost_in_crash += 1
            if worker.blocked_since is not None:
                self.blocked_time += now - worker.blocked_since
            worker.reset()
        if self.semaphore is not None:
            self.semaphore.crash()
