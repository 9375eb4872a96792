"""Node.js streams in fast mode (docs/systems.md): a piped source replayed from banks of cycles, and a
source that ignores the mark, each against replications of exact mode.

As in tests/fast/test_fast_systems.py, fast mode's mean over the seeds must lie within exact mode's
99.9% confidence interval widened by the stated bound (`simbp.fast.accuracy`):

    |fast mean − exact mean| ≤ Z · √(se_fast² + se_exact²) + bound.tolerance(exact mean),   Z = 3.29

The piped cases put the source at ρ = 0.7, 0.9 and 1.3 of the writable's `_write()` (and at 2 in the
library's node_pipe), with marks in chunks and in bytes, Poisson and evenly spaced sources.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from repo import ROOT
from test_fast_systems import Case, Figure, _conserved, _holds

import simbp
from simbp.fast.accuracy import (
    LATENCY_MEAN,
    LATENCY_P99,
    LOSS_RATIO,
    STREAM_LATENCY,
    STREAM_MEMORY,
    STREAM_PAUSED,
    STREAM_THROUGHPUT,
    STREAM_WRITES,
    fast_error_summary,
)
from simbp.fast.model import choose_quantum, simulate_fast, unsupported
from simbp.limits import choose_mode
from simbp.results import build_results

PIPED = """
name: piped
duration: {duration}
sample_interval: 0.5
producers: [{{name: source, to: writable, arrivals: {{process: {process}, rate: {rate}}}, size: {size}, on_backpressure: {handling}}}]
buffers: [{{name: writable, policy: unbounded, high_water_mark: {mark}}}]
consumers: [{{name: sink, from: writable, workers: {workers}, service: {service}}}]
"""
EXPONENTIAL = "{dist: exponential, mean: 1ms}"
PIPED_CASES = {  # name: (process, rate, size, mark, workers, service, duration)
    "ρ = 0.7, 16 chunks, Poisson": ("poisson", 700, "1KiB", 16, 1, EXPONENTIAL, 30),
    "ρ = 0.9, 16 chunks, Poisson": ("poisson", 900, "1KiB", 16, 1, EXPONENTIAL, 30),
    "ρ = 1.3, 16 chunks, Poisson": ("poisson", 1300, "1KiB", 16, 1, EXPONENTIAL, 20),
    "ρ = 0.9, 8 KiB of 1 KiB chunks, evenly spaced, lognormal": ("constant", 900, "1KiB", "8KiB", 1,
                                                                 "{dist: lognormal, mean: 1ms, sigma: 0.8}", 30),
    "ρ = 1.3, 4 chunks, evenly spaced, constant service": ("constant", 1300, "1KiB", 4, 1, "1ms", 20),
    "ρ = 1.3, 16 KiB of random sizes, two workers": ("poisson", 2600, "{dist: empirical, values: [1024, 2048, 3072]}", "16KiB",
                                                     2, EXPONENTIAL, 20),
}


def _figure(key: str) -> Figure:
    def value(summary: dict[str, Any]) -> float:
        components = summary["components"]
        if key == "throughput":
            return summary["consumed"] / summary["duration_s"]
        if key in ("writes_false", "drains"):
            entry = next(e for e in components.values() if "writes" in e)
            return entry["writes_returned_false" if key == "writes_false" else "drains"] / max(entry["writes"], 1)
        if key in ("mean", "p99"):
            return float(summary["latency_s"][key])
        if key == "paused":
            return next(e["paused_s"] for e in components.values() if "paused_s" in e) / summary["duration_s"]
        return float(summary[key])
    return value


def piped_case(name: str) -> Case:
    process, rate, size, mark, workers, service, duration = PIPED_CASES[name]
    scenario = simbp.load_scenario(PIPED.format(duration=duration, process=process, rate=rate, size=size, mark=mark,
                                                workers=workers, service=service, handling="pause"))
    return Case("Node.js streams, piped source", name, scenario, choose_quantum(scenario),
                [("throughput", _figure("throughput"), STREAM_THROUGHPUT),
                 ("paused fraction", _figure("paused"), STREAM_PAUSED),
                 ("producer blocked fraction", _figure("producer_blocked_fraction"), STREAM_PAUSED),
                 ("writes returned false per write", _figure("writes_false"), STREAM_WRITES),
                 ("drains per write", _figure("drains"), STREAM_WRITES),
                 ("peak memory", _figure("peak_memory_bytes"), STREAM_MEMORY),
                 ("peak queue depth", _figure("peak_queue_depth"), STREAM_MEMORY),
                 ("latency mean", _figure("mean"), STREAM_LATENCY), ("latency p99", _figure("p99"), STREAM_LATENCY)])


def library_case() -> Case:
    scenario = simbp.load_scenario(ROOT / "scenarios" / "node_pipe.yaml").with_changes({"duration": 20})
    return Case("Node.js streams, piped source", "node_pipe (ρ = 2, 64 KiB of 16 KiB chunks)", scenario,
                choose_quantum(scenario),
                [("throughput", _figure("throughput"), STREAM_THROUGHPUT),
                 ("paused fraction", _figure("paused"), STREAM_PAUSED),
                 ("writes returned false per write", _figure("writes_false"), STREAM_WRITES),
                 ("peak memory", _figure("peak_memory_bytes"), STREAM_MEMORY),
                 ("latency mean", _figure("mean"), STREAM_LATENCY), ("latency p99", _figure("p99"), STREAM_LATENCY)])


BURSTS = "{process: bursty, on: {rate: 2000, duration: 1s}, off: {rate: 0, duration: 2s}}"


def bursts_case() -> Case:
    """A source silent between bursts: the stage drains what was written when the source stops."""
    body = PIPED.format(duration=30, process="poisson", rate=1, size="1KiB", mark=16, workers=1, service=EXPONENTIAL,
                        handling="pause").replace("{process: poisson, rate: 1}", BURSTS)
    scenario = simbp.load_scenario(body)
    return Case("Node.js streams, piped source", "bursts of 1 s at 2,000/s, then 2 s silent, into 16 chunks", scenario,
                choose_quantum(scenario),
                [("throughput", _figure("throughput"), STREAM_THROUGHPUT),
                 ("paused fraction", _figure("paused"), STREAM_PAUSED),
                 ("latency mean", _figure("mean"), STREAM_LATENCY), ("latency p99", _figure("p99"), STREAM_LATENCY)])


def trace_case(folder: Path) -> Case:
    """A replayed trace of counts per second, 1,000 ± 400 chunks (exact mode places each second's chunks at
    random within it), piped into a 1 ms `_write()`: quanta follow the trace's bins (`streams.rate_scale`)."""
    rng = np.random.default_rng(11)
    counts = np.maximum(0, rng.normal(1000, 400, 60)).round().astype(int)
    (folder / "counts.csv").write_text("count\n" + "\n".join(str(c) for c in counts) + "\n")
    body = PIPED.format(duration=60, process="poisson", rate=1, size="1KiB", mark=16, workers=1, service=EXPONENTIAL,
                        handling="pause").replace("{process: poisson, rate: 1}",
                                                  "{process: trace, file: counts.csv, format: counts, column: count, bin: 1s}")
    (folder / "traced.yaml").write_text(body)
    scenario = simbp.load_scenario(folder / "traced.yaml")
    return Case("Node.js streams, piped source", "a trace of counts, 1,000 ± 400 a second, into 16 chunks", scenario,
                choose_quantum(scenario),
                [("throughput", _figure("throughput"), STREAM_THROUGHPUT),
                 ("paused fraction", _figure("paused"), STREAM_PAUSED),
                 ("latency mean", _figure("mean"), STREAM_LATENCY), ("latency p99", _figure("p99"), STREAM_LATENCY)],
                range(1, 5))


NAIVE_CASES = {  # name: (rate, mark, duration, quantum)
    "ρ = 0.9, 16 chunks, ignoring the mark": (900, 16, 20, 0.002),
    "ρ = 1.3, 16 chunks, ignoring the mark": (1300, 16, 10, 0.002),
}


def naive_case(name: str) -> Case:
    rate, mark, duration, quantum = NAIVE_CASES[name]
    scenario = simbp.load_scenario(PIPED.format(duration=duration, process="poisson", rate=rate, size="1KiB", mark=mark,
                                                workers=1, service=EXPONENTIAL, handling="ignore"))
    return Case("Node.js streams, source ignoring the mark", name, scenario, quantum,
                [("throughput", _figure("throughput"), STREAM_THROUGHPUT),
                 ("writes returned false per write", _figure("writes_false"), STREAM_WRITES),
                 ("latency mean", _figure("mean"), LATENCY_MEAN), ("latency p99", _figure("p99"), LATENCY_P99)], range(1, 5))


def naive_crash_case() -> Case:
    scenario = simbp.load_scenario(ROOT / "scenarios" / "node_naive_write.yaml").with_changes({"duration": 20})
    return Case("Node.js streams, source ignoring the mark", "node_naive_write (crashes)", scenario, 0.01,
                [("loss ratio", _figure("loss_ratio"), LOSS_RATIO),
                 ("first crash", _figure("first_crash_s"), STREAM_MEMORY),
                 ("writes returned false per write", _figure("writes_false"), STREAM_WRITES)])


def stream_cases() -> list[Case]:
    """Every comparison here, for `benchmarks/fast_error.py --systems` (docs/performance.md)."""
    folder = Path(tempfile.mkdtemp(prefix="simbp_trace_"))
    return ([piped_case(n) for n in PIPED_CASES] + [library_case(), bursts_case(), trace_case(folder)]
            + [naive_case(n) for n in NAIVE_CASES] + [naive_crash_case()])


@pytest.mark.parametrize("name", list(PIPED_CASES))
def test_piped_source_within_the_stated_bounds(name: str) -> None:
    _holds(piped_case(name))


def test_node_pipe_within_the_stated_bounds() -> None:
    _holds(library_case())


def test_a_source_silent_between_bursts_within_the_stated_bounds() -> None:
    _holds(bursts_case())


def test_a_replayed_trace_within_the_stated_bounds(tmp_path: Path) -> None:
    assert choose_quantum(trace_case(tmp_path).scenario) <= 1.0  # no coarser than the trace's bins
    _holds(trace_case(tmp_path))


@pytest.mark.parametrize("name", list(NAIVE_CASES))
def test_source_ignoring_the_mark_within_the_stated_bounds(name: str) -> None:
    _holds(naive_case(name))


def test_naive_write_crashes_as_in_exact_mode() -> None:
    _holds(naive_crash_case())


def test_piped_stage_by_hand_evenly_spaced_and_constant_service() -> None:
    """1,600 chunks/s evenly spaced (a tick every 0.625 ms) into a 1 ms `_write()` with a mark of 2 chunks.
    A cycle from a write at tick 0: the first chunk is written at once (done at 1 ms), the second at
    0.625 ms fills the mark (write() returns false: the source pauses), is written from 1 ms to 2 ms,
    and 'drain' fires at 2 ms; the next tick is at 2.5 ms. So 2 chunks every 2.5 ms (800 a second),
    paused 1.375 ms of each 2.5 (55%), latencies 1 ms and 1.375 ms, memory at most 2 chunks."""
    scenario = simbp.load_scenario(PIPED.format(duration=10, process="constant", rate=1600, size="1KiB", mark=2, workers=1,
                                                service="1ms", handling="pause"))
    summary = build_results(simulate_fast(scenario, seed=1)).summary
    assert _conserved(summary)
    assert summary["consumed"] / 10 == pytest.approx(800, abs=1)
    source, writable = summary["components"]["source"], summary["components"]["writable"]
    assert source["pauses"] == writable["writes_returned_false"] == pytest.approx(4000, abs=1)
    assert source["paused_s"] / 10 == pytest.approx(0.55, abs=0.001)
    assert summary["latency_s"]["mean"] == pytest.approx((0.001 + 0.001375) / 2, rel=1e-3)
    assert summary["latency_s"]["max"] == pytest.approx(0.001375, rel=1e-6) and summary["peak_memory_bytes"] == 2048


def test_results_have_exact_modes_shape_and_report_the_stream_bounds() -> None:
    for name in ("node_pipe", "node_naive_write"):
        scenario = simbp.load_scenario(ROOT / "scenarios" / f"{name}.yaml").with_changes({"duration": 10})
        exact, fast = simbp.run(scenario, mode="exact"), simbp.run(scenario, mode="fast")
        assert set(fast.summary) - {"quantum_s", "fast_error"} == set(exact.summary)
        for component, figures in exact.summary["components"].items():
            assert set(fast.summary["components"][component]) == set(figures), component
        assert list(fast.timeseries.columns) == list(exact.timeseries.columns)
        assert fast.summary["fast_error"]["stream_throughput_rel"] == STREAM_THROUGHPUT.relative
        assert fast.summary["fast_error"] == fast_error_summary(scenario=scenario, quantum=fast.summary["quantum_s"])
        assert _conserved(fast.summary)


def test_auto_runs_production_sized_streams_fast_and_says_why() -> None:
    for name in ("node_pipe", "node_naive_write"):
        scenario = simbp.load_scenario(ROOT / "scenarios" / f"{name}.yaml").with_changes({"duration": 36_000})
        mode, reason = choose_mode(scenario, "auto")
        assert mode == "fast" and "high-water marks modelled on counts too" in reason, reason
    chain = simbp.load_scenario(ROOT / "scenarios" / "node_transform_chain.yaml").with_changes({"duration": 36_000})
    mode, reason = choose_mode(chain, "auto")
    assert mode == "exact" and "transform pausing" in reason, reason


def test_streams_fast_mode_leaves_to_exact_mode_say_why() -> None:
    two = PIPED.format(duration=10, process="poisson", rate=900, size="1KiB", mark=16, workers=1, service=EXPONENTIAL,
                       handling="pause").replace("producers: [{", "producers: [{name: other, to: writable, arrivals: "
                                                 "{process: poisson, rate: 10}}, {")
    assert any("sharing its writable" in m for m in unsupported(simbp.load_scenario(two)))
    huge = PIPED.format(duration=10, process="poisson", rate=900, size="1KiB", mark=100_000, workers=1, service=EXPONENTIAL,
                        handling="pause")
    assert any("cycle longer" in m for m in unsupported(simbp.load_scenario(huge)))


def test_conservation_holds_through_crashes_of_a_piped_stage() -> None:
    scenario = simbp.load_scenario(ROOT / "scenarios" / "node_pipe.yaml").with_changes(
        {"duration": 20, "memory": {"limit": "40KiB", "restart_after": "1s"}})
    summary = simbp.run(scenario, mode="fast").summary
    assert summary["crashes"] >= 1 and summary["lost_in_crash"] > 0 and _conserved(summary)

