"""Hangs: inputs whose run the size estimate used to miss. Each now ends within seconds: refused up
front with the budget it is over (exit 2), or run correctly; each in its own process under a
3 GiB cap and a timeout."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_helpers import GOOD, assert_clean, assert_refused, run_scenario

import simbp
from simbp import limits

HOUR = GOOD.replace("duration: 10s", "duration: 1h")


def arrivals(text: str, spec: str) -> str:
    return text.replace("arrivals: {process: poisson, rate: 50/s}", f"arrivals: {spec}")


def pipeline(stages: int, rate: str) -> str:
    return ("name: pipe\nduration: 100s\nproducers:\n"
            f"  - {{name: p, to: b0, arrivals: {{process: poisson, rate: {rate}}}}}\nbuffers:\n"
            + "".join(f"  - {{name: b{i}, policy: drop_newest, capacity: 100}}\n" for i in range(stages + 1))
            + "consumers:\n"
            + "".join(f"  - {{name: c{i}, from: b{i}, to: b{i + 1}, workers: 4, service: 0.1ms}}\n" for i in range(stages))
            + f"  - {{name: sink, from: b{stages}, workers: 4, service: 0.1ms}}\n")


REFUSED = {
    "bursty-both-rates-zero": (arrivals(HOUR, "{process: bursty, on: {rate: 0, duration: 1s}, off: {rate: 0, duration: 1s}}"),
                               ["positive rate"]),
    "bursty-microsecond-phases": (arrivals(HOUR, "{process: bursty, on: {rate: 100/s, duration: 1us}, off: {rate: 0, duration: 1us}}"),
                                  ["events budget", "burst phases"]),
    "sample-interval-1us": (HOUR.replace("duration: 1h", "duration: 1h\nsample_interval: 1us"), ["samples budget"]),
    "100-stage-pipeline": (pipeline(100, "15000/s"), ["events budget", "stage visits"]),
    "retries-backoff-0": (HOUR.replace("    arrivals: {process: poisson, rate: 50/s}",
                                       "    arrivals: {process: poisson, rate: 2000/s}\n    retry: {max: 100, backoff: 0, on: [drop]}")
                          .replace("capacity: 100", "capacity: 1"), ["events budget", "retries"]),
    "kafka-10000-partitions": ("name: k\nduration: 60s\nproducers:\n  - {name: p, to: t, arrivals: {process: poisson, rate: 100/s}}\n"
                               "topics:\n  - {name: t, partitions: 10000}\n"
                               "consumer_groups:\n  - {name: g, topic: t, consumers: 10, processing: 1ms}\n", ["events budget"]),
    "kafka-10000-partitions-fast": ("name: k\nduration: 60s\nproducers:\n  - {name: p, to: t, arrivals: {process: poisson, rate: 100/s}}\n"
                                    "topics:\n  - {name: t, partitions: 10000}\n"
                                    "consumer_groups:\n  - {name: g, topic: t, consumers: 10, processing: 1ms}\n",
                                    ["events budget", "Kafka partitions"]),
    "autoscale-every-millisecond": (GOOD.replace("    workers: 2\n", "    workers: 1\n    autoscale: {min: 1, max: 20000, "
                                                 "scale_up_lag: 1, step: 1, check_every: 1ms, cooldown: 0}\n")
                                    .replace("policy: drop_newest\n    capacity: 100", "policy: unbounded")
                                    .replace("duration: 10s", "duration: 60s"), ["events budget"]),
    "step-between-samples": (arrivals(HOUR, "{process: schedule, interpolation: step, points: [{at: 0, rate: 1/s}, "
                                            "{at: 1000.3s, rate: 50000000/s}, {at: 1000.8s, rate: 1/s}]}"),
                             ["25,00"]),  # 25 million messages in half a second: counted, not sampled away
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_up_front_within_seconds(place: Path, name: str) -> None:
    text, words = REFUSED[name]
    extra = ["--mode", "exact"] if name == "step-between-samples" else ["--mode", "fast"] if name.endswith("-fast") else []
    outcome = run_scenario(place, text, *extra, timeout=60, isolated=True)
    assert_refused(outcome, *words)
    assert "--budget" in outcome.err or "--allow-large" in outcome.err or "positive" in outcome.err  # says how to go on


def test_a_short_spike_costs_its_own_arrivals(place: Path) -> None:
    """A one-second spike at 200,000/s in an hour at 1/s: 200,000 arrivals, not 720 million draws."""
    text = arrivals(HOUR, "{process: schedule, interpolation: step, points: [{at: 0, rate: 1/s}, "
                          "{at: 100s, rate: 200000/s}, {at: 101s, rate: 1/s}]}")
    scenario = simbp.load_scenario(text)
    assert limits.estimate_messages(scenario) == pytest.approx(200_000 + 3599, rel=1e-9)
    assert limits.estimate_events(scenario) < 3 * 204_000
    outcome = run_scenario(place, text, "--mode", "exact", timeout=90, isolated=True)
    assert_clean(outcome)


def test_a_schedule_that_ends_at_zero_ends(place: Path) -> None:
    text = arrivals(HOUR, "{process: schedule, points: [{at: 0, rate: 10/s}, {at: 10s, rate: 0}]}")
    assert_clean(run_scenario(place, text, timeout=60, isolated=True))
    summary = simbp.run(text).summary
    assert 0 < summary["produced"] < 200  # about 50: the ramp from 10/s to 0 over 10 s


@pytest.mark.parametrize("interpolation", ["step", "linear"])
@pytest.mark.parametrize("within", ["poisson", "constant"])
def test_schedule_estimates_are_exact_integrals(interpolation: str, within: str) -> None:
    """Steps and ramps integrate exactly (repeats included), and the engine produces about that."""
    text = arrivals(GOOD.replace("duration: 10s", "duration: 95s"),
                    f"{{process: schedule, interpolation: {interpolation}, within: {within}, repeat: 20s, "
                    "points: [{at: 0, rate: 40/s}, {at: 5s, rate: 0}, {at: 12.5s, rate: 80/s}]}")
    scenario = simbp.load_scenario(text)
    one_lap = (40 * 5 + 0 * 7.5 + 80 * 7.5) if interpolation == "step" else (20 * 5 + 40 * 7.5 + 80 * 7.5)
    laps, rest = 4, 15.0  # 95 s = 4 laps of 20 s and 15 s of a fifth
    partial = (40 * 5 + 80 * 2.5) if interpolation == "step" else (20 * 5 + 40 * 7.5 + 80 * 2.5)
    assert rest == 15.0
    expected = laps * one_lap + partial
    assert limits.estimate_messages(scenario) == pytest.approx(expected, rel=1e-9)
    produced = simbp.run(scenario).summary["produced"]
    assert abs(produced - expected) <= 4 * expected**0.5 + 5  # Poisson: within 4 standard deviations


def test_the_wall_budget_stops_a_running_simulation(place: Path) -> None:
    slow = GOOD.replace("duration: 10s", "duration: 20m").replace("rate: 50/s", "rate: 900/s").replace("workers: 2", "workers: 12")
    outcome = run_scenario(place, slow, "--budget", "wall=1s", timeout=60, isolated=True)
    assert_refused(outcome, "wall", "--budget wall=")
    assert not (place / "out" / "summary.json").exists()  # nothing that looks complete


def test_the_events_budget_stops_a_running_simulation() -> None:
    """The estimate is an upper bound for retries; the engine counts the visits as it goes."""
    from simbp.budget import BudgetExceeded, Budgets
    from simbp.exact.model import simulate

    scenario = simbp.load_scenario(GOOD.replace("duration: 10s", "duration: 100s"))
    with pytest.raises(BudgetExceeded, match="events") as caught:
        simulate(scenario, guard=Budgets(events=2000).guard())
    assert caught.value.budget == "events"


SWEEP = "name: s\nbase: base.yaml\nvary:\n  consumers.workers.workers: [1, 2]\nreplications: {min: 2, max: 2}\n"


def test_jobs_are_clamped_to_the_cores(place: Path) -> None:
    from hostile_helpers import run_cli, write

    from simbp.budget import clamp_jobs

    write(place, GOOD.replace("duration: 10s", "duration: 2s"), "base.yaml")
    path = write(place, SWEEP, "spec.yaml")
    outcome = run_cli(["sweep", str(path), "--jobs", "1000", "--out", "out", "--no-plots"], place, timeout=120)
    assert_clean(outcome)
    assert "--jobs 1000 is more than the" in outcome.err
    jobs, note = clamp_jobs(1000)
    assert jobs is not None and jobs <= 1000 and note is not None


def test_dask_at_a_service_that_is_not_dask(place: Path) -> None:
    """A peer that accepts the connection and never answers (an idle HTTP server, say): exit 2 within
    the 10 s the scheduler has to say who it is, not a hang."""
    import socket
    import threading

    from hostile_helpers import run_cli, write

    pytest.importorskip("distributed")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)

    threading.Thread(target=accept, daemon=True).start()
    try:
        write(place, GOOD.replace("duration: 10s", "duration: 2s"), "base.yaml")
        path = write(place, SWEEP, "spec.yaml")
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        outcome = run_cli(["sweep", str(path), "--dask", address, "--out", "out"], place, timeout=90)
        assert_refused(outcome, "--dask", "no Dask scheduler answered")
        assert not (place / "out").exists()
    finally:
        server.close()
        for connection in held:
            connection.close()


def test_plan_search_points_are_size_checked_before_running(place: Path) -> None:
    from hostile_helpers import run_cli, write

    write(place, GOOD.replace("duration: 10s", "duration: 2s"), "base.yaml")
    body = ("name: s\nbase: base.yaml\nmode: exact\nreplications: {min: 2, max: 2}\ntargets:\n  loss_ratio: {max: 1%}\n"
            "plan:\n  search:\n    consumers.workers.workers: [1, 2]\n    producers.web.arrivals.rate: [50/s, 1000000000/s]\n")
    outcome = run_cli(["plan", str(write(place, body, "spec.yaml")), "--jobs", "1", "--out", "out"], place, timeout=60)
    assert_refused(outcome, "rate=1000000000", "2,000,000,000 messages")
    assert not (place / "out").exists()


def test_the_plan_margin_stops_at_the_size_limits(place: Path) -> None:
    """A margin asked to go up to a billion times the load stops where points stop fitting the
    budgets, and says how far it went, instead of simulating ever larger points."""
    import json

    from hostile_helpers import run_cli, write

    write(place, GOOD.replace("duration: 10s", "duration: 2s").replace("workers: 2", "workers: 8"), "base.yaml")
    # transient: whole runs, so every load passes and only the size limits can stop the margin
    body = ("name: s\nbase: base.yaml\nmode: exact\ntransient: true\nreplications: {min: 2, max: 2}\n"
            "targets:\n  loss_ratio: {max: 100%}\n"
            "plan:\n  search:\n    consumers.workers.workers: [1, 2, 4, 8]\n  margin: {up_to: 1000000000}\n")
    outcome = run_cli(["plan", str(write(place, body, "spec.yaml")), "--jobs", "1", "--out", "out", "--no-plots",
                       "--budget", "events=20000"], place, timeout=120)
    assert_clean(outcome)
    summary = json.loads((place / "out" / "plan_summary.json").read_text(encoding="utf-8"))
    margin = summary["margin"]
    assert margin is not None and 10 < margin["searched_up_to"] < 200  # 2 s at 50/s × 200 ≈ 20,000 events
    assert max(entry["load_multiplier"] for entry in margin["curve"]) <= margin["searched_up_to"]


def test_runs_are_never_lengthened_past_the_budgets(place: Path) -> None:
    """Steady-state analysis lengthens runs found too short, but never past the study's budgets:
    the plan finishes (points that stay too short say so) instead of failing on a budget mid-way."""
    import json

    from hostile_helpers import run_cli, write

    write(place, GOOD.replace("duration: 10s", "duration: 2s"), "base.yaml")
    body = ("name: s\nbase: base.yaml\nmode: exact\nreplications: {min: 2, max: 2}\ntargets:\n  loss_ratio: {max: 100%}\n"
            "plan:\n  search:\n    consumers.workers.workers: [1, 2, 4, 8]\n  margin: {up_to: 3}\n")
    outcome = run_cli(["plan", str(write(place, body, "spec.yaml")), "--jobs", "1", "--out", "out", "--no-plots",
                       "--budget", "events=20000"], place, timeout=120)
    assert_clean(outcome)
    assert outcome.code == 0, outcome.out
    summary = json.loads((place / "out" / "plan_summary.json").read_text(encoding="utf-8"))
    assert summary["recommendation"] is not None
