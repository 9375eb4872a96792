"""The lag autoscaler: thresholds, cooldown, scale-up delay, min/max and the partition cap."""

from __future__ import annotations

from typing import Any

import pytest
import simpy
from shared_scenarios import AUTOSCALE_STEP as BUFFER

import simbp
from simbp.exact.autoscale import Autoscaler
from simbp.scenario import AutoscaleSpec


def drive(spec: dict[str, Any], lag: Any, *, start: int = 1, cap: int | None = None, until: float = 30.0) -> list[tuple[float, int]]:
    """Run an autoscaler against `lag(now)` and return its (time, new size) changes."""
    env = simpy.Environment()
    state = {"size": start}
    scaler = Autoscaler(env, AutoscaleSpec(**spec), "g", measure=lambda: lag(env.now), size=lambda: state["size"],
                        resize=lambda n: state.__setitem__("size", n), cap=cap)
    scaler.start()
    env.run(until=until)
    return [(c["time_s"], c["to"]) for c in scaler.changes]


def test_scale_up_waits_for_the_delay_and_then_the_cooldown() -> None:
    """Checks at 1, 2, 3 …; decision at 1 takes effect at 3; cooldown 3s from 3 → next decision at 6
    (effect 8), then 11 (effect 13); at max 4 nothing more."""
    changes = drive({"min": 1, "max": 4, "scale_up_lag": 10, "cooldown": 3, "scale_up_delay": 2, "check_every": 1},
                    lambda now: 1e9)
    assert changes == [(3.0, 2), (8.0, 3), (13.0, 4)]


def test_never_above_max_nor_below_min() -> None:
    up = drive({"min": 2, "max": 5, "scale_up_lag": 10, "cooldown": 0, "check_every": 1, "step": 2}, lambda now: 1e9, start=2)
    assert [size for _, size in up] == [4, 5]
    down = drive({"min": 2, "max": 5, "scale_up_lag": 10, "cooldown": 0, "check_every": 1, "step": 2}, lambda now: 0.0, start=5)
    assert [size for _, size in down] == [3, 2]


def test_partition_cap_limits_a_kafka_group() -> None:
    changes = drive({"min": 1, "max": 12, "scale_up_lag": 10, "cooldown": 0, "check_every": 1}, lambda now: 1e9, cap=3)
    assert [size for _, size in changes] == [2, 3]


def test_no_change_between_the_thresholds_and_scale_down_at_the_low_one() -> None:
    lag = lambda now: 500.0 if now < 10 else 50.0
    changes = drive({"min": 1, "max": 8, "scale_up_lag": 1000, "scale_down_lag": 50, "cooldown": 5, "check_every": 1}, lag, start=4)
    assert changes == [(10.0, 3), (15.0, 2), (20.0, 1)]


def test_thresholds_must_not_overlap() -> None:
    with pytest.raises(ValueError, match="flap"):
        AutoscaleSpec(min=1, max=3, scale_up_lag=10, scale_down_lag=10)


KAFKA = """
name: kafka_auto
duration: 120s
producers:
  - name: api
    to: orders
    arrivals: {process: schedule, interpolation: step, points: [{at: 0s, rate: 300/s}, {at: 10s, rate: 2500/s}, {at: 60s, rate: 200/s}]}
topics: [{name: orders, partitions: 4}]
consumer_groups:
  - name: g
    topic: orders
    processing: 1ms
    commit: {every: poll}
    rebalance_pause: 2s
    autoscale: {min: 1, max: 12, scale_up_lag: 2000, scale_down_lag: 50, cooldown: 10s, scale_up_delay: 5s, check_every: 2s}
"""


def test_kafka_group_scales_with_lag_capped_at_the_partition_count_and_pauses_to_rebalance() -> None:
    results = simbp.run(simbp.load_scenario(KAFKA))
    group = results.summary["components"]["g"]
    frame = results.timeseries
    assert group["autoscale"]["capped_by_partitions"] is True and group["autoscale"]["effective_max"] == 4
    assert frame["g.consumers"].max() == 4 and frame["g.consumers"].min() == 1
    assert group["autoscale"]["scale_ups"] == 3 and group["autoscale"]["scale_downs"] >= 1
    assert group["rebalances"] == group["autoscale"]["scale_ups"] + group["autoscale"]["scale_downs"]
    assert (frame.loc[frame["g.rebalancing"] == 1, "g.consumers_active"] == 0).all()
    changes = group["autoscale"]["changes"]
    assert all(b["time_s"] - a["time_s"] >= 10 for a, b in zip(changes, changes[1:]))  # cooldown
    summary = results.summary
    assert summary["produced"] == summary["consumed"] + summary["dropped"] + summary["in_flight_at_end"]
    assert summary["components"]["orders"]["lag"] < 50


def test_buffer_workers_scale_on_depth_and_retired_workers_lose_nothing() -> None:
    results = simbp.run(simbp.load_scenario(BUFFER))
    summary = results.summary
    workers = summary["components"]["workers"]
    frame = results.timeseries
    assert frame["workers.workers"].max() == 6 and frame["workers.workers"].iloc[-1] == 1
    assert workers["autoscale"]["scale_ups"] >= 2 and workers["autoscale"]["scale_downs"] >= 2
    assert summary["produced"] == summary["consumed"] + summary["in_flight_at_end"]
    assert summary["dropped"] == summary["lost_in_crash"] == 0
    assert 0 < workers["utilisation"] <= 1


def test_a_fixed_size_group_is_untouched() -> None:
    text = BUFFER.replace("    autoscale: {min: 1, max: 6, scale_up_lag: 500, scale_down_lag: 5, cooldown: 4s, scale_up_delay: 2s, check_every: 1s, step: 2}\n", "")
    results = simbp.run(simbp.load_scenario(text))
    assert "workers.workers" not in results.timeseries.columns
    assert "autoscale" not in results.summary["components"]["workers"]
