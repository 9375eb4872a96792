"""Unbounded memory: inputs that would exhaust a laptop. Each is refused before anything large is
read or allocated (exit 2, the budget named), or stopped by the memory budget while running; each
in its own process under a 3 GiB cap."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_helpers import GOOD, assert_refused, run_cli, run_scenario, write

import simbp
from simbp.budget import BudgetExceeded, Budgets

TRACE = GOOD.replace("arrivals: {process: poisson, rate: 50/s}", "arrivals: {process: trace, file: big.csv}")


def test_a_1_gib_trace_is_refused_before_it_is_read(place: Path) -> None:
    with (place / "scenario" / "big.csv").open("wb") as stream:
        stream.truncate(1024**3)  # sparse: 1 GiB long, nothing on disk
    outcome = run_scenario(place, TRACE, timeout=60, isolated=True)
    assert_refused(outcome, "file_size budget", "1GiB", "big.csv")
    assert outcome.seconds < 30


def test_a_multi_megabyte_yaml_is_refused(place: Path) -> None:
    text = GOOD.replace("name: hostile", 'name: hostile\ndescription: "' + "x" * 5_000_000 + '"')
    assert_refused(run_scenario(place, text, timeout=60, isolated=True), "document_size budget")


def test_billion_laughs_is_refused(place: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 10)]
    text = "\n".join(lines) + "\n" + GOOD
    assert_refused(run_scenario(place, text, timeout=60, isolated=True), "aliases", "yaml_nodes")


def test_many_consumer_groups_of_many_workers(place: Path) -> None:
    text = ("name: g\nduration: 10s\nproducers:\n"
            + "".join(f"  - {{name: p{i}, to: t{i}, arrivals: {{process: poisson, rate: 10/s}}}}\n" for i in range(40))
            + "topics:\n" + "".join(f"  - {{name: t{i}, partitions: 100}}\n" for i in range(40))
            + "consumer_groups:\n"
            + "".join(f"  - {{name: g{i}, topic: t{i}, consumers: 10000, processing: 1ms}}\n" for i in range(40)))
    assert_refused(run_scenario(place, text, timeout=60, isolated=True), "workers budget", "400,000")


def test_autoscaling_to_100k_workers(place: Path) -> None:
    text = GOOD.replace("    workers: 2\n", "    workers: 1\n    autoscale: {min: 1, max: 100000, scale_up_lag: 1, step: 100000}\n")
    assert_refused(run_scenario(place, text, timeout=60, isolated=True), "workers budget", "100,000")


def test_thousands_of_partitions_sampled_often(place: Path) -> None:
    text = ("name: k\nduration: 60s\nsample_interval: 10ms\n"
            "producers:\n  - {name: p, to: t, arrivals: {process: poisson, rate: 100/s}}\n"
            "topics:\n  - {name: t, partitions: 10000}\n"
            "consumer_groups:\n  - {name: g, topic: t, consumers: 10, processing: 1ms}\n")
    assert_refused(run_scenario(place, text, timeout=60, isolated=True), "cells budget", "columns")


def test_the_memory_budget_stops_a_growing_run(place: Path) -> None:
    """An unbounded queue filling at 40,000 items a second: stopped when the process has grown by
    the budget, with the budget named, and no summary written."""
    text = (GOOD.replace("duration: 10s", "duration: 5m").replace("rate: 50/s", "rate: 40000/s")
            .replace("policy: drop_newest\n    capacity: 100", "policy: unbounded").replace("mean: 10ms", "mean: 1s"))
    outcome = run_scenario(place, text, "--budget", "memory=40MiB", "--allow-large", "--mode", "exact", timeout=120,
                           isolated=True)
    assert_refused(outcome, "memory budget", "--budget memory=")
    assert not (place / "out" / "summary.json").exists()


def test_the_api_takes_budgets_by_name() -> None:
    with pytest.raises(BudgetExceeded) as caught:
        simbp.run(GOOD, budgets={"samples": 10})
    assert caught.value.budget == "samples" and "budgets={'samples'" in str(caught.value)
    assert Budgets().with_overrides(["wall=2m", "memory=1GiB"]).wall == 120.0
    assert Budgets().with_overrides({"memory": "1GiB"}).memory == 1024**3


def test_sweep_grids_are_counted_before_they_are_built(place: Path) -> None:
    write(place, GOOD, "base.yaml")
    spec = write(place, "name: huge\nbase: base.yaml\nvary:\n  consumers.workers.workers: {min: 1, max: 1000}\n"
                        "  buffers.queue.capacity: {min: 1, max: 1000}\n", "spec.yaml")
    outcome = run_cli(["sweep", str(spec), "--jobs", "1", "--out", "out"], place, timeout=60)
    assert_refused(outcome, "points budget", "1,000,000")
    assert not (place / "out").exists()
