"""Properties that hold for every scenario (hypothesis): conservation, capacity, block, determinism.

Scenarios are random pipelines: one or two producers feed the first buffer of a chain of one to
three stages (each buffer drained by one consumer group, each group forwarding to the next buffer,
the last one a sink), with every policy, capacities from 0, batches, block time-outs and a memory
limit small enough to crash, with or without restart. Runs are a few seconds of simulated time.

Every property runs on both engines: exact mode on everything drawn, fast mode on the core it
models (`core=True`: no batches, block time-outs only where producers block, one consumer group per
buffer; what fast mode cannot model is declared in `simbp.semantics`, and the drawn scenario is checked
against it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simbp
from simbp.fast.model import unsupported
from simbp.results import Results

POLICIES = ("block", "drop_newest", "drop_oldest", "unbounded")
MODES = ("exact", "fast")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

durations = st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0])


@st.composite
def service_times(draw: st.DrawFn) -> Any:
    mean = draw(st.sampled_from([0.02, 0.05, 0.1, 0.2]))
    return draw(st.sampled_from([
        mean,
        {"dist": "exponential", "mean": mean},
        {"dist": "uniform", "low": mean / 2, "high": mean * 1.5},
        {"dist": "gamma", "mean": mean, "shape": 0.5},
    ]))


@st.composite
def buffers(draw: st.DrawFn, name: str, policies: tuple[str, ...] = POLICIES, core: bool = False) -> dict[str, Any]:
    policy = draw(st.sampled_from(policies))
    buffer: dict[str, Any] = {"name": name, "policy": policy}
    if policy != "unbounded":
        buffer["capacity"] = draw(st.integers(min_value=0, max_value=6))
    # fast mode gives up blocked producers (the first stage); forwarding workers' waits stay exact mode's
    if policy == "block" and (not core or name == "stage0") and draw(st.booleans()):
        buffer["block_timeout"] = draw(durations)
    return buffer


@st.composite
def scenarios(draw: st.DrawFn, policies: tuple[str, ...] = POLICIES, sized: bool | None = None,
              core: bool = False) -> dict[str, Any]:
    """A random pipeline scenario as a plain dict (the YAML a user would write); `core`: only what
    fast mode models."""
    stages = draw(st.integers(min_value=1, max_value=3))
    constant_size = draw(st.booleans()) if sized is None else sized
    producers = []
    for index in range(draw(st.integers(min_value=1, max_value=2))):
        process = draw(st.sampled_from(["constant", "poisson", "bursty"]))
        rate = draw(st.sampled_from([5, 10, 20, 40]))
        if process == "bursty":
            arrivals: dict[str, Any] = {"process": "bursty", "on": {"rate": rate * 3, "duration": 1.0},
                                        "off": {"rate": rate / 5, "duration": 1.5}}
        else:
            arrivals = {"process": process, "rate": rate}
        producers.append({"name": f"producer{index}", "to": "stage0", "arrivals": arrivals,
                          "size": 100 if constant_size else {"dist": "exponential", "mean": 100}})
    consumers = []
    for index in range(stages):
        consumer: dict[str, Any] = {"name": f"group{index}", "from": f"stage{index}",
                                    "workers": draw(st.integers(min_value=1, max_value=3))}
        if index + 1 < stages:
            consumer["to"] = f"stage{index + 1}"
        if not core and draw(st.integers(min_value=0, max_value=4)) == 0:
            consumer["batch"] = {"size": draw(st.integers(min_value=1, max_value=4)),
                                 "timeout": draw(st.sampled_from([0, 0.1, 0.5])),
                                 "fixed": draw(st.sampled_from([0.02, 0.1])), "per_item": 0.02}
        else:
            consumer["service"] = draw(service_times())
        consumers.append(consumer)
    scenario: dict[str, Any] = {
        "name": "property",
        "duration": draw(st.sampled_from([3, 6, 10])),
        "sample_interval": 0.5,
        "seed": draw(st.integers(min_value=0, max_value=2**31)),
        "producers": producers,
        "buffers": [draw(buffers(f"stage{index}", policies, core)) for index in range(stages)],
        "consumers": consumers,
    }
    if draw(st.booleans()):
        memory: dict[str, Any] = {"limit": draw(st.sampled_from([300, 1000, 3000]))}
        restart = draw(st.sampled_from([None, 0.5, 2.0]))
        if restart is not None:
            memory["restart_after"] = restart
        scenario["memory"] = memory
    return scenario


def run(data: dict[str, Any], mode: str = "exact") -> Results:
    scenario = simbp.load_scenario(yaml.safe_dump(data, sort_keys=False))
    if mode == "fast":
        assert not unsupported(scenario), unsupported(scenario)  # the strategy drew only the core
    return simbp.run(scenario, mode=mode)


def rejected(buffer: dict[str, Any]) -> int:
    """Items a buffer turned away on arrival (drop_oldest with room to evict drops old items instead)."""
    if buffer["policy"] == "drop_oldest" and buffer["capacity"] > 0:
        return 0
    return int(buffer["dropped"])


def evicted(buffer: dict[str, Any]) -> int:
    """Items a buffer accepted and later dropped to make room (drop_oldest)."""
    return int(buffer["dropped"]) - rejected(buffer)


@pytest.mark.parametrize("mode", MODES)
@SETTINGS
@given(choice=st.data())
def test_conservation_end_to_end_and_per_component(mode: str, choice: st.DataObject) -> None:
    """produced = consumed + dropped + timed_out + lost_in_crash + in_flight_at_end, exactly, and
    the same balance holds at every producer, buffer and consumer along the pipeline."""
    data = choice.draw(scenarios(core=mode == "fast"), label="scenario")
    results = run(data, mode)
    summary = results.summary
    assert summary["produced"] == (summary["consumed"] + summary["dropped"] + summary["timed_out"]
                                   + summary["lost_in_crash"] + summary["in_flight_at_end"])
    components = summary["components"]
    kinds: dict[str, list[dict[str, Any]]] = {"producer": [], "buffer": [], "consumer": []}
    for entry in components.values():
        kinds[entry["kind"]].append(entry)
    # every loss and every message in flight is attributed to exactly one component
    for key in ("dropped", "timed_out", "lost_in_crash", "in_flight_at_end"):
        assert sum(entry.get(key, 0) for entry in components.values()) == summary[key], key
    assert sum(entry["produced"] for entry in kinds["producer"]) == summary["produced"]
    assert sum(entry["consumed"] for entry in kinds["consumer"]) == summary["consumed"]

    # the chain: producers → stage0 → group0 → stage1 → group1 → … → sink
    offered = sum(p["produced"] - p["lost_in_crash"] - p["timed_out"] - p["in_flight_at_end"] for p in kinds["producer"])
    stages = len(data["buffers"])
    for index in range(stages):
        buffer, group = components[f"stage{index}"], components[f"group{index}"]
        assert offered == buffer["accepted"] + rejected(buffer), f"stage{index} offered"
        delivered = buffer["accepted"] - evicted(buffer) - buffer["lost_in_crash"] - buffer["in_flight_at_end"]
        assert delivered >= 0
        done = group["consumed"] if index == stages - 1 else group["forwarded"]
        out_of_group = done + group["timed_out"] + group["lost_in_crash"] + group["in_flight_at_end"]
        if index + 1 < stages:
            out_of_group += rejected(components[f"stage{index + 1}"])
            offered = group["forwarded"] + rejected(components[f"stage{index + 1}"])
        assert delivered == out_of_group, f"group{index} balance"

    # one latency per consumed message; the time series adds up to the summary
    assert summary["latency_s"]["count"] == summary["consumed"]
    frame = results.timeseries
    for key in ("produced", "dropped", "timed_out", "lost_in_crash", "consumed"):
        assert frame[key].sum() == summary[key], key
    assert frame["in_flight"].iloc[-1] == summary["in_flight_at_end"]
    assert summary["verdict"] in simbp.scenario.VERDICTS


@pytest.mark.parametrize("mode", MODES)
@SETTINGS
@given(choice=st.data())
def test_memory_is_the_bytes_of_what_the_service_holds(mode: str, choice: st.DataObject) -> None:
    """With 100-byte messages, memory at the end is 100 B per message held inside the service
    (in buffers and at workers; a producer's blocked message is not inside yet), and the peak
    never passes the limit except by the one message that crashed it."""
    data = choice.draw(scenarios(sized=True, core=mode == "fast"), label="scenario")
    results = run(data, mode)
    summary = results.summary
    held_by_producers = sum(c["in_flight_at_end"] for c in summary["components"].values() if c["kind"] == "producer")
    inside = summary["in_flight_at_end"] - held_by_producers
    assert results.timeseries["memory_bytes"].iloc[-1] == 100 * inside
    limit = summary["memory_limit_bytes"]
    if limit is not None:
        assert summary["peak_memory_bytes"] <= limit + 100
        assert (summary["crashes"] > 0) == (summary["peak_memory_bytes"] > limit)


@pytest.mark.parametrize("mode", MODES)
@SETTINGS
@given(choice=st.data())
def test_depth_never_exceeds_capacity_and_block_never_drops(mode: str, choice: st.DataObject) -> None:
    data = choice.draw(scenarios(core=mode == "fast"), label="scenario")
    results = run(data, mode)
    components = results.summary["components"]
    for spec in data["buffers"]:
        buffer = components[spec["name"]]
        if spec["policy"] != "unbounded":
            assert buffer["peak_queue_depth"] <= spec["capacity"]
            assert results.timeseries[f"{spec['name']}.depth"].max() <= spec["capacity"]
        if spec["policy"] == "block":
            assert buffer["dropped"] == 0
    if all(spec["policy"] == "block" for spec in data["buffers"]):
        assert results.summary["dropped"] == 0
        if all("block_timeout" not in spec for spec in data["buffers"]):
            assert results.summary["timed_out"] == 0


@pytest.mark.parametrize("mode", MODES)
@SETTINGS
@given(choice=st.data())
def test_same_seed_same_results(mode: str, choice: st.DataObject) -> None:
    data = choice.draw(scenarios(core=mode == "fast"), label="scenario")
    first, second = run(data, mode), run(data, mode)
    assert first.to_json() == second.to_json()
    pd.testing.assert_frame_equal(first.timeseries, second.timeseries)
    pd.testing.assert_frame_equal(first.events, second.events)


@pytest.mark.parametrize("mode", MODES)
@SETTINGS
@given(choice=st.data())
def test_changing_one_buffer_policy_leaves_the_arrivals_identical(mode: str, choice: st.DataObject) -> None:
    """Arrivals come from the producers' own random streams, so switching one buffer between the
    non-blocking policies (which never hold a producer back) changes what is lost, not what arrives."""
    data = choice.draw(scenarios(policies=("drop_newest", "drop_oldest", "unbounded"), core=mode == "fast"), label="scenario")
    index = choice.draw(st.integers(min_value=0, max_value=len(data["buffers"]) - 1))
    changed = {**data, "buffers": list(data["buffers"])}
    changed["buffers"][index] = choice.draw(buffers(f"stage{index}", ("drop_newest", "drop_oldest", "unbounded")))
    before, after = run(data, mode), run(changed, mode)
    assert before.summary["produced"] == after.summary["produced"]
    assert np.array_equal(before.timeseries["produced"].to_numpy(), after.timeseries["produced"].to_numpy())


@st.composite
def networks(draw: st.DrawFn, core: bool = False) -> dict[str, Any]:
    """Any acyclic topology: producers into any buffer, several groups competing for one buffer,
    groups forwarding to any later buffer, warm-up, memory overhead and a late-starting producer;
    `core`: only what fast mode models (one group per buffer, no batches, no block time-outs)."""
    count = draw(st.integers(min_value=1, max_value=4))
    names = [f"stage{index}" for index in range(count)]
    consumers = []
    for index, name in enumerate(names):
        for group in range(1 if core else draw(st.integers(min_value=1, max_value=2))):
            consumer: dict[str, Any] = {"name": f"group{index}_{group}", "from": name,
                                        "workers": draw(st.integers(min_value=1, max_value=3))}
            later = names[index + 1:]
            if later and draw(st.booleans()):
                consumer["to"] = draw(st.sampled_from(later))
            if not core and draw(st.integers(min_value=0, max_value=3)) == 0:
                consumer["batch"] = {"size": draw(st.integers(min_value=1, max_value=5)),
                                     "timeout": draw(st.sampled_from([0, 0.05, 0.3])), "per_item": 0.03}
            else:
                consumer["service"] = draw(service_times())
            consumers.append(consumer)
    producers = []
    for index in range(draw(st.integers(min_value=1, max_value=3))):
        producer: dict[str, Any] = {"name": f"producer{index}", "to": draw(st.sampled_from(names)),
                                    "arrivals": {"process": draw(st.sampled_from(["constant", "poisson"])),
                                                 "rate": draw(st.sampled_from([5, 20, 60]))},
                                    "size": draw(st.sampled_from([64, {"dist": "uniform", "low": 10, "high": 200}]))}
        if draw(st.booleans()):
            producer["start"] = draw(st.sampled_from([0.5, 2.0]))
            producer["stop"] = producer["start"] + draw(st.sampled_from([0.5, 3.0]))
        producers.append(producer)
    scenario: dict[str, Any] = {
        "name": "network", "duration": draw(st.sampled_from([2, 5, 8])), "sample_interval": 0.5,
        "warmup": draw(st.sampled_from([0, 1])), "seed": draw(st.integers(min_value=0, max_value=2**31)),
        "producers": producers, "buffers": [draw(buffers(name, core=core)) for name in names], "consumers": consumers,
    }
    if draw(st.booleans()):
        scenario["memory"] = {"limit": draw(st.sampled_from([500, 2000, 8000])),
                              "per_item_overhead": draw(st.sampled_from([0, 32])),
                              "baseline": draw(st.sampled_from([0, 100]))}
        if draw(st.booleans()):
            scenario["memory"]["restart_after"] = draw(st.sampled_from([0.3, 1.0]))
    return scenario


@pytest.mark.parametrize("mode", MODES)
@SETTINGS
@given(choice=st.data())
def test_conservation_capacity_and_block_in_any_topology(mode: str, choice: st.DataObject) -> None:
    data = choice.draw(networks(core=mode == "fast"), label="scenario")
    results = run(data, mode)
    summary = results.summary
    assert summary["produced"] == (summary["consumed"] + summary["dropped"] + summary["timed_out"]
                                   + summary["lost_in_crash"] + summary["in_flight_at_end"])
    components = summary["components"]
    for key in ("dropped", "timed_out", "lost_in_crash", "in_flight_at_end"):
        assert sum(entry.get(key, 0) for entry in components.values()) == summary[key], key
        assert all(entry.get(key, 0) >= 0 for entry in components.values()), key
    frame = results.timeseries
    for key in ("produced", "dropped", "timed_out", "lost_in_crash", "consumed"):
        assert frame[key].sum() == summary[key], key
    for spec in data["buffers"]:
        buffer = components[spec["name"]]
        if spec["policy"] != "unbounded":
            assert buffer["peak_queue_depth"] <= spec["capacity"]
        if spec["policy"] == "block":
            assert buffer["dropped"] == 0
    for spec in data["consumers"]:
        group = components[spec["name"]]
        assert -1e-9 <= group["utilisation"] <= 1.0 + 1e-9  # busy time is a float difference
