"""`simbp fit` on the command line: exit codes, the files, and that fitted.yaml and plan.yaml run."""

from __future__ import annotations

import json

import pytest
import synth
import yaml

import simbp
from simbp.cli import main


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory, small_spike):
    path = tmp_path_factory.mktemp("cli") / "small.csv"
    small_spike.to_csv(path, index=False)
    return path


def test_fit_then_validate_run_and_plan(small_csv, tmp_path, capsys):
    out = tmp_path / "fit"
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # someone else's file: never touched
    assert main(["fit", str(small_csv), "--out", str(out), "--lag-target", "30s"]) == 0
    printed = capsys.readouterr().out
    assert "capacity" in printed and "95% interval" in printed and "backtest" in printed and "simbp plan" in printed
    assert (out / "notes.txt").read_text() == "mine"
    assert not list(out.glob(".*.part"))
    summary = json.loads((out / "fit.json").read_text())
    assert summary["capacity_per_s"] == pytest.approx(10.0, rel=0.05)
    assert main(["validate", str(out / "fitted.yaml")]) == 0
    assert main(["run", str(out / "fitted.yaml"), "--out", str(tmp_path / "run"), "--no-plots", "--quiet"]) == 0
    assert main(["plan", str(out / "plan.yaml"), "--jobs", "1", "--out", str(tmp_path / "plan"), "--no-plots", "--quiet"]) == 0
    plan = json.loads((tmp_path / "plan" / "plan_summary.json").read_text())
    chosen = plan["recommendation"]["changes"]["consumers.consumers.workers"]
    # 2 consumers of 10/s let a 30/s spike back up for minutes; 3 (30/s) keep up with it
    assert chosen == 3
    assert plan["recommendation"]["figures"]["peak_lag_s"]["high"] <= 30
    # the recommendation's replay keeps the lag in seconds under the target, seed after seed ...
    fitted = yaml.safe_load((out / "fitted.yaml").read_text())
    for workers, keeps in ((chosen, True), (chosen - 1, False)):
        fitted["consumers"][0]["workers"] = workers
        (out / "what_if.yaml").write_text(yaml.safe_dump(fitted))
        peaks = [simbp.run(simbp.load_scenario(out / "what_if.yaml"), seed=seed).summary["peak_lag_s"] for seed in (1, 2, 3)]
        assert all(peak <= 30 for peak in peaks) if keeps else min(peaks) > 30, (workers, peaks)
    # ... and so would the real system have: the independent M/M/c, given that many consumers
    truth = {c: max(synth.mmc_metrics(synth.spike_profile(12, 30, 180, 300), c=c, mu=10.0, duration=900, step=5.0,
                                      seed=seed, lag_seconds=True)["lag_s"].max() for seed in (21, 22, 23))
             for c in (chosen - 1, chosen)}
    assert truth[chosen] <= 30 < truth[chosen - 1], truth


def test_fit_as_kafka_and_rerun_replaces_its_own_files(small_csv, tmp_path):
    out = tmp_path / "k"
    assert main(["fit", str(small_csv), "--out", str(out), "--as", "kafka", "--no-plots", "--quiet"]) == 0
    assert json.loads((out / "fit.json").read_text())["kind"] == "kafka"
    assert main(["validate", str(out / "fitted.yaml")]) == 0
    assert main(["fit", str(small_csv), "--out", str(out), "--quiet", "--no-plots"]) == 0  # its own fit.json: replaced
    assert json.loads((out / "fit.json").read_text())["kind"] == "buffer"


@pytest.mark.parametrize("extra, message", [
    (["--map", "lag"], "expected ROLE=VALUE"),
    (["--map", "lag=nope"], "no such column"),
    (["--map", "bogus=lag"], "unknown role"),
    (["--counter", "lag"], "only arrivals and throughput"),
    (["--scale", "latency_p99=x"], "FACTOR"),
    (["--lag-target", "soon"], "--lag-target"),
    (["--workers", "0"], "at least 1"),
])
def test_bad_options_exit_2(small_csv, tmp_path, capsys, extra, message):
    assert main(["fit", str(small_csv), "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_out_that_is_a_file_or_foreign_folder_is_refused(small_csv, tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("x")
    assert main(["fit", str(small_csv), "--out", str(target)]) == 2
    assert "existing file" in capsys.readouterr().err
    assert target.read_text() == "x"
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "fit.json").write_text('{"mine": true}')
    assert main(["fit", str(small_csv), "--out", str(foreign)]) == 2
    assert "did not write" in capsys.readouterr().err
    assert (foreign / "fit.json").read_text() == '{"mine": true}'
    assert sorted(p.name for p in foreign.iterdir()) == ["fit.json"]


def test_unusable_inputs_exit_2(tmp_path, capsys):
    assert main(["fit", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"time,lag\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(5)))
    assert main(["fit", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "too short" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # nothing written for unusable input
