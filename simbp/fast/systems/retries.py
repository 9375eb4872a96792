"""Callers that time out and retry, on counts (exact mode's `UpstreamProducer`, docs/systems.md).

A caller watching a first-in-first-out queue (`caller_timeout`, drop_newest or unbounded buffer)
gives up on its message when nobody has picked it up `caller_timeout` after it was sent; the
message stays queued (`abandoned_in_queue`) and the caller retries it after a backoff (a new
produced message), up to `retry.max` times; `retry.on: [drop]` retries what a full buffer dropped.

Fast mode keeps the watched messages as segments `[count, created from–to, attempt]` in the order
they were sent. In a FIFO queue a message created at c is still waiting at its deadline c + T iff
the oldest waiting message is no newer than c, so at each quantum the segments whose deadlines
have passed are cut at the oldest waiting creation time (interpolated between the two quantum
boundaries): what is older was picked up in time, what is newer was abandoned. Retries are drawn
as times (deadline or drop time + backoff × multiplier^attempt, capped, with full jitter a uniform
fraction of it), binned into the quanta they fall due in, and offered there with the producer's
own arrivals (attempt by attempt, so `retry.max` is honoured).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from ...scenario.schema import ProducerSpec
from ..buffer import FastBuffer
from ..inputs import ByteSums
from ..producer import FastProducer

__all__ = ["RetryingProducer"]


class RetryingProducer(FastProducer):
    """A producer whose callers watch their messages (caller timeout) and retry (see the module)."""

    def __init__(self, spec: ProducerSpec, buffer: FastBuffer, counts: Any, sizes: ByteSums, rng: np.random.Generator,
                 dt: float, duration: float):
        super().__init__(spec, buffer, counts, sizes)
        self.timeout = spec.caller_timeout
        self.retry = spec.retry
        self.retry_on_timeout = spec.retry is not None and "timeout" in spec.retry.on
        self.retry_on_drop = spec.retry is not None and "drop" in spec.retry.on
        self._rng = rng
        self._dt = dt
        self._duration = duration
        self._quantum = 0
        self._late = 0
        self.retries = 0
        self.gave_up = 0
        self.abandoned = 0
        self._due: dict[int, dict[int, int]] = {}  # quantum → attempt → retries falling due in it
        self._watched: deque[list[float]] = deque()  # [count, created_lo, created_hi, attempt]
        self._oldest = (0.0, math.inf)  # (time, oldest waiting creation time) at the last check
        self._step: dict[int, int] = {}  # this quantum's offer by attempt (0: first attempts)
        self._step_total = 0
        self._part: dict[int, int] = {}  # this (sub-)step's offer by attempt
        self._seen = (0, 0)  # (buffer.dropped, shed) when the step's offer was made
        self._span = (0.0, 0.0)

    # ------------------------------------------------------------------ a quantum's offer
    def arrivals(self, down: bool) -> int:
        """First attempts drawn for this quantum, plus the retries falling due in it."""
        k = self.counts.next()
        self._expected = self.counts.expected
        t0 = self._quantum * self._dt
        self._check_deadlines(t0)
        due = self._due.pop(self._quantum, {})
        self._quantum += 1
        retries = sum(due.values())
        self.produced += k + retries
        self.retries += retries
        self._step = {0: k, **{a: n for a, n in due.items() if n}} if k else {a: n for a, n in due.items() if n}
        self._step_total = k + retries
        if down:
            self.lost_in_crash += k + retries
            self._offer = (0, 0, None)
            self._step, self._step_total = {}, 0
            return 0
        return k + retries

    def offer(self, k: int, t0: float, t1: float, merge_within: float, share: float = 1.0) -> int:
        """Offer `k` of the quantum's attempts (in proportion to their attempt numbers) over [t0, t1)."""
        self._part = self._take_share(k)
        if k:
            self.buffer.queue.push(k, t0, t1, t0, t1, self.sizes.total(k), merge_within)
        self._offer = (k, k, None)
        shed = getattr(self.buffer, "shed", {}).get(self.name, 0)
        self._seen = (self.buffer.dropped, shed)
        self._span = (t0, t1)
        return k

    def _take_share(self, k: int) -> dict[int, int]:
        """Which of the quantum's attempts go out in this (sub-)step: `k` of them, drawn at random."""
        step, total = self._step, self._step_total
        if k >= total:
            part = dict(step)
        else:
            part = dict(zip(step, _draw_without_replacement(self._rng, list(step.values()), k)))
        for attempt, n in part.items():
            step[attempt] -= n
        self._step_total = max(total - k, 0)
        return part

    def settle(self, returned: int, returned_bytes: float, t0: float, t1: float, holds: bool = True,
               takes: int = -1) -> None:
        """The buffer settled the step (never `block`): what it dropped or shed of this producer's
        offer is attributed by share; what it accepted is watched; drops are retried or given up."""
        offered = self._offer[0]
        if not offered:
            return
        everyone = sum(p.offered for p in self.buffer.producers) or offered
        dropped = round((self.buffer.dropped - self._seen[0]) * offered / everyone)
        shed = getattr(self.buffer, "shed", {}).get(self.name, 0) - self._seen[1]
        dropped = min(dropped, offered)
        shed = min(shed, offered - dropped)
        lo, hi = self._span
        attempts = sorted(a for a, n in self._part.items() if n)
        sizes = [self._part[a] for a in attempts]
        # which of the offered attempts were dropped or shed: drawn at random (whole numbers that add up)
        lost_by = _draw_without_replacement(self._rng, sizes, dropped)
        left = [n - lost for n, lost in zip(sizes, lost_by)]
        shed_by = _draw_without_replacement(self._rng, left, shed)
        for attempt, n, lost, gone in zip(attempts, sizes, lost_by, shed_by):
            kept = n - lost - gone
            if kept > 0 and self.timeout is not None:
                self._watched.append([float(kept), lo, hi, attempt])
            if lost:
                self._failed(lost, attempt, lo, hi, self.retry_on_drop)

    # ------------------------------------------------------------------ deadlines and retries
    def _check_deadlines(self, now: float) -> None:
        """Callers whose deadline passed by `now`: abandoned if their message still waited then."""
        previous, oldest_then = self._oldest
        oldest_now = self.buffer.queue.oldest_created()
        self._oldest = (now, oldest_now)
        if self.timeout is None:
            return
        timeout = self.timeout
        watched = self._watched
        while watched and watched[0][1] + timeout <= now:
            count, lo, hi, attempt = int(watched[0][0]), watched[0][1], watched[0][2], int(watched[0][3])
            cut = min(hi, now - timeout)
            share = 1.0 if hi <= lo or cut >= hi else (cut - lo) / (hi - lo)
            n = count if share >= 1.0 else round(count * share)
            if share >= 1.0:
                watched.popleft()
            else:
                watched[0][0], watched[0][1] = count - n, cut
            if n <= 0:
                if share < 1.0:
                    break
                continue
            # the oldest waiting creation time when these deadlines fell (between the two checks)
            first, last = lo + timeout, cut + timeout
            oldest = _interpolate(previous, oldest_then, now, oldest_now, 0.5 * (first + last))
            if oldest == math.inf or oldest > cut:
                continue  # all picked up in time
            waiting = n if oldest <= lo else round(n * (cut - oldest) / (cut - lo))
            if waiting > 0:
                self.abandoned += waiting
                self._failed(waiting, attempt, max(lo, oldest) + timeout, last, self.retry_on_timeout)
            if share < 1.0:
                break

    def _failed(self, n: int, attempt: int, lo: float, hi: float, retries: bool) -> None:
        """`n` attempts number `attempt` failed between `lo` and `hi`: retried, or given up."""
        retry = self.retry
        if not retries or retry is None or attempt >= retry.max:
            self.gave_up += n
            return
        delay = retry.backoff * retry.multiplier ** attempt
        if retry.max_backoff is not None:
            delay = min(delay, retry.max_backoff)
        rng = self._rng
        times = lo + rng.random(n) * (hi - lo)
        times += delay * (rng.random(n) if retry.jitter == "full" else 1.0)
        quanta = np.floor(times / self._dt + 1e-9).astype(np.int64)
        quanta = np.maximum(quanta, self._quantum)  # a retry due now goes out with this quantum's offer
        first = int(quanta.min())
        last = math.ceil(self._duration / self._dt - 1e-9)  # quanta from here on fall after the run
        for offset, count in enumerate(np.bincount(quanta - first).tolist()):
            if not count:
                continue
            quantum = first + offset
            if quantum >= last:
                self._late += count  # due after the run: still pending at its end
                continue
            bucket = self._due.setdefault(quantum, {})
            bucket[attempt + 1] = bucket.get(attempt + 1, 0) + count

    def pending(self) -> int:
        """Retries scheduled but not yet sent (`retries_pending_at_end`)."""
        return sum(sum(bucket.values()) for bucket in self._due.values())

    def stats(self) -> dict[str, Any]:
        """Exact mode's figures for callers that time out and retry."""
        entry: dict[str, Any] = {}
        if self.retry is not None:
            entry["retries"] = self.retries
            entry["first_attempts"] = self.produced - self.retries
            entry["retries_pending_at_end"] = self.pending() + self._late
        entry["gave_up"] = self.gave_up
        if self.timeout is not None:
            entry["caller_timeout_s"] = self.timeout
            entry["abandoned_in_queue"] = self.abandoned
        return entry


def _draw_without_replacement(rng: np.random.Generator, sizes: list[int], n: int) -> list[int]:
    """How many of `n` items drawn at random (without replacement) come from each group of `sizes`."""
    if n <= 0:
        return [0] * len(sizes)
    if len(sizes) == 1:
        return [min(n, sizes[0])]
    drawn, rest = [], sum(sizes)
    for size in sizes:
        rest -= size
        take = int(rng.hypergeometric(size, rest, n)) if rest > 0 and size > 0 else (n if size > 0 else 0)
        drawn.append(take)
        n -= take
    return drawn


def _interpolate(t_a: float, value_a: float, t_b: float, value_b: float, t: float) -> float:
    """The oldest waiting creation time at `t`, between two checks (infinity: the queue was empty)."""
    if value_a == math.inf or value_b == math.inf:
        return value_b if value_a == math.inf else value_a
    if t_b <= t_a:
        return value_b
    share = min(max((t - t_a) / (t_b - t_a), 0.0), 1.0)
    return value_a + share * (value_b - value_a)
