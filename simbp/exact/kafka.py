"""Kafka: topics of partitioned logs on the broker, producers choosing partitions, consumer groups.

Faithful to Kafka where it matters for backpressure:

* A topic never refuses a message and never blocks its producer. Each partition is an ordered log
  kept on the broker's disk (not in the service's memory) until retention deletes it: by age
  (`retention.ms`) and/or by size per partition (`retention.bytes`). A message deleted before its
  group read it is lost (counted as `dropped`, per topic as `retention_lost`).
* Each partition is read by exactly one member of a consumer group (range or round-robin
  assignment); members beyond the partition count get nothing and sit idle.
* A member polls up to `max_poll_records` from its partitions, processes them one after another
  (per-message time), and commits its positions after each poll or on an interval (auto-commit).
* A change in the group's size is an eager rebalance: every member finishes its batch, commits and
  stops; nobody consumes until the pause has passed and the last batch is done.
* Lag is log end offset − committed offset (messages) and the age of the oldest uncommitted
  message (seconds); each partition's status follows LinkedIn Burrow's evaluation rules.

Storage is compact: per partition two `array('d')` columns (creation time, bytes) with a moving
head; retention by time is a head advance found by bisection. One SimPy timeout per poll batch
(not per message); a member waiting for data is woken directly by the append.

simbp models one consumer group per topic, so a partition carries its group's offsets.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np

from ..kafka_rules import (  # Kafka's partitioner, assignors and Burrow's rules, shared with fast mode
    GROUP_STATUS_NAMES,
    OK,
    STALL,
    STATUS_NAMES,
    STOP,
    WARN,
    burrow_status,
    group_status,
    murmur2,
    partition_choices,
    partition_for_key,
    range_assignment,
    round_robin_assignment,
)
from ..metrics import LatencySketch
from ..random import sampler
from .buffer import ACCEPTED

if TYPE_CHECKING:
    import simpy

    from ..scenario.schema import ConsumerGroupSpec, ProducerSpec, TopicSpec
    from .model import Model

__all__ = [
    "Topic", "Partition", "TopicWriter", "ConsumerGroup", "GroupMember", "KafkaSystem", "Broker",
    "murmur2", "partition_for_key", "range_assignment", "round_robin_assignment", "burrow_status",
    "STATUS_NAMES", "GROUP_STATUS_NAMES", "OK", "WARN", "STOP", "STALL",
]

_COMPACT_AT = 1 << 16
_NUMPY_BATCH = 32
_FLUSH_EVERY = 1 << 14


# --------------------------------------------------------------------------- topic
class Broker:
    """What a producer writing to a topic sees in place of the service: never down, holds no memory."""

    down = False
    crashes = 0

    def hold(self, size: float) -> None:
        """Topic storage is the broker's disk, not the service's memory."""

    def release(self, size: float) -> None:
        """Nothing to release (see `hold`)."""


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
        self.waiter: GroupMember | None = None
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

    def _trim_bytes(self) -> None:
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
        self.group: ConsumerGroup | None = None

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


class TopicWriter:
    """A producer's view of a topic: `put` appends to the partition its key strategy picks."""

    def __init__(self, topic: Topic, choices: Iterator[int]):
        self.topic = topic
        self.name = topic.name
        self.partitions = topic.partitions
        self.choices = choices

    def put(self, created: float, size: float) -> int:
        """Append one message (a topic never refuses or blocks); wake the member waiting on it."""
        partition = self.partitions[next(self.choices)]
        partition.created.append(created)
        partition.sizes.append(size)
        partition.bytes += size
        topic = self.topic
        lag = topic.lag + 1
        topic.lag = lag
        if lag > topic.peak_lag:
            topic.peak_lag = lag
        if partition.bytes > partition.retention_bytes:
            partition._trim_bytes()
        if partition.waiter is not None:
            partition.waiter.wake()
        return ACCEPTED


# --------------------------------------------------------------------------- consumer group
class GroupMember:
    """One consumer of a group: poll, process the batch message by message, commit, poll again."""

    __slots__ = ("group", "index", "env", "partitions", "turn", "pending", "busy_until", "started",
                 "created", "times", "fetched", "waiting", "processed", "last_commit", "uncommitted",
                 "leaving", "commit_timer")

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

    def held(self) -> int:
        return len(self.created) if self.pending is not None else 0

    def poll(self) -> None:
        """Fetch up to `max_poll_records` from the assigned partitions (in turn) and process them."""
        group = self.group
        if group.rebalancing or self.leaving or not self.partitions:
            return
        now = self.env._now
        if group.commit_interval is not None and self.uncommitted and now - self.last_commit >= group.commit_interval:
            self.commit(now)
        parts = self.partitions
        count = len(parts)
        remaining = group.max_poll_records
        fetched = []
        created = array("d")
        time_retention = group.topic.time_retention
        start = self.turn
        self.turn = start + 1 if start + 1 < count else 0
        for step in range(count):
            partition = parts[(start + step) % count]
            if time_retention:
                partition.expire(now)
            position = partition.position
            log_start = partition.base + partition.head
            if position < log_start:
                position = group.reset_position(partition, log_start)
            available = partition.base + len(partition.created) - position
            if available > 0:
                take = available if available < remaining else remaining
                index = position - partition.base
                created.extend(partition.created[index:index + take])
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
        times = list(islice(group.processing, n))
        duration = sum(times)
        group.polls += 1
        self.created = created
        self.times = times
        self.fetched = fetched
        self.started = now
        self.busy_until = now + duration
        group.busy_time += duration
        event = self.env.timeout(duration)
        event.callbacks.append(self._done)
        self.pending = event

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
        self.created = array("d")
        self.fetched = []
        self.uncommitted = True
        now = self.env._now
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
        timer = self.env.timeout(max(due - now, 0.0))
        timer.callbacks.append(self._commit_due)
        self.commit_timer = timer

    def _commit_due(self, event: Any) -> None:
        if event is not self.commit_timer:
            return
        self.commit_timer = None
        if not (self.waiting and self.uncommitted):
            return
        now = self.env._now
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
        topic.group = self
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
        self.member_counts: list[int] = []
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
        timer = self.env.timeout(self.rebalance_until - now)
        timer.callbacks.append(lambda _event: self._try_finish())

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


# --------------------------------------------------------------------------- the whole Kafka part
class KafkaSystem:
    """Topics, their writers and consumer groups (and autoscalers) for one model run."""

    def __init__(self, model: "Model"):
        from .autoscale import Autoscaler

        scenario = model.scenario
        self.env = model.env
        self.model = model
        self.broker = Broker()
        self.topics: dict[str, Topic] = {spec.name: Topic(model.env, spec) for spec in scenario.topics}
        self.groups: dict[str, ConsumerGroup] = {}
        self.autoscalers: dict[str, Autoscaler] = {}
        interval = model.interval_sketch
        for spec in scenario.consumer_groups:
            topic = self.topics[spec.topic]
            topic.configure_window(spec.lag_status.window, spec.lag_status.min_distance)
            sketch = LatencySketch()
            model.sketch_by_group[spec.name] = sketch

            def on_latencies(values: np.ndarray, sketch: LatencySketch = sketch) -> None:
                sketch.add_many(values)
                interval.add_many(values)

            processing = sampler(spec.processing, model.seeds.generator(f"consumer_group/{spec.name}/processing"), scenario.base_dir)
            group = ConsumerGroup(model.env, spec, topic, processing, on_latencies)
            self.groups[spec.name] = group
            if spec.autoscale is not None:
                self.autoscalers[spec.name] = Autoscaler(
                    model.env, spec.autoscale, spec.name, measure=lambda t=topic: float(t.lag),
                    size=lambda g=group: g.size, resize=group.resize, cap=len(topic.partitions))
        self._last: dict[str, float] = {}
        self._warm: dict[str, float] = {}

    def writer(self, spec: "ProducerSpec") -> TopicWriter:
        """The topic writer for a producer, with its own stream for key choices."""
        topic = self.topics[spec.to]
        choices = partition_choices(spec.key, len(topic.partitions), self.model.seeds.generator(f"producer/{spec.name}/key"))
        return TopicWriter(topic, choices)

    def start(self) -> None:
        for group in self.groups.values():
            group.start(group.spec.initial_consumers)
        for scaler in self.autoscalers.values():
            scaler.start()

    def flush(self) -> None:
        for group in self.groups.values():
            group.flush_latencies()

    def settle(self) -> None:
        """Apply time retention up to now (it is applied lazily; every observation settles first)."""
        now = self.env.now
        for topic in self.topics.values():
            topic.expire(now)

    def totals(self) -> dict[str, int]:
        """Dropped (deleted unread by retention), consumed and in flight (unread + held by members)."""
        self.settle()
        dropped = sum(t.retention_lost for t in self.topics.values())
        consumed = sum(g.consumed for g in self.groups.values())
        in_flight = sum(t.unread() for t in self.topics.values()) + sum(g.held_items() for g in self.groups.values())
        return {"dropped": dropped, "consumed": consumed, "in_flight": in_flight}

    def peak_queue_depth(self) -> int:
        """The highest lag any topic reached (messages)."""
        return max((t.peak_lag for t in self.topics.values()), default=0)

    def end_warmup(self) -> None:
        now = self.env.now
        for group in self.groups.values():
            self._warm[f"{group.name}.busy"] = group.busy_seconds(now)
            self._warm[f"{group.name}.members"] = group.member_seconds(now)

    # ------------------------------------------------------------------ time series
    def sample(self, row: dict[str, float]) -> None:
        """Add the Kafka columns to one time-series row (per-interval figures are differences)."""
        now = self.env.now
        self.settle()
        last = self._last
        for topic in self.topics.values():
            name = topic.name
            lag_s = 0.0
            for partition in topic.partitions:
                seconds = partition.lag_seconds(now)
                lag = partition.lag
                if lag > partition.peak_lag:
                    partition.peak_lag = lag
                row[f"{name}.p{partition.index}.lag"] = lag
                row[f"{name}.p{partition.index}.lag_s"] = seconds
                if seconds > lag_s:
                    lag_s = seconds
            row[f"{name}.lag"] = topic.lag
            row[f"{name}.lag_s"] = lag_s
            row[f"{name}.retained"] = topic.retained()
            row[f"{name}.bytes"] = topic.bytes()
            produced = topic.produced
            row[f"{name}.produced"] = produced - last.get(f"{name}.produced", 0)
            last[f"{name}.produced"] = produced
            row[f"{name}.retention_lost"] = topic.retention_lost - last.get(f"{name}.retention_lost", 0)
            last[f"{name}.retention_lost"] = topic.retention_lost
        for group in self.groups.values():
            name = group.name
            row[f"{name}.consumers"] = group.size
            row[f"{name}.consumers_active"] = group.active_members()
            row[f"{name}.rebalancing"] = 1.0 if group.rebalancing else 0.0
            row[f"{name}.consumed"] = group.consumed - last.get(f"{name}.consumed", 0)
            last[f"{name}.consumed"] = group.consumed
            busy = group.busy_seconds(now)
            members = group.member_seconds(now)
            span = members - last.get(f"{name}.members", 0.0)
            row[f"{name}.utilisation"] = (busy - last.get(f"{name}.busy", 0.0)) / span if span > 0 else 0.0
            last[f"{name}.busy"] = busy
            last[f"{name}.members"] = members
            statuses = group.statuses(now)
            for index, status in enumerate(statuses):
                row[f"{name}.p{index}.status"] = status
            row[f"{name}.status"] = group_status(statuses)

    # ------------------------------------------------------------------ summary
    def components(self) -> dict[str, dict[str, Any]]:
        """Summary entries for every topic and consumer group."""
        now = self.env.now
        self.settle()
        result: dict[str, dict[str, Any]] = {}
        for topic in self.topics.values():
            group = topic.group
            produced = topic.produced
            result[topic.name] = {
                "kind": "topic", "partitions": len(topic.partitions),
                "retention_time_s": topic.spec.retention.time, "retention_bytes": topic.spec.retention.bytes,
                "produced": produced, "dropped": topic.retention_lost, "retention_lost": topic.retention_lost,
                "in_flight_at_end": topic.unread(), "lag": topic.lag,
                "lag_s": max((p.lag_seconds(now) for p in topic.partitions), default=0.0),
                "peak_queue_depth": topic.peak_lag, "retained": topic.retained(), "bytes": topic.bytes(),
                "loss_ratio": topic.retention_lost / produced if produced else 0.0,
                "read_by": group.name if group is not None else None,
                "partition_detail": [{
                    "partition": p.index, "produced": p.log_end_offset, "log_start_offset": p.log_start_offset,
                    "log_end_offset": p.log_end_offset, "committed_offset": p.committed, "lag": p.lag,
                    "lag_s": p.lag_seconds(now), "peak_lag_sampled": p.peak_lag, "retention_lost": p.retention_lost,
                    "consumed": p.consumed, "owner": None if p.owner < 0 else p.owner,
                } for p in topic.partitions],
            }
        for group in self.groups.values():
            busy = group.busy_seconds(now) - self._warm.get(f"{group.name}.busy", 0.0)
            members = group.member_seconds(now) - self._warm.get(f"{group.name}.members", 0.0)
            statuses = group.statuses(now)
            everyone = sorted(group.members + group.leaving + group.departed, key=lambda m: m.index)
            entry: dict[str, Any] = {
                "kind": "consumer_group", "topic": group.topic.name, "consumers": group.size,
                "consumers_active": group.active_members(),
                "idle_consumers": sum(1 for m in group.members if not m.partitions),
                "assignment": group.spec.assignment, "max_poll_records": group.max_poll_records,
                "processed": group.processed, "consumed": group.consumed, "in_flight_at_end": group.held_items(),
                "utilisation": busy / members if members > 0 else 0.0,
                "polls": group.polls, "mean_poll_size": group.processed / group.polls if group.polls else None,
                "commits": group.commits, "rebalances": group.rebalances,
                "rebalancing_s": group.rebalancing_seconds(now),
                "lag": group.topic.lag, "status": GROUP_STATUS_NAMES[group_status(statuses)],
                "partition_status": {str(i): STATUS_NAMES[s] for i, s in enumerate(statuses)},
                "worst_partition_status": {str(p.index): STATUS_NAMES[p.worst_status] for p in group.topic.partitions},
                "consumer_detail": [{"consumer": m.index, "partitions": [p.index for p in m.partitions],
                                     "processed": m.processed, "member": m in group.members} for m in everyone],
            }
            scaler = self.autoscalers.get(group.name)
            if scaler is not None:
                entry["autoscale"] = scaler.summary()
            result[group.name] = entry
        return result

    def events(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for group in self.groups.values():
            rows += group.events
        for scaler in self.autoscalers.values():
            rows += scaler.events
        return rows
