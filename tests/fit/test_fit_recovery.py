"""Known truth in, estimates out: capacity, service time and the replayed lag against an independent M/M/c."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from synth import MU, WORKERS

import simbp
from simbp.calibration.estimate import estimate
from simbp.calibration.observed import Observed


def test_capacity_recovered_within_5_percent(spike_fit):
    result, _ = spike_fit
    summary = result.summary
    assert summary["workers"] == WORKERS
    assert summary["capacity_per_s"] == pytest.approx(MU, rel=0.05)
    low, high = summary["capacity_per_s_interval"]
    assert low < summary["capacity_per_s"] < high
    assert low <= MU <= high  # the 95% interval covers the truth (fixed seed)
    assert summary["service_mean_s"] == pytest.approx(1 / MU, rel=0.05)
    assert summary["saturated_intervals"] > 100  # ~26 minutes of backlog at 10 s
    assert summary["service"]["dist"] == "exponential"  # Poisson completions: cv² ≈ 1
    assert 0.6 < summary["service_cv2"] < 1.4
    assert summary["unidentified"] == []


def test_backtest_peak_lag_within_10_percent(spike_fit, spike):
    result, _ = spike_fit
    bt = result.summary["backtest"]
    assert bt["observed_peak_lag"] == pytest.approx(spike["lag"].max())
    assert bt["simulated_peak_lag"] == pytest.approx(bt["observed_peak_lag"], rel=0.10)
    assert abs(bt["peak_time_offset_s"]) <= 60
    assert bt["lag_nrmse"] < 0.05
    assert bt["latency_p99_nrmse"] < 0.1
    # the replay reproduces the observed arrivals: same total within Poisson rounding
    simulated = np.nansum(result.backtest.simulated["arrivals"])
    assert simulated == pytest.approx(spike["arrivals"].sum(), rel=0.01)


def test_outputs_written_and_consistent(spike_fit):
    _, out = spike_fit
    names = sorted(p.name for p in out.iterdir())
    assert names == ["fit.json", "fit_report.html", "fitted.yaml", "observed_arrivals.csv", "plan.yaml"]
    summary = json.loads((out / "fit.json").read_text())
    scenario = yaml.safe_load((out / "fitted.yaml").read_text())
    assert scenario["producers"][0]["arrivals"]["file"] == "observed_arrivals.csv"  # relative, next to it
    assert scenario["consumers"][0]["workers"] == summary["workers"]
    assert scenario["consumers"][0]["service"]["mean"] == pytest.approx(summary["service_mean_s"], rel=1e-5)
    html = (out / "fit_report.html").read_text()
    assert html.count("data:image/png;base64,") == 3  # lag, throughput, latency
    assert "<script" not in html and "src='http" not in html
    assert "Spread over 5 replays" in html and "simulated_peak_lag" in html
    plan = yaml.safe_load((out / "plan.yaml").read_text())
    assert list(plan["targets"]) == ["peak_lag_s"] and plan["targets"]["peak_lag_s"] == {"max": "60s"}


def test_never_saturated_gives_a_lower_bound():
    rng = np.random.default_rng(0)
    n = 120
    thr = 50 + rng.normal(0, 2, n)
    obs = Observed(times=10.0 * np.arange(n), step=10.0, series={
        "arrivals": thr, "throughput": thr, "lag": np.zeros(n), "consumers": np.full(n, 2.0)}, source="x.csv")
    fitted = estimate(obs)
    assert fitted.capacity_per_s == pytest.approx(thr.max() / 2)
    assert fitted.capacity_interval == (pytest.approx(thr.max() / 2), None)
    assert any("never saturated" in u and "at least" in u for u in fitted.unidentified)
    assert any("exponential" in u for u in fitted.unidentified)


def test_low_variability_service_is_not_called_exponential():
    """Saturated counts much steadier than Poisson (cv² ≈ 0.1) → a gamma with shape near 10."""
    rng = np.random.default_rng(1)
    n = 200
    counts = 1000 + rng.normal(0, np.sqrt(0.1 * 1000), n)  # all 4 consumers: 1000 per 10 s, Var = cv² × mean
    thr = counts / 10
    obs = Observed(times=10.0 * np.arange(n), step=10.0, series={
        "arrivals": thr + 5, "throughput": thr, "lag": np.full(n, 5000.0), "consumers": np.full(n, 4.0)}, source="x.csv")
    fitted = estimate(obs)
    assert fitted.service["dist"] == "gamma"
    assert fitted.service_cv2 == pytest.approx(0.1, rel=0.35)
    assert fitted.capacity_per_s == pytest.approx(25, rel=0.01)


def test_unknown_consumer_count_is_said(spike_csv, tmp_path, spike):
    frame = spike.drop(columns=["consumers"])
    path = tmp_path / "no_consumers.csv"
    frame.to_csv(path, index=False)
    result = simbp.fit(path)  # no folder: nothing written
    assert result.written == []
    assert result.summary["workers"] == 1
    assert result.summary["capacity_per_s"] == pytest.approx(WORKERS * MU, rel=0.05)
    assert any("consumer count was not observed" in u for u in result.summary["unidentified"])
    declared = simbp.fit(path, workers=4)
    assert declared.summary["capacity_per_s"] == pytest.approx(MU, rel=0.05)


def test_same_input_same_seed_same_files(small_spike, tmp_path):
    path = tmp_path / "small.csv"
    small_spike.to_csv(path, index=False)
    simbp.fit(path, tmp_path / "a", seed=4, plots=False)
    simbp.fit(path, tmp_path / "b", seed=4, plots=False)
    for name in ("fit.json", "fitted.yaml", "observed_arrivals.csv", "plan.yaml"):
        a, b = (tmp_path / "a" / name).read_text(), (tmp_path / "b" / name).read_text()
        assert a.replace(str(tmp_path / "a"), "") == b.replace(str(tmp_path / "b"), ""), name


def test_simbp_fit_is_the_calibration_layers_function(small_spike, tmp_path):
    path = tmp_path / "s.csv"
    small_spike.to_csv(path, index=False)
    from simbp.calibration import fit as calibration_fit

    first = simbp.fit(path, plots=False)
    second = calibration_fit(path, plots=False)
    assert first.summary == second.summary


def test_backtest_over_several_seeds_keeps_within_10_percent(spike_fit):
    """Every replay (not just the first seed) puts the peak lag within 10% of the observed one; the
    spread block holds the mean, its 95% interval and the range over the seeds."""
    result, out = spike_fit
    bt = result.summary["backtest"]
    assert bt["replications"] == 5 and bt["seeds"] == [0, 1, 2, 3, 4]
    spread = bt["spread"]
    peak = spread["simulated_peak_lag"]
    assert peak["min"] <= bt["simulated_peak_lag"] <= peak["max"]  # the first seed's keys are kept as they were
    assert peak["low"] <= peak["mean"] <= peak["high"]
    assert peak["min"] <= peak["mean"] <= peak["max"] and peak["min"] < peak["max"]  # seeds differ
    errors = spread["peak_lag_relative_error"]
    assert max(abs(errors["min"]), abs(errors["max"])) <= 0.10
    assert errors["low"] <= 0 <= errors["high"] or abs(errors["mean"]) < 0.03  # no bias the seeds agree on, or small
    assert spread["lag_nrmse"]["max"] < 0.05
    assert json.loads((out / "fit.json").read_text())["backtest"]["spread"] == spread


def test_replications_are_bounded_by_computing_time(small_spike, tmp_path):
    from simbp.calibration.backtest import replications_within

    path = tmp_path / "s.csv"
    small_spike.to_csv(path, index=False)
    result = simbp.fit(path, plots=False, replications=3)
    assert result.summary["backtest"]["replications"] == 3
    written = simbp.fit(path, tmp_path / "out", plots=False, replications=1)  # its scenario's trace stays on disk
    count, why = replications_within(written.scenario, 50, seconds=1e-9)
    assert count == 1 and "1 of 50 replays" in why
    single = simbp.fit(path, plots=False, replications=4, backtest_seconds=1e-9)
    assert single.summary["backtest"]["replications"] == 1 and "1 of 4" in single.summary["backtest"]["replications_note"]
