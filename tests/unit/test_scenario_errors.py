"""Scenario validation: each fault is reported at its field path and its line in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

import simbp
from simbp import ScenarioError

GOOD = """\
name: errors
duration: 10s
producers:
  - name: web
    to: queue
    arrivals: {process: poisson, rate: 5/s}
buffers:
  - name: queue
    policy: drop_newest
    capacity: 10
consumers:
  - name: workers
    from: queue
    workers: 2
    service: {dist: exponential, mean: 4ms}
"""
# line numbers in GOOD:   6 arrivals   8 buffer name   9 policy   10 capacity   13 from   14 workers


def problem_for(text: str) -> tuple[str, int | None, str]:
    """The (field path, line, message) of the first problem reported for `text`."""
    with pytest.raises(ScenarioError) as caught:
        simbp.load_scenario(text)
    problem = caught.value.problems[0]
    return problem.field, problem.line, problem.message


def test_the_base_scenario_is_valid() -> None:
    scenario = simbp.load_scenario(GOOD)
    assert scenario.buffers[0].capacity == 10
    assert scenario.producers[0].arrivals.rate == 5.0
    assert scenario.consumers[0].service.mean == pytest.approx(0.004)


def test_unknown_key() -> None:
    field, line, message = problem_for(GOOD.replace("    capacity: 10", "    capacty: 10"))
    assert (field, line) == ("buffers[0].capacty", 10)
    assert "unknown key 'capacty'" in message


def test_unknown_top_level_key() -> None:
    field, line, message = problem_for(GOOD + "retries: 3\n")
    assert (field, line) == ("retries", 16)
    assert "unknown key" in message


def test_wrong_type() -> None:
    field, line, message = problem_for(GOOD.replace("workers: 2", "workers: two"))
    assert (field, line) == ("consumers[0].workers", 14)
    assert "integer" in message


@pytest.mark.parametrize("rate", ["-5/s", "-5", "0/s"])
def test_negative_or_zero_rate(rate: str) -> None:
    field, line, message = problem_for(GOOD.replace("rate: 5/s", f"rate: {rate}"))
    assert (field, line) == ("producers[0].arrivals.rate", 6)
    assert "greater than 0" in message


def test_negative_capacity() -> None:
    field, line, message = problem_for(GOOD.replace("capacity: 10", "capacity: -1"))
    assert (field, line) == ("buffers[0].capacity", 10)
    assert "greater than or equal to 0" in message


def test_bad_unit_names_the_unit() -> None:
    field, line, message = problem_for(GOOD.replace("mean: 4ms", "mean: 4 parsecs"))
    assert (field, line) == ("consumers[0].service.mean", 15)
    assert "unknown time unit 'parsecs'" in message


def test_consumer_reading_a_buffer_that_does_not_exist() -> None:
    field, line, message = problem_for(GOOD.replace("from: queue", "from: qeueu"))
    assert (field, line) == ("consumers[0].from", 13)
    assert "no buffer named 'qeueu'" in message and "queue" in message


def test_producer_sending_to_a_buffer_that_does_not_exist() -> None:
    field, line, message = problem_for(GOOD.replace("to: queue", "to: elsewhere"))
    assert (field, line) == ("producers[0].to", 5)
    assert "no buffer named 'elsewhere'" in message


def test_capacity_on_an_unbounded_buffer() -> None:
    field, line, message = problem_for(GOOD.replace("policy: drop_newest", "policy: unbounded"))
    assert (field, line) == ("buffers[0].capacity", 10)
    assert "unbounded buffer has no capacity" in message


def test_bounded_buffer_without_capacity() -> None:
    field, line, message = problem_for(GOOD.replace("    capacity: 10\n", ""))
    assert field == "buffers[0].capacity"
    assert line == 8  # the buffer itself: the missing key has no line of its own
    assert "needs `capacity`" in message


def test_unknown_policy_lists_the_choices() -> None:
    field, line, message = problem_for(GOOD.replace("policy: drop_newest", "policy: drop_random"))
    assert (field, line) == ("buffers[0].policy", 9)
    assert "drop_oldest" in message


def test_unknown_distribution() -> None:
    field, line, message = problem_for(GOOD.replace("dist: exponential", "dist: weibull"))
    assert (field, line) == ("consumers[0].service", 15)
    assert "weibull" in message and "exponential" in message


def test_a_name_used_twice() -> None:
    field, line, message = problem_for(GOOD.replace("  - name: workers", "  - name: queue"))
    assert (field, line) == ("consumers[0].name", 12)
    assert "used twice" in message


def test_yaml_syntax_error_has_a_line() -> None:
    _field, line, message = problem_for(GOOD.replace("workers: 2", "workers: [2"))
    assert line is not None and line >= 14
    assert "not valid YAML" in message


def test_every_problem_is_reported_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(GOOD.replace("capacity: 10", "capacity: ten").replace("workers: 2", "workers: 0"))
    with pytest.raises(ScenarioError) as caught:
        simbp.load_scenario(str(path))
    places = sorted((p.field, p.line) for p in caught.value.problems)
    assert places == [("buffers[0].capacity", 10), ("consumers[0].workers", 14)]
    assert all(p.file == str(path) for p in caught.value.problems)
    assert f"{path}:10: buffers[0].capacity:" in str(caught.value)


# ------------------------------------------------------------------ the one YAML reader (simbp.scenario.yamldoc)
def test_a_duplicate_key_names_both_lines() -> None:
    field, line, message = problem_for(GOOD.replace("    capacity: 10\n", "    capacity: 10\n    capacity: 20\n"))
    assert (field, line) == ("buffers[0]", 11)
    assert "duplicate key 'capacity' (first at line 10)" in message


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e999"])
def test_numbers_must_be_finite_where_they_are_written(value: str) -> None:
    field, line, message = problem_for(GOOD.replace("workers: 2", f"workers: {value}"))
    assert (field, line) == ("consumers[0].workers", 14)
    assert "finite" in message or "integer" in message


def test_quantities_with_units_must_be_finite() -> None:
    field, line, message = problem_for(GOOD.replace("mean: 4ms", 'mean: "1e999ms"'))
    assert (field, line) == ("consumers[0].service.mean", 15)
    assert "finite" in message
    field, _, message = problem_for(GOOD.replace("rate: 5/s", "rate: 5/0s"))
    assert field == "producers[0].arrivals.rate" and "positive" in message


def test_nesting_and_aliases_are_bounded() -> None:
    _, _, message = problem_for("name: " + "[" * 100 + "]" * 100 + "\n")
    assert "deeper than" in message
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"b{i}: &b{i} [{', '.join(['*' + ('a' if i == 0 else f'b{i - 1}')] * 10)}]\n" for i in range(6))
    with pytest.raises(ScenarioError, match="yaml_nodes"):
        simbp.load_scenario(laughs + GOOD)


def test_yaml_1_2_booleans() -> None:
    scenario = simbp.load_scenario(GOOD.replace("{process: poisson, rate: 5/s}",
                                                "{process: bursty, on: {rate: 9/s, duration: 1s}, off: {rate: 1/s, duration: 1s}}"))
    assert scenario.producers[0].arrivals.on.rate == 9


@pytest.mark.parametrize("name", ["..", ".", "-", "..."])
def test_a_name_needs_a_letter_a_digit_or_an_underscore(name: str) -> None:
    field, line, message = problem_for(GOOD.replace("name: errors", f'name: "{name}"'))
    assert (field, line) == ("name", 1) and "letter, digit or underscore" in message
    assert simbp.load_scenario(GOOD.replace("name: errors", "name: _")).name == "_"


@pytest.mark.parametrize("file", ["/etc/hosts", "../outside.csv", "sub/../../outside.csv"])
def test_data_files_stay_in_the_scenario_folder(tmp_path: Path, file: str) -> None:
    (tmp_path / "outside.csv").write_text("secret\n1\n")
    folder = tmp_path / "scenario"
    folder.mkdir()
    path = folder / "s.yaml"
    path.write_text(GOOD.replace("{process: poisson, rate: 5/s}", f"{{process: trace, file: {file}}}"))
    with pytest.raises(ScenarioError) as caught:
        simbp.load_scenario(path)
    problem = caught.value.problems[0]
    assert (problem.field, problem.line) == ("producers[0].arrivals.file", 6)
    assert "relative" in problem.message or "outside" in problem.message
    assert "secret" not in str(caught.value)


def test_a_binary_file_is_an_error_without_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"name: caf\xe9\xff\n")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        simbp.load_scenario(path)
