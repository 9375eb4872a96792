"""Builds the SimPy model from a scenario and runs it in exact mode (every message simulated).

One fresh `Clock` (a `simpy.Environment`) and one seed tree per run: no global state, so runs can
go side by side in processes. Producers and workers are small state machines, each on one reusable
SimPy timer (`clock.Timer`: one event per arrival, one per service, no process to resume); buffers
are compact arrays.
Counters and entry/exit sums are updated at each state change; tables are built once at the end.
Optional mechanisms are `Extension`s (simbp/exact/contract.py), built only when a scenario uses
them, so a scenario without them pays nothing per message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import recording
from ..metrics import LatencySketch
from ..random import SeedTree, sampler
from ..scenario.schema import ConsumerSpec, ProducerSpec, Scenario
from ..service import Service
from .buffer import Buffer
from .clock import Clock, after
from .consumer import WorkerGroup
from .producer import Producer, ProducerState, arrival_times
from .systems.extension import Systems, uses_systems

if TYPE_CHECKING:
    from .contract import Extension
    from .kafka import KafkaSystem

__all__ = ["Model", "Producer", "simulate"]


class Model:
    """The built simulation: clock, components, extensions, sketches and the sampled time series.

    Satisfies `contract.ModelView` (the view extensions get while they are built) and
    `simbp.engine_contract.SimulatedModel` (what results read)."""

    mode = "exact"
    guard: Any = None  # a simbp.budget.RunGuard, set by `simulate`

    def __init__(self, scenario: Scenario, seed: int | None = None):
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.env = Clock()
        self.seeds = SeedTree(self.seed)
        self.service = Service(self.env, scenario.memory)
        # streams, downstreams, retries, operators, rate limits (docs/systems.md); None when unused
        self.systems: Systems | None = Systems(self) if uses_systems(scenario) else None
        self.buffers: dict[str, Buffer] = {}
        for buffer_spec in scenario.buffers:
            kind = Buffer if self.systems is None else self.systems.buffer_type(buffer_spec)
            self.buffers[buffer_spec.name] = kind(self.env, buffer_spec, self.service)
        self.sketch_by_group: dict[str, LatencySketch] = {}
        self.interval_sketch = LatencySketch()
        self.groups: dict[str, WorkerGroup] = {spec.name: self._build_group(spec) for spec in scenario.consumers}
        self.extensions: list[Extension] = []  # optional mechanisms with engine hooks, in build order
        self.kafka: KafkaSystem | None = None
        if scenario.topics:
            from .kafka import KafkaSystem

            self.kafka = KafkaSystem(self)
            self.extensions.append(self.kafka)
        if any(spec.autoscale is not None for spec in scenario.consumers):
            from .autoscale import WorkerAutoscaling

            self.extensions.append(WorkerAutoscaling(self))
        if self.systems is not None:
            self.extensions.append(self.systems)
        self.producers: list[ProducerState] = [self._build_producer(spec) for spec in scenario.producers]
        self.service.on_crash(self._crash)
        self.service.on_restart(self._restart)
        self.samples: list[dict[str, float]] = []
        self._last: dict[str, float] = {}
        self.warmup_state: dict[str, Any] = {}

    def _build_group(self, spec: ConsumerSpec) -> WorkerGroup:
        rng = self.seeds.generator
        base = self.scenario.base_dir
        sketch = LatencySketch()
        self.sketch_by_group[spec.name] = sketch
        interval = self.interval_sketch

        def on_latencies(values: list[float], sketch: LatencySketch = sketch) -> None:
            sketch.add_many(values, interval)

        service_times = sampler(spec.service, rng(f"consumer/{spec.name}/service"), base) if spec.service is not None else None
        costs = None
        if spec.batch is not None:
            costs = (sampler(spec.batch.fixed, rng(f"consumer/{spec.name}/batch_fixed"), base),
                     sampler(spec.batch.per_item, rng(f"consumer/{spec.name}/batch_per_item"), base))
        target = self.buffers[spec.to] if spec.to is not None else None
        if self.systems is not None:
            return self.systems.group(spec, self.buffers[spec.from_], target, self.service, service_times, costs, on_latencies)
        return WorkerGroup(self.env, spec, self.buffers[spec.from_], target, self.service, service_times, costs, on_latencies)

    def _build_producer(self, spec: ProducerSpec) -> ProducerState:
        scenario = self.scenario
        times = arrival_times(spec.arrivals, self.seeds.generator(f"producer/{spec.name}/arrivals"),
                              multiplier=scenario.load_multiplier, start=spec.start, base_dir=scenario.base_dir)
        sizes = sampler(spec.size, self.seeds.generator(f"producer/{spec.name}/size"), scenario.base_dir)
        stop = min(spec.stop if spec.stop is not None else math.inf, scenario.duration)
        if self.kafka is not None and spec.to in self.kafka.topics:  # a topic: on the broker, never blocks
            return Producer(self.env, spec, self.kafka.writer(spec), self.kafka.broker, times, sizes, 0.0, stop)
        overhead = scenario.memory.per_item_overhead if scenario.memory else 0.0
        buffer = self.buffers[spec.to]
        if self.systems is not None and self.systems.wants_producer(spec):
            return self.systems.producer(spec, buffer, times, sizes, overhead, stop)
        return Producer(self.env, spec, buffer, self.service, times, sizes, overhead, stop)

    # ------------------------------------------------------------------ crash
    def _crash(self) -> None:
        for buffer in self.buffers.values():
            for waiting in buffer.putters:
                if waiting.active:
                    waiting.active = False
                    if isinstance(waiting.owner, Producer):
                        waiting.owner.lose_blocked_item()
            buffer.putters.clear()
            buffer.clear()
        for group in self.groups.values():
            group.crash()

    def _restart(self) -> None:
        for group in self.groups.values():
            group.start()

    # ------------------------------------------------------------------ sampling
    def flush(self) -> None:
        recording.flush(self)

    def totals(self) -> dict[str, float]:
        """Cumulative counters for the whole model at this instant."""
        return recording.totals(self)

    def sample(self) -> None:
        """Record one row of the time series (per-interval figures are differences of totals)."""
        self.flush()
        self.samples.append(recording.time_series_row(self, self._last))
        if self.guard is not None:  # runtime budgets (simbp.budget), checked per sample, never per message
            self.guard.on_sample(self)

    def _sampler(self, interval: float) -> Any:
        while True:
            yield self.env.timeout(interval)
            if self.env.now < self.scenario.duration - 1e-12:
                self.sample()

    def _end_warmup(self, _event: Any) -> None:
        self.flush()
        self.warmup_state = recording.warmup_snapshot(self)

    # ------------------------------------------------------------------ running
    def run(self, progress: Callable[[float], None] | None = None) -> "Model":
        """Run to the scenario's duration; `progress(fraction)` is called along the way."""
        env = self.env
        for group in self.groups.values():
            group.start()
        for extension in self.extensions:
            extension.start()
        for producer in self.producers:
            producer.start()
        self.sample()
        env.process(self._sampler(self.scenario.effective_sample_interval))
        if self.scenario.warmup > 0:
            after(env, self.scenario.warmup, self._end_warmup)
        duration = self.scenario.duration
        if progress is None:
            env.run(until=duration)
        else:
            chunks = 100
            for index in range(1, chunks + 1):
                env.run(until=duration * index / chunks)
                progress(index / chunks)
        self.sample()
        return self


def simulate(scenario: Scenario, seed: int | None = None, progress: Callable[[float], None] | None = None,
             guard: Any = None) -> Model:
    """Build and run the exact model; the caller derives results from the returned model. `guard`
    (a `simbp.budget.RunGuard`) stops the run when it goes over a budget."""
    model = Model(scenario, seed)
    model.guard = guard
    return model.run(progress)

