"""`block` buffers fed by several producers, or by evenly spaced arrivals, against exact mode.

One Poisson producer into a `block` buffer has its own rule and bound (`BLOCKED_FRACTION`,
tests/fast/test_fast_accuracy.py). These cases keep the netted rule; their looser bounds are stated in
`simbp.fast.accuracy` (`BLOCKED_FRACTION_OTHER`, `BLOCK_LATENCY_OTHER`) and tested here as in
tests/fast/test_fast_systems.py: fast's mean over the seeds within exact's 99.9% interval widened by the bound.
"""

from __future__ import annotations

import pytest
from test_fast_systems import CHAIN, Case, Figure, _holds

import simbp
from simbp.fast.accuracy import (
    BLOCK_LATENCY_OTHER,
    BLOCKED_FRACTION_OTHER,
    OPERATOR_BLOCK_WAITS,
    THROUGHPUT,
    fast_error_summary,
)
from simbp.fast.model import unsupported

BLOCKING = """
name: blocking
duration: 40
sample_interval: 1
producers: [{producers}]
buffers: [{{name: queue, capacity: 7, policy: block}}]
consumers: [{{name: workers, from: queue, workers: 3, service: {{dist: exponential, mean: 10ms}}}}]
"""
QUANTUM = 0.02  # two service times: the sub-steps near a full buffer are a quarter of one


def _producers(kind: str, rate: float) -> str:
    if kind == "two Poisson producers":
        return ", ".join(f"{{name: p{i}, to: queue, arrivals: {{process: poisson, rate: {rate / 2}}}}}" for i in range(2))
    return f"{{name: p0, to: queue, arrivals: {{process: constant, rate: {rate}}}}}"


def _figure(key: str) -> Figure:
    def value(summary: dict) -> float:  # type: ignore[type-arg]
        if key == "throughput":
            return summary["produced"] / summary["duration_s"]
        if key == "blocked":
            return float(summary["producer_blocked_fraction"])
        return float(summary["latency_s"][key])
    return value


CASES = [(kind, rho) for kind in ("two Poisson producers", "evenly spaced arrivals") for rho in (0.7, 0.9, 1.3)]


def block_case(kind: str, rho: float) -> Case:
    scenario = simbp.load_scenario(BLOCKING.format(producers=_producers(kind, rho * 300)))
    return Case("block, several producers or evenly spaced", f"{kind}, ρ = {rho}, M/M/3 with 7 places", scenario, QUANTUM,
                [("producer blocked fraction", _figure("blocked"), BLOCKED_FRACTION_OTHER),
                 ("throughput", _figure("throughput"), THROUGHPUT),
                 ("latency mean", _figure("mean"), BLOCK_LATENCY_OTHER),
                 ("latency p99", _figure("p99"), BLOCK_LATENCY_OTHER)], range(1, 5))


# --------------------------------------------------------------------------- RxJS operators into a block buffer
ARRAYS = CHAIN.replace("{name: queue, policy: unbounded}", "{name: queue, capacity: 10, policy: block}")
THROTTLED = (CHAIN.replace("{name: queue, policy: unbounded}", "{name: queue, capacity: 5, policy: block}")
             .replace("operators: [{throttleTime: 1ms}, {bufferTime: {duration: 200ms, max_size: 50}}]", "operators: [{throttleTime: 1ms}]")
             .replace("workers: 2, service: {dist: exponential, mean: 1ms}", "workers: 1, service: {dist: exponential, mean: 1.5ms}"))
OPERATOR_CASES = {  # name: (scenario, duration): each emission that finds the buffer full waits for room on its own, FIFO
    "bufferTime arrays of 50 into a block buffer of 10": (ARRAYS, 8),
    "throttleTime into a block buffer of 5, overloaded 1.5×": (THROTTLED, 4),
}


def _events(key: str) -> Figure:
    def value(summary: dict) -> float:  # type: ignore[type-arg]
        entry = summary["components"]["events"]
        emitted = entry["produced"] - entry["discarded"]
        if key == "blocked":
            return entry.get("requests_blocked", 0) / max(emitted, 1)
        if key == "wait":
            return float(entry.get("mean_request_wait_s", 0.0))
        return summary["consumed"] / summary["duration_s"]
    return value


def operator_block_case(name: str) -> Case:
    body, duration = OPERATOR_CASES[name]
    scenario = simbp.load_scenario(body).with_changes({"duration": duration})
    return Case("RxJS operators into a block buffer", name, scenario, 0.05,
                [("emissions that waited for room, per emission", _events("blocked"), OPERATOR_BLOCK_WAITS),
                 ("mean wait for room", _events("wait"), OPERATOR_BLOCK_WAITS),
                 ("throughput", _events("throughput"), THROUGHPUT),
                 ("latency mean", _figure("mean"), BLOCK_LATENCY_OTHER), ("latency p99", _figure("p99"), BLOCK_LATENCY_OTHER)],
                range(1, 5))


@pytest.mark.parametrize("name", list(OPERATOR_CASES))
def test_operators_into_a_block_buffer_within_the_stated_bounds(name: str) -> None:
    _holds(operator_block_case(name))


def test_operators_into_a_block_buffer_with_a_block_timeout_stay_exact() -> None:
    body = ARRAYS.replace("capacity: 10, policy: block}", "capacity: 10, policy: block, block_timeout: 1s}")
    assert any("block_timeout" in m for m in unsupported(simbp.load_scenario(body)))


def block_cases() -> list[Case]:
    """Every comparison here, for `benchmarks/fast_error.py --systems` (docs/performance.md)."""
    return [block_case(kind, rho) for kind, rho in CASES] + [operator_block_case(name) for name in OPERATOR_CASES]


@pytest.mark.parametrize(("kind", "rho"), CASES)
def test_block_with_several_or_evenly_spaced_producers_within_the_stated_bounds(kind: str, rho: float) -> None:
    _holds(block_case(kind, rho))


def test_the_looser_block_bounds_are_reported_only_where_they_apply() -> None:
    shared = simbp.load_scenario(BLOCKING.format(producers=_producers("two Poisson producers", 270)))
    alone = simbp.load_scenario(BLOCKING.format(producers="{name: p0, to: queue, arrivals: {process: poisson, rate: 270}}"))
    assert fast_error_summary(scenario=shared)["blocked_fraction_other_rel"] == BLOCKED_FRACTION_OTHER.relative
    assert "blocked_fraction_other_rel" not in fast_error_summary(scenario=alone)
    assert simbp.run(shared.with_changes({"duration": 2}), mode="fast").summary["fast_error"]["block_latency_other_rel"] \
        == BLOCK_LATENCY_OTHER.relative
