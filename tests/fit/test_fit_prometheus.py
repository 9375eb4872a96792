"""Prometheus range-query folders: role files, a manifest with label selectors, counters, Kafka detection."""

from __future__ import annotations

import json

import numpy as np
import pytest
import synth
import yaml
from synth import MU, WORKERS

import simbp
from simbp.calibration.load import load_observed
from simbp.errors import ScenarioError

EPOCH = 1714557600.0  # 2024-05-01T10:00:00Z


def _write(folder, name, times, series):
    (folder / name).write_text(json.dumps(synth.prometheus_response(times, series)))


@pytest.fixture(scope="module")
def prom_folder(tmp_path_factory, spike):
    """Arrivals as a counter split over two partitions (plus another topic to leave out), Kafka lag,
    throughput, consumers, and latency scraped every 20 s instead of 10 s."""
    folder = tmp_path_factory.mktemp("prom")
    times = EPOCH + spike["time"].to_numpy(dtype=float)
    counts = spike["arrivals"].to_numpy() * 10
    total = np.concatenate(([0.0], np.cumsum(counts)))  # the counter at each scrape, one scrape earlier too
    stamps = np.concatenate(([times[0] - 10], times))
    half = np.floor(total / 2)
    _write(folder, "in.json", stamps, [
        ({"__name__": "kafka_topic_messages_in_total", "topic": "orders", "partition": "0"}, half),
        ({"__name__": "kafka_topic_messages_in_total", "topic": "orders", "partition": "1"}, total - half),
        ({"__name__": "kafka_topic_messages_in_total", "topic": "audit", "partition": "0"}, total * 7),
    ])
    _write(folder, "lag.json", times, [({"__name__": "kafka_consumergroup_lag", "consumergroup": "billing"},
                                        spike["lag"].to_numpy())])
    _write(folder, "throughput.json", times, [({"consumergroup": "billing"}, spike["throughput"].to_numpy())])
    _write(folder, "consumers.json", times, [({"consumergroup": "billing"}, spike["consumers"].to_numpy())])
    _write(folder, "latency.json", times[1::2], [({"quantile": "0.99"}, spike["latency_p99"].to_numpy()[1::2])])
    (folder / "manifest.yaml").write_text(yaml.safe_dump({"roles": {
        "arrivals": {"file": "in.json", "select": {"topic": "orders"}},
        "lag": "lag.json", "throughput": "throughput.json", "consumers": "consumers.json",
        "latency_p99": {"file": "latency.json"}}}))
    return folder


def test_manifest_sums_selected_series_and_converts_the_counter(prom_folder, spike):
    obs = load_observed(prom_folder)
    assert obs.hints.get("kind") == "kafka"
    assert obs.start_epoch is not None
    assert any("counter" in r and "in.json" in r for r in obs.repairs)
    assert any("different intervals" in r and "20s" in r for r in obs.repairs)  # latency scraped every 20 s
    assert obs.step == 20.0
    # arrivals on the 20 s grid = the mean of the two 10 s rates (the audit topic left out)
    expected = spike["arrivals"].to_numpy()
    grid_end = ((obs.times + (obs.start_epoch - EPOCH)) / 10).astype(int) - 1  # index of the 10 s sample ending there
    assert np.allclose(obs.series["arrivals"], (expected[grid_end] + expected[grid_end - 1]) / 2, rtol=1e-6)


def test_prometheus_fit_as_kafka(prom_folder, tmp_path):
    result = simbp.fit(prom_folder, tmp_path / "out", plots=False)
    s = result.summary
    assert s["kind"] == "kafka"
    assert s["capacity_per_s"] == pytest.approx(MU, rel=0.05)
    assert s["workers"] == WORKERS
    scenario = yaml.safe_load((tmp_path / "out" / "fitted.yaml").read_text())
    assert scenario["consumer_groups"][0]["consumers"] == WORKERS
    assert scenario["topics"][0]["partitions"] >= WORKERS
    bt = s["backtest"]
    assert bt["simulated_peak_lag"] == pytest.approx(bt["observed_peak_lag"], rel=0.10)
    assert bt["observed_peak_time"].startswith("2024-05-01T10:2")  # ISO time, in the spike (minutes 15-25)


def test_role_files_without_manifest(tmp_path, spike):
    times = EPOCH + spike["time"].to_numpy(dtype=float)
    for role in ("arrivals", "throughput", "lag"):
        _write(tmp_path, f"{role}.json", times, [({"instance": "a"}, spike[role].to_numpy())])
    obs = load_observed(tmp_path)
    assert sorted(obs.series) == ["arrivals", "lag", "throughput"]
    assert obs.hints == {}
    assert np.allclose(obs.series["lag"], spike["lag"].to_numpy())


@pytest.mark.parametrize("body, field, message", [
    ({"status": "error", "error": "bad query"}, "status", "success"),
    ({"status": "success", "data": {"resultType": "vector", "result": []}}, "resultType", "matrix"),
    ({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {}, "values": [[1.0, "1"], [2.0, "NaN"]]}]}}, "values[1]", "finite"),
    ({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {}, "values": [[1.0, "1"], [2.0, "+Inf"]]}]}}, "values[1]", "finite"),
])
def test_bad_prometheus_files(tmp_path, body, field, message):
    (tmp_path / "lag.json").write_text(json.dumps(body))
    with pytest.raises(ScenarioError) as caught:
        load_observed(tmp_path)
    text = str(caught.value)
    assert "lag.json" in text and field in text and message in text


def test_manifest_selector_matching_nothing(tmp_path, spike):
    _write(tmp_path, "lag.json", spike["time"].to_numpy(), [({"topic": "a"}, spike["lag"].to_numpy())])
    (tmp_path / "manifest.yaml").write_text("roles:\n  lag: {file: lag.json, select: {topic: b}}\n")
    with pytest.raises(ScenarioError, match="no series matches"):
        load_observed(tmp_path)
