"""The theory bridge asks `simbp.semantics` which queueing model applies and refuses by name what
the table does not declare for theory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import simbp
from simbp import semantics
from simbp.planning.theory_bridge import TheoryPrediction, theory_prediction

SCENARIO = """\
name: toy
duration: 2s
producers:
  - {name: src, to: queue, arrivals: ARRIVALS}
buffers:
  - {name: queue, capacity: 10, policy: POLICY}
consumers:
  - {name: workers, from: queue, workers: 2, service: {dist: exponential, mean: 10ms}}
"""
POISSON = "{process: poisson, rate: 100/s}"


def _scenario(policy: str = "drop_newest", arrivals: str = POISSON) -> simbp.Scenario:
    return simbp.load_scenario(SCENARIO.replace("POLICY", policy).replace("ARRIVALS", arrivals))


@pytest.fixture
def policy_without_theory() -> Iterator[str]:
    semantics.register_policy(semantics.Policy(
        "drop_toy", "the arriving item is dropped", bounded=True, drops=True, blocks=False,
        exact="_put_drop_newest", theory=None))
    yield "drop_toy"
    semantics.unregister_policy("drop_toy")


def test_a_policy_declared_without_theory_is_refused_by_name(policy_without_theory: str) -> None:
    answer = theory_prediction(_scenario(policy_without_theory))
    assert isinstance(answer, str)
    assert "queueing theory cannot model buffer policy 'drop_toy'" in answer


def test_an_arrival_process_without_theory_is_refused_by_name() -> None:
    bursty = "{process: bursty, on: {rate: 300/s, duration: 1s}, off: {rate: 10/s, duration: 1s}}"
    answer = theory_prediction(_scenario(arrivals=bursty))
    assert isinstance(answer, str) and "arrival process 'bursty'" in answer


def test_the_model_is_the_one_the_table_declares() -> None:
    bounded = theory_prediction(_scenario("drop_newest"))
    assert isinstance(bounded, TheoryPrediction) and bounded.model == semantics.policy("drop_newest").theory
    assert bounded.system_capacity == 12 and bounded.exact
    unbounded = theory_prediction(simbp.load_scenario(
        SCENARIO.replace("capacity: 10, policy: POLICY", "policy: unbounded").replace("ARRIVALS", POISSON)))
    assert isinstance(unbounded, TheoryPrediction) and unbounded.model.startswith("M/M/c")
    assert unbounded.system_capacity is None
