"""Topics on the broker: each partition an ordered log with retention and its group's offsets.

A partition stores two `array('d')` columns (creation time, bytes) with a moving head: appending
is O(1), retention by time is a head advance found by bisection, retention by size pops the
oldest until the log fits, and the deleted head is cut off the arrays once it is half of them.
A message deleted before its group fetched it is lost (`retention_lost`, counted as dropped).
simbp models one consumer group per topic, so a partition carries that group's position (next
offset to fetch), committed offset and Burrow window of commits.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import deque
from typing import TYPE_CHECKING, Protocol

from ...kafka_rules import OK, burrow_status

if TYPE_CHECKING:
    import simpy

    from ...scenario.schema import TopicSpec

__all__ = ["Partition", "Topic", "Waiter"]

_COMPACT_AT = 1 << 16


class Waiter(Protocol):
    """A consumer waiting for data on a partition: woken by the next append (fetch.min.bytes = 1)."""

    def wake(self) -> None: ...


class Partition:
    """One ordered log with its group's offsets: position (next to fetch) and committed offset."""

    __slots__ = ("topic", "index", "created", "sizes", "base", "head", "bytes", "position", "committed",
                 "waiter", "retention_lost", "peak_lag", "consumed", "window", "min_distance", "owner",
                 "worst_status", "retention_bytes")

    def __init__(self, topic: "Topic", index: int, window: int, min_distance: float):
        self.topic = topic
        self.index = index
        self.created = array("d")
        self.sizes = array("d")
        self.base = 0  # offset of created[0]
        self.head = 0  # index of the log start
        self.bytes = 0.0
        self.position = 0
        self.committed = 0
        self.waiter: Waiter | None = None
        self.retention_lost = 0
        self.peak_lag = 0
        self.consumed = 0
        self.window: deque[list[float]] = deque(maxlen=window)
        self.min_distance = min_distance
        self.owner = -1
        self.worst_status = OK
        self.retention_bytes = topic.retention_bytes

    # ------------------------------------------------------------------ offsets
    @property
    def log_end_offset(self) -> int:
        return self.base + len(self.created)

    @property
    def log_start_offset(self) -> int:
        return self.base + self.head

    @property
    def lag(self) -> int:
        """Log end offset − committed offset (what `kafka-consumer-groups --describe` shows)."""
        return self.base + len(self.created) - self.committed

    def unread(self) -> int:
        """Messages still in the log that the group has not fetched."""
        return self.base + len(self.created) - max(self.position, self.base + self.head)

    def lag_seconds(self, now: float) -> float:
        """Age of the oldest message not yet committed (0 when the group is up to date)."""
        offset = max(self.committed, self.base + self.head)
        index = offset - self.base
        if index >= len(self.created):
            return 0.0
        return now - self.created[index]

    # ------------------------------------------------------------------ retention
    def expire(self, now: float) -> None:
        """Delete messages older than the retention time (Kafka: `retention.ms`)."""
        created = self.created
        head = self.head
        cutoff = now - self.topic.retention_time
        if head < len(created) and created[head] < cutoff:
            self._delete_to(bisect_left(created, cutoff, head))

    def trim_bytes(self) -> None:
        """Delete the oldest messages while the log is over `retention.bytes`."""
        sizes = self.sizes
        head = self.head
        excess = self.bytes - self.retention_bytes
        freed = 0.0
        while freed < excess and head < len(sizes) - 1:
            freed += sizes[head]
            head += 1
        self._delete_to(head)

    def _delete_to(self, new_head: int) -> None:
        old_start = self.base + self.head
        new_start = self.base + new_head
        unread = new_start - max(old_start, self.position)
        if unread > 0:
            self.retention_lost += unread
            self.topic.retention_lost += unread
        sizes = self.sizes
        self.bytes -= sum(sizes[self.head:new_head])
        if new_head >= _COMPACT_AT and new_head * 2 >= len(self.created):
            del self.created[:new_head]
            del sizes[:new_head]
            self.base += new_head
            new_head = 0
        self.head = new_head

    # ------------------------------------------------------------------ commits
    def commit(self, now: float, offset: int) -> None:
        """Store a commit; Burrow keeps the last `window` commits, merging those within `min_distance`."""
        delta = offset - self.committed
        if delta:
            self.committed = offset
            self.topic.lag -= delta
        lag = self.base + len(self.created) - offset
        window = self.window
        if window and now - window[-1][0] < self.min_distance:
            last = window[-1]
            last[1] = offset
            last[2] = lag
        else:
            window.append([now, offset, lag])

    def status(self, now: float) -> int:
        """Burrow status, judged once the window is full (before that: OK, as `complete` < 1)."""
        if len(self.window) < (self.window.maxlen or 0):
            return OK
        return burrow_status(self.window, self.lag, now)


class Topic:
    """A topic: partitions, retention, and the totals the summary reports."""

    def __init__(self, env: "simpy.Environment", spec: "TopicSpec", window: int = 10, min_distance: float = 1.0):
        self.env = env
        self.spec = spec
        self.name = spec.name
        self.retention_time = spec.retention.time if spec.retention.time is not None else float("inf")
        self.retention_bytes = spec.retention.bytes if spec.retention.bytes is not None else float("inf")
        self.time_retention = spec.retention.time is not None
        self.partitions = [Partition(self, i, window, min_distance) for i in range(spec.partitions)]
        self.lag = 0
        self.peak_lag = 0
        self.retention_lost = 0
        self.read_by: str | None = None  # the consumer group reading this topic

    def configure_window(self, window: int, min_distance: float) -> None:
        """Use the reading group's Burrow window (set before the run starts)."""
        for partition in self.partitions:
            partition.window = deque(maxlen=window)
            partition.min_distance = min_distance

    def expire(self, now: float) -> None:
        if self.time_retention:
            for partition in self.partitions:
                partition.expire(now)

    @property
    def produced(self) -> int:
        return sum(p.log_end_offset for p in self.partitions)

    def unread(self) -> int:
        return sum(p.unread() for p in self.partitions)

    def retained(self) -> int:
        return sum(p.log_end_offset - p.log_start_offset for p in self.partitions)

    def bytes(self) -> float:
        return sum(p.bytes for p in self.partitions)
