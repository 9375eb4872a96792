"""Node.js stream backpressure: write() returns false at the highWaterMark, 'drain' when empty.

Hand-traced cases use times that are exact in binary (quarters of a second), so every write,
pause and drain is known.
"""

from __future__ import annotations

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

import simbp
from simbp.errors import ScenarioError
from simbp.exact.model import Model
from simbp.exact.systems.streams import WritableBuffer
from simbp.scenario import BufferSpec, parse_scenario_dict, set_path
from simbp.service import Service


def _one_stage(backpressure: str, duration: float, mark: int = 3) -> str:
    return f"""
name: stream
duration: {duration}
producers:
  - name: source
    to: writable
    arrivals: {{process: constant, rate: 4/s}}
    size: 1KiB
    on_backpressure: {backpressure}
buffers:
  - name: writable
    high_water_mark: {mark}
consumers:
  - name: sink
    from: writable
    workers: 1
    service: 1s
"""


def test_write_returns_false_at_the_mark_and_only_drain_on_empty_releases() -> None:
    """A writable alone: write() is true below the mark, false at it; 'drain' waits for empty."""
    env = simpy.Environment()
    buffer = WritableBuffer(env, BufferSpec(name="w", high_water_mark=2), Service(env, None))
    assert buffer.policy == "unbounded"
    buffer.put(0.0, 10.0)
    assert buffer.write_ok is True  # length 1 < 2
    buffer.put(0.0, 10.0)
    assert buffer.write_ok is False  # length 2: at the mark
    buffer.put(0.0, 10.0)
    assert buffer.write_ok is False and buffer.depth == 3  # the chunk is accepted all the same
    drain = buffer.drained()
    assert buffer.take() is not None and buffer.take() is not None
    assert buffer.take() is not None
    assert not drain.triggered  # the last take() returned the last chunk: it is still being written
    assert buffer.take() is None  # the writer finished it and found nothing: length 0
    assert drain.triggered and buffer.drains == 1 and buffer.need_drain is False
    buffer.put(0.0, 10.0)
    assert buffer.write_ok is True


def test_write_counts_bytes_with_a_byte_mark() -> None:
    env = simpy.Environment()
    buffer = WritableBuffer(env, BufferSpec(name="w", high_water_mark="2KiB"), Service(env, None))
    buffer.put(0.0, 1024.0)
    assert buffer.write_ok is True
    buffer.put(0.0, 512.0)
    assert buffer.write_ok is True  # 1.5 KiB < 2 KiB
    buffer.put(0.0, 512.0)
    assert buffer.write_ok is False  # 2 KiB: at the mark


def test_piped_source_pauses_at_the_mark_and_resumes_at_drain() -> None:
    """Writes every 0.25 s into a writable with highWaterMark 3 whose _write() takes 1 s.

    0.25: handed to _write (length 1, true); 0.5: buffered (2, true); 0.75: buffered (3, false):
    pause. _write finishes at 1.25, 2.25, 3.25; at 3.25 the length is 0: 'drain', the source
    resumes with the arrival due at 3.25 and repeats: false at 3.75, drain at 6.25, false at 6.75.
    By 7 s: 9 written, 6 finished, 3 in flight; paused 2.5 + 2.5 + 0.25 = 5.25 s.
    """
    summary = simbp.run(_one_stage("pause", 7.0)).summary
    source, writable = summary["components"]["source"], summary["components"]["writable"]
    assert summary["produced"] == 9
    assert summary["consumed"] == 6
    assert summary["in_flight_at_end"] == 3
    assert writable["writes_returned_false"] == 3
    assert writable["drains"] == 2
    assert writable["peak_queue_depth"] == 2  # plus the chunk in _write(): 3, the mark
    assert source["pauses"] == 3
    assert source["paused_s"] == pytest.approx(5.25)
    assert summary["peak_memory_bytes"] == pytest.approx(3 * 1024)


def test_naive_source_ignores_false_and_the_buffer_grows() -> None:
    """The same stage with on_backpressure: ignore: 4 writes a second against 1 done a second."""
    summary = simbp.run(_one_stage("ignore", 7.0)).summary
    writable = summary["components"]["writable"]
    assert summary["produced"] == 27  # 0.25, 0.5, … 6.75 (an arrival at the end time is not produced)
    assert writable["writes_returned_false"] == 27 - 2  # only the first two were below the mark
    assert writable["drains"] == 0
    assert writable["peak_queue_depth"] == 27 - 1 - 6  # all but the one in _write and the 6 finished
    assert summary["producer_blocked_fraction"] == 0.0


def test_naive_source_crashes_the_service_and_piped_one_does_not() -> None:
    base = simbp.load_scenario("scenarios/node_pipe.yaml")
    piped = simbp.run(base.with_changes({"duration": 10})).summary
    naive = simbp.run(base.with_changes({"duration": 10, "producers.upload.on_backpressure": "ignore"})).summary
    assert piped["crashes"] == 0 and piped["peak_memory_bytes"] <= 64 * 1024
    assert naive["crashes"] >= 1 and naive["lost_in_crash"] > 0


def test_backpressure_passes_upstream_through_a_transform() -> None:
    """readable (mark 2) -> transform (instant) -> writable (mark 2) -> sink (1 s a chunk).

    The sink sets the pace: the transform pauses on the writable's false (every other chunk), the
    readable fills to its mark and the source pauses. Every buffer stays at or under its mark.
    """
    text = """
name: chain
duration: 60s
producers:
  - name: source
    to: readable
    arrivals: {process: constant, rate: 10/s}
buffers:
  - name: readable
    high_water_mark: 2
  - name: writable
    high_water_mark: 2
consumers:
  - name: transform
    from: readable
    to: writable
    service: 0
  - name: sink
    from: writable
    service: 1s
"""
    summary = simbp.run(text).summary
    components = summary["components"]
    assert components["readable"]["peak_queue_depth"] <= 2
    assert components["writable"]["peak_queue_depth"] <= 2
    assert components["transform"]["pauses"] >= 25
    assert components["source"]["pauses"] >= 10
    assert summary["producer_blocked_fraction"] > 0.8  # the source sends about 1 of the 10 a second it could
    assert summary["consumed"] == pytest.approx(59, abs=1)
    assert summary["in_flight_at_end"] <= 5  # bounded by the marks
    assert summary["produced"] == summary["consumed"] + summary["in_flight_at_end"]


@settings(max_examples=15, deadline=None)
@given(mark=st.integers(1, 20), rate=st.integers(50, 400), mean_ms=st.integers(2, 20), seed=st.integers(0, 1000))
def test_a_piped_source_never_holds_more_than_the_mark(mark: int, rate: int, mean_ms: int, seed: int) -> None:
    """With one piping source, length (buffered + being written) never passes the highWaterMark."""
    text = f"""
name: prop
duration: 5s
seed: {seed}
producers:
  - name: source
    to: writable
    arrivals: {{process: poisson, rate: {rate}/s}}
buffers:
  - name: writable
    high_water_mark: {mark}
consumers:
  - name: sink
    from: writable
    service: {{dist: exponential, mean: {mean_ms}ms}}
"""
    summary = simbp.run(text).summary
    assert summary["components"]["writable"]["peak_queue_depth"] <= max(mark - 1, 1)
    assert summary["produced"] == summary["consumed"] + summary["in_flight_at_end"]


def test_core_scenarios_build_no_stream_machinery() -> None:
    """A scenario without these keys keeps the core classes: nothing is added per message."""
    model = Model(simbp.load_scenario("scenarios/quickstart.yaml"))
    assert model.systems is None
    assert all(type(b).__name__ == "Buffer" for b in model.buffers.values())
    assert all(type(p).__name__ == "Producer" for p in model.producers)


@pytest.mark.parametrize("change, field", [
    ({"buffers.writable.policy": "drop_newest", "buffers.writable.capacity": 10}, "buffers[0].policy"),
    ({"buffers.writable.high_water_mark": None}, "producers[0].on_backpressure"),
])
def test_stream_keys_are_checked(change: dict, field: str) -> None:
    scenario = simbp.load_scenario(_one_stage("pause", 5.0))
    with pytest.raises(ScenarioError) as error:
        parse_scenario_dict(_changed(scenario, change))
    assert error.value.problems[0].field == field


def _changed(scenario: simbp.Scenario, change: dict) -> dict:
    data = scenario.model_dump(by_alias=True)
    for path, value in change.items():
        set_path(data, path, value)
    return data


@settings(max_examples=12, deadline=None)
@given(mark=st.integers(1, 8), backpressure=st.sampled_from(["pause", "ignore"]), rate=st.integers(100, 800),
       limit_kib=st.integers(20, 200), seed=st.integers(0, 1000))
def test_conservation_holds_through_crashes_with_streams(mark: int, backpressure: str, rate: int, limit_kib: int, seed: int) -> None:
    """A naive or piping source, a transform and a writable in a service that may run out of memory."""
    text = f"""
name: prop
duration: 4s
seed: {seed}
memory: {{limit: {limit_kib}KiB, restart_after: 0.5s}}
producers:
  - name: source
    to: readable
    arrivals: {{process: poisson, rate: {rate}/s}}
    size: 1KiB
    on_backpressure: {backpressure}
buffers:
  - name: readable
    high_water_mark: {mark}
  - name: writable
    high_water_mark: {mark}
consumers:
  - name: transform
    from: readable
    to: writable
    service: {{dist: exponential, mean: 1ms}}
    on_backpressure: {backpressure}
  - name: sink
    from: writable
    service: {{dist: exponential, mean: 5ms}}
"""
    summary = simbp.run(text).summary
    assert summary["produced"] == summary["consumed"] + summary["lost_in_crash"] + summary["in_flight_at_end"]
    if backpressure == "pause":
        assert summary["crashes"] == 0  # 2 marks of at most 8 KiB each never reach a 20 KiB limit


def test_same_seed_same_results_with_every_mechanism() -> None:
    for name in ("retry_storm", "rxjs_debounce", "downstream_without_semaphore", "token_bucket", "node_naive_write"):
        scenario = simbp.load_scenario(f"scenarios/{name}.yaml").with_changes({"duration": 8})
        first, second = simbp.run(scenario, seed=5), simbp.run(scenario, seed=5)
        assert first.to_json() == second.to_json()
        assert first.timeseries.equals(second.timeseries)


def test_drain_fires_when_byte_sizes_are_not_whole_numbers() -> None:
    """A byte mark with fractional chunk sizes: the buffered bytes, summed and taken away in floating
    point, need not return to exactly 0; 'drain' still fires once no chunk is buffered or in `_write()`
    (before the fix the source stayed paused for good after its first false write)."""
    text = _one_stage("pause", 30).replace("rate: 4/s", "rate: 900/s").replace(
        "size: 1KiB", "size: {dist: uniform, low: 100.3, high: 2000.7}").replace(
        "high_water_mark: 3", "high_water_mark: 16KiB").replace("service: 1s", "service: {dist: exponential, mean: 1ms}")
    summary = simbp.run(simbp.load_scenario(text), mode="exact").summary
    writable = summary["components"]["writable"]
    assert writable["writes_returned_false"] > 10 and writable["drains"] == writable["writes_returned_false"]
    assert summary["producer_blocked_fraction"] < 0.5 and summary["consumed"] > 20_000
