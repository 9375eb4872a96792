"""The dashboard's newer views and guard rails through Streamlit's AppTest: links, A/B, workshop,
refusals, upload bundles, the teaching controls, and a sweep that stops when the page moves on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("streamlit")
from repo import ROOT
from streamlit.testing.v1 import AppTest
from test_app import OVERLOAD, QUICKSTART, knob, metric, panel_titles, vega_specs

APP = str(ROOT / "app.py")


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, text in (("quickstart.yaml", QUICKSTART), ("overload.yaml", OVERLOAD)):
        (tmp_path / name).write_text(text)
    monkeypatch.setenv("SIMBP_SCENARIOS", str(tmp_path))
    return tmp_path


def opened(**params: str) -> AppTest:
    """The app opened from a link with these query parameters."""
    at = AppTest.from_file(APP, default_timeout=90)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def params(at: AppTest) -> dict[str, Any]:
    return {name: (value[-1] if isinstance(value, list) else value) for name, value in at.query_params.items()}


def test_a_link_opens_the_scenario_controls_and_view_and_the_page_keeps_the_url(library: Path) -> None:
    at = opened(scenario="overload.yaml", **{"consumers.workers.workers": "3", "seed": "9"})
    assert at.subheader[0].value == "overload"
    assert knob(at, "slider", "consumers.workers.workers").value == 3
    assert metric(at, "verdict") == "healthy"
    assert any(c.value.startswith("Simulated 20s with seed 9") for c in at.caption)
    knob(at, "slider", "consumers.workers.workers").set_value(1).run()
    assert metric(at, "verdict") == "dropping"
    assert params(at) == {"scenario": "overload.yaml", "seed": "9"}  # back at the file's own value: not written
    at.radio[0].set_value("Compare policies").run()
    assert params(at)["view"] == "policies"
    link = next(c.value for c in at.code if "view=policies" in c.value)
    assert "scenario=overload.yaml" in link and "seed=9" in link


def test_an_edited_scenario_is_carried_by_the_link(library: Path) -> None:
    at = opened()
    at.text_area[0].set_value(QUICKSTART.replace("workers: 2", "workers: 1").replace("small_quickstart", "edited")).run()
    packed = params(at)["yaml"]
    again = opened(yaml=packed)
    assert again.subheader[0].value == "edited" and metric(again, "verdict") == "dropping"


def test_ab_compares_two_settings_on_shared_axes(library: Path) -> None:
    at = opened(scenario="overload.yaml", view="ab", **{"b.consumers.workers.workers": "3"})
    assert not at.exception, at.exception
    assert any(m.value.startswith("**A: overload.yaml**") and "dropping" in m.value for m in at.markdown)
    assert any(m.value.startswith("**B: workers 3**") and "healthy" in m.value for m in at.markdown)
    table = at.dataframe[0].value
    assert list(table.columns) == ["A", "B"] and table.loc["verdict", "A"] == "dropping"
    (spec,) = [s for s in vega_specs(at) if "vconcat" in s]
    assert spec["resolve"]["scale"]["x"] == "shared"
    assert params(at)["b.consumers.workers.workers"] == "3"
    at.radio[1].set_value("another library scenario").run()
    at.selectbox[0].set_value("quickstart.yaml").run()
    assert not at.exception, at.exception
    assert params(at)["b_scenario"] == "quickstart.yaml"
    assert at.dataframe[0].value.loc["verdict", "B"] == "healthy"


def test_workshop_hides_results_until_a_prediction_is_revealed() -> None:
    at = opened(view="workshop", lesson="rxjs")  # the real library: rxjs_debounce.yaml, a few hundred keystrokes
    assert any(m.value.startswith("## RxJS: debounceTime") for m in at.markdown)
    assert not at.metric  # nothing is shown before the prediction
    at.number_input[0].set_value(150.0)
    next(b for b in at.button if b.label == "Reveal").click().run()
    assert not at.exception, at.exception
    assert any("You predicted **150**" in s.value and "Spot on" in s.value for s in at.success)
    assert metric(at, "verdict") == "healthy"
    assert any(s.value.startswith("**Lesson.** debounce trades a fixed delay") for s in at.success)
    next(b for b in at.button if b.label == "throttleTime instead").click().run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == "rxjs_throttle" and params(at)["scenario"] == "rxjs_throttle.yaml"


def test_files_outside_the_folder_large_and_refused_runs(library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from simbp.dashboard import guard

    # price exact runs 20 times dearer, so that a run of a few seconds is "large" (a really large one
    # took most of this test's time); the page's flow is the same
    monkeypatch.setattr(guard, "EXACT_MESSAGES_PER_SECOND", guard.EXACT_MESSAGES_PER_SECOND / 20)
    at = opened()
    outside = QUICKSTART.replace("service: {dist: exponential, mean: 5ms}",
                                 "service: {dist: empirical, file: /etc/passwd}")
    at.text_area[0].set_value(outside).run()
    assert not at.exception and len(at.error) == 1
    assert "consumers[0].service.file: file '/etc/passwd' must be a path relative to the scenario's folder" in \
        at.error[0].value
    assert "root:" not in at.error[0].value  # never the file's contents
    at.text_area[0].set_value(QUICKSTART.replace("duration: 20s", "duration: 6m")).run()  # 108,000 messages: "14 s"
    assert any("This run is large" in w.value for w in at.warning) and not at.metric
    next(b for b in at.button if b.label == "Run it anyway").click().run()
    assert not at.exception and metric(at, "verdict") == "healthy"
    # 43 M messages into a large block buffer: auto picks fast mode, still large, so the page asks first (a
    # small drop_newest or block buffer would be stepped finely in fast mode, and such a run is refused outright)
    long_block = QUICKSTART.replace("duration: 20s", "duration: 40h").replace("policy: drop_newest", "policy: block") \
        .replace("capacity: 200", "capacity: 100000")
    at.text_area[0].set_value(long_block).run()
    assert any("in fast mode" in w.value for w in at.warning) and not at.metric
    next(s for s in at.sidebar.selectbox if s.label == "simulation mode").set_value("exact").run()
    assert any("too large for a shared dashboard" in e.value and "fast mode" in e.value for e in at.error)
    assert not at.metric


def test_an_upload_reads_only_the_files_uploaded_with_it(library: Path) -> None:
    at = opened()
    at.sidebar.radio[0].set_value("Upload a file").run()
    traced = QUICKSTART.replace("arrivals: {process: poisson, rate: 300/s}",
                                "arrivals: {process: trace, file: counts.csv, format: counts, bin: 1s, loop: true}")
    at.sidebar.file_uploader[0].set_value(("traced.yaml", traced.encode(), "application/x-yaml"))
    at.sidebar.file_uploader[1].set_value([("counts.csv", b"count\n200\n300\n400\n", "text/csv")]).run()
    assert not at.exception, at.exception
    assert metric(at, "verdict") == "healthy"
    assert int(metric(at, "produced").replace(",", "")) == pytest.approx(300 * 20, rel=0.05)  # 200, 300, 400 a second
    escape = traced.replace("file: counts.csv", "file: ../quickstart.yaml")
    at.sidebar.file_uploader[0].set_value(("escape.yaml", escape.encode(), "application/x-yaml")).run()
    assert "outside the scenario's folder" in at.error[0].value


def test_on_backpressure_turns_pipe_into_a_naive_write() -> None:
    at = opened(scenario="node_pipe.yaml", duration="10")
    assert metric(at, "verdict") == "blocking"
    knob(at, "selectbox", "producers.upload.on_backpressure").set_value("ignore").run()
    assert metric(at, "verdict") == "crashed"
    assert any("`write()` returning false" in m.value for m in at.markdown)  # the advice names the mechanism


def test_leaving_the_capacity_view_stops_its_sweep(library: Path) -> None:
    at = opened(scenario="overload.yaml", view="capacity")
    at.number_input[2].set_value(600.0).run()  # long runs: the sweep is still going when we leave
    at.button[0].click().run()
    job = at.session_state["capacity_job"]
    assert job.alive()
    at.radio[0].set_value("What-if").run()
    deadline = time.monotonic() + 10
    while job.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not job.alive() and "capacity_job" not in at.session_state


@pytest.mark.parametrize(("file", "kind", "key", "value", "written"), [
    ("burst_without_retries.yaml", "slider", "producers.clients.retry.max", 3, "retry:\n    max: 3"),
    ("downstream_without_semaphore.yaml", "slider", "consumers.handlers.calls.semaphore", 10, "semaphore: 10"),
    ("kafka_8_consumers_6_partitions.yaml", "slider", "consumer_groups.billing.commit.interval", 1.0,
     "interval: 1s"),
    ("kafka_retention_loss.yaml", "slider", "topics.clicks.retention.time", 30.0, "time: 30s"),
    ("token_bucket.yaml", "slider", "producers.partners.rate_limit.burst", 50, "burst: 50"),
    ("token_bucket.yaml", "slider", "producers.partners.rate_limit.rate", 1200.0, "rate: 1200/s"),
    ("burst_without_retries.yaml", "slider", "producers.clients.caller_timeout", 2.0, "caller_timeout: 2s"),
    ("downstream_with_semaphore.yaml", "slider", "consumers.handlers.calls.retries", 2, "retries: 2"),
    ("downstream_with_semaphore.yaml", "slider", "downstreams.db.latency", 30.0, "mean: 30ms"),
    ("kafka_3_consumers_6_partitions.yaml", "slider", "topics.orders.partitions", 12, "partitions: 12"),
    ("kafka_3_consumers_6_partitions.yaml", "slider", "consumer_groups.billing.consumers", 6, "consumers: 6"),
    ("node_naive_write.yaml", "slider", "buffers.file_writer.high_water_mark", 128.0, "high_water_mark: 128KiB"),
])
def test_each_teaching_control_writes_its_key_and_reruns(file: str, kind: str, key: str, value: object,
                                                         written: str) -> None:
    at = opened(scenario=file, duration="10")
    knob(at, kind, key).set_value(value).run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    as_run = next(c.value for c in at.code if c.language == "yaml")
    assert written in as_run
    assert params(at)[key] == urlstate_value(value)
    assert metric(at, "verdict")


def urlstate_value(value: object) -> str:
    from simbp.dashboard.urlstate import format_value

    return format_value(value)


HOSTILE_B = {
    "billion laughs": ("\n".join(['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
                                 + [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 10)])
                       + "\n" + QUICKSTART, ("alias", "yaml_nodes")),
    "a system file": (QUICKSTART.replace("service: {dist: exponential, mean: 5ms}",
                                         "service: {dist: empirical, file: /etc/passwd}"), ("/etc/passwd",)),
    "a Python object tag": ('!!python/object/apply:os.system ["touch /tmp/simbp-pwned"]\n', ("line 1",)),
    "deep nesting": ("name: " + "[" * 200 + "]" * 200 + "\n", ("yaml_depth", "nest")),
    # under the box's 200,000 characters, but 300 kB: the loader counts bytes
    "a document over the size limit": (QUICKSTART.replace("description: ", "description: " + "é" * 150_000 + " "),
                                       ("document_size",)),
    "a run far too large": (QUICKSTART.replace("duration: 20s", "duration: 2000h").replace("rate: 300/s",
                                                                                           "rate: 900000/s"),
                            ("too large", "budget")),
}


def test_ab_b_can_be_your_own_scenario_and_hostile_text_is_refused(library: Path) -> None:
    at = opened(scenario="overload.yaml", view="ab")
    at.radio[1].set_value("a scenario of your own (YAML)").run()
    assert not at.exception, at.exception
    assert any("paste its YAML" in i.value for i in at.info) and not at.dataframe  # nothing runs without B
    at.text_area[1].set_value(QUICKSTART.replace("small_quickstart", "pasted")).run()  # [0] is A's editor
    assert not at.exception, at.exception
    assert any(m.value.startswith("**B: pasted (your scenario)**") and "healthy" in m.value for m in at.markdown)
    assert at.dataframe[0].value.loc["verdict", "A"] == "dropping"
    link = params(at)
    assert "b_yaml" in link and link["view"] == "ab"
    again = opened(**link)  # the link carries B's text: the same comparison opens
    assert any(m.value.startswith("**B: pasted (your scenario)**") for m in again.markdown)
    assert again.dataframe[0].value.loc["verdict", "B"] == "healthy"

    at.file_uploader[0].set_value(("b.yaml", OVERLOAD.replace("name: overload", "name: uploaded").encode(),
                                   "application/x-yaml")).run()
    assert not at.exception, at.exception
    assert "name: uploaded" in at.text_area[1].value  # the upload fills the box, editable
    assert at.dataframe[0].value.loc["verdict", "B"] == "dropping"
    at.file_uploader[0].set_value(("bad.yaml", b"\xff\xfe\x00name", "application/x-yaml")).run()
    assert any("not UTF-8" in e.value for e in at.error)
    at.file_uploader[0].set_value(("big.yaml", b"#" * 250_000, "application/x-yaml")).run()
    assert any("250,000 bytes" in e.value for e in at.error)
    assert "name: uploaded" in at.text_area[1].value  # a refused upload leaves B as it was

    for name, (text, expected) in HOSTILE_B.items():
        started = time.monotonic()
        at.text_area[1].set_value(text).run()
        assert not at.exception, (name, at.exception)
        errors = " ".join(e.value for e in at.error)
        assert any(word in errors for word in expected), (name, errors[:500])
        assert "root:" not in errors  # a file's contents are never quoted
        assert not any(m.value.startswith("**B:") for m in at.markdown), name  # refused, not run
        assert time.monotonic() - started < 30, name
    assert not Path("/tmp/simbp-pwned").exists()


def test_the_presenter_layout_is_a_control_and_a_link(library: Path) -> None:
    at = opened(scenario="quickstart.yaml")
    assert "present" not in params(at)
    next(t for t in at.sidebar.toggle if t.label.startswith("presenter layout")).set_value(True).run()
    assert not at.exception, at.exception
    assert params(at)["present"] == "1"
    again = opened(**params(at))  # the link opens in the presenter layout: large type, one column
    assert next(t for t in again.sidebar.toggle if t.label.startswith("presenter layout")).value is True
    assert metric(again, "verdict") == "healthy"


def test_any_time_series_charts_the_chosen_columns(library: Path) -> None:
    at = opened(scenario="quickstart.yaml")
    before = len(vega_specs(at))
    chooser = next(m for m in at.multiselect if m.label == "columns")
    assert "queue.depth" in chooser.options and "time_s" not in chooser.options
    chooser.set_value(["queue.depth", "produced"]).run()
    assert not at.exception, at.exception
    specs = vega_specs(at)
    assert len(specs) == before + 1
    (chosen,) = [s for s in specs if panel_titles(s) == ["Chosen time series"]]
    fields = [t["field"] for t in chosen["vconcat"][0]["layer"][1]["encoding"]["tooltip"]]
    assert fields == ["t", "queue\\.depth", "produced"]  # one series per chosen column, as named in the CSV


def test_controls_keep_their_values_after_a_visit_to_the_observed_view(library: Path) -> None:
    at = opened()
    knob(at, "slider", "consumers.workers.workers").set_value(1).run()
    at.sidebar.selectbox(key="mode").select("exact").run()
    assert metric(at, "verdict") == "dropping"
    at.radio[0].set_value("Observed metrics").run()
    assert not at.exception, at.exception
    at.radio[0].set_value("What-if").run()
    assert not at.exception, at.exception
    assert knob(at, "slider", "consumers.workers.workers").value == 1
    assert at.sidebar.selectbox(key="mode").value == "exact"
    assert metric(at, "verdict") == "dropping"
    assert params(at)["consumers.workers.workers"] == "1" and params(at)["mode"] == "exact"


def test_a_component_named_after_its_kind_reads_once_in_its_heading() -> None:
    from simbp.dashboard.controls import group_heading

    assert group_heading("Consumer", "consumers") == "Consumers"
    assert group_heading("Consumer group", "consumers") == "Consumer group: consumers"
    assert group_heading("Consumer group", "billing") == "Consumer group billing"
    assert group_heading("Buffer", "queue") == "Buffer queue"


def test_a_fast_run_shows_its_stated_bounds_and_a_switch_to_an_exact_run(library: Path) -> None:
    at = opened(mode="fast")
    note = next(i.value for i in at.info if "Fast mode" in i.value)
    assert "loss ratio ±3%" in note and "p99 latency ±5%" in note
    at.button(key="run_exactly").click().run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="mode").value == "exact"
    assert params(at)["mode"] == "exact"
    assert not [i for i in at.info if "Fast mode" in i.value]
    assert any("in exact mode" in c.value for c in at.caption)
