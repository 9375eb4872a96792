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

One module per job, imported in this order (none imports a later one):

| module | job |
|---|---|
| `log` | `Topic`, `Partition`: the logs, retention, offsets and commits |
| `writer` | `TopicWriter`, `Broker`, `murmur2`: a producer's key → partition and the append |
| `group` | `ConsumerGroup`, `GroupMember`, assignors: poll, process, commit, eager rebalance |
| `system` | `KafkaSystem`: the engine extension that builds them and reports (docs/kafka.md) |
"""

from __future__ import annotations

from ...kafka_rules import GROUP_STATUS_NAMES, OK, STALL, STATUS_NAMES, STOP, WARN, burrow_status, group_status
from .group import ConsumerGroup, GroupMember, range_assignment, round_robin_assignment
from .log import Partition, Topic
from .system import KafkaSystem
from .writer import Broker, TopicWriter, murmur2, partition_choices, partition_for_key

__all__ = [
    "Topic", "Partition", "TopicWriter", "ConsumerGroup", "GroupMember", "KafkaSystem", "Broker",
    "murmur2", "partition_for_key", "partition_choices", "range_assignment", "round_robin_assignment",
    "burrow_status", "group_status", "STATUS_NAMES", "GROUP_STATUS_NAMES", "OK", "WARN", "STOP", "STALL",
]
