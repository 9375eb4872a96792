"""Consumers: groups of workers that take from a buffer and finish or forward each item.

A worker is a small state machine driven by SimPy timeouts (one event per service), not a
process per message: a free worker waits in its buffer's idle list and is handed the next item
directly. A worker whose forward target is a full `block` buffer holds its item and takes no
more: that is how a slow stage pushes back on the one before it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from heapq import heappush
from typing import TYPE_CHECKING, Any

from .buffer import _COMPACT_AT, ACCEPTED, DROPPED, WAITING, Buffer
from .clock import NORMAL, Timer, after, direct_queue

if TYPE_CHECKING:
    import simpy

    from ..scenario.schema import ConsumerSpec
    from ..service import Service

__all__ = ["WorkerGroup", "Worker", "BatchWorker"]

_FLUSH_EVERY = 1 << 14


class WorkerGroup:
    """A consumer group: its workers, its counters and its latency log (flushed to a sketch)."""

    def __init__(self, env: "simpy.Environment", spec: "ConsumerSpec", source: "Buffer",
                 target: "Buffer | None", service: "Service", service_times: Iterator[float] | None,
                 batch_costs: tuple[Iterator[float], Iterator[float]] | None, on_latencies: Any):
        self.env = env
        self.spec = spec
        self.name = spec.name
        self.source = source
        self.target = target
        self.sink = target is None
        self.service = service
        self.service_times = service_times
        self.batch_costs = batch_costs
        self.latencies: list[float] = []
        self._on_latencies = on_latencies
        self.processed = 0
        self.consumed = 0
        self.forwarded = 0
        self.timed_out = 0
        self.lost_in_crash = 0
        self.busy_time = 0.0
        self.blocked_time = 0.0
        self.batches = 0
        if spec.batch is None:
            self.workers: list[Any] = [Worker(self, i) for i in range(spec.workers)]
        else:
            self.workers = [BatchWorker(self, i, spec.batch.size, spec.batch.timeout) for i in range(spec.workers)]

    def start(self) -> None:
        """All workers begin idle, waiting in the source buffer."""
        for worker in self.workers:
            worker.reset()
            self.source.idle.append(worker)

    def finish(self, worker: Any, created: float, size: float) -> bool:
        """One message served: record it at a sink, or forward it. False when `worker` must hold it
        and wait for room downstream (it is then called back through `_forwarded` / `_gave_up`)."""
        self.processed += 1
        if self.sink:
            self.consumed += 1
            latencies = self.latencies
            latencies.append(self.env.now - created)
            if len(latencies) >= _FLUSH_EVERY:
                self.flush_latencies()
            self.service.release(size)
            return True
        code = self.target.put(created, size)  # type: ignore[union-attr]
        if code == WAITING:
            worker.blocked_since = self.env.now
            worker.waiting = self.target.wait(created, size, worker._forwarded, worker._gave_up, worker)  # type: ignore[union-attr]
            return False
        if code == ACCEPTED:
            self.forwarded += 1
        else:
            self.service.release(size)
        return True

    def flush_latencies(self) -> None:
        if self.latencies:
            self._on_latencies(self.latencies)
            self.latencies = []

    def held_items(self) -> int:
        return sum(w.held() for w in self.workers)

    def busy_seconds(self, now: float) -> float:
        """Worker-seconds of service up to `now` (services in progress count up to now)."""
        ahead = sum(w.busy_until - now for w in self.workers if w.pending is not None and w.busy_until > now)
        return self.busy_time - ahead

    def blocked_seconds(self, now: float) -> float:
        return self.blocked_time + sum(now - w.blocked_since for w in self.workers if w.blocked_since is not None)

    def crash(self) -> None:
        """Lose every item the workers hold; they come back idle on restart."""
        now = self.env.now
        for worker in self.workers:
            if worker.pending is not None and worker.busy_until > now:
                self.busy_time -= worker.busy_until - now
            if worker.blocked_since is not None:
                self.blocked_time += now - worker.blocked_since
            self.lost_in_crash += worker.held()
            worker.reset()


class Worker:
    """One worker serving one message at a time."""

    __slots__ = ("group", "index", "env", "created", "size", "pending", "busy_until", "blocked_since", "waiting",
                 "timer", "_schedule", "_plain_take", "_queue", "_ids")

    def __init__(self, group: WorkerGroup, index: int):
        self.group = group
        self.index = index
        self.env = group.env
        self._schedule = group.env.schedule
        queue, ids = direct_queue(group.env)
        self._queue: list[Any] | None = queue
        self._ids: Iterator[int] | None = ids
        self._plain_take = type(group.source).take is Buffer.take  # (a subclass may add to take())
        self.reset()

    def reset(self) -> None:
        self.created = 0.0
        self.size = 0.0
        self.pending: Any = None
        self.timer = Timer(self.env, self._done)  # a new one: a service pending at a crash is forgotten
        self.busy_until = 0.0
        self.blocked_since: float | None = None
        self.waiting: Any = None

    def held(self) -> int:
        return 1 if (self.pending is not None or self.blocked_since is not None) else 0

    def start(self, created: float, size: float) -> None:
        """Serve one item (called by the buffer when it hands this worker an item)."""
        group = self.group
        duration = next(group.service_times)  # type: ignore[arg-type]
        self.created = created
        self.size = size
        now = self.env.now
        self.busy_until = now + duration
        group.busy_time += duration
        if duration < 0:
            raise ValueError(f"Negative delay {duration}")
        timer = self.timer
        timer.callbacks = timer.fire
        if self._queue is not None:  # `env.schedule(timer, NORMAL, duration)`, inlined
            heappush(self._queue, (now + duration, NORMAL, next(self._ids), timer))  # type: ignore[arg-type]
        else:
            self._schedule(timer, NORMAL, duration)
        self.pending = timer

    def _done(self, event: Any) -> None:
        if event is not self.pending:  # the service crashed while this item was in progress
            return
        self.pending = None
        group = self.group
        if group.sink:  # `group.finish` for a sink, inlined (keep in step with it)
            group.processed += 1
            group.consumed += 1
            latencies = group.latencies
            latencies.append(self.env.now - self.created)
            if len(latencies) >= _FLUSH_EVERY:
                group.flush_latencies()
            group.service.held -= self.size  # `Service.release`
        elif not group.finish(self, self.created, self.size):
            return
        self._next()

    def _forwarded(self) -> None:
        group = self.group
        group.forwarded += 1
        group.blocked_time += self.env.now - self.blocked_since  # type: ignore[operator]
        self.blocked_since = None
        self.waiting = None
        self._next()

    def _gave_up(self) -> None:
        group = self.group
        group.timed_out += 1
        group.blocked_time += self.env.now - self.blocked_since  # type: ignore[operator]
        group.service.release(self.size)
        self.blocked_since = None
        self.waiting = None
        self._next()

    def _next(self) -> None:
        group = self.group
        source = group.source
        head = source._head
        queued = source._created
        if self._plain_take and head < len(queued) and not source.putters:
            # `source.take()` of a plain `Buffer` with an item waiting and nobody blocked, inlined
            # (keep in step with `Buffer.take`)
            created = queued[head]
            size = source._sizes[head]
            head += 1
            now = self.env.now
            source.exit_sum += now
            source.bytes -= size
            if head >= _COMPACT_AT and head * 2 >= len(queued):
                del queued[:head]
                del source._sizes[:head]
                head = 0
            source._head = head
            source.taken += 1
        else:
            item = source.take()
            if item is None:
                source.idle.append(self)
                return
            created, size = item
            now = self.env.now
        # `start(created, size)`, inlined (keep in step with it)
        duration = next(group.service_times)  # type: ignore[arg-type]
        self.created = created
        self.size = size
        self.busy_until = now + duration
        group.busy_time += duration
        if duration < 0:
            raise ValueError(f"Negative delay {duration}")
        timer = self.timer
        timer.callbacks = timer.fire
        if self._queue is not None:  # `env.schedule(timer, NORMAL, duration)`, inlined
            heappush(self._queue, (now + duration, NORMAL, next(self._ids), timer))  # type: ignore[arg-type]
        else:
            self._schedule(timer, NORMAL, duration)
        self.pending = timer


class BatchWorker:
    """A worker that takes up to `size` items, waits at most `timeout` to fill a batch, then pays
    fixed + per_item × n for the whole batch (a bulk insert)."""

    __slots__ = ("group", "index", "env", "limit", "timeout", "items", "pending", "busy_until",
                 "blocked_since", "waiting", "deadline", "collecting", "_forward_at", "timer")

    def __init__(self, group: WorkerGroup, index: int, limit: int, timeout: float):
        self.group = group
        self.index = index
        self.env = group.env
        self.limit = limit
        self.timeout = timeout
        self.reset()

    def reset(self) -> None:
        self.items: list[tuple[float, float]] = []
        self.pending: Any = None
        self.busy_until = 0.0
        self.blocked_since: float | None = None
        self.waiting: Any = None
        self.deadline: Any = None
        self.collecting = False
        self._forward_at = 0
        self.timer = Timer(self.env, self._done)  # a new one: a batch pending at a crash is forgotten

    def held(self) -> int:
        return len(self.items) - self._forward_at

    def start(self, created: float, size: float) -> None:
        """Handed an item by the buffer: add it to the batch being collected."""
        self.items.append((created, size))
        source = self.group.source
        while len(self.items) < self.limit:
            item = source.take()
            if item is None:
                break
            self.items.append(item)
        if len(self.items) >= self.limit or self.timeout <= 0:
            self._serve()
            return
        if not self.collecting:
            self.collecting = True
            self.deadline = after(self.env, self.timeout, self._deadline)
        source.idle.appendleft(self)

    def _deadline(self, event: Any) -> None:
        if event is not self.deadline or not self.collecting:
            return
        with contextlib.suppress(ValueError):
            self.group.source.idle.remove(self)
        self._serve()

    def _serve(self) -> None:
        group = self.group
        self.collecting = False
        self.deadline = None
        fixed, per_item = group.batch_costs  # type: ignore[misc]
        duration = next(fixed) + next(per_item) * len(self.items)
        self.busy_until = self.env.now + duration
        group.busy_time += duration
        group.batches += 1
        self.pending = self.timer.arm(duration)

    def _done(self, event: Any) -> None:
        if event is not self.pending:
            return
        self.pending = None
        group = self.group
        group.processed += len(self.items)
        if group.sink:
            now = self.env.now
            group.consumed += len(self.items)
            group.latencies.extend(now - created for created, _ in self.items)
            group.service.release(sum(size for _, size in self.items))
            if len(group.latencies) >= _FLUSH_EVERY:
                group.flush_latencies()
            self.items = []
            self._next()
            return
        self._forward_at = 0
        self._forward_rest()

    def _forward_rest(self) -> None:
        group = self.group
        target = group.target
        while self._forward_at < len(self.items):
            created, size = self.items[self._forward_at]
            code = target.put(created, size)  # type: ignore[union-attr]
            if code == WAITING:
                self.blocked_since = self.env.now
                self.waiting = target.wait(created, size, self._forwarded, self._gave_up, self)  # type: ignore[union-attr]
                return
            self._forward_at += 1
            if code == ACCEPTED:
                group.forwarded += 1
            elif code == DROPPED:
                group.service.release(size)
        self.items = []
        self._forward_at = 0  # held() is len(items) - _forward_at: the next batch starts from 0
        self._next()

    def _resume_forwarding(self) -> None:
        self.group.blocked_time += self.env.now - self.blocked_since  # type: ignore[operator]
        self.blocked_since = None
        self.waiting = None
        self._forward_at += 1
        self._forward_rest()

    def _forwarded(self) -> None:
        self.group.forwarded += 1
        self._resume_forwarding()

    def _gave_up(self) -> None:
        self.group.timed_out += 1
        self.group.service.release(self.items[self._forward_at][1])
        self._resume_forwarding()

    def _next(self) -> None:
        item = self.group.source.take()
        if item is None:
            self.group.source.idle.append(self)
        else:
            self.start(item[0], item[1])
