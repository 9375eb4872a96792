"""RxJS operators: debounceTime, throttleTime, bufferTime, traced by hand on exact binary times."""

from __future__ import annotations

from typing import Any

import pytest
import simpy

import simbp
from simbp.exact.systems.operators import BufferTime, DebounceTime, Operator, ThrottleTime


def _drive(make: Any, pushes: list[float], until: float, complete_at: float | None = None) -> tuple[Operator, list[tuple[float, float]]]:
    """Push values created at the given times into an operator; record (emitted at, created)."""
    env = simpy.Environment()
    emitted: list[tuple[float, float]] = []
    operator = make(env, lambda created, size: emitted.append((env.now, created)))

    def source() -> Any:
        for at in pushes:
            yield env.timeout(at - env.now)
            operator.push(at, 1.0)
        if complete_at is not None:
            yield env.timeout(complete_at - env.now)
            operator.complete()

    env.process(source())
    env.run(until=until)
    return operator, emitted


def test_debounce_emits_only_after_quiet() -> None:
    """debounceTime(0.5): values at 0, 0.25, 0.5 then quiet: the one at 0.5 goes out at 1.0;
    a value at 2 goes out at 2.5; values at 3, 3.25 give 3.25 at 3.75."""
    operator, emitted = _drive(lambda env, emit: DebounceTime(env, emit, 0.5), [0, 0.25, 0.5, 2, 3, 3.25], until=10)
    assert emitted == [(1.0, 0.5), (2.5, 2.0), (3.75, 3.25)]
    assert operator.discarded == 3 and operator.emitted == 3 and operator.held() == 0
    assert operator.delay_max == pytest.approx(0.5) and operator.delay_sum == pytest.approx(1.5)


def test_debounce_never_emits_while_values_keep_coming() -> None:
    operator, emitted = _drive(lambda env, emit: DebounceTime(env, emit, 0.5), [i * 0.25 for i in range(40)], until=9.9)
    assert emitted == []
    assert operator.held() == 1 and operator.discarded == 39
    operator, emitted = _drive(lambda env, emit: DebounceTime(env, emit, 0.5), [0, 0.25], until=5, complete_at=0.375)
    assert emitted == [(0.375, 0.25)]  # completion flushes the pending value at once, as RxJS does


def test_throttle_emits_the_first_per_window() -> None:
    """throttleTime(0.25): 0 opens a window to 0.25; 0.125 is inside; 0.25 (the window has closed)
    opens one to 0.5; 0.375 is inside; 0.625 opens one to 0.875; 0.75 is inside."""
    operator, emitted = _drive(lambda env, emit: ThrottleTime(env, emit, 0.25), [0, 0.125, 0.25, 0.375, 0.625, 0.75], until=5)
    assert emitted == [(0, 0), (0.25, 0.25), (0.625, 0.625)]
    assert operator.discarded == 3 and operator.delay_max == 0.0


def test_buffer_time_emits_arrays_every_span() -> None:
    """bufferTime(1): arrays close at 1, 2, 3, 4 …; values at 0.25, 0.5 | 1.25 | 3.5."""
    operator, emitted = _drive(lambda env, emit: BufferTime(env, emit, 1.0, None, 0.0), [0.25, 0.5, 1.25, 3.5], until=10)
    assert emitted == [(1.0, 0.25), (1.0, 0.5), (2.0, 1.25), (4.0, 3.5)]
    assert operator.arrays == 3  # empty arrays carry no messages
    assert operator.delay_sum == pytest.approx(0.75 + 0.5 + 0.75 + 0.5)


def test_buffer_time_with_max_size_closes_early_and_reopens() -> None:
    """bufferTime(1, null, 2): 0.25, 0.5 fill it (emitted at 0.5); the next opens at 0.5 and
    closes at 1.5 with 0.75; then 1.75 waits for the array closing at 2.5."""
    operator, emitted = _drive(lambda env, emit: BufferTime(env, emit, 1.0, 2, 0.0), [0.25, 0.5, 0.75, 1.75], until=10)
    assert emitted == [(0.5, 0.25), (0.5, 0.5), (1.5, 0.75), (2.5, 1.75)]
    assert operator.largest_array == 2


def _piped(operators: str, rate: str = "4/s", duration: str = "10", stop: str = "") -> str:
    return f"""
name: piped
duration: {duration}
producers:
  - name: events
    to: queue
    arrivals: {{process: constant, rate: {rate}}}
    operators: {operators}
    {stop}
buffers:
  - name: queue
    capacity: 100
    policy: drop_newest
consumers:
  - name: handler
    from: queue
    service: 0.125
"""


def test_operators_in_a_scenario_count_discards_and_keep_conservation() -> None:
    """4 values a second through throttleTime(1 s): the first of each second passes, 3 are discarded."""
    summary = simbp.run(_piped("[{throttleTime: 1s}]")).summary
    events = summary["components"]["events"]
    assert summary["produced"] == 39  # 0.25 … 9.75
    assert summary["discarded"] == events["discarded_by"]["throttleTime"] == 39 - 10
    assert summary["consumed"] == 10
    assert summary["latency_s"]["max"] == pytest.approx(0.125)  # throttle adds nothing
    assert summary["produced"] == summary["consumed"] + summary["discarded"] + summary["in_flight_at_end"]
    assert summary["verdict"] == "healthy" and "discarded on purpose" in summary["verdict_reason"]


def test_debounce_latency_is_its_due_time_and_a_stop_flushes() -> None:
    """Values every 0.25 s until 2 s (stop) into debounceTime(0.5): the source completes at 2 s, which
    flushes the last value (1.75) at once, as RxJS does on completion."""
    summary = simbp.run(_piped("[{debounceTime: 500ms}]", stop="stop: 2s")).summary
    events = summary["components"]["events"]
    assert summary["produced"] == 7  # 0.25 … 1.75
    assert summary["consumed"] == 1 and summary["discarded"] == 6
    assert events["operators"]["debounceTime"]["added_latency_s"]["max"] == pytest.approx(0.25)  # flushed at 2 s
    assert summary["latency_s"]["max"] == pytest.approx(0.25 + 0.125)


def test_chained_operators_apply_in_order() -> None:
    """throttleTime(1 s) then bufferTime(2 s): values pass at 0.25, 1.25, … 9.25 and leave in arrays
    of two at 2, 4, 6, 8 s; the array closing at 10 s (the end of the run) is still held."""
    summary = simbp.run(_piped("[{throttleTime: 1s}, {bufferTime: 2s}]")).summary
    stages = summary["components"]["events"]["operators"]
    assert list(stages) == ["throttleTime", "bufferTime"]
    assert stages["throttleTime"]["emitted"] == stages["bufferTime"]["received"] == 10
    assert stages["bufferTime"]["arrays"] == 4 and stages["bufferTime"]["mean_array_size"] == 2
    assert summary["consumed"] == 8 and summary["discarded"] == 29 and summary["in_flight_at_end"] == 2


def test_operators_are_built_from_the_registry_and_an_unknown_one_fails_by_name() -> None:
    """Every operator the schema accepts has a class in `OPERATORS`; a name it lacks is refused."""
    from types import SimpleNamespace

    from simbp.exact.systems.operators import OPERATORS, build_chain
    from simbp.scenario.systems import BufferTimeSpec, OperatorSpec
    from simbp.semantics import NotModelled

    env = simpy.Environment()
    specs = [OperatorSpec(debounceTime=0.5), OperatorSpec(throttleTime=1.0), OperatorSpec(bufferTime=BufferTimeSpec(duration=2.0, max_size=3))]
    chain = build_chain(env, specs, lambda created, size: None)
    assert [type(stage) for stage in chain] == [DebounceTime, ThrottleTime, BufferTime]
    assert set(OPERATORS) == {"debounceTime", "throttleTime", "bufferTime"}
    assert (chain[0].due, chain[1].duration, chain[2].span, chain[2].max_size) == (0.5, 1.0, 2.0, 3)  # type: ignore[attr-defined]
    with pytest.raises(NotModelled, match="exact mode cannot model RxJS operator 'auditTime'"):
        build_chain(env, [SimpleNamespace(kind="auditTime", auditTime=1.0)], lambda created, size: None)  # type: ignore[list-item]
