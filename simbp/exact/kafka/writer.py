"""Producers writing to a topic: Kafka's default partitioner (murmur2 of the key) and the append.

A topic never refuses a message and never blocks its producer; its storage is the broker's disk,
not the service's memory (`Broker` stands in for the service). Keys follow the producer's key
strategy: round robin, a fixed set of keys hashed as Kafka's default partitioner does, or random
partitions, optionally with a hot key taking a share of the messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...kafka_rules import murmur2, partition_choices, partition_for_key
from ..buffer import ACCEPTED
from .log import Topic

if TYPE_CHECKING:
    pass

__all__ = ["murmur2", "partition_for_key", "partition_choices", "Broker", "TopicWriter"]


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
