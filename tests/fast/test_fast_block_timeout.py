"""`block_timeout` in fast mode: producers blocked at a full `block` buffer give up after their own wait.

Compared with exact mode as tests/fast/test_fast_systems.py does: fast's mean over the seeds within exact's
99.9% interval widened by the bound stated in `simbp.fast.accuracy` (`BLOCK_TIMED_OUT` for one Poisson
producer, `BLOCK_TIMED_OUT_OTHER` for evenly spaced arrivals). A fast mode that ignored the timeout would
give no timed-out messages at all, and blocked fractions several times exact's at these loads.
"""

from __future__ import annotations

import pytest
from test_fast_systems import Case, Figure, _holds

import simbp
from simbp.fast.accuracy import (
    BLOCK_TIMED_OUT,
    BLOCK_TIMED_OUT_OTHER,
    BLOCKED_FRACTION,
    BLOCKED_FRACTION_OTHER,
    LATENCY_MEAN,
    LATENCY_P99,
    THROUGHPUT,
    fast_error_summary,
)
from simbp.fast.model import choose_quantum, fine_substeps, simulate_fast, unsupported
from simbp.limits import choose_mode
from simbp.results import build_results

TIMED = """
name: block_timeout
duration: 30
sample_interval: 1
producers: [{{name: p0, to: queue, arrivals: {{process: {process}, rate: {rate}}}}}]
buffers: [{{name: queue, capacity: 7, policy: block, block_timeout: {timeout}}}]
consumers: [{{name: workers, from: queue, workers: 3, service: {{dist: exponential, mean: 10ms}}}}]
"""
QUANTUM = 0.02  # two service times: a stage whose producer may block is stepped at half the timeout
SEEDS = range(1, 5)


def _figure(key: str) -> Figure:
    def value(summary: dict) -> float:
        if key == "timed_out":
            return summary["timed_out"] / summary["produced"]
        if key == "blocked":
            return float(summary["producer_blocked_fraction"])
        if key == "throughput":
            return summary["consumed"] / summary["duration_s"]
        return float(summary["latency_s"][key])
    return value


CASES = {  # name: (arrival process, rate, timeout); M/M/3 at 300/s, so 1 / 300 s between takes at full
    "one Poisson producer, timeout 5 ms, rho 0.9": ("poisson", 270, "5ms"),
    "one Poisson producer, timeout 2 ms, rho 1.3": ("poisson", 390, "2ms"),
    "one Poisson producer, timeout 10 ms, rho 1.1": ("poisson", 330, "10ms"),
    "evenly spaced arrivals, timeout 5 ms, rho 1.1": ("constant", 330, "5ms"),
}


def timeout_case(name: str) -> Case:
    process, rate, timeout = CASES[name]
    scenario = simbp.load_scenario(TIMED.format(process=process, rate=rate, timeout=timeout))
    alone = process == "poisson"
    return Case("block_timeout (producers give up)", name, scenario, QUANTUM,
                [("timed out per produced", _figure("timed_out"), BLOCK_TIMED_OUT if alone else BLOCK_TIMED_OUT_OTHER),
                 ("producer blocked fraction", _figure("blocked"), BLOCKED_FRACTION if alone else BLOCKED_FRACTION_OTHER),
                 ("throughput", _figure("throughput"), THROUGHPUT),
                 ("latency mean", _figure("mean"), LATENCY_MEAN), ("latency p99", _figure("p99"), LATENCY_P99)], SEEDS)


def timeout_cases() -> list[Case]:
    """Every comparison here, for `benchmarks/fast_error.py --systems --only block_timeout`."""
    return [timeout_case(name) for name in CASES]


@pytest.mark.parametrize("name", list(CASES))
def test_block_timeouts_within_the_stated_bounds(name: str) -> None:
    _holds(timeout_case(name))


def test_a_timed_out_producer_emits_again_and_the_run_is_deterministic() -> None:
    """At twice the workers' pace with a timeout of a tenth of a take, most blocked items give up
    (exp(−0.3)), so the producer emits again within the timeout: its blocked fraction is far from the
    near-total of a producer that waits for ever, and timed-out items are counted as lost."""
    scenario = simbp.load_scenario(TIMED.format(process="poisson", rate=600, timeout="0.33ms")).with_changes({"duration": 5})
    assert not unsupported(scenario)
    first = build_results(simulate_fast(scenario, seed=3, quantum=QUANTUM)).summary
    again = build_results(simulate_fast(scenario, seed=3, quantum=QUANTUM)).summary
    assert first["timed_out"] == again["timed_out"] and first["consumed"] == again["consumed"]
    waiting = simbp.load_scenario(TIMED.format(process="poisson", rate=600, timeout="1h")).with_changes({"duration": 5})
    forever = build_results(simulate_fast(waiting, seed=3, quantum=QUANTUM)).summary
    assert forever["timed_out"] == 0 and forever["producer_blocked_fraction"] > 0.4
    assert first["timed_out"] > 0.2 * first["produced"] and first["producer_blocked_fraction"] < 0.2
    assert first["loss_ratio"] == pytest.approx(first["timed_out"] / first["produced"])


def test_auto_runs_block_timeouts_in_fast_mode_and_reports_the_bound() -> None:
    scenario = simbp.load_scenario(TIMED.format(process="poisson", rate=30_000, timeout="50ms")).with_changes(
        {"duration": 3600, "consumers": [{"name": "workers", "from": "queue", "workers": 300,
                                          "service": {"dist": "exponential", "mean": "10ms"}}]})
    mode, reason = choose_mode(scenario, "auto")
    assert mode == "fast" and "block time-outs" in reason
    bounds = fast_error_summary(scenario=scenario, quantum=choose_quantum(scenario))
    assert bounds["block_timed_out_rel"] == BLOCK_TIMED_OUT.relative
    assert "block_timed_out_other_rel" not in bounds
    quantum = choose_quantum(scenario)  # at 0.9 of the workers' pace the buffer may fill: the estimate counts the steps
    assert quantum <= 0.025 or fine_substeps(scenario, quantum).get("queue", 1) >= quantum / 0.025


@pytest.mark.parametrize(("change", "why"), [
    ({"consumers": [{"name": "first", "from": "queue", "workers": 3, "service": {"dist": "exponential", "mean": "10ms"},
                     "to": "second"},
                    {"name": "last", "from": "second", "workers": 1, "service": {"dist": "exponential", "mean": "1ms"}}],
      "buffers": [{"name": "queue", "capacity": 7, "policy": "block"},
                  {"name": "second", "capacity": 3, "policy": "block", "block_timeout": "5ms"}]}, "forwarding"),
    ({"consumers": [{"name": "workers", "from": "queue", "workers": 1, "batch": {"size": 10, "per_item": "1ms"}}]}, "batch"),
    ({"buffers": [{"name": "queue", "capacity": 7, "policy": "block", "block_timeout": "1us"}],
      "duration": 86_400}, "under 1/"),
])
def test_block_timeouts_fast_mode_leaves_to_exact_mode_say_why(change: dict, why: str) -> None:
    scenario = simbp.load_scenario(TIMED.format(process="poisson", rate=270, timeout="5ms")).with_changes(change)
    missing = unsupported(scenario)
    assert any("block_timeout" in m and why in m for m in missing), missing
    mode, reason = choose_mode(scenario.with_changes({"duration": 86_400}), "auto")
    assert mode == "exact" and "block_timeout" in reason
