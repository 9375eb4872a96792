"""Producers writing to a topic: Kafka's default partitioner (murmur2 of the key) and the append.

A topic never refuses a message and never blocks its producer; its storage is the broker's disk,
not the service's memory (`Broker` stands in for the service). Keys follow the producer's key
strategy: round robin, a fixed set of keys hashed as Kafka's default partitioner does, or random
partitions, optionally with a hot key taking a share of the messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import cycle
from typing import TYPE_CHECKING

import numpy as np

from ..buffer import ACCEPTED
from .log import Topic

if TYPE_CHECKING:
    from ...scenario.schema import KeySpec

__all__ = ["murmur2", "partition_for_key", "partition_choices", "Broker", "TopicWriter"]


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


def partition_choices(spec: "KeySpec | None", partitions: int, rng: np.random.Generator, block: int = 4096) -> Iterator[int]:
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



class Broker:
    """What a producer writing to a topic sees in place of the service: never down, holds no memory."""

    down = False
    crashes = 0

    def hold(self, size: float) -> None:
        """Topic storage is the broker's disk, not the service's memory."""

    def release(self, size: float) -> None:
        """Nothing to release (see `hold`)."""



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
            partition.trim_bytes()
        if partition.waiter is not None:
            partition.waiter.wake()
        return ACCEPTED
