"""The simulator against queueing theory, with tolerances from independent replications.

Each check runs R replications of one scenario with different seeds, cuts a warm-up, takes one
figure per replication (mean latency, loss ratio …), and asserts that the theory value lies in
the t confidence interval of their mean (`scipy.stats.t`). Replications are independent, so the
interval is honest whatever the autocorrelation inside one run. Means are exact sums in simbp,
so only quantile checks widen the interval, by the latency sketch's stated 1% relative error.

Confidence level. A 95% interval misses the truth one time in twenty *by design*: with six
checks, one reshuffle of the random draws in ten (any engine change that consumes random numbers
differently re-rolls all of them) would fail a correct simulator somewhere. Each check therefore
uses a 99.9% interval: a false failure across the whole file is about 6 in 1000. Every check also
asserts that its interval is narrow enough to exclude a plausible wrong answer (an off-by-one in
the buffer capacity, exponential instead of constant service, one fast worker instead of c), so
the wider interval still has teeth. The 95% interval is printed in failure messages.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pytest
from scipy import stats

import simbp
from simbp import theory
from simbp.metrics import RELATIVE_ERROR
from simbp.results import Results

CONFIDENCE = 0.999
REPLICATIONS = 20
FIRST_SEED = 1


def t_interval(values: list[float] | np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Mean ± Student-t half-width over independent replications."""
    data = np.asarray(values, dtype=float)
    mean = float(data.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2, len(data) - 1) * data.std(ddof=1) / math.sqrt(len(data)))
    return mean - half, mean + half


def describe(values: list[float] | np.ndarray, expected: float) -> str:
    low95, high95 = t_interval(values, 0.95)
    low, high = t_interval(values)
    return (f"theory {expected:.6g}; simulated mean {np.mean(values):.6g} over {len(values)} replications, "
            f"{CONFIDENCE:.1%} CI [{low:.6g}, {high:.6g}], 95% CI [{low95:.6g}, {high95:.6g}]")


def scenario(*, arrivals: str, service: str, workers: int, buffer: str, duration: float, warmup: float) -> simbp.Scenario:
    """A one-stage scenario (producer → buffer `queue` → consumer `workers`) built from YAML text."""
    return simbp.load_scenario(f"""
name: validation
duration: {duration}s
warmup: {warmup}s
sample_interval: 1s
producers:
  - name: source
    to: queue
    arrivals: {arrivals}
buffers:
  - name: queue
    {buffer}
consumers:
  - name: workers
    from: queue
    workers: {workers}
    service: {service}
""")


def replicate(spec: simbp.Scenario, measure: Callable[[Results], tuple[float, ...]],
              replications: int = REPLICATIONS) -> np.ndarray:
    """One row of measurements per replication, seeds FIRST_SEED, FIRST_SEED + 1, …"""
    return np.array([measure(simbp.run(spec, seed=FIRST_SEED + i)) for i in range(replications)], dtype=float)


def after_warmup(results: Results, column: str) -> float:
    """Sum of a per-interval time-series column over the intervals after the warm-up."""
    frame = results.timeseries
    return float(frame.loc[frame["time_s"] > results.scenario.warmup + 1e-9, column].sum())


def assert_in_interval(values: np.ndarray, expected: float, *, widen: float = 0.0) -> tuple[float, float]:
    low, high = t_interval(values)
    low, high = low * (1 - widen), high * (1 + widen)
    assert low <= expected <= high, describe(values, expected)
    return low, high


def assert_excludes(interval: tuple[float, float], wrong: float, what: str) -> None:
    low, high = interval
    assert not low <= wrong <= high, f"the interval [{low:.6g}, {high:.6g}] cannot tell theory from {what} ({wrong:.6g})"


# --------------------------------------------------------------------------- M/M/1
ARRIVAL_RATE = 600.0
SERVICE_RATE = 1000.0  # 1 ms mean service


def test_mm1_mean_latency_and_quantiles() -> None:
    """M/M/1 at ρ = 0.6: mean sojourn 1/(μ − λ) = 2.5 ms; sojourn is exponential with rate μ − λ,
    so its q-quantile is −ln(1 − q)/(μ − λ) (checked with the sketch's 1% error added)."""
    spec = scenario(arrivals=f"{{process: poisson, rate: {ARRIVAL_RATE:g}/s}}", service="{dist: exponential, mean: 1ms}",
                    workers=1, buffer="policy: unbounded", duration=30, warmup=3)

    def measure(results: Results) -> tuple[float, ...]:
        latency = results.summary["latency_s"]
        return latency["mean"], latency["p50"], latency["p95"], latency["p99"]

    rows = replicate(spec, measure)
    expected = theory.mm1_mean_sojourn(ARRIVAL_RATE, SERVICE_RATE)
    interval = assert_in_interval(rows[:, 0], expected)
    assert_excludes(interval, theory.md1_mean_sojourn(ARRIVAL_RATE, SERVICE_RATE), "M/D/1")
    assert_excludes(interval, expected * 1.05, "a 5% error")
    assert_excludes(interval, expected * 0.95, "a 5% error")
    for column, q in ((1, 0.5), (2, 0.95), (3, 0.99)):
        quantile = -math.log(1 - q) / (SERVICE_RATE - ARRIVAL_RATE)
        assert_in_interval(rows[:, column], quantile, widen=RELATIVE_ERROR)


# --------------------------------------------------------------------------- M/M/c
def test_mmc_mean_latency_follows_erlang_c() -> None:
    """M/M/3 at ρ = 0.8: Erlang C gives P(wait) ≈ 0.647 and mean sojourn C/(cμ − λ) + 1/μ ≈ 2.079 ms."""
    workers, arrival_rate = 3, 2400.0
    spec = scenario(arrivals=f"{{process: poisson, rate: {arrival_rate:g}/s}}", service="{dist: exponential, mean: 1ms}",
                    workers=workers, buffer="policy: unbounded", duration=12, warmup=2)
    rows = replicate(spec, lambda r: (r.summary["latency_s"]["mean"],))
    expected = theory.mmc_mean_sojourn(arrival_rate, SERVICE_RATE, workers)
    interval = assert_in_interval(rows[:, 0], expected)
    # one worker three times as fast (M/M/1 with μ' = cμ) would give 1/(cμ − λ) ≈ 1.667 ms
    assert_excludes(interval, theory.mm1_mean_sojourn(arrival_rate, workers * SERVICE_RATE), "one worker c times as fast")
    assert_excludes(interval, theory.mmc_mean_sojourn(arrival_rate, SERVICE_RATE, workers + 1), "one worker more")


# --------------------------------------------------------------------------- M/M/1/K
def test_mm1k_loss_probability() -> None:
    """M/M/1/K with K = 5 at ρ = 0.9: a drop_newest buffer of capacity K − 1 = 4 with one worker
    loses (1 − ρ)ρ^K/(1 − ρ^(K+1)) ≈ 12.6% of arrivals (the worker holds the K-th message)."""
    system_capacity, arrival_rate = 5, 900.0
    spec = scenario(arrivals=f"{{process: poisson, rate: {arrival_rate:g}/s}}", service="{dist: exponential, mean: 1ms}",
                    workers=1, buffer=f"policy: drop_newest\n    capacity: {system_capacity - 1}", duration=20, warmup=2)

    def measure(results: Results) -> tuple[float, ...]:
        return (after_warmup(results, "dropped") / after_warmup(results, "produced"),)

    rows = replicate(spec, measure)
    expected = theory.mm1k_blocking(arrival_rate, SERVICE_RATE, system_capacity)
    interval = assert_in_interval(rows[:, 0], expected)
    assert_excludes(interval, theory.mm1k_blocking(arrival_rate, SERVICE_RATE, system_capacity - 1), "K − 1")
    assert_excludes(interval, theory.mm1k_blocking(arrival_rate, SERVICE_RATE, system_capacity + 1), "K + 1")


# --------------------------------------------------------------------------- M/D/1
def test_md1_mean_latency_pollaczek_khinchine() -> None:
    """M/D/1 at ρ = 0.7, service exactly 1 ms: Pollaczek–Khinchine gives Wq = ρ/(2μ(1 − ρ)) ≈ 1.167 ms,
    half the M/M/1 wait, so mean latency ≈ 2.167 ms."""
    arrival_rate = 700.0
    spec = scenario(arrivals=f"{{process: poisson, rate: {arrival_rate:g}/s}}", service="1ms",
                    workers=1, buffer="policy: unbounded", duration=30, warmup=3)
    rows = replicate(spec, lambda r: (r.summary["latency_s"]["mean"],))
    expected = theory.md1_mean_sojourn(arrival_rate, SERVICE_RATE)
    interval = assert_in_interval(rows[:, 0], expected)
    assert_excludes(interval, theory.mm1_mean_sojourn(arrival_rate, SERVICE_RATE), "exponential service (M/M/1)")
    assert_excludes(interval, theory.mg1_mean_sojourn(arrival_rate, 1e-3, 0.1), "service with 10% variance")


# --------------------------------------------------------------------------- Little's law
def test_littles_law_on_simulated_output() -> None:
    """Little's law Lq = λ Wq on the simulator's own output (M/D/2 at ρ = 0.8, no theory needed):
    the time-weighted `mean_queue_depth` of the buffer equals the measured arrival rate times the
    measured mean wait (latency minus the constant 1 ms service), replication by replication, up to
    edge effects at the ends of the window. Checks the time-weighted accumulator against the
    latency bookkeeping."""
    service = 1e-3
    spec = scenario(arrivals="{process: poisson, rate: 1600/s}", service="1ms",
                    workers=2, buffer="policy: unbounded", duration=10, warmup=1)

    def measure(results: Results) -> tuple[float, ...]:
        span = results.summary["duration_s"] - results.scenario.warmup
        arrival_rate = after_warmup(results, "produced") / span
        queue_number = results.summary["components"]["queue"]["mean_queue_depth"]
        wait = results.summary["latency_s"]["mean"] - service
        return queue_number - arrival_rate * wait, queue_number

    rows = replicate(spec, measure)
    differences, queue_numbers = rows[:, 0], rows[:, 1]
    low, high = assert_in_interval(differences, 0.0)
    # teeth: the interval on the difference is within ±3% of the queue length itself, so a
    # depth accumulator off by a few percent (or counting items held by workers) would fail
    assert max(-low, high) < 0.03 * float(np.mean(queue_numbers))
    assert float(np.mean(queue_numbers)) > 1.0  # a real queue, not an empty one
