"""Node.js streams in fast mode (docs/systems.md): a writable's `high_water_mark` and a source that pipes.

A source that pipes (`on_backpressure: pause`) into a writable read by its `_write()` (a consumer
that does not forward) goes round one cycle after another. From a 'drain' (the writable empty,
`_write()` idle, the source resuming) the source writes while `_write()` works, until a write
returns false (the length, chunks or bytes buffered plus the one being written, reaches the mark);
the source pauses, `_write()` empties the buffer, 'drain' fires, and the next cycle begins in the
same state. Every instant the stage is empty and idle (a 'drain', or the end of a busy period the
source never paused in) is a regeneration point: with Poisson arrivals what follows does not depend
on what came before (with evenly spaced ones, up to the phase of the source's schedule).

So the stage's behaviour is that of its cycles, and fast mode takes them from exact mode's rules:
`simulate_bank` (`cycles.py`) steps one source rate's cycles chunk by chunk, once, for about `BANK_CHUNKS`
chunks (arrivals, service times and sizes drawn from the run's streams), and `PipedGroup` replays
that timeline quantum by quantum, jumping to a random regeneration point when it reaches the bank's
end or when the source's rate moves to another bank. A quantum's figures (writes, takes,
completions, busy, queued and paused seconds, pauses, drains, the peak within it) are differences of
cumulative functions of the bank found by binary search, and its latencies are the bank's own, so a
quantum costs a few numpy calls whatever the chunks in it. The stage's quanta follow its source's rate
(`rate_scale`), since its throughput is not linear in the rate.

What counts cannot give: the saw-tooth's phase at an instant (a sample shows some cycle's state,
not the one exact mode would be in), and the order of cycles (the bank's, replayed from random
points). A source that falls silent (a burst's end, its `stop`) writes no more and the stage drains
what it wrote (FIFO: those chunks finish as in the bank whatever came after them); one whose rate
moves to another non-zero rate finishes its cycle at the old rate; a rate that varies continuously is
banked on a grid of `RATE_GRID` (1%), at the first rate seen in each cell.

A naive source (`on_backpressure: ignore`) is the core's unbounded buffer; `MarkedBuffer` estimates
what its `write()` calls returned (`writes_returned_false`, `drains`) from the length at the quantum's
ends (linearly in between), which is exact when the length stays on one side of the mark.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ...scenario.schema import BufferSpec, ConsumerSpec, ProducerSpec
from ..buffer import FastBuffer
from ..cohorts import Slice
from ..group import FastGroup
from .cycles import BANK_CHUNKS, MIN_BANK_CHUNKS, RATE_GRID, Bank, simulate_bank

BANKS_FULL = 32  # banks of full size per stage; later ones shrink in proportion (down to MIN_BANK_CHUNKS)

__all__ = ["BANK_CHUNKS", "RATE_GRID", "Bank", "simulate_bank", "MarkedBuffer", "PipedGroup", "stream_bank_maker"]


class MarkedBuffer(FastBuffer):
    """A Node.js writable's buffer (unbounded) with what its `write()` calls returned.

    Fed by a piped source, its `PipedGroup` counts writes, false returns and drains from the bank.
    Fed by sources that ignore the mark, each quantum's writes are judged against the length at the
    quantum's start and end, linearly in between."""

    def __init__(self, spec: BufferSpec, rng: np.random.Generator | None = None):
        super().__init__(spec, rng)
        mark = spec.high_water_mark
        assert mark is not None
        self.high_water_mark = mark.limit
        self.counts_bytes = mark.counts_bytes
        self.writes = 0
        self.writes_false = 0
        self.drains = 0
        self.need_drain = False
        self.reader: Any = None  # the group whose `_write()` drains it
        self._length = 0.0

    def length(self) -> float:
        """Node's `writableLength`: chunks (or bytes) waiting plus those being written."""
        reader = self.reader
        if self.counts_bytes:
            return self.queue.bytes + (reader.in_service.bytes if reader is not None else 0.0)
        return self.queue.count + (reader.in_service.count if reader is not None else 0)

    def judge(self, writes: int) -> None:
        """`writes` chunks were written this quantum by sources that ignore the mark: count the false returns
        (length after the write at the mark or over) and a 'drain' when the stage emptied after one."""
        before, after = self._length, self.length()
        self._length = after
        if writes <= 0:
            if self.need_drain and after == 0:
                self.need_drain = False
                self.drains += 1
            return
        self.writes += writes
        mark = self.high_water_mark
        step = (after - before) / writes  # the length after the k-th write, k = 1..writes, on the straight line
        if step == 0:
            false = writes if before + step >= mark else 0
        else:
            first = math.ceil((mark - before) / step - 1e-9)  # the first k with before + k·step ≥ mark (rising)
            false = max(0, writes - max(first, 1) + 1) if step > 0 else min(writes, max(0, math.floor((before - mark) / -step + 1e-9)))
        false = min(max(false, 0), writes)
        if false:
            self.writes_false += false
            self.need_drain = True
        if self.need_drain and after == 0:
            self.need_drain = False
            self.drains += 1

    def settle_arrivals(self, offered: int, t0: float, t1: float, start: int = 0, takes: int = 0) -> None:
        super().settle_arrivals(offered, t0, t1, start, takes)
        if not getattr(self.reader, "replays", False):
            self.judge(offered)

    def receive(self, slices: list[Slice], n: int, t0: float, t1: float, merge_within: float,
                sender: object = None, timed: list[bool] | None = None) -> int:
        accepted = super().receive(slices, n, t0, t1, merge_within, sender, timed)
        if self.inlet is None:  # with an inlet the forwards are judged when its stage offers them
            self.judge(accepted)
        return accepted


class PipedGroup(FastGroup):
    """The `_write()` of a writable fed by one piped source: the stage replayed from banks of cycles."""

    replays = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.producer: Any = None
        self.pauses = 0
        self.paused_time = 0.0
        self._banks: dict[int, Bank] = {}
        self._bank: Bank | None = None
        self._at = 0.0  # the cursor: a time in the current bank
        self._cap: tuple[int, int, int] | None = None  # the source stopped mid-cycle: what it wrote drains
        self._make: Callable[[float], Bank] | None = None
        self._rng: np.random.Generator = np.random.default_rng(0)

    def configure(self, producer: Any, make: Callable[[float], Bank], rng: np.random.Generator) -> None:
        """Join the piped source and how to build a bank for a rate."""
        self.producer = producer
        self._make = make
        self._rng = rng

    def _bank_for(self, rate: float) -> Bank:
        key = round(math.log(rate) / math.log(RATE_GRID))
        bank = self._banks.get(key)
        if bank is None:
            assert self._make is not None
            bank = self._banks[key] = self._make(rate)
        return bank

    def _jump(self, bank: Bank) -> None:
        """Start at a random regeneration point of `bank` (the stage empty and idle)."""
        points = bank.regenerations
        self._bank = bank
        self._at = float(points[int(self._rng.integers(0, len(points) - 1))])

    def _restart(self, wanted: Bank | None) -> Bank | None:
        """At a regeneration point: go on in `wanted` from a random point of it, or idle (None) when
        the source has stopped."""
        self._bank = None
        if wanted is None:
            self._idle()
            return None
        self._jump(wanted)
        return wanted

    def replay(self, t0: float, t1: float, expected: float) -> None:
        """One quantum of the stage: play the bank of the source's rate (`expected` arrivals in it)."""
        dt = t1 - t0
        rate = expected / dt if dt > 0 else 0.0
        wanted = self._bank_for(rate) if rate > 0 else None
        if self._bank is None:
            if wanted is None:
                self._idle()
                return
            self._jump(wanted)
        bank = self._bank
        assert bank is not None
        out = [0, 0, 0, 0, 0]  # writes, takes, completions, pauses, drains
        sums = [0.0, 0.0, 0.0]  # busy, queued, paused
        latencies: list[tuple[np.ndarray, np.ndarray]] = []
        peak_queue, peak_waiting, peak_held = 0.0, 0.0, 0.0
        left, now = dt, t0
        while left > 1e-12:
            at = self._at
            end = at + left
            switch = wanted is not bank
            stop = min(end, bank.regeneration_after(at) if switch else bank.end)
            cap = self._cap
            if wanted is None and stop > at and cap is None:
                state = bank.counts(at)
                if state[3] == state[4]:  # the source stopped while writing (not paused): no more writes
                    cap = self._cap = (state[0], state[3], state[4])
            if cap is not None:  # draining: until the last chunk written is done, then empty and idle
                done_at = float(bank.completions[cap[0] - 1]) if cap[0] > bank.counts(at, cap)[2] else at
                stop = min(end, done_at)
                if stop <= at:
                    self._cap = None
                    restarted = self._restart(wanted)
                    if restarted is None:
                        break
                    bank = restarted
                    continue
            elif switch and stop <= at:  # at a regeneration point: take the wanted bank (or idle)
                restarted = self._restart(wanted)
                if restarted is None:
                    break
                bank = restarted
                continue
            lo, hi = bank.counts(at, cap), bank.counts(stop, cap)
            for k in range(5):
                out[k] += hi[k] - lo[k]
            for k, (x, y) in enumerate(zip(bank.integrals(at, lo), bank.integrals(stop, hi))):
                sums[k] += y - x
            if hi[2] > lo[2]:
                latencies.append(bank.latency_slice(lo[2], hi[2]))
            if hi[0] > lo[0]:
                peak_queue = max(peak_queue, float(bank.queued_after[lo[0]:hi[0]].max()))
                peak_waiting = max(peak_waiting, float(bank.waiting_after[lo[0]:hi[0]].max()))
                peak_held = max(peak_held, float(bank.held_after[lo[0]:hi[0]].max()))
            now += stop - at
            left -= stop - at
            self._at = stop
            if cap is None and stop >= bank.end - 1e-12 and left > 1e-12:  # the bank's end: from a random cycle
                restarted = self._restart(wanted)
                if restarted is None:
                    break
                bank = restarted
        self._book(t1, out, sums, latencies, (peak_queue, peak_waiting, peak_held))

    def _idle(self) -> None:
        """No source rate and the stage empty: nothing happens."""
        self.source.peak_excess = 0.0

    def _book(self, t1: float, out: list[int], sums: list[float], latencies: list[tuple[np.ndarray, np.ndarray]],
              peaks: tuple[float, float, float]) -> None:
        writes, takes, completions, pauses, drains = out
        busy, queued, paused = sums
        producer, buffer = self.producer, self.source
        assert isinstance(buffer, MarkedBuffer)
        producer.produced += writes
        producer.blocked_time += paused
        self.paused_time += paused
        self.pauses += pauses
        buffer.accepted += writes
        buffer.writes += writes
        buffer.writes_false += pauses
        buffer.drains += drains
        buffer.taken += takes
        buffer.area += queued
        self.taken += takes
        self.done += completions
        self.processed += completions
        self.consumed += completions
        self.busy_time += busy
        for values, weights in latencies:
            self._on_latencies(values, weights)  # type: ignore[arg-type]
        self._state(t1, peaks)

    def _state(self, t1: float, peaks: tuple[float, float, float]) -> None:
        """The queue and the chunks being written at the quantum's end, as one cohort each."""
        queue, serving = self.source.queue, self.in_service
        queue.clear()
        serving.clear()
        bank = self._bank
        if bank is not None:
            n = bank.counts(self._at, self._cap)
            a, s, d = n[0], n[1], n[2]
            shift = t1 - self._at
            waiting, being_written = bank.held_bytes(n)
            if a > s:
                queue.push(a - s, float(bank.arrivals[s]) + shift, float(bank.arrivals[a - 1]) + shift, t1, t1, waiting, 0.0)
            if s > d:
                first = float(bank.arrivals[d]) + shift if d < a else t1
                serving.push(s - d, first, float(bank.arrivals[s - 1]) + shift, t1, t1, being_written, 0.0)
        buffer = self.source
        peak_queue, peak_waiting, peak_held = peaks
        if peak_queue > buffer.peak_depth:
            buffer.peak_depth = int(peak_queue)
        if peak_waiting > buffer.peak_bytes:
            buffer.peak_bytes = peak_waiting
        buffer.peak_excess = max(peak_held - queue.bytes - serving.bytes, 0.0)  # the peak within the quantum

    def lose_everything(self) -> None:
        """A crash: the stage's chunks are lost; it comes back empty, the source resuming."""
        self.lost_in_crash += self.in_service.count
        self.in_service.clear()
        self.blocked.clear()
        self._bank = None
        self._cap = None
        self.source.peak_excess = 0.0


def stream_bank_maker(consumer: ConsumerSpec, producer: ProducerSpec, buffer: BufferSpec, evenly: bool, overhead: float,
                      draw_service: Callable[[int], np.ndarray], draw_size: Callable[[int], np.ndarray],
                      rng: np.random.Generator, expected_chunks: float) -> Callable[[float], Bank]:
    """A function building the bank of a source rate for this stage (draws from the given streams)."""
    mark = buffer.high_water_mark
    assert mark is not None
    chunks = int(min(BANK_CHUNKS, max(MIN_BANK_CHUNKS, expected_chunks)))

    def draws(n: int) -> tuple[np.ndarray, np.ndarray]:
        return draw_service(n), draw_size(n) + overhead

    made = 0

    def make(rate: float) -> Bank:
        nonlocal made
        made += 1  # a rate that wanders over many cells (a noisy trace) gets smaller banks past the first BANKS_FULL
        services, sizes = draws(max(MIN_BANK_CHUNKS, chunks * BANKS_FULL // max(made, BANKS_FULL)))
        return simulate_bank(rate, evenly, services, sizes, consumer.workers, mark.limit, mark.counts_bytes, rng, draws)

    return make


def rate_scale(arrivals: Any, rate: float) -> float:
    """How long a piped source keeps one rate: a piped stage's quanta are no longer, since its throughput
    is not linear in the rate (averaging a busy and a quiet second over one quantum overstates it)."""
    process = getattr(arrivals, "process", "")
    if process == "bursty":
        return float(min(arrivals.on.duration, arrivals.off.duration))
    if process == "schedule":
        times = [point.at for point in arrivals.points] + ([arrivals.repeat] if arrivals.repeat else [])
        gaps = [b - a for a, b in zip(times, times[1:]) if b > a]
        gap = min(gaps) if gaps else math.inf
        return float(gap if arrivals.interpolation == "step" else gap / 32)  # a ramp: within about 3% of its span
    if process == "trace":
        return float(arrivals.bin) if arrivals.format == "counts" else (64.0 / rate if rate > 0 else math.inf)
    return math.inf
