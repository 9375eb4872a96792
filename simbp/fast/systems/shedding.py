"""Priority shedding on counts: a buffer that discards a class's arrivals while `shed_at` items wait.

Exact mode discards an arriving message of a shed class when the buffer holds at least its
threshold (`buffers[].shed`). For that class the threshold acts as a capacity, so fast mode counts
what it sheds as the overshoot of the threshold by the depth's path in the (sub-)step
(`boundary.overshoot`: arrivals and takes in random order), where the other producers' arrivals
count against the takes: they raise the depth the shed class meets. What is shed is taken off the
newest items of the step; the policy then settles the rest as for any buffer.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ...scenario.schema import BufferSpec
from ..boundary import overshoot
from ..buffer import FastBuffer

__all__ = ["SheddingBuffer", "Shedder", "shed_count"]


class Shedder(Protocol):
    """A producer whose class this buffer sheds (what it offered this step)."""

    @property
    def name(self) -> str: ...
    @property
    def offered(self) -> int: ...


def shed_count(start: int, arrivals: int, others: int, takes: int, threshold: int, uniform: float) -> int:
    """Arrivals of a shed class lost at `threshold` in a step that began with `start` waiting, while
    `others` arrivals of unshed classes came and the consumers took `takes`."""
    if arrivals <= 0:
        return 0
    rise = others - takes
    level = start + max(rise, 0)
    downs = max(-rise, 0)
    if level > threshold:  # the depth must come back down to the threshold before any passes
        downs = max(downs - (level - threshold), 0)
        level = threshold
    if level + arrivals <= threshold:
        return 0
    return min(arrivals, overshoot(level, arrivals, downs, threshold, uniform))


class SheddingBuffer(FastBuffer):
    """A fast buffer with `shed:` thresholds: each step, its shed classes lose what met the threshold."""

    def __init__(self, spec: BufferSpec, rng: np.random.Generator | None = None):
        super().__init__(spec, rng)
        self.shedders: list[tuple[Shedder, int, str]] = []  # (producer, threshold, its class)
        self.shed: dict[str, int] = {}  # discarded per producer

    def settle_arrivals(self, offered: int, t0: float, t1: float, start: int = 0, takes: int = 0) -> None:
        shed = 0
        for producer, threshold, _ in self.shedders:
            mine = producer.offered
            if not mine:
                continue
            lost = min(shed_count(start, mine, offered - mine, takes, threshold, self._uniform()),
                       self.queue.count - shed)  # what the workers already took was not shed
            self.shed[producer.name] = self.shed.get(producer.name, 0) + lost
            shed += lost
        if shed:
            self.queue.pop_newest(shed)
        super().settle_arrivals(offered - shed, t0, t1, start, takes)
