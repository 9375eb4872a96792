"""The scenario: what produces, what holds, what consumes, for how long, and the cross-reference
checks between its parts (names, buffers, topics, loops between stages, the systems keys).

The models of the parts are in `base`, `distributions`, `arrivals`, `components`, `kafka` and
`systems`; YAML loading with line-aware errors is in `loading`. Names defined there and imported
here stay importable from this module.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, model_validator

from .arrivals import (
    BurstyArrivals,
    ConstantArrivals,
    Period,
    PoissonArrivals,
    RatePoint,
    ScheduleArrivals,
    TraceArrivals,
    mean_arrival_rate,
)
from .base import (
    Model,
    Name,
    NonNegativeDuration,
    PositiveDuration,
    ReferenceProblem,
)
from .components import VERDICTS, BatchSpec, BufferSpec, ConsumerSpec, ExpectSpec, MemorySpec, ProducerSpec
from .distributions import (  # noqa: F401 - kept importable from here
    SIZE_DISTRIBUTIONS,
    TIME_DISTRIBUTIONS,
    Distribution,
    SizeDistribution,
    TimeDistribution,
    _Constant,
    _Distribution,
    _Empirical,
    _Erlang,
    _Exponential,
    _Gamma,
    _Lognormal,
    _Pareto,
    _Uniform,
)
from .kafka import AutoscaleSpec, CommitSpec, ConsumerGroupSpec, KeySpec, LagStatusSpec, RetentionSpec, TopicSpec
from .paths import get_path, set_path
from .systems import DownstreamSpec, check_systems_references

__all__ = [
    "Scenario",
    "ProducerSpec",
    "BufferSpec",
    "ConsumerSpec",
    "MemorySpec",
    "BatchSpec",
    "VERDICTS",
    "AutoscaleSpec",
    "BurstyArrivals",
    "CommitSpec",
    "ConstantArrivals",
    "ConsumerGroupSpec",
    "ExpectSpec",
    "KeySpec",
    "LagStatusSpec",
    "Period",
    "PoissonArrivals",
    "RatePoint",
    "ReferenceProblem",
    "RetentionSpec",
    "ScheduleArrivals",
    "TopicSpec",
    "TraceArrivals",
    "get_path",
    "mean_arrival_rate",
    "set_path",
]


def _check_kafka_references(scenario: Scenario) -> None:
    """Cross-references of topics, keys and consumer groups (raises `ReferenceProblem`)."""
    topics = {t.name: t for t in scenario.topics}
    known = ", ".join(sorted(topics)) or "none defined"
    for index, producer in enumerate(scenario.producers):
        if producer.key is not None and producer.to not in topics:
            raise ReferenceProblem(("producers", index, "key"), f"`key` chooses a Kafka partition, but {producer.to!r} is not a topic")
    for index, consumer in enumerate(scenario.consumers):
        if consumer.from_ in topics:
            raise ReferenceProblem(("consumers", index, "from"),
                f"{consumer.from_!r} is a Kafka topic: read it with a consumer group under `consumer_groups:` (see docs/kafka.md)")
    readers: dict[str, int] = {}
    for index, group in enumerate(scenario.consumer_groups):
        if group.topic not in topics:
            raise ReferenceProblem(("consumer_groups", index, "topic"), f"no topic named {group.topic!r} (topics: {known})")
        if group.topic in readers:
            raise ReferenceProblem(("consumer_groups", index, "topic"),
                f"topic {group.topic!r} already has a consumer group; simbp models one group per topic")
        readers[group.topic] = index



class Scenario(Model):
    """A whole scenario: what produces, what holds, what consumes, for how long."""

    name: Name
    description: str = ""
    duration: PositiveDuration
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    sample_interval: PositiveDuration | None = None
    warmup: NonNegativeDuration = 0.0
    load_multiplier: float = Field(default=1.0, gt=0)
    memory: MemorySpec | None = None
    producers: list[ProducerSpec] = Field(min_length=1)
    buffers: list[BufferSpec] = Field(default_factory=list)
    consumers: list[ConsumerSpec] = Field(default_factory=list)
    topics: list[TopicSpec] = Field(default_factory=list)
    consumer_groups: list[ConsumerGroupSpec] = Field(default_factory=list)
    downstreams: "list[DownstreamSpec]" = Field(default_factory=list)  # docs/systems.md
    expect: ExpectSpec | None = None

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source: str | None = PrivateAttr(default=None)
    _buffer_index: dict[str, BufferSpec] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _references(self) -> "Scenario":
        seen: dict[str, tuple[str | int, ...]] = {}
        for group in ("producers", "buffers", "consumers", "topics", "consumer_groups", "downstreams"):
            for index, item in enumerate(getattr(self, group)):
                if item.name in seen:
                    raise ReferenceProblem((group, index, "name"), f"name {item.name!r} is used twice; every component needs its own name")
                seen[item.name] = (group, index)
        buffers = {b.name for b in self.buffers}
        known = ", ".join(sorted(buffers)) or "none defined"
        _check_kafka_references(self)
        topics = {t.name for t in self.topics}
        for index, producer in enumerate(self.producers):
            if producer.to not in buffers and producer.to not in topics:
                raise ReferenceProblem(("producers", index, "to"), f"no buffer named {producer.to!r} (buffers: {known})")
        for index, consumer in enumerate(self.consumers):
            if consumer.from_ not in buffers:
                raise ReferenceProblem(("consumers", index, "from"), f"no buffer named {consumer.from_!r} (buffers: {known})")
            if consumer.to is not None and consumer.to not in buffers:
                raise ReferenceProblem(("consumers", index, "to"), f"no buffer named {consumer.to!r} (buffers: {known})")
        self._check_acyclic()
        check_systems_references(self)
        if self.warmup >= self.duration:
            raise ReferenceProblem(("warmup",), "warmup must be shorter than duration")
        return self

    def _check_acyclic(self) -> None:
        edges: dict[str, list[str]] = {}
        for consumer in self.consumers:
            if consumer.to is not None:
                edges.setdefault(consumer.from_, []).append(consumer.to)
        state: dict[str, int] = {}

        def visit(node: str) -> None:
            state[node] = 1
            for nxt in edges.get(node, []):
                if state.get(nxt) == 1:
                    index = next(i for i, c in enumerate(self.consumers) if c.from_ == node and c.to == nxt)
                    raise ReferenceProblem(("consumers", index, "to"),
                        f"forwarding to {nxt!r} makes a loop; stages must form a pipeline without cycles")
                if nxt not in state:
                    visit(nxt)
            state[node] = 2

        for node in list(edges):
            if node not in state:
                visit(node)

    # ---------------------------------------------------------------- helpers
    @property
    def base_dir(self) -> Path:
        """Folder that relative files (traces, empirical CSVs) are read from."""
        return self._base_dir

    @property
    def effective_sample_interval(self) -> float:
        """The sampling interval: as given, or about 300 samples over the run."""
        if self.sample_interval is not None:
            return self.sample_interval
        return _nice_interval(self.duration / 300)

    def buffer(self, name: str) -> BufferSpec:
        found = self.buffer_named(name)
        if found is None:
            raise StopIteration(name)  # as before: callers name buffers the scenario has
        return found

    def buffer_named(self, name: str | None) -> BufferSpec | None:
        """The buffer called `name`, or None (a dict built once: scenarios may have thousands)."""
        if self._buffer_index is None or len(self._buffer_index) != len(self.buffers):
            self._buffer_index = {b.name: b for b in self.buffers}
        return self._buffer_index.get(name) if name is not None else None

    def estimated_messages(self) -> float:
        """Messages the producers will emit (rates × duration × load multiplier)."""
        return sum(p.mean_rate(self.duration) for p in self.producers) * self.duration * self.load_multiplier

    def with_changes(self, changes: dict[str, Any]) -> "Scenario":
        """A copy with fields set by dotted path ("consumers.workers.workers" style: see `set_path`)."""
        data = self.model_dump(by_alias=True, exclude_unset=False)
        for path, value in changes.items():
            set_path(data, path, value)
        scenario = Scenario.model_validate(data)
        scenario._base_dir = self._base_dir
        return scenario


def _nice_interval(raw: float) -> float:
    if raw <= 0:
        return 1.0
    exponent = math.floor(math.log10(raw))
    for step in (1, 2, 5, 10):
        value = step * 10**exponent
        if value >= raw:
            return float(value)
    return float(10 ** (exponent + 1))

