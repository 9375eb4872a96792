"""The dashboard's Observed metrics view through Streamlit's AppTest: an upload from the independent
generator is fitted (capacity within 5%), the overlay holds the observed curve and the replay, the
consumers what-if judges the lag target, and bad uploads show a clear error (no traceback, no paths)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import synth

pytest.importorskip("streamlit")
from repo import ROOT
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from simbp.dashboard import guard
from simbp.dashboard import observed_fit as fitting

APP = str(ROOT / "app.py")


@pytest.fixture
def fit_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the view may write: its temporary fit folders (here under the test's own folder)."""
    root = tmp_path / "fits"
    monkeypatch.setattr(fitting, "FIT_ROOT", root)
    return root


def opened() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["view"] = "observed"
    at.run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, *files: tuple[str, bytes, str]) -> AppTest:
    at.file_uploader(key="observed_upload").set_value(list(files)).run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> Any:
    found = [m for m in at.metric if m.label == label]
    assert len(found) == 1, [m.label for m in at.metric]
    return found[0]


def charts(at: AppTest) -> list[tuple[list[str], dict[str, pd.DataFrame]]]:
    """Each chart's panel titles and named datasets, in page order."""
    found: list[tuple[list[str], dict[str, pd.DataFrame]]] = []

    def walk(node: Any) -> None:
        if node.type == "vega_lite_chart":
            spec = json.loads(node.proto.spec)
            data = {d.name: convert_arrow_bytes_to_pandas_df(d.data.data) for d in node.proto.datasets}
            found.append(([panel["title"]["text"] for panel in spec["vconcat"]], data))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    return found


def series(data: pd.DataFrame, name: str) -> np.ndarray:
    return data[data["series"] == name]["value"].to_numpy(dtype=float)


def test_an_uploaded_csv_is_fitted_and_overlaid(small_spike: pd.DataFrame, fit_root: Path, tmp_path: Path) -> None:
    """2 consumers of 10/s in truth; the page shows 10/s within 5%, an interval around it, nothing
    unidentified, the observed lag curve exactly and a replay whose peak is within 10% of it."""
    at = opened()
    assert any("Upload observed metrics" in i.value for i in at.info)
    upload(at, ("incident 1.csv", small_spike.to_csv(index=False).encode(), "text/csv"))
    assert not at.error, [e.value for e in at.error]
    capacity = float(metric(at, "capacity per consumer").value.rstrip("/s"))
    assert capacity == pytest.approx(10.0, rel=0.05)
    assert metric(at, "consumers").value == "2"
    table = at.dataframe[0].value
    interval = table.set_index("parameter").loc["capacity per consumer", "95% interval"]
    low, high = (float(v) for v in interval.strip("[]").split(","))
    assert low < capacity < high and low <= 10.0 <= high
    assert any("Nothing: every parameter" in m.value for m in at.markdown)
    backtest = at.dataframe[1].value.set_index("figure")
    assert backtest.loc["peak lag (messages)", "mean of 3"] != "—"  # the spread over seeds is shown
    titles, data = charts(at)[0]
    assert titles == ["Lag: messages waiting", "Throughput", "Latency p99"]
    lag = data["fit_lag"]
    observed, simulated = series(lag, "observed"), series(lag, "simulated (fitted)")
    assert np.array_equal(observed, small_spike["lag"].to_numpy(dtype=float))
    assert simulated.max() == pytest.approx(observed.max(), rel=0.10)
    assert len(series(lag, "simulated: highest of 3 seeds")) == len(observed)
    assert "fitted capacity" in data["fit_throughput_limits"]["label"][0]
    assert [b.label.split(" (")[0] for b in at.get("download_button")][:3] == [
        "Download the fit", "Download fitted.yaml", "Download plan.yaml"]
    zipped = zipfile.ZipFile(io.BytesIO(fitting.download_zip(at.session_state["observed_fit"][1])))
    assert "incident_1.csv" in zipped.read("fitted.yaml").decode() and str(fit_root) not in " ".join(
        zipped.read(name).decode() for name in zipped.namelist())  # no server path in what is handed out
    # everything it wrote is in its own temporary folder
    written = [p for p in fit_root.rglob("*") if p.is_file()]
    assert written and all(p.is_relative_to(fit_root) for p in written)
    assert {p.name for p in written} >= {"incident_1.csv", "fitted.yaml", "observed_arrivals.csv", "plan.yaml", "fit.json"}


def test_what_if_from_the_fit_judges_the_lag_target(small_spike: pd.DataFrame, fit_root: Path) -> None:
    """With a 30 s target: 2 consumers (the fitted count) miss it, 3 keep it, as `simbp plan` finds."""
    at = opened()
    at.number_input(key="observed_target").set_value(30.0)
    upload(at, ("incident.csv", small_spike.to_csv(index=False).encode(), "text/csv"))
    whatif = next(w for w in at.number_input if str(w.key).startswith("observed_whatif:"))
    assert whatif.value == 3
    assert "kept" in metric(at, "peak lag (seconds)").delta
    assert float(metric(at, "peak lag (seconds)").value.rstrip("s")) <= 30
    whatif.set_value(2).run()
    assert not at.exception
    assert "missed" in metric(at, "peak lag (seconds)").delta
    assert float(metric(at, "peak lag (seconds)").value.rstrip("s")) > 30
    titles, data = charts(at)[1]
    assert titles[1].startswith("Lag in seconds with 2 consumers")
    assert data["whatif_lag_s_limits"]["value"].tolist() == [30.0]


def test_a_zip_of_prometheus_json_is_fitted(small_spike: pd.DataFrame, fit_root: Path) -> None:
    times = 1714557600.0 + small_spike["time"].to_numpy(dtype=float)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        for role in ("arrivals", "throughput", "lag", "consumers"):
            labels = {"__name__": f"kafka_consumergroup_{role}", "consumergroup": "billing"}
            body = synth.prometheus_response(times, [(labels, small_spike[role].to_numpy())])
            bundle.writestr(f"incident/{role}.json", json.dumps(body))
    at = upload(opened(), ("incident.zip", archive.getvalue(), "application/zip"))
    assert not at.error, [e.value for e in at.error]
    assert float(metric(at, "capacity per consumer").value.rstrip("/s")) == pytest.approx(10.0, rel=0.05)
    assert any("fitted as kafka" in c.value for c in at.caption)  # the series name a consumer group


def _zip(members: dict[str, bytes]) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return archive.getvalue()


@pytest.mark.parametrize("files, expected", [
    ([("short.csv", b"time,lag,throughput\n" + b"".join(b"%d,%d,1\n" % (i, i) for i in range(1, 6)), "text/csv")],
     "short.csv, throughput: series too short to fit"),
    ([("negative.csv", b"time,arrivals,throughput,lag\n" + b"".join(
        b"%d,%d,5,0\n" % (10 * i, -3 if i == 7 else 5) for i in range(1, 40)), "text/csv")], "negative.csv, line 8, arrivals: -3 is negative"),
    ([("notes.csv", b"when,what\nmonday,spike\n", "text/csv")], "no `time` column"),
    ([("latin1.csv", b"time,lag\n1,\xe9\n", "text/csv")], "not UTF-8"),
    ([("evil.zip", _zip({"../../etc/lag.json": b"{}"}), "application/zip")], "at most one folder deep"),
    ([("fake.zip", b"not a zip at all", "application/zip")], "not a zip file"),
    ([("lag.json", b"{\"status\": \"error\"}", "application/json")], "success"),
    ([("a.csv", b"time\n", "text/csv"), ("b.zip", b"x", "application/zip")], "one CSV"),
])
def test_bad_uploads_show_a_clear_error(fit_root: Path, files: list[tuple[str, bytes, str]], expected: str) -> None:
    at = upload(opened(), *files)
    errors = " ".join(e.value for e in at.error)
    assert expected in errors, errors
    assert "Traceback" not in errors and str(fit_root) not in errors and "/tmp" not in errors
    assert not at.metric  # nothing fitted is shown
    assert not [p for p in fit_root.rglob("*") if p.is_file()]  # an unusable upload leaves nothing behind


def test_milliseconds_are_caught_and_the_unit_fixes_it(small_spike: pd.DataFrame, fit_root: Path) -> None:
    frame = small_spike.assign(latency_p99=small_spike["latency_p99"] * 1000)
    at = upload(opened(), ("ms.csv", frame.to_csv(index=False).encode(), "text/csv"))
    assert "looks like milliseconds" in " ".join(e.value for e in at.error)
    at.selectbox(key="observed_latency_unit").set_value("milliseconds").run()
    assert not at.error and metric(at, "consumers").value == "2"


def test_upload_checks_and_zip_limits(tmp_path: Path) -> None:
    assert fitting.check_upload([("a.csv", guard.BUDGET.max_bundle_bytes + 1)]).startswith("the files come to")
    assert "at most" in fitting.check_upload([(f"{i}.json", 1) for i in range(guard.BUDGET.max_bundle_files + 1)])
    assert fitting.check_upload([("lag.json", 10), ("manifest.yaml", 10)]) is None
    assert fitting.safe_name("../../etc/passwd") == "passwd" and fitting.safe_name("my file.csv") == "my_file.csv"
    many = _zip({f"{i}.json": b"{}" for i in range(guard.BUDGET.max_bundle_files + 1)})
    with pytest.raises(Exception, match="holds"):
        fitting.unpack([("many.zip", many)], tmp_path / "a")
    big = _zip({"lag.json": b" " * (guard.BUDGET.max_bundle_bytes + 1)})  # compresses to almost nothing
    with pytest.raises(Exception, match="unpacks to more than"):
        fitting.unpack([("big.zip", big)], tmp_path / "b")
    assert not list((tmp_path / "b").rglob("*.json"))


def knob(at: AppTest, suffix: str) -> Any:
    found = [w for w in at.sidebar if str(getattr(w, "key", "")).startswith("knob:") and str(w.key).endswith(suffix)]
    assert len(found) == 1, [str(getattr(w, "key", "")) for w in at.sidebar]
    return found[0]


def test_the_fit_opens_in_the_what_if_view_with_every_control(small_spike: pd.DataFrame, fit_root: Path) -> None:
    """"Open in what-if" makes the fitted scenario the what-if view's: it replays the observed arrivals
    from the fit's own folder (produced = the observed arrivals, the backlog of the spike), every control
    applies (a third consumer shrinks the backlog), and the share box says a link cannot carry it."""
    at = upload(opened(), ("incident.csv", small_spike.to_csv(index=False).encode(), "text/csv"))
    fitted = at.session_state["observed_fit"][1]
    at.button(key="observed_open").click().run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    assert at.radio(key="view").value == "What-if"
    source = at.sidebar.radio(key="source")
    assert source.value == "Fitted from observed metrics" and source.options[-1] == source.value
    assert at.subheader[0].value == fitted.result.scenario.name
    observed_total = float((small_spike["arrivals"] * 5.0).sum())
    produced = float(metric(at, "produced").value.replace(",", ""))
    assert produced == pytest.approx(observed_total, rel=0.05)
    depth = float(metric(at, "peak queue depth").value.replace(",", ""))
    assert depth == pytest.approx(float(small_spike["lag"].max()), rel=0.25)
    workers = knob(at, "workers")
    assert workers.value == fitted.summary["workers"] == 2
    workers.set_value(3).run()
    assert not at.exception and not at.error
    assert float(metric(at, "peak queue depth").value.replace(",", "")) < depth / 2
    assert float(metric(at, "produced").value.replace(",", "")) == pytest.approx(observed_total, rel=0.05)
    # a link cannot carry the server's fit folder: the page says so, and the URL names no scenario
    assert any("a link cannot carry" in i.value for i in at.info)
    assert not {"scenario", "yaml"} & set(at.query_params) and not any(
        key.endswith("workers") for key in at.query_params)
    assert not [c for c in at.code if c.language != "yaml"]  # no link is offered
    assert not [c for c in at.code if str(fit_root) in c.value]  # nor the server's folder shown
    # the other views take it too, and a visit to the Observed view does not lose it
    at.radio(key="view").set_value("Compare policies").run()
    assert not at.exception and not at.error and at.metric
    at.radio(key="view").set_value("Observed metrics").run()
    at.radio(key="view").set_value("What-if").run()
    assert at.sidebar.radio(key="source").value == "Fitted from observed metrics"
    assert at.subheader[0].value == fitted.result.scenario.name
    # an edit may read files only from the fit's own folder (not the upload beside it, nor the server's)
    editor = next(t for t in at.text_area if str(t.key).startswith("yaml:"))
    editor.set_value(editor.value.replace("file: observed_arrivals.csv", "file: ../input/incident.csv")).run()
    errors = " ".join(e.value for e in at.error)
    assert not at.exception and "outside the scenario's folder" in errors and str(fit_root) not in errors


def test_a_session_without_a_fit_has_no_fitted_source(fit_root: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["source"] = "Fitted from observed metrics"  # as if left over: falls back to the library
    at.run()
    assert not at.exception and not at.error
    source = at.sidebar.radio(key="source")
    assert source.options == ["Library", "Upload a file"] and source.value == "Library"


def test_the_fitted_source_is_only_a_folder_in_the_fits_area(tmp_path: Path) -> None:
    files = {"fitted.yaml": b"name: x\n"}
    inside = tmp_path / "fits" / "abc-1234" / "fit"
    inside.mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()

    def fit_in(folder: Path) -> fitting.DashboardFit:
        return fitting.DashboardFit(SimpleNamespace(files=files), folder, "x.csv")  # type: ignore[arg-type]

    assert fitting.scenario_source(fit_in(inside), tmp_path / "fits") == ("name: x\n", inside.resolve())
    assert fitting.scenario_source(fit_in(outside), tmp_path / "fits") is None
    assert fitting.scenario_source(fit_in(inside / ".." / ".." / ".." / "elsewhere"), tmp_path / "fits") is None
    assert fitting.scenario_source(fit_in(tmp_path / "fits" / "gone"), tmp_path / "fits") is None
    assert fitting.scenario_source(None, tmp_path / "fits") is None
