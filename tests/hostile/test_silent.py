"""Silently wrong: inputs that used to run and give a wrong answer without a word. Each is now an
error at its line and field (or, for YAML 1.1 booleans, read the way the author meant)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_helpers import GOOD, assert_refused, run_main, run_scenario, write

import simbp
from simbp import ScenarioError
from simbp.planning import load_study

EMPIRICAL = GOOD.replace("service: {dist: exponential, mean: 10ms}", "service: {dist: empirical, VALUES}")


@pytest.mark.parametrize("values", ["values: [1ms, .nan, 3ms]", "values: [1ms, .inf]", "values: [1ms, .NaN]",
                                    "values: [1ms, 1e999]", 'values: [1ms, "nan"]', 'values: ["1e999ms"]'])
def test_nan_or_infinity_in_empirical_values(place: Path, values: str) -> None:
    assert_refused(run_scenario(place, EMPIRICAL.replace("VALUES", values)), ":15:", "consumers[0].service")


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-inf", "1e999", ""])
def test_nan_or_infinity_in_a_data_file(place: Path, cell: str) -> None:
    (place / "scenario" / "service.csv").write_text(f"seconds,note\n0.001,a\n{cell},b\n0.002,c\n", encoding="utf-8")
    outcome = run_scenario(place, EMPIRICAL.replace("VALUES", "file: service.csv"))
    assert_refused(outcome, "service.csv", "line 3", "finite")


def test_a_duplicate_key_is_an_error_naming_both_lines(place: Path) -> None:
    text = GOOD + "producers:\n  - {name: other, to: queue, arrivals: {process: poisson, rate: 1/s}}\n"
    outcome = run_scenario(place, text)
    assert_refused(outcome, "duplicate key 'producers'", "first at line 3", ":16:")


def test_a_duplicate_key_inside_a_component(place: Path) -> None:
    text = GOOD.replace("    capacity: 100\n", "    capacity: 100\n    capacity: 5\n")
    assert_refused(run_scenario(place, text), "duplicate key 'capacity'", "first at line 10", ":11:", "buffers[0]")


def test_yaml_1_1_booleans_stay_words() -> None:
    text = GOOD.replace("arrivals: {process: poisson, rate: 50/s}",
                        "arrivals: {process: bursty, on: {rate: 90/s, duration: 1s}, off: {rate: 10/s, duration: 1s}, start: off}")
    scenario = simbp.load_scenario(text)
    assert scenario.producers[0].arrivals.start == "off"
    assert scenario.producers[0].arrivals.on.rate == 90


SPEC_BASE = GOOD.replace("arrivals: {process: poisson, rate: 50/s}",
                         "arrivals: {process: bursty, on: {rate: 90/s, duration: 1s}, off: {rate: 10/s, duration: 1s}}")


def spec(place: Path, body: str) -> Path:
    write(place, SPEC_BASE, "base.yaml")
    return write(place, "name: s\nbase: base.yaml\n" + body, "spec.yaml")


def test_a_nan_target_in_a_sweep_spec(place: Path) -> None:
    path = spec(place, "vary:\n  consumers.workers.workers: [1, 2]\ntargets:\n  loss_ratio: {max: .nan}\n")
    with pytest.raises(ScenarioError) as caught:
        load_study(path)
    assert any(p.line == 6 and "finite" in p.message for p in caught.value.problems), caught.value.problems
    for target in ("nan", "inf", "1e999", "-inf"):
        path = spec(place, f"vary:\n  consumers.workers.workers: [1, 2]\ntargets:\n  loss_ratio: {{max: {target}}}\n")
        with pytest.raises(ScenarioError):
            load_study(path)


def test_yaml_1_1_booleans_in_a_sweep_spec(place: Path) -> None:
    """`on`/`off` are the bursty process's keys and values in a spec too, not True and False."""
    path = spec(place, "fixed:\n  producers.web.arrivals.on.rate: 120/s\nvary:\n  producers.web.arrivals.start: [on, off]\n")
    study = load_study(path)
    assert [p.scenario.producers[0].arrivals.start for p in study.points] == ["on", "off"]
    assert study.base.producers[0].arrivals.on.rate == 120


def test_a_duplicate_key_in_a_sweep_spec(place: Path) -> None:
    path = spec(place, "vary:\n  consumers.workers.workers: [1, 2]\nvary:\n  load_multiplier: [1, 2]\n")
    with pytest.raises(ScenarioError, match="duplicate key 'vary'"):
        load_study(path)


def test_nan_values_in_a_sweep_vary_list(place: Path) -> None:
    path = spec(place, "vary:\n  load_multiplier: [1, .nan]\n")
    with pytest.raises(ScenarioError, match="finite"):
        load_study(path)


def test_api_seed_is_not_rounded() -> None:
    with pytest.raises(ScenarioError, match="seed"):
        simbp.run(GOOD, seed=1.7)  # type: ignore[arg-type]


def test_command_line_duration_must_be_finite(place: Path) -> None:
    path = write(place, GOOD)
    for value in ("inf", "1e999s", "nan"):
        assert_refused(run_main(["run", str(path), "--out", "out", "--duration", value], place), "--duration")
