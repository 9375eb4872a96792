"""Callers that wait per request (`blocking: request`) on counts: exact mode's `UpstreamProducer._wait_alone`.

In exact mode such a producer never blocks: every arrival is produced, and one that finds its
`block` buffer full (or other requests already waiting) waits for room on its own, first in first out,
held by its caller (in flight, not in the buffer's memory), and gives up after the buffer's
`block_timeout` (timed out, and given up by its caller) if room has not come by then.

Fast mode keeps the waiting requests as cohorts with their creation times (a request waits from its
arrival, so its deadline is its creation time + `block_timeout`). Each step, the requests whose
deadline has passed give up first (each waited exactly `block_timeout`), those still waiting are
offered to the buffer before the step's new arrivals, and what the buffer cannot take (netted: the
newest that do not fit once its workers took, `FastBuffer.settle_arrivals`) waits on. The model steps
a stage with requests waiting at half the timeout (`FastModel._substeps`), so a deadline is met within
half a timeout of when it falls.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...scenario.schema import ProducerSpec
from ..buffer import FastBuffer
from ..cohorts import Cohorts, Slice, cut_slices
from ..inputs import ByteSums
from ..producer import FastProducer

__all__ = ["RequestProducer"]


class RequestProducer(FastProducer):
    """A producer whose requests each wait for room on their own (see the module)."""

    def __init__(self, spec: ProducerSpec, buffer: FastBuffer, counts: Any, sizes: ByteSums, dt: float,
                 rng: np.random.Generator):
        super().__init__(spec, buffer, counts, sizes)
        self._rng = rng  # the step's order of arrivals and takes
        self.timeout = buffer.spec.block_timeout
        self._dt = dt
        self.waiting = Cohorts()  # requests waiting for room; `entered` is when they began to wait
        self.request_waits = 0
        self.request_wait_time = 0.0
        self.gave_up = 0
        self._offered: list[Slice] = []
        self._start = 0  # items in the buffer when this step's offer began
        self._offered_then: list[Slice] = []

    def arrivals(self, down: bool) -> int:
        """This quantum's arrivals, all produced (the producer itself never blocks)."""
        k = self.counts.next()
        self._expected = self.counts.expected
        self.produced += k
        self._offer = (0, 0, None)
        if down:
            self.lost_in_crash += k
            return 0
        return k

    @property
    def evenly(self) -> bool:
        """Requests waiting keep the buffer full: a `block` buffer applies its netted rule."""
        return True

    def split(self, k: int, parts: int, t0: float, t1: float) -> list[int]:
        """A quantum's arrivals over its sub-steps: evenly or at random, as the arrivals come."""
        return self.buffer.split_arrivals(k, parts, self.counts.evenly)

    def offer(self, k: int, t0: float, t1: float, merge_within: float, share: float = 1.0) -> int:
        """Requests whose deadline passed by `t0` give up; those still waiting, then `k` new arrivals
        spread over [t0, t1), are offered to the buffer, the oldest first."""
        self._expire(t0)
        queue = self.buffer.queue
        self._start = queue.count
        offered: list[Slice] = []
        waited = self.waiting.count
        if waited:
            for count, c_lo, c_hi, e_lo, e_hi, nbytes in self.waiting.pop(waited):
                queue.push(count, c_lo, c_hi, t0, t0, nbytes, merge_within)
                offered.append((count, c_lo, c_hi, e_lo, e_hi, nbytes))
        if k:
            nbytes = self.sizes.total(k)
            queue.push(k, t0, t1, t0, t1, nbytes, merge_within)
            offered.append((k, t0, t1, t0, t1, nbytes))
        self._offered = offered
        self._offer = (k + waited, k, None)
        return k + waited

    def _expire(self, now: float) -> None:
        """The waiting requests created at or before `now − block_timeout` give up (timed out)."""
        if self.timeout is None or not self.waiting.count:
            return
        cut = now - self.timeout
        n = 0
        for count, c_lo, c_hi, *_ in self.waiting.items:
            if c_hi <= cut:
                n += int(count)
                continue
            if c_lo < cut:
                n += int(round(count * (cut - c_lo) / (c_hi - c_lo)))
            break
        if n:
            self.waiting.pop(n)
            self.timed_out += n
            self.gave_up += n
            self.request_wait_time += n * self.timeout

    def settle(self, returned: int, returned_bytes: float, t0: float, t1: float, holds: bool = True,
               takes: int = -1) -> None:
        """The buffer handed back the newest `returned` of what was offered: they wait on (a new
        arrival is counted once, when it first waits); those that had waited and got in count their
        wait, from when it began to the take that let them in (`takes`: the buffer's in this step)."""
        offered, new, _ = self._offer
        got_in, back = cut_slices(self._offered, offered - returned)
        self._offered_then, self._offered = self._offered, []
        admitted_old = max(min(offered - new, offered - returned), 0)
        olds, _ = cut_slices(self._offered_then, offered - new)  # the requests that waited when the step began
        moments, waits, joined = self._path(offered - new, new, max(takes, 0), t0, t1, olds)
        if admitted_old:
            waited, _ = cut_slices(got_in, admitted_old)
            # the i-th got in at the i-th take that found requests waiting (the middle of the step
            # for those the step's path does not reach), and waited at most its timeout
            entered = np.concatenate([e_lo + (e_hi - e_lo) * (np.arange(count) + 0.5) / count
                                      for count, _, _, e_lo, e_hi, _ in waited])
            reached = min(admitted_old, len(moments))
            at = np.concatenate((moments[:reached], np.full(admitted_old - reached, 0.5 * (t0 + t1))))
            waits_old = at - entered
            if self.timeout is not None:
                waits_old = np.minimum(waits_old, self.timeout)
            self.request_wait_time += float(waits_old.sum())
        self.request_wait_time += waits
        self.request_waits += max(joined, min(returned, new))
        if returned:
            fine = self._dt if self.timeout is None else min(self._dt, self.timeout / 8)  # deadlines cut cohorts
            merge = max(fine, (t1 - self.waiting.oldest_created()) / 256) if self.waiting.count else fine
            for count, c_lo, c_hi, e_lo, e_hi, nbytes in back:
                self.waiting.push(count, c_lo, c_hi, e_lo, e_hi, nbytes, merge)

    def _path(self, old: int, new: int, takes: int, t0: float, t1: float, olds: list[Slice]) -> tuple[np.ndarray, float, int]:
        """The step's arrivals and takes in random order (uniform times; evenly spaced arrivals evenly),
        as exact mode meets them: an arrival waits when the buffer is full or requests wait (`joined`),
        and each take while requests wait lets the first of them in. Returns the moments of the takes
        that let the `old` waiting requests in (in order), the waits of new arrivals let in within the
        step, and how many new arrivals waited. The counts themselves are the buffer's (netted)."""
        empty = np.empty(0)
        if not new and not old:
            return empty, 0.0, 0
        rng = self._rng
        dt = t1 - t0
        arrivals = (t0 + (np.arange(new) + 0.5) * (dt / new) if self.counts.evenly else t0 + np.sort(rng.random(new)) * dt) \
            if new else empty
        take_times = t0 + np.sort(rng.random(takes)) * dt if takes else empty
        times = np.concatenate((arrivals, take_times))
        steps = np.concatenate((np.ones(new), -np.ones(takes)))
        order = np.argsort(times, kind="stable")
        times, steps = times[order], steps[order]
        # waiting plus in the buffer after each event: a bridge from the step's start to its end (the takes
        # happened; where the random order dips below an empty buffer it is far from full, which is all
        # that is read here, so the order is not conditioned on staying above it)
        level = self._start + old + np.cumsum(steps)
        if self.timeout is not None and olds:
            # the first in line leaves at a take or at its deadline, whichever comes first: those gone at
            # their deadline by each event are the largest excess of deadlines passed over takes so far
            takes_by = np.cumsum(steps < 0)
            level -= np.minimum(np.maximum.accumulate(np.maximum(self._gone_by(times, olds) - takes_by, 0)), old)
        before = np.concatenate(([float(self._start + old)], level[:-1]))
        capacity = self.buffer.capacity
        is_arrival = steps > 0
        waiting_arrival = is_arrival & (before >= capacity)
        admitting = ~is_arrival & (before > capacity)
        moments = times[admitting]  # the j-th lets the j-th waiting request in (the old ones first)
        joined = int(waiting_arrival.sum())
        if not joined or len(moments) <= old:
            return moments, 0.0, joined
        let_in = min(joined, len(moments) - old)
        came = times[waiting_arrival][:let_in]
        return moments, float((moments[old:old + let_in] - came).sum()), joined

    def _gone_by(self, times: np.ndarray, left: list[Slice]) -> np.ndarray:
        """How many of the requests `left` (waiting, spread over their creation ranges) reach their
        deadline by each time."""
        assert self.timeout is not None
        gone = np.zeros(len(times))
        for count, c_lo, c_hi, *_ in left:
            cut = times - self.timeout
            if c_hi > c_lo:
                gone += count * np.clip((cut - c_lo) / (c_hi - c_lo), 0.0, 1.0)
            else:
                gone += count * (cut >= c_lo)
        return np.floor(gone)

    def lose_waiting(self) -> None:
        """A crash: the requests waiting for room are lost."""
        self.lost_in_crash += self.waiting.count
        self.waiting.clear()

    def holds_item(self) -> int:
        return self.waiting.count

    def stats(self) -> dict[str, Any]:
        """Exact mode's figures for requests that wait on their own."""
        entry: dict[str, Any] = {"gave_up": self.gave_up}
        if self.request_waits:
            entry["requests_blocked"] = self.request_waits
            entry["mean_request_wait_s"] = self.request_wait_time / self.request_waits
        return entry
