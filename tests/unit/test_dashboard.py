"""simbp.dashboard without Streamlit: the library, knobs derived from scenarios, edits, comparison, downloads."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from repo import ROOT

import simbp
from simbp import dashboard
from simbp.dashboard.compare import comparison_figures
from simbp.scenario import VERDICTS

# 300 messages/s against one worker of 5 ms (200/s): overloaded, so every policy shows its failure.
OVERLOAD = """\
name: overload
description: One worker cannot keep up; the buffer decides how it fails.
duration: 20s
seed: 3
memory:
  limit: 1MiB
producers:
  - name: web
    to: queue
    arrivals: {process: poisson, rate: 300/s}
    size: 2KiB
buffers:
  - name: queue
    capacity: 100
    policy: drop_newest
consumers:
  - name: workers
    from: queue
    workers: 1
    service: {dist: lognormal, mean: 5ms, sigma: 0.5}
"""

BURSTY = """\
name: bursts
duration: 20s
producers:
  - name: campaigns
    to: notifications
    arrivals: {process: bursty, on: {rate: 600/s, duration: 2s}, off: {rate: 50/s, duration: 8s}}
buffers:
  - name: notifications
    capacity: 100
    policy: block
    block_timeout: 1s
consumers:
  - name: senders
    from: notifications
    workers: 2
    batch: {size: 10, timeout: 10ms, fixed: 5ms, per_item: {dist: uniform, low: 1ms, high: 3ms}}
"""


def knobs_by_key(text: str) -> dict[str, dashboard.Knob]:
    return {k.key: k for k in dashboard.derive_knobs(dashboard.load_text(text))}


# --------------------------------------------------------------------------- library
def test_library_lists_every_scenario_file_with_its_description() -> None:
    entries = dashboard.library_scenarios(ROOT / "scenarios")
    files = sorted(p.name for p in (ROOT / "scenarios").glob("*.y*ml"))
    assert [e.file for e in entries] == files
    quickstart = next(e for e in entries if e.file == "quickstart.yaml")
    assert quickstart.name == "quickstart" and "900 messages a second" in quickstart.description
    assert entries[dashboard.default_library_index(entries)].file == "quickstart.yaml"


def test_library_reports_a_broken_file_instead_of_hiding_it(tmp_path: Path) -> None:
    (tmp_path / "a_broken.yaml").write_text("name: x\nduration: -5s\n")
    (tmp_path / "b_good.yml").write_text(OVERLOAD)
    entries = dashboard.library_scenarios(tmp_path)
    assert [e.file for e in entries] == ["a_broken.yaml", "b_good.yml"]
    assert entries[0].problem is not None and "duration" in entries[0].problem
    assert entries[1].problem is None and entries[1].name == "overload"
    assert dashboard.default_library_index(entries) == 1  # no quickstart: the first valid file


def test_problem_lines_give_the_line_and_field() -> None:
    broken = OVERLOAD.replace("workers: 1", "workers: 0")
    line = broken.splitlines().index("    workers: 0") + 1
    with pytest.raises(simbp.ScenarioError) as caught:
        dashboard.load_text(broken, label="mine.yaml")
    lines = dashboard.problem_lines(caught.value)
    assert any(text.startswith(f"line {line}, consumers[0].workers:") for text in lines), lines


def test_problem_lines_for_broken_yaml_syntax() -> None:
    with pytest.raises(simbp.ScenarioError) as caught:
        dashboard.load_text("name: x\nproducers: [\n  {name: a\n")
    (line,) = dashboard.problem_lines(caught.value)
    assert line.startswith("line ") and "not valid YAML" in line


# --------------------------------------------------------------------------- knobs
def test_knobs_of_the_quickstart_carry_its_values() -> None:
    knobs = knobs_by_key((ROOT / "scenarios" / "quickstart.yaml").read_text())
    expected = {
        "load_multiplier": 1.0, "producers.web.arrivals.rate": 900.0, "buffers.queue.policy": "drop_newest",
        "buffers.queue.capacity": 5000, "consumers.workers.workers": 4, "consumers.workers.service": 4.0,
        "memory.limit": 256.0, "duration": 300.0, "seed": 7,
    }
    assert {key: knobs[key].value for key in expected} == expected
    assert set(knobs) == set(expected)  # no burst or partition knobs where there are no bursts or topics
    assert knobs["buffers.queue.policy"].options == ("block", "drop_newest", "drop_oldest", "unbounded")
    for knob in knobs.values():
        if knob.widget != "select":
            assert knob.minimum <= knob.value <= knob.maximum, knob
            assert type(knob.minimum) is type(knob.value) is type(knob.maximum) is type(knob.step), knob
    positive = ["load_multiplier", "producers.web.arrivals.rate", "consumers.workers.service", "memory.limit", "duration"]
    assert all(knobs[key].minimum > 0 for key in positive)


def test_bursty_and_batch_scenarios_get_burst_shape_and_batch_cost_knobs() -> None:
    knobs = knobs_by_key(BURSTY)
    assert knobs["producers.campaigns.arrivals.on.rate"].value == 600.0
    assert knobs["producers.campaigns.arrivals.on.duration"].value == 2.0
    assert knobs["producers.campaigns.arrivals.off.rate"].value == 50.0
    assert knobs["producers.campaigns.arrivals.off.duration"].value == 8.0
    assert "producers.campaigns.arrivals.rate" not in knobs
    cost = knobs["consumers.senders.service"]
    assert cost.value == pytest.approx((5 + 10 * 2) / 10)  # ms per item at a full batch
    assert "memory.limit" not in knobs  # no memory section, no memory knob


def test_unchanged_knobs_leave_the_text_untouched() -> None:
    knobs = dashboard.derive_knobs(dashboard.load_text(OVERLOAD))
    assert dashboard.apply_knobs(OVERLOAD, knobs, {k.key: k.value for k in knobs}) == OVERLOAD


def test_apply_knobs_writes_each_value_and_nothing_else() -> None:
    base = dashboard.load_text(OVERLOAD)
    knobs = dashboard.derive_knobs(base)
    edited = dashboard.apply_knobs(OVERLOAD, knobs, {
        "consumers.workers.workers": 3, "producers.web.arrivals.rate": 450.0, "memory.limit": 4.0,
        "duration": 30.0, "seed": 9, "load_multiplier": 1.5, "buffers.queue.capacity": 250,
    })
    assert "rate: 450/s" in edited and "limit: 4MiB" in edited  # human units kept
    scenario = dashboard.load_text(edited)
    assert scenario.consumers[0].workers == 3
    assert scenario.producers[0].arrivals.rate == 450.0
    assert scenario.memory.limit == 4 * 2**20
    assert (scenario.duration, scenario.seed, scenario.load_multiplier) == (30.0, 9, 1.5)
    assert scenario.buffers[0].capacity == 250
    assert scenario.description == base.description
    assert scenario.consumers[0].service == base.consumers[0].service
    assert scenario.producers[0].size == base.producers[0].size


def test_service_time_knob_scales_the_distribution_keeping_its_shape() -> None:
    knobs = dashboard.derive_knobs(dashboard.load_text(OVERLOAD))
    scenario = dashboard.load_text(dashboard.apply_knobs(OVERLOAD, knobs, {"consumers.workers.service": 2.5}))
    service = scenario.consumers[0].service
    assert service.dist == "lognormal" and service.mean == pytest.approx(0.0025) and service.sigma == 0.5

    knobs = dashboard.derive_knobs(dashboard.load_text(BURSTY))
    scenario = dashboard.load_text(dashboard.apply_knobs(BURSTY, knobs, {"consumers.senders.service": 5.0}))
    batch = scenario.consumers[0].batch
    assert (batch.fixed.mean, batch.per_item.low, batch.per_item.high) == pytest.approx((0.01, 0.002, 0.006))
    assert scenario.consumers[0].mean_service() == pytest.approx(0.005)


def test_bare_number_service_time_is_scaled_too() -> None:
    text = OVERLOAD.replace("{dist: lognormal, mean: 5ms, sigma: 0.5}", "5ms")
    knobs = dashboard.derive_knobs(dashboard.load_text(text))
    scenario = dashboard.load_text(dashboard.apply_knobs(text, knobs, {"consumers.workers.service": 1.0}))
    assert scenario.consumers[0].service.dist == "constant" and scenario.consumers[0].service.value == pytest.approx(0.001)


def test_policy_knob_keeps_capacity_and_block_timeout_valid() -> None:
    knobs = dashboard.derive_knobs(dashboard.load_text(BURSTY))
    unbounded = dashboard.load_text(dashboard.apply_knobs(BURSTY, knobs, {"buffers.notifications.policy": "unbounded",
                                                                          "buffers.notifications.capacity": 7}))
    assert unbounded.buffers[0].policy == "unbounded" and unbounded.buffers[0].capacity is None
    assert unbounded.buffers[0].block_timeout is None
    dropping = dashboard.load_text(dashboard.apply_knobs(BURSTY, knobs, {"buffers.notifications.policy": "drop_oldest"}))
    assert (dropping.buffers[0].policy, dropping.buffers[0].capacity, dropping.buffers[0].block_timeout) == ("drop_oldest", 100, None)


def test_bounding_an_unbounded_buffer_takes_the_capacity_knob() -> None:
    text = (ROOT / "scenarios" / "unbounded_crash.yaml").read_text()
    knobs = dashboard.derive_knobs(dashboard.load_text(text))
    default = dashboard.load_text(dashboard.apply_knobs(text, knobs, {"buffers.inbox.policy": "block"}))
    assert default.buffers[0].capacity == dashboard.DEFAULT_CAPACITY
    chosen = dashboard.load_text(dashboard.apply_knobs(text, knobs, {"buffers.inbox.policy": "drop_newest",
                                                                     "buffers.inbox.capacity": 321}))
    assert (chosen.buffers[0].policy, chosen.buffers[0].capacity) == ("drop_newest", 321)
    # capacity alone on a buffer that stays unbounded changes nothing (it would be invalid)
    same = dashboard.load_text(dashboard.apply_knobs(text, knobs, {"buffers.inbox.capacity": 321}))
    assert same.buffers[0].capacity is None


def test_every_library_scenario_survives_moving_every_knob() -> None:
    for entry in dashboard.library_scenarios(ROOT / "scenarios"):
        text = entry.path.read_text()
        scenario = dashboard.load_text(text, base_dir=entry.path.parent)
        knobs = dashboard.derive_knobs(scenario)
        moved = {k.key: (k.options[-1] if k.options else k.maximum) for k in knobs}
        edited = dashboard.load_text(dashboard.apply_knobs(text, knobs, moved), base_dir=entry.path.parent)
        assert edited.duration == moved["duration"] and edited.seed == moved["seed"], entry.file
        assert all(b.policy == "unbounded" for b in edited.buffers), entry.file


# --------------------------------------------------------------------------- running and comparing
def test_run_text_is_deterministic_and_reports_progress() -> None:
    seen: list[float] = []
    first = dashboard.run_text(OVERLOAD, 5, progress=seen.append)
    second = dashboard.run_text(OVERLOAD, 5)
    assert first.summary == second.summary
    assert seen and seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    assert dashboard.run_text(OVERLOAD, 6).summary["produced"] != first.summary["produced"]


def test_policy_variants_change_only_the_chosen_buffer() -> None:
    text = (ROOT / "scenarios" / "pipeline_three_stages.yaml").read_text()
    variants = dashboard.policy_variants(text, "parsed", 77)
    assert list(variants) == ["drop_newest", "drop_oldest", "block", "unbounded"]
    base = dashboard.load_text(text)
    for policy, variant in variants.items():
        scenario = dashboard.load_text(variant)
        assert scenario.buffer("parsed").policy == policy
        assert scenario.buffer("parsed").capacity == (None if policy == "unbounded" else 77)
        assert scenario.buffer("raw") == base.buffer("raw") and scenario.buffer("enriched") == base.buffer("enriched")
        assert scenario.consumers == base.consumers and scenario.producers == base.producers
    assert dashboard.load_text(dashboard.policy_variants(text)["drop_newest"]).buffers[0].policy == "drop_newest"
    with pytest.raises(simbp.ScenarioError, match="no buffer named 'nope'"):
        dashboard.policy_variants(text, "nope")


def test_compare_policies_shows_the_three_failure_modes_on_the_same_load() -> None:
    seen: list[float] = []
    runs = dashboard.compare_policies(OVERLOAD, 3, progress=seen.append)
    verdicts = {policy: result.summary["verdict"] for policy, result in runs.items()}
    assert verdicts == {"drop_newest": "dropping", "drop_oldest": "dropping", "block": "blocking", "unbounded": "crashed"}
    # the same arrivals: both drop policies see identical production; block never drops
    assert runs["drop_newest"].summary["produced"] == runs["drop_oldest"].summary["produced"]
    assert runs["block"].summary["dropped"] == 0 and runs["unbounded"].summary["lost_in_crash"] > 0
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)

    table = dashboard.comparison_table(runs)
    assert list(table.index) == ["drop_newest", "drop_oldest", "block", "unbounded"]
    assert list(table["verdict"]) == ["dropping", "dropping", "blocking", "crashed"]
    assert table.loc["unbounded", "peak_memory_bytes"] > table.loc["drop_newest", "peak_memory_bytes"]
    assert table.loc["block", "producer_blocked_fraction"] > 0.1
    shown = comparison_figures(table)  # for reading: a column per policy, headline units, short
    assert list(shown.columns) == list(table.index) and list(shown.loc["verdict"]) == list(table["verdict"])
    assert shown.loc["loss", "block"] == "0.00%" and shown.loc["loss", "unbounded"].endswith("%")
    assert shown.loc["peak memory", "unbounded"].endswith("iB") and shown.loc["p99 latency", "block"][-1] == "s"
    assert max(len(value) for value in shown.to_numpy().ravel()) <= 12  # never a 17-digit float


def test_compare_policies_uses_the_given_runner() -> None:
    calls: list[tuple[str, int | None]] = []

    def runner(text: str, seed: int | None) -> simbp.Results:
        calls.append((text, seed))
        return dashboard.run_text(text.replace("duration: 20s", "duration: 2s"), seed)

    runs = dashboard.compare_policies(OVERLOAD, 4, runner=runner)
    assert len(calls) == 4 and {seed for _, seed in calls} == {4}
    assert calls[0][0] == OVERLOAD  # the scenario's own policy runs its own text: one cache entry for both views
    assert all(r.summary["duration_s"] == pytest.approx(2.0) for r in runs.values())


def test_headline_metrics_start_with_the_verdict() -> None:
    summary = dashboard.run_text(OVERLOAD, 3).summary
    metrics = dashboard.headline_metrics(summary)
    labels = [label for label, _ in metrics]
    assert labels[:6] == ["verdict", "loss ratio", "p99 latency", "peak memory", "crashes", "producers blocked"]
    assert {"produced", "consumed", "dropped", "timed out", "lost in crash", "in flight at end"} <= set(labels)
    values = dict(metrics)
    assert values["verdict"] == "dropping" and values["crashes"] == "0"
    assert values["produced"] == f"{summary['produced']:,}"
    assert values["producers blocked"] == "0.0%"


# --------------------------------------------------------------------------- downloads
def test_downloads_round_trip() -> None:
    results = dashboard.run_text(OVERLOAD, 3)
    frame = pd.read_csv(io.BytesIO(dashboard.timeseries_csv(results)))
    assert list(frame.columns) == list(results.timeseries.columns)
    assert frame["produced"].sum() == results.summary["produced"]
    summary = json.loads(dashboard.summary_json(results))
    assert summary["verdict"] in VERDICTS and summary["produced"] == results.summary["produced"]
    assert dashboard.load_text(dashboard.scenario_yaml_bytes(OVERLOAD).decode()).name == "overload"


def test_series_columns_are_the_numeric_columns_that_exist() -> None:
    frame = pd.DataFrame({"time_s": [0.0, 1.0], "queue.depth": [0, 3], "orders.lag_s": [0.0, 0.5], "note": ["a", "b"]})
    assert dashboard.series_columns(frame) == ["queue.depth", "orders.lag_s"]


def test_run_modes_start_with_the_default_and_each_runs() -> None:
    import inspect

    modes = dashboard.run_modes()
    assert "exact" in modes
    parameter = inspect.signature(simbp.run).parameters.get("mode")
    if parameter is not None:
        assert modes[0] == parameter.default
    for mode in modes:
        summary = dashboard.run_text(OVERLOAD, 3, mode=mode).summary
        assert summary["verdict"] == "dropping"
        if mode in ("exact", "fast"):
            assert summary["mode"] == mode


def test_importing_simbp_and_the_dashboard_loads_no_streamlit() -> None:
    code = ("import sys, simbp, simbp.dashboard, simbp.dashboard.capacity, simbp.dashboard.compare; "
            "print('streamlit' in sys.modules, 'matplotlib' in sys.modules)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert output.split() == ["False", "False"]


def test_compare_leaves_out_policies_the_scenario_does_not_allow() -> None:
    text = (ROOT / "scenarios" / "node_pipe.yaml").read_text()
    buffer = dashboard.load_text(text, base_dir=ROOT / "scenarios").buffers[0].name
    valid, invalid = dashboard.split_valid(dashboard.policy_variants(text, buffer), base_dir=ROOT / "scenarios")
    assert list(valid) == ["unbounded"]  # a Node.js writable never refuses a chunk
    assert set(invalid) == {"drop_newest", "drop_oldest", "block"}
    assert all(lines and lines[0].startswith("line ") and "high_water_mark" in lines[0] for lines in invalid.values())


# --------------------------------------------------------------------------- capacity
def test_sizing_knobs_put_workers_first_and_skip_unbounded_capacities() -> None:
    knobs = dashboard.derive_knobs(dashboard.load_text(OVERLOAD))
    assert [k.key for k in dashboard.sizing_knobs(knobs)] == ["consumers.workers.workers", "buffers.queue.capacity"]
    unbounded = dashboard.sizing_knobs(knobs, {"buffers.queue.policy": "unbounded"})
    assert [k.key for k in unbounded] == ["consumers.workers.workers"]
    kafka = dashboard.derive_knobs(dashboard.load_text((ROOT / "scenarios" / "kafka_3_consumers_6_partitions.yaml").read_text()))
    assert [k.key for k in dashboard.sizing_knobs(kafka)] == ["consumer_groups.billing.consumers", "topics.orders.partitions"]


def test_number_lists_are_read_or_refused_with_the_entry() -> None:
    assert dashboard.parse_number_list("1, 2,3;3", int) == (1, 2, 3)
    assert dashboard.parse_number_list("0.5, 1.5") == (0.5, 1.5)
    assert dashboard.default_size_values(4) == (2, 4, 8, 12)
    for text, kind, message in (("1, two", int, "'two' is not a number"), ("1.5", int, "not a whole number"),
                                ("0", float, "above zero"), (" ", float, "at least one")):
        with pytest.raises(ValueError, match=message):
            dashboard.parse_number_list(text, kind)


def test_capacity_sweep_finds_the_fewest_workers_per_load() -> None:
    question = dashboard.CapacityQuestion("consumers.workers.workers", (1, 2, 3), (1.0, 1.5), max_loss_ratio=0.01,
                                          max_p99_s=1.0, replications=2, duration_s=10.0)
    spec = dashboard.capacity_spec(question)
    assert "consumers.workers.workers:" in spec and "loss_ratio:" in spec and "latency_s.p99:" in spec
    seen: list[float] = []
    result = dashboard.run_capacity_sweep(OVERLOAD, question, progress=seen.append)
    assert seen[-1] == pytest.approx(1.0) and len(seen) == 3 * 2 * 2
    # 300/s (450/s at 1.5×) against 200/s per worker: two workers at 1×, three at 1.5×
    lines = dashboard.capacity_recommendations(result)
    assert lines[0].startswith("At 1× load: **consumers.workers.workers = 2**")
    assert lines[1].startswith("At 1.5× load: **consumers.workers.workers = 3**")
    table = dashboard.capacity_table(result)
    assert len(table) == 6 and set(table["replications"]) == {2}
    assert set(table["mode"]) == {"exact"}  # auto: these small points run exactly (and the table says so)
    one_worker = table[table["consumers.workers.workers"] == 1]
    assert not one_worker["passed"].any() and (one_worker["loss_ratio.mean"] > 0.2).all()
    assert [name for name, png in dashboard.capacity_figures(result)] == ["loss_ratio", "latency_s.p99"]
