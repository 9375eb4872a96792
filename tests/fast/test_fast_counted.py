"""Counted service (`simbp.fast.renewal`): completions drawn as a renewal count instead of a service
time per item, tested against renewal theory and against replications of exact mode.

The comparisons with exact mode run `SEEDS` seeds of both modes and ask that fast mode's mean lie
within exact mode's 99.9% confidence interval widened by the stated bound (`simbp.fast.accuracy`):

    |fast mean − exact mean| ≤ Z · √(se_fast² + se_exact²) + bound.tolerance(exact mean),   Z = 3.29

They count from `COUNTED_AT` expected completions a quantum instead of `COUNTED_FROM`, so that exact
mode stays affordable: fewer completions make the normal approximation worse, so this is the harder
case of what production-sized runs do.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter

import simbp
from simbp.exact.model import simulate
from simbp.fast import renewal
from simbp.fast.accuracy import LATENCY_MEAN, LATENCY_P99, THROUGHPUT, UTILISATION, Bound
from simbp.fast.model import FastModel, simulate_fast
from simbp.fast.renewal import COUNTED_FROM, ServiceCounts, squared_cv
from simbp.random import draw_function
from simbp.results import build_results
from simbp.scenario.distributions import TimeDistribution
from simbp.theory import mmc_mean_sojourn

Z = 3.29  # two-sided 99.9%
SEEDS = range(1, 7)
SERVICE_S = 0.01
WORKERS = 100
QUANTUM_S = 2 * SERVICE_S  # 180 completions a quantum at ρ = 0.9
COUNTED_AT = 64

MMC = """
name: counted
duration: 20
warmup: 2
sample_interval: 1
producers: [{{name: source, to: queue, arrivals: {{process: poisson, rate: {rate}}}}}]
buffers: [{{name: queue, policy: unbounded}}]
consumers: [{{name: workers, from: queue, workers: {workers}, service: {service}}}]
"""


def _replicate(run: Callable[[int], dict[str, float]]) -> dict[str, tuple[float, float]]:
    runs = [run(seed) for seed in SEEDS]
    return {key: (statistics.mean(r[key] for r in runs), statistics.stdev(r[key] for r in runs) / len(runs) ** 0.5)
            for key in runs[0]}


def _agrees(fast: tuple[float, float], exact: tuple[float, float], bound: Bound) -> bool:
    (fast_mean, fast_error), (exact_mean, exact_error) = fast, exact
    return abs(fast_mean - exact_mean) <= Z * (fast_error ** 2 + exact_error ** 2) ** 0.5 + bound.tolerance(exact_mean)


def _figures(model: object, duration: float) -> dict[str, float]:
    summary = build_results(model).summary  # type: ignore[arg-type]
    return {"throughput": summary["consumed"] / duration, "utilisation": summary["components"]["workers"]["utilisation"],
            "mean": summary["latency_s"]["mean"], "p99": summary["latency_s"]["p99"]}


# --------------------------------------------------------------------------- renewal theory
def _service(spec: dict[str, object]) -> Any:
    return TypeAdapter(TimeDistribution).validate_python(spec)


@pytest.mark.parametrize("spec", [{"dist": "exponential", "mean": 0.01}, {"dist": "constant", "value": 0.01},
                                  {"dist": "uniform", "low": 0.002, "high": 0.02},
                                  {"dist": "lognormal", "mean": 0.01, "sigma": 0.8},
                                  {"dist": "gamma", "mean": 0.01, "shape": 3.0}, {"dist": "erlang", "mean": 0.01, "k": 4},
                                  {"dist": "pareto", "scale": 0.005, "alpha": 3.5},
                                  {"dist": "empirical", "values": [0.001, 0.002, 0.02]}])
def test_squared_cv_matches_the_distributions_draws(spec: dict[str, object]) -> None:
    """c² from the distribution's parameters against the sample c² of 200,000 of its draws (within
    6 standard errors, from the spread of the c² of 20 parts of the sample)."""
    dist = _service(spec)
    draws = draw_function(dist, np.random.default_rng(5))(200_000)
    sample = float(draws.var() / draws.mean() ** 2)
    spread = float(np.std([(d.var() / d.mean() ** 2) for d in np.array_split(draws, 20)])) / 20 ** 0.5
    assert squared_cv(dist) == pytest.approx(sample, abs=6 * spread + 1e-12)


def test_infinite_variance_is_never_counted() -> None:
    dist = _service({"dist": "pareto", "scale": 0.005, "alpha": 1.8})
    assert squared_cv(dist) == math.inf
    counts = ServiceCounts(0.01, math.inf, np.random.default_rng(1), lambda n: np.full(n, 0.01))
    assert not counts.applies(1e12)


def test_constant_service_counts_exactly() -> None:
    """c² = 0: 1,000 quanta of 12.345 s of work at 10 ms an item finish exactly 1,234,500 items (the
    remainder carried over, nothing lost or gained by rounding)."""
    counts = ServiceCounts(0.01, 0.0, np.random.default_rng(1), lambda n: np.full(n, 0.01), counted_from=10)
    carry, total = 0.0, 0
    for _ in range(1000):
        n, unit = counts.completions(12.345, carry)
        carry = 12.345 + carry - n * unit
        total += n
    assert total in (1_234_499, 1_234_500)  # the last item may be a rounding step short


@pytest.mark.parametrize(("scv", "draw"), [(1.0, "exponential"), (0.25, "gamma4")])
def test_counts_have_the_renewal_mean_and_variance(scv: float, draw: str) -> None:
    """Quanta of W = 20 mean service times from idle: E[N] = W/mean + (c² − 1)/2 and Var N = W·c²/mean
    (the renewal central limit theorem), and counts of successive busy quanta add up to the renewal
    count of their total work. Checked against 20,000 counts per claim, tolerances from the sample."""
    rng = np.random.default_rng(3)
    counts = ServiceCounts(1.0, scv, rng, lambda n: rng.exponential(1.0, n), counted_from=1)
    fresh = np.array([counts.completions(20.0, 0.0)[0] for _ in range(20_000)], dtype=float)
    expected = 20.0 + (scv - 1) / 2
    assert abs(fresh.mean() - expected) <= 4 * fresh.std() / len(fresh) ** 0.5
    assert fresh.var() == pytest.approx(20.0 * scv, rel=4 * (2 / len(fresh)) ** 0.5 + 0.02)
    # busy: ten quanta in a row, the carry passed on, against one count of their total
    totals = []
    for _ in range(4000):
        carry, total = 0.0, 0
        for _ in range(10):
            n, unit = counts.completions(20.0, carry)
            carry = 20.0 + carry - n * unit
            total += n
        totals.append(total)
    sums = np.array(totals, dtype=float)
    assert abs(sums.mean() - (200.0 + (scv - 1) / 2)) <= 4 * sums.std() / len(sums) ** 0.5 + 0.5
    assert sums.var() == pytest.approx(200.0 * scv, rel=4 * (2 / len(sums)) ** 0.5 + 0.02)


# --------------------------------------------------------------------------- against exact mode
@pytest.mark.parametrize(("rho", "service"), [(0.9, "{dist: exponential, mean: 0.01}"),
                                              (0.9, "{dist: gamma, mean: 0.01, shape: 4}"),
                                              (1.2, "{dist: exponential, mean: 0.01}")])
def test_counted_service_matches_exact_mode(rho: float, service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """M/M/100 and M/G/100 at ρ = 0.9 (stable) and 1.2 (overloaded, the queue grows): throughput,
    utilisation and latency of counted fast mode within the stated bounds of exact mode's (and the
    stable exponential queue's mean latency of Erlang C's sojourn time)."""
    monkeypatch.setattr(renewal, "COUNTED_FROM", COUNTED_AT)
    rate = rho * WORKERS / SERVICE_S
    scenario = simbp.load_scenario(MMC.format(rate=rate, workers=WORKERS, service=service))
    exact = _replicate(lambda seed: _figures(simulate(scenario, seed=seed), 20.0))
    fast = _replicate(lambda seed: _figures(simulate_fast(scenario, seed=seed, quantum=QUANTUM_S), 20.0))
    checks = [("throughput", THROUGHPUT), ("utilisation", UTILISATION)]
    if rho < 1:
        checks += [("mean", LATENCY_MEAN), ("p99", LATENCY_P99)]
    for key, bound in checks:
        assert _agrees(fast[key], exact[key], bound), (key, fast[key], exact[key])
    if rho > 1:  # every worker busy: the service capacity
        assert fast["throughput"][0] == pytest.approx(WORKERS / SERVICE_S, rel=THROUGHPUT.relative)
    elif "exponential" in service:
        sojourn = mmc_mean_sojourn(rate, 1 / SERVICE_S, WORKERS)
        assert abs(fast["mean"][0] - sojourn) <= Z * fast["mean"][1] + LATENCY_MEAN.tolerance(sojourn)


def test_production_quanta_count_instead_of_drawing() -> None:
    """A minute at 100,000 msgs/s into 1,200 workers at the production day's quantum (0.864 s, about
    86,000 completions): no service time is drawn per item, and conservation holds exactly."""
    scenario = simbp.load_scenario(MMC.format(rate=100_000, workers=1200, service="{dist: exponential, mean: 0.01}")
                                   .replace("duration: 20", "duration: 60").replace("sample_interval: 1",
                                                                                    "sample_interval: 4.32"))
    model = FastModel(scenario, seed=1, quantum=0.864)
    group = model.groups["workers"]
    assert group.counts is not None and group.counts.applies(1000 * 0.864)
    assert 0.864 * 1000 / SERVICE_S >= COUNTED_FROM
    model.run()
    assert len(group.work.prefix) == 1  # restarted after every counted quantum: nothing drawn per item
    totals = model.totals()
    assert totals["produced"] == totals["consumed"] + totals["dropped"] + totals["in_flight"]
    summary = build_results(model).summary
    assert summary["consumed"] / 60 == pytest.approx(100_000, rel=0.01)
    assert summary["components"]["workers"]["utilisation"] == pytest.approx(100_000 * SERVICE_S / 1200, rel=0.02)
