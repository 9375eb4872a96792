"""Calls that interact in fast mode (`simbp/fast/systems/permits.py`): behind a semaphore, and to a
downstream that degrades in overload, each against replications of exact mode.

As in tests/fast/test_fast_systems.py, fast mode's mean over the seeds must lie within exact mode's
99.9% interval widened by the stated bound (`simbp.fast.accuracy`):

    |fast mean − exact mean| ≤ Z · √(se_fast² + se_exact²) + bound.tolerance(exact mean),   Z = 3.29

The loads are ρ = 0.7, 0.9 and 1.3 of the permits' (or the downstream's) capacity, 500 calls a second.
"""

from __future__ import annotations

from typing import Any

import pytest
from repo import ROOT
from test_fast_systems import Case, Figure, _db, _holds, _latency, _loss, _per_message

import simbp
from simbp.fast.accuracy import (
    CALL_LATENCY,
    CALLS,
    LATENCY_MEAN,
    LATENCY_P99,
    LOSS_RATIO,
    OVERLOAD,
    PERMIT_WAITS,
    THROUGHPUT,
    UTILISATION,
)
from simbp.fast.model import unsupported
from simbp.limits import choose_mode

PERMITS = """
name: permits
duration: DURATION
sample_interval: 1
producers: [{name: api, to: requests, arrivals: {process: poisson, rate: RATE}}]
buffers: [{name: requests, capacity: CAPACITY, policy: drop_newest}]
consumers: [{name: handlers, from: requests, workers: WORKERS, service: {dist: exponential, mean: 1ms}, calls: CALLS}]
downstreams: [{name: db, capacity: 10, latency: {dist: exponential, mean: 20ms}, error_rate: ERROR, OVERLOAD}]
"""
SEMAPHORE = "{downstream: db, semaphore: 10}"
RETRYING = "{downstream: db, semaphore: 10, timeout: 50ms, retries: 2, backoff: 10ms}"
MILD = "overload: {slowdown: 0.05, error_rate: 0.002}, max_error_rate: 0.5"
COLLAPSE = "overload: {slowdown: 0.2, error_rate: 0.01}, max_error_rate: 0.5"
NONE = "overload: {}"

SEMAPHORE_CASES = {  # name: (rate, calls, error rate, overload, duration, quantum)
    "semaphore, rho 0.7": (350, SEMAPHORE, 0.0, NONE, 20, 0.005),
    "semaphore, rho 0.9": (450, SEMAPHORE, 0.0, NONE, 20, 0.005),
    "semaphore, rho 1.3 (the permit queue and the buffer full)": (650, SEMAPHORE, 0.0, NONE, 20, 0.005),
    "semaphore, errors, timeouts and retries, rho 0.9": (400, RETRYING, 0.05, NONE, 20, 0.005),
}
OVERLOAD_CASES = {
    "degrading downstream, rho 0.7": (350, "{downstream: db}", 0.0, MILD, 20, 0.005),
    "degrading downstream, rho 0.9": (450, "{downstream: db}", 0.0, MILD, 20, 0.005),
    "degrading downstream, rho 1.3 (past the knee)": (650, "{downstream: db}", 0.0, MILD, 20, 0.005),
    "degrading downstream behind a semaphore, rho 1.3": (650, "{downstream: db, semaphore: 15}", 0.0, MILD, 20, 0.005),
}


FORWARDING = """
name: forwarding
duration: 12
sample_interval: 1
producers: [{name: api, to: requests, arrivals: {process: poisson, rate: RATE}}]
buffers: [{name: requests, capacity: 200, policy: drop_newest}, {name: results, capacity: 50, policy: POLICY}]
consumers:
  - {name: handlers, from: requests, to: results, workers: 20, service: {dist: exponential, mean: 1ms}, calls: {downstream: db}}
  - {name: writers, from: results, workers: 2, service: {dist: exponential, mean: 2ms}}
downstreams: [{name: db, capacity: 10, latency: {dist: exponential, mean: 20ms}}]
"""
FORWARDING_CASES = {  # name: (rate, policy of the next stage's buffer, quantum)
    "forwarding into a drop_newest stage, rho 0.9 at the writers": (900, "drop_newest", 0.005),
    "forwarding into a block stage that pushes back, rho 1.3 at the writers": (1300, "block", 0.005),
}


def permits_scenario(rate: float, calls: str, error: float, overload: str, duration: float, workers: int = 40,
                     capacity: int = 200) -> simbp.Scenario:
    body = (PERMITS.replace("DURATION", str(duration)).replace("RATE", str(rate)).replace("CALLS", calls)
            .replace("ERROR", str(error)).replace("OVERLOAD", overload).replace("WORKERS", str(workers))
            .replace("CAPACITY", str(capacity)))
    return simbp.load_scenario(body)


def _throughput(summary: dict[str, Any]) -> float:
    return summary["consumed"] / summary["duration_s"]


def _handlers(figure: str, inner: str = "") -> Figure:
    def value(summary: dict[str, Any]) -> float:
        entry = summary["components"]["handlers"][figure]
        return float(entry[inner] if inner else entry)
    return value


def _common() -> list[tuple[str, Figure, Any]]:
    return [("throughput", _throughput, THROUGHPUT), ("loss ratio", _loss, LOSS_RATIO),
            ("latency mean", _latency("mean"), LATENCY_MEAN), ("latency p99", _latency("p99"), LATENCY_P99),
            ("utilisation", _handlers("utilisation"), UTILISATION),
            ("call latency mean", _db("call_latency_s", "mean"), CALL_LATENCY),
            ("calls in flight (mean)", _db("mean_in_flight"), CALL_LATENCY)]


def semaphore_case(name: str) -> Case:
    rate, calls, error, overload, duration, quantum = SEMAPHORE_CASES[name]
    checks = _common() + [("mean wait for a permit", _handlers("semaphore", "mean_wait_s"), PERMIT_WAITS)]
    if error:
        checks += [("call error ratio", _db("error_ratio"), CALLS), ("failed per message", _per_message("failed"), CALLS),
                   ("retried calls per message", _per_message("call_retries"), CALLS)]
    return Case("calls behind a semaphore", name, permits_scenario(rate, calls, error, overload, duration), quantum, checks,
                range(1, 5))


def overload_case(name: str) -> Case:
    rate, calls, error, overload, duration, quantum = OVERLOAD_CASES[name]
    checks = _common() + [("call error ratio", _db("error_ratio"), OVERLOAD),
                          ("failed per message", _per_message("failed"), OVERLOAD),
                          ("call latency p99", _db("call_latency_s", "p99"), OVERLOAD)]
    return Case("downstreams degrading in overload", name, permits_scenario(rate, calls, error, overload, duration), quantum,
                checks, range(1, 5))


def forwarding_case(name: str) -> Case:
    rate, policy, quantum = FORWARDING_CASES[name]
    scenario = simbp.load_scenario(FORWARDING.replace("RATE", str(rate)).replace("POLICY", policy))
    checks = [("throughput", _throughput, THROUGHPUT), ("loss ratio", _loss, LOSS_RATIO),
              ("latency mean", _latency("mean"), LATENCY_MEAN), ("latency p99", _latency("p99"), LATENCY_P99),
              ("utilisation", _handlers("utilisation"), UTILISATION),
              ("calls in flight (mean)", _db("mean_in_flight"), CALL_LATENCY)]
    return Case("calling consumers forwarding (to:)", name, scenario, quantum, checks, range(1, 5))


def mechanism_cases() -> list[Case]:
    """Every comparison here, for `benchmarks/fast_error.py --systems` (the table in docs/performance.md)."""
    return ([semaphore_case(n) for n in SEMAPHORE_CASES] + [overload_case(n) for n in OVERLOAD_CASES]
            + [forwarding_case(n) for n in FORWARDING_CASES])


@pytest.mark.parametrize("name", list(SEMAPHORE_CASES))
def test_calls_behind_a_semaphore_within_the_stated_bounds(name: str) -> None:
    _holds(semaphore_case(name))


@pytest.mark.parametrize("name", list(FORWARDING_CASES))
def test_calling_consumers_forwarding_within_the_stated_bounds(name: str) -> None:
    _holds(forwarding_case(name))


@pytest.mark.parametrize("name", list(OVERLOAD_CASES))
def test_degrading_downstreams_within_the_stated_bounds(name: str) -> None:
    _holds(overload_case(name))


def test_the_library_scenarios_say_what_fast_mode_does_with_them() -> None:
    """The semaphore in front of a database runs in fast mode; the same database without it can
    collapse, which fast mode leaves to exact mode, naming why."""
    assert not unsupported(simbp.load_scenario(ROOT / "scenarios" / "downstream_with_semaphore.yaml"))
    missing = unsupported(simbp.load_scenario(ROOT / "scenarios" / "downstream_without_semaphore.yaml"))
    assert len(missing) == 1 and missing[0].startswith("consumers[0].calls") and "congestion collapse" in missing[0]
    collapsing = permits_scenario(650, "{downstream: db}", 0.0, COLLAPSE, 36_000)
    mode, reason = choose_mode(collapsing, "auto")
    assert mode == "exact" and "congestion collapse" in reason
    capped = permits_scenario(650, "{downstream: db, semaphore: 10}", 0.0, COLLAPSE, 36_000)
    assert not unsupported(capped)  # a semaphore at the capacity keeps the calls under the knee


def test_auto_runs_calls_that_interact_fast_where_it_repays() -> None:
    """An hour at 9,000 calls a second behind a semaphore, or to a degrading downstream, runs in fast mode
    and `mode_reason` names the mechanism; 100 calls a second for six hours (2.2 million messages) costs
    fast mode more per quantum than it saves, so exact mode, and auto says so."""
    for calls, overload, named in (("{downstream: db, semaphore: 200}", NONE, "calls behind a semaphore"),
                                   ("{downstream: db}", MILD, "downstreams degrading in overload")):
        scenario = permits_scenario(9000, calls, 0.0, overload, 3600, workers=1000, capacity=20_000)
        mode, reason = choose_mode(scenario.with_changes({"downstreams": [{"name": "db", "capacity": 200,
                                                                          "latency": "20ms"}]}) if overload == NONE
                                   else scenario, "auto")
        assert mode == "fast" and named in reason, reason
    mode, reason = choose_mode(permits_scenario(100, SEMAPHORE, 0.0, NONE, 6 * 3600), "auto")
    assert mode == "exact" and "does not repay" in reason, reason


@pytest.mark.parametrize("calls, overload", [(RETRYING, NONE), ("{downstream: db}", MILD)])
def test_results_have_exact_modes_shape_and_report_their_bounds(calls: str, overload: str) -> None:
    scenario = permits_scenario(400, calls, 0.05, overload, 5)
    exact, fast = simbp.run(scenario, mode="exact"), simbp.run(scenario, mode="fast")
    assert set(fast.summary) - {"quantum_s", "fast_error"} == set(exact.summary)
    for component, figures in exact.summary["components"].items():
        assert set(fast.summary["components"][component]) == set(figures), component
    assert list(fast.timeseries.columns) == list(exact.timeseries.columns)
    bounds = fast.summary["fast_error"]
    if "semaphore" in calls:
        assert bounds["permit_waits_rel"] == PERMIT_WAITS.relative and "overload_rel" not in bounds
        assert fast.summary["components"]["handlers"]["semaphore"]["peak_in_use"] == 10
        # calls given up on (timeout) keep the downstream busy past the permits, in both modes
        assert fast.summary["components"]["db"]["peak_in_flight"] > 10 and exact.summary["components"]["db"]["peak_in_flight"] > 10
        capped = simbp.run(permits_scenario(650, SEMAPHORE, 0.0, NONE, 5), mode="fast").summary["components"]["db"]
        assert capped["peak_in_flight"] == 10 and max(simbp.run(permits_scenario(650, SEMAPHORE, 0.0, NONE, 5), mode="fast")
                                                      .timeseries["db.in_flight"]) == 10
    else:
        assert bounds["overload_rel"] == OVERLOAD.relative and "permit_waits_rel" not in bounds


@pytest.mark.parametrize("calls, overload", [(RETRYING, NONE), ("{downstream: db}", MILD)])
def test_conservation_holds_through_crashes_and_restarts(calls: str, overload: str) -> None:
    """produced = consumed + dropped + timed_out + lost_in_crash + discarded + failed + in flight, also
    when the service crashes (losing what its workers hold: in their own service, waiting for a permit,
    in a call or backing off) and restarts."""
    scenario = permits_scenario(650, calls, 0.05, overload, 30).with_changes(
        {"memory": {"limit": "40KiB", "restart_after": "1s", "per_item_overhead": "1KiB"}})
    summary = simbp.run(scenario, mode="fast").summary
    assert summary["crashes"] >= 1 and summary["lost_in_crash"] > 0
    assert summary["produced"] == (summary["consumed"] + summary["dropped"] + summary["timed_out"] + summary["lost_in_crash"]
                                   + summary["discarded"] + summary["failed"] + summary["in_flight_at_end"])


def test_calls_by_hand_one_permit_serves_them_in_turn() -> None:
    """Arrivals every 10 ms from 10 ms on, no own service, one permit, calls of 25 ms: call n (from 0)
    starts at 10 + 25 n ms, when the permit frees, and ends at 35 + 25 n ms, so 39 end within the
    second (n ≤ 38); message n, created at 10 (n + 1) ms, waits 15 n ms for the permit, the last
    answered 25 + 15 × 38 = 595 ms after it was created; the permit is busy from 10 ms on."""
    body = """
name: by_hand
duration: 1
sample_interval: 1
producers: [{name: api, to: requests, arrivals: {process: constant, rate: 100}}]
buffers: [{name: requests, policy: unbounded}]
consumers: [{name: handlers, from: requests, workers: 4, service: 0, calls: {downstream: db, semaphore: 1}}]
downstreams: [{name: db, capacity: 1, latency: 25ms}]
"""
    scenario = simbp.load_scenario(body)
    exact, fast = simbp.run(scenario, mode="exact").summary, simbp.run(scenario, mode="fast").summary
    assert exact["consumed"] == 39 and fast["consumed"] == pytest.approx(39, abs=1)
    assert exact["latency_s"]["max"] == pytest.approx(0.595, abs=1e-9)
    assert fast["latency_s"]["max"] == pytest.approx(0.595, rel=0.05)
    assert fast["components"]["db"]["mean_in_flight"] == pytest.approx(0.99, abs=0.02)
    assert fast["components"]["handlers"]["semaphore"]["peak_in_use"] == 1
