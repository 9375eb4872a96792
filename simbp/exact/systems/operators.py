"""RxJS operators as stages between a producer and its buffer: debounceTime, throttleTime, bufferTime.

Each stage takes values with `push(created, size)` and hands what it emits to the next stage (the
last one hands it to the producer, which writes it into the buffer). A value an operator lets go
of by design is *discarded* (counted per operator, apart from drops at full buffers); a value an
operator holds (debounce's latest, bufferTime's open array) is in flight. RxJS has no
backpressure: emissions are pushed whatever the buffer's state.

- `debounceTime(t)`: emits the latest value once t has passed with no new value; every value
  replaced by a newer one before that is discarded. Each emitted value waited exactly t.
- `throttleTime(t)` (RxJS's default `{leading: true, trailing: false}`): emits a value when no
  throttle window is open and opens one for t; values inside the window are discarded. A value
  arriving exactly when the window closes is emitted.
- `bufferTime(t, null, maxBufferSize)`: collects values into an array that is emitted t after it
  was opened (or as soon as it holds `maxBufferSize` values); the next array opens at once. The
  array's values enter the buffer together, in order (give the consumer `batch:` to handle an
  array in one go); empty arrays carry no messages and are not modelled.

Timers are lazy: a quiet operator schedules nothing, and a busy debounce reschedules once per
period, not once per value.

Each operator is a subclass of `Operator` with its RxJS name as `kind` and a `from_setting`
constructor; `OPERATORS` maps the names to the classes and `build_chain` reads it (a name it does
not know fails loudly, naming the operator).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...operator_report import operator_stats
from ...semantics import NotModelled
from ..clock import after

if TYPE_CHECKING:
    import simpy

    from ...scenario.systems import OperatorSpec

__all__ = ["Operator", "DebounceTime", "ThrottleTime", "BufferTime", "OPERATORS", "build_chain"]

Emit = Callable[[float, float], None]
_EPSILON = 1e-12


class Operator:
    """Counters shared by every operator: emitted, discarded and the delay it added."""

    kind = "operator"

    def __init__(self, env: "simpy.Environment", emit: Emit):
        self.env = env
        self.emit = emit
        self.received = 0
        self.emitted = 0
        self.discarded = 0
        self.delay_sum = 0.0
        self.delay_max = 0.0

    @classmethod
    def from_setting(cls, env: "simpy.Environment", emit: Emit, setting: Any, opened: float) -> "Operator":
        """The operator for its scenario setting (the value under its key; `opened`: the source's start)."""
        raise NotImplementedError  # pragma: no cover - each operator overrides

    def push(self, created: float, size: float) -> None:  # pragma: no cover - each operator overrides
        raise NotImplementedError

    def held(self) -> int:
        """Values this operator holds right now (in flight)."""
        return 0

    def complete(self) -> None:
        """The source completed: emit what is held, as RxJS does."""

    def _emit(self, created: float, size: float, entered: float) -> None:
        delay = self.env.now - entered
        self.delay_sum += delay
        if delay > self.delay_max:
            self.delay_max = delay
        self.emitted += 1
        self.emit(created, size)

    def stats(self) -> dict[str, Any]:
        return operator_stats(self)


class DebounceTime(Operator):
    """`debounceTime(due)`: the latest value, once `due` has passed without a newer one."""

    kind = "debounceTime"

    @classmethod
    def from_setting(cls, env: "simpy.Environment", emit: Emit, setting: Any, opened: float) -> "DebounceTime":
        return cls(env, emit, setting)

    def __init__(self, env: "simpy.Environment", emit: Emit, due: float):
        super().__init__(env, emit)
        self.due = due
        self.value: tuple[float, float] | None = None
        self.since = 0.0
        self.timer: Any = None

    def push(self, created: float, size: float) -> None:
        self.received += 1
        if self.value is not None:
            self.discarded += 1
        self.value = (created, size)
        self.since = self.env.now
        if self.timer is None:
            self._schedule(self.due)

    def _schedule(self, delay: float) -> None:
        self.timer = after(self.env, delay, self._fire)

    def _fire(self, event: Any) -> None:
        if event is not self.timer:
            return
        now = self.env.now
        remaining = self.since + self.due - now
        if remaining > _EPSILON * max(1.0, now):  # a newer value came meanwhile: wait out its quiet period
            self._schedule(remaining)
            return
        self.timer = None
        self._release()

    def _release(self) -> None:
        created, size = self.value  # type: ignore[misc]
        self.value = None
        self._emit(created, size, self.since)

    def held(self) -> int:
        return 0 if self.value is None else 1

    def complete(self) -> None:
        if self.value is not None:
            self.timer = None
            self._release()


class ThrottleTime(Operator):
    """`throttleTime(duration)`: the first value of each window; the rest of the window is discarded."""

    kind = "throttleTime"

    @classmethod
    def from_setting(cls, env: "simpy.Environment", emit: Emit, setting: Any, opened: float) -> "ThrottleTime":
        return cls(env, emit, setting)

    def __init__(self, env: "simpy.Environment", emit: Emit, duration: float):
        super().__init__(env, emit)
        self.duration = duration
        self.window_end = float("-inf")

    def push(self, created: float, size: float) -> None:
        self.received += 1
        now = self.env.now
        if now >= self.window_end - _EPSILON * max(1.0, now):
            self.window_end = now + self.duration
            self._emit(created, size, now)
        else:
            self.discarded += 1


class BufferTime(Operator):
    """`bufferTime(span, null, maxBufferSize)`: arrays of the values of each span (see the module docstring)."""

    kind = "bufferTime"

    @classmethod
    def from_setting(cls, env: "simpy.Environment", emit: Emit, setting: Any, opened: float) -> "BufferTime":
        return cls(env, emit, setting.duration, setting.max_size, opened)

    def __init__(self, env: "simpy.Environment", emit: Emit, span: float, max_size: int | None, opened: float):
        super().__init__(env, emit)
        self.span = span
        self.max_size = max_size
        self.anchor = opened  # arrays open back to back from here, until a full one re-anchors them
        self.items: list[tuple[float, float, float]] = []
        self.timer: Any = None
        self.arrays = 0
        self.largest_array = 0

    def push(self, created: float, size: float) -> None:
        self.received += 1
        now = self.env.now
        if self.timer is None:
            periods = int((now - self.anchor) // self.span) + 1
            close = self.anchor + periods * self.span
            self.timer = after(self.env, max(close - now, 0.0), self._fire)
        self.items.append((created, size, now))
        if self.max_size is not None and len(self.items) >= self.max_size:
            self.timer = None
            self.anchor = now
            self._flush()

    def _fire(self, event: Any) -> None:
        if event is not self.timer:
            return
        self.timer = None
        self._flush()

    def _flush(self) -> None:
        items, self.items = self.items, []
        self.arrays += 1
        self.largest_array = max(self.largest_array, len(items))
        for created, size, entered in items:
            self._emit(created, size, entered)

    def held(self) -> int:
        return len(self.items)

    def complete(self) -> None:
        if self.items:
            self.timer = None
            self._flush()


OPERATORS: dict[str, type[Operator]] = {cls.kind: cls for cls in (DebounceTime, ThrottleTime, BufferTime)}
"""The RxJS operators exact mode runs, by the key a scenario writes them with."""


def build_chain(env: "simpy.Environment", specs: "list[OperatorSpec]", sink: Emit, opened: float = 0.0) -> list[Operator]:
    """The operators of `specs`, each emitting into the next and the last into `sink`."""
    stages: list[Operator] = []
    emit = sink
    for spec in reversed(specs):
        kind = spec.kind
        if kind not in OPERATORS:
            raise NotModelled("RxJS operator", kind, "exact mode", f"known: {', '.join(OPERATORS)}")
        stage = OPERATORS[kind].from_setting(env, emit, getattr(spec, kind), opened)
        stages.append(stage)
        emit = stage.push
    stages.reverse()
    return stages
