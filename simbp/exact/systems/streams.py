"""Node.js stream backpressure: a writable's buffer with a `highWaterMark`, and transforms that pipe.

As in Node, `write()` always accepts the chunk (the buffer has no hard limit) and returns
`length < highWaterMark`, where `length` counts the buffered chunks *and* the chunk `_write()` is
working on. When a write returned false, `'drain'` fires once `length` is back to zero. A source that
pipes (`readable.pipe(writable)`) pauses on false until `'drain'`; a naive source keeps writing, so
the buffer, and the process's memory, grow until it crashes.

The writable's `_write()` is the consumer reading the buffer (Node runs one at a time: `workers: 1`).
A transform is a consumer that forwards into the next writable and, like `pipe()`, stops reading
while that writable is over its mark, so the backpressure passes upstream stage by stage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..buffer import ACCEPTED, Buffer, PutHook
from ..clock import when
from ..consumer import Worker, WorkerGroup

if TYPE_CHECKING:
    import simpy

    from ...scenario.schema import BufferSpec
    from ...service import Service

__all__ = ["WritableBuffer", "PipingGroup", "PipingWorker"]


class WritableBuffer(Buffer):
    """A Node.js writable's internal buffer: the policy's `put`, plus what `write()` returned.

    Its `put` is `_write` (through `Buffer._put_hook`): the policy decides where the chunk goes,
    then `write_ok` says what Node's `write()` returned."""

    def __init__(self, env: "simpy.Environment", spec: "BufferSpec", service: "Service"):
        super().__init__(env, spec, service)
        mark = spec.high_water_mark
        assert mark is not None
        self.high_water_mark = mark.limit
        self.counts_bytes = mark.counts_bytes
        self.readers: list[WorkerGroup] = []  # the consumers whose `_write()` drains this buffer
        self.write_ok = True  # what the last write() returned
        self.need_drain = False
        self.writes = 0
        self.writes_false = 0
        self._largest = 0.0  # the largest chunk written: bounds what the readers can hold
        self.drains = 0
        self._drain: Any = None
        service.on_crash(self._crash)

    def _put_hook(self, policy_put: PutHook) -> PutHook:
        """Every put is a `write()`: keep the policy's hook and offer `_write` in its place."""
        self._policy_put = policy_put
        return self._write

    def length(self) -> float:
        """Node's `writableLength`: chunks (or bytes) buffered plus those `_write()` is handling."""
        if self.counts_bytes:
            return self.bytes + sum(_held_bytes(w) for group in self.readers for w in group.workers)
        return self.depth + sum(group.held_items() for group in self.readers)

    def empty(self) -> bool:
        """Nothing buffered and nothing in `_write()`: Node's length is 0. Asked of the chunks, not of
        `length()`, whose byte sums of sizes that are not whole numbers may never return to exactly 0."""
        return self.depth == 0 and all(group.held_items() == 0 for group in self.readers)

    def _write(self, created: float, size: float) -> int:
        """`writable.write(chunk)`: the policy decides where the chunk goes; `write_ok` is the return value."""
        code = self._policy_put(created, size)
        self.writes += 1
        if code == ACCEPTED:
            # fast path: even if every reader held a chunk (as large as the largest yet), below the mark
            readers = 0
            for group in self.readers:
                readers += len(group.workers)
            if self.counts_bytes:
                if size > self._largest:
                    self._largest = size
                ok = self.bytes + readers * self._largest < self.high_water_mark or self.length() < self.high_water_mark
            else:
                ok = self.depth + readers < self.high_water_mark or self.length() < self.high_water_mark
            if not ok:
                self.need_drain = True
                self.writes_false += 1
            self.write_ok = ok
        else:
            self.write_ok = not self.need_drain
        return code

    def drained(self) -> Any:
        """The event that fires at the next `'drain'` (pausing writers wait on it)."""
        if self._drain is None:
            self._drain = self.env.event()
        return self._drain

    def take(self) -> tuple[float, float] | None:
        item = super().take()
        # take() is called by a worker that has just finished its chunk: if nothing is left anywhere,
        # this is the moment Node emits 'drain' (the event's waiters run after this step).
        if item is None and self.need_drain and self.empty():
            self._emit_drain()
        return item

    def _emit_drain(self) -> None:
        self.need_drain = False
        self.drains += 1
        event, self._drain = self._drain, None
        if event is not None:
            event.succeed()

    def _crash(self) -> None:
        """The process died: its streams come back new, so nobody waits for a 'drain' any more."""
        self.write_ok = True
        if self.need_drain:
            self._emit_drain()


def _held_bytes(worker: Any) -> float:
    """Bytes a worker of a reading group holds (the chunk in `_write()`, or a batch)."""
    items = getattr(worker, "items", None)
    if items is not None:  # a batch worker
        return float(sum(size for _, size in items[worker._forward_at:]))
    return float(worker.size) if worker.held() else 0.0


class PipingWorker(Worker):
    """A transform's worker: after forwarding a chunk whose write() returned false, it reads no more
    until the next stage's `'drain'` (what `transform.pipe(writable)` does)."""

    __slots__ = ("paused", "paused_since")

    def reset(self) -> None:
        super().reset()
        self.paused: Any = None
        self.paused_since = 0.0

    def _next(self) -> None:
        target = self.group.target
        if not target.write_ok:  # type: ignore[union-attr]
            self.paused_since = self.env.now
            event = target.drained()  # type: ignore[union-attr]
            self.paused = event
            when(event, self._drained)
            return
        Worker._next(self)

    def _drained(self, event: Any) -> None:
        if event is not self.paused:  # the service crashed and restarted meanwhile
            return
        self.paused = None
        group = self.group
        group.blocked_time += self.env.now - self.paused_since
        group.pauses += 1  # type: ignore[attr-defined]
        Worker._next(self)


class PipingGroup(WorkerGroup):
    """A consumer group forwarding into a writable and honouring its backpressure (a transform)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pauses = 0
        self.workers = [PipingWorker(self, i) for i in range(len(self.workers))]
