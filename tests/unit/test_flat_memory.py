"""The simulator's own memory stays flat in the length of the run: queued items are stored
compactly, the time series is bounded by the sample count, latencies go to a bounded sketch."""

from __future__ import annotations

import sys

import simpy

import simbp
from simbp.exact.buffer import ACCEPTED, Buffer
from simbp.exact.consumer import _FLUSH_EVERY
from simbp.exact.model import Model
from simbp.scenario import BufferSpec
from simbp.service import Service


def test_a_queued_item_costs_about_sixteen_bytes() -> None:
    """Two array('d') columns (creation time, bytes): 16 bytes an item, plus the arrays' spare room."""
    env = simpy.Environment()
    buffer = Buffer(env, BufferSpec(name="inbox", policy="unbounded"), Service(env, None))
    items = 200_000
    for index in range(items):
        assert buffer.put(float(index), 1024.0) == ACCEPTED
    assert buffer.depth == items and buffer.bytes == items * 1024.0
    allocated = sys.getsizeof(buffer._created) + sys.getsizeof(buffer._sizes)  # an array's size counts its spare room
    assert 16 <= allocated / items < 20


def _scenario(rate: float) -> simbp.Scenario:
    return simbp.load_scenario(f"""
name: flat
duration: 10
sample_interval: 0.5
producers: [{{name: p, to: q, arrivals: {{process: poisson, rate: {rate}}}}}]
buffers: [{{name: q, policy: unbounded}}]
consumers: [{{name: c, from: q, workers: 8, service: {{dist: exponential, mean: 1ms}}}}]
""")


def test_time_series_length_is_the_sample_count_whatever_the_message_count() -> None:
    light, heavy = simbp.run(_scenario(100)), simbp.run(_scenario(5000))  # 1,000 against 50,000 messages
    assert heavy.summary["produced"] > 40 * light.summary["produced"]
    assert len(light.timeseries) == len(heavy.timeseries) == 21  # t = 0, 0.5, …, 10
    fast = simbp.run(_scenario(5000), mode="fast")
    assert len(fast.timeseries) == 21


def test_latencies_are_kept_in_a_bounded_buffer_before_the_sketch() -> None:
    model = Model(_scenario(5000))
    group = model.groups["c"]
    longest = 0

    def watch() -> object:
        nonlocal longest
        while True:
            yield model.env.timeout(0.01)
            longest = max(longest, len(group.latencies))

    model.env.process(watch())
    model.run()
    assert group.consumed > 40_000
    assert longest < _FLUSH_EVERY
    assert model.sketch_by_group["c"].counts.nbytes < 64 * 1024
