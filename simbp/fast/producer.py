"""Fast-mode producers: a count of messages per quantum offered to their buffer.

Arrivals of a quantum [t0, t1) are spread evenly over it (one cohort). A `block` buffer that
cannot take them all hands the newest back (`settle`): the producer holds the first one, and the
arrivals that fell due while it was blocked are never produced, as in exact mode. With the buffer's
`block_timeout` the held item gives up `block_timeout` after the producer blocked on it (`deadline`,
`give_up`, called by the model at that instant: `FastModel._advance` splits the step there): it is
timed out, as exact mode counts it, and the producer emits again from then on.
"""

from __future__ import annotations

import math

from ..scenario.schema import ProducerSpec
from .buffer import FastBuffer
from .inputs import ArrivalCounts, ByteSums

__all__ = ["FastProducer"]


class FastProducer:
    """Emits a count of messages per quantum into its buffer; blocked, it holds one item."""

    def __init__(self, spec: ProducerSpec, buffer: FastBuffer, counts: ArrivalCounts, sizes: ByteSums):
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
        # a blocked producer gives up on its item after this long (the buffer's block_timeout; None: never)
        self.block_timeout: float | None = buffer.spec.block_timeout if buffer.blocks else None
        self.blocked_at = 0.0  # when it blocked on the item it holds
        # this quantum: (offered, new arrivals, the item held before)
        self._offer: tuple[int, int, tuple[float, float] | None] = (0, 0, None)
        self._blocked_excess = 0.0
        self._expected = self._expected_part = 0.0  # arrivals the process expected this quantum, this sub-step

    @property
    def offered(self) -> int:
        """Items offered to the buffer this quantum (a held item included)."""
        return self._offer[0]

    def arrivals(self, down: bool) -> int:
        """This quantum's arrivals (one count a quantum); while the service is down they are lost."""
        k = self.counts.next()
        self._expected = self.counts.expected
        if down:  # the service is down: what arrives is lost
            self.produced += k
            self.lost_in_crash += k
            self._offer = (0, 0, None)
            return 0
        return k

    def offer(self, k: int, t0: float, t1: float, merge_within: float, share: float = 1.0) -> int:
        """Offer `k` arrivals spread over [t0, t1) (a held item first) to the buffer; returns how many.
        `share` is the part of the quantum [t0, t1) is (sub-steps near a full buffer)."""
        self._expected_part = self._expected * share
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

    def emit(self, t0: float, t1: float, down: bool, merge_within: float) -> int:
        """Offer this quantum's arrivals (and a held item first) to the buffer; returns how many."""
        k = self.arrivals(down)
        return 0 if down else self.offer(k, t0, t1, merge_within)

    @property
    def expected(self) -> float:
        """The arrivals its process expected in the (sub-)step it last offered (no random count's noise)."""
        return self._expected_part

    @property
    def evenly(self) -> bool:
        """Its arrivals are evenly spaced or replayed (not in random order with the buffer's takes)."""
        return self.counts.evenly

    @property
    def arrived(self) -> int:
        """New arrivals offered this quantum (without the item held before)."""
        return self._offer[1]

    def settle(self, returned: int, returned_bytes: float, t0: float, t1: float, holds: bool = True,
               takes: int = -1) -> None:
        """`returned` of the offered items did not fit a `block` buffer: the producer holds the first
        of them (unless `holds` is false: it was blocked within the quantum and let go before its end)
        and the arrivals due while it held one were never produced (as in exact mode). `takes`: the
        buffer's takes in the step, when they came in random order with the arrivals (else -1)."""
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
        if holds:
            self.produced += admitted - had + 1
            self.held = (t0 + dt * admitted / offered, returned_bytes / returned)
            # it blocked when its `position`-th new arrival came, when its block_timeout starts: on average
            # there for evenly spaced arrivals; for random ones in random order with the step's `takes`,
            # all of which came before it (a later take would have let it in), so it is event
            # takes + position of takes + k uniform times (without `takes`: position of k)
            position = admitted - had + 1
            if self.counts.evenly:
                self.blocked_at = t0 + dt * (position - 0.5) / k
            else:
                before = max(takes, 0) + position
                self.blocked_at = t0 + dt * before / (max(takes, 0) + k + 1)
            skipped = k - (admitted - had) - 1
        else:
            self.produced += admitted - had
            skipped = returned
        # arrivals fall due at the process's rate while it is blocked: skipped / rate estimates how long
        # (clipped to the quantum, the excess carried on: a Poisson count is often above its mean)
        expected = self._expected_part
        estimate = self._blocked_excess + (skipped * dt / expected if expected > 0 else dt * returned / offered)
        if old is None and self.counts.evenly and expected > 0:
            # a wait that begins here also lasts from the last skipped tick to the take that frees room,
            # which the skipped ticks do not show: half a tick on average (docs/performance.md)
            estimate += 0.5 * dt / expected
        if holds and self.block_timeout is not None:  # a wait that may end by its timeout: from when it began,
            # and the item held before until the first of the step's takes let it in
            first_take = dt / (takes + 1) if had and takes > 0 else 0.0
            estimate = self._blocked_excess + first_take + t1 - self.blocked_at
        self.blocked_time += min(dt, estimate)
        self._blocked_excess = max(estimate - dt, 0.0)

    def deadline(self) -> float:
        """When the item this producer holds times out (`block_timeout` after it blocked on it); infinity
        when it holds none or waits for ever."""
        if self.held is None or self.block_timeout is None:
            return math.inf
        return self.blocked_at + self.block_timeout

    def give_up(self) -> None:
        """Its held item waited `block_timeout` without room: timed out (lost, as in exact mode), and
        the producer emits its arrivals again from now on."""
        self.held = None
        self.timed_out += 1

    def holds_item(self) -> int:
        return 0 if self.held is None else 1

    def blocked_seconds(self, now: float) -> float:
        return self.blocked_time
