"""The call stage's inputs for calls that interact (`permits.py`): each call drawn when it starts, at
the load of its step, and the attempt numbers of the calls waiting for a permit or in a call."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from ...random import draw_function
from ...scenario.schema import ConsumerSpec, DownstreamSpec
from ..inputs import WorkStream

__all__ = ["AttemptTags", "CallStream", "CHUNK"]

CHUNK = 32  # calls drawn at a time (those drawn and not started are drawn again at the next step's load)


class AttemptTags:
    """Attempt numbers of the items in the permit queue and the call stage, FIFO, as runs."""

    def __init__(self) -> None:
        self.runs: deque[list[int]] = deque()

    def push(self, n: int, attempt: int) -> None:
        if n <= 0:
            return
        if self.runs and self.runs[-1][1] == attempt:
            self.runs[-1][0] += n
        else:
            self.runs.append([n, attempt])

    def pop(self, n: int) -> np.ndarray:
        """The attempt numbers of the `n` oldest items."""
        out = []
        while n > 0 and self.runs:
            head = self.runs[0]
            take = min(n, head[0])
            out.append(np.full(take, head[1], dtype=np.int64))
            head[0] -= take
            n -= take
            if not head[0]:
                self.runs.popleft()
        if n > 0:
            out.append(np.zeros(n, dtype=np.int64))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def clear(self) -> None:
        self.runs.clear()


class CallStream(WorkStream):
    """The call stage's work: per call, in the order calls start, how long it holds its permit
    (`min(latency, timeout)`), drawn at the load of the step it starts in (`begin`), with its
    latency at the downstream and its outcome kept for when it finishes."""

    def __init__(self, spec: ConsumerSpec, downstream: DownstreamSpec, rng: np.random.Generator, base: Any,
                 degrades: bool = True):
        super().__init__(self._draw)
        assert spec.calls is not None
        self.latency = draw_function(downstream.latency, rng, base)
        self.rng = rng
        self.capacity = downstream.capacity
        self.slowdown = downstream.overload.slowdown
        self.error_rate = downstream.error_rate
        self.overload_error_rate = downstream.overload.error_rate
        self.max_error_rate = downstream.max_error_rate
        self.timeout = spec.calls.timeout
        self.degrades = degrades and (self.slowdown > 0 or self.overload_error_rate > 0)
        self.latencies: list[float] = []  # per drawn call from `base`: its latency at the downstream
        self.errors: list[bool] = []
        self.timeouts: list[bool] = []
        self.first = 0  # index of the first call starting in this step
        self.in_flight = 0  # calls in flight at the downstream at the step's start
        self.drift = 0.0  # in-flight change per start within the step (1 − finishes / starts, last step)
        self.most = math.inf  # the most calls a start can see in flight, itself included (a semaphore's cap)
        self.chunk = CHUNK  # calls drawn at a time: about as many as the last step started

    def begin(self, first: int, in_flight: int, drift: float, most: float) -> None:
        """A step starts: calls from index `first` start at this load (at most `most` in flight)."""
        self.first, self.in_flight, self.drift, self.most = first, in_flight, drift, most

    def _draw(self, n: int) -> np.ndarray:
        start = self.base + len(self.prefix) - 1  # index of the first call drawn now
        latency = self.latency(n).astype(float)
        probability = np.full(n, self.error_rate)
        if self.degrades:
            position = np.arange(start - self.first, start - self.first + n, dtype=float)
            load = np.minimum(np.floor(self.in_flight + 1 + position * self.drift + 0.5), self.most)
            excess = np.maximum(load - self.capacity, 0.0)
            latency *= 1.0 + self.slowdown * excess
            over = excess > 0
            probability[over] = np.minimum(self.max_error_rate, self.error_rate + self.overload_error_rate * excess[over])
        errors = self.rng.random(n) < probability if probability.any() else np.zeros(n, dtype=bool)
        timeouts = latency > self.timeout if self.timeout is not None else np.zeros(n, dtype=bool)
        self.latencies.extend(latency.tolist())
        self.errors.extend(errors.tolist())
        self.timeouts.extend(timeouts.tolist())
        return np.minimum(latency, self.timeout) if self.timeout is not None else latency

    def last_within(self, low: int, high: int, work: float) -> int:
        prefix = self.prefix
        while self.base + len(prefix) - 1 < high and prefix[-1] <= work:
            n = min(self.chunk, high - (self.base + len(prefix) - 1))
            prefix.extend((prefix[-1] + np.cumsum(self._draw(n))).tolist())
        return super().last_within(low, high, work)

    def cover(self, index: int) -> None:
        """Draw the calls before `index` (started this step) not drawn yet."""
        missing = index - (self.base + len(self.prefix) - 1)
        if missing > 0:
            self.prefix.extend((self.prefix[-1] + np.cumsum(self._draw(missing))).tolist())

    def discard_from(self, index: int) -> None:
        """Forget calls from `index` on (drawn, not started): they start later, at another load."""
        keep = index - self.base
        if keep + 1 < len(self.prefix):
            del self.prefix[keep + 1:]
            del self.latencies[keep:], self.errors[keep:], self.timeouts[keep:]

    def skip_to(self, index: int) -> None:
        self.cover(index)

    def restart(self, index: int) -> None:
        raise AssertionError("the call stage draws every call")

    def forget_before(self, index: int) -> None:
        cut = index - self.base
        if cut > 1024:
            del self.prefix[:cut], self.latencies[:cut], self.errors[:cut], self.timeouts[:cut]
            self.base = index
