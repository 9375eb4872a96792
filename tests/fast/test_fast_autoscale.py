"""Worker autoscaling (`consumers[].autoscale`) in fast mode, against replications of exact mode.

As in tests/fast/test_fast_systems.py: each case runs `SEEDS` seeds of both modes, and fast mode's mean
must lie within exact mode's 99.9% confidence interval widened by the stated bound
(`simbp.fast.accuracy`): the scaling figures (workers at the peak and on average, scale-ups) by
`WORKERS_SCALED`, the rest by the core's bounds. `benchmarks/fast_autoscale.py` prints the same
comparison on more seeds.
"""

from __future__ import annotations

import statistics
from typing import Any

import pytest
from shared_scenarios import AUTOSCALE_STEP

import simbp
from simbp.fast.accuracy import LATENCY_MEAN, LATENCY_P99, LOSS_RATIO, THROUGHPUT, UTILISATION, WORKERS_SCALED, Bound
from simbp.fast.model import unsupported
from simbp.limits import choose_mode

Z = 3.29  # two-sided 99.9%
SEEDS = range(1, 7)

CASES = {
    # the unit test's step load (tests/shared_scenarios.py)
    "step": AUTOSCALE_STEP,
    # overload even at the maximum (rho 1.25 at 8 workers) into a dropping buffer
    "overload": """
name: overload
duration: 25s
producers: [{name: web, to: queue, arrivals: {process: poisson, rate: 2000/s}}]
buffers: [{name: queue, capacity: 1000, policy: drop_newest}]
consumers:
  - name: workers
    from: queue
    workers: 1
    service: {dist: exponential, mean: 5ms}
    autoscale: {min: 1, max: 8, scale_up_lag: 200, scale_down_lag: 10, cooldown: 3s, scale_up_delay: 2s, check_every: 1s, step: 2}
""",
    # a ramp up and down with gamma service: the pool follows the load up and back
    "diurnal": """
name: diurnal
duration: 60s
producers:
  - name: users
    to: queue
    arrivals: {process: schedule, interpolation: linear, points: [{at: 0s, rate: 100/s}, {at: 30s, rate: 2000/s}, {at: 60s, rate: 100/s}]}
buffers: [{name: queue, policy: unbounded}]
consumers:
  - name: workers
    from: queue
    workers: 2
    service: {dist: gamma, mean: 4ms, shape: 2}
    autoscale: {min: 2, max: 16, scale_up_lag: 150, scale_down_lag: 10, cooldown: 10s, scale_up_delay: 2s, check_every: 1s, step: 4}
""",
}


def figures(summary: dict[str, Any], timeseries: Any = None) -> dict[str, float]:
    """The figures compared: throughput, loss, latency, utilisation, and what the autoscaler did."""
    workers = summary["components"]["workers"]
    scaled = workers["autoscale"]
    return {"throughput_per_s": summary["consumed"] / summary["duration_s"], "loss_ratio": summary["loss_ratio"],
            "latency_mean_s": summary["latency_s"]["mean"], "latency_p99_s": summary["latency_s"]["p99"],
            "utilisation": workers["utilisation"], "peak_workers": scaled["peak_consumers"],
            "scale_ups": scaled["scale_ups"],
            "worker_seconds": sum((c_next["time_s"] - c["time_s"]) * c["to"] for c, c_next in zip(
                scaled["changes"], scaled["changes"][1:] + [{"time_s": summary["duration_s"]}]))}


def bound_for(figure: str) -> Bound:
    """The stated bound each figure is held to."""
    return {"throughput_per_s": THROUGHPUT, "loss_ratio": LOSS_RATIO, "latency_mean_s": LATENCY_MEAN,
            "latency_p99_s": LATENCY_P99, "utilisation": UTILISATION}.get(figure, WORKERS_SCALED)


def _agrees(exact: list[float], fast: list[float], bound: Bound) -> tuple[bool, str]:
    means = statistics.fmean(exact), statistics.fmean(fast)
    errors = [statistics.stdev(values) / len(values) ** 0.5 for values in (exact, fast)]
    allowed = Z * (errors[0] ** 2 + errors[1] ** 2) ** 0.5 + bound.tolerance(means[0])
    return abs(means[1] - means[0]) <= allowed, f"exact {means[0]:.4g} ± {errors[0]:.2g}, fast {means[1]:.4g} ± {errors[1]:.2g}, allowed {allowed:.3g}"


@pytest.mark.parametrize("case", ["step", "overload"])
def test_an_autoscaled_pool_in_fast_mode_matches_exact_mode(case: str) -> None:
    """Step load and overload at the maximum: the autoscaler takes the same decisions on the depth fast
    mode computes, and every figure is within its bound; nothing is lost or made up while workers go."""
    from simbp.exact.model import simulate
    from simbp.fast.model import simulate_fast
    from simbp.results import build_results

    scenario = simbp.load_scenario(CASES[case])
    assert not unsupported(scenario)
    exact = [figures(build_results(simulate(scenario, seed=seed)).summary) for seed in SEEDS]
    fast_summaries = [build_results(simulate_fast(scenario, seed=seed, quantum=0.01)).summary for seed in SEEDS]
    for summary in fast_summaries:
        assert summary["produced"] == summary["consumed"] + summary["in_flight_at_end"] + summary["dropped"]
        assert summary["components"]["workers"]["utilisation"] <= 1 + 1e-9  # work and worker-seconds agree
    fast = [figures(summary) for summary in fast_summaries]
    failures = []
    for name in exact[0]:
        ok, detail = _agrees([run[name] for run in exact], [run[name] for run in fast], bound_for(name))
        if not ok:
            failures.append(f"{name}: {detail}")
    assert not failures, failures


def test_auto_picks_fast_mode_for_an_autoscaled_pool_at_production_size_and_says_so() -> None:
    text = CASES["step"].replace("duration: 60s", "duration: 3h").replace("100/s", "1000/s").replace(
        "900/s", "9000/s").replace("max: 6,", "max: 60,")
    scenario = simbp.load_scenario(text)
    mode, reason = choose_mode(scenario, "auto")
    assert mode == "fast" and "worker autoscaling" in reason
    short = simbp.load_scenario(CASES["step"])
    summary = simbp.run(short, mode="fast").summary
    assert summary["fast_error"]["workers_scaled_rel"] == WORKERS_SCALED.relative
    assert summary["components"]["workers"]["autoscale"]["scale_ups"] >= 2
    assert "workers.workers" in simbp.run(short, mode="fast").timeseries.columns


def test_a_batch_consumers_autoscaled_workers_stay_in_exact_mode_with_the_reason() -> None:
    text = CASES["step"].replace("    service: {dist: exponential, mean: 5ms}\n", "    batch: {size: 10, per_item: 1ms}\n")
    missing = unsupported(simbp.load_scenario(text))
    assert any("autoscale" in m and "batch consumer" in m for m in missing), missing
