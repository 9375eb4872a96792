"""Fast-mode buffers: cohorts with exact mode's counters, and the overflow rule of their policy.

The rule comes from `simbp.semantics` (`Policy.fast`): overflow of a quantum's arrivals is dropped
(`drop_newest`: the newest; `drop_oldest`: the oldest waiting), or handed back to whoever offered it
(`block`), or kept (`unbounded`). A policy the table gives no fast rule fails loudly here
(`semantics.NotModelled`).
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from .. import semantics
from ..scenario.schema import BufferSpec
from .boundary import overshoot
from .cohorts import Cohorts, Slice
from .inputs import DRAW_BLOCK

__all__ = ["FastBuffer", "Offering", "split_whole"]


class Inlet(Protocol):
    """Holds forwarded items until the buffer's stage steps (`simbp.fast.forwarding.Inlet`)."""

    def hold(self, slices: list[Slice], n: int, sender: object, timed: list[bool] | None = None) -> None: ...


class Offering(Protocol):
    """Whoever offers items to a buffer in a quantum (a producer), and takes back what a full
    `block` buffer returns."""

    @property
    def offered(self) -> int: ...
    @property
    def arrived(self) -> int: ...
    @property
    def evenly(self) -> bool: ...
    def settle(self, returned: int, returned_bytes: float, t0: float, t1: float, holds: bool = True,
               takes: int = -1) -> None: ...


class FastBuffer:
    """A buffer of cohorts with exact-mode counters; `capacity` bounds the items waiting."""

    peak_excess = 0.0  # bytes its stage held at its peak within the last quantum beyond what it holds at the end

    def __init__(self, spec: BufferSpec, rng: np.random.Generator | None = None):
        self.spec = spec
        self.name = spec.name
        self.policy = spec.policy
        declared = semantics.policy(spec.policy, "fast")  # NotModelled when fast mode has no rule for it
        rule = declared.fast
        assert rule is not None
        self.drops = declared.drops  # arrivals at a full buffer are lost (not held back by their producer)
        self.blocks = declared.blocks  # arrivals at a full buffer are held back by whoever offered them
        self.capacity: float = math.inf if spec.capacity is None else int(spec.capacity)
        self.block_timeout = spec.block_timeout if declared.blocks else None  # a blocked producer gives up after it
        # the overflow rule; drop_oldest with no waiting room has nothing to evict: the arrival is dropped
        self.rule = "drop_newest" if rule == "drop_oldest" and self.capacity == 0 else rule
        self.queue = Cohorts()
        self.producers: list[Offering] = []
        self.inlet: Inlet | None = None  # forwards held as arrivals of this buffer's stage (`forwarding.py`)
        self.accepted = 0
        self.dropped = 0
        self.taken = 0
        self.lost_in_crash = 0
        self.peak_depth = 0
        self.peak_bytes = 0.0
        self.area = 0.0  # item-seconds waited, up to the last quantum
        self._rng = rng if rng is not None else np.random.default_rng(0)  # orders arrivals and takes at the capacity
        self._uniforms: list[float] = []

    @property
    def depth(self) -> int:
        """Items waiting."""
        return self.queue.count

    @property
    def bytes(self) -> float:
        """Bytes of the items waiting."""
        return self.queue.bytes

    def waiting_area(self, now: float) -> float:
        """Item-seconds waited up to the last quantum (the mean depth's numerator)."""
        return self.area

    def lag_seconds(self, now: float) -> float:
        """Age of the oldest item waiting (its cohort's earliest creation time; 0 when none)."""
        return max(now - self.queue.oldest_created(), 0.0) if self.queue.count else 0.0

    def room(self) -> float:
        """Items a forwarding worker may still put without waiting (only `block` makes it wait)."""
        return max(self.capacity - self.queue.count, 0) if self.rule == "block" else math.inf

    def settle_arrivals(self, offered: int, t0: float, t1: float, start: int = 0, takes: int = 0) -> None:
        """After this buffer's consumers took: apply the policy to what producers offered this quantum.

        `start` items waited when the quantum began and the consumers took `takes`: on a dropping
        policy the arrivals lost are those that found the buffer full at their moment, drawn by
        `boundary.overshoot` (the net overflow at the quantum's end is a lower bound of it)."""
        excess = self.queue.count - self.capacity if offered else 0
        if offered and self.drops and start + offered > self.capacity:
            excess = max(excess, min(overshoot(start, offered, takes, int(self.capacity), self._uniform()),
                                     self.queue.count))
        elif (offered and self.blocks and len(self.producers) == 1 and not self.producers[0].evenly
              and start + offered > self.capacity):  # random arrivals: the path's order is random
            self._settle_blocking(self.producers[0], offered, t0, t1, start, takes)
            return
        if excess <= 0:
            self.accepted += offered
            for producer in self.producers:
                producer.settle(0, 0.0, t0, t1, takes=takes)
            return
        excess = int(excess)
        if self.rule == "drop_oldest":
            self.queue.pop(excess)
            self.dropped += excess
            self.accepted += offered
        else:
            _, nbytes = self.queue.pop_newest(excess)
            if self.rule == "drop_newest":
                self.dropped += excess
                self.accepted += offered - excess
            else:  # block: the newest items go back to whoever offered them
                self.accepted += offered - excess
                shares = split_whole(excess, [p.offered for p in self.producers])
                for producer, share in zip(self.producers, shares):
                    producer.settle(share, nbytes * share / excess, t0, t1, takes=takes)
                return
        for producer in self.producers:
            producer.settle(0, 0.0, t0, t1)

    def _settle_blocking(self, producer: Offering, offered: int, t0: float, t1: float, start: int, takes: int) -> None:
        """`block` with one producer, which holds the arrival that found the buffer full and skips
        those that fall due while it holds it: the buffer and the held item are a buffer one place
        larger whose arrivals at the full level are never produced, so the arrivals skipped are the
        quantum path's overshoot at capacity + 1 (`boundary.overshoot`, as for the dropping policies),
        and the producer ends the quantum holding an item if the path ends there."""
        held = producer.offered - producer.arrived  # its item held from the last quantum (offered first)
        level = int(self.capacity) + 1
        # (at most what is left: pooled takes may already have reached items the path skipped)
        skipped = min(overshoot(start + held, offered - held, takes, level, self._uniform()), self.queue.count)
        holding = self.queue.count - skipped > self.capacity
        returned = skipped + holding
        nbytes = 0.0
        if returned:
            _, nbytes = self.queue.pop_newest(returned)
        self.accepted += offered - returned
        producer.settle(returned, nbytes, t0, t1, holding, takes)

    def split_arrivals(self, k: int, parts: int, evenly: bool) -> list[int]:
        """`k` arrivals of a quantum split over `parts` equal sub-steps: evenly for evenly spaced
        arrivals, multinomially (each independently uniform in time) for random ones."""
        if evenly:
            edges = [k * part // parts for part in range(parts + 1)]
            return [edges[part + 1] - edges[part] for part in range(parts)]
        return self._rng.multinomial(k, [1.0 / parts] * parts).tolist()

    def split_at(self, k: int, fraction: float, evenly: bool) -> int:
        """How many of a step's `k` arrivals fall in its first `fraction`: in proportion for evenly
        spaced arrivals, binomially (each independently uniform in time) for random ones."""
        if k <= 0 or fraction <= 0:
            return 0
        if fraction >= 1:
            return k
        return round(k * fraction) if evenly else int(self._rng.binomial(k, fraction))

    def _uniform(self) -> float:
        if not self._uniforms:
            self._uniforms = self._rng.random(DRAW_BLOCK).tolist()
        return self._uniforms.pop()

    def receive(self, slices: list[Slice], n: int, t0: float, t1: float, merge_within: float,
                sender: object = None, timed: list[bool] | None = None) -> int:
        """Items forwarded by an upstream group; returns how many were accepted (the rest dropped).
        With an inlet they are held as arrivals of this buffer's stage, stepped later in the quantum,
        and the inlet takes back from `sender` what the policy then drops; `timed` slices (per slice) enter
        at their own times there (`FastGroup._timed_forwards`)."""
        if self.inlet is not None:
            self.inlet.hold(slices, n, sender, timed)
            return n
        return self.receive_now(slices, n, t0, t1, merge_within)

    def receive_now(self, slices: list[Slice], n: int, t0: float, t1: float, merge_within: float) -> int:
        """Forwarded items into the queue at once, netted against the capacity (a `block` target
        was asked for room first); returns how many were accepted."""
        queue = self.queue
        for count, created_lo, created_hi, _, _, nbytes in slices:
            queue.push(count, created_lo, created_hi, t0, t1, nbytes, merge_within)
        excess = queue.count - self.capacity
        if excess <= 0 or self.rule == "block":  # a blocking target was asked for room first
            self.accepted += n
            return n
        excess = int(excess)
        self.dropped += excess
        if self.rule == "drop_oldest":
            queue.pop(excess)
            self.accepted += n
            return n
        queue.pop_newest(excess)
        self.accepted += n - excess
        return n - excess


def split_whole(total: int, weights: list[int]) -> list[int]:
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
