"""The output analysis under every pass/fail, on known inputs (no simulation): exact binomial
bounds, the loss interval when few or no losses are seen, pooled quantiles, MSER-5, the
three-valued judgement and what it would take to decide."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simbp.metrics import RELATIVE_ERROR, LatencySketch
from simbp.planning.estimators import burst_bound, estimate_figure, loss_estimate, quantile_estimate
from simbp.planning.judging import FAIL, PASS, UNDECIDED, Target, replications_to_decide
from simbp.planning.statistics import Estimate, clopper_pearson, incomplete_beta
from simbp.planning.steady import POOLED, correlation_time, mser_cut, sketch_state


@pytest.mark.parametrize(("events", "trials"), [(0, 100), (0, 1e6), (1, 1e6), (3, 5e4), (19, 39), (39, 39), (5.5, 20000.3)])
def test_clopper_pearson_matches_scipy(events: float, trials: float) -> None:
    low, high = clopper_pearson(events, trials)
    want_low = 0.0 if events == 0 else stats.beta.ppf(0.025, events, trials - events + 1)
    want_high = 1.0 if events == trials else stats.beta.ppf(0.975, events + 1, trials - events)
    assert low == pytest.approx(want_low, rel=1e-6, abs=1e-15)
    assert high == pytest.approx(want_high, rel=1e-6)
    assert incomplete_beta(2.5, 3.5, 0.3) == pytest.approx(stats.beta.cdf(0.3, 2.5, 3.5), rel=1e-12)


def _loss_rows(lost: list[int], produced: list[int], utilisation: float = 0.8) -> list[dict]:
    rows = []
    for index, (losses, traffic) in enumerate(zip(lost, produced)):
        batches = [(traffic // 20, 0)] * 20
        if losses:
            batches[index % 20] = (traffic // 20, losses)
        rows.append({"replication": index, "steady.produced": traffic, "steady.lost": losses,
                     "loss_ratio": losses / traffic, "components.workers.utilisation": utilisation,
                     POOLED: {"sketches": {}, "loss_batches": batches}})
    return rows


def test_zero_losses_give_an_upper_bound_from_the_traffic_seen_not_zero_width() -> None:
    """Failure 1: every replication lost nothing, so the old t interval was [0, 0] and a 0.001%
    target passed although the true loss was 0.0037%."""
    rows = _loss_rows([0, 0, 0, 0, 0], [40_000] * 5, utilisation=0.8)
    value = loss_estimate(rows)
    assert value.mean == 0 and value.low == 0
    # 200,000 arrivals, losses in bursts of (1 + ρ)/(1 − ρ) = 9 at ρ = 0.8: about 3.7 × 9 / 200,000
    assert value.high == pytest.approx(-math.expm1(math.log(0.025) * burst_bound(0.8) / 200_000), rel=1e-9)
    assert value.high > 1.5e-4
    target = Target("loss_ratio", "ratio", high=1e-5)
    assert target.judge(value) == UNDECIDED  # neither shown to pass nor to fail
    assert replications_to_decide(target, value, 5) > 5  # more traffic would decide it (or show a loss)
    # the same traffic with a loss seen can fail a target; zero losses can pass only with enough traffic
    assert Target("loss_ratio", "ratio", high=1e-3).judge(value) == PASS


def test_rare_losses_are_never_passed_and_their_intervals_cover() -> None:
    """Synthetic sweeps of a queue at ρ = 0.8 whose true loss (3.7e-5) misses a 1e-5 target:
    losses arrive in bursts (a full buffer turns several arrivals away). None may pass, and the
    intervals must cover the truth at least 90% of the time."""
    rng = np.random.default_rng(7)
    true, traffic, rho = 3.7e-5, 40_000, 0.8
    mean_burst = 1 + rho / (1 - rho)  # the arrival that fills the buffer, then about ρ/(1 − ρ) more
    covered = passed = 0
    for _ in range(400):
        lost = []
        for _ in range(5):
            bursts = rng.poisson(true * traffic / mean_burst)
            lost.append(int(sum(rng.geometric(1 / mean_burst, size=bursts))))
        value = loss_estimate(_loss_rows(lost, [traffic] * 5, rho))
        covered += value.low <= true <= value.high
        passed += Target("loss_ratio", "ratio", high=1e-5).judge(value) == PASS
    assert passed == 0
    assert covered / 400 >= 0.9


def _sketch(values: np.ndarray) -> dict:
    sketch = LatencySketch()
    sketch.add_many(values)
    return sketch_state(sketch)


def test_quantiles_are_pooled_not_averaged_and_their_interval_is_by_sectioning() -> None:
    """Failure 2's cause: the mean of per-run p99s is not the p99. Two runs, one calm and one with
    a long tail: the pooled p99 is the 99% point of all observations together."""
    rng = np.random.default_rng(3)
    calm, stormy = rng.exponential(0.01, 10_000), rng.exponential(0.05, 10_000)
    rows = []
    for index, values in enumerate((calm, stormy)):
        rows.append({"replication": index, "latency_s.p99": float(np.quantile(values, 0.99)),
                     POOLED: {"sketches": {"workers": _sketch(values)}, "loss_batches": []}})
    pooled = quantile_estimate(0.99, rows)
    both = np.quantile(np.concatenate((calm, stormy)), 0.99)
    assert pooled.mean == pytest.approx(both, rel=2 * RELATIVE_ERROR)
    mean_of_runs = (rows[0]["latency_s.p99"] + rows[1]["latency_s.p99"]) / 2
    assert abs(pooled.mean - mean_of_runs) > 0.1 * both
    # sectioning on a log scale: t(1) × the spread of the runs' log p99s around the pooled one / √2,
    # widened by the sketch's error
    spread = math.sqrt(sum(math.log(r["latency_s.p99"] / pooled.mean) ** 2 for r in rows))
    half = 12.706205 * spread / math.sqrt(2)
    assert pooled.high == pytest.approx(pooled.mean * math.exp(half) * (1 + RELATIVE_ERROR), rel=0.02)
    assert pooled.low == pytest.approx(pooled.mean * math.exp(-half) * (1 - RELATIVE_ERROR), rel=0.02)
    assert estimate_figure("latency_s.p99", rows).mean == pooled.mean


def test_identical_replications_are_exact() -> None:
    rows = [{"replication": r, "seed": r, "loss_ratio": 0.5, "latency_s.p99": 0.375} for r in range(3)]
    value = estimate_figure("loss_ratio", rows, exact=True)
    assert (value.mean, value.low, value.high) == (0.5, 0.5, 0.5)


def test_mser_cuts_a_warm_up_from_below_but_not_an_excursion() -> None:
    rng = np.random.default_rng(1)
    settled = rng.normal(20, 2, 300)
    ramp = settled.copy()
    ramp[:40] = np.linspace(0, 20, 40) + rng.normal(0, 1, 40)  # a run starting empty
    cut, too_short = mser_cut(ramp)
    assert 25 <= cut <= 60 and not too_short
    assert mser_cut(settled)[0] <= 15
    excursion = settled.copy()
    excursion[:40] += 30  # a burst at the start holds more, not less: not a warm-up
    assert mser_cut(excursion)[0] == 0
    climbing = np.linspace(0, 100, 300) + rng.normal(0, 1, 300)  # never settles
    assert mser_cut(climbing)[1] is True


def test_correlation_time_of_independent_and_of_sticky_series() -> None:
    rng = np.random.default_rng(2)
    independent = [correlation_time(rng.normal(0, 1, 3000), 3000.0) for _ in range(10)]
    assert np.mean(independent) == pytest.approx(0.0, abs=0.15)  # shorter than the sampling interval: unresolved
    estimates = []
    for _ in range(10):
        sticky = np.zeros(3000)
        for k in range(1, 3000):  # AR(1) with φ = 0.9: τ = (1 + φ) / (1 − φ) / 2 = 9.5 samples
            sticky[k] = 0.9 * sticky[k - 1] + rng.normal()
        estimates.append(correlation_time(sticky, 3000.0))
    assert 7 < np.mean(estimates) < 12  # 9.5 samples less the half sample that independent ones show: 9


def test_three_valued_judgement() -> None:
    """Failure 3: an interval straddling the limit is undecided, not a miss."""
    at_most = Target("loss_ratio", "ratio", high=0.04)
    assert at_most.judge(Estimate(0.039, 0.003, 5, 0.002)) == UNDECIDED
    assert at_most.judge(Estimate(0.030, 0.003, 5, 0.002)) == PASS
    assert at_most.judge(Estimate(0.050, 0.003, 5, 0.002)) == FAIL
    assert at_most.judge(Estimate(0.039, 0.003, 5, 0.002), "mean") == PASS  # the gamble `judge: mean` takes
    at_least = Target("throughput_per_s", "rate", low=100.0)
    assert at_least.judge(Estimate(101.0, 2.0, 3, 1.0)) == UNDECIDED
    assert at_least.judge(Estimate(97.0, 2.0, 3, 1.0)) == FAIL
    # what it takes: the interval narrows as 1/√n, so (reach / distance)² times the replications
    assert replications_to_decide(at_most, Estimate(0.039, 0.003, 5, 0.002), 5) > 5
    assert replications_to_decide(at_most, Estimate(0.04, 0.003, 5, 0.002), 5) is None  # on the limit: never
