"""Confidence intervals and target judging: the arithmetic every pass/fail stands on."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from simbp.planning.figures import figure_kind, parse_figure_value
from simbp.planning.statistics import Estimate, Target, estimate, t_quantile_975
from simbp.planning.study import replication_seed


@pytest.mark.parametrize("df", [1, 2, 3, 5, 10, 29, 30, 31, 45, 100, 1000])
def test_t_quantile_matches_scipy(df: int) -> None:
    assert t_quantile_975(df) == pytest.approx(float(stats.t.ppf(0.975, df)), rel=2e-6)


def test_estimate_by_hand() -> None:
    # values 1, 2, 3: mean 2, sample sd 1, half width t(2) · 1/√3 = 4.302653 / 1.7320508
    value = estimate([1.0, 2.0, 3.0])
    assert value.mean == 2.0
    assert value.std == pytest.approx(1.0)
    assert value.half_width == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert (value.low, value.high) == pytest.approx((2 - 2.484138, 2 + 2.484138), rel=1e-6)


def test_estimate_leaves_out_missing_values_and_handles_one_or_none() -> None:
    assert estimate([5.0, math.nan, 5.0]) == Estimate(5.0, 0.0, 2, 0.0)
    one = estimate([3.0])
    assert one.n == 1 and one.mean == 3.0 and math.isinf(one.half_width)
    assert estimate([math.nan]).n == 0


def test_judging_on_the_bound_is_stricter_than_on_the_mean() -> None:
    at_most = Target("loss_ratio", "ratio", high=0.01)
    straddles = Estimate(mean=0.009, half_width=0.002, n=3, std=0.001)  # interval 0.007 … 0.011
    assert at_most.passes(straddles, "mean") is True
    assert at_most.passes(straddles, "bound") is False
    assert at_most.decided(straddles) is False
    clear = Estimate(mean=0.005, half_width=0.002, n=3, std=0.001)
    assert at_most.passes(clear, "bound") is True and at_most.decided(clear) is True
    at_least = Target("throughput_per_s", "rate", low=100.0)
    assert at_least.passes(Estimate(101.0, 2.0, 3, 1.0), "bound") is False  # lower end 99 < 100
    assert at_least.passes(Estimate(103.0, 2.0, 3, 1.0), "bound") is True
    assert at_most.passes(Estimate(math.nan, math.nan, 0, math.nan), "mean") is False


def test_figure_units() -> None:
    assert figure_kind("latency_s.p99") == "duration"
    assert figure_kind("components.workers.latency_s.mean") == "duration"
    assert figure_kind("peak_memory_bytes") == "bytes"
    assert figure_kind("throughput_per_s") == "rate"
    assert figure_kind("loss_ratio") == "ratio"
    assert figure_kind("crashes") == "number"
    assert parse_figure_value("2s", "duration") == 2.0
    assert parse_figure_value("250ms", "duration") == 0.25
    assert parse_figure_value("0.1%", "ratio") == pytest.approx(0.001)
    assert parse_figure_value("64MiB", "bytes") == 64 * 1024**2
    with pytest.raises(ValueError):
        parse_figure_value("fast", "duration")


def test_replication_seeds_are_spawned_from_the_sweep_seed() -> None:
    import numpy as np

    seeds = {replication_seed(1, point, r) for point in (11, 12) for r in range(5)}
    assert len(seeds) == 10
    assert replication_seed(1, 11, 0) == replication_seed(1, 11, 0)
    assert replication_seed(1, 11, 0) != replication_seed(2, 11, 0)
    child = np.random.SeedSequence(1).spawn(12)[11].spawn(1)[0]  # the same tree reached by spawning
    words = child.generate_state(2, np.uint32)
    assert replication_seed(1, 11, 0) == int(words[0]) << 31 | int(words[1]) >> 1
