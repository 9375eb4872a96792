"""The engine's clock: SimPy's semantics kept exactly, with fewer calls.

`Clock` and `after` reach past SimPy's public API (simbp/exact/clock.py says which internals and
why); these tests hold that what they build is what SimPy builds, in the same order.
"""

from __future__ import annotations

from typing import Any

import pytest
import simpy

from simbp.exact.clock import Clock, after, when


def test_clock_timeout_is_the_timeout_simpy_builds() -> None:
    plain, clock = simpy.Environment(), Clock()
    expected, made = plain.timeout(2.5, value="v"), clock.timeout(2.5, value="v")
    assert type(made) is simpy.Timeout
    assert vars(made).keys() == vars(expected).keys()
    assert (made.value, made._delay, made.ok, made.callbacks) == ("v", 2.5, True, [])
    assert clock._queue[0][:3] == plain._queue[0][:3] == (2.5, 1, 0)  # time, NORMAL priority, first id
    with pytest.raises(ValueError, match="Negative delay"):
        clock.timeout(-1.0)
    with pytest.raises(ValueError, match="Negative delay"):
        after(clock, -1.0, print)


def test_now_is_simpys_time_as_a_plain_attribute() -> None:
    clock = Clock()
    assert clock.now == 0
    clock.run(until=3.25)
    assert clock.now == clock._now == 3.25
    assert type(Clock.__dict__["now"]).__name__ == "member_descriptor"  # a slot read, not a property call
    # SimPy's BoundClass attributes are bound on the instance, as simpy.Environment does for itself
    assert {"event", "process", "all_of", "any_of"} <= set(vars(clock))


def _trace(env: simpy.Environment, schedule: Any) -> list[tuple[float, str]]:
    """Ties at one instant: A (t=1), B (t=1, later), a process step at 1, C (t=0.5 → 1)."""
    log: list[tuple[float, str]] = []
    schedule(env, 1.0, lambda _e: log.append((env.now, "A")))
    schedule(env, 1.0, lambda _e: log.append((env.now, "B")))

    def process() -> Any:
        yield env.timeout(1.0)
        log.append((env.now, "process"))
        yield env.timeout(0.0)
        log.append((env.now, "process again"))

    env.process(process())
    schedule(env, 0.5, lambda _e: schedule(env, 0.5, lambda _e: log.append((env.now, "C"))))
    env.run()
    return log


def _plain(env: simpy.Environment, delay: float, callback: Any) -> None:
    env.timeout(delay).callbacks.append(callback)


def test_after_runs_callbacks_in_the_order_simpy_would() -> None:
    """At t=1, events run in the order they were scheduled: A, B, the process (scheduled at its
    start, after B), then C (scheduled at 0.5); the process's zero timeout comes last."""
    expected = [(1.0, "A"), (1.0, "B"), (1.0, "process"), (1.0, "C"), (1.0, "process again")]
    assert _trace(simpy.Environment(), _plain) == expected
    assert _trace(Clock(), after) == expected
    assert _trace(simpy.Environment(), after) == expected  # `after` works on any environment


def test_after_with_several_callbacks_and_when() -> None:
    clock = Clock()
    log: list[str] = []
    event = after(clock, 1.0, lambda _e: log.append("first"), lambda _e: log.append("second"))
    waited = clock.event()
    when(waited, lambda e: log.append(f"waited {e.value}"))

    def release(_event: Any) -> None:
        waited.succeed("x")

    when(event, release)
    clock.run()
    assert log == ["first", "second", "waited x"]
    assert clock.now == 1.0 and event.processed
