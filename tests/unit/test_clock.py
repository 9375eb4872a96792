"""The engine's clock: SimPy's semantics kept exactly, with fewer calls.

`Clock` and `after` reach past SimPy's public API (simbp/exact/clock.py says which internals and
why); these tests hold that what they build is what SimPy builds, in the same order.
"""

from __future__ import annotations

from typing import Any

import pytest
import simpy

from simbp.exact.clock import Clock, Steps, Timer, after, direct_queue, start_soon, when


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


def _timer_trace(env: simpy.Environment, use_timer: bool) -> list[tuple[float, str]]:
    """A component re-arming one timeout after another, with ties against other events and a
    process: a `Timer` must fire in the order fresh timeouts from `after` fire."""
    log: list[tuple[float, str]] = []
    delays = iter([0.0, 0.5, 0.5])

    def fired(_event: Any) -> None:
        log.append((env.now, "timer"))
        arm(next(delays, None))

    timer = Timer(env, fired)

    def arm(delay: float | None) -> None:
        if delay is None:
            return
        if use_timer:
            timer.arm(delay)
        else:
            after(env, delay, fired)

    def process() -> Any:
        yield env.timeout(1.0)
        log.append((env.now, "process"))
        yield env.timeout(0.5)
        log.append((env.now, "process again"))

    if use_timer:
        start_soon(env, lambda _e: arm(1.0))
    else:
        env.process(_starter(env, lambda: arm(1.0)))
    env.process(process())
    after(env, 1.0, lambda _e: log.append((env.now, "A")))
    after(env, 1.5, lambda _e: log.append((env.now, "B")))
    env.run()
    return log


def _starter(env: simpy.Environment, begin: Any) -> Any:
    begin()
    return
    yield  # a generator: a process whose first step calls `begin`


def test_a_timer_fires_in_the_order_fresh_timeouts_would() -> None:
    expected = _timer_trace(Clock(), use_timer=False)
    # at 1.0: A (scheduled before the run), the timer (armed at the start, before the process's first
    # timeout), the process, the timer re-armed with 0; at 1.5: B, the process, then the timer
    assert expected == [(1.0, "A"), (1.0, "timer"), (1.0, "process"), (1.0, "timer"), (1.5, "B"),
                        (1.5, "process again"), (1.5, "timer"), (2.0, "timer")]
    assert _timer_trace(Clock(), use_timer=True) == expected
    assert _timer_trace(simpy.Environment(), use_timer=True) == expected


def test_a_timer_is_a_processed_event_between_firings_and_rejects_negative_delays() -> None:
    clock = Clock()
    timer = Timer(clock, lambda _e: None)
    assert timer.processed and timer.triggered and timer.ok
    assert timer.arm(2.0) is timer and not timer.processed
    clock.run()
    assert timer.processed and clock.now == 2.0
    with pytest.raises(ValueError, match="Negative delay"):
        timer.arm(-1.0)


def _steps_trace(env: simpy.Environment, driven: bool) -> list[tuple[float, str]]:
    """A generator stepped by `Steps` (yielding its reused timer, fresh timeouts, an event another
    callback succeeds, and one already processed) runs in the order `env.process` runs it."""
    log: list[tuple[float, str]] = []
    signal = env.event()
    early = env.event()
    early.succeed("early")
    steps: Any = None

    def wait(delay: float) -> Any:
        return steps.timer.arm(delay) if driven else env.timeout(delay)

    def body() -> Any:
        log.append((env.now, "start"))
        yield wait(1.0)
        log.append((env.now, "arrival"))
        value = yield signal
        log.append((env.now, f"signalled {value}"))
        value = yield early
        log.append((env.now, f"already {value}"))
        yield env.timeout(0.5)
        log.append((env.now, "timeout"))
        yield wait(0.0)
        log.append((env.now, "end"))

    after(env, 1.0, lambda _e: log.append((env.now, "A")))
    if driven:
        steps = Steps(env, body())
    else:
        env.process(body())
    after(env, 1.0, lambda _e: log.append((env.now, "B")))
    def send_signal(_event: Any) -> None:
        signal.succeed("yes")

    after(env, 1.5, send_signal)
    after(env, 2.0, lambda _e: log.append((env.now, "C")))
    env.run()
    return log


def test_steps_drive_a_generator_in_the_order_a_process_would() -> None:
    expected = _steps_trace(Clock(), driven=False)
    assert expected == [(0.0, "start"), (1.0, "A"), (1.0, "B"), (1.0, "arrival"), (1.5, "signalled yes"),
                        (1.5, "already early"), (2.0, "C"), (2.0, "timeout"), (2.0, "end")]
    assert _steps_trace(Clock(), driven=True) == expected


_SMALL = """
name: small
duration: 20
producers: [{name: web, to: queue, arrivals: {process: poisson, rate: 400}}]
buffers: [{name: queue, capacity: 20, policy: drop_newest}]
consumers: [{name: workers, from: queue, workers: 2, service: {dist: exponential, mean: 0.0045}}]
"""


def test_a_patched_schedule_sees_every_event_and_the_results_stay_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot paths push onto SimPy's queue themselves only while `schedule` is SimPy's own; a
    monitor patching it (benchmarks/run.py counts events so) sees two events per message, and the
    run is the same either way."""
    import simbp

    queue, ids = direct_queue(Clock())
    assert queue is not None and ids is not None
    plain = simbp.run(_SMALL, seed=4, mode="exact")
    original = simpy.Environment.schedule
    count = [0]

    def counting(self: simpy.Environment, event: Any, priority: Any = 1, delay: float = 0) -> None:
        count[0] += 1
        original(self, event, priority, delay)

    monkeypatch.setattr(simpy.Environment, "schedule", counting)
    assert direct_queue(Clock()) == (None, None)
    counted = simbp.run(_SMALL, seed=4, mode="exact")
    assert counted.to_json() == plain.to_json()
    assert counted.timeseries.equals(plain.timeseries)
    # one event per arrival and one per service, plus a few hundred others (200 samples, 100 progress steps)
    per_message = plain.summary["produced"] + plain.summary["components"]["workers"]["processed"]
    assert per_message > 14000 and per_message <= count[0] <= per_message + 1000
