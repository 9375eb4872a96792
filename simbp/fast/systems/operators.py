"""RxJS operators on counts: debounceTime, throttleTime and bufferTime between a producer and its
buffer (exact mode's `simbp.exact.systems.operators`, docs/systems.md).

Each operator's rule depends on *when* values come, so fast mode gives a quantum's arrivals their
times (sorted uniform draws for random arrivals, the conditional law of a Poisson process given its
count; evenly spaced otherwise): numpy work per value, as the core's service times, and Python work
per *emission*. Given those times each rule is exact mode's:

- `throttleTime(t)`: the first value at or after the window's end is emitted and opens the next
  window (a step per emission, at most one per t);
- `debounceTime(t)`: a value is emitted t after it came when no newer value came within t (the
  gaps between consecutive values, vectorised; the last value of a quantum waits for the next);
- `bufferTime(t, max_size)`: arrays of the values of each span (from the producer's start, or from
  the last array that filled to `max_size`), emitted at the span's end or when full (a step per
  array).

What an operator emits goes to the next one, and what the last emits enters the buffer at its
emission time with its creation time (so latency counts from creation, as in exact mode). Values an
operator holds are in flight; what it lets go of is `discarded`, per operator.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...operator_report import operator_stages, operator_stats
from ...scenario.schema import ProducerSpec
from ..buffer import FastBuffer
from ..cohorts import Cohorts, Slice, cut_slices
from ..inputs import ByteSums
from ..producer import FastProducer

__all__ = ["emitted_rate", "FastOperator", "FastThrottle", "FastDebounce", "FastBufferTime", "OperatorProducer", "FAST_OPERATORS"]

Values = tuple[np.ndarray, np.ndarray]  # (created, time it reaches the operator or leaves it), sorted by time
_EMPTY = np.empty(0)
_EPSILON = 1e-12
CHUNKS = 8  # cohorts the emissions of one step enter the buffer as, at most


class FastOperator:
    """Counters shared by every operator (exact mode's `Operator.stats()`)."""

    kind = "operator"

    def __init__(self) -> None:
        self.received = 0
        self.emitted = 0
        self.discarded = 0
        self.delay_sum = 0.0
        self.delay_max = 0.0

    def push(self, values: Values, t1: float) -> Values:
        """Values reaching the operator before `t1`; returns what it emits before `t1`."""
        raise NotImplementedError  # pragma: no cover - each operator overrides

    def held(self) -> int:
        return 0

    def complete(self, now: float) -> Values:
        """The source completed at `now`: emit what is held."""
        return _EMPTY, _EMPTY

    def _count(self, reached: np.ndarray, left: np.ndarray) -> None:
        if len(left):
            delays = left - reached
            self.delay_sum += float(delays.sum())
            self.delay_max = max(self.delay_max, float(delays.max()))
            self.emitted += len(left)

    def stats(self) -> dict[str, Any]:
        return operator_stats(self)


class FastThrottle(FastOperator):
    kind = "throttleTime"

    def __init__(self, duration: float):
        super().__init__()
        self.duration = duration
        self.window_end = -math.inf

    def push(self, values: Values, t1: float) -> Values:
        created, at = values
        self.received += len(at)
        chosen: list[int] = []
        position = 0
        while position < len(at):
            end = self.window_end
            position += int(np.searchsorted(at[position:], end - _EPSILON * max(1.0, end), side="left"))
            if position >= len(at):
                break
            chosen.append(position)
            self.window_end = float(at[position]) + self.duration
            position += 1
        self.discarded += len(at) - len(chosen)
        index = np.array(chosen, dtype=np.int64)
        out = created[index], at[index]
        self._count(out[1], out[1])
        return out


class FastDebounce(FastOperator):
    kind = "debounceTime"

    def __init__(self, due: float):
        super().__init__()
        self.due = due
        self.pending: tuple[float, float] | None = None  # (created, came) of the latest value

    def push(self, values: Values, t1: float) -> Values:
        created, at = values
        self.received += len(at)
        if self.pending is not None:
            created = np.concatenate(([self.pending[0]], created))
            at = np.concatenate(([self.pending[1]], at))
        if not len(at):
            return _EMPTY, _EMPTY
        quiet = np.empty(len(at), dtype=bool)
        quiet[:-1] = np.diff(at) > self.due * (1 + 1e-12)
        quiet[-1] = at[-1] + self.due <= t1
        self.pending = None if quiet[-1] else (float(created[-1]), float(at[-1]))
        replaced = len(at) - int(quiet.sum()) - (0 if quiet[-1] else 1)
        self.discarded += replaced
        out_created, came = created[quiet], at[quiet]
        left = came + self.due
        self._count(came, left)
        return out_created, left

    def held(self) -> int:
        return 0 if self.pending is None else 1

    def complete(self, now: float) -> Values:
        if self.pending is None:
            return _EMPTY, _EMPTY
        created, came = self.pending
        self.pending = None
        self._count(np.array([came]), np.array([now]))
        return np.array([created]), np.array([now])


class FastBufferTime(FastOperator):
    kind = "bufferTime"

    def __init__(self, span: float, max_size: int | None, opened: float):
        super().__init__()
        self.span = span
        self.max_size = max_size
        self.anchor = opened
        self.close: float | None = None  # when the open array closes (None: no array open)
        self.items: list[Values] = []  # the open array's values, in pieces
        self.size = 0
        self.arrays = 0
        self.largest_array = 0

    def push(self, values: Values, t1: float) -> Values:
        created, at = values
        self.received += len(at)
        out: list[Values] = []
        position, n = 0, len(at)
        while True:
            if self.close is None:
                if position >= n:
                    break
                first = float(at[position])
                self.close = self.anchor + (math.floor((first - self.anchor) / self.span) + 1) * self.span
            close = self.close
            end = position + int(np.searchsorted(at[position:], close, side="left"))
            room = (self.max_size - self.size) if self.max_size is not None else n
            take = min(end - position, room)
            if take:
                self.items.append((created[position:position + take], at[position:position + take]))
                self.size += take
                position += take
            if self.max_size is not None and self.size >= self.max_size:  # full: emitted at once, re-anchored
                moment = float(at[position - 1])
                out.append(self._flush(moment))
                self.anchor = moment
                continue
            if close < t1 and (position >= end):  # (at t1 itself: next quantum, as SimPy stops before it)
                out.append(self._flush(close))
                continue
            break
        if not out:
            return _EMPTY, _EMPTY
        return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])

    def _flush(self, moment: float) -> Values:
        created = np.concatenate([piece[0] for piece in self.items]) if self.items else _EMPTY
        came = np.concatenate([piece[1] for piece in self.items]) if self.items else _EMPTY
        self.items, self.close = [], None
        size, self.size = self.size, 0
        if size:
            self.arrays += 1
            self.largest_array = max(self.largest_array, size)
        left = np.full(size, moment)
        self._count(came, left)
        return created, left

    def held(self) -> int:
        return self.size

    def complete(self, now: float) -> Values:
        return self._flush(now) if self.size else (_EMPTY, _EMPTY)


def _build(spec: Any, opened: float) -> FastOperator:
    kind = spec.kind
    setting = getattr(spec, kind)
    if kind == "throttleTime":
        return FastThrottle(setting)
    if kind == "debounceTime":
        return FastDebounce(setting)
    return FastBufferTime(setting.duration, setting.max_size, opened)


def emitted_rate(spec: ProducerSpec, rate: float) -> float:
    """At most how many values a second a producer's operators let through, from `rate` at the
    source (throttleTime and debounceTime emit at most one per their time; bufferTime delays)."""
    for operator in spec.operators:
        if operator.kind in ("throttleTime", "debounceTime"):
            rate = min(rate, 1.0 / getattr(operator, operator.kind))
    return rate


FAST_OPERATORS = ("debounceTime", "throttleTime", "bufferTime")
"""The RxJS operators fast mode runs (each exact mode's rule on the values' drawn times)."""


class OperatorProducer(FastProducer):
    """A producer whose values pass through RxJS operators before they are written to its buffer.

    Every source value is produced when it comes; what the operators emit in a step is offered to
    the buffer in time order, each value with its creation time."""

    def __init__(self, spec: ProducerSpec, buffer: FastBuffer, counts: Any, sizes: ByteSums, rng: np.random.Generator,
                 dt: float, stop: float, duration: float):
        super().__init__(spec, buffer, counts, sizes)
        self.operators = [_build(op, spec.start) for op in spec.operators]
        self._rng = rng
        self._dt = dt
        self._stop = stop  # the source completes here (its `stop`, if before the run's end)
        self._duration = duration
        self._completed = False
        self._quantum = 0
        self._out_created = _EMPTY
        self._out_at = _EMPTY
        self._next = 0
        # emissions a full `block` buffer handed back: each waits for room on its own, first in first out
        # (exact mode's per-request wait), not yet in memory; `entered` is when it was emitted
        self.waiting = Cohorts()
        self.request_waits = 0
        self.request_wait_time = 0.0
        self._offered: list[Slice] = []

    def _times(self, k: int, t0: float, t1: float) -> np.ndarray:
        if k <= 0:
            return _EMPTY
        if self.counts.evenly:
            return t0 + (np.arange(k) + 0.5) * ((t1 - t0) / k)
        return t0 + np.sort(self._rng.random(k)) * (t1 - t0)

    def arrivals(self, down: bool) -> int:
        """This quantum's source values, through the operators: returns how many they emit in it
        (while the service is down those are lost, as arrivals are)."""
        k = self.counts.next()
        self._expected = self.counts.expected
        t0 = self._quantum * self._dt  # the model's quantum [t0, t1)
        self._quantum += 1
        t1 = min(self._quantum * self._dt, self._duration)
        self.produced += k
        times = self._times(k, t0, t1)
        values: tuple[np.ndarray, np.ndarray] = (times, times)
        for operator in self.operators:
            values = operator.push(values, t1)
        if not self._completed and self._stop <= t1:  # the source completed: operators emit what they hold
            self._completed = True
            for index, operator in enumerate(self.operators):
                done = operator.complete(self._stop)
                for later in self.operators[index + 1:]:
                    done = later.push(done, t1)
                values = (np.concatenate((values[0], done[0])), np.concatenate((values[1], done[1])))
        self._out_created, self._out_at, self._next = values[0], values[1], 0
        emitted = len(values[0])
        self._offer = (0, 0, None)
        if down:
            self.lost_in_crash += emitted
            return 0
        return emitted

    @property
    def evenly(self) -> bool:
        """The operators' emissions are not a Poisson stream: a `block` buffer applies its netted rule."""
        return True

    def split(self, k: int, parts: int, t0: float, t1: float) -> list[int]:
        """This step's `k` emissions over `parts` equal sub-steps, by their emission times (an array
        bufferTime emits comes at one instant, so it meets a small buffer all at once)."""
        times = self._out_at[self._next:self._next + k]
        edges = t0 + (t1 - t0) * np.arange(1, parts) / parts
        cuts = np.concatenate([[0], np.searchsorted(times, edges, side="left"), [len(times)]])
        return np.diff(cuts).astype(int).tolist()

    def offer(self, k: int, t0: float, t1: float, merge_within: float, share: float = 1.0) -> int:
        """Emissions waiting for room first, then the next `k` emissions, enter the buffer (new ones in up to
        `CHUNKS` cohorts); a `block` buffer hands back the newest that do not fit (`settle`)."""
        first, last = self._next, min(self._next + k, len(self._out_at))
        self._next = last
        n = max(last - first, 0)
        queue = self.buffer.queue
        offered: list[Slice] = []
        waited = self.waiting.count
        if waited:
            for count, c_lo, c_hi, e_lo, e_hi, nbytes in self.waiting.pop(waited):
                queue.push(count, c_lo, c_hi, t0, t0, nbytes, merge_within)
                offered.append((count, c_lo, c_hi, e_lo, e_hi, nbytes))
        if n:
            created, at = self._out_created[first:last], self._out_at[first:last]
            bounds = np.linspace(0, n, min(CHUNKS, n) + 1).astype(np.int64)
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                if hi > lo:
                    piece, came = created[lo:hi], at[lo:hi]
                    nbytes = self.sizes.total(int(hi - lo))
                    queue.push(int(hi - lo), float(piece.min()), float(piece.max()), float(came.min()), float(came.max()),
                               nbytes, merge_within)
                    offered.append((int(hi - lo), float(piece.min()), float(piece.max()), float(came.min()),
                                    float(came.max()), nbytes))
        self._offered = offered
        self._offer = (n + waited, n, None)
        return n + waited

    def settle(self, returned: int, returned_bytes: float, t0: float, t1: float, holds: bool = True,
               takes: int = -1) -> None:
        """Produced when they came (`arrivals`). A full `block` buffer handed back the newest `returned`
        of what was offered: they wait for room (in flight, not in memory), the oldest first; those that
        had waited and got in count their wait, from their emission to the middle of this step."""
        offered, new, _ = self._offer
        got_in, back = cut_slices(self._offered, offered - returned)
        self._offered = []
        admitted_old = max(min(offered - new, offered - returned), 0)
        if admitted_old:
            waited, _ = cut_slices(got_in, admitted_old)
            middle = 0.5 * (t0 + t1)
            self.request_wait_time += sum(count * (middle - 0.5 * (e_lo + e_hi)) for count, _, _, e_lo, e_hi, _ in waited)
        if returned:
            self.request_waits += min(returned, new)  # each emission is counted once, when it first waits
            merge = max(self._dt, (t1 - self.waiting.oldest_created()) / 256) if self.waiting.count else self._dt
            for count, c_lo, c_hi, e_lo, e_hi, nbytes in back:
                self.waiting.push(count, c_lo, c_hi, e_lo, e_hi, nbytes, merge)

    def lose_waiting(self) -> None:
        """A crash: the emissions waiting for room are lost."""
        self.lost_in_crash += self.waiting.count
        self.waiting.clear()

    def holds_item(self) -> int:
        return sum(operator.held() for operator in self.operators) + self.waiting.count

    @property
    def discarded(self) -> int:
        return sum(operator.discarded for operator in self.operators)

    def stages(self) -> dict[str, Any]:
        """Per operator, keyed by its RxJS name (a repeated one gets _2, _3 …), in pipe order."""
        return operator_stages(self.operators)
