"""Downstream services and semaphores: the overload model, permits, timeouts and retries."""

from __future__ import annotations

from itertools import repeat

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

import simbp
from simbp.exact.model import Model
from simbp.exact.systems.downstream import Downstream, Semaphore
from simbp.scenario import DownstreamSpec


def _downstream(**overrides: object) -> tuple[simpy.Environment, Downstream]:
    env = simpy.Environment()
    fields = {"name": "db", "capacity": 2, "latency": 0.01, "error_rate": 0.1,
              "overload": {"slowdown": 0.5, "error_rate": 0.2}, "max_error_rate": 0.4}
    fields.update(overrides)
    spec = DownstreamSpec.model_validate(fields)
    uniforms = iter([0.05, 0.15, 0.35, 0.39, 0.41])
    return env, Downstream(env, spec, repeat(0.01), uniforms)


def test_latency_and_errors_grow_with_calls_beyond_capacity() -> None:
    """Capacity 2, latency 10 ms, slowdown 0.5, errors 10% + 20% per excess call, at most 40%.

    Calls start with 1, 2, 3, 4, 5 in flight: latency ×1, ×1, ×1.5, ×2, ×2.5; error probability
    0.1, 0.1, 0.3, 0.4 (capped), 0.4. The draws 0.05, 0.15, 0.35, 0.39, 0.41 fail calls 1 and 4.
    """
    _, downstream = _downstream()
    results = [downstream.begin() for _ in range(5)]
    assert [round(latency, 9) for latency, _ in results] == [0.01, 0.01, 0.015, 0.02, 0.025]
    assert [failed for _, failed in results] == [True, False, False, True, False]
    assert downstream.in_flight == 5 and downstream.peak_in_flight == 5 and downstream.errors == 2
    downstream.end()
    assert downstream.in_flight == 4


def test_semaphore_hands_permits_over_in_order() -> None:
    semaphore = Semaphore(2)
    granted: list[str] = []

    class Waiter:
        def __init__(self, name: str):
            self.name = name

        def permit_granted(self) -> None:
            granted.append(self.name)

    assert semaphore.acquire(Waiter("a")) and semaphore.acquire(Waiter("b"))
    assert not semaphore.acquire(Waiter("c")) and not semaphore.acquire(Waiter("d"))
    assert semaphore.in_use == 2
    semaphore.release()
    assert granted == ["c"] and semaphore.in_use == 2
    semaphore.release()
    semaphore.release()
    assert granted == ["c", "d"] and semaphore.in_use == 1
    assert semaphore.peak_in_use == 2


def _calls(semaphore: str = "", extra: str = "", rate: str = "4/s", latency: str = "1s", workers: int = 2,
           duration: str = "0.6", overload: str = "") -> str:
    return f"""
name: calls
duration: {duration}
producers:
  - name: api
    to: requests
    arrivals: {{process: constant, rate: {rate}}}
buffers:
  - name: requests
    capacity: 1000
    policy: drop_newest
consumers:
  - name: handlers
    from: requests
    workers: {workers}
    service: 0
    calls: {{downstream: db{semaphore}{extra}}}
downstreams:
  - name: db
    capacity: 1
    latency: {latency}
{overload}
"""


def test_a_call_waits_for_a_permit() -> None:
    """Semaphore(1), two workers, calls of 1 s, requests every 0.25 s from 0.25 s.

    0.25: worker A calls (→ 1.25). 0.5: worker B waits for the permit. 1.25: A's call ends, the
    permit passes to B (waited 0.75 s, call → 2.25); A finishes request 1 (latency 1 s), takes
    request 3 and waits. 2.25: B's call ends, A gets the permit (waited 1 s); B finishes request 2
    (latency 1.75 s). By 2.3 s: two consumed, never more than one call in flight.
    """
    summary = simbp.run(_calls(", semaphore: 1", duration="2.3")).summary
    handlers, db = summary["components"]["handlers"], summary["components"]["db"]
    assert summary["consumed"] == 2
    assert summary["latency_s"]["max"] == pytest.approx(1.75)
    assert summary["latency_s"]["mean"] == pytest.approx((1.0 + 1.75) / 2)
    assert db["peak_in_flight"] == 1 and db["calls"] == 3
    assert handlers["semaphore"]["peak_in_use"] == 1
    assert handlers["semaphore"]["waits"] == 3  # B at 0.5, A at 1.25, B at 2.25 (still waiting)
    assert handlers["semaphore"]["mean_wait_s"] == pytest.approx((0.75 + 1.0) / 2)


def test_without_a_semaphore_every_request_calls_at_once() -> None:
    summary = simbp.run(_calls(duration="0.6", workers=3)).summary
    assert summary["components"]["db"]["peak_in_flight"] == 2  # calls at 0.25 and 0.5, each of 1 s


def test_failed_calls_are_retried_then_counted_as_failed() -> None:
    """Every call fails (error rate 1): each message makes 1 + 2 calls of 1 s, 0.5 s apart, then fails.

    Messages at 1 … 9 s; message k calls at k, k + 1.5, k + 3 and fails at k + 4: those at 1 … 5
    fail before 10 s. Calls started: 3 each for k ≤ 6, 2 for k = 7, 8 and 1 for k = 9: 23.
    """
    text = _calls(extra=", retries: 2, backoff: 0.5s", duration="10", rate="1/s", workers=5,
                  overload="    error_rate: 1.0")
    summary = simbp.run(text).summary
    handlers = summary["components"]["handlers"]
    # messages at 1 … 9; message k fails at k + 1 + 0.5 + 1 + 0.5 + 1 = k + 4: those at 1 … 5 by 10 s
    assert summary["failed"] == 5 and handlers["failed"] == 5
    assert summary["consumed"] == 0
    assert summary["components"]["db"]["calls"] == 23
    assert handlers["call_retries"] == 23 - 9
    assert handlers["call_errors"] == 5 * 3 + 2 + 2 + 1  # k = 6, 7: errors at k+1, k+2.5; k = 8 at 9 s
    assert summary["produced"] == summary["failed"] + summary["in_flight_at_end"] + summary["dropped"]
    assert summary["verdict"] == "dropping"


def test_a_caller_timeout_fails_the_call_but_the_downstream_keeps_working() -> None:
    """Calls of 2 s with a 0.5 s timeout: the request at 1 s gives up at 1.5 s, its call runs to 3 s."""
    text = _calls(extra=", timeout: 0.5s", latency="2s", duration="1.75", rate="1/s", workers=2)
    model = Model(simbp.load_scenario(text)).run()
    handlers = model.groups["handlers"]
    assert handlers.failed == 1 and handlers.call_timeouts == 1
    assert model.systems.downstreams["db"].in_flight == 1
    assert model.systems.downstreams["db"].abandoned == 1


def test_without_the_cap_latency_and_errors_grow() -> None:
    """The library pair: same load, same seed; only the semaphore differs."""
    without = simbp.load_scenario("scenarios/downstream_without_semaphore.yaml")
    without_cap = simbp.run(without.with_changes({"duration": 20})).summary
    capped = simbp.run(simbp.load_scenario("scenarios/downstream_with_semaphore.yaml").with_changes({"duration": 20})).summary
    assert capped["components"]["db"]["peak_in_flight"] <= 10
    assert capped["components"]["db"]["call_latency_s"]["mean"] < 0.03
    assert without_cap["components"]["db"]["call_latency_s"]["mean"] > 10 * capped["components"]["db"]["call_latency_s"]["mean"]
    assert without_cap["components"]["db"]["error_ratio"] > 0.2 > capped["components"]["db"]["error_ratio"]
    assert without_cap["failed"] > 0 == capped["failed"]


@settings(max_examples=12, deadline=None)
@given(permits=st.integers(1, 12), workers=st.integers(1, 40), rate=st.integers(20, 600), seed=st.integers(0, 10_000),
       limit_kib=st.sampled_from([None, 40, 200]))
def test_semaphore_never_exceeds_its_permits_and_conservation_holds(permits: int, workers: int, rate: int, seed: int,
                                                                    limit_kib: int | None) -> None:
    memory = f"memory: {{limit: {limit_kib}KiB, restart_after: 0.5s}}" if limit_kib else ""
    text = f"""
name: prop
duration: 4s
seed: {seed}
{memory}
producers:
  - name: api
    to: requests
    arrivals: {{process: poisson, rate: {rate}/s}}
    size: 1KiB
buffers:
  - name: requests
    capacity: 100
    policy: drop_oldest
consumers:
  - name: handlers
    from: requests
    workers: {workers}
    service: {{dist: exponential, mean: 1ms}}
    calls: {{downstream: db, semaphore: {permits}, retries: 1, timeout: 80ms}}
downstreams:
  - name: db
    capacity: 4
    latency: {{dist: exponential, mean: 20ms}}
    error_rate: 0.05
    overload: {{slowdown: 0.3, error_rate: 0.05}}
"""
    summary = simbp.run(text).summary
    handlers = summary["components"]["handlers"]
    assert handlers["semaphore"]["peak_in_use"] <= permits
    accounted = (summary["consumed"] + summary["dropped"] + summary["timed_out"] + summary["lost_in_crash"]
                 + summary["discarded"] + summary["failed"] + summary["in_flight_at_end"])
    assert summary["produced"] == accounted
