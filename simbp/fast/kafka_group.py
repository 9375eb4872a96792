"""Fast-mode Kafka consumer groups: members that poll, process and commit counts per quantum.

Each member owns partitions (range or round-robin assignment; members beyond the partition count sit
idle) and processes one message at a time. In a quantum a member can process about `dt / mean`
messages: a renewal count, drawn as its mean plus a normal deviation with the processing time's
squared coefficient of variation (profiled from 4,096 draws), the fractional part carried over so a
constant processing time gives exact counts. It spends them as exact mode's poll loop does: finish
the batch in hand, poll (up to `max_poll_records`, from its partitions in turn, one partition further
at each poll), process, commit after every batch (`every: poll`) or at the first poll after the
interval (auto-commit, also while idle). Many full batches in one quantum are taken together,
shared evenly over the partitions that have data. A resize is an eager rebalance: members finish
their batches, commit and stop; nobody fetches until the pause has passed and every batch is done.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from ..kafka_rules import range_assignment, round_robin_assignment
from ..scenario.schema import ConsumerGroupSpec
from .kafka_log import FastTopic
from .kafka_wait import HealthyWait

__all__ = ["FastConsumerGroup", "FastMember"]

REPRESENTATIVES = 8  # latency values per (partition, processed range) given to the sketch (weighted), at most
RESOLUTION = 0.01  # latencies closer than this (relative) share one representative: the sketch's own resolution
SETTLED = 3.0  # a wait the counts see up to this many p99 sojourns is the healthy queue's own
LOAD_MEMORY = 10.0  # seconds: a member's load (for the wait inside a quantum) is its arrival rate averaged this long
_NORMALS = 4096


class FastMember:
    """One consumer: its partitions, the batch in hand (per partition: fetched, processed), commits."""

    __slots__ = ("index", "partitions", "turn", "batch", "processed", "last_commit", "uncommitted", "leaving", "carry",
                 "values", "weights", "load_key", "settled")

    def __init__(self, index: int, now: float):
        self.index = index
        self.partitions: list[int] = []
        self.turn = 0
        self.batch: list[list[int]] = []  # [partition, fetched, processed, first offset] in fetch order
        self.processed = 0
        self.last_commit = now
        self.uncommitted = False
        self.leaving = False
        self.carry = 0.0
        self.values: list[float] = []  # latencies of the batch's processed messages, recorded when it is done
        self.weights: list[int] = []
        self.load_key = (-1, -1)  # rows of its load and arrival scv in `HealthyWait`
        self.settled = 0.0  # a wait the counts see up to this is the healthy queue's own (`SETTLED`)

    def held(self) -> int:
        """The batch in hand, all of it until it is done (as exact mode counts a poll batch)."""
        return sum(entry[1] for entry in self.batch)


class FastConsumerGroup:
    """A consumer group on one topic: members, assignment, rebalances, counters and latencies."""

    def __init__(self, spec: ConsumerGroupSpec, topic: FastTopic, rng: np.random.Generator, profile: np.ndarray,
                 on_latencies: Callable[[list[float], list[int]], None]):
        self.spec = spec
        self.name = spec.name
        self.topic = topic
        topic.group_name = spec.name
        self.max_poll_records = spec.max_poll_records
        self.commit_interval = spec.commit.interval
        self.rebalance_pause = spec.rebalance_pause
        self.assign = range_assignment if spec.assignment == "range" else round_robin_assignment
        self.mean = float(cast(Any, spec.processing).mean)  # the distribution's own mean: a sample's would bias throughput
        sample_mean = float(np.mean(profile)) if len(profile) else 0.0
        self.scv = float(np.var(profile) / sample_mean ** 2) if sample_mean > 0 else 0.0
        self._rng = rng
        self._normals: list[float] = []
        self._on_latencies = on_latencies
        self._values: list[float] = []
        self._weights: list[int] = []
        self.wait = HealthyWait(self.mean, self.scv, profile, rng)
        self.stream_scv = 1.0  # the topic's arrivals (set by `FastKafka`): 1 for Poisson, 0 evenly spaced
        self.dealt_in_turn = False  # round robin: a partition sees every n-th message (smoother than the stream)
        self._rates = np.zeros(topic.count)
        self._ends = np.asarray(topic.end, dtype=float)
        self._elapsed = 0.0
        self._loaded: list[FastMember] = []
        self._load_matrix = np.zeros((0, topic.count))
        self._scv_rows: list[int] = []
        self.members: list[FastMember] = []
        self.leaving: list[FastMember] = []
        self.departed: list[FastMember] = []
        self.next_index = 0
        self.rebalancing = False
        self.rebalance_until = 0.0
        self.rebalance_started = 0.0
        self.rebalances = 0
        self.rebalance_time = 0.0
        self.processed = 0
        self.consumed = 0
        self.polls = 0
        self.commits = 0
        self.busy_time = 0.0
        self.member_area = 0.0
        self._area_since = 0.0
        self.events: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ membership
    def start(self, members: int, now: float) -> None:
        self._area_since = now
        self.members = [self._new_member(now) for _ in range(members)]
        self._assign()

    def _new_member(self, now: float) -> FastMember:
        member = FastMember(self.next_index, now)
        self.next_index += 1
        return member

    @property
    def size(self) -> int:
        return len(self.members)

    def member_seconds(self, now: float) -> float:
        return self.member_area + (len(self.members) + len(self.leaving)) * (now - self._area_since)

    def _track_members(self, now: float) -> None:
        self.member_area += (len(self.members) + len(self.leaving)) * (now - self._area_since)
        self._area_since = now

    def resize(self, size: int, now: float) -> None:
        """Change the number of members (joins at the end, leaves from the end): an eager rebalance."""
        size = max(size, 0)
        if size == len(self.members):
            return
        self._track_members(now)
        before = len(self.members)
        while len(self.members) < size:
            self.members.append(self._new_member(now))
        while len(self.members) > size:
            member = self.members.pop()
            member.leaving = True
            self.leaving.append(member)
        for member in list(self.leaving):
            if not member.batch:  # nothing in hand: it commits on revoke and leaves now, as in exact mode
                self._depart(member, now)
        self.events.append({"time_s": now, "event": "rebalance", "component": self.name,
                            "detail": f"consumers {before} → {size}; nobody consumes for at least {self.rebalance_pause:g}s"})
        if not self.rebalancing:
            self.rebalancing = True
            self.rebalance_started = now
            self.rebalances += 1
        self.rebalance_until = max(self.rebalance_until, now + self.rebalance_pause)

    def _depart(self, member: FastMember, now: float) -> None:
        """A leaving member with no batch in hand commits and leaves the group (its member seconds end)."""
        if member.uncommitted:
            self._commit(member, now)
        self._track_members(now)
        self.leaving.remove(member)
        member.partitions = []
        self.departed.append(member)

    def _assign(self) -> None:
        topic = self.topic
        for member in self.members:
            member.partitions = []
            member.turn = 0
        topic.owner = [-1] * topic.count
        for member, owned in zip(self.members, self.assign(topic.count, len(self.members))):
            member.partitions = list(owned)
            for partition in owned:
                topic.owner[partition] = member.index
        self._index_loads()

    def _finish_rebalance(self, now: float) -> None:
        """Everyone has finished and committed: assign afresh, resume from the committed offsets."""
        self._track_members(now)
        for member in self.leaving:
            member.partitions = []
            self.departed.append(member)
        self.leaving = []
        self.rebalancing = False
        self.rebalance_time += now - self.rebalance_started
        topic = self.topic
        topic.position = [max(c, s) if c < p else p for c, p, s in zip(topic.committed, topic.position, topic.start)]
        self._assign()

    def active_members(self) -> int:
        return 0 if self.rebalancing else sum(1 for m in self.members if m.partitions)

    def held_items(self) -> int:
        return sum(m.held() for m in self.members) + sum(m.held() for m in self.leaving)

    def busy_seconds(self, now: float) -> float:
        return self.busy_time

    # ------------------------------------------------------------------ one quantum
    def step(self, t0: float, t1: float) -> None:
        dt = t1 - t0
        self._track_load(dt)
        for member in self.members + self.leaving:
            stopping = self.rebalancing or member.leaving
            if member.batch or (member.partitions and not stopping):
                self._run(member, t0, dt)
            if member.leaving and not member.batch:  # its last batch done: it commits on revoke and leaves
                self._depart(member, t1)
            elif stopping and not member.batch and member.uncommitted:  # on revoke: commit and stop
                self._commit(member, t1)
        if self.commit_interval is not None:  # auto-commit goes on while a member waits for data
            for member in self.members:
                due = member.last_commit + self.commit_interval
                if member.uncommitted and not member.batch and due < t1 - 1e-9:
                    self._commit(member, max(due, t0))
        if self.rebalancing and t1 >= self.rebalance_until - 1e-12 and not any(m.batch for m in self.members + self.leaving):
            self._finish_rebalance(t1)
        if len(self._values) >= 8192:
            self.flush_latencies()

    def _track_load(self, dt: float) -> None:
        """Each partition's arrival rate (averaged over `LOAD_MEMORY`), and each member's load from it."""
        if dt <= 0:
            return
        self._elapsed += dt
        weight = max(dt / self._elapsed, 1.0 - math.exp(-dt / LOAD_MEMORY))
        ends = np.asarray(self.topic.end, dtype=float)
        self._rates += weight * ((ends - self._ends) / dt - self._rates)
        self._ends = ends
        if not self._loaded:
            return
        rhos = self._load_matrix @ self._rates
        wait = self.wait
        for member, rho, row, scv in zip(self._loaded, rhos.tolist(), wait.rho_rows(rhos), self._scv_rows):
            key = (row, scv)
            if key != member.load_key or (rho >= 1.0) != (member.settled == 0.0):
                member.load_key = key
                # a member that keeps up on average: waits the counts see, up to a few times the queue's own
                # p99, are that queue seen coarsely (its sojourn covers them); beyond, or overloaded, a backlog
                member.settled = SETTLED * wait.p99(key) if rho < 1.0 else 0.0

    def _index_loads(self) -> None:
        """After an assignment: which partitions' rates make each member's load, and its arrival scv."""
        count = self.topic.count
        self._loaded = [m for m in self.members if m.partitions]
        self._load_matrix = np.zeros((len(self._loaded), count))
        self._scv_rows = []
        for row, member in enumerate(self._loaded):
            self._load_matrix[row, member.partitions] = self.mean
            share = len(member.partitions) / count
            # dealt in turn: the member's count over a long time is `share` of the stream's (scv × share);
            # by key: a random thinning of the stream
            scv = self.stream_scv * share if self.dealt_in_turn else 1.0 - share * (1.0 - self.stream_scv)
            self._scv_rows.append(self.wait.scv_row(scv))
            member.load_key = (-1, -1)

    def _capacity(self, member: FastMember, dt: float) -> tuple[int, float]:
        """Messages the member could process in `dt` (a renewal count), and the unrounded value."""
        if self.mean <= 0:
            return 1 << 60, 0.0
        expected = dt / self.mean
        if not self._normals:
            self._normals = self._rng.standard_normal(_NORMALS).tolist()
        value = expected + member.carry + math.sqrt(self.scv * expected) * self._normals.pop()
        return (max(int(value), 0), value)

    def _run(self, member: FastMember, t0: float, dt: float) -> None:
        capacity, value = self._capacity(member, dt)
        left = capacity
        done = 0
        stopping = self.rebalancing or member.leaving
        while left > 0:
            if not member.batch:
                if stopping:
                    break
                now = t0 + dt * done / capacity
                if self.commit_interval is not None and member.uncommitted and now - member.last_commit >= self.commit_interval:
                    self._commit(member, now)
                if not self._bulk_batches(member, left) and not self._poll(member):
                    break
            batch_left = sum(entry[1] - entry[2] for entry in member.batch)
            take = min(left, batch_left)
            self._process(member, take, t0, dt, done, capacity)
            done += take
            left -= take
            if take == batch_left:  # the batch is done: its messages are consumed
                self._complete(member)
                member.uncommitted = True
                if self.commit_interval is None or stopping:  # every poll; or on revoke during a rebalance
                    self._commit(member, t0 + dt * done / capacity)
        member.carry = value - capacity if left == 0 else 0.0  # a member that ran dry carries no work over
        self.busy_time += done * self.mean

    def _poll(self, member: FastMember) -> bool:
        """Fetch up to `max_poll_records` from the member's partitions in turn; False if none had data."""
        topic = self.topic
        parts = member.partitions
        count = len(parts)
        remaining = self.max_poll_records
        start = member.turn
        member.turn = start + 1 if start + 1 < count else 0
        batch = []
        for step in range(count):
            partition = parts[(start + step) % count]
            self._reset_if_deleted(partition)
            available = topic.end[partition] - topic.position[partition]
            if available > 0:
                take = min(available, remaining)
                batch.append([partition, take, 0, topic.position[partition]])
                topic.position[partition] += take
                remaining -= take
                if remaining == 0:
                    break
        if not batch:
            return False
        member.batch = batch
        self.polls += 1
        return True

    def _reset_if_deleted(self, partition: int) -> None:
        """Retention deleted the position: apply `auto_offset_reset` (latest skips what is left)."""
        topic = self.topic
        if topic.position[partition] >= topic.start[partition]:
            return
        if self.spec.auto_offset_reset == "earliest":
            topic.position[partition] = topic.start[partition]
        else:
            skipped = topic.end[partition] - topic.start[partition]
            topic.retention_lost_by[partition] += skipped
            topic.retention_lost += skipped
            topic.position[partition] = topic.end[partition]

    def _bulk_batches(self, member: FastMember, left: int) -> bool:
        """Two or more full batches fit the quantum: fetch them as one, evenly over the partitions
        with data (what polls in turn do), committed once when done; False when they do not."""
        size = self.max_poll_records
        if left < 2 * size:
            return False
        topic = self.topic
        for partition in member.partitions:
            self._reset_if_deleted(partition)
        unread = {p: topic.end[p] - topic.position[p] for p in member.partitions if topic.end[p] > topic.position[p]}
        batches = min(left // size, sum(unread.values()) // size)
        if batches < 2:
            return False
        shares = _water_fill(unread, batches * size)
        member.batch = [[p, n, 0, topic.position[p]] for p, n in shares.items() if n > 0]
        for partition, n in shares.items():
            topic.position[partition] += n
        self.polls += batches
        if self.commit_interval is None:
            self.commits += batches - 1  # one commit a batch; the last is made when the batch is done
        return True

    def _process(self, member: FastMember, take: int, t0: float, dt: float, done: int, capacity: int) -> None:
        """Process `take` messages of the batch; their latencies are kept until the batch is done.

        The member works through them in `take × h` seconds (h = dt / capacity), its partitions'
        messages interleaved, and no message ends before it was made and processed: a message's
        end is max(its turn in the member's work, its creation + h)."""
        topic = self.topic
        now = t0 + dt
        step = dt / capacity
        values, weights = member.values, member.weights
        total = take
        healthy = 0
        settled = member.settled
        for entry in member.batch:
            if take <= 0:
                break
            partition, fetched, processed, offset = entry
            n = min(fetched - processed, take)
            if n <= 0:
                continue
            first = offset + processed
            born_first = topic.created_consumed(partition, first, now)
            born_last = topic.created_consumed(partition, first + n - 1, now) if n > 1 else born_first
            turn_first = t0 + step * (done + 0.5)
            turn_last = t0 + step * (done + total - 0.5)
            low = max(turn_first - born_first, step)
            high = max(turn_last - born_last, step)
            # as many representatives as the sketch can tell apart (1% buckets), at most REPRESENTATIVES
            groups = min(n, REPRESENTATIVES, 1 + int(abs(high - low) / (RESOLUTION * min(low, high))))
            size, extra = divmod(n, groups)
            at = 0
            for g in range(groups):
                k = size + 1 if g < extra else size
                share = (at + 0.5 * k) / n
                born = born_first + (born_last - born_first) * share
                turn = turn_first + (turn_last - turn_first) * share
                if turn - born > settled:  # behind a backlog the counts see
                    values.append(max(turn - born, step))
                    weights.append(k)
                else:  # the member keeps up: the wait inside the quantum
                    healthy += k
                at += k
            entry[2] = processed + n
            take -= n
        if healthy:
            self.wait.add(member.load_key, healthy)

    def _complete(self, member: FastMember) -> None:
        """The batch in hand is done: count it consumed and give its latencies to the sketch."""
        done = 0
        for partition, fetched, _, _ in member.batch:
            self.topic.consumed_by[partition] += fetched
            done += fetched
        member.batch = []
        member.processed += done
        self.processed += done
        self.consumed += done
        self._values += member.values
        self._weights += member.weights
        member.values, member.weights = [], []

    def _commit(self, member: FastMember, now: float) -> None:
        """Commit the positions of every assigned partition (`commitSync()` / an auto-commit)."""
        topic = self.topic
        for partition in member.partitions:
            topic.commit(partition, now, topic.position[partition] - _in_batch(member, partition))
        self.commits += 1
        member.last_commit = now
        member.uncommitted = False

    def finish_latencies(self) -> None:
        """At the end: the healthy waits' fractional weights, then everything to the sketch."""
        self.wait.drain(self._values, self._weights)
        self.flush_latencies()

    def flush_latencies(self) -> None:
        self.wait.emit(self._values, self._weights)
        if self._values:
            self._on_latencies(self._values, self._weights)
            self._values, self._weights = [], []


def _in_batch(member: FastMember, partition: int) -> int:
    """Messages of `partition` fetched into the member's batch and not yet processed (not committable)."""
    return sum(entry[1] - entry[2] for entry in member.batch if entry[0] == partition)


def _water_fill(available: dict[int, int], total: int) -> dict[int, int]:
    """`total` taken evenly from the partitions, none giving more than it has (whole messages)."""
    shares = dict.fromkeys(available, 0)
    left = total
    open_parts = sorted(available, key=lambda p: available[p])
    while left > 0 and open_parts:
        each, extra = divmod(left, len(open_parts))
        smallest = open_parts[0]
        room = available[smallest] - shares[smallest]
        if room <= each:  # the smallest runs out: give it all, share the rest among the others
            shares[smallest] += room
            left -= room
            open_parts.pop(0)
            continue
        for index, partition in enumerate(open_parts):
            shares[partition] += each + (1 if index < extra else 0)
        left = 0
    return shares
