"""Pipelines in fast mode: what a stage forwards reaches the next one within the same quantum.

A first M/M/4 stage (ρ = 0.5) forwards into a second stage of 2 workers behind a small buffer; fast
mode runs at quanta of 50 ms (25 service times, what `auto` gives an hour of such a pipeline) and its
mean over seeds must lie within exact mode's 99.9% interval widened by the stated bound, as in
tests/fast/test_fast_systems.py. Before forwards were offered as the next stage's arrivals, they
landed as one burst after that stage had taken: its 20 places lost 0.60 of the messages where exact
mode lost 0.01 (docs/performance.md, "Pipelines").
"""

from __future__ import annotations

from typing import Any

import pytest
from test_fast_systems import Case, _holds, _loss

import simbp
from simbp.fast.accuracy import LATENCY_MEAN, LOSS_RATIO, PIPELINE_LATENCY_MEAN, PIPELINE_LATENCY_P99, THROUGHPUT
from simbp.fast.forwarding import stage_order
from simbp.fast.model import FastModel, simulate_fast
from simbp.results import build_results

PIPELINE = """
name: pipeline_{policy}
duration: {duration}
sample_interval: 1
producers:
  - {{name: source, to: b1, arrivals: {{process: {process}, rate: 1000/s}}, size: 100B}}
buffers:
  - {{name: b1, policy: unbounded}}
  - {{name: b2, {room}policy: {policy}}}
consumers:
  - {{name: s1, from: b1, workers: 4, service: {{dist: exponential, mean: 2ms}}, to: b2}}
  - {{name: s2, from: b2, workers: 2, service: {{dist: exponential, mean: {mean}ms}}}}
"""


def pipeline(policy: str = "drop_newest", rho: float = 0.9, capacity: int = 20, duration: str = "8s",
             process: str = "poisson") -> simbp.Scenario:
    return simbp.scenario.parse_scenario_text(PIPELINE.format(policy=policy, mean=2 * rho, room="" if policy == "unbounded" else f"capacity: {capacity}, ",
                                                              duration=duration, process=process))


def _throughput(summary: dict[str, Any]) -> float:
    return float(summary["consumed"]) / float(summary["duration_s"])


def _latency(figure: str) -> Any:
    return lambda summary: float(summary["latency_s"][figure])


@pytest.mark.parametrize("rho", [0.7, 0.9, 1.1])
def test_a_small_forwarded_stage_loses_what_exact_mode_loses_at_coarse_quanta(rho: float) -> None:
    _holds(Case("pipeline", f"rho {rho}", pipeline(rho=rho), 0.05,
                [("loss ratio", _loss, LOSS_RATIO), ("throughput", _throughput, THROUGHPUT),
                 ("latency mean", _latency("mean"), PIPELINE_LATENCY_MEAN),
                 ("latency p99", _latency("p99"), PIPELINE_LATENCY_P99)]))


@pytest.mark.parametrize("rho", [0.9, 1.1])
def test_a_small_block_stage_passes_on_what_exact_mode_does_at_coarse_quanta(rho: float) -> None:
    # before, the stage behind 20 `block` places only took what waited at the quantum's start: at
    # 50 ms its throughput was 381/s against 996/s, and its latency seconds instead of 10 ms
    _holds(Case("pipeline", f"block rho {rho}", pipeline("block", rho=rho), 0.05,
                [("throughput", _throughput, THROUGHPUT),
                 ("latency mean", _latency("mean"), PIPELINE_LATENCY_MEAN),
                 ("latency p99", _latency("p99"), PIPELINE_LATENCY_P99)]))


def test_a_forwarded_stage_at_fine_quanta_keeps_the_core_latency_bound() -> None:
    _holds(Case("pipeline", "unbounded", pipeline("unbounded", rho=0.9), 0.0005,
                [("throughput", _throughput, THROUGHPUT), ("latency mean", _latency("mean"), LATENCY_MEAN)]))


def test_forwards_are_arrivals_of_the_same_quantum_by_hand() -> None:
    # evenly spaced arrivals, 500 per quantum of 0.5 s, through a first stage that keeps up, into 5
    # places read by workers with room to spare: nothing may be lost (a netted burst of ~500 into 5
    # places lost most of them), and the first stage is credited with exactly what b2 accepted
    summary = build_results(simulate_fast(pipeline(rho=0.5, capacity=5, duration="5s", process="constant"),
                                          seed=1, quantum=0.5)).summary
    components = summary["components"]
    assert summary["loss_ratio"] < 0.01, summary["loss_ratio"]
    assert components["s1"]["forwarded"] == components["b2"]["accepted"]
    assert summary["produced"] == summary["consumed"] + summary["dropped"] + summary["in_flight_at_end"]


def test_a_dropping_stage_charges_its_losses_to_the_forwarding_group() -> None:
    summary = build_results(simulate_fast(pipeline(rho=1.3, capacity=5, duration="5s"), seed=2, quantum=0.05)).summary
    components = summary["components"]
    assert components["b2"]["dropped"] > 0
    assert components["s1"]["forwarded"] == components["b2"]["accepted"]
    assert components["s1"]["processed"] == components["b2"]["accepted"] + components["b2"]["dropped"]


def test_same_seed_same_pipeline() -> None:
    scenario = pipeline(rho=1.1, duration="3s")
    first, second = (build_results(simulate_fast(scenario, seed=5, quantum=0.05)).summary for _ in range(2))
    assert first == second


def test_stages_step_upstream_first_unless_the_next_buffer_blocks() -> None:
    dropping = FastModel(pipeline("drop_newest"), seed=1, quantum=0.05)
    assert [b.name for b in dropping._order] == ["b1", "b2"]
    blocking = FastModel(pipeline("block"), seed=1, quantum=0.05)
    assert [b.name for b in blocking._order] == ["b2", "b1"]
    assert [b.name for b in stage_order(blocking.buffers, blocking.groups.values())] == ["b2", "b1"]
    assert [[b.name for b in segment] for segment in dropping._segments] == [["b1"], ["b2"]]
    assert [[b.name for b in segment] for segment in blocking._segments] == [["b2", "b1"]]


def test_fast_error_states_the_pipeline_bounds_when_a_scenario_forwards() -> None:
    summary = simbp.run(pipeline(duration="2s"), mode="fast").summary
    assert summary["fast_error"]["pipeline_latency_mean_rel"] == PIPELINE_LATENCY_MEAN.relative
    assert summary["fast_error"]["pipeline_latency_p99_rel"] == PIPELINE_LATENCY_P99.relative
