"""Fast mode: production-sized scenarios in seconds, by stepping quanta of time instead of messages.

SimPy stays the clock: one process advances the model a quantum `dt` at a time (at most
`MAX_QUANTA` quanta per run, none shorter than a quarter of the shortest mean service time), and
crashes, restarts and samples are SimPy events as in exact mode. Within a quantum:

- each producer emits a count of messages (`producer.py`, `inputs.py`): Poisson for random
  arrivals, the integrated rate for evenly spaced ones, exact counts for traces; their bytes are the
  sum of as many size draws;
- buffers hold FIFO *cohorts* (`cohorts.py`: count, creation-time range, entry-time range, bytes)
  instead of messages, merged as they age, so a queue of ten million items is a few hundred cohorts;
- each consumer group (`group.py`) does `busy workers × dt` seconds of work on its items in FIFO
  order, every item needing its own service time drawn from its distribution;
- drop_newest, drop_oldest, block and unbounded keep their exact-mode meaning, applied to counts
  (`buffer.py`, the rule declared in `simbp.semantics`); memory over the limit crashes the service,
  losing everything held, and it restarts empty after `restart_after`.

Counts are whole numbers throughout, so conservation holds exactly; every random number comes from
the run's seed tree, so the same scenario and seed give the same results. The model satisfies
`simbp.engine_contract.SimulatedModel`, and its totals and time series are recorded by
`simbp.recording`, the same code as exact mode's. What fast mode cannot model is declared in
`simbp.semantics` (`unsupported()` asks it), and `simbp.run(mode="auto")` then runs exact mode. Its
error against exact mode is stated and tested in tests/test_fast_mode.py (docs/performance.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any, cast

import simpy

from .. import recording, semantics
from ..errors import Problem, ScenarioError
from ..metrics import LatencySketch
from ..random import SeedTree, draw_function
from ..scenario.schema import Scenario
from ..scenario.systems import producer_pauses
from ..service import Service
from .autoscale import fast_worker_autoscaling
from .buffer import FastBuffer
from .cohorts import Cohorts
from .forwarding import Inlet, block_segments, stage_order
from .group import REPRESENTATIVES, FastGroup
from .inputs import ByteSums, WorkStream, arrival_counts
from .kafka import FastKafka, TopicProducer
from .producer import FastProducer
from .renewal import ServiceCounts, squared_cv
from .stage_wait import StageWait
from .systems.calls import concurrency, mean_holding
from .systems.extension import FastSystems, needs_systems
from .systems.operators import emitted_rate
from .systems.streams import rate_scale

__all__ = ["FastModel", "simulate_fast", "unsupported", "require_supported", "choose_quantum", "fine_substeps",
           "MAX_QUANTA", "MAX_SUBSTEPS", "TIMEOUT_FRACTION", "MAX_TIMEOUT_SUBSTEPS",
           "KAFKA_MEMBER_STEPS", "SERVICE_FRACTION", "REPRESENTATIVES",
           "COHORT_RESOLUTION", "Cohorts"]

MAX_QUANTA = 100_000  # quanta per run at most: bounds the run time whatever the message count
SERVICE_FRACTION = 0.25  # a quantum need not be shorter than this fraction of the shortest mean service
COHORT_RESOLUTION = 256  # a queue keeps about this many cohorts over its age (latency error ~ age/512)
KAFKA_MEMBER_STEPS = 600_000  # Kafka members × quanta per run at most (about 30 s of stepping here)
MAX_SUBSTEPS = 1024  # sub-steps of one quantum at most, for a stage whose buffer may fill up
PROFILE_DRAWS = 4096  # service times drawn to profile each group's distribution (E[min(S, dt)])
TIMEOUT_FRACTION = 0.5  # a stage whose producers may block steps at most this fraction of its block_timeout
MAX_TIMEOUT_SUBSTEPS = 8192  # sub-steps of one quantum at most for a block_timeout (`semantics` leaves shorter ones exact)
_INSTANT = 1e-9  # relative: a deadline this close to a step's edge falls on it
SMALL_BUFFER = 4  # a buffer under this many quanta's worth of arrivals and takes is stepped finely throughout


# --------------------------------------------------------------------------- what it models
def unsupported(scenario: Scenario) -> list[str]:
    """The mechanisms in `scenario` that fast mode cannot model (asked of `simbp.semantics`)."""
    return semantics.fast_unsupported(scenario)


def require_supported(scenario: Scenario) -> None:
    """Raise `ScenarioError` naming each mechanism fast mode cannot model."""
    found = unsupported(scenario)
    if found:
        source = getattr(scenario, "_source", None)
        raise ScenarioError([Problem(path.split(":")[0], "fast mode cannot model this"
                                     + (f" ({path.split(':', 1)[1].strip()})" if ":" in path else "")
                                     + "; run it in exact mode (mode='exact', or --mode exact / auto)", None, source)
                             for path in found])


def choose_quantum(scenario: Scenario, max_quanta: int = MAX_QUANTA) -> float:
    """The quantum: fine enough for the fastest service, coarse enough for `max_quanta`, and a
    whole fraction of the sample interval so samples fall on quantum boundaries."""
    piped = {p.to for p in scenario.producers if producer_pauses(scenario, p)}  # replayed from cycles: no scale
    means = [mean_holding(c, scenario) for c in scenario.consumers if c.batch is None and c.from_ not in piped]
    scales = [SERVICE_FRACTION * m for m in means if m > 0 and math.isfinite(m)]
    # batches are stepped by event: a quantum need only resolve a batch's timeout or service (depth, memory)
    scales += [SERVICE_FRACTION * max(c.batch.timeout, c.mean_service() * c.batch.size) for c in scenario.consumers if c.batch]
    # a Kafka member's counts are drawn per quantum, so a quarter of one full poll batch is fine enough
    scales += [SERVICE_FRACTION * g.max_poll_records * float(cast(Any, g.processing).mean) for g in scenario.consumer_groups]
    # a piped stream sets no service scale, but its quanta must follow its source's rate (systems/streams.py)
    scales += [rate_scale(p.arrivals, p.mean_rate(scenario.duration)) for p in scenario.producers if p.to in piped]
    scales = [s for s in scales if s > 0 and math.isfinite(s)]
    fine = min(scales) if scales else scenario.duration
    # an autoscaler reads the depth at the last quantum boundary: a few readings between its checks
    fine = min([fine] + [c.autoscale.check_every / 4 for c in scenario.consumers if c.autoscale is not None])
    members = max((_most_members(g) for g in scenario.consumer_groups), default=0)
    if members:  # a Kafka member costs a Python step a quantum: at most KAFKA_MEMBER_STEPS of them a run
        max_quanta = max(1, min(max_quanta, KAFKA_MEMBER_STEPS // members))
    quantum = max(scenario.duration / max_quanta, fine)
    interval = scenario.effective_sample_interval
    per_sample = max(1, math.floor(interval / quantum + 1e-9))
    return interval / per_sample


def _most_members(group: Any) -> int:
    """The most members a consumer group will have (its autoscaler's maximum, capped at the partitions)."""
    most = group.initial_consumers if group.autoscale is None else max(group.autoscale.max, group.initial_consumers)
    return int(most)


def fine_substeps(scenario: Scenario, quantum: float | None = None) -> dict[str, int]:
    """Stages stepped finely in every quantum, by buffer name: sub-steps per quantum of those whose
    dropping buffer (or `block` buffer fed by producers or forwards) is smaller than `SMALL_BUFFER`
    quanta's worth of arrivals and takes (estimated from mean rates: producers feeding the buffer and
    the stages forwarding into it, `_rate_into`), and of a `block_timeout` buffer that may hold its
    producers blocked (small, or overloaded at the mean rate): steps of `TIMEOUT_FRACTION` of it."""
    quantum = choose_quantum(scenario) if quantum is None else quantum
    readers = {c.from_: c for c in scenario.consumers}
    result: dict[str, int] = {}
    producers_to = {p.to for p in scenario.producers}
    fed = producers_to | {c.to for c in scenario.consumers if c.to is not None}
    for buffer in scenario.buffers:
        reader = readers.get(buffer.name)
        declared = semantics.policy(buffer.policy)
        if buffer.capacity is None or reader is None or reader.batch is not None \
                or not (declared.drops or (declared.blocks and buffer.name in fed)):
            continue
        mean = mean_holding(reader, scenario)
        if not (mean > 0 and math.isfinite(mean)):
            continue
        rate = _rate_into(scenario, buffer.name)
        workers = reader.autoscale.max if reader.autoscale is not None else concurrency(reader)
        sweep = (rate * scenario.load_multiplier + workers / mean) * quantum
        if quantum > SERVICE_FRACTION * mean and buffer.capacity < SMALL_BUFFER * sweep:
            result[buffer.name] = min(MAX_SUBSTEPS, math.ceil(quantum / (SERVICE_FRACTION * mean) - 1e-9))
        timeout = buffer.block_timeout
        if timeout is not None and quantum > TIMEOUT_FRACTION * timeout and buffer.name in producers_to \
                and (buffer.name in result or rate * scenario.load_multiplier * mean >= workers):
            # a small buffer, or one its producers overload, may hold them blocked: steps of half its timeout
            result[buffer.name] = max(result.get(buffer.name, 1),
                                      min(MAX_TIMEOUT_SUBSTEPS, math.ceil(quantum / (TIMEOUT_FRACTION * timeout) - 1e-9)))
    return result


def _arrival_scv(scenario: Scenario, name: str) -> float:
    """The squared coefficient of variation of the gaps between arrivals into buffer `name`: 0 when only
    evenly spaced producers feed it, else 1 (Poisson; forwards from a stage taken as Poisson too)."""
    feeders = [p for p in scenario.producers if p.to == name]
    if feeders and not any(c.to == name for c in scenario.consumers) and all(
            getattr(p.arrivals, "process", "") == "constant" for p in feeders):
        return 0.0
    return 1.0


def _rate_into(scenario: Scenario, name: str, seen: frozenset[str] = frozenset()) -> float:
    """Mean arrivals per second into buffer `name` (before the load multiplier): its producers' and what
    the stages forwarding into it pass on (at most their workers' pace)."""
    rate = sum(emitted_rate(p, p.mean_rate(scenario.duration)) for p in scenario.producers if p.to == name)
    for consumer in scenario.consumers:
        if consumer.to == name and consumer.from_ not in seen:
            mean = mean_holding(consumer, scenario)
            pace = concurrency(consumer) / mean if mean > 0 and math.isfinite(mean) else math.inf
            rate += min(_rate_into(scenario, consumer.from_, seen | {name}), pace)
    return rate


# --------------------------------------------------------------------------- the model
class FastModel:
    """The fast-mode model: producers, buffers and groups that work on counts per quantum. It
    satisfies `simbp.engine_contract.SimulatedModel`, so results are derived as in exact mode."""

    mode = "fast"
    guard: Any = None  # a simbp.budget.RunGuard, set by `simulate_fast`

    def __init__(self, scenario: Scenario, seed: int | None = None, quantum: float | None = None):
        require_supported(scenario)
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.env = simpy.Environment()
        self.seeds = SeedTree(self.seed)
        self.service = Service(self.env, scenario.memory)
        self.extensions: list[Any] = []  # Kafka and the systems keys, when the scenario uses them
        self.quantum = float(quantum) if quantum is not None else choose_quantum(scenario)
        systems = FastSystems(scenario, self.seeds, self.quantum) if needs_systems(scenario) else None
        self.buffers: dict[str, FastBuffer] = {
            b.name: (systems.buffer_type(b) if systems else FastBuffer)(b, self.seeds.generator(f"buffer/{b.name}/overflow"))
            for b in scenario.buffers}
        self.sketch_by_group: dict[str, LatencySketch] = {}
        self.interval_sketch = LatencySketch()
        self.groups: dict[str, Any] = {}  # FastGroup, or a batch group from the systems
        self.readers: dict[str, Any] = {}  # buffer name → the one group reading it
        base = scenario.base_dir
        for consumer in scenario.consumers:
            sketch = LatencySketch()
            self.sketch_by_group[consumer.name] = sketch

            def on_latencies(values: list[float], weights: list[int], sketch: LatencySketch = sketch) -> None:
                sketch.add_weighted(values, weights)
                self.interval_sketch.add_weighted(values, weights)

            if (consumer.batch is not None or consumer.calls is not None) and systems is not None:  # fast/systems/
                source = self.buffers[consumer.from_]
                built = (systems.batch_group(consumer, source, on_latencies) if consumer.batch is not None
                         else systems.calling_group(consumer, source, on_latencies, self.buffers.get(consumer.to or "")))
                self.groups[consumer.name] = self.readers[consumer.from_] = built
                continue
            assert consumer.service is not None

            stream = self.seeds.generator(f"consumer/{consumer.name}/service")
            work = WorkStream(draw_function(consumer.service, stream, base))
            target = self.buffers[consumer.to] if consumer.to is not None else None
            profile = draw_function(consumer.service, self.seeds.generator(f"consumer/{consumer.name}/service_profile"),
                                    base)(PROFILE_DRAWS)
            counting = self.seeds.generator(f"consumer/{consumer.name}/service_count")  # normals and representatives
            completions = ServiceCounts(consumer.mean_service(), squared_cv(consumer.service, base), counting,
                                        draw_function(consumer.service, counting, base))
            group_type = systems.group_type(consumer) if systems is not None else FastGroup  # a piped stream's replay
            if group_type is FastGroup:  # the stationary sojourn where the counts cannot resolve the wait
                waits = StageWait(consumer.mean_service(), squared_cv(consumer.service, base),
                                  _arrival_scv(scenario, consumer.from_), self.buffers[consumer.from_].capacity, profile,
                                  self.seeds.generator(f"consumer/{consumer.name}/stage_wait"))
                group = FastGroup(consumer, self.buffers[consumer.from_], target, work, on_latencies, profile,
                                  completions, waits)
            else:
                group = group_type(consumer, self.buffers[consumer.from_], target, work, on_latencies, profile, completions)
            self.groups[consumer.name] = group
            self.readers[consumer.from_] = group
        if systems is not None:
            systems.wire(self.readers)
        self.kafka: FastKafka | None = None
        if scenario.topics:
            quanta = max(1, math.ceil(scenario.duration / self.quantum - 1e-9))
            self.kafka = FastKafka(scenario, self.env, self.seeds, self.quantum, quanta, self.sketch_by_group,
                                   self.interval_sketch)
            self.extensions.append(self.kafka)
        overhead = scenario.memory.per_item_overhead if scenario.memory else 0.0
        self.producers: list[FastProducer | TopicProducer] = []
        self._producers_of: dict[str, list[FastProducer]] = {name: [] for name in self.buffers}
        for spec in scenario.producers:
            counts = arrival_counts(spec, self.seeds.generator(f"producer/{spec.name}/arrivals"), self.quantum, scenario)
            if self.kafka is not None and spec.to in self.kafka.topics:  # on the broker: never blocks, no memory
                sizes = ByteSums(spec.size, self.seeds.generator(f"producer/{spec.name}/size"), base, 0.0)
                self.producers.append(self.kafka.producer(spec, counts, sizes, self.seeds.generator(f"producer/{spec.name}/key")))
                continue
            sizes = ByteSums(spec.size, self.seeds.generator(f"producer/{spec.name}/size"), base, overhead)
            buffer = self.buffers[str(spec.to)]
            producer = (systems.producer(spec, buffer, counts, sizes) if systems is not None
                        else FastProducer(spec, buffer, counts, sizes))
            self.producers.append(producer)
            buffer.producers.append(producer)
            self._producers_of[buffer.name].append(producer)
            if systems is not None:
                systems.attach(producer)
        if systems is not None:
            self.extensions.append(systems)
        scaling = fast_worker_autoscaling(self.env, scenario.consumers, self.groups, self.buffers)
        if scaling is not None:
            self.extensions.append(scaling)
        self._inlets: dict[str, Inlet] = {}  # buffer name → forwards into it, offered as its stage's arrivals
        for group in self.groups.values():  # (only into a buffer that does not push back: `forwarding.py`)
            target = group.target
            if target is not None and not target.blocks and target.name not in self._inlets:
                target.inlet = self._inlets[target.name] = Inlet(target)
                self._producers_of[target.name].append(cast(Any, target.inlet))
        for group in self.groups.values():  # a stage fed only by one stage's forwards carries its spread
            own_waits: Any = getattr(group, "waits", None)
            feeding = [g for g in self.groups.values() if g.target is group.source]
            if own_waits is None or len(feeding) != 1 or group.source.name not in self._inlets \
                    or len(self._producers_of[group.source.name]) != 1:
                continue
            chain = getattr(feeding[0], "waits", None)
            while chain is not None and chain is not own_waits:  # (a cycle of forwards carries none)
                chain = chain.upstream
            if chain is None:
                own_waits.upstream = feeding[0].waits
        self._order = stage_order(self.buffers, self.groups.values())
        self._senders_of: dict[str, list[Any]] = {}
        for group in self.groups.values():
            if group.target is not None and group.target.blocks:
                self._senders_of.setdefault(group.target.name, []).append(group)
        self._segments = block_segments(self._order, self.groups.values())
        self.service.on_crash(self._crash)
        self.samples: list[dict[str, float]] = []
        self._last: dict[str, float] = {}
        self.warmup_state: dict[str, Any] = {}

    # ------------------------------------------------------------------ recording (shared with exact mode)
    def flush(self) -> None:
        recording.flush(self)

    def totals(self) -> dict[str, float]:
        """Cumulative counters for the whole model at this instant."""
        return recording.totals(self)

    def sample(self) -> None:
        """Record one row of the time series."""
        self.flush()
        self.samples.append(recording.time_series_row(self, self._last))
        if self.guard is not None:  # runtime budgets (simbp.budget), checked per sample, never per message
            self.guard.on_sample(self)

    def _end_warmup(self) -> None:
        self.flush()
        self.warmup_state = recording.warmup_snapshot(self)

    # ------------------------------------------------------------------ one quantum
    def _step(self, t0: float, t1: float) -> None:
        down = self.service.down
        dt = t1 - t0
        for segment in self._segments:  # stages joined by `block` forwards are sub-stepped together
            stages = []
            for buffer in segment:
                age = t1 - buffer.queue.oldest_created()
                merge_within = max(0.5 * dt, age / COHORT_RESOLUTION) if age != -math.inf else 0.5 * dt
                producers = self._producers_of[buffer.name]
                counts = [producer.arrivals(down) for producer in producers]
                if down:
                    buffer.area += buffer.queue.count * dt
                    continue
                reader = self.readers.get(buffer.name)
                if reader is not None and getattr(reader, "replays", False):  # a piped Node.js stream (systems/streams.py)
                    reader.replay(t0, t1, producers[0].counts.expected)
                    continue
                stages.append((buffer, producers, counts, merge_within, self._substeps(buffer, counts, dt)))
            if max((stage[4] for stage in stages if stage[0].name in self._senders_of), default=1) == 1:
                for stage in stages:  # no `block` buffer fed by forwards needs sub-steps: each its own
                    self._advance_stage(*stage, t0, t1)
                continue
            parts = max(stage[4] for stage in stages)
            splits = [self._split(buffer, producers, counts, parts, t0, t1) for buffer, producers, counts, _, _ in stages]
            for part in range(parts):
                s0, s1 = t0 + dt * part / parts, (t1 if part == parts - 1 else t0 + dt * (part + 1) / parts)
                for (buffer, producers, _, merge_within, _), split in zip(stages, splits):
                    self._advance(buffer, producers, [shares[part] for shares in split], s0, s1, merge_within,
                                  1.0 / parts)
        for inlet in self._inlets.values():
            inlet.end_quantum(t0, t1)
        if not down:
            self._hold_memory()
        if self.kafka is not None:  # the broker is not the service: it runs through crashes
            self.kafka.step(t0, t1)

    def _advance_stage(self, buffer: FastBuffer, producers: list[FastProducer], counts: list[int],
                       merge_within: float, parts: int, t0: float, t1: float) -> None:
        """One stage through the quantum in `parts` sub-steps, the producers' arrivals split over them."""
        if parts == 1:
            self._advance(buffer, producers, counts, t0, t1, merge_within, 1.0)
            return
        dt = t1 - t0
        split = self._split(buffer, producers, counts, parts, t0, t1)
        for part in range(parts):
            s0, s1 = t0 + dt * part / parts, (t1 if part == parts - 1 else t0 + dt * (part + 1) / parts)
            self._advance(buffer, producers, [shares[part] for shares in split], s0, s1, merge_within, 1.0 / parts)

    @staticmethod
    def _split(buffer: FastBuffer, producers: list[FastProducer], counts: list[int], parts: int, t0: float,
               t1: float) -> list[list[int]]:
        """Each producer's arrivals of the quantum over `parts` sub-steps: by the producer when it knows
        when its items come (RxJS operators), else evenly or at random by the buffer."""
        return [p.split(k, parts, t0, t1) if hasattr(p, "split") else buffer.split_arrivals(k, parts, p.evenly)
                for k, p in zip(counts, producers)]

    def _substeps(self, buffer: FastBuffer, counts: list[int], dt: float) -> int:
        """Sub-steps for this buffer's stage in this quantum: those near capacity (`_fill_substeps`), and
        with a `block_timeout`, steps of at most `TIMEOUT_FRACTION` of it while its producers may block,
        so that a wait that begins in a step cannot end by its timeout within it (the model gives up a
        held item at its deadline, `_advance`)."""
        parts = self._fill_substeps(buffer, counts, dt)
        timeout = buffer.block_timeout
        if timeout is None or not self._producers_of[buffer.name]:
            return parts
        step = TIMEOUT_FRACTION * timeout
        if dt <= step * (1 + 1e-9):
            return parts
        producers = self._producers_of[buffer.name]
        if not any(p.holds_item() for p in producers) and buffer.queue.count + sum(counts) < buffer.capacity:
            return parts  # it cannot fill in this quantum: no producer blocks
        return max(parts, min(MAX_TIMEOUT_SUBSTEPS, math.ceil(dt / step - 1e-9)))

    def _fill_substeps(self, buffer: FastBuffer, counts: list[int], dt: float) -> int:
        """Sub-steps for this buffer's stage in this quantum near capacity: 1, unless the buffer drops arrivals when
        full (or blocks its producers), is so small that a quantum's arrivals and takes could sweep
        it, and its queue could run dry in the quantum.

        Near its capacity a bounded buffer's loss depends on the order of arrivals and takes within
        the quantum (`boundary.overshoot` draws it), and on how workers free up and idle, which
        pooled work gets right only on quanta of at most `SERVICE_FRACTION` of a service time: such
        stages are stepped that finely (docs/performance.md, "Near capacity")."""
        reader = self.readers.get(buffer.name)
        senders = self._senders_of.get(buffer.name, [])  # groups forwarding into a `block` buffer
        if reader is None or not (buffer.drops or (buffer.blocks and (self._producers_of[buffer.name] or senders))):
            return 1
        fine = SERVICE_FRACTION * reader.mean_service
        if dt <= fine * (1 + 1e-9):
            return 1
        arrivals = sum(counts) + sum(p.holds_item() for p in self._producers_of[buffer.name])
        if senders:  # forwards come at most at their workers' pace: a buffer they cannot fill never blocks
            forwards = sum(g.count * dt / g.mean_service for g in senders)
            if buffer.queue.count + arrivals + forwards < buffer.capacity:
                return 1
            arrivals += forwards
        sweep = arrivals + reader.count * dt / reader.mean_service  # arrivals and takes the quantum may hold
        if buffer.capacity >= SMALL_BUFFER * sweep:
            return 1  # a large buffer fills only from a long queue: see below
        takes = reader.count * dt / reader.mean_service
        if buffer.queue.count >= takes + SMALL_BUFFER * math.sqrt(takes):
            # the queue cannot run dry in this quantum: the workers stay busy (pooled work is right)
            # and `boundary.overshoot` draws the order of arrivals and takes at the top exactly
            return 1
        return min(MAX_SUBSTEPS, math.ceil(dt / fine - 1e-9))

    def _advance(self, buffer: FastBuffer, producers: list[FastProducer], counts: list[int], t0: float, t1: float,
                 merge_within: float, share: float) -> None:
        """One (sub-)step of a stage; with a `block_timeout`, split at the instant a blocked producer's
        held item times out (its deadline), so that it gives up then and emits again after it."""
        while buffer.block_timeout is not None and t1 > t0:
            deadline = min((p.deadline() for p in producers), default=math.inf)
            if deadline >= t1 - _INSTANT * max(1.0, t1):
                break
            if deadline > t0 + _INSTANT * max(1.0, t0):  # the step up to the deadline, the producer still blocked
                fraction = (deadline - t0) / (t1 - t0)
                first = [buffer.split_at(k, fraction, p.evenly) for k, p in zip(counts, producers)]
                self._advance_step(buffer, producers, first, t0, deadline, merge_within, share * fraction)
                counts = [k - f for k, f in zip(counts, first)]
                share *= 1 - fraction
                t0 = deadline
            for producer in producers:
                if producer.deadline() <= t0 + _INSTANT * max(1.0, t0):
                    producer.give_up()
        self._advance_step(buffer, producers, counts, t0, t1, merge_within, share)

    def _advance_step(self, buffer: FastBuffer, producers: list[FastProducer], counts: list[int], t0: float, t1: float,
                      merge_within: float, share: float) -> None:
        """One (sub-)step of a stage: producers offer, the buffer's consumers take and serve, the
        policy settles what did not fit."""
        start, taken_before, accepted_before = buffer.queue.count, buffer.taken, buffer.accepted
        offered = 0
        for producer, k in zip(producers, counts):
            offered += producer.offer(k, t0, t1, merge_within, share)
        reader = self.readers.get(buffer.name)
        if reader is not None and (offered or start or reader.held_items()):  # an empty stage idles
            reader.step(t0, t1, merge_within, offered)
        buffer.settle_arrivals(offered, t0, t1, start, buffer.taken - taken_before)
        inlet = self._inlets.get(buffer.name)
        if inlet is not None:  # what the policy kept of the forwards is what was forwarded
            inlet.settle(offered, buffer.accepted - accepted_before)
        buffer.area += 0.5 * (start + buffer.queue.count) * (t1 - t0)

    def _hold_memory(self) -> None:
        """Memory at the end of the quantum: the bytes of every item held; over the limit, a crash."""
        service = self.service
        held = service.baseline
        items = 0
        for buffer in self._order:
            held += buffer.queue.bytes
            depth = buffer.queue.count
            items += depth
            if depth > buffer.peak_depth:
                buffer.peak_depth = depth
            if buffer.queue.bytes > buffer.peak_bytes:
                buffer.peak_bytes = buffer.queue.bytes
        for group in self.groups.values():
            held += group.in_service.bytes + group.blocked.bytes
            items += group.held_items()
        service.held = held
        held += sum(buffer.peak_excess for buffer in self._order)  # a stage's peak within the quantum
        if held > service.limit:
            # the crash came when the item that passed the limit arrived: the peak is the limit
            # plus about one item, not what the rest of the quantum would have added
            held = min(held, service.limit + (held - service.baseline) / max(items, 1))
        if held > service.peak:
            service.peak = held
        if held > service.limit:
            service.crash()

    # ------------------------------------------------------------------ crash
    def _crash(self) -> None:
        for buffer in self.buffers.values():
            inlet = self._inlets.get(buffer.name)
            buffer.lost_in_crash += buffer.queue.count + (inlet.lose() if inlet is not None else 0)
            buffer.queue.clear()
        for group in self.groups.values():
            group.lose_everything()
        for producer in self.producers:
            if producer.held is not None:
                producer.lost_in_crash += 1
                producer.held = None
            lose_waiting = getattr(producer, "lose_waiting", None)  # emissions waiting for room (operators)
            if lose_waiting is not None:
                lose_waiting()

    # ------------------------------------------------------------------ running
    def _clock(self, progress: Callable[[float], None] | None) -> Generator[simpy.Event, Any, None]:
        env = self.env
        duration = self.scenario.duration
        quantum = self.quantum
        quanta = max(1, math.ceil(duration / quantum - 1e-9))
        per_sample = max(1, round(self.scenario.effective_sample_interval / quantum))
        warmup = self.scenario.warmup
        report_every = max(1, quanta // 100)
        for k in range(1, quanta + 1):
            t0 = (k - 1) * quantum
            t1 = min(k * quantum, duration)
            yield env.timeout(t1 - env.now)
            self._step(t0, t1)
            if warmup > 0 and t0 < warmup <= t1 + 1e-12:
                self._end_warmup()
            if k % per_sample == 0 and t1 < duration - 1e-12:
                self.sample()
            if progress is not None and k % report_every == 0:
                progress(k / quanta)

    def run(self, progress: Callable[[float], None] | None = None) -> FastModel:
        """Run to the scenario's duration; `progress(fraction)` is called along the way."""
        for extension in self.extensions:
            extension.start()
        self.sample()
        clock = self.env.process(self._clock(progress))
        self.env.run(until=clock)
        for group in self.groups.values():  # fractional weights of the stationary sojourns (stage_wait.py)
            finish = getattr(group, "finish_latencies", None)
            if finish is not None:
                finish()
        self.sample()
        return self


def simulate_fast(scenario: Scenario, seed: int | None = None, progress: Callable[[float], None] | None = None,
                  quantum: float | None = None, guard: Any = None) -> FastModel:
    """Build and run the fast model; the caller derives results from the returned model. `guard`
    (a `simbp.budget.RunGuard`) stops the run when it goes over a budget."""
    model = FastModel(scenario, seed, quantum)
    model.guard = guard
    return model.run(progress)
