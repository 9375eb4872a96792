"""Rate limiting at the source (token bucket) and load shedding by priority class."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simbp
from simbp.exact.systems.ratelimit import TokenBucket


def test_token_bucket_hand_trace() -> None:
    """Rate 4/s, burst 2, a request every 0.125 s (8/s): tokens before each take, after refill:

    0.125: 2 → pass (1); 0.25: 1.5 → pass (0.5); 0.375: 1.0 → pass (0); 0.5: 0.5 → limited;
    0.625: 1.0 → pass (0); 0.75: 0.5 → limited; 0.875: 1.0 → pass … every other one from then on.
    """
    bucket = TokenBucket(4, 2)
    passed = [t for t in (0.125 * k for k in range(1, 17)) if bucket.try_take(t)]
    assert passed == [0.125, 0.25, 0.375, 0.625, 0.875, 1.125, 1.375, 1.625, 1.875]
    assert bucket.limited == 16 - 9


def test_reserve_waits_for_the_next_token() -> None:
    """Rate 2/s, burst 1: requests at 0, 0.1, 0.2 are served at 0, 0.5, 1.0."""
    bucket = TokenBucket(2, 1)
    assert bucket.reserve(0.0) == 0.0
    assert bucket.reserve(0.1) == pytest.approx(0.4)
    assert bucket.reserve(0.2) == pytest.approx(0.8)


def _max_excess(times: list[float], rate: float, burst: float) -> float:
    """The largest count − (rate × span + burst) over every window between two passes."""
    worst = float("-inf")
    for i in range(len(times)):
        for j in range(i, len(times)):
            worst = max(worst, (j - i + 1) - (rate * (times[j] - times[i]) + burst))
    return worst


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0.5, 200), burst=st.integers(1, 20),
       gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=80), wait=st.booleans())
def test_token_bucket_never_exceeds_rate_times_time_plus_burst(rate: float, burst: int, gaps: list[float], wait: bool) -> None:
    bucket = TokenBucket(rate, burst)
    now, free_at, passed = 0.0, 0.0, []
    for gap in gaps:
        now += gap
        if wait:  # a waiting producer: the next request is sent once the previous one got its token
            start = max(now, free_at)
            free_at = start + bucket.reserve(start)
            passed.append(free_at)
        elif bucket.try_take(now):
            passed.append(now)
    assert _max_excess(passed, rate, burst) <= 1e-6


def _limited(on_limit: str) -> str:
    return f"""
name: limited
duration: 10s
producers:
  - name: clients
    to: queue
    arrivals: {{process: constant, rate: 8/s}}
    rate_limit: {{rate: 4/s, burst: 2, on_limit: {on_limit}}}
buffers:
  - name: queue
    capacity: 100
    policy: drop_newest
consumers:
  - name: workers
    from: queue
    service: 0.0625
"""


def test_rate_limit_drop_discards_at_the_source() -> None:
    """8/s against 4/s + burst 2: the hand trace above over 10 s; the rest is discarded on purpose."""
    summary = simbp.run(_limited("drop")).summary
    clients = summary["components"]["clients"]
    assert summary["produced"] == 79  # 0.125 … 9.875
    # passes: 0.125, 0.25, 0.375, then every 0.25 s from 0.625 to 9.875: 3 + 38
    assert clients["rate_limit"]["passed"] == 41
    assert summary["discarded"] == clients["discarded_by"]["rate_limit"] == 79 - 41
    assert summary["consumed"] == 41 and summary["dropped"] == 0
    assert summary["verdict"] == "healthy"


def test_rate_limit_wait_slows_the_producer_instead() -> None:
    summary = simbp.run(_limited("wait")).summary
    assert summary["discarded"] == 0
    assert summary["producer_blocked_fraction"] > 0.4
    assert summary["consumed"] <= 4 * 10 + 2  # never more than rate × time + burst
    assert summary["produced"] == summary["consumed"] + summary["in_flight_at_end"]


def test_priority_shedding_sheds_only_the_low_class() -> None:
    """A queue shedding `low` at depth 3, drained at 2/s, fed 4/s by each class: `low` is turned away
    whenever 3 are waiting; `high` is only ever dropped by the full queue (capacity 20)."""
    text = """
name: shedding
duration: 20s
producers:
  - name: high_traffic
    to: queue
    arrivals: {process: constant, rate: 4/s}
    priority: high
  - name: low_traffic
    to: queue
    arrivals: {process: constant, rate: 4/s}
    priority: low
buffers:
  - name: queue
    capacity: 20
    policy: drop_newest
    shed: {low: 3}
consumers:
  - name: workers
    from: queue
    service: 0.5
"""
    summary = simbp.run(text).summary
    components = summary["components"]
    assert components["low_traffic"]["discarded_by"] == {"shed": components["low_traffic"]["discarded"]}
    assert components["low_traffic"]["discarded"] > 60
    assert "discarded" not in components["high_traffic"]  # a class that is never shed keeps the core producer
    assert components["queue"]["shed"]["shed"] == {"low": components["low_traffic"]["discarded"]}
    assert components["queue"]["dropped"] > 0  # high traffic alone (4/s) still outruns 2/s
    accounted = summary["consumed"] + summary["dropped"] + summary["discarded"] + summary["in_flight_at_end"]
    assert summary["produced"] == accounted


def test_shedding_an_unknown_class_is_an_error() -> None:
    text = """
name: bad
duration: 1s
producers:
  - name: p
    to: q
    arrivals: {process: constant, rate: 1/s}
    priority: high
buffers:
  - name: q
    capacity: 5
    policy: drop_newest
    shed: {lowest: 3}
"""
    with pytest.raises(simbp.ScenarioError) as error:
        simbp.load_scenario(text)
    problem = error.value.problems[0]
    assert problem.field == "buffers[0].shed.lowest" and problem.line == 13  # the text opens with a newline
