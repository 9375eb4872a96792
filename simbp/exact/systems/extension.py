"""The engine's side of the systems keys (docs/systems.md): which classes to build, and the figures.

`Model` asks `Systems` (built only when `uses_systems(scenario)`) for the buffer, consumer group
and producer classes of the components that use these keys; every other component keeps the core
classes. `Systems` is then one of the model's extensions: it adds `discarded` and `failed` to the
totals (so conservation stays exact), columns to the time series and entries to the summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...random import sampler
from ...scenario.systems import consumer_pauses, producer_pauses, producer_uses_systems, uses_systems
from ..buffer import Buffer
from ..consumer import WorkerGroup
from .downstream import CallingGroup, Downstream
from .streams import PipingGroup, WritableBuffer
from .upstream import UpstreamProducer

if TYPE_CHECKING:
    from ...scenario.schema import BufferSpec, ConsumerSpec, ProducerSpec
    from ..contract import ModelView

__all__ = ["Systems", "uses_systems"]


class Systems:
    """Builds the components that use the systems keys and reports on them (an engine extension)."""

    def __init__(self, model: "ModelView"):
        self.model = model
        self.env = model.env
        scenario = model.scenario
        self.downstreams: dict[str, Downstream] = {}
        for spec in scenario.downstreams:
            latencies = sampler(spec.latency, model.seeds.generator(f"downstream/{spec.name}/latency"), scenario.base_dir)
            uniforms = _uniforms(model.seeds.generator(f"downstream/{spec.name}/errors"))
            self.downstreams[spec.name] = Downstream(model.env, spec, latencies, uniforms)
        self._last: dict[str, float] = {}
        self._producers: list[UpstreamProducer] = []

    # ------------------------------------------------------------------ building
    def buffer_type(self, spec: "BufferSpec") -> type[Buffer]:
        return WritableBuffer if spec.high_water_mark is not None else Buffer

    def group(self, spec: "ConsumerSpec", *args: Any) -> WorkerGroup:
        """The consumer group for `spec` (WorkerGroup's arguments after `env`)."""
        scenario = self.model.scenario
        if spec.calls is not None:
            return CallingGroup(self.env, spec, *args, downstream=self.downstreams[spec.calls.downstream])
        if consumer_pauses(scenario, spec):
            return PipingGroup(self.env, spec, *args)
        return WorkerGroup(self.env, spec, *args)

    def wants_producer(self, spec: "ProducerSpec") -> bool:
        return producer_uses_systems(self.model.scenario, spec)

    def producer(self, spec: "ProducerSpec", buffer: Buffer, times: Iterator[float], sizes: Iterator[float],
                 overhead: float, stop: float) -> UpstreamProducer:
        model = self.model
        shed = buffer.spec.shed or {}
        retry_rng = model.seeds.generator(f"producer/{spec.name}/retry") if spec.retry is not None and spec.retry.jitter == "full" else None
        producer = UpstreamProducer(model.env, spec, buffer, model.service, times, sizes, overhead, stop,
                                    pauses=producer_pauses(model.scenario, spec),
                                    shed_at=shed.get(spec.priority) if spec.priority is not None else None,
                                    retry_rng=retry_rng)
        self._producers.append(producer)
        return producer

    def _wire(self) -> None:
        """Tell each writable which groups' `_write()` drain it (they count in its length)."""
        model = self.model
        for buffer in model.buffers.values():
            if isinstance(buffer, WritableBuffer):
                buffer.readers = [g for g in model.groups.values() if g.source is buffer]

    # ------------------------------------------------------------------ extension hooks
    def start(self) -> None:
        self._wire()

    def flush(self) -> None:
        for downstream in self.downstreams.values():
            downstream.flush()

    def totals(self) -> dict[str, int]:
        """Discarded on purpose and failed downstream (the producers' holds already count in flight)."""
        return {"discarded": sum(p.discarded for p in self._producers),
                "failed": sum(g.failed for g in self._calling_groups())}

    def peak_queue_depth(self) -> int:
        return 0

    def end_warmup(self) -> None:
        """Nothing to cut: call latencies are reported over the whole run."""

    def sample(self, row: dict[str, float]) -> None:
        """Per interval: discarded, failed, retries; per downstream: calls in flight, calls, errors."""
        last = self._last
        figures = {"discarded": sum(p.discarded for p in self._producers),
                   "failed": sum(g.failed for g in self._calling_groups()),
                   "retries": sum(p.retries for p in self._producers)}
        for name, downstream in self.downstreams.items():
            row[f"{name}.in_flight"] = downstream.in_flight
            figures[f"{name}.calls"] = downstream.calls
            figures[f"{name}.errors"] = downstream.errors
        for group in self._calling_groups():
            if group.semaphore is not None:
                row[f"{group.name}.semaphore_waiting"] = len(group.semaphore.waiters)
        for key, value in figures.items():
            row[key] = value - last.get(key, 0)
            last[key] = value

    def components(self) -> dict[str, dict[str, Any]]:
        """Extra figures for the producers, buffers and consumers that use these keys, and the downstreams."""
        model = self.model
        now = model.env.now
        result: dict[str, dict[str, Any]] = {}
        for producer in self._producers:
            result[producer.name] = producer.stats()
        for buffer in model.buffers.values():
            if isinstance(buffer, WritableBuffer):
                result[buffer.name] = {"high_water_mark": buffer.high_water_mark,
                                       "high_water_mark_unit": "bytes" if buffer.counts_bytes else "objects",
                                       "writes": buffer.writes, "writes_returned_false": buffer.writes_false,
                                       "drains": buffer.drains}
            if buffer.spec.shed:
                shed = {p.spec.priority: p.shed for p in self._producers if p.buffer is buffer and p.shed_at is not None}
                result.setdefault(buffer.name, {})["shed"] = {"at_depth": dict(buffer.spec.shed), "shed": shed}
        for group in model.groups.values():
            if isinstance(group, PipingGroup):
                result[group.name] = {"pauses": group.pauses}
            if isinstance(group, CallingGroup):
                entry: dict[str, Any] = {"failed": group.failed, "downstream": group.downstream.name,
                                         "call_errors": group.call_errors, "call_timeouts": group.call_timeouts,
                                         "call_retries": group.call_retries_made}
                if group.semaphore is not None:
                    semaphore = group.semaphore
                    granted = semaphore.granted_after_wait
                    entry["semaphore"] = {"permits": semaphore.permits, "peak_in_use": semaphore.peak_in_use,
                                          "waits": semaphore.waits,
                                          "mean_wait_s": semaphore.wait_time / granted if granted else 0.0}
                result[group.name] = entry
        for name, downstream in self.downstreams.items():
            sketch = downstream.sketch
            p50, p99 = sketch.quantiles((0.5, 0.99)) if sketch.count else (None, None)
            result[name] = {
                "kind": "downstream", "capacity": downstream.capacity, "calls": downstream.calls,
                "errors": downstream.errors, "error_ratio": downstream.errors / downstream.calls if downstream.calls else 0.0,
                "abandoned_by_caller": downstream.abandoned, "peak_in_flight": downstream.peak_in_flight,
                "mean_in_flight": downstream.in_flight_area(now) / now if now > 0 else 0.0,
                "calls_in_flight_at_end": downstream.in_flight,
                "call_latency_s": {"mean": sketch.mean if sketch.count else None, "p50": p50, "p99": p99,
                                   "max": sketch.maximum if sketch.count else None},
            }
        return result

    def events(self) -> list[dict[str, Any]]:
        return []

    def _calling_groups(self) -> list[CallingGroup]:
        return [g for g in self.model.groups.values() if isinstance(g, CallingGroup)]


def _uniforms(rng: Any) -> Iterator[float]:
    from ...random import block_sampler

    return block_sampler(lambda n: rng.random(n))
