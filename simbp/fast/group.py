"""Fast-mode consumer groups: `busy workers × dt` seconds of pooled work per quantum, FIFO.

Every item needs its own service time (drawn from the group's distribution, `WorkStream`); a group
finishes the items whose cumulative service fits the work its busy workers do in the quantum. For
exponential service this is exactly the departure process of c parallel workers while they are
busy. When a quantum's work finishes many items (`renewal.COUNTED_FROM`), their number is drawn as
a renewal count instead (`renewal.ServiceCounts`), and nothing is drawn per item. A forwarding
group whose `block` target is full keeps its finished items, each holding a worker, and takes no
more. The latency of a consumed item is (when a worker took it − its creation)
+ its own service time, `REPRESENTATIVES` values per cohort slice given to the sketch, weighted.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from ..scenario.schema import ConsumerSpec
from .buffer import FastBuffer
from .cohorts import Cohorts, Slice, add_run, cut_slices, take_runs
from .inputs import WorkStream
from .producer import FastProducer
from .renewal import ServiceCounts
from .stage_wait import StageWait

__all__ = ["FastGroup", "REPRESENTATIVES"]

REPRESENTATIVES = 8  # latency values per cohort slice given to the sketch (weighted)
_FLUSH_EVERY = 1 << 13  # latencies handed to the sketch in batches of about this many


class FastGroup:
    """A consumer group doing `busy workers × dt` of work per quantum on its items, FIFO."""

    def __init__(self, spec: ConsumerSpec, source: FastBuffer, target: FastBuffer | None, work: WorkStream,
                 on_latencies: Callable[[list[float], list[int]], None], profile: np.ndarray | None = None,
                 counts: ServiceCounts | None = None, waits: StageWait | None = None):
        self.spec = spec
        self.name = spec.name
        self.source = source
        self.target = target
        self.sink = target is None
        self.workers = range(spec.workers)  # only len() is used by the shared sampling code
        self.count = spec.workers
        self.work = work
        self.counts = counts  # renewal counts of completions when a quantum finishes many items (renewal.py)
        self.waits = waits  # the stationary queue's sojourn for waits the counts cannot resolve (stage_wait.py)
        self._feeders: list[FastProducer] | None = None  # producers whose expected arrivals give the load
        # runs [count, given the formula's wait] of the items in service, FIFO (with `waits` only)
        self._runs: deque[list[Any]] | None = deque() if waits is not None else None
        self.mean_service = spec.mean_service()
        # sorted service times drawn apart from the items' own, for E[min(S, dt)]
        if profile is not None and len(profile) and np.mean(profile) > 0:  # its shape, at the distribution's own mean
            self._profile = np.sort(profile) * (self.mean_service / float(np.mean(profile)))
        else:
            self._profile = np.array([self.mean_service])
        self._unfinished: dict[float, float] = {}
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
        self._unbooked = 0.0  # busy seconds of counted service not yet booked (renewal.py)
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

    def finish_latencies(self) -> None:
        """At the end: the stationary sojourns' fractional weights too, then everything to the sketch."""
        if self.waits is not None:
            self.waits.drain(self._values, self._weights)
        self.flush_latencies()

    def flush_latencies(self) -> None:
        if self.waits is not None:
            self.waits.emit(self._values, self._weights)
        if self._values:
            self._on_latencies(self._values, self._weights)
            self._values, self._weights = [], []

    def unfinished_fraction(self, dt: float) -> float:
        """The share of items arriving (evenly) during a quantum of `dt` s to an idle worker that do not
        finish within it: P(S > dt − u) averaged over u, which is E[min(S, dt)] / dt."""
        key = round(dt, 9)  # sub-steps of one length differ in the last bits
        fraction = self._unfinished.get(key)
        if fraction is None:
            fraction = float(np.minimum(self._profile, dt).mean() / dt) if dt > 0 else 1.0
            if len(self._unfinished) < 256:
                self._unfinished[key] = fraction
        return fraction

    def step(self, t0: float, t1: float, merge_within: float, arrived: int = 0) -> None:
        """One quantum: forward what was blocked, then take, serve, and finish items FIFO.

        `arrived` of the items waiting came in during this quantum, spread over it: the workers' busy
        time follows the stage's fluid dynamics (`busy_workers`), and those of the arrivals that
        would reach a worker too late to finish in the quantum (`unfinished_fraction`) cannot."""
        target = self.target
        room = math.inf
        if target is not None and target.rule == "block":
            room = target.room()
            if self.blocked.count and room > 0:
                n = int(min(self.blocked.count, room))
                self.forwarded += target.receive(self.blocked.pop(n), n, t0, t1, merge_within, self)
                room -= n
        if self.waits is not None:  # the load: what its producers' processes expected, else what came
            feeders = self._feeders
            if feeders is None:  # (the model wires inlets after building the groups: asked at the first step)
                source = self.source
                known = source.inlet is None and source.producers and all(type(p) is FastProducer for p in source.producers)
                feeders = self._feeders = cast(list[FastProducer], list(source.producers)) if known else []
            if feeders:
                self.waits.observe(sum(p.expected for p in feeders), t0, t1, True)
            else:
                self.waits.observe(arrived, t0, t1)
        workers = self.count - self.blocked.count
        in_service = self.taken - self.done
        available = self.source.queue.count
        arrived = min(arrived, available)
        busy = busy_workers(in_service + available - arrived, arrived / (t1 - t0), workers, t1 - t0, self.mean_service)
        if busy > 0:
            # an item arriving in the last mean service time of the quantum cannot finish in it
            late = round(arrived * self.unfinished_fraction(t1 - t0))
            self._serve(t0, t1, merge_within, workers, in_service, available, busy, room, available - late)
        self.blocked_time += self.blocked.count * (t1 - t0)

    def _serve(self, t0: float, t1: float, merge_within: float, workers: int, in_service: int, available: int,
               busy: float, room: float, reachable: int) -> None:
        work = self.work
        done = self.done
        limit = self.taken + reachable  # the items this group could finish this quantum
        budget = busy * (t1 - t0)
        counts = self.counts
        counted = counts is not None and counts.applies(budget)
        if counts is not None and counted:  # many completions: a renewal count, no per-item draws
            natural, unit = counts.completions(budget, self.carry)
            natural = min(natural, limit - done)
            start_work = end_work = 0.0
        else:
            unit = 0.0
            start_work = work.work(done) + self.carry
            end_work = start_work + budget
            natural = work.last_within(done, limit, end_work) - done  # finishes if nothing stops the workers
        finishes, forwardable = natural, natural
        if room != math.inf:  # after `room` forwards, each finished item holds its worker
            finishes = min(finishes, int(room) + workers)
            forwardable = min(finishes, int(room))
        free = workers - in_service  # below 0 just after an autoscaler removed busy workers
        takes = max(0, min(available, free + forwardable))  # a worker takes the next item when it is free
        finishes = min(finishes, in_service + takes)
        forwardable = min(forwardable, finishes)
        finished = done + finishes
        carry = self.carry
        if finishes == natural and finished < limit:  # busy all quantum: partial work carries over
            used = budget
            self.carry = budget + carry - finishes * unit if counted else end_work - work.work(finished)
        else:  # ran out of items, or workers stopped holding blocked items
            used = 0.0 if counted else max(work.work(finished) - start_work, 0.0)
            if finishes:
                self.carry = 0.0
        if counts is not None and counted:
            # the finished items' mean service plus the change in work in progress, so utilisation is
            # throughput × mean service as in exact mode (a drawn count is low when its items were
            # long, which per-item draws would show in the work); what a quantum's workers could not
            # have done is booked in the next ones
            owed = self._unbooked + finishes * counts.mean + self.carry - carry
            used = min(max(owed, 0.0), workers * (t1 - t0))
            self._unbooked = owed - used
        self.busy_time += used
        if takes:
            self._take(takes, max(0, min(free, takes)), t0, t1, merge_within)
        if finishes:
            slices = self.in_service.pop(finishes)
            self.processed += finishes
            if self.sink:
                self.consumed += finishes
                self._record(slices, done, counted)
            else:
                timed: list[bool] | None = None
                if self._runs is not None:
                    slices, timed = self._timed_forwards(slices, finishes)
                forward, rest = cut_slices(slices, forwardable)
                for count, c_lo, c_hi, _, _, nbytes in rest:
                    self.blocked.push(count, c_lo, c_hi, t1, t1, nbytes, merge_within)
                if forwardable:
                    self.forwarded += self.target.receive(forward, forwardable, t0, t1, merge_within, self,  # type: ignore[union-attr]
                                                          timed[:len(forward)] if timed is not None else None)
            self.done = finished
        if counted:  # no service time was drawn: the per-item stream resumes at the next item
            work.restart(self.done)
        elif finishes:
            work.forget_before(finished)

    def _take(self, takes: int, immediate: int, t0: float, t1: float, merge_within: float) -> None:
        """Move `takes` items from the buffer to the workers: `immediate` by idle workers at once
        (or when the item arrives), the rest as workers free up, spread over the quantum.

        With the stationary queue's sojourn (`stage_wait.py`), a slice whose wait here is no longer than
        that queue's own is taken when it entered: its wait is the formula's (`_runs` says which)."""
        queue, in_service = self.source.queue, self.in_service
        settled, runs = -math.inf, self._runs
        if self.waits is not None:
            key = self.waits.key(self.count)
            if key is not None:
                settled = self.waits.settled(key, t1 - t0)
        placed: list[tuple[Slice, float, float]] = []  # (slice, taken from, taken to)
        for piece in queue.pop(immediate) if immediate else ():
            placed.append((piece, max(t0, piece[3]), max(t0, piece[4])))
        later = takes - immediate
        if later:
            step = (t1 - t0) / later
            position = 0
            for piece in queue.pop(later):
                lo, hi = t0 + step * position, t0 + step * (position + piece[0])
                placed.append((piece, max(lo, piece[3]), max(hi, piece[4])))
                position += piece[0]
        for (count, c_lo, c_hi, e_lo, e_hi, nbytes), k_lo, k_hi in placed:
            if runs is not None:
                formula = max(k_lo - e_lo, k_hi - e_hi) <= settled
                if formula:
                    k_lo, k_hi = e_lo, e_hi
                add_run(runs, count, formula)
            # (runs are counted apart from cohorts: a cohort must not merge a formula slice's times with others')
            in_service.push(count, c_lo, c_hi, k_lo, k_hi, nbytes, merge_within if runs is None else 0.0)
        self.source.taken += takes
        self.taken += takes

    def _timed_forwards(self, slices: list[Slice], n: int) -> tuple[list[Slice], list[bool]]:
        """The `n` finished items as slices to forward, and which of them are timed: an item given the
        stationary queue's wait here leaves at (entered + the mean sojourn here), the time the next
        stage's latency starts from (`forwarding.Inlet`); the others leave spread over the quantum."""
        waits = cast(StageWait, self.waits)
        key = waits.key(self.count) or waits.last_key
        shift = waits.mean_sojourn(key) if key is not None else self.mean_service
        out: list[Slice] = []
        timed: list[bool] = []
        for count, formula in self._runs_of(n):
            part, slices = cut_slices(slices, count)
            for c, c_lo, c_hi, k_lo, k_hi, nbytes in part:
                out.append((c, c_lo, c_hi, k_lo + shift, k_hi + shift, nbytes) if formula else (c, c_lo, c_hi, k_lo, k_hi, nbytes))
                timed.append(formula)
        return out, timed

    def _runs_of(self, n: int) -> list[tuple[int, bool]]:
        """The next `n` items in service as runs (count, given the formula's wait) in FIFO order."""
        assert self._runs is not None
        return take_runs(self._runs, n)

    def _record(self, slices: list[Slice], first: int, counted: bool = False) -> None:
        """Latency of finished items: (taken − created) + own service time, `REPRESENTATIVES` per slice
        (the representative item's drawn service time, or a fresh draw when the count was counted).
        Items given the stationary queue's sojourn (`_take`) get (entered − created) + that sojourn."""
        values, weights = self._values, self._weights
        prefix, base = self.work.prefix, self.work.base
        fresh = self.counts.service_time if counted and self.counts is not None else None
        index = first - base
        total = sum(piece[0] for piece in slices)
        runs = self._runs_of(total) if self._runs is not None else [(total, False)]
        # forwards from a stage that gave them the stationary sojourn left at its mean: its spread comes here
        upstream = self.waits.upstream if self.waits is not None else None
        for n_run, formula in runs:
            part, slices = cut_slices(slices, n_run) if len(runs) > 1 else (slices, [])
            if formula:
                self._record_stationary(part)
                index += n_run
                continue
            for count, c_lo, c_hi, k_lo, k_hi, _ in part:
                wait0 = k_lo - c_lo
                slope = (k_hi - k_lo) - (c_hi - c_lo)
                groups = min(count, REPRESENTATIVES)
                size, extra = divmod(count, groups)
                position = 0
                for g in range(groups):
                    n = size + 1 if g < extra else size
                    u = (position + n // 2 + 0.5) / count
                    if fresh is None:
                        middle = index + position + n // 2
                        service = prefix[middle + 1] - prefix[middle]
                    else:
                        service = fresh()
                    values.append(wait0 + u * slope + service + (upstream.spread() if upstream is not None else 0.0))
                    weights.append(n)
                    position += n
                index += count
        if len(values) >= _FLUSH_EVERY:
            self.flush_latencies()

    def _record_stationary(self, part: list[Slice]) -> None:
        """Items whose wait here is the stationary queue's: the sojourn's strata, after (entered − created)
        (the time before this stage: none for a producer's items, the stages before for forwards)."""
        waits = cast(StageWait, self.waits)
        key = waits.key(self.count) or waits.last_key
        if key is None:  # pragma: no cover - a formula slice was taken under some key
            return
        before = self.mean_service * 1e-6
        plain = 0
        for count, c_lo, c_hi, k_lo, k_hi, _ in part:
            if k_lo - c_lo <= before and k_hi - c_hi <= before:
                plain += count
                continue
            groups = min(count, REPRESENTATIVES)
            size, extra = divmod(count, groups)
            position = 0
            for g in range(groups):
                n = size + 1 if g < extra else size
                u = (position + n // 2 + 0.5) / count
                offset = (k_lo - c_lo) + u * ((k_hi - k_lo) - (c_hi - c_lo))
                self._values.append(offset + waits.stratum_value(key))
                self._weights.append(n)
                position += n
        if plain:
            waits.add(key, plain)

    def lose_everything(self) -> None:
        """A crash: every item held is lost; the items' service times are skipped."""
        self.lost_in_crash += self.held_items()
        self.in_service.clear()
        if self._runs is not None:
            self._runs.clear()
        self.blocked.clear()
        self.done = self.taken
        self.work.skip_to(self.taken)
        self.carry = 0.0


def busy_workers(start: float, rate: float, workers: int, dt: float, mean: float) -> float:
    """Time-average number of busy workers over a quantum of `dt` seconds (its work is this × dt).

    Fluid dynamics of the items in the stage, n(t): arrivals at `rate`, departures at
    min(n, workers) / `mean`, from n(0) = `start`. Above `workers` all are busy and n falls or rises
    linearly; below, n relaxes exponentially to rate × mean, so workers that finish with no item
    waiting go idle within the quantum instead of being counted busy for all of it."""
    if workers <= 0 or dt <= 0:
        return 0.0
    if not mean > 0 or not math.isfinite(mean):
        return float(min(workers, start + 0.5 * rate * dt))
    n, t, work = float(start), 0.0, 0.0
    level = rate * mean  # where n settles below `workers`
    if n >= workers:
        drift = rate - workers / mean
        reach = (n - workers) / -drift if drift < 0 else math.inf
        if reach >= dt or level >= workers:
            return float(workers)
        work, t, n = workers * reach, reach, float(workers)
    left = dt - t
    if level > workers:  # n rises to `workers`, then all are busy
        rise = mean * math.log((level - n) / (level - workers))
        if rise < left:
            work += level * rise + (n - level) * mean * (1 - math.exp(-rise / mean))
            return (work + workers * (left - rise)) / dt
    work += level * left + (n - level) * mean * (1 - math.exp(-left / mean))
    return work / dt
