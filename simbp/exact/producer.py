"""Producers: the core producer (callbacks on a SimPy timer), and arrival-time generators for each arrival process.

Arrival times are absolute and generated in numpy blocks. A producer blocked by a full `block`
buffer emits nothing while it waits: arrivals that fall due during the wait are never produced,
and afterwards it resumes its own schedule (for Poisson arrivals this is the same as pausing).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from heapq import heappush
from pathlib import Path
from typing import Any

import numpy as np

from ..scenario.rates import bursty_phases, read_trace, schedule_pieces, schedule_rates, trace_period
from ..scenario.schema import (
    BurstyArrivals,
    ConstantArrivals,
    PoissonArrivals,
    ScheduleArrivals,
    TraceArrivals,
)
from ..service import Service
from .buffer import ACCEPTED, WAITING
from .clock import NORMAL, Timer, direct_queue, start_soon

__all__ = ["Producer", "ProducerState", "arrival_times"]

_CHUNK = 4096
_ADMITTED, _TIMED_OUT, _LOST = 1, 2, 3


class ProducerState:
    """What every producer process holds: its spec, arrival and size streams, target buffer, and
    the counters the results read (`produced`, `timed_out`, `lost_in_crash`, blocked time)."""

    def __init__(self, env: Any, spec: Any, buffer: Any, service: Any, times: Iterator[float],
                 sizes: Iterator[float], overhead: float, stop: float):
        self.env = env
        self.spec = spec
        self.name = spec.name
        self.buffer = buffer
        self.service = service
        self.times = times
        self.sizes = sizes
        self.overhead = overhead
        self.stop = stop
        self.produced = 0
        self.timed_out = 0
        self.lost_in_crash = 0
        self.blocked_time = 0.0
        self.blocked_since: float | None = None
        self._wake: Any = None
        self._crashes_at_admit = 0

    def blocked_seconds(self, now: float) -> float:
        """Seconds spent blocked up to `now`, counting a wait still in progress."""
        return self.blocked_time + (now - self.blocked_since if self.blocked_since is not None else 0.0)

    def start(self) -> None:
        """Begin emitting: by default the SimPy process `run()`."""
        self.env.process(self.run())

    def run(self) -> Generator[Any, Any, None]:
        """The SimPy process: emit every arrival until `stop` (each producer kind writes its own)."""
        raise NotImplementedError

    def holds_item(self) -> int:
        """Messages this producer holds right now (they count as in flight)."""
        raise NotImplementedError


class Producer(ProducerState):
    """Emits messages into one buffer; blocks on a full `block` buffer.

    Driven by callbacks on one reusable `Timer` (one SimPy event per arrival, no process to resume):
    each arrival schedules the next. It keeps the order of a SimPy process exactly: it starts with
    an urgent event at time 0 (a process's first step) and a blocked wait ends on an event of its own."""

    def start(self) -> None:
        """Begin emitting (as `env.process(...)` would start a producer process)."""
        self._timer = Timer(self.env, self._arrive)
        self._fire = self._timer.fire
        self._schedule = self.env.schedule
        queue, ids = direct_queue(self.env)
        self._queue: list[Any] | None = queue
        self._ids: Iterator[int] | None = ids
        self._created = 0.0
        self._size = 0.0
        self._counts_memory = type(self.service) is Service  # the service's memory (a topic's broker holds none)
        start_soon(self.env, self._begin)

    def _begin(self, _event: Any) -> None:
        self._next_arrival()

    def _next_arrival(self) -> None:
        """Schedule the next arrival due (those that fell due while blocked are never produced)."""
        now = self.env.now
        stop = self.stop
        for created in self.times:
            if created >= stop:
                return
            delay = created - now
            if delay < 0:  # fell due while this producer was blocked: never produced
                continue
            self._created = created
            timer = self._timer
            timer.callbacks = self._fire
            if self._queue is not None:  # `env.schedule(timer, NORMAL, delay)`, inlined
                heappush(self._queue, (now + delay, NORMAL, next(self._ids), timer))  # type: ignore[arg-type]
            else:
                self._schedule(timer, NORMAL, delay)
            return

    def _arrive(self, _event: Any) -> None:
        size = next(self.sizes) + self.overhead
        self.produced += 1
        service = self.service
        if service.down:
            self.lost_in_crash += 1
            self._next_arrival()
            return
        created = self._created
        code = self.buffer.put(created, size)
        if code == ACCEPTED:
            if self._counts_memory:  # `service.hold(size)`, inlined (keep in step with it)
                held = service.held + size
                service.held = held
                if held > service.peak:
                    service.peak = held
                if held > service.limit:
                    service.crash()
            else:
                service.hold(size)
        elif code == WAITING:
            env = self.env
            self.blocked_since = env.now
            self._size = size
            self._wake = wake = env.event()
            self.buffer.wait(created, size, self._admitted, self._gave_up, self)
            wake.callbacks.append(self._resumed)
            return
        # `_next_arrival()`, inlined (keep in step with it)
        now = self.env.now
        stop = self.stop
        for created in self.times:
            if created >= stop:
                return
            delay = created - now
            if delay < 0:  # fell due while this producer was blocked: never produced
                continue
            self._created = created
            timer = self._timer
            timer.callbacks = self._fire
            if self._queue is not None:  # `env.schedule(timer, NORMAL, delay)`, inlined
                heappush(self._queue, (now + delay, NORMAL, next(self._ids), timer))  # type: ignore[arg-type]
            else:
                self._schedule(timer, NORMAL, delay)
            return

    def _resumed(self, event: Any) -> None:
        """The blocked wait is over: admitted, timed out, or lost in a crash."""
        self.blocked_time += self.env.now - self.blocked_since
        self.blocked_since = None
        service = self.service
        if event._value == _ADMITTED and service.crashes == self._crashes_at_admit:
            service.hold(self._size)
        self._next_arrival()

    def _admitted(self) -> None:
        self._crashes_at_admit = self.service.crashes
        self._wake.succeed(_ADMITTED)

    def _gave_up(self) -> None:
        self.timed_out += 1
        self._wake.succeed(_TIMED_OUT)

    def lose_blocked_item(self) -> None:
        """The service crashed while this producer waited: its item is lost."""
        self.lost_in_crash += 1
        self._wake.succeed(_LOST)

    def holds_item(self) -> int:
        return 1 if self.blocked_since is not None and self._wake is not None and not self._wake.triggered else 0


def arrival_times(spec: Any, rng: np.random.Generator, *, multiplier: float = 1.0, start: float = 0.0,
                  base_dir: Path | None = None) -> Iterator[float]:
    """Absolute arrival times (seconds, increasing) for an arrival spec, scaled by `multiplier`."""
    if isinstance(spec, ConstantArrivals):
        return _constant(spec.rate * multiplier, start)
    if isinstance(spec, PoissonArrivals):
        return _poisson(rng, spec.rate * multiplier, start)
    if isinstance(spec, BurstyArrivals):
        return _bursty(spec, rng, multiplier, start)
    if isinstance(spec, ScheduleArrivals):
        return _schedule(spec, rng, multiplier, start)
    if isinstance(spec, TraceArrivals):
        return _trace(spec, rng, multiplier, start, base_dir or Path.cwd())
    raise TypeError(f"unknown arrival process {spec!r}")


def _constant(rate: float, start: float) -> Iterator[float]:
    gap = 1.0 / rate
    k = 1
    while True:
        block = start + gap * np.arange(k, k + _CHUNK, dtype=float)
        yield from block.tolist()
        k += _CHUNK


def _poisson(rng: np.random.Generator, rate: float, start: float) -> Iterator[float]:
    now = start
    mean = 1.0 / rate
    while True:
        block = now + np.cumsum(rng.exponential(mean, _CHUNK))
        now = float(block[-1])
        yield from block.tolist()


def _between(rng: np.random.Generator, rate: float, begin: float, end: float, within: str) -> Iterator[float]:
    """Arrivals at `rate` in [begin, end): Poisson (memoryless restart) or evenly spaced."""
    if rate <= 0:
        return
    if within == "constant":
        gap = 1.0 / rate
        k = 0
        while True:
            block = begin + gap * np.arange(k, k + _CHUNK, dtype=float)
            keep = block[block < end]
            yield from keep.tolist()
            if len(keep) < _CHUNK:
                return
            k += _CHUNK
    now = begin
    while True:
        block = now + np.cumsum(rng.exponential(1.0 / rate, _CHUNK))
        keep = block[block < end]
        yield from keep.tolist()
        if len(keep) < _CHUNK:
            return
        now = float(block[-1])


def _bursty(spec: BurstyArrivals, rng: np.random.Generator, multiplier: float, start: float) -> Iterator[float]:
    phases = bursty_phases(spec, multiplier)
    begin = start
    while True:
        for rate, length in phases:
            yield from _between(rng, rate, begin, begin + length, spec.within)
            begin += length


def _schedule(spec: ScheduleArrivals, rng: np.random.Generator, multiplier: float, start: float) -> Iterator[float]:
    """Piece by piece (`schedule_pieces`): a piece at rate 0 draws nothing, and a schedule ending
    at rate 0 ends, so a short spike costs its own arrivals, not the peak rate over the whole run."""
    integrated = [0.0, 1.0]  # evenly spaced: the integrated rate so far, and the next arrival's index
    for begin, end, bound in schedule_pieces(spec):
        peak = bound * multiplier
        if peak <= 0:
            if math.isinf(end):
                return
            continue
        if spec.within == "constant":
            yield from _schedule_even(spec, multiplier, start, begin, end, peak, integrated)
            continue
        now = start + begin
        while True:  # thinning a Poisson process at the piece's largest rate (exact for any rate shape)
            candidates = now + np.cumsum(rng.exponential(1.0 / peak, _CHUNK))
            keep = (rng.random(_CHUNK) * peak < schedule_rates(spec, candidates - start) * multiplier) & (candidates < start + end)
            yield from candidates[keep].tolist()
            if candidates[-1] >= start + end:
                break
            now = float(candidates[-1])


def _schedule_even(spec: ScheduleArrivals, multiplier: float, start: float, begin: float, end: float,
                   peak: float, integrated: list[float]) -> Iterator[float]:
    """Evenly spaced arrivals in one piece: the k-th where the integrated rate reaches k
    (`integrated` carries the running integral and the next k from piece to piece)."""
    step = min(0.01, 0.1 / peak)
    total, next_k = integrated
    origin = start + begin
    while origin < start + end:
        grid = np.minimum(origin + step * np.arange(1, _CHUNK + 1), start + end)
        rates = schedule_rates(spec, grid - start) * multiplier
        cumulative = total + np.cumsum(rates * np.diff(np.concatenate(([origin], grid))))
        ks = np.arange(next_k, np.floor(cumulative[-1]) + 1)
        if len(ks):
            yield from np.interp(ks, np.concatenate(([total], cumulative)), np.concatenate(([origin], grid))).tolist()
            next_k = float(ks[-1] + 1)
        total = float(cumulative[-1])
        origin = float(grid[-1])
        integrated[:] = [total, next_k]


def _trace(spec: TraceArrivals, rng: np.random.Generator, multiplier: float, start: float, base_dir: Path) -> Iterator[float]:
    values = read_trace(spec, base_dir)
    period = trace_period(spec, values)
    base = values if spec.format == "timestamps" else None
    offset = start
    while True:
        if base is not None:
            times = base
            if multiplier != 1.0:
                copies = np.floor(multiplier) + (rng.random(len(times)) < multiplier % 1)
                times = np.repeat(times, copies.astype(int))
            yield from (offset + times).tolist()
        else:
            counts = values * multiplier
            counts = np.floor(counts) + (rng.random(len(counts)) < counts % 1)
            for index, count in enumerate(counts.astype(int)):
                if count:
                    yield from (offset + spec.bin * (index + np.sort(rng.random(count)))).tolist()
        if period is None or period <= 0:
            return
        offset += period
