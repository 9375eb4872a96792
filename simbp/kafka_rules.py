"""Kafka's own rules, shared by both engines: the default partitioner (murmur2), partition choice
by key strategy, the range and round-robin assignors, and LinkedIn Burrow's lag evaluation.

Pure functions with no clock and no engine: exact mode (`simbp.exact.kafka`) applies them message by
message, fast mode (`simbp.fast.kafka`) to counts per quantum.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import cycle
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .scenario.schema import KeySpec

__all__ = [
    "murmur2", "partition_for_key", "partition_choices", "partition_shares", "range_assignment",
    "round_robin_assignment", "burrow_status", "group_status", "STATUS_NAMES", "GROUP_STATUS_NAMES",
    "OK", "WARN", "STOP", "STALL", "write_topic_columns", "write_group_columns",
]

OK, WARN, STOP, STALL = 0, 1, 2, 3
STATUS_NAMES = ("OK", "WARN", "STOP", "STALL")
GROUP_STATUS_NAMES = ("OK", "WARN", "ERR")


# --------------------------------------------------------------------------- partitioning
def murmur2(data: bytes) -> int:
    """Kafka's `Utils.murmur2`: the 32-bit hash (as a signed Java int) used to place keyed messages."""
    m = 0x5BD1E995
    mask = 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    rest = length % 4
    tail = length - rest
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for_key(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a key: `toPositive(murmur2(key)) % partitions`."""
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


def partition_choices(spec: KeySpec | None, partitions: int, rng: np.random.Generator, block: int = 4096) -> Iterator[int]:
    """An endless iterator of partition indices for a producer's messages."""
    if spec is None or spec.strategy == "round_robin":
        return cycle(range(partitions))
    hot = partition_for_key("key-0", partitions)
    share = spec.hot_key_share
    if spec.keys is not None:
        table = np.array([partition_for_key(f"key-{k}", partitions) for k in range(spec.keys)], dtype=np.int64)

        def draw(n: int) -> np.ndarray:
            return table[rng.integers(0, len(table), n)]
    else:
        def draw(n: int) -> np.ndarray:
            return rng.integers(0, partitions, n)

    def blocks() -> Iterator[int]:
        while True:
            chosen = draw(block)
            if share > 0:
                chosen = np.where(rng.random(block) < share, hot, chosen)
            yield from chosen.tolist()

    return blocks()


def range_assignment(partitions: int, members: int) -> list[list[int]]:
    """Kafka's RangeAssignor for one topic: contiguous ranges, the first `partitions % members` get one more."""
    if members <= 0:
        return []
    per, extra = divmod(partitions, members)
    result = []
    for index in range(members):
        start = per * index + min(index, extra)
        length = per + (1 if index < extra else 0)
        result.append(list(range(start, start + length)))
    return result


def round_robin_assignment(partitions: int, members: int) -> list[list[int]]:
    """Kafka's RoundRobinAssignor for one topic: partitions dealt to members in turn."""
    if members <= 0:
        return []
    result: list[list[int]] = [[] for _ in range(members)]
    for partition in range(partitions):
        result[partition % members].append(partition)
    return result


# --------------------------------------------------------------------------- Burrow
def burrow_status(window: Sequence[Sequence[float]], current_lag: int, now: float) -> int:
    """A partition's status by Burrow's rules, from its window of commits `(time, offset, lag)`.

    With lag now and never zero in the window: STOP when the last commit is older than the span
    of the window; STALL when every commit has the same offset; WARN when the lag never went
    down from one commit to the next; otherwise (or with no lag) OK. Offsets never rewind here.
    """
    if current_lag <= 0 or not window:
        return OK
    for entry in window:
        if entry[2] == 0:
            return OK
    first, last = window[0][0], window[-1][0]
    if now - last > last - first:
        return STOP
    offset = window[0][1]
    if all(entry[1] == offset for entry in window):
        return STALL
    if all(window[i][2] >= window[i - 1][2] for i in range(1, len(window))):
        return WARN
    return OK


def partition_shares(spec: KeySpec | None, partitions: int) -> np.ndarray | None:
    """The share of a producer's messages each partition gets by key (`hash`); None for round robin,
    which deals them in turn. The same key table and hot key as `partition_choices`."""
    if spec is None or spec.strategy == "round_robin":
        return None
    if spec.keys is not None:
        table = np.array([partition_for_key(f"key-{k}", partitions) for k in range(spec.keys)], dtype=np.int64)
        shares = np.bincount(table, minlength=partitions) / len(table)
    else:
        shares = np.full(partitions, 1.0 / partitions)
    if spec.hot_key_share > 0:
        shares = shares * (1.0 - spec.hot_key_share)
        shares[partition_for_key("key-0", partitions)] += spec.hot_key_share
    return shares


def group_status(statuses: Sequence[int]) -> int:
    """Burrow's group status: the worst partition, with STOP and STALL both counted as ERR."""
    worst = max(statuses, default=OK)
    return 2 if worst >= STOP else worst


# --------------------------------------------------------------------------- time-series columns
def _interval(row: dict[str, Any], last: dict[str, float], key: str, total: float) -> None:
    """`row[key]`: the change of a cumulative `total` since the previous row (kept in `last`)."""
    row[key] = total - last.get(key, 0)
    last[key] = total


def write_topic_columns(row: dict[str, Any], last: dict[str, float], name: str, *, lag: float, lag_s: float,
                        retained: float, bytes_held: float, produced: float, retention_lost: float) -> None:
    """A topic's columns of one time-series row, the same for both engines (after its partitions')."""
    row[f"{name}.lag"] = lag
    row[f"{name}.lag_s"] = lag_s
    row[f"{name}.retained"] = retained
    row[f"{name}.bytes"] = bytes_held
    _interval(row, last, f"{name}.produced", produced)
    _interval(row, last, f"{name}.retention_lost", retention_lost)


def write_group_columns(row: dict[str, Any], last: dict[str, float], name: str, *, size: int, active: int,
                        rebalancing: bool, consumed: float, busy: float, members: float,
                        statuses: Sequence[int]) -> None:
    """A consumer group's columns of one time-series row, the same for both engines: members,
    consumption and utilisation since the previous row, and Burrow's status per partition."""
    row[f"{name}.consumers"] = size
    row[f"{name}.consumers_active"] = active
    row[f"{name}.rebalancing"] = 1.0 if rebalancing else 0.0
    _interval(row, last, f"{name}.consumed", consumed)
    span = members - last.get(f"{name}.members", 0.0)
    row[f"{name}.utilisation"] = (busy - last.get(f"{name}.busy", 0.0)) / span if span > 0 else 0.0
    last[f"{name}.busy"] = busy
    last[f"{name}.members"] = members
    for index, status in enumerate(statuses):
        row[f"{name}.p{index}.status"] = status
    row[f"{name}.status"] = group_status(statuses)
