"""Tracebacks: inputs that used to crash simbp with a Python traceback now get exit 2 and a message
naming the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_helpers import GOOD, assert_refused, run_cli, run_main, run_scenario, write

import simbp
from simbp import ScenarioError


@pytest.mark.parametrize(("old", "new", "words"), [
    ("rate: 50/s", "rate: .inf", [":6:", "finite"]),
    ("rate: 50/s", "rate: 1e999", [":6:", "finite"]),
    ("rate: 50/s", "rate: " + "1" + "0" * 400, [":6:", "too large"]),
    ("rate: 50/s", 'rate: "1e999/s"', ["producers[0].arrivals.rate", "finite"]),
    ("rate: 50/s", "rate: 5/0s", ["producers[0].arrivals.rate", "positive"]),
    ("rate: 50/s", "rate: .nan", [":6:", "finite"]),
    ("duration: 10s", "duration: 1e400s", ["duration", "finite"]),
    ("capacity: 100", "capacity: 99999999999999999999", [":10:", "too large"]),
    ("capacity: 100", "capacity: 1e300", ["buffers[0].capacity"]),
    ("workers: 2", "workers: 1e999", [":14:", "consumers[0].workers"]),
    ("mean: 10ms", "mean: .inf", [":15:", "finite"]),
    ("service: {dist: exponential, mean: 10ms}", "service: {dist: empirical, values: [1, null]}", ["consumers[0].service"]),
    ("service: {dist: exponential, mean: 10ms}", "service: {dist: empirical, values: [[1, 2], 3]}", ["consumers[0].service"]),
    ("service: {dist: exponential, mean: 10ms}", "service: {dist: empirical, values: null}", ["consumers[0].service"]),
    ("service: {dist: exponential, mean: 10ms}", "service: {dist: empirical, values: {a: 1}}", ["consumers[0].service"]),
    ("size: 1KiB", "size: [1, 2]", ["size"]),
    ("name: hostile", "name: [a, b]", ["name"]),
    ("duration: 10s", "duration: 2024-01-01", ["duration"]),
    ("seed: 0", "seed: -1", ["seed"]),
], ids=lambda value: str(value)[:30])
def test_bad_values_are_errors_at_their_field(place: Path, old: str, new: str, words: list[str]) -> None:
    text = GOOD.replace("name: hostile", "name: hostile\nseed: 0") if old == "seed: 0" else GOOD
    if old == "size: 1KiB":
        text = text.replace("    arrivals:", "    size: 1KiB\n    arrivals:")
    assert old in text
    assert_refused(run_scenario(place, text.replace(old, new)), *words)


@pytest.mark.parametrize("text", [
    "[" * 5000 + "]" * 5000,
    "a:\n" + "".join("  " * i + "- b:\n" for i in range(1, 300)),
    "{a: " * 3000 + "1" + "}" * 3000,
], ids=["flow-lists", "block-nesting", "flow-maps"])
def test_deeply_nested_yaml(place: Path, text: str) -> None:
    assert_refused(run_scenario(place, text, isolated=True), "nest")


def test_an_alias_that_contains_itself(place: Path) -> None:
    assert_refused(run_scenario(place, "name: &a [*a]\n"), "alias")


@pytest.mark.parametrize("content", [b"\xff\xfe\x00\x01binary\x00", "name: caf\xe9\n".encode("latin-1"), b"\x00" * 100],
                         ids=["binary", "latin-1", "nul"])
def test_binary_scenario_files(place: Path, content: bytes) -> None:
    path = place / "scenario" / "s.yaml"
    path.write_bytes(content)
    for command in ("run", "validate"):
        outcome = (run_cli if command == "run" else run_main)([command, str(path)], place)
        assert_refused(outcome)
        assert "UTF-8" in outcome.err or "YAML" in outcome.err


def test_binary_trace_file(place: Path) -> None:
    (place / "scenario" / "t.csv").write_bytes(b"\xff\xfe\x00garbage\x89PNG\r\n\x1a\n" * 10)
    text = GOOD.replace("arrivals: {process: poisson, rate: 50/s}", "arrivals: {process: trace, file: t.csv}")
    outcome = run_scenario(place, text)
    assert_refused(outcome, "t.csv")
    assert "garbage" not in outcome.err and "PNG" not in outcome.err


@pytest.mark.parametrize("args,words", [
    (["--seed", "-1"], ["seed"]),
    (["--seed", str(2**70)], ["seed"]),
    (["--duration", "1e999"], ["--duration", "finite"]),
    (["--duration", "nan"], ["--duration"]),
    (["--duration=-5s"], ["duration"]),
    (["--sample-interval", "0"], ["sample_interval"]),
    (["--budget", "events"], ["--budget"]),
    (["--budget", "nosuch=1"], ["unknown budget"]),
    (["--budget", "events=-1"], ["positive"]),
    (["--budget", "wall=nan"], ["budget wall"]),
], ids=lambda value: " ".join(value) if isinstance(value, list) else value)
def test_bad_command_line_values(place: Path, args: list[str], words: list[str]) -> None:
    assert_refused(run_scenario(place, GOOD, *args), *words)


def test_out_that_is_a_file_is_refused_before_simulating(place: Path) -> None:
    (place / "out").write_text("a file", encoding="utf-8")
    slow = GOOD.replace("duration: 10s", "duration: 2h")  # would take a while: refused at once instead
    outcome = run_scenario(place, slow)
    assert_refused(outcome, "is a file")
    assert outcome.seconds < 20
    assert (place / "out").read_text(encoding="utf-8") == "a file"


def test_out_that_cannot_be_created(place: Path) -> None:
    path = write(place, GOOD)
    outcome = run_main(["run", str(path), "--out", "/proc/simbp-cannot-write-here", "--quiet"], place)
    assert_refused(outcome, "output folder")


@pytest.mark.parametrize("seed", [1.7, -1, True, "3", 2**63])
def test_api_seeds_are_whole_numbers(seed: object) -> None:
    with pytest.raises(ScenarioError, match="seed"):
        simbp.run(GOOD, seed=seed)  # type: ignore[arg-type]


def test_missing_or_odd_scenario_paths(place: Path) -> None:
    for path in ("nope.yaml", "/dev/null", str(place)):
        assert_refused(run_main(["validate", path], place))
