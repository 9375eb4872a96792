"""Fast mode: production-sized scenarios in seconds, by stepping quanta of time instead of messages.

SimPy stays the clock: one process advances the model a quantum `dt` at a time (at most
`MAX_QUANTA` quanta per run, none shorter than a quarter of the shortest mean service time), and
crashes, restarts and samples are SimPy events as in exact mode. Within a quantum:

- each producer emits a count of messages: Poisson for random arrivals, the integrated rate for
  evenly spaced ones, exact counts for traces; their bytes are the sum of as many size draws;
- buffers hold FIFO *cohorts* (count, creation-time range, entry-time range, bytes) instead of
  messages, merged as they age, so a queue of ten million items is a few hundred cohorts;
- each consumer group does `busy workers × dt` seconds of work on its items in FIFO order, every
  item needing its own service time drawn from its distribution ("pooled work": for exponential
  service this has exactly the departure process of c parallel workers while they are busy);
- drop_newest, drop_oldest, block and unbounded keep their exact-mode meaning, applied to counts:
  overflow is dropped, or pushed back to whoever offered it (a blocked producer emits nothing
  meanwhile; a blocked worker holds its finished item and takes no more); memory over the limit
  crashes the service, losing everything held, and it restarts empty after `restart_after`;
- the latency of a consumed item is (when a worker took it − its creation) + its service time,
  interpolated within cohorts and given to the same quantile sketch with integer weights.

Counts are whole numbers throughout, so conservation holds exactly; every random number comes from
the run's seed tree, so the same scenario and seed give the same results. What fast mode cannot
model (batches, block time-outs, competing consumer groups on one buffer, Kafka topics and the
systems keys) is listed by `unsupported()`, and `simbp.run(mode="auto")` then runs exact mode.
Its error against exact mode is stated and tested in tests/test_fast_mode.py (docs/performance.md).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import simpy

from .. import semantics
from ..errors import Problem, ScenarioError
from ..exact.model import Model
from ..exact.service import Service
from ..metrics import LatencySketch
from ..random import SeedTree, draw_function
from ..scenario.rates import bursty_phases, read_trace, schedule_rates, trace_period
from ..scenario.schema import (
    BufferSpec,
    BurstyArrivals,
    ConstantArrivals,
    ConsumerSpec,
    PoissonArrivals,
    ProducerSpec,
    Scenario,
    ScheduleArrivals,
    TraceArrivals,
    _Constant,
)

__all__ = ["FastModel", "simulate_fast", "unsupported", "require_supported", "choose_quantum",
           "MAX_QUANTA", "SERVICE_FRACTION", "REPRESENTATIVES"]

MAX_QUANTA = 100_000  # quanta per run at most: bounds the run time whatever the message count
SERVICE_FRACTION = 0.25  # a quantum need not be shorter than this fraction of the shortest mean service
REPRESENTATIVES = 8  # latency values per cohort slice given to the sketch (weighted)
COHORT_RESOLUTION = 256  # a queue keeps about this many cohorts over its age (latency error ~ age/512)
_BLOCK = 4096  # quanta of arrivals, or draws of sizes and service times, prepared at a time
_FLUSH_EVERY = 1 << 13

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
    means = [c.mean_service() for c in scenario.consumers]
    means = [m for m in means if m > 0 and math.isfinite(m)]
    fine = SERVICE_FRACTION * min(means) if means else scenario.duration
    quantum = max(scenario.duration / max_quanta, fine)
    interval = scenario.effective_sample_interval
    per_sample = max(1, math.floor(interval / quantum + 1e-9))
    return interval / per_sample


# --------------------------------------------------------------------------- cohorts
class Cohorts:
    """A FIFO of cohorts `[count, created_lo, created_hi, entered_lo, entered_hi, bytes]`.

    Items of a cohort are taken as spread evenly over both time ranges, so splitting one at a
    fraction splits both ranges there. `entered` is when the items entered the queue (buffers) or
    when a worker took them (items in service).
    """

    __slots__ = ("items", "count", "bytes")

    def __init__(self) -> None:
        self.items: deque[list[float]] = deque()
        self.count = 0
        self.bytes = 0.0

    def push(self, n: int, created_lo: float, created_hi: float, entered_lo: float, entered_hi: float,
             nbytes: float, merge_within: float) -> None:
        """Append `n` items; merge them into the last cohort when both stay within `merge_within` s."""
        if n <= 0:
            return
        self.count += n
        self.bytes += nbytes
        items = self.items
        if items:
            tail = items[-1]
            if created_hi - tail[1] <= merge_within and entered_hi - tail[3] <= merge_within:
                tail[0] += n
                if created_hi > tail[2]:
                    tail[2] = created_hi
                if entered_hi > tail[4]:
                    tail[4] = entered_hi
                tail[5] += nbytes
                return
        items.append([n, created_lo, created_hi, entered_lo, entered_hi, nbytes])

    def pop(self, n: int) -> list[tuple[int, float, float, float, float, float]]:
        """Remove the `n` oldest items, as slices of cohorts."""
        out = []
        items = self.items
        self.count -= n
        while n > 0:
            head = items[0]
            m = head[0]
            if m <= n:
                items.popleft()
                out.append((m, head[1], head[2], head[3], head[4], head[5]))
                self.bytes -= head[5]
                n -= m
            else:
                f = n / m
                created_cut = head[1] + f * (head[2] - head[1])
                entered_cut = head[3] + f * (head[4] - head[3])
                nbytes = head[5] * f
                out.append((n, head[1], created_cut, head[3], entered_cut, nbytes))
                head[0] = m - n
                head[1] = created_cut
                head[3] = entered_cut
                head[5] -= nbytes
                self.bytes -= nbytes
                n = 0
        if self.count == 0:
            self.bytes = 0.0
        return out

    def pop_newest(self, n: int) -> tuple[int, float]:
        """Remove the `n` newest items; returns (n, their bytes)."""
        removed_bytes = 0.0
        items = self.items
        self.count -= n
        left = n
        while left > 0:
            tail = items[-1]
            m = tail[0]
            if m <= left:
                items.pop()
                removed_bytes += tail[5]
                left -= m
            else:
                f = (m - left) / m
                nbytes = tail[5] * (1 - f)
                tail[0] = m - left
                tail[2] = tail[1] + f * (tail[2] - tail[1])
                tail[4] = tail[3] + f * (tail[4] - tail[3])
                tail[5] -= nbytes
                removed_bytes += nbytes
                left = 0
        self.bytes -= removed_bytes
        if self.count == 0:
            self.bytes = 0.0
        return n, removed_bytes

    def oldest_created(self) -> float:
        return self.items[0][1] if self.items else math.inf

    def clear(self) -> None:
        self.items.clear()
        self.count = 0
        self.bytes = 0.0


# --------------------------------------------------------------------------- random inputs
class _Arrivals:
    """Messages a producer emits in each quantum [k·dt, (k+1)·dt), k = 0, 1, …: `next()` is the
    count for the next quantum, and `expected` what the arrival process expected in it."""

    def __init__(self, blocks: Iterator[tuple[list[int], list[float]]]):
        self._blocks = blocks
        self._counts: list[int] = []
        self._expected: list[float] = []
        self._index = 0
        self.expected = 0.0

    def next(self) -> int:
        index = self._index
        if index == len(self._counts):
            self._counts, self._expected = next(self._blocks)
            index = 0
        self._index = index + 1
        self.expected = self._expected[index]
        return self._counts[index]


def _arrival_counts(spec: ProducerSpec, rng: np.random.Generator, dt: float, scenario: Scenario) -> _Arrivals:
    """The per-quantum arrival counts of a producer, drawn `_BLOCK` quanta at a time."""
    arrivals = spec.arrivals
    multiplier = scenario.load_multiplier
    start = spec.start
    stop = min(spec.stop if spec.stop is not None else math.inf, scenario.duration)
    random = True
    cumulative: Callable[[np.ndarray], np.ndarray] | None = None  # expected arrivals by time after start
    per_quantum: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    exact_counts: Callable[[np.ndarray], np.ndarray] | None = None  # arrivals before each time after start

    if isinstance(arrivals, (PoissonArrivals, ConstantArrivals)):
        rate = arrivals.rate * multiplier
        random = isinstance(arrivals, PoissonArrivals)
        cumulative = lambda tau: rate * tau
    elif isinstance(arrivals, BurstyArrivals):
        (rate1, length1), (rate2, length2) = bursty_phases(arrivals, multiplier)
        cycle, per_cycle = length1 + length2, rate1 * length1 + rate2 * length2
        random = arrivals.within == "poisson"

        def cumulative(tau: np.ndarray) -> np.ndarray:
            cycles = np.floor(tau / cycle)
            x = tau - cycles * cycle
            return cycles * per_cycle + rate1 * np.minimum(x, length1) + rate2 * np.maximum(x - length1, 0.0)
    elif isinstance(arrivals, ScheduleArrivals):
        random = arrivals.within == "poisson"

        def per_quantum(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:  # rate at the midpoint × length
            return schedule_rates(arrivals, (lo + hi) / 2) * multiplier * (hi - lo)
    elif isinstance(arrivals, TraceArrivals):
        values = read_trace(arrivals, scenario.base_dir)
        if arrivals.format == "timestamps":
            n = len(values)
            period = trace_period(arrivals, values)

            def exact_counts(tau: np.ndarray) -> np.ndarray:
                if period is None or period <= 0:
                    return np.searchsorted(values, tau, side="left")
                laps = np.floor(tau / period)
                return laps * n + np.searchsorted(values, tau - laps * period, side="left")
        else:
            width = arrivals.bin
            span = max(stop - start, 0.0)
            bins = int(math.ceil(span / width)) + 1
            base = values if arrivals.loop else np.concatenate([values, np.zeros(max(bins - len(values), 0))])
            laps = int(math.ceil(bins / len(base)))
            scaled = np.tile(base, laps)[:bins] * multiplier
            counts = np.floor(scaled) + (rng.random(bins) < scaled % 1)  # whole messages per bin, as exact mode
            before = np.concatenate([[0.0], np.cumsum(counts)])
            random = False

            def cumulative(tau: np.ndarray) -> np.ndarray:
                index = np.minimum(np.floor(tau / width).astype(np.int64), bins - 1)
                return before[index] + (tau / width - index) * counts[index]
    else:  # pragma: no cover - the schema admits no other process
        raise TypeError(f"unknown arrival process {arrivals!r}")

    whole, fraction = math.floor(multiplier), multiplier % 1

    def blocks() -> Iterator[tuple[list[int], list[float]]]:
        first = 0
        total = 0.0  # running expected arrivals for evenly spaced processes (whole messages by floor)
        done = 0.0
        while True:
            edges = (first + np.arange(_BLOCK + 1)) * dt
            clipped = np.clip(edges, start, max(stop, start))
            if exact_counts is not None:
                counts = np.diff(exact_counts(clipped - start)).astype(np.int64)
                expected = counts * multiplier
                if multiplier != 1.0:
                    counts = whole * counts + rng.binomial(counts, fraction)
            else:
                if per_quantum is not None:
                    expected = per_quantum(clipped[:-1] - start, clipped[1:] - start)
                else:
                    expected = np.diff(cumulative(clipped - start))  # type: ignore[misc]
                expected = np.maximum(expected, 0.0)
                if random:
                    counts = rng.poisson(expected)
                else:
                    running = total + np.cumsum(expected)
                    floors = np.floor(running + 1e-9)
                    counts = np.diff(np.concatenate([[done], floors])).astype(np.int64)
                    total, done = float(running[-1]), float(floors[-1])
            yield counts.tolist(), expected.tolist()
            first += _BLOCK

    return _Arrivals(blocks())


class _ByteSums:
    """Total bytes of the next k messages: sums of size draws (plus the per-item overhead)."""

    def __init__(self, dist: Any, rng: np.random.Generator, base_dir: Any, overhead: float):
        self.overhead = overhead
        self.constant = float(dist.value) + overhead if isinstance(dist, _Constant) else None
        self.draw = None if self.constant is not None else draw_function(dist, rng, base_dir)
        self.prefix: list[float] = [0.0]
        self.position = 0

    def total(self, k: int) -> float:
        if self.constant is not None:
            return k * self.constant
        result = k * self.overhead
        while k > 0:
            available = len(self.prefix) - 1 - self.position
            if available == 0:
                block = self.draw(max(_BLOCK, k))  # type: ignore[misc]
                self.prefix = [0.0] + np.cumsum(block).tolist()
                self.position = 0
                continue
            take = min(k, available)
            result += self.prefix[self.position + take] - self.prefix[self.position]
            self.position += take
            k -= take
        return result


class _WorkStream:
    """Service times of a group's items in the order workers take them, kept as prefix sums:
    `work(i)` is the service time of items 0 … i−1 together."""

    def __init__(self, draw: Callable[[int], np.ndarray]):
        self.draw = draw
        self.prefix: list[float] = [0.0]
        self.base = 0  # prefix[j] = work(base + j)

    def work(self, index: int) -> float:
        return self.prefix[index - self.base]

    def last_within(self, low: int, high: int, work: float) -> int:
        """The largest i in [low, high] with work(i) <= `work`. Service times are drawn only as far
        as this search needs, so a long queue does not cost a service time per item."""
        prefix = self.prefix
        while self.base + len(prefix) - 1 < high and prefix[-1] <= work:
            prefix.extend((prefix[-1] + np.cumsum(self.draw(_BLOCK))).tolist())
        top = min(high, self.base + len(prefix) - 1)
        return bisect_right(prefix, work, low - self.base, top - self.base + 1) - 1 + self.base

    def skip_to(self, index: int) -> None:
        """Items before `index` are gone (lost in a crash): make work(index) known."""
        prefix = self.prefix
        while self.base + len(prefix) - 1 < index:
            prefix.extend((prefix[-1] + np.cumsum(self.draw(_BLOCK))).tolist())

    def forget_before(self, index: int) -> None:
        if index - self.base > 4 * _BLOCK:
            del self.prefix[: index - self.base]
            self.base = index


# --------------------------------------------------------------------------- components
class FastProducer:
    """Emits a count of messages per quantum into its buffer; blocked, it holds one item."""

    def __init__(self, spec: ProducerSpec, buffer: "FastBuffer", counts: _Arrivals, sizes: _ByteSums):
        self.spec = spec
        self.name = spec.name
        self.buffer = buffer
        self.counts = counts
        self.sizes = sizes
        self.produced = 0
        self.timed_out = 0
        self.lost_in_crash = 0
        self.blocked_time = 0.0
        self.held: tuple[float, float] | None = None  # (created, bytes) of the item a blocked producer holds
        self._offer = (0, 0, None)  # this quantum: (offered, new arrivals, item held before)
        self._blocked_excess = 0.0

    def emit(self, t0: float, t1: float, down: bool, merge_within: float) -> int:
        """Offer this quantum's arrivals (and a held item first) to the buffer; returns how many."""
        k = self.counts.next()
        if down:  # the service is down: what arrives is lost
            self.produced += k
            self.lost_in_crash += k
            self._offer = (0, 0, None)
            return 0
        queue = self.buffer.queue
        held, offered = self.held, k
        if held is not None:
            queue.push(1, held[0], held[0], t0, t0, held[1], 0.0)
            offered += 1
            self.held = None
        if k:
            queue.push(k, t0, t1, t0, t1, self.sizes.total(k), merge_within)
        self._offer = (offered, k, held)
        return offered

    def settle(self, returned: int, returned_bytes: float, t0: float, t1: float) -> None:
        """`returned` of the offered items did not fit a `block` buffer: the producer holds the first
        of them and the arrivals due after it were never produced (as in exact mode)."""
        offered, k, old = self._offer
        if returned == 0:
            self.produced += k
            return
        admitted = offered - returned
        had = 1 if old is not None else 0
        dt = t1 - t0
        if admitted < had:  # its old item still does not fit: blocked all quantum, nothing produced
            self.held = old
            self.blocked_time += dt
            return
        self.produced += admitted - had + 1
        self.held = (t0 + dt * admitted / offered, returned_bytes / returned)
        # arrivals fall due at the process's rate while it is blocked: skipped / rate estimates how long
        # (clipped to the quantum, the excess carried on: a Poisson count is often above its mean)
        skipped = k - (admitted - had) - 1
        expected = self.counts.expected
        estimate = self._blocked_excess + (skipped * dt / expected if expected > 0 else dt * returned / offered)
        self.blocked_time += min(dt, estimate)
        self._blocked_excess = max(estimate - dt, 0.0)

    def holds_item(self) -> int:
        return 0 if self.held is None else 1

    def blocked_seconds(self, now: float) -> float:
        return self.blocked_time


class FastBuffer:
    """A buffer of cohorts with exact-mode counters; `capacity` bounds the items waiting."""

    def __init__(self, spec: BufferSpec):
        self.spec = spec
        self.name = spec.name
        self.policy = semantics.policy(spec.policy, "fast").fast  # the overflow rule; NotModelled if none
        self.capacity: float = math.inf if spec.capacity is None else int(spec.capacity)
        self.queue = Cohorts()
        self.producers: list[FastProducer] = []
        self.reader: FastGroup | None = None
        self.accepted = 0
        self.dropped = 0
        self.taken = 0
        self.lost_in_crash = 0
        self.peak_depth = 0
        self.peak_bytes = 0.0
        self.area = 0.0  # item-seconds waited, up to the last quantum

    @property
    def depth(self) -> int:
        return self.queue.count

    @property
    def bytes(self) -> float:
        return self.queue.bytes

    def waiting_area(self, now: float) -> float:
        return self.area

    def room(self) -> float:
        """Items a forwarding worker may still put without waiting (only `block` makes it wait)."""
        return max(self.capacity - self.queue.count, 0) if self.policy == "block" else math.inf

    def settle_arrivals(self, offered: int, t0: float, t1: float) -> None:
        """After this buffer's consumers took: apply the policy to what producers offered this quantum."""
        excess = self.queue.count - self.capacity if offered else 0
        if excess <= 0:
            self.accepted += offered
            for producer in self.producers:
                producer.settle(0, 0.0, t0, t1)
            return
        excess = int(excess)
        if self.policy == "drop_oldest":
            self.queue.pop(excess)
            self.dropped += excess
            self.accepted += offered
        else:
            _, nbytes = self.queue.pop_newest(excess)
            if self.policy == "drop_newest":
                self.dropped += excess
                self.accepted += offered - excess
            else:  # block: the newest items go back to whoever offered them
                self.accepted += offered - excess
                shares = _split(excess, [p._offer[0] for p in self.producers])
                for producer, share in zip(self.producers, shares):
                    producer.settle(share, nbytes * share / excess, t0, t1)
                return
        for producer in self.producers:
            producer.settle(0, 0.0, t0, t1)

    def receive(self, slices: list[tuple[int, float, float, float, float, float]], n: int, t0: float, t1: float,
                merge_within: float) -> int:
        """Items forwarded by an upstream group; returns how many were accepted (the rest dropped)."""
        queue = self.queue
        for count, created_lo, created_hi, _, _, nbytes in slices:
            queue.push(count, created_lo, created_hi, t0, t1, nbytes, merge_within)
        excess = queue.count - self.capacity
        if excess <= 0 or self.policy == "block":  # a blocking target was asked for room first
            self.accepted += n
            return n
        excess = int(excess)
        self.dropped += excess
        if self.policy == "drop_oldest":
            queue.pop(excess)
            self.accepted += n
            return n
        queue.pop_newest(excess)
        self.accepted += n - excess
        return n - excess


def _split(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights`, in whole numbers (largest remainders first)."""
    whole = sum(weights)
    if whole <= 0:
        return [0] * len(weights)
    exact = [total * w / whole for w in weights]
    shares = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: shares[i] - exact[i])
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _cut(slices: list[tuple[int, float, float, float, float, float]], n: int) -> tuple[list[Any], list[Any]]:
    """The first `n` items of a list of cohort slices, and the rest."""
    first: list[Any] = []
    rest: list[Any] = []
    for piece in slices:
        count = piece[0]
        if n >= count:
            first.append(piece)
            n -= count
        elif n > 0:
            f = n / count
            created_cut = piece[1] + f * (piece[2] - piece[1])
            entered_cut = piece[3] + f * (piece[4] - piece[3])
            first.append((n, piece[1], created_cut, piece[3], entered_cut, piece[5] * f))
            rest.append((count - n, created_cut, piece[2], entered_cut, piece[4], piece[5] * (1 - f)))
            n = 0
        else:
            rest.append(piece)
    return first, rest


class FastGroup:
    """A consumer group doing `busy workers × dt` of work per quantum on its items, FIFO."""

    def __init__(self, spec: ConsumerSpec, source: FastBuffer, target: FastBuffer | None, work: _WorkStream,
                 on_latencies: Callable[[list[float], list[int]], None]):
        self.spec = spec
        self.name = spec.name
        self.source = source
        self.target = target
        self.sink = target is None
        self.workers = range(spec.workers)  # only len() is used by the shared sampling code
        self.count = spec.workers
        self.work = work
        self.mean_service = spec.mean_service()
        self.in_service = Cohorts()  # items taken, not finished; `entered` = when taken
        self.blocked = Cohorts()  # finished items waiting for room downstream (each holds a worker)
        self.taken = 0  # index of the next item to take (in `work` order)
        self.done = 0  # index of the next item to finish
        self.carry = 0.0  # work already done on item `done`
        self.processed = 0
        self.consumed = 0
        self.forwarded = 0
        self.timed_out = 0
        self.lost_in_crash = 0
        self.busy_time = 0.0
        self.blocked_time = 0.0
        self.batches = 0
        self._values: list[float] = []
        self._weights: list[int] = []
        self._on_latencies = on_latencies

    def held_items(self) -> int:
        return self.in_service.count + self.blocked.count

    def busy_seconds(self, now: float) -> float:
        return self.busy_time

    def blocked_seconds(self, now: float) -> float:
        return self.blocked_time

    def flush_latencies(self) -> None:
        if self._values:
            self._on_latencies(self._values, self._weights)
            self._values, self._weights = [], []

    def step(self, t0: float, t1: float, merge_within: float, arrived: int = 0) -> None:
        """One quantum: forward what was blocked, then take, serve, and finish items FIFO.

        `arrived` of the items waiting came in during this quantum: spread over it, each is there
        for half of it on average, so it keeps a worker busy for half the quantum."""
        target = self.target
        room = math.inf
        if target is not None and target.policy == "block":
            room = target.room()
            if self.blocked.count and room > 0:
                n = int(min(self.blocked.count, room))
                self.forwarded += target.receive(self.blocked.pop(n), n, t0, t1, merge_within)
                room -= n
        workers = self.count - self.blocked.count
        in_service = self.taken - self.done
        available = self.source.queue.count
        arrived = min(arrived, available)
        busy = min(workers, in_service + available - 0.5 * arrived)
        if busy > 0:
            # an item arriving in the last mean service time of the quantum cannot finish in it
            late = arrived if self.mean_service >= t1 - t0 else math.ceil(arrived * self.mean_service / (t1 - t0))
            self._serve(t0, t1, merge_within, workers, in_service, available, busy, room, available - late)
        self.blocked_time += self.blocked.count * (t1 - t0)

    def _serve(self, t0: float, t1: float, merge_within: float, workers: int, in_service: int, available: int,
               busy: float, room: float, reachable: int) -> None:
        work = self.work
        done = self.done
        limit = self.taken + reachable  # the items this group could finish this quantum
        start_work = work.work(done) + self.carry
        end_work = start_work + busy * (t1 - t0)
        natural = work.last_within(done, limit, end_work) - done  # finishes if nothing stops the workers
        finishes, forwardable = natural, natural
        if room != math.inf:  # after `room` forwards, each finished item holds its worker
            finishes = min(finishes, int(room) + workers)
            forwardable = min(finishes, int(room))
        free = workers - in_service
        takes = min(available, free + forwardable)  # a worker takes the next item when it is free
        finishes = min(finishes, in_service + takes)
        forwardable = min(forwardable, finishes)
        finished = done + finishes
        if finishes == natural and finished < limit:  # busy all quantum: partial work carries over
            used = end_work - start_work
            self.carry = end_work - work.work(finished)
        else:  # ran out of items, or workers stopped holding blocked items
            used = max(work.work(finished) - start_work, 0.0)
            if finishes:
                self.carry = 0.0
        self.busy_time += used
        if takes:
            self._take(takes, min(free, takes), t0, t1, merge_within)
        if finishes:
            slices = self.in_service.pop(finishes)
            self.processed += finishes
            if self.sink:
                self.consumed += finishes
                self._record(slices, done)
            else:
                forward, rest = _cut(slices, forwardable)
                for count, c_lo, c_hi, _, _, nbytes in rest:
                    self.blocked.push(count, c_lo, c_hi, t1, t1, nbytes, merge_within)
                if forwardable:
                    self.forwarded += self.target.receive(forward, forwardable, t0, t1, merge_within)  # type: ignore[union-attr]
            self.done = finished
            work.forget_before(finished)

    def _take(self, takes: int, immediate: int, t0: float, t1: float, merge_within: float) -> None:
        """Move `takes` items from the buffer to the workers: `immediate` by idle workers at once
        (or when the item arrives), the rest as workers free up, spread over the quantum."""
        queue, in_service = self.source.queue, self.in_service
        for count, c_lo, c_hi, e_lo, e_hi, nbytes in queue.pop(immediate) if immediate else ():
            in_service.push(count, c_lo, c_hi, max(t0, e_lo), max(t0, e_hi), nbytes, merge_within)
        later = takes - immediate
        if later:
            step = (t1 - t0) / later
            position = 0
            for count, c_lo, c_hi, e_lo, e_hi, nbytes in queue.pop(later):
                lo, hi = t0 + step * position, t0 + step * (position + count)
                in_service.push(count, c_lo, c_hi, max(lo, e_lo), max(hi, e_hi), nbytes, merge_within)
                position += count
        self.source.taken += takes
        self.taken += takes

    def _record(self, slices: list[tuple[int, float, float, float, float, float]], first: int) -> None:
        """Latency of finished items: (taken − created) + own service time, `REPRESENTATIVES` per slice."""
        values, weights = self._values, self._weights
        prefix, base = self.work.prefix, self.work.base
        index = first - base
        for count, c_lo, c_hi, k_lo, k_hi, _ in slices:
            wait0 = k_lo - c_lo
            slope = (k_hi - k_lo) - (c_hi - c_lo)
            groups = min(count, REPRESENTATIVES)
            size, extra = divmod(count, groups)
            position = 0
            for g in range(groups):
                n = size + 1 if g < extra else size
                middle = index + position + n // 2
                u = (position + n // 2 + 0.5) / count
                values.append(wait0 + u * slope + prefix[middle + 1] - prefix[middle])
                weights.append(n)
                position += n
            index += count
        if len(values) >= _FLUSH_EVERY:
            self.flush_latencies()

    def lose_everything(self) -> None:
        """A crash: every item held is lost; the items' service times are skipped."""
        self.lost_in_crash += self.held_items()
        self.in_service.clear()
        self.blocked.clear()
        self.done = self.taken
        self.work.skip_to(self.taken)
        self.carry = 0.0


# --------------------------------------------------------------------------- the model
class FastModel(Model):
    """The fast-mode model: same interface as the exact `Model` (so the same sampling, totals and
    results code serve both), with producers, buffers and groups that work on counts per quantum."""

    mode = "fast"

    def __init__(self, scenario: Scenario, seed: int | None = None, quantum: float | None = None):
        require_supported(scenario)
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.env = simpy.Environment()
        self.seeds = SeedTree(self.seed)
        self.service = Service(self.env, scenario.memory)
        self.systems = None
        self.kafka = None
        self.extensions: list[Any] = []
        self.quantum = float(quantum) if quantum is not None else choose_quantum(scenario)
        self.buffers: dict[str, FastBuffer] = {b.name: FastBuffer(b) for b in scenario.buffers}  # type: ignore[misc]
        self.sketch_by_group: dict[str, LatencySketch] = {}
        self.interval_sketch = LatencySketch()
        self.groups: dict[str, FastGroup] = {}  # type: ignore[assignment]
        base = scenario.base_dir
        for spec in scenario.consumers:
            sketch = LatencySketch()
            self.sketch_by_group[spec.name] = sketch

            def on_latencies(values: list[float], weights: list[int], sketch: LatencySketch = sketch) -> None:
                sketch.add_weighted(values, weights)
                self.interval_sketch.add_weighted(values, weights)

            work = _WorkStream(draw_function(spec.service, self.seeds.generator(f"consumer/{spec.name}/service"), base))
            target = self.buffers[spec.to] if spec.to is not None else None
            group = FastGroup(spec, self.buffers[spec.from_], target, work, on_latencies)
            self.groups[spec.name] = group
            self.buffers[spec.from_].reader = group
        overhead = scenario.memory.per_item_overhead if scenario.memory else 0.0
        self.producers: list[FastProducer] = []  # type: ignore[assignment]
        for spec in scenario.producers:
            counts = _arrival_counts(spec, self.seeds.generator(f"producer/{spec.name}/arrivals"), self.quantum, scenario)
            sizes = _ByteSums(spec.size, self.seeds.generator(f"producer/{spec.name}/size"), base, overhead)
            producer = FastProducer(spec, self.buffers[spec.to], counts, sizes)
            self.producers.append(producer)
            self.buffers[spec.to].producers.append(producer)
        self._order = self._downstream_first()
        self.service.on_crash(self._crash)
        self.service.on_restart(self._restart)
        self.samples: list[dict[str, float]] = []
        self._last: dict[str, float] = {}
        self.warmup_state: dict[str, float] = {}

    def _downstream_first(self) -> list[FastBuffer]:
        """Buffers, the last stage first: a group forwards into a buffer whose own consumers have
        already taken this quantum, so room for blocked forwards is known."""
        edges = {g.source.name: g.target.name for g in self.groups.values() if g.target is not None}
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            if name in edges:
                visit(edges[name])
            order.append(name)

        for name in self.buffers:
            visit(name)
        return [self.buffers[name] for name in order]

    # ------------------------------------------------------------------ one quantum
    def _step(self, t0: float, t1: float) -> None:
        down = self.service.down
        dt = t1 - t0
        for buffer in self._order:
            start_depth = buffer.queue.count
            age = t1 - buffer.queue.oldest_created()
            merge_within = max(0.5 * dt, age / COHORT_RESOLUTION) if age != -math.inf else 0.5 * dt
            offered = 0
            for producer in buffer.producers:
                offered += producer.emit(t0, t1, down, merge_within)
            if not down and buffer.reader is not None:
                buffer.reader.step(t0, t1, merge_within, offered)
            if not down:
                buffer.settle_arrivals(offered, t0, t1)
            buffer.area += 0.5 * (start_depth + buffer.queue.count) * dt
        if down:
            return
        service = self.service
        held = service.baseline
        for buffer in self._order:
            held += buffer.queue.bytes
            depth = buffer.queue.count
            if depth > buffer.peak_depth:
                buffer.peak_depth = depth
            if buffer.queue.bytes > buffer.peak_bytes:
                buffer.peak_bytes = buffer.queue.bytes
        for group in self.groups.values():
            held += group.in_service.bytes + group.blocked.bytes
        service.held = held
        if held > service.peak:
            service.peak = held
        if held > service.limit:
            service.crash()

    # ------------------------------------------------------------------ crash
    def _crash(self) -> None:
        for buffer in self.buffers.values():
            buffer.lost_in_crash += buffer.queue.count
            buffer.queue.clear()
        for group in self.groups.values():
            group.lose_everything()
        for producer in self.producers:
            if producer.held is not None:
                producer.lost_in_crash += 1
                producer.held = None

    def _restart(self) -> None:
        """Everything is already empty; workers are free again."""

    # ------------------------------------------------------------------ running
    def _clock(self, progress: Callable[[float], None] | None) -> Any:
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
                self._end_warmup(None)
            if k % per_sample == 0 and t1 < duration - 1e-12:
                self.sample()
            if progress is not None and k % report_every == 0:
                progress(k / quanta)

    def run(self, progress: Callable[[float], None] | None = None) -> "FastModel":
        """Run to the scenario's duration; `progress(fraction)` is called along the way."""
        self.sample()
        clock = self.env.process(self._clock(progress))
        self.env.run(until=clock)
        self.sample()
        return self


def simulate_fast(scenario: Scenario, seed: int | None = None, progress: Callable[[float], None] | None = None,
                  quantum: float | None = None) -> FastModel:
    """Build and run the fast model; the caller derives results from the returned model."""
    return FastModel(scenario, seed, quantum).run(progress)
