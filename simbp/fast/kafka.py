"""Kafka in fast mode: topics, producers choosing partitions, consumer groups, autoscaling on lag.

The engine extension `FastKafka` has exact mode's `KafkaSystem` figures (the same time-series
columns, summary entries and events, `simbp.engine_contract.ExtensionView`), computed from counts
per quantum: producers' counts are dealt to partitions (in turn, or multinomially by the key
shares Kafka's partitioner gives), appended to the partitions' logs (`kafka_log.FastTopic`), aged
out by retention, and consumed by the groups' members (`kafka_group.FastConsumerGroup`). The
autoscaler is exact mode's own (`simbp.scaling.Autoscaler`), on SimPy's clock between quanta.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import simpy

from ..kafka_rules import partition_shares, write_group_columns, write_topic_columns
from ..kafka_summary import group_entry, kafka_events, partition_row, topic_entry
from ..metrics import LatencySketch
from ..random import SeedTree, draw_function
from ..scaling import Autoscaler
from ..scenario.schema import ProducerSpec, Scenario
from ..semantics import arrival_process
from .inputs import ArrivalCounts, ByteSums
from .kafka_group import FastConsumerGroup
from .kafka_log import FastTopic

__all__ = ["FastKafka", "TopicProducer"]

PROFILE_DRAWS = 4096


class TopicProducer:
    """A producer writing to a topic: never blocks, never loses (the broker's disk); each quantum's
    count is dealt to partitions in turn (round robin) or by the key shares (hash)."""

    def __init__(self, spec: ProducerSpec, topic: FastTopic, counts: ArrivalCounts, sizes: ByteSums,
                 rng: np.random.Generator):
        self.spec = spec
        self.name = spec.name
        self.topic = topic
        self.counts = counts
        self.sizes = sizes
        self.shares = partition_shares(spec.key, topic.count)
        self._rng = rng
        self._turn = 0
        self.produced = 0
        self.timed_out = 0
        self.lost_in_crash = 0
        self.held = None

    def deal(self, into: list[int], nbytes: list[float]) -> None:
        """Add this quantum's messages (and their bytes) to the per-partition counts `into`."""
        k = self.counts.next()
        if not k:
            return
        self.produced += k
        total_bytes = self.sizes.total(k)
        count = len(into)
        if self.shares is None:
            each, extra = divmod(k, count)
            parts = [each] * count
            for step in range(extra):
                parts[(self._turn + step) % count] += 1
            self._turn = (self._turn + extra) % count
        else:
            parts = self._rng.multinomial(k, self.shares).tolist()
        for index, n in enumerate(parts):
            if n:
                into[index] += n
                nbytes[index] += total_bytes * n / k

    def holds_item(self) -> int:
        return 0

    def blocked_seconds(self, now: float) -> float:
        return 0.0


def _stream_of(writers: list[TopicProducer]) -> tuple[float, bool]:
    """The arrival scv of a topic's stream (the Kendall letter of its producers' process: 0 for evenly
    spaced, 1 otherwise) and whether every producer deals its messages to partitions in turn."""
    if not writers:
        return 1.0, False
    scv = 0.0 if all(arrival_process(w.spec.arrivals.process).theory == "D" for w in writers) else 1.0
    return scv, all(w.shares is None for w in writers)


def _lag(topic: FastTopic) -> float:
    return float(topic.lag)


def _size(group: FastConsumerGroup) -> int:
    return group.size


def _resize(group: FastConsumerGroup, env: simpy.Environment, size: int) -> None:
    group.resize(size, env.now)


class FastKafka:
    """Topics, their producers and consumer groups (and autoscalers) for one fast-mode run."""

    def __init__(self, scenario: Scenario, env: simpy.Environment, seeds: SeedTree, quantum: float, quanta: int,
                 sketch_by_group: dict[str, LatencySketch], interval_sketch: LatencySketch):
        self.env = env
        self.topics = {spec.name: FastTopic(spec, quantum, quanta) for spec in scenario.topics}
        self.producers: list[TopicProducer] = []
        self.groups: dict[str, FastConsumerGroup] = {}
        self.autoscalers: dict[str, Autoscaler] = {}
        base = scenario.base_dir
        for spec in scenario.consumer_groups:
            topic = self.topics[spec.topic]
            topic.configure_window(spec.lag_status.window, spec.lag_status.min_distance)
            sketch = LatencySketch()
            sketch_by_group[spec.name] = sketch

            def on_latencies(values: list[float], weights: list[int], sketch: LatencySketch = sketch) -> None:
                sketch.add_weighted(values, weights)
                interval_sketch.add_weighted(values, weights)

            profile = draw_function(spec.processing, seeds.generator(f"consumer_group/{spec.name}/processing_profile"),
                                    base)(PROFILE_DRAWS)
            group = FastConsumerGroup(spec, topic, seeds.generator(f"consumer_group/{spec.name}/processing"), profile,
                                      on_latencies)
            self.groups[spec.name] = group
            if spec.autoscale is not None:
                self.autoscalers[spec.name] = Autoscaler(
                    env, spec.autoscale, spec.name, measure=partial(_lag, topic), size=partial(_size, group),
                    resize=partial(_resize, group, env), cap=topic.count)
        self._last: dict[str, float] = {}
        self._warm: dict[str, float] = {}
        self._end = float(scenario.duration)

    def producer(self, spec: ProducerSpec, counts: ArrivalCounts, sizes: ByteSums, rng: np.random.Generator) -> TopicProducer:
        producer = TopicProducer(spec, self.topics[str(spec.to)], counts, sizes, rng)
        self.producers.append(producer)
        return producer

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        for group in self.groups.values():
            writers = [p for p in self.producers if p.topic is group.topic]
            group.stream_scv, group.dealt_in_turn = _stream_of(writers)
            group.start(group.spec.initial_consumers, self.env.now)
        for scaler in self.autoscalers.values():
            scaler.start()

    def step(self, t0: float, t1: float) -> None:
        """One quantum: appends, retention, then every group's members poll, process and commit."""
        appended = {name: ([0] * topic.count, [0.0] * topic.count) for name, topic in self.topics.items()}
        for producer in self.producers:
            producer.deal(*appended[producer.topic.name])
        for name, topic in self.topics.items():
            topic.append(*appended[name], t1)
            topic.expire(t1)
        for group in self.groups.values():
            group.step(t0, t1)
        for topic in self.topics.values():
            topic.track_peaks()

    # ------------------------------------------------------------------ the extension contract
    def flush(self) -> None:
        ending = self.env.now >= self._end - 1e-9
        for group in self.groups.values():
            if ending:
                group.finish_latencies()
            else:
                group.flush_latencies()

    def totals(self) -> dict[str, int]:
        """Dropped (deleted unread by retention), consumed and in flight (unread + held by members)."""
        return {"dropped": sum(t.retention_lost for t in self.topics.values()),
                "consumed": sum(g.consumed for g in self.groups.values()),
                "in_flight": sum(t.unread() for t in self.topics.values()) + sum(g.held_items() for g in self.groups.values())}

    def peak_queue_depth(self) -> int:
        return max((t.peak_lag for t in self.topics.values()), default=0)

    def end_warmup(self) -> None:
        now = self.env.now
        for group in self.groups.values():
            self._warm[f"{group.name}.busy"] = group.busy_seconds(now)
            self._warm[f"{group.name}.members"] = group.member_seconds(now)

    def _statuses(self, topic: FastTopic, now: float) -> list[int]:
        result = []
        for partition in range(topic.count):
            status = topic.status(partition, now)
            if status > topic.worst_status[partition]:
                topic.worst_status[partition] = status
            result.append(status)
        return result

    def sample(self, row: dict[str, float]) -> None:
        """The Kafka columns of one time-series row, as exact mode writes them."""
        now = self.env.now
        last = self._last
        for topic in self.topics.values():
            name = topic.name
            lag_s = 0.0
            for partition in range(topic.count):
                seconds = topic.lag_seconds(partition, now)
                row[f"{name}.p{partition}.lag"] = topic.partition_lag(partition)
                row[f"{name}.p{partition}.lag_s"] = seconds
                lag_s = max(lag_s, seconds)
            write_topic_columns(row, last, name, lag=topic.lag, lag_s=lag_s, retained=topic.retained(),
                                bytes_held=topic.bytes(), produced=topic.produced, retention_lost=topic.retention_lost)
        for group in self.groups.values():
            write_group_columns(row, last, group.name, size=group.size, active=group.active_members(),
                                rebalancing=group.rebalancing, consumed=group.consumed, busy=group.busy_seconds(now),
                                members=group.member_seconds(now), statuses=self._statuses(group.topic, now))

    def components(self) -> dict[str, dict[str, Any]]:
        """Summary entries for every topic and consumer group (exact mode's keys)."""
        now = self.env.now
        result: dict[str, dict[str, Any]] = {}
        for topic in self.topics.values():
            rows = [partition_row(p, log_start=topic.start[p], log_end=topic.end[p], committed=topic.committed[p],
                                  lag=topic.partition_lag(p), lag_s=topic.lag_seconds(p, now),
                                  peak_lag=topic.peak_lag_by[p], retention_lost=topic.retention_lost_by[p],
                                  consumed=topic.consumed_by[p], owner=topic.owner[p])
                    for p in range(topic.count)]
            result[topic.name] = topic_entry(
                topic.spec, partitions=topic.count, produced=topic.produced, retention_lost=topic.retention_lost,
                unread=topic.unread(), lag=topic.lag, lag_s=max((row["lag_s"] for row in rows), default=0.0),
                peak_lag=topic.peak_lag, retained=topic.retained(), bytes_held=topic.bytes(),
                read_by=topic.group_name, rows=rows)
        for group in self.groups.values():
            scaler = self.autoscalers.get(group.name)
            result[group.name] = group_entry(
                group, topic=group.topic.name, lag=group.topic.lag,
                busy=group.busy_seconds(now) - self._warm.get(f"{group.name}.busy", 0.0),
                members=group.member_seconds(now) - self._warm.get(f"{group.name}.members", 0.0),
                rebalancing_s=group.rebalance_time + (now - group.rebalance_started if group.rebalancing else 0.0),
                statuses=self._statuses(group.topic, now), worst_statuses=list(group.topic.worst_status),
                partitions_of={m.index: list(m.partitions) for m in [*group.members, *group.leaving, *group.departed]},
                autoscale=scaler.summary() if scaler is not None else None)
        return result

    def events(self) -> list[dict[str, Any]]:
        """Rebalances and autoscaling decisions, for the run's event log."""
        return kafka_events(self.groups.values(), self.autoscalers.values())
