"""Consumer groups: assignment, members that poll, process and commit, and eager rebalances.

Each partition is read by exactly one member (Kafka's range or round-robin assignor); members
beyond the partition count sit idle. A member polls up to `max_poll_records` from its partitions
in turn, processes them one after another (one SimPy timeout per batch, not per message), and
commits its positions after each poll or, with auto-commit, when the interval is up (also while
it waits for data). A member with nothing to fetch waits on its partitions and is woken by the
next append. A change in the group's size is an eager rebalance: every member finishes its batch,
commits and stops; nobody consumes until the pause has passed and the last batch is done.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np

from ...kafka_rules import range_assignment, round_robin_assignment
from ..clock import Timer, after
from .log import Partition, Topic

if TYPE_CHECKING:
    import simpy

    from ...scenario.schema import ConsumerGroupSpec

__all__ = ["range_assignment", "round_robin_assignment", "GroupMember", "ConsumerGroup"]

_NUMPY_BATCH = 32  # batches at least this long compute their latencies with numpy
_FLUSH_EVERY = 1 << 14  # latencies kept before they go to the sketch
_NOTHING = array("d")  # no messages held (never changed: a poll builds a new array)


class GroupMember:
    """One consumer of a group: poll, process the batch message by message, commit, poll again."""

    __slots__ = ("group", "index", "env", "partitions", "turn", "pending", "busy_until", "started",
                 "created", "times", "fetched", "waiting", "processed", "last_commit", "uncommitted",
                 "leaving", "commit_timer", "timer")

    def __init__(self, group: "ConsumerGroup", index: int):
        self.group = group
        self.index = index
        self.env = group.env
        self.partitions: list[Partition] = []
        self.turn = 0
        self.pending: Any = None
        self.busy_until = 0.0
        self.started = 0.0
        self.created = array("d")
        self.times: list[float] = []
        self.fetched: list[tuple[Partition, int]] = []
        self.waiting = False
        self.processed = 0
        self.last_commit = self.env.now
        self.uncommitted = False
        self.leaving = False
        self.commit_timer: Any = None
        self.timer = Timer(self.env, self._done)  # each batch's processing (a member never drops one)

    def held(self) -> int:
        return len(self.created) if self.pending is not None else 0

    def poll(self) -> None:
        """Fetch up to `max_poll_records` from the assigned partitions (in turn) and process them."""
        group = self.group
        parts = self.partitions
        if group.rebalancing or self.leaving or not parts:
            return
        now = self.env.now
        if group.commit_interval is not None and self.uncommitted and now - self.last_commit >= group.commit_interval:
            self.commit(now)
        count = len(parts)
        remaining = group.max_poll_records
        fetched: list[tuple[Partition, int]] = []
        created = _NOTHING
        topic = group.topic
        time_retention = topic.time_retention
        cutoff = now - topic.retention_time
        start = self.turn
        self.turn = start + 1 if start + 1 < count else 0
        for step in range(count):
            partition = parts[(start + step) % count] if count > 1 else parts[0]
            if time_retention:  # `partition.expire(now)` when the oldest message is due (its test, inlined)
                head = partition.head
                if head < len(partition.created) and partition.created[head] < cutoff:
                    partition.expire(now)
            position = partition.position
            base = partition.base
            if position < base + partition.head:
                position = group.reset_position(partition, base + partition.head)
            log = partition.created
            available = base + len(log) - position
            if available > 0:
                take = available if available < remaining else remaining
                index = position - base
                if fetched:
                    created.extend(log[index:index + take])
                else:
                    created = log[index:index + take]  # a new array (a slice copies)
                partition.position = position + take
                fetched.append((partition, take))
                remaining -= take
                if remaining == 0:
                    break
        if not fetched:
            self.waiting = True
            for partition in parts:
                partition.waiter = self
            if self.uncommitted and group.commit_interval is not None:
                self._schedule_commit(now)
            return
        n = len(created)
        times = list(islice(group.processing, n)) if n > 1 else [next(group.processing)]
        duration = sum(times)
        group.polls += 1
        self.created = created
        self.times = times
        self.fetched = fetched
        self.started = now
        self.busy_until = now + duration
        group.busy_time += duration
        self.pending = self.timer.arm(duration)

    def wake(self) -> None:
        """A message arrived on a partition this member waits on (fetch.min.bytes = 1)."""
        for partition in self.partitions:
            partition.waiter = None
        self.waiting = False
        self.poll()

    def stop_waiting(self) -> None:
        if self.waiting:
            for partition in self.partitions:
                if partition.waiter is self:
                    partition.waiter = None
            self.waiting = False

    def _done(self, event: Any) -> None:
        if event is not self.pending:
            return
        self.pending = None
        group = self.group
        created = self.created
        n = len(created)
        t0 = self.started
        if n < _NUMPY_BATCH:  # each message ends when the ones before it in the batch are done
            append = group.latencies.append
            end = t0
            for duration, born in zip(self.times, created):
                end += duration
                append(end - born)
        else:
            ends = t0 + np.cumsum(np.asarray(self.times, dtype=float))
            group.latency_arrays.append(ends - np.frombuffer(created, dtype=float))
            group.latency_count += n
        for partition, take in self.fetched:
            partition.consumed += take
        self.processed += n
        group.processed += n
        group.consumed += n
        self.created = _NOTHING
        self.fetched = []
        self.uncommitted = True
        now = self.env.now
        if group.commit_interval is None:
            self.commit(now)
        if len(group.latencies) + group.latency_count >= _FLUSH_EVERY:
            group.flush_latencies()
        if group.rebalancing or self.leaving:
            group.member_finished(self)
            return
        self.poll()

    def commit(self, now: float) -> None:
        """Commit the positions of every assigned partition (`commitSync()` / an auto-commit)."""
        for partition in self.partitions:
            partition.commit(now, partition.position)
        self.group.commits += 1
        self.last_commit = now
        self.uncommitted = False

    def _schedule_commit(self, now: float) -> None:
        """Auto-commit goes on while a member waits for data: commit when the interval is up."""
        if self.commit_timer is not None and not self.commit_timer.processed:
            return  # one timer at a time; it re-arms itself if it fires early
        due = self.last_commit + self.group.commit_interval  # type: ignore[operator]
        self.commit_timer = after(self.env, max(due - now, 0.0), self._commit_due)

    def _commit_due(self, event: Any) -> None:
        if event is not self.commit_timer:
            return
        self.commit_timer = None
        if not (self.waiting and self.uncommitted):
            return
        now = self.env.now
        if now - self.last_commit >= self.group.commit_interval - 1e-9:  # type: ignore[operator]
            self.commit(now)
        else:
            self._schedule_commit(now)


class ConsumerGroup:
    """A consumer group on one topic: members, assignment, rebalances, counters and latency log."""

    def __init__(self, env: "simpy.Environment", spec: "ConsumerGroupSpec", topic: Topic,
                 processing: Iterator[float], on_latencies: Callable[[np.ndarray], None]):
        self.env = env
        self.spec = spec
        self.name = spec.name
        self.topic = topic
        topic.read_by = spec.name
        self.processing = processing
        self.max_poll_records = spec.max_poll_records
        self.commit_interval = spec.commit.interval
        self.rebalance_pause = spec.rebalance_pause
        self.assign = range_assignment if spec.assignment == "range" else round_robin_assignment
        self._on_latencies = on_latencies
        self.members: list[GroupMember] = []
        self.leaving: list[GroupMember] = []
        self.next_index = 0
        self.rebalancing = False
        self.rebalance_until = 0.0
        self.rebalance_started = 0.0
        self.rebalances = 0
        self.rebalance_time = 0.0
        self.latencies: list[float] = []
        self.latency_arrays: list[np.ndarray] = []
        self.latency_count = 0
        self.processed = 0
        self.consumed = 0
        self.polls = 0
        self.commits = 0
        self.busy_time = 0.0
        self.member_area = 0.0
        self._area_since = 0.0
        self.events: list[dict[str, Any]] = []
        self.departed: list[GroupMember] = []

    # ------------------------------------------------------------------ membership
    def start(self, members: int) -> None:
        """The initial members join at time 0 and are assigned at once (no rebalance pause)."""
        self._area_since = self.env.now
        for _ in range(members):
            self.members.append(self._new_member())
        self._assign()
        for member in self.members:
            member.poll()

    def _new_member(self) -> GroupMember:
        member = GroupMember(self, self.next_index)
        self.next_index += 1
        return member

    def _track_members(self) -> None:
        now = self.env.now
        self.member_area += (len(self.members) + len(self.leaving)) * (now - self._area_since)
        self._area_since = now

    def member_seconds(self, now: float) -> float:
        return self.member_area + (len(self.members) + len(self.leaving)) * (now - self._area_since)

    def resize(self, size: int) -> None:
        """Change the number of members (joins at the end, leaves from the end): an eager rebalance."""
        size = max(size, 0)
        if size == len(self.members):
            return
        self._track_members()
        before = len(self.members)
        while len(self.members) < size:
            self.members.append(self._new_member())
        while len(self.members) > size:
            member = self.members.pop()
            member.leaving = True
            self.leaving.append(member)
        self.events.append({"time_s": self.env.now, "event": "rebalance", "component": self.name,
                            "detail": f"consumers {before} → {size}; nobody consumes for at least {self.rebalance_pause:g}s"})
        self._begin_rebalance()

    def _begin_rebalance(self) -> None:
        now = self.env.now
        if not self.rebalancing:
            self.rebalancing = True
            self.rebalance_started = now
            self.rebalances += 1
        self.rebalance_until = max(self.rebalance_until, now + self.rebalance_pause)
        for member in self.members + self.leaving:
            if member.pending is None:
                self.member_finished(member)
        after(self.env, self.rebalance_until - now, lambda _event: self._try_finish())

    def member_finished(self, member: GroupMember) -> None:
        """A member has no batch in progress during a rebalance: it commits (on revoke) and stops."""
        member.stop_waiting()
        if member.uncommitted:
            member.commit(self.env.now)
        if member.leaving and member in self.leaving:
            self._track_members()
            self.leaving.remove(member)
            member.partitions = []
            self.departed.append(member)
        self._try_finish()

    def _try_finish(self) -> None:
        if not self.rebalancing or self.env.now < self.rebalance_until - 1e-12:
            return
        if self.leaving or any(m.pending is not None for m in self.members):
            return
        self.rebalancing = False
        self.rebalance_time += self.env.now - self.rebalance_started
        self._assign()
        for member in self.members:
            member.poll()

    def _assign(self) -> None:
        partitions = self.topic.partitions
        for member in self.members:
            member.stop_waiting()
            member.partitions = []
            member.turn = 0
        for partition in partitions:
            partition.owner = -1
        for member, owned in zip(self.members, self.assign(len(partitions), len(self.members))):
            member.partitions = [partitions[i] for i in owned]
            for partition in member.partitions:
                partition.owner = member.index

    def reset_position(self, partition: Partition, log_start: int) -> int:
        """The position fell below the log start (retention deleted it): apply `auto_offset_reset`."""
        if self.spec.auto_offset_reset == "earliest":
            position = log_start
        else:
            position = partition.log_end_offset
            skipped = position - log_start
            partition.retention_lost += skipped
            self.topic.retention_lost += skipped
        partition.position = position
        return position

    # ------------------------------------------------------------------ measures
    @property
    def size(self) -> int:
        return len(self.members)

    def active_members(self) -> int:
        """Members that own at least one partition and may consume now (0 during a rebalance)."""
        if self.rebalancing:
            return 0
        return sum(1 for m in self.members if m.partitions)

    def held_items(self) -> int:
        return sum(m.held() for m in self.members) + sum(m.held() for m in self.leaving)

    def busy_seconds(self, now: float) -> float:
        ahead = sum(m.busy_until - now for m in self.members + self.leaving if m.pending is not None and m.busy_until > now)
        return self.busy_time - ahead

    def rebalancing_seconds(self, now: float) -> float:
        return self.rebalance_time + (now - self.rebalance_started if self.rebalancing else 0.0)

    def flush_latencies(self) -> None:
        if self.latencies:
            self._on_latencies(np.asarray(self.latencies, dtype=float))
            self.latencies = []
        if self.latency_arrays:
            self._on_latencies(np.concatenate(self.latency_arrays))
            self.latency_arrays = []
            self.latency_count = 0

    def statuses(self, now: float) -> list[int]:
        """Burrow status of every partition now; remembers the worst seen per partition."""
        result = []
        for partition in self.topic.partitions:
            status = partition.status(now)
            if status > partition.worst_status:
                partition.worst_status = status
            result.append(status)
        return result
