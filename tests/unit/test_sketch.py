"""The latency sketch keeps its stated 1% relative error, in bounded memory, however many values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simbp.metrics import RELATIVE_ERROR, LatencySketch

QUANTILES = (0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)


def _samples(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "exponential":
        return rng.exponential(0.004, n)
    if kind == "lognormal":
        return rng.lognormal(math.log(0.01), 1.5, n)
    if kind == "pareto":
        return 0.001 * (1 + rng.pareto(1.2, n))
    if kind == "spread":  # nine orders of magnitude: microseconds to hours
        return 10.0 ** rng.uniform(-6, 4, n)
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["exponential", "lognormal", "pareto", "spread"])
def test_quantiles_are_within_the_stated_relative_error_of_the_true_order_statistic(kind: str) -> None:
    rng = np.random.default_rng(12)
    values = _samples(kind, 50_000, rng)
    sketch = LatencySketch()
    for block in np.array_split(values, 7):  # added in blocks, as the engine does
        sketch.add_many(block)
    ordered = np.sort(values)
    for q in QUANTILES:
        truth = ordered[int(math.floor(q * (len(values) - 1)))]
        estimate = sketch.quantile(q)
        assert abs(estimate - truth) <= RELATIVE_ERROR * truth * (1 + 1e-9), (q, estimate, truth)
    assert sketch.count == len(values)
    assert sketch.maximum == values.max()
    assert sketch.mean == pytest.approx(values.mean(), rel=1e-12)


def test_memory_does_not_grow_with_the_number_of_values() -> None:
    sketch = LatencySketch()
    size = sketch.counts.nbytes
    rng = np.random.default_rng(3)
    for _ in range(20):
        sketch.add_many(rng.exponential(1.0, 20_000))
    assert sketch.counts.nbytes == size
    assert sketch.count == 400_000
    assert size < 64 * 1024  # a few thousand buckets cover 1 ns to 3 years at 1%


def test_zeros_and_tiny_values_count_as_zero_latency() -> None:
    sketch = LatencySketch()
    sketch.add_many([0.0, 0.0, 1e-12, 0.5])
    assert sketch.count == 4
    assert sketch.quantile(0.5) == 0.0
    assert sketch.quantile(1.0) == pytest.approx(0.5, rel=RELATIVE_ERROR)


def test_weighted_values_equal_the_same_values_repeated() -> None:
    rng = np.random.default_rng(5)
    values = rng.lognormal(-4, 1, 500)
    values[:10] = 0.0
    weights = rng.integers(1, 50, 500)
    weighted, repeated = LatencySketch(), LatencySketch()
    weighted.add_weighted(values, weights)
    repeated.add_many(np.repeat(values, weights))
    assert weighted.count == repeated.count == int(weights.sum())
    assert weighted.zeros == repeated.zeros
    assert np.array_equal(weighted.counts, repeated.counts)
    assert weighted.total == pytest.approx(repeated.total, rel=1e-12)
    assert weighted.quantiles((0.5, 0.99)) == repeated.quantiles((0.5, 0.99))


def test_merge_reset_and_empty() -> None:
    a, b = LatencySketch(), LatencySketch()
    a.add_many([0.001, 0.002])
    b.add_many([0.004])
    a.merge(b)
    assert a.count == 3 and a.maximum == 0.004
    a.reset()
    assert a.count == 0 and math.isnan(a.quantile(0.5)) and math.isnan(a.mean)
