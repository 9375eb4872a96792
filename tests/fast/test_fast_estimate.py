"""Fast mode's computing-time estimate charges per message only for what it draws one by one: a
group finishing enough items each quantum counts them (`simbp.fast.renewal`), so a production day
is not refused on a per-message cost it never pays."""

from __future__ import annotations

import pytest

import simbp
from simbp.fast.model import choose_quantum
from simbp.fast.renewal import COUNTED_FROM
from simbp.limits import FAST_SECONDS_PER_MESSAGE, FAST_SECONDS_PER_STEP, estimate_fast_steps, estimate_seconds

DAY = """\
name: core_day
duration: 86400s
sample_interval: 300s
producers:
  - {{name: clients, to: queue, arrivals: {{process: poisson, rate: {rate}/s}}}}
buffers:
  - {{name: queue, policy: unbounded}}
consumers:
  - {{name: workers, from: queue, workers: {workers}, service: {{dist: {dist}, mean: 10ms}}}}
"""


def _day(rate: float, workers: int, dist: str = "exponential") -> simbp.Scenario:
    return simbp.load_scenario(DAY.format(rate=rate, workers=workers, dist=dist))


def test_a_counted_group_pays_no_per_message_cost() -> None:
    scenario = _day(100_000, 1200)
    assert 100_000 * choose_quantum(scenario) >= COUNTED_FROM  # the premise: counted at this size
    steps_only = estimate_fast_steps(scenario) * FAST_SECONDS_PER_STEP
    assert estimate_seconds(scenario, "fast") == pytest.approx(steps_only)
    assert estimate_seconds(scenario, "fast") < 0.1 * scenario.estimated_messages() * FAST_SECONDS_PER_MESSAGE


def test_a_drawn_group_pays_per_message() -> None:
    scenario = _day(20, 1)  # a handful of completions a quantum: each service time is drawn
    steps_only = estimate_fast_steps(scenario) * FAST_SECONDS_PER_STEP
    expected = steps_only + scenario.estimated_messages() * FAST_SECONDS_PER_MESSAGE
    assert estimate_seconds(scenario, "fast") == pytest.approx(expected)


def test_heavy_tailed_service_is_never_counted() -> None:
    heavy = simbp.load_scenario(DAY.format(rate=100_000, workers=1200, dist="pareto").replace(
        "mean: 10ms", "alpha: 1.5, scale: 3.3ms"))
    steps_only = estimate_fast_steps(heavy) * FAST_SECONDS_PER_STEP
    assert estimate_seconds(heavy, "fast") == pytest.approx(steps_only + heavy.estimated_messages() * FAST_SECONDS_PER_MESSAGE)
