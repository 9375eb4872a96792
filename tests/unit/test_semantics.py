"""The semantics table: one declaration per policy, read by the schema and every engine.

A new policy registered in one place is accepted by the schema and run by exact mode; fast mode
and theory refuse it by name until they learn it; an undeclared name fails loudly everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import simbp
from simbp import semantics
from simbp.exact.buffer import DROPPED

SCENARIO = """
name: drop_when_even
duration: 20s
seed: 3
producers:
  - {name: src, to: queue, arrivals: {process: constant, rate: 100/s}}
buffers:
  - {name: queue, capacity: 5, policy: POLICY}
consumers:
  - {name: workers, from: queue, workers: 1, service: {dist: constant, value: 20ms}}
"""


def _drop_when_full(buffer: Any, created: float, size: float) -> int:
    """A policy written outside the package: hand over to an idle worker, else drop when full."""
    if buffer.idle:
        return buffer._handoff(created, size)
    if buffer.depth >= buffer.capacity:
        buffer.dropped += 1
        return DROPPED
    return buffer._enqueue(created, size)


@pytest.fixture
def toy_policy() -> Iterator[str]:
    semantics.register_policy(semantics.Policy(
        "drop_toy", "the arriving item is dropped", bounded=True, drops=True, blocks=False, exact=_drop_when_full))
    yield "drop_toy"
    semantics.unregister_policy("drop_toy")


def test_one_registration_is_enough_for_the_schema_and_exact_mode(toy_policy: str) -> None:
    scenario = simbp.load_scenario(SCENARIO.replace("POLICY", toy_policy))
    summary = simbp.run(scenario, mode="exact").summary
    # 100/s against 50/s of service: half the arrivals are lost, and conservation holds
    assert summary["dropped"] > 0.4 * summary["produced"]
    assert summary["produced"] == summary["consumed"] + summary["dropped"] + summary["in_flight_at_end"]
    same = simbp.run(SCENARIO.replace("POLICY", "drop_newest"), mode="exact").summary
    assert summary["dropped"] == same["dropped"]  # the toy behaves as drop_newest here


def test_fast_mode_refuses_an_unlearned_policy_by_name(toy_policy: str) -> None:
    scenario = simbp.load_scenario(SCENARIO.replace("POLICY", toy_policy))
    with pytest.raises(simbp.ScenarioError) as error:
        simbp.run(scenario, mode="fast")
    assert "drop_toy" in str(error.value) and "buffers[0].policy" in str(error.value)
    assert simbp.run(scenario, mode="auto").summary["mode"] == "exact"
    with pytest.raises(semantics.NotModelled, match="drop_toy"):
        semantics.policy(toy_policy, "fast")
    with pytest.raises(semantics.NotModelled, match="queueing theory cannot model buffer policy 'drop_toy'"):
        semantics.policy(toy_policy, "theory")


def test_an_undeclared_policy_fails_loudly_everywhere() -> None:
    with pytest.raises(simbp.ScenarioError) as error:
        simbp.load_scenario(SCENARIO.replace("POLICY", "drop_random"))
    assert "drop_random" in str(error.value) and "drop_oldest" in str(error.value)
    with pytest.raises(semantics.UnknownSemantics, match="drop_random"):
        semantics.policy("drop_random")
    with pytest.raises(semantics.UnknownSemantics, match="weibull"):
        semantics.arrival_process("weibull")


def test_every_declared_policy_has_an_exact_hook_and_fast_rule() -> None:
    from simbp.exact.buffer import Buffer

    for entry in semantics.POLICIES.values():
        assert callable(entry.exact) or hasattr(Buffer, entry.exact), entry.name
        assert entry.fast in semantics.FAST_POLICY_RULES, entry.name
        assert entry.bounded == (entry.name != "unbounded")
    for process in ("constant", "poisson", "bursty", "schedule", "trace"):
        assert semantics.arrival_process(process).exact == process


def test_planning_asks_the_table_whether_a_load_settles(monkeypatch: pytest.MonkeyPatch) -> None:
    """`changing_load` (planning's steady-state gate) reads each process's `stationary` entry:
    declaring evenly spaced arrivals as never settling is enough for planning to refuse them."""
    from dataclasses import replace

    from simbp.planning.steady import changing_load

    scenario = simbp.load_scenario(SCENARIO.replace("POLICY", "drop_newest"))
    assert changing_load(scenario) == ""
    monkeypatch.setitem(semantics.ARRIVALS, "constant", replace(
        semantics.ARRIVALS["constant"], stationary="never", unsteady="ticks on a clock that drifts"))
    assert changing_load(scenario) == "producer 'src' ticks on a clock that drifts"
    schedule = simbp.load_scenario(SCENARIO.replace("POLICY", "drop_newest").replace(
        "{process: constant, rate: 100/s}", "{process: schedule, points: [{at: 0, rate: 100/s}, {at: 10s, rate: 50/s}]}"))
    assert "schedule that does not repeat" in changing_load(schedule)
