"""The simulator against queueing theory, with tolerances from independent replications.

Each statistical check runs R replications of one scenario with different seeds, cuts a warm-up, takes one
figure per replication (mean latency, loss ratio …), and asserts that the theory value lies in
the t confidence interval of their mean (`scipy.stats.t`). Replications are independent, so the
interval is honest whatever the autocorrelation inside one run. Means are exact sums in simbp,
so only quantile checks widen the interval, by the latency sketch's stated 1% relative error.

Confidence level. A 95% interval misses the truth one time in twenty *by design*: with nine
interval assertions here, about one reshuffle of the random draws in three (any engine change that
consumes random numbers differently re-rolls all of them) would fail a correct simulator
somewhere. Each assertion therefore uses a 99.95% interval: a false failure anywhere in this file
is below 0.5% (fewer still, as several assertions share runs and quantiles are widened). Every
check also asserts that its interval is narrow enough to exclude a plausible wrong answer (an
off-by-one in the buffer capacity, exponential instead of constant service, one fast worker
instead of c, a 5% error), so the wider interval still has teeth. Failure messages also print the
95% interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats

import simbp
from simbp import theory
from simbp.metrics import RELATIVE_ERROR
from simbp.results import Results

CONFIDENCE = 0.9995
REPLICATIONS = 20
FIRST_SEED = 1


def t_interval(values: list[float] | np.ndarray, confidence: float | None = None) -> tuple[float, float]:
    """Mean ± Student-t half-width over independent replications (at `CONFIDENCE` unless given)."""
    confidence = CONFIDENCE if confidence is None else confidence
    data = np.asarray(values, dtype=float)
    mean = float(data.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2, len(data) - 1) * data.std(ddof=1) / math.sqrt(len(data)))
    return mean - half, mean + half


def describe(values: list[float] | np.ndarray, expected: float) -> str:
    low95, high95 = t_interval(values, 0.95)
    low, high = t_interval(values)
    return (f"theory {expected:.6g}; simulated mean {np.mean(values):.6g} over {len(values)} replications, "
            f"{CONFIDENCE:.2%} CI [{low:.6g}, {high:.6g}], 95% CI [{low95:.6g}, {high95:.6g}]")


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
        queue = results.summary["components"]["queue"]["mean_queue_depth"]
        return latency["mean"], latency["p50"], latency["p95"], latency["p99"], queue

    rows = replicate(spec, measure)
    expected = theory.mm1_mean_sojourn(ARRIVAL_RATE, SERVICE_RATE)
    interval = assert_in_interval(rows[:, 0], expected)
    assert_excludes(interval, theory.md1_mean_sojourn(ARRIVAL_RATE, SERVICE_RATE), "M/D/1")
    # the buffer's time-weighted depth after the warm-up: Lq = ρ²/(1 − ρ) = 0.9
    assert_in_interval(rows[:, 4], theory.mm1_mean_queue_number(ARRIVAL_RATE, SERVICE_RATE))
    assert_excludes(interval, expected * 1.05, "a 5% error")
    assert_excludes(interval, expected * 0.95, "a 5% error")
    for column, q in ((1, 0.5), (2, 0.95), (3, 0.99)):
        quantile = -math.log(1 - q) / (SERVICE_RATE - ARRIVAL_RATE)
        assert_in_interval(rows[:, column], quantile, widen=RELATIVE_ERROR)


# --------------------------------------------------------------------------- M/M/c
def test_mmc_mean_latency_follows_erlang_c() -> None:
    """M/M/3 at ρ = 0.8: Erlang C gives P(wait) ≈ 0.647, mean sojourn C/(cμ − λ) + 1/μ ≈ 2.079 ms,
    and a mean of λ Wq ≈ 2.59 messages waiting in the buffer."""
    workers, arrival_rate = 3, 2400.0
    spec = scenario(arrivals=f"{{process: poisson, rate: {arrival_rate:g}/s}}", service="{dist: exponential, mean: 1ms}",
                    workers=workers, buffer="policy: unbounded", duration=12, warmup=2)
    rows = replicate(spec, lambda r: (r.summary["latency_s"]["mean"], r.summary["components"]["queue"]["mean_queue_depth"]))
    expected = theory.mmc_mean_sojourn(arrival_rate, SERVICE_RATE, workers)
    interval = assert_in_interval(rows[:, 0], expected)
    # the buffer's time-weighted depth: Lq = λ Wq = λ C/(cμ − λ) ≈ 2.59
    assert_in_interval(rows[:, 1], theory.little_number(arrival_rate, theory.mmc_mean_wait(arrival_rate, SERVICE_RATE, workers)))
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
    """Little's law Lq = λ Wq on the simulator's own output, replication by replication.

    Poisson arrivals at 1600/s for 5 s into two workers with constant 1 ms service (M/D/2,
    ρ = 0.8); the run lasts until every message is consumed. Over such a window Little's law is
    an identity of the sample path: the area under the buffer's depth equals the sum of the waits,
    so the time-weighted `mean_queue_depth` must equal the measured arrival rate times the
    measured mean wait (latency minus the 1 ms service) to rounding, in every replication. This
    ties the buffer's time-weighted accumulator to the latency bookkeeping (a message handed
    straight to an idle worker waits 0 and adds no area). A window cut out of a running queue
    only satisfies it up to edge effects, whose heavy tails (kurtosis ≈ 12 measured) make
    t intervals miss far more often than they claim; the drained window has none.
    """
    service = 1e-3
    spec = scenario(arrivals="{process: poisson, rate: 1600/s}", service="1ms", workers=2,
                    buffer="policy: unbounded", duration=6, warmup=0)
    spec = spec.with_changes({"producers.source.stop": 5.0})

    def measure(results: Results) -> tuple[float, ...]:
        summary = results.summary
        assert summary["in_flight_at_end"] == 0 and summary["consumed"] == summary["produced"]
        span = summary["duration_s"]
        arrival_rate = summary["produced"] / span
        queue_number = summary["components"]["queue"]["mean_queue_depth"]
        wait = summary["latency_s"]["mean"] - service
        return queue_number, arrival_rate * wait

    rows = replicate(spec, measure, replications=5)
    queue_numbers, little = rows[:, 0], rows[:, 1]
    assert np.allclose(queue_numbers, little, rtol=1e-9, atol=0), list(zip(queue_numbers, little))
    assert queue_numbers.min() > 0.5  # a real queue: M/D/2 at ρ = 0.8 holds about 1.4 waiting
