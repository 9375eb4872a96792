"""`KafkaSystem`: the engine extension that builds topics, writers and consumer groups, and reports.

Built by the model only when the scenario has `topics`. It gives producers writing to a topic a
`TopicWriter` (and the `Broker` in place of the service), starts the groups and their autoscalers,
adds the unread and held messages to the totals (so produced = consumed + dropped + … stays
exact), and the per-topic, per-partition and per-group columns and summary entries (docs/kafka.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...kafka_rules import write_group_columns, write_topic_columns
from ...kafka_summary import group_entry, kafka_events, partition_row, topic_entry
from ...metrics import LatencySketch
from ...random import sampler
from ..autoscale import Autoscaler
from .group import ConsumerGroup
from .log import Topic
from .writer import Broker, TopicWriter, partition_choices

if TYPE_CHECKING:
    from ...scenario.schema import ConsumerGroupSpec, ProducerSpec
    from ..contract import ModelView

__all__ = ["KafkaSystem"]


class KafkaSystem:
    """Topics, their writers and consumer groups (and autoscalers) for one model run."""

    def __init__(self, model: "ModelView"):
        scenario = model.scenario
        self.env = model.env
        self.seeds = model.seeds
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
                sketch.add_many(values, interval)

            processing = sampler(spec.processing, model.seeds.generator(f"consumer_group/{spec.name}/processing"), scenario.base_dir)
            group = ConsumerGroup(model.env, spec, topic, processing, on_latencies)
            self.groups[spec.name] = group
            if spec.autoscale is not None:
                self.autoscalers[spec.name] = self._autoscaler(spec, topic, group)
        self._last: dict[str, float] = {}
        self._warm: dict[str, float] = {}

    def _autoscaler(self, spec: "ConsumerGroupSpec", topic: Topic, group: ConsumerGroup) -> Autoscaler:
        """Scale `group` on its topic's lag, up to one member per partition."""
        assert spec.autoscale is not None

        def lag() -> float:
            return float(topic.lag)

        def size() -> int:
            return group.size

        return Autoscaler(self.env, spec.autoscale, spec.name, measure=lag, size=size, resize=group.resize,
                          cap=len(topic.partitions))

    def writer(self, spec: "ProducerSpec") -> TopicWriter:
        """The topic writer for a producer, with its own stream for key choices."""
        topic = self.topics[spec.to]
        choices = partition_choices(spec.key, len(topic.partitions), self.seeds.generator(f"producer/{spec.name}/key"))
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
            write_topic_columns(row, last, name, lag=topic.lag, lag_s=lag_s, retained=topic.retained(),
                                bytes_held=topic.bytes(), produced=topic.produced, retention_lost=topic.retention_lost)
        for group in self.groups.values():
            write_group_columns(row, last, group.name, size=group.size, active=group.active_members(),
                                rebalancing=group.rebalancing, consumed=group.consumed, busy=group.busy_seconds(now),
                                members=group.member_seconds(now), statuses=group.statuses(now))

    # ------------------------------------------------------------------ summary
    def components(self) -> dict[str, dict[str, Any]]:
        """Summary entries for every topic and consumer group."""
        now = self.env.now
        self.settle()
        result: dict[str, dict[str, Any]] = {}
        for topic in self.topics.values():
            rows = [partition_row(p.index, log_start=p.log_start_offset, log_end=p.log_end_offset,
                                  committed=p.committed, lag=p.lag, lag_s=p.lag_seconds(now), peak_lag=p.peak_lag,
                                  retention_lost=p.retention_lost, consumed=p.consumed, owner=p.owner)
                    for p in topic.partitions]
            result[topic.name] = topic_entry(
                topic.spec, partitions=len(topic.partitions), produced=topic.produced,
                retention_lost=topic.retention_lost, unread=topic.unread(), lag=topic.lag,
                lag_s=max((row["lag_s"] for row in rows), default=0.0), peak_lag=topic.peak_lag,
                retained=topic.retained(), bytes_held=topic.bytes(), read_by=topic.read_by, rows=rows)
        for group in self.groups.values():
            scaler = self.autoscalers.get(group.name)
            result[group.name] = group_entry(
                group, topic=group.topic.name, lag=group.topic.lag,
                busy=group.busy_seconds(now) - self._warm.get(f"{group.name}.busy", 0.0),
                members=group.member_seconds(now) - self._warm.get(f"{group.name}.members", 0.0),
                rebalancing_s=group.rebalancing_seconds(now), statuses=group.statuses(now),
                worst_statuses=[p.worst_status for p in group.topic.partitions],
                partitions_of={m.index: [p.index for p in m.partitions]
                               for m in [*group.members, *group.leaving, *group.departed]},
                autoscale=scaler.summary() if scaler is not None else None)
        return result

    def events(self) -> list[dict[str, Any]]:
        """Rebalances and autoscaling decisions, for the run's event log."""
        return kafka_events(self.groups.values(), self.autoscalers.values())
