"""The core components: producers, buffers, consumers (with batches), the service's memory and
what a scenario expects. Kafka and systems keys they carry are defined in their own modules."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from .. import semantics
from .arrivals import Arrivals, mean_arrival_rate
from .base import Model, Name, NonNegativeBytes, NonNegativeDuration, PositiveBytes, PositiveDuration, ReferenceProblem
from .distributions import SizeDistribution, TimeDistribution
from .kafka import AutoscaleSpec, KeySpec
from .system_specs import CallSpec, HighWaterMark, OperatorSpec, RateLimitSpec, RetrySpec

__all__ = ["VERDICTS", "ProducerSpec", "BufferSpec", "BatchSpec", "ConsumerSpec", "MemorySpec", "ExpectSpec"]

VERDICTS = ("healthy", "dropping", "blocking", "falling_behind", "crashed")


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
    operators: "list[OperatorSpec]" = Field(default_factory=list, max_length=100)
    rate_limit: "RateLimitSpec | None" = None
    caller_timeout: PositiveDuration | None = None  # caller gives up if not picked up within this
    priority: Name | None = None

    def mean_rate(self, duration: float) -> float:
        """Average messages per second over `duration` (used for estimates and planning)."""
        return mean_arrival_rate(self.arrivals, duration)


class BufferSpec(Model):
    """A queue between stages; `capacity` counts waiting items (not those a worker holds)."""

    name: Name
    capacity: int | None = Field(default=None, ge=0, le=10**12)
    policy: str = "block"  # a name declared in simbp.semantics.POLICIES
    block_timeout: PositiveDuration | None = None
    high_water_mark: "HighWaterMark | None" = None  # docs/systems.md: a Node.js writable's buffer
    shed: dict[str, Annotated[int, Field(ge=0, le=10**12)]] | None = None  # docs/systems.md: depth at which a priority class is shed

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

    size: int = Field(ge=1, le=1_000_000)
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

