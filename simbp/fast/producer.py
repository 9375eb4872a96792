"""Fast-mode producers: a count of messages per quantum offered to their buffer.

Arrivals of a quantum [t0, t1) are spread evenly over it (one cohort). A `block` buffer that
cannot take them all hands the newest back (`settle`): the producer holds the first one, and the
arrivals that fell due while it was blocked are never produced, as in exact mode.
"""

from __future__ import annotations

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

    def settle(self, returned: int, returned_bytes: float, t0: float, t1: float, holds: bool = True) -> None:
        """`returned` of the offered items did not fit a `block` buffer: the producer holds the first
        of them (unless `holds` is false: it was blocked within the quantum and let go before its end)
        and the arrivals due while it held one were never produced (as in exact mode)."""
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
        self.blocked_time += min(dt, estimate)
        self._blocked_excess = max(estimate - dt, 0.0)

    def holds_item(self) -> int:
        return 0 if self.held is None else 1

    def blocked_seconds(self, now: float) -> float:
        return self.blocked_time
