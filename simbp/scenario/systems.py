"""Scenario keys for the systems people run around a queue (documented in docs/systems.md).

Node.js stream backpressure (`high_water_mark`, `on_backpressure`), downstream services behind a
semaphore (`downstreams:`, consumer `calls:`), callers that wait and retry (`blocking: request`,
`retry:`), RxJS operators between a producer and its buffer (`operators:`), a token bucket at the
source (`rate_limit:`) and load shedding by priority class (`priority:`, buffer `shed:`).

The models live in `system_specs` (re-exported here); this module holds what the engines ask about
them and the cross-reference checks that `Scenario` runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .base import ReferenceProblem
from .components import BufferSpec, ConsumerSpec, ProducerSpec
from .system_specs import (
    BufferTimeSpec,
    CallSpec,
    DownstreamSpec,
    HighWaterMark,
    OperatorSpec,
    OverloadSpec,
    RateLimitSpec,
    RetrySpec,
)

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


class ScenarioParts(Protocol):
    """What the checks read of a scenario (a `Scenario` is one)."""

    @property
    def producers(self) -> Sequence[ProducerSpec]: ...
    @property
    def buffers(self) -> Sequence[BufferSpec]: ...
    @property
    def consumers(self) -> Sequence[ConsumerSpec]: ...
    @property
    def downstreams(self) -> Sequence[DownstreamSpec]: ...
    def buffer_named(self, name: str | None) -> BufferSpec | None: ...


# --------------------------------------------------------------------------- checks
def _target(scenario: ScenarioParts, name: str | None) -> BufferSpec | None:
    return scenario.buffer_named(name)


def producer_pauses(scenario: ScenarioParts, producer: ProducerSpec) -> bool:
    """Whether this producer honours `write()` returning false (pipe) on its target's high-water mark."""
    target = _target(scenario, producer.to)
    return target is not None and target.high_water_mark is not None and (producer.on_backpressure or "pause") == "pause"


def consumer_pauses(scenario: ScenarioParts, consumer: ConsumerSpec) -> bool:
    """Whether this consumer (a transform) stops reading while its forward target is over its mark."""
    target = _target(scenario, consumer.to)
    return target is not None and target.high_water_mark is not None and (consumer.on_backpressure or "pause") == "pause"


def producer_uses_systems(scenario: ScenarioParts, producer: ProducerSpec) -> bool:
    """Whether a producer needs the extended producer (any key of this module, or a stream target)."""
    target = _target(scenario, producer.to)
    return bool(
        producer.retry is not None or producer.rate_limit is not None or producer.operators
        or producer.blocking == "request" or producer_pauses(scenario, producer) or producer.caller_timeout is not None
        or (producer.priority is not None and target is not None and target.shed and producer.priority in target.shed)
    )


def uses_systems(scenario: ScenarioParts) -> bool:
    """Whether any key of this module is in use (otherwise the core model runs untouched)."""
    return bool(
        scenario.downstreams
        or any(b.high_water_mark is not None or b.shed for b in scenario.buffers)
        or any(c.calls is not None or consumer_pauses(scenario, c) for c in scenario.consumers)
        or any(producer_uses_systems(scenario, p) for p in scenario.producers)
    )


def check_systems_references(scenario: ScenarioParts) -> None:
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
                raise ReferenceProblem(("producers", index, "to"),
                    "stream, retry, operator and rate-limit keys apply to producers sending to a buffer")
            continue
        if producer.on_backpressure is not None and target.high_water_mark is None:
            raise ReferenceProblem(("producers", index, "on_backpressure"),
                                   f"on_backpressure applies to a buffer with a high_water_mark; {target.name!r} has none")
        if producer.operators and producer_pauses(scenario, producer):
            raise ReferenceProblem(("producers", index, "on_backpressure"), "RxJS operators push without backpressure, so the source "
                                   "cannot pause on write() returning false through them: set on_backpressure: ignore")
        if producer.blocking == "request" and target.policy != "block":
            raise ReferenceProblem(("producers", index, "blocking"),
                f"blocking: request applies to a block buffer; {target.name!r} is {target.policy}")
        if producer.caller_timeout is not None:
            if target.policy not in ("drop_newest", "unbounded"):
                raise ReferenceProblem(("producers", index, "caller_timeout"),
                    "caller_timeout watches a first-in-first-out queue that admits at once: "
                    "use drop_newest or unbounded (for a block buffer, its block_timeout is the caller's timeout)")
            if any(c.to == target.name for c in scenario.consumers):
                raise ReferenceProblem(("producers", index, "caller_timeout"),
                    f"caller_timeout needs {target.name!r} to be fed by producers only")
            if producer.operators or (producer.rate_limit is not None and producer.rate_limit.on_limit == "wait"):
                raise ReferenceProblem(("producers", index, "caller_timeout"),
                    "caller_timeout does not combine with operators or a waiting rate limit")
        if producer.retry is not None:
            waits_for_timeout = producer.caller_timeout is not None or (target.policy == "block" and target.block_timeout is not None)
            if "timeout" in producer.retry.on and not waits_for_timeout:
                raise ReferenceProblem(("producers", index, "retry", "on"),
                    "retrying on timeout needs the caller's timeout: set the producer's "
                    f"caller_timeout, or give {target.name!r} policy: block and block_timeout")
            if "drop" in producer.retry.on and target.policy not in ("drop_newest", "drop_oldest"):
                raise ReferenceProblem(("producers", index, "retry", "on"),
                    f"retrying on drop needs a drop_newest or drop_oldest buffer; {target.name!r} is {target.policy}")
    for index, consumer in enumerate(scenario.consumers):
        target = buffers.get(consumer.to) if consumer.to is not None else None
        if consumer.on_backpressure is not None and (target is None or target.high_water_mark is None):
            raise ReferenceProblem(("consumers", index, "on_backpressure"),
                "on_backpressure applies to a consumer forwarding (`to:`) into a buffer with a high_water_mark")
        if consumer_pauses(scenario, consumer) and consumer.batch is not None:
            raise ReferenceProblem(("consumers", index, "batch"),
                "a batch consumer cannot pause on a high_water_mark; set on_backpressure: ignore or drop `batch`")
        if consumer.autoscale is not None and (consumer.calls is not None or consumer_pauses(scenario, consumer)):
            raise ReferenceProblem(("consumers", index, "autoscale"), "autoscale does not combine with `calls` or a transform pausing "
                                   "on a high_water_mark; use a fixed number of workers")
        if consumer.calls is not None:
            if consumer.calls.downstream not in downstreams:
                raise ReferenceProblem(("consumers", index, "calls", "downstream"),
                    f"no downstream named {consumer.calls.downstream!r} (downstreams: {known})")
            if consumer.batch is not None:
                raise ReferenceProblem(("consumers", index, "calls"), "give `service` (time per message) with `calls`, not `batch`")
            if consumer_pauses(scenario, consumer):
                raise ReferenceProblem(("consumers", index, "on_backpressure"),
                    "a consumer with `calls` cannot pause on a high_water_mark; set on_backpressure: ignore")


def _uses_producer_keys(producer: ProducerSpec) -> bool:
    return bool(producer.retry is not None or producer.rate_limit is not None or producer.operators
                or producer.blocking == "request" or producer.on_backpressure is not None or producer.priority is not None
                or producer.caller_timeout is not None)
