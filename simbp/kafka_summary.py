"""Kafka's `summary.json` entries, written once for both engines.

Exact mode (`simbp.exact.kafka.system`) keeps partitions as objects, fast mode (`simbp.fast.kafka`) as
arrays of counts; both hand the same figures here so the keys users and scripts read (`partition_detail`,
`consumer_detail`, `status`, `autoscale`, ...) cannot drift apart between the engines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from .kafka_rules import GROUP_STATUS_NAMES, STATUS_NAMES, group_status

__all__ = ["GroupView", "partition_row", "topic_entry", "group_entry", "kafka_events"]


class GroupView(Protocol):
    """What a consumer group shows in its summary entry (both engines' groups have these)."""

    @property
    def size(self) -> int: ...
    @property
    def spec(self) -> Any: ...
    @property
    def max_poll_records(self) -> int: ...
    @property
    def processed(self) -> int: ...
    @property
    def consumed(self) -> int: ...
    @property
    def polls(self) -> int: ...
    @property
    def commits(self) -> int: ...
    @property
    def rebalances(self) -> int: ...
    @property
    def members(self) -> Sequence[Any]: ...
    @property
    def leaving(self) -> Sequence[Any]: ...
    @property
    def departed(self) -> Sequence[Any]: ...

    def active_members(self) -> int: ...

    def held_items(self) -> int: ...


def partition_row(index: int, *, log_start: int, log_end: int, committed: int, lag: int, lag_s: float,
                  peak_lag: int, retention_lost: int, consumed: int, owner: int) -> dict[str, Any]:
    """One partition's `partition_detail` row; `owner` < 0 means no member owns it."""
    return {
        "partition": index, "produced": log_end, "log_start_offset": log_start, "log_end_offset": log_end,
        "committed_offset": committed, "lag": lag, "lag_s": lag_s, "peak_lag_sampled": peak_lag,
        "retention_lost": retention_lost, "consumed": consumed, "owner": None if owner < 0 else owner,
    }


def topic_entry(spec: Any, *, partitions: int, produced: int, retention_lost: int, unread: int, lag: int,
                lag_s: float, peak_lag: int, retained: int, bytes_held: float, read_by: str | None,
                rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A topic's summary entry: retention settings, traffic, lag now and at peak, and its partitions."""
    return {
        "kind": "topic", "partitions": partitions,
        "retention_time_s": spec.retention.time, "retention_bytes": spec.retention.bytes,
        "produced": produced, "dropped": retention_lost, "retention_lost": retention_lost,
        "in_flight_at_end": unread, "lag": lag, "lag_s": lag_s,
        "peak_queue_depth": peak_lag, "retained": retained, "bytes": bytes_held,
        "loss_ratio": retention_lost / produced if produced else 0.0, "read_by": read_by,
        "partition_detail": rows,
    }


def group_entry(group: GroupView, *, topic: str, lag: int, busy: float, members: float, rebalancing_s: float,
                statuses: Sequence[int], worst_statuses: Sequence[int], partitions_of: Mapping[int, list[int]],
                autoscale: dict[str, Any] | None) -> dict[str, Any]:
    """A consumer group's summary entry: members (idle ones counted), polls, commits, rebalances,
    Burrow status per partition and for the group, and every member that ever joined.

    `busy` and `members` are busy and member seconds after the warm-up; `partitions_of` maps a member's
    index to the partitions it holds at the end."""
    everyone = sorted([*group.members, *group.leaving, *group.departed], key=lambda m: m.index)
    entry: dict[str, Any] = {
        "kind": "consumer_group", "topic": topic, "consumers": group.size,
        "consumers_active": group.active_members(),
        "idle_consumers": sum(1 for m in group.members if not partitions_of[m.index]),
        "assignment": group.spec.assignment, "max_poll_records": group.max_poll_records,
        "processed": group.processed, "consumed": group.consumed, "in_flight_at_end": group.held_items(),
        "utilisation": busy / members if members > 0 else 0.0,
        "polls": group.polls, "mean_poll_size": group.processed / group.polls if group.polls else None,
        "commits": group.commits, "rebalances": group.rebalances, "rebalancing_s": rebalancing_s,
        "lag": lag, "status": GROUP_STATUS_NAMES[group_status(statuses)],
        "partition_status": {str(i): STATUS_NAMES[s] for i, s in enumerate(statuses)},
        "worst_partition_status": {str(i): STATUS_NAMES[s] for i, s in enumerate(worst_statuses)},
        "consumer_detail": [{"consumer": m.index, "partitions": list(partitions_of[m.index]),
                             "processed": m.processed, "member": m in group.members} for m in everyone],
    }
    if autoscale is not None:
        entry["autoscale"] = autoscale
    return entry


def kafka_events(groups: Iterable[Any], autoscalers: Iterable[Any]) -> list[dict[str, Any]]:
    """Every group's rebalance events, then every autoscaler's decisions, in that order."""
    rows: list[dict[str, Any]] = []
    for group in groups:
        rows += group.events
    for scaler in autoscalers:
        rows += scaler.events
    return rows
