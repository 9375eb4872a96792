"""The engine's clock: the one place exact mode reaches past SimPy's public API, and why.

The exact engine schedules one SimPy timeout per message (a service, a poll batch) and reads the
simulated time several times per message, so these calls decide its speed. SimPy's public
`env.now` is a Python property and `env.timeout(d)` goes through `Timeout.__init__`; both cost a
Python call each. `Clock` keeps SimPy's semantics and names and removes those calls:

* `Clock.now` reads the time as a plain attribute (SimPy keeps it in `Environment._now`; `Clock`
  stores it in a slot and exposes that slot as `now` as well), so `env.now` costs what `env._now`
  does: no Python call.
* `Clock.timeout(delay)` builds the same `simpy.Timeout` in one Python call instead of two, and
  schedules it through `Environment.schedule` (so monitors that patch `schedule`, like
  benchmarks/run.py's event counter, still see every event).
* `after(env, delay, callback)` is `env.timeout(delay)` with `callback` already in its callbacks,
  in one call: how a worker's service, a poll batch or a timer is scheduled. It works on any
  `simpy.Environment`; on a `Clock` it is the fast path.
* `when(event, callback)` runs `callback(event)` when `event` is processed (SimPy's documented
  `event.callbacks` list, named here so every reach into events is in this module).
* `Timer(env, callback)` is one SimPy event a component re-arms for each of its timeouts in turn (a
  worker's services, a producer's arrivals): `timer.arm(delay)` is `after(env, delay, callback)`
  without building a new event, since SimPy's `step` only reads `callbacks` and `_ok` of the event it
  pops. The hottest paths inline `arm` (`timer.callbacks = timer.fire; schedule(timer, NORMAL,
  delay)`). A timer is armed at most once at a time; a component that must forget a pending one (a
  crash) replaces its timer, so the stale firing is recognised by identity, as with `after`.
* `Steps(env, generator)` runs a generator of events as `env.process(generator)` does, in the
  same order (an urgent first step; each next step when the yielded event is processed), without a
  `Process` event's bookkeeping per step; the generator may yield `steps.timer.arm(delay)`, a
  reused `Timer`, instead of a new `env.timeout(delay)`.
* `direct_queue(env)` gives SimPy's event queue and id counter when `env.schedule` is SimPy's own:
  the two hottest call sites (a producer's next arrival, a worker's next service) push
  `(now + delay, NORMAL, next(ids), timer)` onto the heap themselves, as `schedule` does, one Python
  call fewer per event. When a monitor has patched `schedule` they call it instead.
* `start_soon(env, callback)` calls `callback(event)` at the current time, before any event of
  normal priority: what `env.process(generator)`'s first step (SimPy's `Initialize`) does, so a
  component driven by callbacks starts in the same order a process would.

Components read `env.now`, so they also run on a plain `simpy.Environment` (unit tests build them
so), only slower. The internals relied on (`Environment._now`, `Environment.schedule`, the
attributes `Timeout.__init__` sets, `BoundClass.bind_early` reading only the instance's own class)
were checked against the SimPy versions in `CHECKED_SIMPY`; importing this module runs a
self-check and fails loudly, naming the SimPy version, if they no longer hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from heapq import heappush
from typing import TYPE_CHECKING, Any

import simpy
from simpy.core import BoundClass
from simpy.events import NORMAL, URGENT, AllOf, AnyOf, Event, Process, Timeout

__all__ = ["Clock", "after", "when", "Timer", "Steps", "start_soon", "direct_queue", "Callback", "CHECKED_SIMPY", "NORMAL"]

CHECKED_SIMPY = ("4.1.0", "4.1.1", "4.1.2")
"""SimPy versions whose `Environment` and `Timeout` internals this module was checked against."""

Callback = Callable[[Any], None]
"""What SimPy calls when an event is processed: `callback(event)`."""

_new_timeout = Timeout.__new__


class Clock(simpy.Environment):
    """A `simpy.Environment` whose `now` is a plain attribute and whose `timeout` takes one call.

    Drop-in: every SimPy process, event and resource works on it unchanged."""

    __slots__ = ("_now",)

    if not TYPE_CHECKING:  # (their types are Environment's)
        # `bind_early` binds only the BoundClass attributes of the instance's own class: restate
        # them here, or a subclass would pay a descriptor call on every `env.event()`.
        event = BoundClass(Event)
        process = BoundClass(Process)
        all_of = BoundClass(AllOf)
        any_of = BoundClass(AnyOf)

    def timeout(self, delay: float = 0, value: Any = None) -> Timeout:
        """The `simpy.Timeout` that `Environment.timeout(delay, value)` makes, built in one call."""
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        event = _new_timeout(Timeout)
        event.env = self
        event.callbacks = []
        event._value = value
        event._delay = delay
        event._ok = True
        self.schedule(event, NORMAL, delay)
        return event


# `now` is the slot that holds SimPy's `_now`, under its public name: reading it costs an attribute
# load, not a property call. (Writable, unlike SimPy's property; nothing in simbp writes it.)
setattr(Clock, "now", Clock.__dict__["_now"])  # noqa: B010


def after(env: simpy.Environment, delay: float, callback: Callback, *more: Callback) -> Timeout:
    """Call `callback(event)` (then each of `more`) `delay` seconds from now; returns the timeout.

    The same event as `env.timeout(delay)` plus `callbacks.append(callback)`, in one call."""
    if delay < 0:
        raise ValueError(f"Negative delay {delay}")
    event = _new_timeout(Timeout)
    event.env = env
    event.callbacks = [callback, *more] if more else [callback]
    event._value = None
    event._delay = delay
    event._ok = True
    env.schedule(event, NORMAL, delay)
    return event


def when(event: Event, callback: Callback) -> None:
    """Call `callback(event)` when `event` is processed (it must not have been processed yet)."""
    event.callbacks.append(callback)


class Timer(Event):
    """A reusable timeout: one SimPy event that calls `callback(self)` each time it is armed and fires.

    Between firings it is a processed event (`callbacks` is None); `arm(delay)` schedules it again."""

    def __init__(self, env: simpy.Environment, callback: Callback):
        self.env = env
        self.callbacks = None  # type: ignore[assignment]  # processed until armed
        self._value = None
        self._ok = True
        self.fire: list[Callback] = [callback]

    def arm(self, delay: float) -> "Timer":
        """Fire `delay` seconds from now (not armed already); returns the timer."""
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        self.callbacks = self.fire
        self.env.schedule(self, NORMAL, delay)
        return self


_SIMPY_SCHEDULE = simpy.Environment.schedule


def direct_queue(env: simpy.Environment) -> tuple[list[Any], Iterator[int]] | tuple[None, None]:
    """`(queue, ids)` of `env` when its `schedule` is SimPy's own, so that pushing
    `(now + delay, priority, next(ids), event)` onto `queue` with `heapq.heappush` is exactly what
    `env.schedule(event, priority, delay)` does, one Python call fewer; `(None, None)` when a monitor has
    patched `schedule` (benchmarks/run.py counts events so): then go through `env.schedule`."""
    if type(env).schedule is _SIMPY_SCHEDULE and "schedule" not in vars(env):
        return env._queue, env._eid
    return None, None


def start_soon(env: simpy.Environment, callback: Callback) -> Event:
    """Call `callback(event)` now, ahead of normal events: as a process's first step is scheduled."""
    event = Event(env)
    event.callbacks.append(callback)
    event._ok = True
    event._value = None
    env.schedule(event, URGENT)
    return event


class Steps:
    """A generator of SimPy events driven as a process: each step runs when the event it yielded is
    processed (at once if that event was processed already); a failed event is thrown into it."""

    def __init__(self, env: simpy.Environment, generator: Any):
        self._generator = generator
        self.timer = Timer(env, self._resume)
        start_soon(env, self._resume)

    def _resume(self, event: Any) -> None:
        generator = self._generator
        while True:
            try:
                if event._ok:
                    event = generator.send(event._value)
                else:
                    event._defused = True
                    event = generator.throw(event._value)
            except StopIteration:
                return
            if event is self.timer:  # armed: its callbacks are this method already
                return
            if event.callbacks is not None:
                event.callbacks.append(self._resume)
                return


def _self_check() -> None:
    """Fail at import, naming the SimPy version, if the internals above changed."""
    clock = Clock()
    fired: list[float] = []
    try:
        plain = simpy.Environment().timeout(1.5, "v")
        made = clock.timeout(1.5, "v")
        if vars(plain).keys() != vars(made).keys():
            raise AssertionError(f"Timeout attributes {sorted(vars(plain))} != {sorted(vars(made))}")
        after(clock, 2.0, lambda _event: fired.append(clock.now))
        when(clock.timeout(0.5), lambda _event: fired.append(clock.now))

        def ring(_event: Any) -> None:
            if clock.now > 1:
                fired.append(clock.now)
            else:
                timer.arm(1.0)

        timer = Timer(clock, ring)
        timer.arm(0.25)
        start_soon(clock, lambda _event: fired.append(-clock.now))

        def steps() -> Any:
            yield driven.timer.arm(0.125)
            fired.append(clock.now)
            yield clock.timeout(2.5)
            fired.append(clock.now)

        driven = Steps(clock, steps())
        pushed, scheduled = Clock(), Clock()
        queue, ids = direct_queue(pushed)
        assert queue is not None and ids is not None
        for delay in (0.5, 0.5, 0.0):
            heappush(queue, (pushed.now + delay, NORMAL, next(ids), Timer(pushed, print)))
            scheduled.schedule(Timer(scheduled, print), NORMAL, delay)
        if [entry[:3] for entry in pushed._queue] != [entry[:3] for entry in scheduled._queue]:
            raise AssertionError(f"pushed {pushed._queue} != scheduled {scheduled._queue}")
        clock.run(until=3.0)
        if fired != [-0.0, 0.125, 0.5, 1.25, 2.0, 2.625] or clock.now != 3.0 or clock._now != 3.0 or not made.processed:
            raise AssertionError(f"fired at {fired}, now {clock.now}")
    except Exception as error:  # pragma: no cover - only with an incompatible SimPy
        raise RuntimeError(f"simbp.exact.clock relies on SimPy internals checked against SimPy "
                           f"{', '.join(CHECKED_SIMPY)}; SimPy {simpy.__version__} differs: {error}") from error


_self_check()
