"""Fuzz: YAML-shaped input, mutated from a valid scenario or made up, run through the CLI. Every
example must end cleanly (exit 0, 1 or 2) within seconds, with no traceback and no internal error."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import yaml
from hostile_helpers import GOOD, run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BASE = yaml.safe_load(GOOD)
BUDGETS = ["--budget", "events=200000", "--budget", "wall=5s", "--budget", "memory=500MiB", "--budget", "samples=5000"]

odd_numbers = st.sampled_from([0, -1, 1, 2**63, 2**70, 10**30, 1e308, 1e-308, -0.0, 0.5, 1e9, float("nan"),
                               float("inf"), -float("inf"), 3.7, 100000])
odd_text = st.sampled_from(["", "0s", "5/0s", "1e999s", "-5/s", "2KiB", "64MiB", "1us", "10h", "nan", "inf", "..", "on",
                            "off", "yes", "null", "~", "a" * 200, "poisson", "bursty", "schedule", "trace", "empirical",
                            "block", "drop_oldest", "unbounded", "../x.csv", "/etc/passwd", "queue", "web", "\x00", "é"])
scalars = st.one_of(odd_numbers, odd_text, st.booleans(), st.none(), st.integers(-10, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(odd_text, inner, max_size=3)), max_leaves=8)


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths(value, prefix + (index,))
    return found


def mutate(data: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    data = copy.deepcopy(data)
    target = data
    for part in path[:-1]:
        target = target[part]
    last = path[-1]
    if action == "set":
        target[last] = value
    elif action == "delete" and isinstance(target, dict):
        del target[last]
    elif action == "nest":
        target[last] = [[[[target[last]]]]]
    elif action == "duplicate" and isinstance(target, list):
        target.append(copy.deepcopy(target[last]))
    return data


@st.composite
def documents(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 9)) == 0:  # made up from nothing
        return yaml.safe_dump(draw(values), allow_unicode=True)
    data = BASE
    for _ in range(draw(st.integers(1, 3))):
        choices = paths(data)
        if not choices:
            break
        path = draw(st.sampled_from(choices))
        data = mutate(data, path, draw(st.sampled_from(["set", "set", "set", "delete", "nest", "duplicate"])), draw(values))
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(text=documents())
def test_any_yaml_shaped_input_ends_cleanly(tmp_path_factory: Any, text: str) -> None:
    place: Path = tmp_path_factory.mktemp("fuzz")
    path = place / "s.yaml"
    path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    outcome = run_main(["run", str(path), "--out", "out", "--no-plots", "--quiet", *BUDGETS], place)
    assert time.monotonic() - started < 15, text
    assert outcome.code in (0, 1, 2), (outcome.code, outcome.err, text)
    assert "Traceback" not in outcome.err
    assert "could not process this input" not in outcome.err, (outcome.err, text)  # an internal error, not a refusal
    if outcome.code == 2:
        assert outcome.err.startswith("error:"), outcome.err
