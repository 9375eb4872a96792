"""Scenario keys for the systems people run around a queue (documented in docs/systems.md).

Node.js stream backpressure (`high_water_mark`, `on_backpressure`), downstream services behind a
semaphore (`downstreams:`, consumer `calls:`), callers that wait and retry (`blocking: request`,
`retry:`), RxJS operators between a producer and its buffer (`operators:`), a token bucket at the
source (`rate_limit:`) and load shedding by priority class (`priority:`, buffer `shed:`).

`simbp.scenario.schema` imports this module at its end (the models below extend its base types), and its
`Scenario` validator calls `check_systems_references` for the cross-references.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from ..units import parse_bytes
from .schema import (
    Model,
    Name,
    NonNegativeDuration,
    PositiveDuration,
    PositiveRate,
    ReferenceProblem,
    TimeDistribution,
)

if TYPE_CHECKING:
    from .schema import BufferSpec, ConsumerSpec, ProducerSpec, Scenario

__all__ = [
    "HighWaterMark",
    "OperatorSpec",
    "BufferTimeSpec",
    "RetrySpec",
    "RateLimitSpec",
    "DownstreamSpec",
    "OverloadSpec",
    "CallSpec",
    "check_systems_references",
    "uses_systems",
    "producer_pauses",
    "consumer_pauses",
]

Backpressure = Literal["pause", "ignore"]


# --------------------------------------------------------------------------- Node.js streams
class HighWaterMark(Model):
    """Node's `highWaterMark`: `write()` returns false once the buffer holds this much.

    A bare whole number counts chunks (Node's objectMode); a size with a unit ("16KiB") counts
    bytes, as Node's byte streams do. The chunk being written by `_write()` counts too, as in Node.
    """

    objects: int | None = Field(default=None, ge=0)
    bytes: float | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, bool):
            raise ValueError("high_water_mark is a count of chunks (16) or a size with a unit (\"16KiB\")")
        if isinstance(data, int):
            return {"objects": data}
        if isinstance(data, float):
            if data.is_integer():
                return {"objects": int(data)}
            raise ValueError("a high_water_mark in chunks must be a whole number")
        if isinstance(data, str):
            text = data.strip()
            if text.isdigit():
                return {"objects": int(text)}
            try:
                return {"bytes": parse_bytes(text)}
            except ValueError as error:
                raise ValueError(f"high_water_mark is a count of chunks (16) or a size with a unit (\"16KiB\"): {error}") from None
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> "HighWaterMark":
        if (self.objects is None) == (self.bytes is None):
            raise ValueError("high_water_mark needs exactly one of `objects` (chunks) or `bytes`")
        return self

    @property
    def limit(self) -> float:
        """The mark, in chunks or bytes."""
        return float(self.objects) if self.objects is not None else float(self.bytes)  # type: ignore[arg-type]

    @property
    def counts_bytes(self) -> bool:
        return self.bytes is not None


# --------------------------------------------------------------------------- RxJS operators
def _duration_is_span(value: Any) -> Any:
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return {"duration": value}
    return value


class BufferTimeSpec(Model):
    """`bufferTime(duration, null, max_size)`: arrays every `duration`, or sooner when `max_size` is reached."""

    duration: PositiveDuration
    max_size: int | None = Field(default=None, ge=1)


class OperatorSpec(Model):
    """One RxJS operator, written as in `source$.pipe(...)`: exactly one of the keys below."""

    debounceTime: PositiveDuration | None = None
    throttleTime: PositiveDuration | None = None
    bufferTime: Annotated[BufferTimeSpec, BeforeValidator(_duration_is_span)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "OperatorSpec":
        given = [k for k in ("debounceTime", "throttleTime", "bufferTime") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("each operator is one of debounceTime: <t>, throttleTime: <t>, bufferTime: <t> "
                             f"(got {', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        """The RxJS name of this operator."""
        return next(k for k in ("debounceTime", "throttleTime", "bufferTime") if getattr(self, k) is not None)


# --------------------------------------------------------------------------- callers and remedies
class RetrySpec(Model):
    """A caller that retries an attempt that timed out (or was dropped) after a backoff.

    The n-th retry waits `backoff × multiplier^(n-1)` (at most `max_backoff`); `jitter: full` waits a
    uniform fraction of that instead (AWS's "full jitter").
    """

    max: int = Field(ge=0, le=100)
    backoff: NonNegativeDuration = 0.1
    multiplier: float = Field(default=1.0, ge=1.0, le=100.0)
    max_backoff: PositiveDuration | None = None
    jitter: Literal["none", "full"] = "none"
    on: list[Literal["timeout", "drop"]] = Field(default_factory=lambda: ["timeout"], min_length=1)


class RateLimitSpec(Model):
    """A token bucket at the source: `rate` tokens a second, at most `burst` saved up.

    `on_limit: drop` discards a message that finds no token (a 429); `wait` holds it (and the
    producer) until a token is there.
    """

    rate: PositiveRate
    burst: int = Field(default=1, ge=1, le=10_000_000)
    on_limit: Literal["drop", "wait"] = "drop"


# --------------------------------------------------------------------------- downstream services
class OverloadSpec(Model):
    """How a downstream degrades per call in flight beyond its capacity (the excess)."""

    slowdown: float = Field(default=0.0, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)


class DownstreamSpec(Model):
    """A service that consumers call (a database, an HTTP API).

    A call that starts with n calls in flight (itself included) takes
    `latency × (1 + overload.slowdown × max(0, n − capacity))` and fails with probability
    `min(max_error_rate, error_rate + overload.error_rate × max(0, n − capacity))`.
    """

    name: Name
    capacity: int = Field(ge=1, le=1_000_000)
    latency: TimeDistribution
    error_rate: float = Field(default=0.0, ge=0, le=1)
    overload: OverloadSpec = Field(default_factory=OverloadSpec)
    max_error_rate: float = Field(default=1.0, ge=0, le=1)


class CallSpec(Model):
    """What each message costs a consumer downstream: one call to `downstream`, after `service`."""

    downstream: Name
    semaphore: int | None = Field(default=None, ge=1, le=1_000_000)
    timeout: PositiveDuration | None = None
    retries: int = Field(default=0, ge=0, le=100)
    backoff: NonNegativeDuration = 0.0


# --------------------------------------------------------------------------- checks
def _target(scenario: "Scenario", name: str | None) -> "BufferSpec | None":
    return next((b for b in scenario.buffers if b.name == name), None) if name is not None else None


def producer_pauses(scenario: "Scenario", producer: "ProducerSpec") -> bool:
    """Whether this producer honours `write()` returning false (pipe) on its target's high-water mark."""
    target = _target(scenario, producer.to)
    return target is not None and target.high_water_mark is not None and (producer.on_backpressure or "pause") == "pause"


def consumer_pauses(scenario: "Scenario", consumer: "ConsumerSpec") -> bool:
    """Whether this consumer (a transform) stops reading while its forward target is over its mark."""
    target = _target(scenario, consumer.to)
    return target is not None and target.high_water_mark is not None and (consumer.on_backpressure or "pause") == "pause"


def producer_uses_systems(scenario: "Scenario", producer: "ProducerSpec") -> bool:
    """Whether a producer needs the extended producer (any key of this module, or a stream target)."""
    target = _target(scenario, producer.to)
    return bool(
        producer.retry is not None or producer.rate_limit is not None or producer.operators
        or producer.blocking == "request" or producer_pauses(scenario, producer) or producer.caller_timeout is not None
        or (producer.priority is not None and target is not None and target.shed and producer.priority in target.shed)
    )


def uses_systems(scenario: "Scenario") -> bool:
    """Whether any key of this module is in use (otherwise the core model runs untouched)."""
    return bool(
        scenario.downstreams
        or any(b.high_water_mark is not None or b.shed for b in scenario.buffers)
        or any(c.calls is not None or consumer_pauses(scenario, c) for c in scenario.consumers)
        or any(producer_uses_systems(scenario, p) for p in scenario.producers)
    )


def check_systems_references(scenario: "Scenario") -> None:
    """Cross-references and combinations of this module's keys (raises `ReferenceProblem`)."""
    buffers = {b.name: b for b in scenario.buffers}
    downstreams = {d.name for d in scenario.downstreams}
    known = ", ".join(sorted(downstreams)) or "none defined"
    for index, buffer in enumerate(scenario.buffers):
        if buffer.high_water_mark is not None and buffer.policy != "unbounded":
            raise ReferenceProblem(("buffers", index, "policy"), "a high_water_mark models a Node.js writable, whose write() never "
                                   "refuses a chunk: use policy: unbounded (and the service's memory limit)")
        if buffer.shed:
            priorities = {p.priority for p in scenario.producers if p.to == buffer.name}
            for name in buffer.shed:
                if name not in priorities:
                    raise ReferenceProblem(("buffers", index, "shed", name), f"no producer with priority {name!r} sends to {buffer.name!r}")
    for index, producer in enumerate(scenario.producers):
        target = buffers.get(producer.to)
        if target is None:
            if _uses_producer_keys(producer):
                raise ReferenceProblem(("producers", index, "to"), "stream, retry, operator and rate-limit keys apply to producers sending to a buffer")
            continue
        if producer.on_backpressure is not None and target.high_water_mark is None:
            raise ReferenceProblem(("producers", index, "on_backpressure"),
                                   f"on_backpressure applies to a buffer with a high_water_mark; {target.name!r} has none")
        if producer.operators and producer_pauses(scenario, producer):
            raise ReferenceProblem(("producers", index, "on_backpressure"), "RxJS operators push without backpressure, so the source "
                                   "cannot pause on write() returning false through them: set on_backpressure: ignore")
        if producer.blocking == "request" and target.policy != "block":
            raise ReferenceProblem(("producers", index, "blocking"), f"blocking: request applies to a block buffer; {target.name!r} is {target.policy}")
        if producer.caller_timeout is not None:
            if target.policy not in ("drop_newest", "unbounded"):
                raise ReferenceProblem(("producers", index, "caller_timeout"), "caller_timeout watches a first-in-first-out queue that admits at once: "
                                       "use drop_newest or unbounded (for a block buffer, its block_timeout is the caller's timeout)")
            if any(c.to == target.name for c in scenario.consumers):
                raise ReferenceProblem(("producers", index, "caller_timeout"), f"caller_timeout needs {target.name!r} to be fed by producers only")
            if producer.operators or (producer.rate_limit is not None and producer.rate_limit.on_limit == "wait"):
                raise ReferenceProblem(("producers", index, "caller_timeout"), "caller_timeout does not combine with operators or a waiting rate limit")
        if producer.retry is not None:
            if "timeout" in producer.retry.on and producer.caller_timeout is None and (target.policy != "block" or target.block_timeout is None):
                raise ReferenceProblem(("producers", index, "retry", "on"), "retrying on timeout needs the caller's timeout: set the producer's "
                                       f"caller_timeout, or give {target.name!r} policy: block and block_timeout")
            if "drop" in producer.retry.on and target.policy not in ("drop_newest", "drop_oldest"):
                raise ReferenceProblem(("producers", index, "retry", "on"), f"retrying on drop needs a drop_newest or drop_oldest buffer; {target.name!r} is {target.policy}")
    for index, consumer in enumerate(scenario.consumers):
        target = buffers.get(consumer.to) if consumer.to is not None else None
        if consumer.on_backpressure is not None and (target is None or target.high_water_mark is None):
            raise ReferenceProblem(("consumers", index, "on_backpressure"), "on_backpressure applies to a consumer forwarding (`to:`) into a buffer with a high_water_mark")
        if consumer_pauses(scenario, consumer) and consumer.batch is not None:
            raise ReferenceProblem(("consumers", index, "batch"), "a batch consumer cannot pause on a high_water_mark; set on_backpressure: ignore or drop `batch`")
        if consumer.autoscale is not None and (consumer.calls is not None or consumer_pauses(scenario, consumer)):
            raise ReferenceProblem(("consumers", index, "autoscale"), "autoscale does not combine with `calls` or a transform pausing "
                                   "on a high_water_mark; use a fixed number of workers")
        if consumer.calls is not None:
            if consumer.calls.downstream not in downstreams:
                raise ReferenceProblem(("consumers", index, "calls", "downstream"), f"no downstream named {consumer.calls.downstream!r} (downstreams: {known})")
            if consumer.batch is not None:
                raise ReferenceProblem(("consumers", index, "calls"), "give `service` (time per message) with `calls`, not `batch`")
            if consumer_pauses(scenario, consumer):
                raise ReferenceProblem(("consumers", index, "on_backpressure"), "a consumer with `calls` cannot pause on a high_water_mark; set on_backpressure: ignore")


def _uses_producer_keys(producer: "ProducerSpec") -> bool:
    return bool(producer.retry is not None or producer.rate_limit is not None or producer.operators
                or producer.blocking == "request" or producer.on_backpressure is not None or producer.priority is not None
                or producer.caller_timeout is not None)
