"""What the dashboard teaches, without Streamlit: chart panels, mechanism panels, advice that fits the
mechanism, the teaching controls, and the workshop's lessons and predictions."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest
from repo import ROOT

from simbp import dashboard
from simbp.dashboard import advice, charts, mechanisms, sampling, urlstate, workshop
from simbp.results import Results
from simbp.scenario import VERDICTS

LIBRARY = ROOT / "scenarios"


@cache
def run(file: str, **moved: float) -> Results:
    """A library scenario with some controls moved (`duration=20` shortens it), run once per test session."""
    text = (LIBRARY / file).read_text()
    knobs = dashboard.derive_knobs(dashboard.load_text(text, base_dir=LIBRARY))
    return dashboard.run_text(dashboard.apply_knobs(text, knobs, dict(moved)), base_dir=LIBRARY)


# --------------------------------------------------------------------------- charts
def test_timeline_panels_carry_units_limits_and_events() -> None:
    results = run("node_naive_write.yaml")
    panels = {p.name: p for p in charts.timeline_panels(results)}
    assert list(panels) == list(charts.PANEL_NAMES)
    memory = panels["memory"]
    assert memory.y_title == "memory (MiB)"
    assert [r.value for r in memory.rules if r.value is not None] == [64.0]  # the 64 MiB limit, in MiB
    crashes = [r.time for r in memory.rules if r.kind == "crash"]
    assert crashes == pytest.approx(list(results.events.loc[results.events["event"] == "crash", "time_s"]))
    assert memory.data["value"].max() <= 64.0 + 1e-9
    assert panels["latency"].y_title in ("latency (ms)", "latency (s)")
    assert all(set(p.data.columns) >= {"t", "series", "value"} for p in panels.values())
    assert panels["loss"].data.groupby("series")["value"].max()["lost in crash"] == results.summary["lost_in_crash"]


def test_the_timeline_spec_shares_one_zoomable_axis_and_escapes_field_names() -> None:
    results = run("kafka_8_consumers_6_partitions.yaml", duration=20)
    panels = charts.timeline_panels(results)
    spec = charts.timeline_chart(panels)
    assert spec["resolve"]["scale"]["x"] == "shared"
    zoom, hover = spec["params"]
    assert zoom["bind"] == "scales" and zoom["views"] == hover["views"] == [f"{p.name}_hover" for p in panels]
    lag = spec["vconcat"][0]["layer"][1]
    assert lag["name"] == "lag_hover" and lag["data"]["name"] == "lag_hover"
    fields = [t["field"] for t in lag["encoding"]["tooltip"]]
    assert "orders\\.p0" in fields  # a dot would mean a nested field to Vega-Lite
    assert set(spec["datasets"]) == {f"{p.name}{part}" for p in panels
                                     for part in ("", "_hover", "_limits", "_crash", "_event")}
    hover = spec["datasets"]["lag_hover"]  # every series side by side per time, thinned for the browser
    assert len(hover) <= charts.HOVER_TIMES and {"t", "orders.p0", "orders (lag)"} <= set(hover.columns)
    full = panels[0].data
    at = float(hover["t"].iloc[3])
    assert hover["orders.p0"].iloc[3] == full[(full["t"] == at) & (full["series"] == "orders.p0")]["value"].item()
    json.dumps({k: v for k, v in spec.items() if k != "datasets"})  # the rest is plain JSON


def test_a_chart_spec_stays_the_same_when_only_the_numbers_change() -> None:
    """The browser then swaps the chart's data instead of building a new chart (a rerun's costliest part)."""
    text = (LIBRARY / "unbounded_crash.yaml").read_text()
    knobs = dashboard.derive_knobs(dashboard.load_text(text, base_dir=LIBRARY))
    specs = []
    for values in ({"duration": 120.0}, {"duration": 120.0, "load_multiplier": 1.2, "buffers.inbox.capacity": 500}):
        results = dashboard.run_text(dashboard.apply_knobs(text, knobs, values), base_dir=LIBRARY)
        specs.append(charts.timeline_chart(charts.timeline_panels(results)))
    first, second = ({k: v for k, v in spec.items() if k != "datasets"} for spec in specs)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    crashes = [spec["datasets"]["memory_crash"] for spec in specs]
    assert len(crashes[0]) != len(crashes[1]) or not crashes[0].equals(crashes[1])  # the data did change


def test_long_series_are_thinned_for_the_browser_keeping_peaks_and_troughs() -> None:
    """20,000 samples (the dashboard's row budget) of a saw-tooth with one spike: at most MAX_POINTS per
    series reach the browser, yet the spike, the troughs, the first and the last sample survive."""
    count = 20_000
    time_s = np.arange(count) * 0.5
    sawtooth = (np.arange(count) % 37).astype(float)
    spike = np.zeros(count)
    spike[12_345] = 9_999.0
    frame = pd.DataFrame({"time_s": time_s, "a.depth": sawtooth, "b.depth": spike})
    long = charts.long_form(frame, {"a.depth": "a", "b.depth": "b"}, factor=60.0)
    for name, column in (("a", sawtooth), ("b", spike)):
        part = long[long["series"] == name]
        assert len(part) <= sampling.MAX_POINTS
        assert part["value"].max() == column.max() and part["value"].min() == column.min()
        assert part["t"].iloc[0] == 0.0 and part["t"].iloc[-1] == time_s[-1] / 60.0
        assert part["t"].is_monotonic_increasing
    assert (long[long["series"] == "a"]["value"] == 36.0).sum() > 100  # the teeth are still there
    short = charts.long_form(frame.iloc[:300], {"a.depth": "a"}, factor=1.0)
    assert len(short) == 300  # short runs are sent whole
    hover = charts.hover_frame(charts.Panel("lag", "", "", long))
    assert len(hover) <= charts.HOVER_TIMES and list(hover.columns) == ["t", "a", "b"]
    assert hover["t"].iloc[0] == 0.0 and hover["t"].iloc[-1] == long["t"].max()


def test_combined_panels_label_each_run_and_keep_one_axis() -> None:
    first, second = run("node_pipe.yaml", duration=10), run("node_naive_write.yaml", duration=10)
    combined = charts.combine_panels({"pipe": charts.timeline_panels(first), "naive": charts.timeline_panels(second)})
    lag = next(p for p in combined if p.name == "lag")
    assert set(lag.data["series"]) == {"pipe", "naive"}
    memory = next(p for p in combined if p.name == "memory")
    assert {r.label.split(":")[0] for r in memory.rules if r.kind == "crash"} == {"naive"}
    loss = next(p for p in combined if p.name == "loss")
    assert set(loss.data["series"]) == {"naive"}  # pipe lost nothing, yet keeps its colour, as in every panel
    for panel in (lag, loss):
        assert panel.colours == ["pipe", "naive"]
        assert charts.panel_spec(panel, unit="s")["layer"][0]["encoding"]["color"]["scale"]["domain"] == ["pipe", "naive"]


def test_combined_runs_in_different_units_share_true_axes() -> None:
    """A/B of runs whose panels chose different units (latency in ms and in s; 10 s against 150 s of
    time, drawn in minutes): every run is converted to the larger unit, never mixed on one axis."""
    pipe, naive = run("node_pipe.yaml", duration=150), run("node_naive_write.yaml", duration=10)
    single = {p.name: p for p in charts.timeline_panels(pipe)}
    assert single["latency"].y_title == "latency (ms)" and single["lag"].data.attrs["time_unit"] == "min"
    assert next(p for p in charts.timeline_panels(naive) if p.name == "latency").y_title == "latency (s)"
    combined = {p.name: p for p in charts.combine_panels({"A": charts.timeline_panels(pipe),
                                                          "B": charts.timeline_panels(naive)})}
    latency = combined["latency"]
    assert latency.y_title == "latency (s)" and latency.data.attrs["time_unit"] == "min"
    a_p99 = latency.data[latency.data["series"] == "A: p99"]["value"]
    assert a_p99.max() == pytest.approx(single["latency"].data.query("series == 'p99'")["value"].max() / 1e3)
    b_times = combined["lag"].data[combined["lag"].data["series"] == "B"]["t"]
    assert b_times.max() == pytest.approx(10 / 60)  # B's 10 seconds, in minutes
    crashes = [r.time for r in combined["memory"].rules if r.kind == "crash"]
    assert crashes and max(crashes) < 10 / 60  # B's crashes moved to minutes too


# --------------------------------------------------------------------------- mechanism panels
def test_the_kafka_panel_shows_idle_members_lag_in_seconds_and_the_commit_sawtooth() -> None:
    results = run("kafka_8_consumers_6_partitions.yaml", duration=30)
    (group,) = mechanisms.kafka_groups(results)
    assert group.idle == [6, 7] and (group.consumers, group.active) == (8, 6)
    assert list(group.assignment["state"]).count("idle: no partition") == 2
    assert group.partitions["owner"].tolist() == [f"billing-{i}" for i in range(6)]
    throughput = results.summary["components"]["billing"]["processed"] / results.summary["duration_s"]
    assert group.sawtooth_peak == pytest.approx(throughput * 5.0)
    assert results.summary["peak_queue_depth"] == pytest.approx(group.sawtooth_peak, rel=0.15)  # what the saw-tooth reaches
    assert set(group.status["status"]) <= set(mechanisms.STATUS_COLOURS)
    assert group.status["partition"].nunique() == 6
    strips = charts.status_chart(group.status, unit="s", colours=mechanisms.STATUS_COLOURS)["datasets"]["status"]
    assert len(strips) <= len(group.status) / 10  # a rectangle per stretch of one status, not per sample
    for _, part in strips.groupby("partition"):
        assert part["t"].iloc[0] == 0.0 and (part["t"].to_numpy()[1:] == part["t2"].to_numpy()[:-1]).all()
    assert {"orders.p0", "orders (worst partition)"} <= set(group.lag_panel.data["series"])
    assert any("idle" in note for note in group.notes) and any("saw-tooth" in note for note in group.notes)


def test_a_kafka_scenario_shows_the_broker_log_instead_of_an_empty_peak_memory() -> None:
    """Without a memory section a Kafka run holds nothing in memory: the tile shows the topic's log peak."""
    from simbp.dashboard import figures

    results = run("kafka_retention_loss.yaml", duration=30)
    assert results.summary["peak_memory_bytes"] == 0
    metrics = dict(dashboard.headline_metrics(results.summary, results.timeseries))
    assert "peak memory" not in metrics
    peak = float(results.timeseries["clicks.bytes"].max())
    assert peak > 0 and figures.broker_log_bytes(results.summary, results.timeseries) == peak
    labels = [label for label, _ in dashboard.headline_metrics(results.summary, results.timeseries)]
    assert labels.index(figures.BROKER_LOG) == 3  # in the peak memory tile's place
    assert metrics[figures.BROKER_LOG] != "0B"
    at_end = figures.broker_log_bytes(results.summary)  # without the time series: the bytes kept at the end
    assert at_end == results.summary["components"]["clicks"]["bytes"] and at_end <= peak
    quickstart = run("quickstart.yaml", duration=10)
    assert "peak memory" in dict(dashboard.headline_metrics(quickstart.summary, quickstart.timeseries))


def test_stream_and_downstream_panels_draw_their_limits() -> None:
    ((stream, counts),) = mechanisms.stream_panels(run("node_pipe.yaml", duration=10))
    assert stream.y_title == "buffered (KiB)" and [r.value for r in stream.rules] == [64.0]
    assert counts["write() returned false"] > 0 and counts["upload paused"] > 0
    ((calls, _),) = mechanisms.downstream_panels(run("downstream_with_semaphore.yaml", duration=10))
    assert sorted(r.value for r in calls.rules) == [10.0, 10.0]  # the capacity and the semaphore's permits
    assert calls.data[calls.data["series"] == "calls in flight"]["value"].max() <= 10
    ((_, unlimited),) = mechanisms.downstream_panels(run("downstream_without_semaphore.yaml", duration=10))
    assert unlimited["peak in flight"] > 10
    assert mechanisms.retry_panel(run("retry_storm.yaml", duration=40)) is not None
    assert mechanisms.retry_panel(run("burst_without_retries.yaml", duration=40)) is None


# --------------------------------------------------------------------------- advice
def test_advice_fits_the_mechanism_and_the_numbers() -> None:
    kafka = " ".join(advice.advise(run("kafka_3_consumers_6_partitions.yaml")))
    assert "Bound the queue" not in kafka and "add consumers" in kafka  # the generic advice does not fit a topic
    bursts = " ".join(advice.advise(run("bursty_traffic.yaml", duration=70)))
    assert "a larger buffer is the fix here" in bursts and "10,000" in bursts  # (2,000 − 1,000)/s × 10 s
    sustained = " ".join(advice.advise(run("bounded_drop.yaml", duration=30)))
    assert "only delays the drops" in sustained and "larger buffer is the fix" not in sustained
    assert "pipe" in " ".join(advice.advise(run("node_naive_write.yaml", duration=10)))
    assert "semaphore of about 10 permits" in " ".join(advice.advise(run("downstream_without_semaphore.yaml",
                                                                          duration=20)))
    storm = " ".join(advice.advise(run("retry_storm.yaml", duration=60)))
    assert "retry storm" in storm and "larger buffer is the fix" not in storm
    idle = " ".join(advice.advise(run("kafka_8_consumers_6_partitions.yaml", duration=20)))
    assert "sit idle" in idle


# --------------------------------------------------------------------------- teaching controls
def test_teaching_controls_write_the_mechanisms() -> None:
    def moved(file: str, values: dict[str, object]) -> dashboard.Scenario:  # type: ignore[name-defined]
        text = (LIBRARY / file).read_text()
        knobs = dashboard.derive_knobs(dashboard.load_text(text, base_dir=LIBRARY))
        return dashboard.load_text(dashboard.apply_knobs(text, knobs, values), base_dir=LIBRARY)

    assert moved("node_pipe.yaml", {"producers.upload.on_backpressure": "ignore"}).producers[0].on_backpressure == "ignore"
    retries = moved("burst_without_retries.yaml", {"producers.clients.retry.max": 3}).producers[0].retry
    assert retries is not None and retries.max == 3
    assert moved("downstream_without_semaphore.yaml", {"consumers.handlers.calls.semaphore": 10}).consumers[0].calls.semaphore == 10
    assert moved("downstream_with_semaphore.yaml", {"consumers.handlers.calls.semaphore": 0}).consumers[0].calls.semaphore is None
    kafka = moved("kafka_8_consumers_6_partitions.yaml", {"consumer_groups.billing.commit.interval": 1.0,
                                                           "topics.orders.retention.time": 24.0})
    assert kafka.consumer_groups[0].commit.interval == 1.0 and kafka.topics[0].retention.time == 24 * 3600.0
    assert moved("token_bucket.yaml", {"producers.partners.rate_limit.burst": 50}).producers[0].rate_limit.burst == 50


def test_moving_the_commit_interval_moves_the_sawtooth() -> None:
    one_second = run("kafka_8_consumers_6_partitions.yaml", duration=20, **{"consumer_groups.billing.commit.interval": 1.0})
    five_seconds = run("kafka_8_consumers_6_partitions.yaml", duration=20)
    assert one_second.summary["peak_queue_depth"] < 0.4 * five_seconds.summary["peak_queue_depth"]


# --------------------------------------------------------------------------- workshop
def test_every_lesson_opens_a_library_scenario_and_its_links_name_real_controls() -> None:
    assert len({lesson.id for lesson in workshop.LESSONS}) == len(workshop.LESSONS)
    for lesson in workshop.LESSONS:
        text = (LIBRARY / lesson.file).read_text()
        parts = workshop.split_description(dashboard.load_text(text, base_dir=LIBRARY).description)
        assert parts.lesson, lesson.file  # the lesson text is the scenario's own
        for _, params in lesson.try_next:
            target = params.get("scenario", lesson.file)
            knobs = {k.key: k for k in dashboard.derive_knobs(dashboard.load_text((LIBRARY / target).read_text(),
                                                                                     base_dir=LIBRARY))}
            assert (LIBRARY / params.get("b_scenario", target)).exists()
            for key, value in params.items():
                if key in urlstate.RESERVED:
                    continue
                key = key.removeprefix(urlstate.B_PREFIX)
                assert key in knobs and urlstate.parse_value(knobs[key], value) is not None, (lesson.id, key)


def test_each_lesson_predicts_a_figure_its_run_has() -> None:
    for lesson in workshop.LESSONS:
        summary = run(lesson.file, duration=5).summary
        value = workshop.figure_value(summary, lesson.predict.figure)
        assert value is not None, lesson.id
        if lesson.predict.kind == "verdict":
            assert value in VERDICTS


def test_descriptions_split_into_question_what_to_look_at_and_lesson() -> None:
    parts = workshop.split_description((LIBRARY / "kafka_8_consumers_6_partitions.yaml").read_text().split(
        "description: >", 1)[1].split("duration:", 1)[0])
    assert parts.question.startswith("the group is slow") and parts.question.endswith("six partitions?")
    assert parts.look_at.startswith("Look at billing's consumer_detail")
    assert parts.lesson.startswith("consumers beyond the partition count sit idle")
    assert parts.setup.startswith("Orders arrive at 2,000 a second")
    assert workshop.split_description("Just words.").setup == "Just words."


def test_predictions_are_judged_by_how_close_they_were() -> None:
    summary = {"verdict": "dropping", "loss_ratio": 0.343, "components": {"g": {"consumers_active": 6}}}
    verdict = workshop.Prediction("verdict", "?")
    assert workshop.judge(verdict, "dropping", summary).close
    wrong = workshop.judge(verdict, "healthy", summary)
    assert not wrong.close and "dropping" in wrong.words
    loss = workshop.Prediction("number", "?", "loss_ratio", "%", 100.0)
    assert workshop.judge(loss, 35, summary).words.startswith("Spot on")  # 1.7 points away
    assert workshop.judge(loss, 40, summary).words.startswith("Close")
    far = workshop.judge(loss, 5, summary)
    assert not far.close and "6.9× too low" in far.words
    count = workshop.Prediction("number", "?", "components.g.consumers_active", "consumers")
    assert workshop.judge(count, 6, summary).words == "Spot on: it was **6 consumers**"
    assert "too high" in workshop.judge(count, 8, summary).words or workshop.judge(count, 8, summary).close
