"""Buffers: bounded or unbounded FIFO queues with a policy for when they are full.

Items are stored compactly as two `array('d')` columns (creation time, bytes) with a moving head,
so a queue of ten million items costs 160 MB and every operation is O(1) amortised. Idle workers
wait in the buffer: an arriving item goes straight to one (it never counts as waiting), which is
what M/M/c and every real worker pool do.

Hooks, as SimPy's resources fill in `_do_put`/`_do_get`:

* the policy's put hook, `(created, size) -> ACCEPTED | DROPPED | WAITING`, comes from the
  semantics table (`simbp.semantics`, `Policy.exact`): a method of this class or a function;
* `_put_hook(policy_put)` is what a subclass overrides to see every put (a Node.js writable
  reporting what `write()` returned): it returns the `put` the buffer offers. Both are bound once,
  in `__init__`, so a put costs one call, as it would as a plain method;
* `take()` is what workers call; a subclass overriding it calls `super().take()`.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from types import MethodType
from typing import TYPE_CHECKING, Any

from .. import semantics
from .clock import after

if TYPE_CHECKING:
    import simpy

    from ..scenario.schema import BufferSpec
    from ..service import Service

__all__ = ["Buffer", "PutHook", "ACCEPTED", "DROPPED", "WAITING"]

ACCEPTED = 1
DROPPED = 0
WAITING = 2
_COMPACT_AT = 1 << 16

PutHook = Callable[[float, float], int]
"""`put(created, size) -> ACCEPTED | DROPPED | WAITING`: offer one item to a buffer."""


class Waiting:
    """A putter blocked on a full `block` buffer: its item, and what to call when it is settled."""

    __slots__ = ("created", "size", "on_admit", "on_timeout", "active", "owner")

    def __init__(self, created: float, size: float, on_admit: Callable[[], None], on_timeout: Callable[[], None] | None, owner: Any):
        self.created = created
        self.size = size
        self.on_admit = on_admit
        self.on_timeout = on_timeout
        self.active = True
        self.owner = owner


class Buffer:
    """A named queue with counters; `put` is the policy's hook (see `_put_hook`), `take` serves workers."""

    def __init__(self, env: "simpy.Environment", spec: "BufferSpec", service: "Service"):
        self.env = env
        self.spec = spec
        self.name = spec.name
        self.policy = spec.policy
        self.capacity = float("inf") if spec.capacity is None else int(spec.capacity)
        self.block_timeout = spec.block_timeout
        self.service = service
        self._created = array("d")
        self._sizes = array("d")
        self._head = 0
        self.idle: deque[Any] = deque()
        self.putters: deque[Waiting] = deque()
        self.bytes = 0.0
        self.accepted = 0
        self.dropped = 0
        self.taken = 0
        self.lost_in_crash = 0
        self.peak_depth = 0
        self.peak_bytes = 0.0
        self.enter_sum = 0.0
        self.exit_sum = 0.0
        self.put: PutHook = self._put_hook(self._policy_hook(spec.policy))

    def _policy_hook(self, name: str) -> PutHook:
        """The put hook the semantics table declares for policy `name`, bound to this buffer."""
        hook = semantics.policy(name).exact
        if isinstance(hook, str):
            return getattr(self, hook)
        return MethodType(hook, self)

    def _put_hook(self, policy_put: PutHook) -> PutHook:
        """The `put` this buffer offers, given its policy's put hook: the hook itself.

        A subclass that must see every put overrides this to return its own method, which calls
        `policy_put` (keep it) and adds its bookkeeping. Called once, from `__init__`, before the
        subclass's own `__init__` continues."""
        return policy_put

    # ------------------------------------------------------------------ state
    @property
    def depth(self) -> int:
        """Items waiting (not those a worker holds)."""
        return len(self._created) - self._head

    def waiting_area(self, now: float) -> float:
        """Integral of depth over time since the start (item-seconds), from entry and exit sums."""
        return self.exit_sum + self.depth * now - self.enter_sum

    def lag_seconds(self, now: float) -> float:
        """Age of the oldest item waiting (0 when none): how far behind the consumers are, in time."""
        return now - self._created[self._head] if self._head < len(self._created) else 0.0

    # ------------------------------------------------------------------ policy hooks
    # Each hook inlines `_handoff` and `_enqueue` (a call fewer per message; same operations in the
    # same order): keep them in step with those two methods.
    def _handoff(self, created: float, size: float) -> int:
        self.accepted += 1
        self.idle.popleft().start(created, size)
        return ACCEPTED

    def _enqueue(self, created: float, size: float) -> int:
        self._created.append(created)
        self._sizes.append(size)
        self.accepted += 1
        self.enter_sum += self.env.now
        self.bytes += size
        depth = len(self._created) - self._head
        if depth > self.peak_depth:
            self.peak_depth = depth
        if self.bytes > self.peak_bytes:
            self.peak_bytes = self.bytes
        return ACCEPTED

    def _put_unbounded(self, created: float, size: float) -> int:
        if self.idle:
            self.accepted += 1
            self.idle.popleft().start(created, size)
            return ACCEPTED
        queued = self._created
        queued.append(created)
        self._sizes.append(size)
        self.accepted += 1
        self.enter_sum += self.env.now
        self.bytes += size
        depth = len(queued) - self._head
        if depth > self.peak_depth:
            self.peak_depth = depth
        if self.bytes > self.peak_bytes:
            self.peak_bytes = self.bytes
        return ACCEPTED

    def _put_drop_newest(self, created: float, size: float) -> int:
        if self.idle:
            self.accepted += 1
            self.idle.popleft().start(created, size)
            return ACCEPTED
        queued = self._created
        depth = len(queued) - self._head
        if depth >= self.capacity:
            self.dropped += 1
            return DROPPED
        queued.append(created)
        self._sizes.append(size)
        self.accepted += 1
        self.enter_sum += self.env.now
        self.bytes += size
        depth += 1
        if depth > self.peak_depth:
            self.peak_depth = depth
        if self.bytes > self.peak_bytes:
            self.peak_bytes = self.bytes
        return ACCEPTED

    def _put_drop_oldest(self, created: float, size: float) -> int:
        if self.idle:
            return self._handoff(created, size)
        if len(self._created) - self._head >= self.capacity:
            if self.capacity == 0:
                self.dropped += 1
                return DROPPED
            _, old_size = self._pop()
            self.dropped += 1
            self.service.release(old_size)
        return self._enqueue(created, size)

    def _put_block(self, created: float, size: float) -> int:
        if self.idle:
            self.accepted += 1
            self.idle.popleft().start(created, size)
            return ACCEPTED
        queued = self._created
        depth = len(queued) - self._head
        if depth >= self.capacity or self.putters:
            return WAITING
        queued.append(created)
        self._sizes.append(size)
        self.accepted += 1
        self.enter_sum += self.env.now
        self.bytes += size
        depth += 1
        if depth > self.peak_depth:
            self.peak_depth = depth
        if self.bytes > self.peak_bytes:
            self.peak_bytes = self.bytes
        return ACCEPTED

    def wait(self, created: float, size: float, on_admit: Callable[[], None],
             on_timeout: Callable[[], None] | None, owner: Any) -> Waiting:
        """Queue a blocked putter; `on_admit` runs when its item gets in, `on_timeout` if it gives up."""
        waiting = Waiting(created, size, on_admit, on_timeout, owner)
        self.putters.append(waiting)
        if self.block_timeout is not None and on_timeout is not None:
            after(self.env, self.block_timeout, lambda _event: self._give_up(waiting))
        return waiting

    def _give_up(self, waiting: Waiting) -> None:
        if waiting.active:
            waiting.active = False
            self.putters.remove(waiting)
            assert waiting.on_timeout is not None
            waiting.on_timeout()

    # ------------------------------------------------------------------ consumers
    def _pop(self) -> tuple[float, float]:
        head = self._head
        created = self._created[head]
        size = self._sizes[head]
        head += 1
        self.exit_sum += self.env.now
        self.bytes -= size
        if head >= _COMPACT_AT and head * 2 >= len(self._created):
            del self._created[:head]
            del self._sizes[:head]
            head = 0
        self._head = head
        return created, size

    def take(self) -> tuple[float, float] | None:
        """The oldest waiting item for a worker, or None when empty (blocked putters move up)."""
        head = self._head
        queued = self._created
        if head < len(queued):  # `_pop`, inlined
            created = queued[head]
            size = self._sizes[head]
            head += 1
            self.exit_sum += self.env.now
            self.bytes -= size
            if head >= _COMPACT_AT and head * 2 >= len(queued):
                del queued[:head]
                del self._sizes[:head]
                head = 0
            self._head = head
            self.taken += 1
            if self.putters:
                self._admit_waiting()
            return created, size
        while self.putters:  # no waiting room (capacity 0): hand a blocked putter's item over
            waiting = self.putters.popleft()
            if waiting.active:
                waiting.active = False
                self.accepted += 1
                self.taken += 1
                waiting.on_admit()
                return waiting.created, waiting.size
        return None

    def _admit_waiting(self) -> None:
        while self.putters and len(self._created) - self._head < self.capacity:
            waiting = self.putters.popleft()
            if waiting.active:
                waiting.active = False
                self._enqueue(waiting.created, waiting.size)
                waiting.on_admit()

    def clear(self) -> int:
        """Empty the buffer (a crash); returns how many waiting items were lost."""
        lost = self.depth
        now = self.env.now
        self.exit_sum += lost * now
        self.lost_in_crash += lost
        self._created = array("d")
        self._sizes = array("d")
        self._head = 0
        self.bytes = 0.0
        self.idle.clear()
        return lost
