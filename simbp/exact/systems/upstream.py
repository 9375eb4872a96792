"""A producer with what real callers do: pause on a stream's backpressure, wait per request, retry,
pass through RxJS operators, take tokens from a rate limiter, and be shed by priority.

Only producers that use one of these keys get this class; the others keep the core `Producer`, so
a mechanism nobody uses costs nothing per message. It offers the same counters as the core
producer (`produced`, `timed_out`, `lost_in_crash`, `holds_item()`, `blocked_seconds()`).

Counting, so that produced = consumed + dropped + timed_out + lost_in_crash + discarded + failed +
in_flight_at_end stays exact:
- every *attempt* is produced: a retry is a new message, created when it is sent (counted in
  `retries` too). The attempt it replaces ended as timed out or dropped, or, when its caller gave up
  on it while it sat in the queue (`caller_timeout`), it stays queued and is still consumed: work
  done for nobody, counted in `abandoned_in_queue`.
- a message the rate limiter, an operator or the priority shedder lets go of is `discarded`.
- a message held by the producer (waiting for room per request, for a token, or inside an
  operator) is in flight.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ...operator_report import operator_stages
from ..buffer import ACCEPTED, DROPPED, WAITING, Buffer
from ..clock import Steps, after
from ..producer import ProducerState
from .operators import Operator, build_chain
from .ratelimit import TokenBucket

if TYPE_CHECKING:
    import simpy

    from ...scenario.schema import ProducerSpec
    from ...service import Service

__all__ = ["UpstreamProducer"]

_ADMITTED, _TIMED_OUT, _LOST = 1, 2, 3


class UpstreamProducer(ProducerState):
    """A SimPy process emitting messages into one buffer, with the caller behaviours of its spec."""

    def __init__(self, env: "simpy.Environment", spec: "ProducerSpec", buffer: Buffer, service: "Service",
                 times: Iterator[float], sizes: Iterator[float], overhead: float, stop: float, *,
                 pauses: bool, shed_at: int | None, retry_rng: np.random.Generator | None):
        super().__init__(env, spec, buffer, service, times, sizes, overhead, stop)
        self.pauses = pauses  # honours write() returning false (pipe)
        self.per_request = spec.blocking == "request"
        self.shed_at = shed_at
        self.retry = spec.retry
        self.retry_on_timeout = spec.retry is not None and "timeout" in spec.retry.on
        self.retry_on_drop = spec.retry is not None and "drop" in spec.retry.on
        self.retry_rng = retry_rng
        self.caller_timeout = spec.caller_timeout
        self._deadlines: deque[tuple[float, int, float]] = deque()  # (created, attempt, size) of queued messages callers watch
        self._deadline_timer: Any = None
        limit = spec.rate_limit
        self.limiter = TokenBucket(limit.rate, limit.burst, spec.start) if limit is not None else None
        self.limit_waits = limit is not None and limit.on_limit == "wait"
        self.operators: list[Operator] = build_chain(env, spec.operators, self._emitted, spec.start) if spec.operators else []
        # counters beyond the core producer's
        self.retries = 0
        self.gave_up = 0
        self.shed = 0
        self.rate_limited = 0
        self.pauses_made = 0
        self.paused_time = 0.0
        self.request_waits = 0
        self.request_wait_time = 0.0
        self.requests_waiting = 0
        self.retries_pending = 0
        self.abandoned = 0  # picked up after their caller gave up: the work on them is wasted
        self._holding = 0  # 1 while the producer itself holds a message (blocked, or waiting for a token)
        self._paused = False
        self._waits: list[Any] = []  # this producer's per-request waits (pruned as they settle)
        self._own: Any = None  # the producer's own blocked put (blocking: producer)
        service.on_crash(self._crash)

    # ------------------------------------------------------------------ the core producer's interface
    @property
    def discarded(self) -> int:
        """Messages let go of on purpose: rate limited, shed, or by an operator."""
        return self.rate_limited + self.shed + sum(op.discarded for op in self.operators)

    def holds_item(self) -> int:
        """Messages this producer holds: its own blocked one, requests waiting, values in operators."""
        held = self._holding + self.requests_waiting
        for operator in self.operators:
            held += operator.held()
        return held

    # ------------------------------------------------------------------ the process
    def start(self) -> None:
        """Begin emitting: `run()` driven as a SimPy process, its arrivals on one reusable timer."""
        self._steps = Steps(self.env, self.run())

    def run(self) -> Any:
        env = self.env
        stop = self.stop
        sizes = self.sizes
        overhead = self.overhead
        limiter = self.limiter
        operators = self.operators
        head = operators[0].push if operators else None
        service = self.service
        buffer = self.buffer
        put = buffer.put
        pauses = self.pauses
        plain = self.shed_at is None and self.caller_timeout is None
        arm = self._steps.timer.arm
        for created in self.times:
            if created >= stop:
                if operators and stop > env.now:
                    yield env.timeout(stop - env.now)
                break
            delay = created - env.now
            if delay < 0:  # fell due while this producer was blocked or paused: never produced
                continue
            yield arm(delay)
            size = next(sizes) + overhead
            self.produced += 1
            if limiter is not None:
                if self.limit_waits:
                    wait = limiter.reserve(env.now)
                    if wait > 0:
                        self._holding = 1
                        self.blocked_since = env.now
                        yield env.timeout(wait)
                        self.blocked_time += env.now - self.blocked_since
                        self.blocked_since = None
                        self._holding = 0
                elif not limiter.try_take(env.now):
                    self.rate_limited += 1
                    continue
            if head is not None:
                head(created, size)
                continue
            if plain:  # the common case, inlined: no shedding, no caller timeout
                if service.down:
                    self.lost_in_crash += 1
                    continue
                code = put(created, size)
                if code == ACCEPTED:
                    service.hold(size)
                elif code == DROPPED:
                    self._dropped(size, 0)
                    continue
                elif self.per_request:
                    self._wait_alone(created, size, 0)
                    continue
            else:
                code = self._offer(created, size, 0, True)
            if code == WAITING and not self.per_request:  # blocking: producer — it waits, as in the core
                yield from self._block(created, size)
            elif code == ACCEPTED and pauses and not buffer.write_ok:
                self.pauses_made += 1
                self._paused = True
                self.blocked_since = env.now
                yield self.buffer.drained()
                paused = env.now - self.blocked_since
                self.paused_time += paused
                self.blocked_time += paused
                self.blocked_since = None
                self._paused = False
        for operator in operators:  # the source completed (stopped): operators emit what they hold, as RxJS does
            operator.complete()

    def _emitted(self, created: float, size: float) -> None:
        """What the last operator emits is written into the buffer (no backpressure in RxJS)."""
        self._offer(created, size, 0, False)

    # ------------------------------------------------------------------ one attempt
    def _offer(self, created: float, size: float, attempt: int, from_loop: bool) -> int:
        """Write one attempt into the buffer; a blocked one waits per request unless the loop blocks."""
        if self.service.down:
            self.lost_in_crash += 1
            return DROPPED
        if self.shed_at is not None and self.buffer.depth >= self.shed_at:
            self.shed += 1
            return DROPPED
        watch = self.caller_timeout is not None and not self.buffer.idle  # handed to an idle worker: picked up at once
        code = self.buffer.put(created, size)
        if code == ACCEPTED:
            if watch:
                self._watch(created, attempt, size)
            self.service.hold(size)
        elif code == DROPPED:
            self._dropped(size, attempt)
        elif not (from_loop and not self.per_request):
            self._wait_alone(created, size, attempt)
        return code

    def _dropped(self, size: float, attempt: int) -> None:
        """The buffer dropped this attempt: retry it, or the caller has lost it."""
        if self.retry_on_drop and attempt < self.retry.max:  # type: ignore[union-attr]
            self._schedule_retry(size, attempt)
        else:
            self.gave_up += 1

    def _block(self, created: float, size: float) -> Any:
        """The core's blocking: the producer emits nothing until its item gets in or times out."""
        env = self.env
        self._holding = 1
        self.blocked_since = env.now
        self._wake = env.event()
        self._own = self.buffer.wait(created, size, self._admitted, self._own_gave_up, self)
        outcome = yield self._wake
        self.blocked_time += env.now - self.blocked_since
        self.blocked_since = None
        self._holding = 0
        self._own = None
        if outcome == _ADMITTED and self.service.crashes == self._crashes_at_admit:
            self.service.hold(size)
        elif outcome == _TIMED_OUT:
            self._after_timeout(size, 0)

    def _admitted(self) -> None:
        self._crashes_at_admit = self.service.crashes
        self._wake.succeed(_ADMITTED)

    def _own_gave_up(self) -> None:
        self.timed_out += 1
        self._wake.succeed(_TIMED_OUT)

    def _wait_alone(self, created: float, size: float, attempt: int) -> None:
        """One request waits for room on its own (blocking: request, a retry, an operator's emission)."""
        self.request_waits += 1
        self.requests_waiting += 1
        since = self.env.now
        crashes = self.service.crashes

        def admitted() -> None:
            self.requests_waiting -= 1
            self.request_wait_time += self.env.now - since
            # the buffer admitted it inside a worker's take(): hold its memory after this step
            after(self.env, 0, lambda _e: self.service.hold(size) if self.service.crashes == crashes else None)

        def timed_out() -> None:
            self.requests_waiting -= 1
            self.request_wait_time += self.env.now - since
            self.timed_out += 1
            self._after_timeout(size, attempt)

        waits = self._waits
        if len(waits) > 64 and len(waits) > 2 * self.requests_waiting:
            waits[:] = [w for w in waits if w.active]
        waits.append(self.buffer.wait(created, size, admitted, timed_out, self))

    # ------------------------------------------------------------------ the caller's timeout
    def _watch(self, created: float, attempt: int, size: float) -> None:
        """The caller of this queued message gives up at created + caller_timeout unless it was picked up."""
        self._deadlines.append((created, attempt, size))
        if self._deadline_timer is None:
            self._arm(created + self.caller_timeout - self.env.now)  # type: ignore[operator]

    def _arm(self, delay: float) -> None:
        self._deadline_timer = after(self.env, max(delay, 0.0), self._deadline)

    def _deadline(self, _event: Any) -> None:
        """Callers whose messages still wait give up (and may retry); the messages stay queued.

        The watched buffer is first in, first out and admits at once, so its messages wait in order
        of creation: a message created at c is still waiting iff the oldest waiting one is no newer.
        """
        self._deadline_timer = None
        now = self.env.now
        timeout = self.caller_timeout
        buffer = self.buffer
        oldest = buffer._created[buffer._head] if buffer.depth else float("inf")
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] + timeout <= now + 1e-12:  # type: ignore[operator]
            created, attempt, size = deadlines.popleft()
            if created >= oldest:
                self.abandoned += 1
                self._after_timeout(size, attempt)
        if deadlines:
            self._arm(deadlines[0][0] + timeout - now)  # type: ignore[operator]

    # ------------------------------------------------------------------ retries
    def _after_timeout(self, size: float, attempt: int) -> None:
        """A caller timed out on an attempt: retry it, or give up on the message."""
        if self.retry_on_timeout and attempt < self.retry.max:  # type: ignore[union-attr]
            self._schedule_retry(size, attempt)
        else:
            self.gave_up += 1

    def _schedule_retry(self, size: float, attempt: int) -> None:
        retry = self.retry
        assert retry is not None
        delay = retry.backoff * retry.multiplier ** attempt
        if retry.max_backoff is not None:
            delay = min(delay, retry.max_backoff)
        if retry.jitter == "full":
            delay *= float(self.retry_rng.random())  # type: ignore[union-attr]
        self.retries_pending += 1
        after(self.env, delay, lambda _e: self._retry(size, attempt + 1))

    def _retry(self, size: float, attempt: int) -> None:
        """A retry is a new message, created now (its latency counts from this attempt)."""
        self.retries_pending -= 1
        self.produced += 1
        self.retries += 1
        self._offer(self.env.now, size, attempt, False)

    # ------------------------------------------------------------------ crash
    def _crash(self) -> None:
        """The service crashed: the messages this producer had waiting for room are lost."""
        own = self._own
        if own is not None and own.active:
            own.active = False
            self.lost_in_crash += 1
            self._wake.succeed(_LOST)
        for waiting in self._waits:
            if waiting.active:
                waiting.active = False
                self.lost_in_crash += 1
                self.requests_waiting -= 1
        self._waits = []
        self._deadlines.clear()  # those messages were lost with the buffer

    # ------------------------------------------------------------------ reporting
    def stats(self) -> dict[str, Any]:
        """This producer's figures beyond the core's (merged into its summary entry)."""
        now = self.env.now
        entry: dict[str, Any] = {"discarded": self.discarded}
        by: dict[str, int] = {}
        if self.limiter is not None:
            by["rate_limit"] = self.rate_limited
            entry["rate_limit"] = {"rate_per_s": self.limiter.rate, "burst": int(self.limiter.burst),
                                   "on_limit": self.spec.rate_limit.on_limit,
                                   "passed": self.limiter.passed, "limited": self.limiter.limited,
                                   "waited_s": self.limiter.waited}
        if self.shed_at is not None:
            by["shed"] = self.shed
            entry["priority"] = self.spec.priority
        for operator in self.operators:
            by[operator.kind] = by.get(operator.kind, 0) + operator.discarded
        if self.operators:  # keyed by the RxJS name (a repeated one gets _2, _3 …), in pipe order
            entry["operators"] = operator_stages(self.operators)
        entry["discarded_by"] = by
        if self.retry is not None:
            entry["retries"] = self.retries
            entry["first_attempts"] = self.produced - self.retries
            entry["retries_pending_at_end"] = self.retries_pending
        entry["gave_up"] = self.gave_up
        if self.caller_timeout is not None:
            entry["caller_timeout_s"] = self.caller_timeout
            entry["abandoned_in_queue"] = self.abandoned
        if self.pauses:
            entry["pauses"] = self.pauses_made
            entry["paused_s"] = self.paused_time + (now - self.blocked_since if self._paused and self.blocked_since is not None else 0.0)
        if self.request_waits:
            entry["requests_blocked"] = self.request_waits
            entry["mean_request_wait_s"] = self.request_wait_time / self.request_waits
        return entry
