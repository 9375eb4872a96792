"""Fast mode's side of the systems keys (docs/systems.md): the classes to build, and the figures.

`FastModel` builds a `FastSystems` only when the scenario uses these keys (`uses_systems`), asks it
for the buffer class of each buffer (`buffer_type`) and hands it each producer once built
(`attach`); it is then one of the model's extensions, with exact mode's `Systems` figures: the
`discarded`, `failed` and `retries` totals and time-series columns, and the producers' and
buffers' summary entries. Which keys fast mode models is declared in `simbp.semantics.MECHANISMS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from ...random import SeedTree, draw_function, sampler
from ...scenario.schema import BufferSpec, ConsumerSpec, ProducerSpec, Scenario
from ...scenario.systems import producer_pauses, producer_uses_systems, uses_systems
from ..buffer import FastBuffer
from ..group import FastGroup
from ..inputs import ArrivalCounts, ByteSums
from ..producer import FastProducer
from .batch import BatchFedBuffer, FastBatchGroup
from .calls import CallOutcomes, FastCallingGroup, FastDownstream
from .operators import OperatorProducer
from .permits import FastPermitGroup, interacts, overloadable
from .ratelimit import FastTokenBucket
from .requests import RequestProducer
from .retries import RetryingProducer
from .shedding import SheddingBuffer
from .streams import MarkedBuffer, PipedGroup, stream_bank_maker

__all__ = ["FastSystems", "needs_systems", "uses_systems", "LimitedCounts"]


def needs_systems(scenario: Scenario) -> bool:
    """Whether fast mode builds a `FastSystems`: the systems keys, or a batch consumer."""
    return uses_systems(scenario) or any(c.batch is not None for c in scenario.consumers)


class AttachedProducer(Protocol):
    """What `attach` reads and rewires of a fast producer."""

    name: str
    spec: Any
    buffer: FastBuffer
    counts: Any
    produced: int
    blocked_time: float

    @property
    def offered(self) -> int: ...


class LimitedCounts:
    """A producer's arrival counts through its token bucket: `next()` is what passed; what did not is
    produced and discarded at once (a 429), as in exact mode."""

    def __init__(self, inner: ArrivalCounts, bucket: FastTokenBucket, producer: AttachedProducer, dt: float):
        self.inner = inner
        self.bucket = bucket
        self.producer = producer
        self.dt = dt
        self.evenly = inner.evenly
        self.expected = 0.0
        self.discarded = 0

    def next(self) -> int:
        k = self.inner.next()
        bucket = self.bucket
        skipped, blocked = bucket.skipped, bucket.blocked
        passed = bucket.admit(k, self.inner.expected, self.dt, self.evenly)
        self.expected = self.inner.expected * (passed / k if k else 1.0)
        if bucket.waits:  # held, not discarded: what fell due meanwhile was never produced
            self.producer.blocked_time += bucket.blocked - blocked
            assert bucket.skipped - skipped == k - passed or self.evenly
        elif passed < k:
            self.producer.produced += k - passed
            self.discarded += k - passed
        return passed


class FastSystems:
    """Builds the fast components that use the systems keys and reports on them (an engine extension)."""

    def __init__(self, scenario: Scenario, seeds: SeedTree, quantum: float):
        self.scenario = scenario
        self.seeds = seeds
        self.quantum = quantum
        self.limited: dict[str, LimitedCounts] = {}
        self.producers: list[AttachedProducer] = []
        self.shedding: list[SheddingBuffer] = []
        self.batch_groups: list[FastBatchGroup] = []
        self.downstreams = {spec.name: FastDownstream(spec) for spec in scenario.downstreams}
        self.calling: list[FastCallingGroup | FastPermitGroup] = []
        self.marked: dict[str, Any] = {}  # a writable's name → the group whose `_write()` drains it
        self.reports = uses_systems(scenario)  # exact mode's `Systems` columns, only where it has them
        self._last: dict[str, float] = {}

    # ------------------------------------------------------------------ building
    def buffer_type(self, spec: BufferSpec) -> type[FastBuffer]:
        if spec.high_water_mark is not None:
            return MarkedBuffer
        if spec.shed:
            return SheddingBuffer
        if any(c.batch is not None and c.from_ == spec.name for c in self.scenario.consumers):
            return BatchFedBuffer
        return FastBuffer

    def group_type(self, spec: ConsumerSpec) -> type[FastGroup]:
        """The group class of a consumer with `service`: a piped stream's `_write()` is replayed from cycles."""
        piped = {p.to for p in self.scenario.producers if producer_pauses(self.scenario, p)}
        return PipedGroup if spec.from_ in piped else FastGroup

    def wire(self, readers: dict[str, Any]) -> None:
        """Tell each writable which group's `_write()` drains it (its length counts what that group holds)."""
        self.marked = {name: reader for name, reader in readers.items() if isinstance(reader.source, MarkedBuffer)}
        for reader in self.marked.values():
            reader.source.reader = reader

    def batch_group(self, spec: ConsumerSpec, source: FastBuffer,
                    on_latencies: Callable[[list[float], list[int]], None]) -> FastBatchGroup:
        """A batch consumer (exact mode's streams for its costs)."""
        assert spec.batch is not None
        base = self.scenario.base_dir
        costs = (sampler(spec.batch.fixed, self.seeds.generator(f"consumer/{spec.name}/batch_fixed"), base),
                 sampler(spec.batch.per_item, self.seeds.generator(f"consumer/{spec.name}/batch_per_item"), base))
        group = FastBatchGroup(spec, source, costs, on_latencies, self.seeds.generator(f"consumer/{spec.name}/batch_arrivals"))
        self.batch_groups.append(group)
        return group

    def producer(self, spec: ProducerSpec, buffer: FastBuffer, counts: Any, sizes: ByteSums) -> FastProducer:
        """The fast producer for `spec`: one that retries, one with RxJS operators, one whose requests wait
        on their own (`blocking: request`), or the core's."""
        if spec.retry is not None or spec.caller_timeout is not None:
            return RetryingProducer(spec, buffer, counts, sizes, self.seeds.generator(f"producer/{spec.name}/retry"),
                                    self.quantum, self.scenario.duration)
        if not spec.operators:  # (operators' emissions wait per request whatever `blocking` says)
            if spec.blocking == "request":
                return RequestProducer(spec, buffer, counts, sizes, self.quantum,
                                       self.seeds.generator(f"producer/{spec.name}/request_order"))
            return FastProducer(spec, buffer, counts, sizes)
        stop = spec.stop if spec.stop is not None and spec.stop < self.scenario.duration else math.inf
        return OperatorProducer(spec, buffer, counts, sizes, self.seeds.generator(f"producer/{spec.name}/operator_times"),
                                self.quantum, stop, self.scenario.duration)

    def calling_group(self, spec: ConsumerSpec, source: FastBuffer, on_latencies: Callable[[list[float], list[int]], None],
                      target: FastBuffer | None = None) -> FastCallingGroup | FastPermitGroup:
        """A consumer calling a downstream: calls that do not interact (`calls.py`, forwarding to `target`
        when they cannot fail), or that do, behind a semaphore or to a degrading downstream (`permits.py`)."""
        assert spec.calls is not None
        downstream = self.downstreams[spec.calls.downstream]
        base = self.scenario.base_dir
        if interacts(spec, downstream.spec, self.scenario):
            permits = FastPermitGroup(spec, source, on_latencies, downstream, self.seeds.generator(f"consumer/{spec.name}/calls"),
                                      base, overloadable(downstream.spec, self.scenario))
            self.calling.append(permits)
            return permits
        outcomes = CallOutcomes(spec, downstream.spec, self.seeds.generator(f"consumer/{spec.name}/calls"), base)
        group = FastCallingGroup(spec, source, on_latencies, downstream, outcomes,
                                 self.seeds.generator(f"consumer/{spec.name}/service_profile"), base, target)
        self.calling.append(group)
        return group

    def attach(self, producer: AttachedProducer) -> None:
        """Give a producer that uses these keys its mechanisms (a rate limit, a shed class)."""
        spec = producer.spec
        if not producer_uses_systems(self.scenario, spec):
            return
        self.producers.append(producer)
        reader = self.marked.get(producer.buffer.name)
        if isinstance(reader, PipedGroup) and producer_pauses(self.scenario, spec):
            self._pipe(producer, reader)
        if spec.rate_limit is not None:
            rng: np.random.Generator = self.seeds.generator(f"producer/{spec.name}/rate_limit")
            bucket = FastTokenBucket(spec.rate_limit.rate, spec.rate_limit.burst, rng, spec.rate_limit.on_limit == "wait")
            counts = LimitedCounts(producer.counts, bucket, producer, self.quantum)
            producer.counts = counts
            self.limited[producer.name] = counts
        buffer = producer.buffer
        shed = buffer.spec.shed or {}
        if isinstance(buffer, SheddingBuffer) and spec.priority is not None and spec.priority in shed:
            buffer.shedders.append((producer, int(shed[spec.priority]), spec.priority))
            if buffer not in self.shedding:
                self.shedding.append(buffer)

    def _pipe(self, producer: AttachedProducer, reader: PipedGroup) -> None:
        """Join a piped source to its writable's `_write()`: banks drawn from the run's own streams."""
        scenario, seeds, spec = self.scenario, self.seeds, producer.spec
        base = scenario.base_dir
        consumer = reader.spec
        assert consumer.service is not None
        overhead = scenario.memory.per_item_overhead if scenario.memory else 0.0
        # a trace's chunks come at random within their bin in exact mode: banked as Poisson, as random sources
        evenly = spec.arrivals.process == "constant" or getattr(spec.arrivals, "within", "poisson") == "constant"
        make = stream_bank_maker(consumer, spec, producer.buffer.spec, evenly, overhead,
                                 draw_function(consumer.service, seeds.generator(f"consumer/{consumer.name}/stream_service"), base),
                                 draw_function(spec.size, seeds.generator(f"producer/{spec.name}/stream_size"), base),
                                 seeds.generator(f"producer/{spec.name}/stream_arrivals"),
                                 spec.mean_rate(scenario.duration) * scenario.load_multiplier * scenario.duration)
        reader.configure(producer, make, seeds.generator(f"buffer/{producer.buffer.name}/stream_cycles"))

    # ------------------------------------------------------------------ counts
    def discarded_by(self, producer: AttachedProducer) -> dict[str, int]:
        by: dict[str, int] = {}
        if producer.name in self.limited:
            by["rate_limit"] = self.limited[producer.name].discarded
        buffer = producer.buffer
        if isinstance(buffer, SheddingBuffer) and any(p is producer for p, _, _ in buffer.shedders):
            by["shed"] = buffer.shed.get(producer.name, 0)
        if isinstance(producer, OperatorProducer):
            for operator in producer.operators:
                by[operator.kind] = by.get(operator.kind, 0) + operator.discarded
        return by

    def _discarded(self) -> int:
        return sum(sum(self.discarded_by(p).values()) for p in self.producers)

    # ------------------------------------------------------------------ extension hooks
    def start(self) -> None:
        """Batch groups fed only by evenly spaced arrivals place them evenly."""
        for group in self.batch_groups:
            producers = group.source.producers
            group.evenly = bool(producers) and all(getattr(getattr(p, "counts", None), "evenly", False) for p in producers)

    def flush(self) -> None:
        """No latencies of its own."""

    def totals(self) -> dict[str, int]:
        return {"discarded": self._discarded(), "failed": sum(g.failed for g in self.calling)}

    def peak_queue_depth(self) -> int:
        return 0

    def end_warmup(self) -> None:
        """Nothing to cut."""

    def sample(self, row: dict[str, float]) -> None:
        """Per interval: discarded, failed, retries (exact mode's columns)."""
        if not self.reports:
            return
        figures = {"discarded": float(self._discarded()), "failed": float(sum(g.failed for g in self.calling)),
                   "retries": float(sum(getattr(p, "retries", 0) for p in self.producers))}
        now = float(row["time_s"])
        for name, downstream in self.downstreams.items():
            row[f"{name}.in_flight"] = downstream.sample(now)
            figures[f"{name}.calls"] = float(downstream.calls)
            figures[f"{name}.errors"] = float(downstream.errors)
        for group in self.calling:
            if isinstance(group, FastPermitGroup) and group.permits is not None:
                row[f"{group.name}.semaphore_waiting"] = float(group.waiting_for_permit())
        for key, value in figures.items():
            row[key] = value - self._last.get(key, 0.0)
            self._last[key] = value

    def components(self) -> dict[str, dict[str, Any]]:
        """The producers' and buffers' entries of exact mode's `Systems`."""
        result: dict[str, dict[str, Any]] = {}
        for producer in self.producers:
            spec = producer.spec
            by = self.discarded_by(producer)
            entry: dict[str, Any] = {"discarded": sum(by.values())}
            if producer.name in self.limited:
                bucket = self.limited[producer.name].bucket
                entry["rate_limit"] = {"rate_per_s": bucket.rate, "burst": bucket.burst, "on_limit": spec.rate_limit.on_limit,
                                       "passed": bucket.passed, "limited": bucket.limited, "waited_s": bucket.waited}
            if "shed" in by:
                entry["priority"] = spec.priority
            if isinstance(producer, OperatorProducer):
                entry["operators"] = producer.stages()
            entry["discarded_by"] = by
            entry["gave_up"] = getattr(producer, "timed_out", 0)  # its blocked emissions that timed out (block_timeout)
            if isinstance(producer, (RetryingProducer, RequestProducer)):
                entry.update(producer.stats())
            if isinstance(producer, OperatorProducer) and producer.request_waits:  # emissions that waited for room
                entry["requests_blocked"] = producer.request_waits
                entry["mean_request_wait_s"] = producer.request_wait_time / producer.request_waits
            piped = self.marked.get(producer.buffer.name)
            if isinstance(piped, PipedGroup) and piped.producer is producer:
                entry["pauses"], entry["paused_s"] = piped.pauses, piped.paused_time
            result[producer.name] = entry
        for group in self.calling:
            result[group.name] = {"failed": group.failed, "downstream": group.downstream.name,
                                  "call_errors": group.call_errors, "call_timeouts": group.call_timeouts,
                                  "call_retries": group.call_retries_made}
            if isinstance(group, FastPermitGroup) and group.permits is not None:
                result[group.name]["semaphore"] = {"permits": group.permits, "peak_in_use": group.peak_in_use,
                                                   "waits": group.waits,
                                                   "mean_wait_s": group.wait_time / group.waits if group.waits else 0.0}
        for name, downstream in self.downstreams.items():
            sketch = downstream.sketch
            p50, p99 = sketch.quantiles((0.5, 0.99)) if sketch.count else (None, None)
            elapsed = downstream._last_time
            result[name] = {
                "kind": "downstream", "capacity": downstream.capacity, "calls": downstream.calls,
                "errors": downstream.errors, "error_ratio": downstream.errors / downstream.calls if downstream.calls else 0.0,
                "abandoned_by_caller": downstream.abandoned, "peak_in_flight": downstream.peak_in_flight,
                "mean_in_flight": downstream.call_seconds / elapsed if elapsed > 0 else 0.0,
                "calls_in_flight_at_end": downstream.in_flight,
                "call_latency_s": {"mean": sketch.mean if sketch.count else None, "p50": p50, "p99": p99,
                                   "max": sketch.maximum if sketch.count else None},
            }
        for name, reader in self.marked.items():
            buffer = reader.source
            assert isinstance(buffer, MarkedBuffer)
            result[name] = {"high_water_mark": buffer.high_water_mark,
                            "high_water_mark_unit": "bytes" if buffer.counts_bytes else "objects",
                            "writes": buffer.writes, "writes_returned_false": buffer.writes_false, "drains": buffer.drains}
        for buffer in self.shedding:
            shed = {priority: buffer.shed.get(p.name, 0) for p, _, priority in buffer.shedders}
            result.setdefault(buffer.name, {})["shed"] = {"at_depth": dict(buffer.spec.shed or {}), "shed": shed}
        return result

    def events(self) -> list[dict[str, Any]]:
        return []
