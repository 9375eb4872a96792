"""The scenario schema (pydantic v2, closed) and YAML loading with line-aware errors.

A scenario names producers, buffers and consumers; quantities accept human units ("250ms",
"2KiB", "900/s"). Every fault is reported with the file, the line, the field path and what was
expected (see `simbp.errors.ScenarioError`). This module imports no UI.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .. import semantics
from ..errors import Problem, ScenarioError
from ..units import parse_bytes, parse_duration, parse_rate

__all__ = [
    "Scenario",
    "ProducerSpec",
    "BufferSpec",
    "ConsumerSpec",
    "MemorySpec",
    "BatchSpec",
    "load_scenario",
    "parse_scenario_dict",
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
    "parse_scenario_text",
    "set_path",
]

VERDICTS = ("healthy", "dropping", "blocking", "falling_behind", "crashed")


class ReferenceProblem(ValueError):
    """A cross-reference fault found after the structure validated, with its field path."""

    def __init__(self, path: tuple[str | int, ...], message: str):
        self.path = path
        super().__init__(message)


def _unit(parser):  # type: ignore[no-untyped-def]
    def convert(value: Any) -> Any:
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            return parser(value)
        return value

    return BeforeValidator(convert)


Duration = Annotated[float, _unit(parse_duration)]
Bytes = Annotated[float, _unit(parse_bytes)]
Rate = Annotated[float, _unit(parse_rate)]
PositiveDuration = Annotated[float, _unit(parse_duration), Field(gt=0)]
NonNegativeDuration = Annotated[float, _unit(parse_duration), Field(ge=0)]
PositiveRate = Annotated[float, _unit(parse_rate), Field(gt=0)]
NonNegativeRate = Annotated[float, _unit(parse_rate), Field(ge=0)]
PositiveBytes = Annotated[float, _unit(parse_bytes), Field(gt=0)]
NonNegativeBytes = Annotated[float, _unit(parse_bytes), Field(ge=0)]


class Model(BaseModel):
    """Base of every scenario model: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)


# --------------------------------------------------------------------------- distributions
class _Distribution(Model):
    """A distribution of times or sizes; `_parse` turns "4ms" or "2KiB" into a number."""

    _parse: ClassVar[Any] = staticmethod(float)
    _quantities: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _convert_units(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in cls._quantities:
                value = data.get(key)
                if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                    try:
                        data[key] = cls._parse(value)
                    except ValueError as error:
                        raise ReferenceProblem((key,), str(error)) from None
                elif isinstance(value, list):
                    try:
                        data[key] = [cls._parse(v) if not isinstance(v, bool) else v for v in value]
                    except (ValueError, TypeError) as error:
                        raise ReferenceProblem((key,), str(error)) from None
        return data

    @property
    def mean(self) -> float:  # pragma: no cover - each subclass overrides
        raise NotImplementedError


class _Constant(_Distribution):
    dist: Literal["constant"] = "constant"
    value: float = Field(ge=0)
    _quantities = ("value",)

    @property
    def mean(self) -> float:
        return self.value


class _Exponential(_Distribution):
    dist: Literal["exponential"]
    mean_: float = Field(gt=0, alias="mean")
    _quantities = ("mean",)

    @property
    def mean(self) -> float:
        return self.mean_


class _Uniform(_Distribution):
    dist: Literal["uniform"]
    low: float = Field(ge=0)
    high: float = Field(ge=0)
    _quantities = ("low", "high")

    @model_validator(mode="after")
    def _ordered(self) -> "_Uniform":
        if self.high < self.low:
            raise ValueError("uniform needs low <= high")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2


class _Lognormal(_Distribution):
    """Lognormal with the given mean; `sigma` is the spread of the underlying normal."""

    dist: Literal["lognormal"]
    mean_: float = Field(gt=0, alias="mean")
    sigma: float = Field(gt=0, le=5)
    _quantities = ("mean",)

    @property
    def mean(self) -> float:
        return self.mean_


class _Gamma(_Distribution):
    """Gamma with the given mean and shape (shape 1 is exponential; larger is less variable)."""

    dist: Literal["gamma"]
    mean_: float = Field(gt=0, alias="mean")
    shape: float = Field(gt=0)
    _quantities = ("mean",)

    @property
    def mean(self) -> float:
        return self.mean_


class _Erlang(_Distribution):
    """Erlang-k: the sum of k exponential phases with the given total mean."""

    dist: Literal["erlang"]
    mean_: float = Field(gt=0, alias="mean")
    k: int = Field(ge=1)
    _quantities = ("mean",)

    @property
    def mean(self) -> float:
        return self.mean_


class _Pareto(_Distribution):
    """Pareto (heavy tail): values at least `scale`, tail index `alpha` (> 1 for a finite mean)."""

    dist: Literal["pareto"]
    scale: float = Field(gt=0)
    alpha: float = Field(gt=1)
    _quantities = ("scale",)

    @property
    def mean(self) -> float:
        return self.alpha * self.scale / (self.alpha - 1)


class _Empirical(_Distribution):
    """Values drawn uniformly from a list, or from a CSV column next to the scenario."""

    dist: Literal["empirical"]
    values: list[float] | None = None
    file: str | None = None
    column: str | None = None
    _quantities = ("values",)
    _loaded: list[float] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_source(self) -> "_Empirical":
        if (self.values is None) == (self.file is None):
            raise ValueError("empirical needs exactly one of `values` (a list) or `file` (a CSV)")
        if self.values is not None and (not self.values or min(self.values) < 0):
            raise ValueError("empirical `values` must be a non-empty list of non-negative numbers")
        return self

    @property
    def mean(self) -> float:
        data = self.values if self.values is not None else self._loaded
        return float(sum(data) / len(data)) if data else float("nan")


def _family(parse: Any, suffix: str) -> Any:
    classes = []
    for base in (_Constant, _Exponential, _Uniform, _Lognormal, _Gamma, _Erlang, _Pareto, _Empirical):
        cls = type(base.__name__.lstrip("_") + suffix, (base,), {"_parse": staticmethod(parse), "__module__": __name__})
        globals()[cls.__name__] = cls  # a module attribute, so scenarios pickle (caches, process pools)
        classes.append(cls)
    union = Annotated[Union[tuple(classes)], Field(discriminator="dist")]  # type: ignore[valid-type]  # noqa: UP007 - built at run time

    def bare_is_constant(value: Any) -> Any:
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            return {"dist": "constant", "value": value}
        return value

    return Annotated[union, BeforeValidator(bare_is_constant)], tuple(classes)


TimeDistribution, TIME_DISTRIBUTIONS = _family(parse_duration, "Time")
SizeDistribution, SIZE_DISTRIBUTIONS = _family(parse_bytes, "Size")
Distribution = Union[tuple(TIME_DISTRIBUTIONS + SIZE_DISTRIBUTIONS)]  # type: ignore[valid-type]


# --------------------------------------------------------------------------- arrivals
class ConstantArrivals(Model):
    """Evenly spaced arrivals at `rate`."""

    process: Literal["constant"]
    rate: PositiveRate


class PoissonArrivals(Model):
    """Independent arrivals at an average `rate` (exponential gaps)."""

    process: Literal["poisson"]
    rate: PositiveRate


class Period(Model):
    rate: NonNegativeRate
    duration: PositiveDuration


class BurstyArrivals(Model):
    """Alternating on/off periods, each with its own rate (e.g. a burst every minute)."""

    process: Literal["bursty"]
    on: Period
    off: Period
    within: Literal["poisson", "constant"] = "poisson"
    start: Literal["on", "off"] = "on"


class RatePoint(Model):
    at: NonNegativeDuration
    rate: NonNegativeRate


class ScheduleArrivals(Model):
    """Piecewise rates over time: steps or linear ramps between points, optionally repeating (diurnal)."""

    process: Literal["schedule"]
    points: list[RatePoint] = Field(min_length=1)
    interpolation: Literal["step", "linear"] = "linear"
    repeat: PositiveDuration | None = None
    within: Literal["poisson", "constant"] = "poisson"

    @model_validator(mode="after")
    def _increasing(self) -> "ScheduleArrivals":
        times = [p.at for p in self.points]
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ValueError("schedule points must have strictly increasing `at` times")
        if max(p.rate for p in self.points) <= 0:
            raise ValueError("a schedule needs at least one point with a positive rate")
        return self


class TraceArrivals(Model):
    """Replay a CSV next to the scenario: one timestamp (seconds) per message, or counts per bin."""

    process: Literal["trace"]
    file: str
    format: Literal["timestamps", "counts"] = "timestamps"
    column: str | None = None
    bin: PositiveDuration = 1.0
    loop: bool = False


Arrivals = Annotated[
    ConstantArrivals | PoissonArrivals | BurstyArrivals | ScheduleArrivals | TraceArrivals,
    Field(discriminator="process"),
]


# --------------------------------------------------------------------------- components
Name = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$")]


class ProducerSpec(Model):
    """A source of messages sent to one buffer."""

    name: Name
    to: Name
    arrivals: Arrivals
    size: SizeDistribution = Field(default_factory=lambda: {"dist": "constant", "value": 1024}, validate_default=True)
    start: NonNegativeDuration = 0.0
    stop: PositiveDuration | None = None
    key: "KeySpec | None" = None  # Kafka topics only: how a partition is chosen
    # docs/systems.md: Node.js streams, callers that wait and retry, RxJS operators, rate limits, priority
    on_backpressure: "Literal['pause', 'ignore'] | None" = None
    blocking: Literal["producer", "request"] = "producer"
    retry: "RetrySpec | None" = None
    operators: "list[OperatorSpec]" = Field(default_factory=list)
    rate_limit: "RateLimitSpec | None" = None
    caller_timeout: PositiveDuration | None = None  # caller gives up if not picked up within this
    priority: Name | None = None

    def mean_rate(self, duration: float) -> float:
        """Average messages per second over `duration` (used for estimates and planning)."""
        return mean_arrival_rate(self.arrivals, duration)


class BufferSpec(Model):
    """A queue between stages; `capacity` counts waiting items (not those a worker holds)."""

    name: Name
    capacity: int | None = Field(default=None, ge=0)
    policy: str = "block"  # a name declared in simbp.semantics.POLICIES
    block_timeout: PositiveDuration | None = None
    high_water_mark: "HighWaterMark | None" = None  # docs/systems.md: a Node.js writable's buffer
    shed: dict[str, Annotated[int, Field(ge=0)]] | None = None  # docs/systems.md: depth at which a priority class is shed

    @model_validator(mode="before")
    @classmethod
    def _writable_is_unbounded(cls, data: Any) -> Any:
        """A Node.js writable (`high_water_mark`) never refuses a chunk: its policy defaults to unbounded."""
        if isinstance(data, dict) and data.get("high_water_mark") is not None and "policy" not in data:
            data = {**data, "policy": "unbounded"}
        return data

    @field_validator("policy")
    @classmethod
    def _declared_policy(cls, value: str) -> str:
        """Only policies declared in the semantics table; the error lists them."""
        if value not in semantics.POLICIES:
            choices = ", ".join(repr(name) for name in semantics.POLICIES)
            raise ValueError(f"unknown policy {value!r}: input should be one of {choices}")
        return value

    @model_validator(mode="after")
    def _capacity_matches_policy(self) -> "BufferSpec":
        bounded = semantics.policy(self.policy).bounded
        if not bounded and self.capacity is not None:
            others = ", ".join(name for name, entry in semantics.POLICIES.items() if entry.bounded)
            raise ReferenceProblem(("capacity",), f"an {self.policy} buffer has no capacity; remove `capacity` or choose {others}")
        if bounded and self.capacity is None:
            raise ReferenceProblem(("capacity",), f"a {self.policy} buffer needs `capacity` (a whole number of items)")
        if self.block_timeout is not None and not semantics.policy(self.policy).blocks:
            raise ReferenceProblem(("block_timeout",), "block_timeout applies only to policy: block")
        return self


class BatchSpec(Model):
    """Take up to `size` items, waiting at most `timeout` for the batch to fill; cost = fixed + per_item × n."""

    size: int = Field(ge=1)
    timeout: NonNegativeDuration = 0.0
    fixed: TimeDistribution = Field(default_factory=lambda: {"dist": "constant", "value": 0}, validate_default=True)
    per_item: TimeDistribution = Field(default_factory=lambda: {"dist": "constant", "value": 0}, validate_default=True)


class ConsumerSpec(Model):
    """A group of identical workers taking from one buffer, optionally forwarding to another."""

    name: Name
    from_: Name = Field(alias="from")
    workers: int = Field(default=1, ge=1, le=100_000)
    service: TimeDistribution | None = None
    to: Name | None = None
    batch: BatchSpec | None = None
    autoscale: "AutoscaleSpec | None" = None  # workers scaled on the depth of `from`
    calls: "CallSpec | None" = None  # docs/systems.md: one call to a downstream per message
    on_backpressure: "Literal['pause', 'ignore'] | None" = None  # docs/systems.md: transform stages

    @model_validator(mode="after")
    def _cost_given_once(self) -> "ConsumerSpec":
        if self.batch is None and self.service is None:
            raise ReferenceProblem(("service",), "a consumer needs `service` (time per message) or `batch` (fixed + per-item cost)")
        if self.batch is not None and self.service is not None:
            raise ReferenceProblem(("service",), "give either `service` or `batch` with its fixed and per_item cost, not both")
        return self

    def mean_service(self) -> float:
        """Mean seconds one worker spends per message (for batches, at a full batch)."""
        if self.batch is None:
            assert self.service is not None
            return self.service.mean
        return (self.batch.fixed.mean + self.batch.per_item.mean * self.batch.size) / self.batch.size


class MemorySpec(Model):
    """The service's memory: bytes of the items it holds; above `limit` the service crashes."""

    limit: PositiveBytes
    restart_after: PositiveDuration | None = None
    per_item_overhead: NonNegativeBytes = 0.0
    baseline: NonNegativeBytes = 0.0


class ExpectSpec(Model):
    """What a scenario is meant to show; `simbp run` reports whether it held."""

    verdict: Literal["healthy", "dropping", "blocking", "falling_behind", "crashed"]


# --------------------------------------------------------------------------- Kafka (docs/kafka.md)
class RetentionSpec(Model):
    """How long a partition keeps messages: by age (`time`) and/or by size per partition (`bytes`)."""

    time: PositiveDuration | None = None
    bytes: PositiveBytes | None = None


class TopicSpec(Model):
    """A Kafka topic: `partitions` ordered logs on the broker's disk (not the service's memory).

    Nothing is dropped when a consumer is slow; retention deletes the oldest messages, read or not.
    Without `retention`, Kafka's default applies: 7 days, no size limit.
    """

    name: Name
    partitions: int = Field(default=1, ge=1, le=10_000)
    retention: RetentionSpec = Field(default_factory=lambda: RetentionSpec(time=7 * 86400.0))


class KeySpec(Model):
    """How a producer picks a partition: `round_robin`, or `hash` of the message key (murmur2, as Kafka).

    With `hash`, keys are `key-0` … `key-<keys-1>` drawn uniformly (no `keys`: a key space much larger
    than the partition count), and a share `hot_key_share` of messages carries the single key `key-0`.
    """

    strategy: Literal["round_robin", "hash"] = "round_robin"
    keys: int | None = Field(default=None, ge=1, le=1_000_000)
    hot_key_share: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _hash_options(self) -> "KeySpec":
        if self.strategy == "round_robin" and (self.keys is not None or self.hot_key_share):
            field = "keys" if self.keys is not None else "hot_key_share"
            raise ReferenceProblem((field,), f"`{field}` applies only to strategy: hash (round_robin ignores keys)")
        return self


class CommitSpec(Model):
    """When a consumer commits its offsets: after every poll batch (`every: poll`, a `commitSync()` in
    the poll loop) or every `interval` (Kafka's auto-commit, default 5s)."""

    every: Literal["poll"] | None = None
    interval: PositiveDuration | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> "CommitSpec":
        if (self.every is None) == (self.interval is None):
            raise ValueError("commit needs exactly one of `every: poll` or `interval: <duration>`")
        return self


class LagStatusSpec(Model):
    """Burrow's lag evaluation window: the last `window` commits per partition, commits closer than
    `min_distance` to the previous one replacing it (Burrow's `intervals` and `min-distance`)."""

    window: int = Field(default=10, ge=2, le=1000)
    min_distance: NonNegativeDuration = 1.0


class AutoscaleSpec(Model):
    """Scale a consumer group (or a buffer's workers) on lag: add `step` when lag ≥ `scale_up_lag`,
    remove `step` when lag ≤ `scale_down_lag`, checked every `check_every`, never within `cooldown`
    of the last change; new members join `scale_up_delay` after the decision. For a Kafka group the
    maximum is capped at the topic's partition count; for a buffer, lag is its depth."""

    min: int = Field(default=1, ge=1, le=100_000)
    max: int = Field(ge=1, le=100_000)
    scale_up_lag: float = Field(gt=0)
    scale_down_lag: float = Field(default=0.0, ge=0)
    cooldown: NonNegativeDuration = 30.0
    scale_up_delay: NonNegativeDuration = 0.0
    check_every: PositiveDuration = 5.0
    step: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> "AutoscaleSpec":
        if self.max < self.min:
            raise ReferenceProblem(("max",), f"max ({self.max}) must be at least min ({self.min})")
        if self.scale_down_lag >= self.scale_up_lag:
            raise ReferenceProblem(("scale_down_lag",), "scale_down_lag must be below scale_up_lag, or the group would flap")
        return self


class ConsumerGroupSpec(Model):
    """A Kafka consumer group reading one topic: each partition is read by exactly one member."""

    name: Name
    topic: Name
    consumers: int | None = Field(default=None, ge=1, le=100_000)
    assignment: Literal["range", "round_robin"] = "range"
    max_poll_records: int = Field(default=500, ge=1, le=1_000_000)
    processing: TimeDistribution
    commit: CommitSpec = Field(default_factory=lambda: CommitSpec(interval=5.0))
    rebalance_pause: NonNegativeDuration = 3.0
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    lag_status: LagStatusSpec = Field(default_factory=LagStatusSpec)
    autoscale: AutoscaleSpec | None = None

    @model_validator(mode="after")
    def _size_within_autoscale(self) -> "ConsumerGroupSpec":
        if self.autoscale is not None and self.consumers is not None and not self.autoscale.min <= self.consumers <= self.autoscale.max:
            raise ReferenceProblem(("consumers",), f"consumers ({self.consumers}) must lie within autoscale min {self.autoscale.min} and max {self.autoscale.max}")
        return self

    @property
    def initial_consumers(self) -> int:
        """Members at the start: `consumers`, else the autoscaler's minimum, else 1."""
        if self.consumers is not None:
            return self.consumers
        return self.autoscale.min if self.autoscale is not None else 1


def _check_kafka_references(scenario: "Scenario") -> None:
    """Cross-references of topics, keys and consumer groups (raises `ReferenceProblem`)."""
    topics = {t.name: t for t in scenario.topics}
    known = ", ".join(sorted(topics)) or "none defined"
    for index, producer in enumerate(scenario.producers):
        if producer.key is not None and producer.to not in topics:
            raise ReferenceProblem(("producers", index, "key"), f"`key` chooses a Kafka partition, but {producer.to!r} is not a topic")
    for index, consumer in enumerate(scenario.consumers):
        if consumer.from_ in topics:
            raise ReferenceProblem(("consumers", index, "from"), f"{consumer.from_!r} is a Kafka topic: read it with a consumer group under `consumer_groups:` (see docs/kafka.md)")
    readers: dict[str, int] = {}
    for index, group in enumerate(scenario.consumer_groups):
        if group.topic not in topics:
            raise ReferenceProblem(("consumer_groups", index, "topic"), f"no topic named {group.topic!r} (topics: {known})")
        if group.topic in readers:
            raise ReferenceProblem(("consumer_groups", index, "topic"), f"topic {group.topic!r} already has a consumer group; simbp models one group per topic")
        readers[group.topic] = index


class Scenario(Model):
    """A whole scenario: what produces, what holds, what consumes, for how long."""

    name: Name
    description: str = ""
    duration: PositiveDuration
    seed: int = Field(default=0, ge=0)
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
                    raise ReferenceProblem(("consumers", index, "to"), f"forwarding to {nxt!r} makes a loop; stages must form a pipeline without cycles")
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
        return next(b for b in self.buffers if b.name == name)

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


def mean_arrival_rate(arrivals: Any, duration: float) -> float:
    """Average arrival rate (per second) of an arrival spec over `duration` seconds."""
    if isinstance(arrivals, (ConstantArrivals, PoissonArrivals)):
        return arrivals.rate
    if isinstance(arrivals, BurstyArrivals):
        cycle = arrivals.on.duration + arrivals.off.duration
        return (arrivals.on.rate * arrivals.on.duration + arrivals.off.rate * arrivals.off.duration) / cycle
    if isinstance(arrivals, ScheduleArrivals):
        from .rates import schedule_rate_function

        rate_at, _ = schedule_rate_function(arrivals)
        steps = 2000
        return sum(rate_at(duration * (i + 0.5) / steps) for i in range(steps)) / steps
    if isinstance(arrivals, TraceArrivals):
        return float("nan")
    raise TypeError(f"unknown arrivals {arrivals!r}")


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set a field in a scenario dict by path: `consumers.workers.workers` or `consumers[0].workers`.

    A list segment may be an index (`[0]`) or a component name (`consumers.workers`), so sweeps
    can name what they vary the way a user would.
    """
    parts = _split_path(path)
    target: Any = data
    for depth, part in enumerate(parts[:-1]):
        target = _step(target, part, parts[: depth + 1], path)
    last = parts[-1]
    if isinstance(target, dict) or (isinstance(target, list) and isinstance(last, int) and 0 <= last < len(target)):
        target[last] = value
    else:
        raise KeyError(f"{path!r} names no field")


def get_path(data: dict[str, Any], path: str) -> Any:
    """Read a field from a scenario dict by the same paths `set_path` takes."""
    parts = _split_path(path)
    target: Any = data
    for depth, part in enumerate(parts):
        target = _step(target, part, parts[: depth + 1], path)
    return target


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for chunk in path.replace("]", "").replace("[", ".").split("."):
        if chunk == "":
            continue
        parts.append(int(chunk) if chunk.isdigit() else chunk)
    if not parts:
        raise KeyError("empty field path")
    return parts


def _step(target: Any, part: str | int, prefix: list[str | int], path: str) -> Any:
    if isinstance(target, list):
        if isinstance(part, int):
            if 0 <= part < len(target):
                return target[part]
        else:
            for item in target:
                if isinstance(item, dict) and item.get("name") == part:
                    return item
        raise KeyError(f"{path!r} names no field: no item {part!r} in {'.'.join(map(str, prefix[:-1]))}")
    if isinstance(target, dict) and isinstance(part, str) and part in target:
        return target[part]
    raise KeyError(f"{path!r} names no field: {part!r} not found")


# --------------------------------------------------------------------------- loading
class ScenarioLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false are booleans, so `on:`/`off:` stay keys."""


ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ScenarioLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", __import__("re").compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

def load_scenario(source: str | Path, *, name_hint: str | None = None) -> Scenario:
    """Read and validate a scenario from a YAML file path or YAML text.

    Raises `ScenarioError` naming the file, line, field and what was expected.
    """
    path: Path | None = None
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and source.strip().endswith((".yaml", ".yml"))):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ScenarioError([Problem("", f"cannot read scenario file: {error.strerror or error}", None, str(path))]) from None
        label = str(path)
    else:
        text = str(source)
        label = name_hint or "<scenario>"
    return parse_scenario_text(text, label=label, base_dir=path.parent if path else Path.cwd())


def parse_scenario_text(text: str, *, label: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Validate YAML text as a scenario; errors carry `label` as the file name."""
    try:
        root = yaml.compose(text, Loader=ScenarioLoader)
        data = yaml.load(text, Loader=ScenarioLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(error, "problem", None) or str(error)
        raise ScenarioError([Problem("", f"not valid YAML: {reason}", line, label)]) from None
    if not isinstance(data, dict):
        raise ScenarioError([Problem("", "expected a mapping of scenario keys (name, duration, producers, …)", 1, label)])
    return parse_scenario_dict(data, label=label, base_dir=base_dir, root=root)


def parse_scenario_dict(
    data: dict[str, Any], *, label: str = "<scenario>", base_dir: Path | None = None, root: yaml.Node | None = None
) -> Scenario:
    """Validate an already-parsed scenario mapping; `root` (a composed YAML node) supplies line numbers."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(_problems(error, label, root)) from None
    scenario._base_dir = base_dir or Path.cwd()
    scenario._source = label
    from .rates import check_files

    problems = check_files(scenario)
    if problems:
        raise ScenarioError([Problem(_format_path(p), msg, _line_of(root, p), label) for p, msg in problems])
    return scenario


def _problems(error: ValidationError, label: str, root: yaml.Node | None) -> list[Problem]:
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        loc: tuple[Any, ...] = tuple(item["loc"])
        ctx = item.get("ctx") or {}
        cause = ctx.get("error")
        message = item["msg"]
        if isinstance(cause, ReferenceProblem):
            loc = loc + cause.path
            message = str(cause)
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        elif item["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}; check the spelling against the README's scenario keys"
        elif item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] == "union_tag_invalid":
            key = str(ctx.get("discriminator", "")).strip("'")
            given = item.get("input", {}).get(key, "") if isinstance(item.get("input"), dict) else ""
            message = f"unknown kind {given!r}; expected one of {ctx.get('expected_tags')}"
        elif item["type"] == "union_tag_not_found":
            message = f"needs the key {ctx.get('discriminator')} (one of its kinds)"
        loc = _clean_loc(loc, root)
        problems.append(Problem(_format_path(loc), message, _line_of(root, loc), label))
    return _dedupe(problems)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[str] = set()
    unique = []
    for problem in problems:
        if str(problem) not in seen:
            seen.add(str(problem))
            unique.append(problem)
    return unique


def _clean_loc(loc: tuple[Any, ...], root: yaml.Node | None) -> tuple[Any, ...]:
    """Drop pydantic's internal parts (union tags, validator names) so the path matches the YAML."""
    cleaned: list[Any] = []
    node = root
    for part in loc:
        if isinstance(part, str) and (part.startswith("function-") or (part.endswith("]") and "[" in part)):
            continue
        if node is None:
            cleaned.append(part)
            continue
        child = _child(node, part)
        if child is None and isinstance(node, yaml.MappingNode) and isinstance(part, str):
            # a union tag such as 'poisson' or 'ExponentialTime': not a key in the file
            if part not in _keys(node) and _looks_like_tag(part, node):
                continue
        cleaned.append(part)
        node = child
    return tuple(cleaned)


def _looks_like_tag(part: str, node: yaml.MappingNode) -> bool:
    """Whether `part` is a union tag pydantic put in the path (a kind such as 'poisson' that is the
    value of a key in this mapping, or a generated class name), not a key of the file."""
    values = {value.value for _, value in node.value if isinstance(value, yaml.ScalarNode)}
    return part in values or part.endswith(("Time", "Size", "Spec"))


def _keys(node: yaml.MappingNode) -> list[str]:
    return [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]


def _child(node: yaml.Node | None, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    return None


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest node on `loc` that the file has."""
    if root is None:
        return None
    node = root
    line = root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = None
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    found = value
                    line = key.start_mark.line + 1
                    break
            if found is None:
                return line
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _format_path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


# The systems keys (docs/systems.md) extend the models above; imported last because they build on them.
from .systems import (  # noqa: E402
    CallSpec,
    DownstreamSpec,
    HighWaterMark,
    OperatorSpec,
    RateLimitSpec,
    RetrySpec,
    check_systems_references,
)
