"""Kafka keys (docs/kafka.md): topics and retention, partition keys, commits, Burrow lag status,
autoscaling on lag and consumer groups. Their cross-references are checked by `Scenario`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Model, Name, NonNegativeDuration, PositiveBytes, PositiveDuration, ReferenceProblem
from .distributions import TimeDistribution

__all__ = ["RetentionSpec", "TopicSpec", "KeySpec", "CommitSpec", "LagStatusSpec", "AutoscaleSpec", "ConsumerGroupSpec"]


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
    step: int = Field(default=1, ge=1, le=100_000)

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
            raise ReferenceProblem(("consumers",),
                f"consumers ({self.consumers}) must lie within autoscale min {self.autoscale.min} and max {self.autoscale.max}")
        return self

    @property
    def initial_consumers(self) -> int:
        """Members at the start: `consumers`, else the autoscaler's minimum, else 1."""
        if self.consumers is not None:
            return self.consumers
        return self.autoscale.min if self.autoscale is not None else 1

