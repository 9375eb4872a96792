"""A sweep, a plan and a margin small enough to check by hand.

Clockwork scenario: arrivals at 0.25, 0.5, …, 9.75 s (39 of them; the one due at 10 s is past the
end), each served in exactly 0.375 s, buffer capacity 0 with drop_newest.

- 1 worker: the arrival at 0.25 is served until 0.625, so the one at 0.5 finds the worker busy
  and is dropped; 0.75 is served until 1.125, 1.0 dropped, … Odd arrivals are served (20), even
  ones dropped (19). The last served (9.75) finishes at 10.125, after the end: 19 consumed,
  1 in flight. Loss ratio 19/39; every latency is exactly 0.375 s.
- 2 workers: each takes every other arrival, 0.5 s apart, and is free after 0.375 s: nothing
  dropped, 38 consumed, 1 in flight.
- Margin with 2 workers: at load m arrivals are 0.25/m apart, so a worker's next one comes
  0.5/m after its last. Nothing is lost while 0.5/m ≥ 0.375, i.e. up to m = 4/3 exactly.
Every replication is identical (nothing random), so each interval has zero width.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from simbp.planning import load_study, plan, replication_seed, sweep
from simbp.planning.executors import SerialExecutor
from simbp.planning.files import write_plan_report, write_sweep_report
from simbp.planning.plots import find_knee

SWEEP = """\
name: clockwork_sweep
base: clockwork.yaml
seed: 5
replications: {min: 2, max: 6, target_relative_half_width: 0.05}
vary:
  consumers.workers.workers: [1, 2]
targets:
  loss_ratio: {max: 1%}
  latency_s.mean: {max: 400ms}
"""


def test_hand_checked_sweep(folder: Path) -> None:
    (folder / "sweep.yaml").write_text(SWEEP)
    study = load_study(folder / "sweep.yaml")
    with SerialExecutor() as executor:
        result = sweep(study, executor)
    table = result.table
    assert list(table["point"]) == [0, 0, 1, 1] and list(table["replication"]) == [0, 1, 0, 1]
    assert list(table["consumers.workers.workers"]) == [1, 1, 2, 2]
    assert list(table["produced"]) == [39] * 4
    assert list(table["dropped"]) == [19, 19, 0, 0]
    assert list(table["consumed"]) == [19, 19, 38, 38]
    assert list(table["in_flight_at_end"]) == [1] * 4
    assert list(table["latency_s.mean"]) == [0.375] * 4
    for point in study.points:  # seeds spawned from the sweep seed by configuration and replication
        rows = table[table["point"] == point.index]
        assert list(rows["seed"]) == [replication_seed(5, point.key, r) for r in (0, 1)]
    assert len(set(table["seed"])) == 4

    one, two = result.results
    assert one.replications == 2 and two.replications == 2  # zero-width intervals: no more needed
    assert one.estimates["loss_ratio"].mean == 19 / 39 and one.estimates["loss_ratio"].half_width == 0
    assert one.verdicts == {"loss_ratio": False, "latency_s.mean": True}
    assert two.verdicts == {"loss_ratio": True, "latency_s.mean": True}
    [recommendation] = result.summary["recommendations"]
    assert recommendation["recommendation"] == {"consumers.workers.workers": 2}
    points = result.points
    assert list(points["passed"]) == [False, True]
    assert list(points["loss_ratio.high"]) == [19 / 39, 0.0]


def test_sweep_files(folder: Path, tmp_path: Path) -> None:
    (folder / "sweep.yaml").write_text(SWEEP.replace("[1, 2]", "[1, 2]\n  load_multiplier: [1, 1.5]"))
    with SerialExecutor() as executor:
        result = sweep(load_study(folder / "sweep.yaml"), executor)
    out = tmp_path / "out"
    written = write_sweep_report(result, out)
    names = [p.name for p in written]
    assert names[-1] == "sweep_summary.json"  # last: its presence means the sweep finished
    assert {"sweep_table.csv", "sweep_table.parquet", "sweep_points.csv", "sweep_heatmap.png", "sweep_load.png",
            "sweep_report.html"} <= set(names)
    assert not list(out.glob(".*part"))
    summary = json.loads((out / "sweep_summary.json").read_text())
    assert summary["judge"] == "bound" and summary["targets"][0]["max"] == 0.01
    # at 1.5× a worker's next arrival comes 0.5/1.5 = 0.333 s after its last, before it is free: drops
    assert [r["recommendation"] for r in summary["recommendations"]] == [{"consumers.workers.workers": 2}, None]
    assert summary["recommendations"][1]["load_multiplier"] == 1.5
    from_csv = pd.read_csv(out / "sweep_table.csv")
    pd.testing.assert_frame_equal(from_csv[["point", "replication", "dropped"]], result.table[["point", "replication", "dropped"]])
    from_parquet = pd.read_parquet(out / "sweep_table.parquet")
    pd.testing.assert_frame_equal(from_parquet, result.table)
    page = (out / "sweep_report.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "cheapest" in page and "✗" in page


def test_plan_and_margin_by_hand(folder: Path, tmp_path: Path) -> None:
    (folder / "plan.yaml").write_text("""\
name: clockwork_plan
base: clockwork.yaml
replications: {min: 2}
targets:
  loss_ratio: {max: 0}
plan:
  search:
    consumers.workers.workers: {min: 1, max: 4}
  margin: {up_to: 3, tolerance: 0.05}
""")
    with SerialExecutor() as executor:
        result = plan(load_study(folder / "plan.yaml"), executor)
    assert result.recommendation is not None
    assert result.recommendation.point.changes["consumers.workers.workers"] == 2
    assert [r.point.changes["consumers.workers.workers"] for r in result.cheaper_failed] == [1]
    # Erlang B loses some calls at any load, so theory cannot promise zero loss: no theory answer
    assert result.theory.changes is None
    margin = result.margin
    assert margin is not None
    assert margin.max_load <= 4 / 3 < margin.first_failing_load
    assert (margin.first_failing_load - margin.max_load) / margin.max_load <= 0.05
    assert margin.failing_targets == ["loss_ratio"]
    loads = [load for load, _ in margin.curve]
    assert loads == sorted(loads) and loads[0] == 1.0
    assert all(r.passed == (load <= 4 / 3) for load, r in margin.curve)
    assert set(result.table["phase"]) == {"search", "margin"}
    written = write_plan_report(result, tmp_path / "plan")
    assert written[-1].name == "plan_summary.json"
    summary = json.loads(written[-1].read_text())
    assert summary["recommendation"]["changes"] == {"consumers.workers.workers": 2}
    assert math.isclose(summary["margin"]["max_load_multiplier"], margin.max_load)
    page = (tmp_path / "plan" / "plan_report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "knee" in page and "up to 1.312× load" in page


def test_replications_follow_the_stopping_rule(folder: Path) -> None:
    (folder / "noisy_sweep.yaml").write_text("""\
name: noisy_sweep
base: noisy.yaml
seed: 3
replications: {min: 3, max: 9, step: 2, target_relative_half_width: 0.02, stop_when_decided: false}
vary:
  consumers.workers.workers: [2, 3]
targets:
  latency_s.mean: {max: 1s}
""")
    with SerialExecutor() as executor:
        result = sweep(load_study(folder / "noisy_sweep.yaml"), executor)
    for point in result.results:
        n = point.replications
        assert n in (3, 5, 7, 9)
        value = point.estimates["latency_s.mean"]
        if n < 9:
            assert value.relative_half_width() <= 0.02
        # the rule was not met one step earlier (else it would have stopped there)
        if n > 3:
            from simbp.planning import estimate

            earlier = estimate(row["latency_s.mean"] for row in point.rows[: n - 2])
            assert earlier.relative_half_width() > 0.02
    assert any(point.replications > 3 for point in result.results)


def test_knee_rules() -> None:
    # with pass/fail: the last passing load before the first failure
    assert find_knee([1, 2, 3, 4], [0, 0, 1, 5], [True, True, False, False]) == 1
    assert find_knee([1, 2, 3], [0, 0, 0], [True, True, True]) is None
    # without: the point farthest from the chord (a hockey stick bends at x = 3)
    assert find_knee([1, 2, 3, 4, 5], [1.0, 1.1, 1.2, 3.0, 5.0]) == 2


def test_plan_over_values_with_units(folder: Path) -> None:
    # one worker, an arrival every 250 ms: a service of 500 or 375 ms drops, 200 ms keeps up
    (folder / "plan.yaml").write_text("""\
name: clockwork_speed
base: clockwork.yaml
replications: {min: 2}
targets:
  loss_ratio: {max: 0}
plan:
  search:
    consumers.workers.service: [500ms, 375ms, 200ms]   # slowest (cheapest) first
  margin: {enabled: false}
""")
    with SerialExecutor() as executor:
        result = plan(load_study(folder / "plan.yaml"), executor)
    assert result.recommendation is not None
    assert result.recommendation.point.changes["consumers.workers.service"]["value"] == 0.2
    [cheaper] = result.cheaper_failed
    assert cheaper.point.changes["consumers.workers.service"]["value"] == 0.375
    assert cheaper.estimates["loss_ratio"].mean == 19 / 39
    assert result.margin is None
    assert list(result.table["consumers.workers.service"]) == ["0.5", "0.5", "0.375", "0.375", "0.2", "0.2"]
    write_plan_report(result, folder / "out", plots=False)  # a column of distributions is stored as text
    assert (folder / "out" / "plan_table.parquet").is_file()


def test_plots_with_words_and_three_fields(folder: Path, tmp_path: Path) -> None:
    (folder / "words.yaml").write_text("""\
name: words
base: noisy.yaml
replications: {min: 2}
vary:
  buffers.queue.policy: [drop_newest, drop_oldest]
  consumers.workers.workers: [2, 3]
  buffers.queue.capacity: [5, 20]
targets:
  latency_s.p99: {max: 50ms}
""")
    with SerialExecutor() as executor:
        result = sweep(load_study(folder / "words.yaml"), executor)
    written = {p.name for p in write_sweep_report(result, tmp_path / "words")}
    assert {"sweep_heatmap.png", "sweep_load.png"} <= written
    assert len(result.table) == 16 and set(result.table["buffers.queue.policy"]) == {"drop_newest", "drop_oldest"}
