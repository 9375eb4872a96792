"""Bad observations: each is a clear error (file, line or column, what was expected) or a stated repair."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from simbp.calibration.load import load_observed
from simbp.errors import ScenarioError


@pytest.fixture
def frame(small_spike) -> pd.DataFrame:
    return small_spike.copy()


def _csv(tmp_path, frame: pd.DataFrame, name: str = "obs.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _error(path, **options) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_observed(path, **options)
    return str(caught.value)


def test_gaps_are_filled_and_said(tmp_path, frame):
    clean = load_observed(_csv(tmp_path, frame, "clean.csv"))
    gappy = load_observed(_csv(tmp_path, frame.drop(index=[40, 41, 42, 100])))
    assert len(gappy.times) == len(clean.times)
    assert [r for r in gappy.repairs if "missing" in r] == [
        f"{tmp_path / 'obs.csv'} arrivals, throughput, lag, consumers, latency_p99: 4 missing sample(s) filled by linear "
        "interpolation (largest gap 20s after t=195s)"]
    # interpolated across the gap, the rest untouched
    assert np.allclose(np.delete(gappy.series["lag"], [40, 41, 42, 100]), np.delete(clean.series["lag"], [40, 41, 42, 100]))


def test_too_many_gaps_is_an_error(tmp_path, frame):
    text = _error(_csv(tmp_path, frame.drop(index=range(50, 100))))  # 50 of 180 samples missing
    assert "missing" in text and "at most 20%" in text


def test_duplicates_and_unsorted_rows_are_repaired(tmp_path, frame):
    clean = load_observed(_csv(tmp_path, frame, "clean.csv"))
    messy = pd.concat([frame, frame.iloc[[5, 9]]]).sample(frac=1.0, random_state=2)
    obs = load_observed(_csv(tmp_path, messy))
    assert any("not in time order" in r for r in obs.repairs)
    assert any("2 duplicate timestamp(s)" in r and "identical repeats dropped" in r for r in obs.repairs)
    for role in clean.series:
        assert np.allclose(obs.series[role], clean.series[role])
    differing = frame.copy()
    differing.loc[len(differing)] = {**frame.iloc[7].to_dict(), "lag": frame.iloc[7]["lag"] + 10}
    obs = load_observed(_csv(tmp_path, differing, "diff.csv"))
    assert any("different values averaged" in r for r in obs.repairs)
    assert obs.series["lag"][7] == pytest.approx(frame.iloc[7]["lag"] + 5)


def test_sampling_interval_changing_midway(tmp_path, frame):
    fine = frame.iloc[:90]  # every 5 s
    coarse = frame.iloc[90::2]  # then every 10 s
    obs = load_observed(_csv(tmp_path, pd.concat([fine, coarse])))
    assert obs.step == 10.0
    assert any("sampling interval changed" in r for r in obs.repairs)


def test_negative_rate_names_line_and_column(tmp_path, frame):
    frame.loc[17, "throughput"] = -3.0
    text = _error(_csv(tmp_path, frame))
    assert "obs.csv:19: throughput:" in text and "negative" in text and "rate" in text


def test_counter_with_reset_becomes_a_rate(tmp_path, frame):
    counts = frame["arrivals"].to_numpy() * 5.0
    total = np.cumsum(counts)
    total[100:] -= total[99]  # the process restarted: the counter starts again from 0
    data = frame.drop(columns=["arrivals"]).assign(messages_in_total=total)
    obs = load_observed(_csv(tmp_path, data), mapping={"arrivals": "messages_in_total"})
    assert any("counter" in r and "1 counter reset" in r for r in obs.repairs)
    clean = frame["arrivals"].to_numpy()[1:]  # a counter's first sample has no rate
    assert np.allclose(obs.series["arrivals"], clean)
    declared = load_observed(_csv(tmp_path, frame.assign(arrivals=np.cumsum(counts)), "declared.csv"),
                             counters={"arrivals"})
    assert any("declared a counter" in r for r in declared.repairs)
    as_gauge = load_observed(_csv(tmp_path, frame.assign(arrivals=np.cumsum(counts)), "gauge.csv"), gauges={"arrivals"})
    assert not any("counter" in r for r in as_gauge.repairs)


def test_latency_in_milliseconds_is_caught(tmp_path, frame):
    path = _csv(tmp_path, frame.assign(latency_p99=frame["latency_p99"] * 1000))
    text = _error(path)
    assert "latency_p99" in text and "milliseconds" in text and "--scale latency_p99=0.001" in text
    obs = load_observed(path, scale={"latency_p99": 0.001})
    assert np.allclose(obs.series["latency_p99"], frame["latency_p99"].to_numpy())


def test_epoch_milliseconds_and_iso_timestamps(tmp_path, frame):
    iso = frame.assign(time=pd.to_datetime(1714557600 + frame["time"], unit="s", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    obs = load_observed(_csv(tmp_path, iso, "iso.csv"))
    assert obs.start_epoch == 1714557605.0 and obs.step == 5.0
    ms = load_observed(_csv(tmp_path, frame.assign(time=(1714557600 + frame["time"]) * 1000), "ms.csv"))
    assert ms.step == 5.0 and any("milliseconds" in r for r in ms.repairs)


def test_too_short(tmp_path, frame):
    text = _error(_csv(tmp_path, frame.iloc[:12]))
    assert "too short" in text and "12 samples" in text


def test_not_utf8_names_the_line(tmp_path, frame):
    data = frame.to_csv(index=False).encode().splitlines(keepends=True)
    data[3] = data[3].replace(b",", b",\xff", 1)
    path = tmp_path / "latin.csv"
    path.write_bytes(b"".join(data))
    text = _error(path)
    assert "latin.csv:4" in text and "UTF-8" in text


def test_huge_file_refused_before_reading(tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as stream:
        stream.truncate(201 * 1024 * 1024)  # sparse: no time spent writing
    started = time.perf_counter()
    text = _error(path)
    assert time.perf_counter() - started < 1.0
    assert "201 MiB" in text and "200 MiB limit" in text


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_values(tmp_path, frame, value):
    text_frame = frame.astype({"lag": object})
    text_frame.loc[30, "lag"] = value
    text = _error(_csv(tmp_path, text_frame))
    assert "obs.csv:32: lag:" in text and "finite" in text


def test_text_in_a_number_column(tmp_path, frame):
    bad = frame.astype({"throughput": object})
    bad.loc[3, "throughput"] = "12 msg/s"
    text = _error(_csv(tmp_path, bad))
    assert "obs.csv:5: throughput:" in text and "'12 msg/s' is not a number" in text


def test_blank_cells_are_gaps(tmp_path, frame):
    bad = frame.astype({"lag": object})
    bad.loc[50, "lag"] = ""
    obs = load_observed(_csv(tmp_path, bad))
    assert any("1 missing sample(s) filled" in r for r in obs.repairs)


def test_missing_time_column_and_bad_time(tmp_path, frame):
    assert "no `time` column" in _error(_csv(tmp_path, frame.rename(columns={"time": "ts"}), "a.csv"))
    bad = frame.astype({"time": object})
    bad.loc[8, "time"] = "yesterday"
    assert "b.csv:10: time:" in _error(_csv(tmp_path, bad, "b.csv"))


def test_no_arrivals_can_be_derived(tmp_path, frame):
    obs = load_observed(_csv(tmp_path, frame.drop(columns=["arrivals"])))
    assert any("derived as throughput + change of lag" in r for r in obs.repairs)
    assert np.mean(obs.series["arrivals"]) == pytest.approx(frame["arrivals"].mean(), rel=0.05)
    assert "no arrivals" in _error(_csv(tmp_path, frame[["time", "lag"]], "lagonly.csv"))
