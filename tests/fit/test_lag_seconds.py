"""`peak_lag_s`: the lag in seconds (age of the oldest message not yet processed) at its highest sample,
the figure plan.yaml's lag target is on. Hand-traced in exact mode; exact and fast against the fluid limit."""

from __future__ import annotations

import numpy as np
import pytest

import simbp

OVERLOADED = """
name: overloaded
duration: 60
sample_interval: 1
producers:
  - {name: p, to: q, arrivals: {process: poisson, rate: 30/s}}
buffers:
  - {name: q, policy: unbounded}
consumers:
  - {name: c, from: q, workers: 2, service: {dist: exponential, mean: 0.1}}
"""


def test_hand_traced_buffer_lag_seconds():
    """Arrivals every 0.5 s from t=0.5, one worker taking 1 s each. The worker starts message n at
    n − 0.5 (message 1 at once, then back to back), so at a sample t ≥ 2 message t is in service and
    message t+1, which arrived at (t+1)/2, is the oldest waiting: its age is (t − 1)/2."""
    text = """
name: traced
duration: 10
sample_interval: 1
producers:
  - {name: p, to: q, arrivals: {process: constant, rate: 2/s}}
buffers:
  - {name: q, policy: unbounded}
consumers:
  - {name: c, from: q, workers: 1, service: 1s}
"""
    results = simbp.run(simbp.load_scenario(text), seed=0, mode="exact")
    frame = results.timeseries
    assert frame["q.lag_s"].tolist() == [0.0, 0.0] + [(t - 1) / 2 for t in range(2, 11)]
    assert results.summary["peak_lag_s"] == 4.5
    assert results.summary["components"]["q"]["peak_lag_s"] == 4.5


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_overloaded_lag_seconds_follows_the_fluid_limit(mode):
    """30/s into 20/s of capacity: by time T the consumers have reached the arrivals of time 2T/3,
    so the oldest waiting message is T/3 old: 20 s at T = 60 (mean of 5 seeds within 10%)."""
    peaks = [simbp.run(simbp.load_scenario(OVERLOADED), seed=seed, mode=mode).summary["peak_lag_s"] for seed in range(5)]
    assert np.mean(peaks) == pytest.approx(20.0, rel=0.10), peaks


def test_kafka_peak_lag_s_is_the_topics_highest_sample():
    text = OVERLOADED.replace("buffers:\n  - {name: q, policy: unbounded}\nconsumers:\n  - {name: c, from: q, workers: 2, "
                              "service: {dist: exponential, mean: 0.1}}",
                              "topics:\n  - {name: q, partitions: 2}\nconsumer_groups:\n  - {name: c, topic: q, consumers: 2, "
                              "processing: {dist: exponential, mean: 0.1}}")
    for mode in ("exact", "fast"):
        results = simbp.run(simbp.load_scenario(text), seed=1, mode=mode)
        peak = results.summary["peak_lag_s"]
        assert peak == pytest.approx(float(results.timeseries["q.lag_s"].max()))
        assert peak >= results.summary["components"]["q"]["lag_s"] > 5  # falling behind: lag at the end is large
        assert results.summary["components"]["q"]["peak_lag_s"] == peak
