"""`blocking: request` in fast mode: each request waits for room on its own and gives up after the
buffer's `block_timeout` (exact mode's `UpstreamProducer._wait_alone`; `simbp.fast.systems.requests`).

Compared with exact mode as tests/fast/test_fast_systems.py does: fast's mean over the seeds within exact's
99.9% interval widened by the bound stated in `simbp.fast.accuracy` (`REQUEST_TIMED_OUT`, `REQUEST_WAITS`).
A fast mode that ignored per-request waiting would report no requests waiting (`requests_blocked` absent),
and a producer that blocks instead of its requests (blocking: producer) would time out far fewer.
"""

from __future__ import annotations

import pytest
from test_fast_systems import Case, Figure, _holds

import simbp
from simbp.fast.accuracy import (
    LATENCY_MEAN,
    LATENCY_P99,
    REQUEST_TIMED_OUT,
    REQUEST_WAITS,
    THROUGHPUT,
    fast_error_summary,
)
from simbp.fast.model import choose_quantum, simulate_fast, unsupported
from simbp.limits import choose_mode
from simbp.results import build_results

REQUESTS = """
name: requests
duration: 30
sample_interval: 1
producers: [{{name: api, to: queue, blocking: request, arrivals: {{process: poisson, rate: {rate}}}}}]
buffers: [{{name: queue, capacity: 7, policy: block{timeout}}}]
consumers: [{{name: workers, from: queue, workers: 3, service: {{dist: exponential, mean: 10ms}}}}]
"""
QUANTUM = 0.02
SEEDS = range(1, 5)


def _figure(key: str) -> Figure:
    def value(summary: dict) -> float:
        entry = summary["components"]["api"]
        if key == "timed_out":
            return summary["timed_out"] / summary["produced"]
        if key == "waited":
            return entry.get("requests_blocked", 0) / entry["produced"]
        if key == "wait":
            return float(entry.get("mean_request_wait_s", 0.0))
        if key == "throughput":
            return summary["consumed"] / summary["duration_s"]
        return float(summary["latency_s"][key])
    return value


CASES = {  # name: (rate, timeout); M/M/3 at 300/s
    "timeout 5 ms, rho 0.9": (270, "5ms"),
    "timeout 20 ms, rho 1.3": (390, "20ms"),
    "timeout 5 ms, rho 1.1": (330, "5ms"),
}


def request_case(name: str) -> Case:
    rate, timeout = CASES[name]
    scenario = simbp.load_scenario(REQUESTS.format(rate=rate, timeout=f", block_timeout: {timeout}"))
    return Case("blocking: request (each request waits on its own)", name, scenario, QUANTUM,
                [("timed out per produced", _figure("timed_out"), REQUEST_TIMED_OUT),
                 ("requests that waited per produced", _figure("waited"), REQUEST_WAITS),
                 ("mean wait for room", _figure("wait"), REQUEST_WAITS),
                 ("throughput", _figure("throughput"), THROUGHPUT),
                 ("latency mean", _figure("mean"), LATENCY_MEAN), ("latency p99", _figure("p99"), LATENCY_P99)], SEEDS)


def request_cases() -> list[Case]:
    """Every comparison here, for `benchmarks/fast_error.py --systems --only request`."""
    return [request_case(name) for name in CASES]


@pytest.mark.parametrize("name", list(CASES))
def test_requests_waiting_on_their_own_within_the_stated_bounds(name: str) -> None:
    _holds(request_case(name))


def test_requests_are_all_produced_and_wait_in_flight() -> None:
    """The producer never blocks: every arrival is produced; at three times the workers' pace with no
    timeout the requests waiting pile up in flight (held by their callers, not in the buffer)."""
    scenario = simbp.load_scenario(REQUESTS.format(rate=900, timeout="")).with_changes({"duration": 5})
    assert not unsupported(scenario)
    summary = build_results(simulate_fast(scenario, seed=2, quantum=QUANTUM)).summary
    entry = summary["components"]["api"]
    assert summary["producer_blocked_fraction"] == 0 and summary["timed_out"] == 0
    assert entry["produced"] == pytest.approx(900 * 5, rel=0.05)
    assert entry["in_flight_at_end"] > 0.5 * (900 - 300) * 5 and summary["components"]["queue"]["in_flight_at_end"] <= 7
    assert entry["requests_blocked"] >= entry["in_flight_at_end"]


def test_auto_runs_requests_in_fast_mode_and_reports_the_bounds() -> None:
    scenario = simbp.load_scenario(REQUESTS.format(rate=27_000, timeout=", block_timeout: 50ms")).with_changes(
        {"duration": 3600, "consumers": [{"name": "workers", "from": "queue", "workers": 300,
                                          "service": {"dist": "exponential", "mean": "10ms"}}]})
    mode, reason = choose_mode(scenario, "auto")
    assert mode == "fast" and "callers that wait" in reason
    bounds = fast_error_summary(scenario=scenario, quantum=choose_quantum(scenario))
    assert bounds["request_timed_out_rel"] == REQUEST_TIMED_OUT.relative and bounds["request_waits_rel"] == REQUEST_WAITS.relative
    assert "block_timed_out_rel" not in bounds  # no producer blocks on the buffer itself


@pytest.mark.parametrize(("change", "why"), [
    ({"consumers": [{"name": "workers", "from": "queue", "workers": 1, "batch": {"size": 10, "per_item": "1ms"}}]}, "batch"),
    ({"producers": [{"name": "api", "to": "queue", "blocking": "request", "priority": "low",
                     "arrivals": {"process": "poisson", "rate": 270}}],
      "buffers": [{"name": "queue", "capacity": 7, "policy": "block", "shed": {"low": 5}}]}, "priority"),
    ({"producers": [{"name": "api", "to": "queue", "blocking": "request", "arrivals": {"process": "poisson", "rate": 270},
                     "retry": {"max": 2, "backoff": "10ms", "on": ["timeout"]}}]}, "retries"),
])
def test_requests_fast_mode_leaves_to_exact_mode_say_why(change: dict, why: str) -> None:
    scenario = simbp.load_scenario(REQUESTS.format(rate=270, timeout=", block_timeout: 5ms")).with_changes(change)
    missing = unsupported(scenario)
    assert any(why in m for m in missing), missing
    mode, reason = choose_mode(scenario.with_changes({"duration": 86_400}), "auto")
    assert mode == "exact" and why in reason
