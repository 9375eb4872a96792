"""The dashboard through Streamlit's AppTest: each control and view, with values asserted.

The app reads its scenario library from `SIMBP_SCENARIOS`; these tests point it at small scenarios
(seconds of simulated time) so every rerun is quick, and one test opens the real library.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("streamlit")
from repo import ROOT
from streamlit.testing.v1 import AppTest

APP = str(ROOT / "app.py")

QUICKSTART = """\
name: small_quickstart
description: Two workers at about 75% busy keep up with 300 messages a second.
duration: 20s
seed: 7
memory: {limit: 4MiB}
producers:
  - name: web
    to: queue
    arrivals: {process: poisson, rate: 300/s}
    size: 2KiB
buffers:
  - name: queue
    capacity: 200
    policy: drop_newest
consumers:
  - name: workers
    from: queue
    workers: 2
    service: {dist: exponential, mean: 5ms}
"""

# one worker (200/s) against 300/s: drop_newest drops, block blocks, unbounded crashes at 1 MiB
OVERLOAD = """\
name: overload
description: One worker cannot keep up with the web tier; the buffer policy decides how it fails.
duration: 20s
seed: 3
memory: {limit: 1MiB}
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
    service: {dist: exponential, mean: 5ms}
"""

BURSTS = """\
name: bursts
description: Bursts of 600 a second for 2 s every 10 s against two workers (400 a second).
duration: 20s
seed: 4
producers:
  - name: campaigns
    to: notifications
    arrivals: {process: bursty, on: {rate: 600/s, duration: 2s}, off: {rate: 50/s, duration: 8s}}
buffers:
  - name: notifications
    capacity: 100
    policy: drop_newest
consumers:
  - name: senders
    from: notifications
    workers: 2
    service: {dist: exponential, mean: 5ms}
"""


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scenario library of the small scenarios above; the app opens `quickstart.yaml` first."""
    for name, text in (("quickstart.yaml", QUICKSTART), ("overload.yaml", OVERLOAD), ("bursts.yaml", BURSTS)):
        (tmp_path / name).write_text(text)
    monkeypatch.setenv("SIMBP_SCENARIOS", str(tmp_path))
    return tmp_path


def start(library: Path, scenario: str | None = None) -> AppTest:
    """The app opened on one scenario (written as the library's quickstart, which opens first)."""
    if scenario is not None:
        (library / "quickstart.yaml").write_text((library / scenario).read_text())
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def knob(at: AppTest, kind: str, key: str) -> Any:
    """The sidebar widget of one knob (keys are `<source id>:<knob key>`)."""
    widgets = [w for w in getattr(at.sidebar, kind) if str(w.key).endswith(f":{key}")]
    assert len(widgets) == 1, [w.key for w in getattr(at.sidebar, kind)]
    return widgets[0]


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert len(values) == 1, (label, [m.label for m in at.metric])
    return values[0]


def count(value: str) -> int:
    return int(value.replace(",", ""))


def vega_specs(at: AppTest) -> list[dict[str, Any]]:
    """The Vega-Lite specs of the interactive charts on the page, in order."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if node.type == "vega_lite_chart":
            found.append(json.loads(node.proto.spec))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    return found


def panel_titles(spec: dict[str, Any]) -> list[str]:
    return [panel["title"]["text"] for panel in spec.get("vconcat", [spec])]


def element_types(at: AppTest) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        found.append(node.type)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    return found


def test_first_page_shows_the_description_verdict_metrics_plots_and_downloads(library: Path) -> None:
    at = start(library)
    assert at.subheader[0].value == "small_quickstart"
    assert any("Two workers at about 75% busy" in m.value for m in at.markdown)
    assert metric(at, "verdict") == "healthy"
    assert any(m.value.startswith("### Verdict: :green[healthy]") for m in at.markdown)
    assert count(metric(at, "produced")) == pytest.approx(300 * 20, rel=0.1)
    assert metric(at, "dropped") == "0"
    # the lag, loss, memory, latency and blocked plots: interactive, on one shared, zoomable time axis
    assert element_types(at).count("image") == 0
    timeline = vega_specs(at)[0]
    assert [title.split(":")[0].split(" ")[0] for title in panel_titles(timeline)] == [
        "Lag", "Loss", "Memory", "Latency", "Producers"]
    assert timeline["resolve"]["scale"]["x"] == "shared"
    assert {p["name"] for p in timeline["params"]} == {"zoom", "hover"}
    assert [b.label for b in at.download_button] == ["Download the scenario (YAML)", "Download the time series (CSV)",
                                                     "Download the summary (JSON)"]
    assert not at.error


def test_workers_and_service_time_change_the_verdict(library: Path) -> None:
    at = start(library, "overload.yaml")
    assert metric(at, "verdict") == "dropping"
    assert count(metric(at, "dropped")) > 500
    knob(at, "slider", "consumers.workers.workers").set_value(3).run()
    assert metric(at, "verdict") == "healthy"
    assert metric(at, "dropped") == "0"
    knob(at, "slider", "consumers.workers.workers").set_value(1)
    knob(at, "slider", "consumers.workers.service").set_value(2.0).run()  # one worker, 2 ms: 500/s against 300/s
    assert metric(at, "verdict") == "healthy"


def test_load_multiplier_and_rate_push_a_healthy_system_over(library: Path) -> None:
    at = start(library)
    knob(at, "slider", "load_multiplier").set_value(2.0).run()
    assert metric(at, "verdict") == "dropping"
    knob(at, "slider", "load_multiplier").set_value(1.0)
    knob(at, "slider", "producers.web.arrivals.rate").set_value(600.0).run()
    assert metric(at, "verdict") == "dropping"
    assert count(metric(at, "produced")) == pytest.approx(600 * 20, rel=0.1)


def test_policy_memory_and_capacity_controls(library: Path) -> None:
    at = start(library, "overload.yaml")
    knob(at, "selectbox", "buffers.queue.policy").set_value("unbounded").run()
    assert metric(at, "verdict") == "crashed"
    assert knob(at, "number_input", "buffers.queue.capacity").disabled
    assert count(metric(at, "lost in crash")) > 0
    knob(at, "slider", "memory.limit").set_value(16.0).run()  # a backlog of ~100/s × 2 KiB fits 16 MiB for 20 s
    assert metric(at, "verdict") == "falling_behind"
    assert metric(at, "crashes") == "0"
    knob(at, "selectbox", "buffers.queue.policy").set_value("block").run()
    assert metric(at, "verdict") == "blocking"
    knob(at, "number_input", "buffers.queue.capacity").set_value(5000).run()  # room for the whole 20 s backlog
    assert metric(at, "verdict") == "falling_behind"
    assert metric(at, "producers blocked") == "0.0%"


def test_burst_shape_controls(library: Path) -> None:
    at = start(library, "bursts.yaml")
    assert metric(at, "verdict") == "dropping"
    knob(at, "slider", "producers.campaigns.arrivals.on.rate").set_value(300.0).run()
    assert metric(at, "verdict") == "healthy" and metric(at, "dropped") == "0"
    knob(at, "slider", "producers.campaigns.arrivals.on.duration").set_value(8.0)
    knob(at, "slider", "producers.campaigns.arrivals.on.rate").set_value(900.0).run()
    assert count(metric(at, "dropped")) > 1000


def test_duration_and_seed_controls(library: Path) -> None:
    at = start(library)
    produced = count(metric(at, "produced"))
    knob(at, "slider", "duration").set_value(10.0).run()
    assert count(metric(at, "produced")) == pytest.approx(produced / 2, rel=0.1)
    knob(at, "slider", "duration").set_value(20.0).run()
    assert count(metric(at, "produced")) == produced  # same scenario and seed: the same result
    knob(at, "number_input", "seed").set_value(8).run()
    assert count(metric(at, "produced")) != produced
    assert any(c.value.startswith("Simulated 20s with seed 8 in exact mode") for c in at.caption)
    modes = [s for s in at.sidebar.selectbox if s.label == "simulation mode"]
    if modes and "fast" in modes[0].options:
        modes[0].set_value("fast").run()
        assert any(c.value.startswith("Simulated 20s with seed 8 in fast mode") for c in at.caption)
        assert metric(at, "verdict") == "healthy"


def test_compare_view_shows_four_policies_side_by_side(library: Path) -> None:
    at = start(library, "overload.yaml")
    at.radio[0].set_value("Compare policies").run()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric if m.label == "verdict"] == ["dropping", "dropping", "blocking", "crashed"]
    headings = [m.value for m in at.markdown if m.value.startswith("#### ")]
    assert headings == ["#### drop_newest", "#### drop_oldest", "#### block", "#### unbounded"]
    # lag, loss, memory and blocking of the four policies on shared axes: one line per policy
    (shared,) = [spec for spec in vega_specs(at) if "vconcat" in spec]
    assert [title.split(":")[0] for title in panel_titles(shared)][:3] == ["Lag", "Loss", "Memory held by the service"]
    lag = shared["vconcat"][0]["layer"][0]["data"]["name"]
    assert lag == "lag"
    table = at.dataframe[0].value  # a column per policy, a row per figure: nothing cut off at 1024 px
    assert list(table.columns) == ["drop_newest", "drop_oldest", "block", "unbounded"]
    assert table.loc["dropped", "block"] == "0" and int(table.loc["lost in crash", "unbounded"].replace(",", "")) > 0
    # the compare view follows the controls: with three workers nothing fails
    knob(at, "slider", "consumers.workers.workers").set_value(3).run()
    assert [m.value for m in at.metric if m.label == "verdict"] == ["healthy"] * 4


def test_broken_yaml_shows_an_error_with_the_line(library: Path) -> None:
    at = start(library)
    broken = QUICKSTART.replace("workers: 2", "workers: 0")
    line = broken.splitlines().index("    workers: 0") + 1
    at.text_area[0].set_value(broken).run()
    assert not at.exception
    assert len(at.error) == 1
    assert f"line {line}, consumers[0].workers:" in at.error[0].value
    assert not at.metric  # nothing runs on a broken scenario

    at.text_area[0].set_value("name: x\nproducers: [\n  {name: a\n").run()
    assert not at.exception and "not valid YAML" in at.error[0].value and "line " in at.error[0].value


def test_editing_the_yaml_reruns_with_the_edit(library: Path) -> None:
    at = start(library)
    at.text_area[0].set_value(QUICKSTART.replace("workers: 2", "workers: 1").replace("name: small_quickstart", "name: edited")).run()
    assert at.subheader[0].value == "edited"
    assert knob(at, "slider", "consumers.workers.workers").value == 1  # controls start from the edited text
    assert metric(at, "verdict") == "dropping"


def test_choosing_and_uploading_scenarios(library: Path) -> None:
    at = start(library)
    chooser = at.sidebar.selectbox[0]
    assert list(chooser.options) == ["bursts.yaml", "overload.yaml", "quickstart.yaml"]
    chooser.select_index(0).run()
    assert at.subheader[0].value == "bursts"
    assert any(m.value.startswith("Bursts of 600 a second") for m in at.markdown)
    at.sidebar.radio[0].set_value("Upload a file").run()
    assert "Upload a scenario file" in at.info[0].value
    at.sidebar.file_uploader[0].set_value(("mine.yaml", OVERLOAD.replace("name: overload", "name: mine").encode(), "application/x-yaml")).run()
    assert not at.exception
    assert at.subheader[0].value == "mine" and metric(at, "verdict") == "dropping"
    at.sidebar.file_uploader[0].set_value(("bad.yaml", b"name: bad\nduration: soon\n", "application/x-yaml")).run()
    assert "bad.yaml" in at.error[0].value and "line 2, duration:" in at.error[0].value


def wait_for_sweep(at: AppTest, timeout: float = 120.0) -> list[str]:
    """Rerun the page (as its once-a-second poll does) until the sweep's recommendations show."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [m.value for m in at.markdown if m.value.startswith("- At ")]
        if lines:
            return lines
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
    raise AssertionError("the sweep did not finish")


def test_capacity_view_runs_a_sweep_and_recommends_the_fewest_workers(library: Path) -> None:
    at = start(library, "overload.yaml")
    at.radio[0].set_value("Capacity").run()
    assert not at.exception, at.exception
    assert at.selectbox[0].value.key == "consumers.workers.workers"  # workers are offered first
    assert not at.dataframe  # nothing runs before the button
    at.text_input[0].set_value("1, 2, 3")
    at.text_input[1].set_value("1, 1.5")
    at.number_input[0].set_value(1.0)  # loss at most 1%
    at.slider[0].set_value(2)  # replications
    at.number_input[2].set_value(10.0).run()  # 10 s per run
    assert any("3 values × 2 loads × 2 replications = 12 simulations" in c.value for c in at.caption)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert any(b.label == "Cancel the sweep" for b in at.button)  # it runs in its own process, with a cancel
    lines = wait_for_sweep(at)
    assert lines[0].startswith("- At 1× load: **consumers.workers.workers = 2**")
    assert lines[1].startswith("- At 1.5× load: **consumers.workers.workers = 3**")
    table = at.dataframe[0].value
    assert len(table) == 6 and list(table["passed"]) == [False, False, True, False, True, True]
    assert element_types(at).count("image") == 2  # heatmaps of loss and p99
    at.text_input[0].set_value("1, two").run()
    assert "'two' is not a number" in at.error[0].value
