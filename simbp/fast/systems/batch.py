"""Batch consumers on counts: workers that take up to `size` items, wait at most `timeout` for the
batch to fill, and pay `fixed + per_item × n` (exact mode's `BatchWorker`, docs/systems.md).

Pooled work does not fit a batch: its cost depends on how many items a worker finds when it
starts, and a worker collecting a batch waits for arrivals. So fast mode simulates *batches*, not
items: within each step the step's arrivals get their times (sorted uniform draws for random
arrivals, evenly spaced otherwise, within each cohort's entry span; each keeps its cohort's creation
time: numpy work per item, as the core's service times), and the
workers go through their batch events in time order: a worker that frees up takes what has
arrived, a collecting worker takes arrivals until its batch is full or its timeout passes, and a
batch ends `fixed + per_item × n` after it started. The Python work is per batch, so a run costs
the batches it makes, which is what batching is for. The items' creation times come from the
buffer's cohorts (FIFO), so latency = the batch's end − creation, as in exact mode.

As in exact mode, a collecting worker is first in line for new arrivals (at most one collects at a
time), and utilisation counts the time spent serving batches, not collecting them.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator

import numpy as np

from ...scenario.schema import ConsumerSpec
from ..buffer import FastBuffer
from ..cohorts import Cohorts, Slice
from .sink import SinkGroup

__all__ = ["FastBatchGroup", "BatchFedBuffer", "Held", "pop_newest_slices"]

REPRESENTATIVES = 4  # latency values per slice of a batch given to the sketch (weighted)
WIDE_REPRESENTATIVES = 64  # for a slice created over a span wide against its latency
_FLUSH_EVERY = 1 << 13


class Held:
    """Items held by a group's workers: a count and their bytes (what memory and totals read)."""

    __slots__ = ("count", "bytes")

    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0.0

    def clear(self) -> None:
        self.count, self.bytes = 0, 0.0


def pop_newest_slices(queue: Cohorts, n: int) -> list[Slice]:
    """Remove the `n` newest items of `queue` as slices, oldest first (a cohort split in proportion)."""
    out: list[Slice] = []
    items = queue.items
    while n > 0 and items:
        tail = items[-1]
        m = tail[0]
        if m <= n:
            items.pop()
            out.append((m, tail[1], tail[2], tail[3], tail[4], tail[5]))
            queue.count -= m
            queue.bytes -= tail[5]
            n -= m
            continue
        share = n / m
        created, entered, nbytes = tail[2] - (tail[2] - tail[1]) * share, tail[4] - (tail[4] - tail[3]) * share, tail[5] * share
        out.append((n, created, tail[2], entered, tail[4], nbytes))
        tail[0], tail[2], tail[4], tail[5] = m - n, created, entered, tail[5] - nbytes
        queue.count -= n
        queue.bytes -= nbytes
        n = 0
    out.reverse()
    return out


class _Batch:
    __slots__ = ("slices", "count", "nbytes", "deadline")

    def __init__(self, deadline: float):
        self.slices: list[Slice] = []
        self.count = 0
        self.nbytes = 0.0
        self.deadline = deadline


class FastBatchGroup(SinkGroup):
    """A batch consumer group (no `to:`) stepped batch by batch (see the module docstring)."""

    def __init__(self, spec: ConsumerSpec, source: FastBuffer, costs: tuple[Iterator[float], Iterator[float]],
                 on_latencies: Callable[[list[float], list[int]], None], rng: np.random.Generator):
        assert spec.batch is not None and spec.to is None
        if isinstance(source, BatchFedBuffer):
            source.reader = self
        self._start_sink(spec, source, spec.workers, on_latencies)
        self.size = spec.batch.size
        self.timeout = spec.batch.timeout
        # batch events need no sub-steps: `FastModel._substeps` steps a stage finely only for pooled work
        self.mean_service = math.inf
        self.capacity = source.capacity if source.drops else math.inf
        self.dropped_in_step = 0  # arrivals that found the buffer full this step (`BatchFedBuffer` counts them)
        self._times: np.ndarray = np.empty(0)
        self._created: np.ndarray = np.empty(0)
        self._each = 0.0
        self._merge = 0.0
        self._fixed, self._per_item = costs
        self._rng = rng
        self.evenly = False  # set when every producer of the source sends evenly spaced arrivals
        self.in_service = Held()  # items held by workers: collected or in a batch being served
        self.blocked = Held()  # a sink group never holds items for a full target
        self._serving: list[tuple[float, int, _Batch]] = []  # heap of (end, tie, batch)
        self._tie = 0
        self._collecting: _Batch | None = None

    # ------------------------------------------------------------------ what the model reads
    def held_items(self) -> int:
        return self.in_service.count

    def busy_seconds(self, now: float) -> float:
        return self.busy_time

    def blocked_seconds(self, now: float) -> float:
        return 0.0

    def flush_latencies(self) -> None:
        if self._values:
            self._on_latencies(self._values, self._weights)
            self._values, self._weights = [], []

    def lose_everything(self) -> None:
        """A crash: the batches collected and in service are lost; the workers come back idle."""
        self.lost_in_crash += self.in_service.count
        self.in_service.clear()
        self._serving = []
        self._collecting = None

    # ------------------------------------------------------------------ one step
    def _arrivals(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The step's `n` newest items taken off the buffer, with their times (drawn within each
        cohort's entry range, uniformly or evenly) and creation times, in order of arrival."""
        pieces = pop_newest_slices(self.source.queue, n)
        times, created = [], []
        for count, c_lo, c_hi, e_lo, e_hi, _ in pieces:
            u = (np.arange(count) + 0.5) / count if self.evenly else np.sort(self._rng.random(count))
            times.append(e_lo + u * (e_hi - e_lo))
            created.append(c_lo + u * (c_hi - c_lo))
        if not pieces:
            return np.empty(0), np.empty(0)
        at, born = np.concatenate(times), np.concatenate(created)
        if len(pieces) > 1:  # several producers' cohorts overlap in time
            order = np.argsort(at, kind="stable")
            at, born = at[order], born[order]
        return at, born

    def step(self, t0: float, t1: float, merge_within: float, arrived: int = 0) -> None:
        """Batch events of [t0, t1): `arrived` of the items waiting came in during it (the newest).

        The step's arrivals are taken back off the buffer and put in again at their times, so that
        a worker takes only what has arrived, and an arrival that finds the buffer full is dropped
        at its moment (`dropped_in_step`, which `BatchFedBuffer` counts)."""
        queue = self.source.queue
        arrived = min(arrived, queue.count)
        nbytes = queue.bytes
        times, created = self._arrivals(arrived)
        each = (nbytes - queue.bytes) / arrived if arrived else 0.0
        self._times, self._created, self._each, self._merge = times, created, each, merge_within
        next_arrival = 0  # index into `times` of the next arrival not yet in the buffer
        now = t0
        serving = self._serving
        while True:
            idle = self.count - len(serving) - (1 if self._collecting is not None else 0)
            # hand what has arrived: the collecting worker first, then idle workers
            while queue.count > 0 and (self._collecting is not None or idle > 0):
                if self._collecting is None:
                    self._collecting = _Batch(now + self.timeout)
                    idle -= 1
                batch = self._collecting
                self._take(batch, min(queue.count, self.size - batch.count))
                if batch.count >= self.size or self.timeout <= 0:
                    self._serve(batch, now)
            if self._collecting is not None and self._collecting.deadline <= now:  # its timeout: serve what it has
                self._serve(self._collecting, now)
                continue
            # the next event
            finish = serving[0][0] if serving else math.inf
            event = min(finish, t1)
            collecting = self._collecting
            if collecting is not None:
                missing = self.size - collecting.count
                fills = times[next_arrival + missing - 1] if next_arrival + missing - 1 < arrived else math.inf
                event = min(event, collecting.deadline, fills)
            elif idle > 0 and next_arrival < arrived:
                event = min(event, times[next_arrival])  # an idle worker starts on the next arrival
            if event >= t1:
                self._arrive(next_arrival, arrived)
                break
            upto = int(np.searchsorted(times, event, side="right"))
            self._arrive(next_arrival, upto)
            next_arrival = upto
            now = event
            while serving and serving[0][0] <= now:
                end, _, batch = heapq.heappop(serving)
                self._finish(batch, end)

    def _arrive(self, first: int, last: int) -> None:
        """Arrivals `first` to `last` − 1 of the step enter the buffer, with no take between them:
        those that find it full are dropped (the newest, or for drop_oldest the oldest waiting)."""
        new = last - first
        if new <= 0:
            return
        queue, times = self.source.queue, self._times
        over = int(max(queue.count + new - self.capacity, 0))
        admitted = new - over if self.source.rule != "drop_oldest" else new
        if admitted > 0:
            lo, hi = float(times[first]), float(times[first + admitted - 1])
            born = self._created[first:first + admitted]
            queue.push(admitted, float(born.min()), float(born.max()), lo, hi, self._each * admitted, self._merge)
        if over:
            if self.source.rule == "drop_oldest":
                queue.pop(over)
            self.dropped_in_step += over

    def _take(self, batch: _Batch, n: int) -> None:
        if n <= 0:
            return
        taken = 0.0
        for piece in self.source.queue.pop(n):
            batch.slices.append(piece)
            taken += piece[5]
        batch.nbytes += taken
        batch.count += n
        self.source.taken += n
        self.in_service.count += n
        self.in_service.bytes += taken

    def _serve(self, batch: _Batch, now: float) -> None:
        if self._collecting is batch:
            self._collecting = None
        duration = next(self._fixed) + next(self._per_item) * batch.count
        self.busy_time += duration
        self.batches += 1
        self._tie += 1
        heapq.heappush(self._serving, (now + duration, self._tie, batch))

    def _finish(self, batch: _Batch, end: float) -> None:
        n = batch.count
        self.processed += n
        self.consumed += n
        self.in_service.count -= n
        self.in_service.bytes = max(self.in_service.bytes - batch.nbytes, 0.0)
        values, weights = self._values, self._weights
        for count, c_lo, c_hi, _, _, _ in batch.slices:
            # a slice created over a span that is wide against its wait (a bufferTime array) needs more
            wide = c_hi - c_lo > 0.05 * (end - c_hi)
            groups = min(count, WIDE_REPRESENTATIVES if wide else REPRESENTATIVES)
            size, extra = divmod(count, groups)
            position = 0
            for g in range(groups):
                m = size + 1 if g < extra else size
                u = (position + m / 2) / count
                values.append(end - (c_lo + u * (c_hi - c_lo)))
                weights.append(m)
                position += m
        if len(values) >= _FLUSH_EVERY:
            self.flush_latencies()


class BatchFedBuffer(FastBuffer):
    """A dropping buffer read by a batch group: the group counts the arrivals that found it full at
    their moment (it knows the arrival times and its takes), and the policy drops that many."""

    reader: FastBatchGroup | None = None

    def settle_arrivals(self, offered: int, t0: float, t1: float, start: int = 0, takes: int = 0) -> None:
        reader = self.reader
        if reader is None or not self.drops:
            super().settle_arrivals(offered, t0, t1, start, takes)
            return
        lost = reader.dropped_in_step  # already left out of (or, for drop_oldest, taken off) the queue
        reader.dropped_in_step = 0
        self.dropped += lost
        self.accepted += offered - (lost if self.rule != "drop_oldest" else 0)
        for producer in self.producers:
            producer.settle(0, 0.0, t0, t1)
