"""Bad specs are refused before anything runs, naming the spec file's line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from simbp.errors import ScenarioError
from simbp.planning import load_study

SCENARIO = """\
name: tiny
duration: 5s
producers:
  - {name: web, to: queue, arrivals: {process: poisson, rate: 50/s}}
buffers:
  - {name: queue, capacity: 10, policy: block}
consumers:
  - {name: workers, from: queue, workers: 2, service: {dist: exponential, mean: 10ms}}
"""


def write_spec(tmp_path: Path, body: str) -> Path:
    (tmp_path / "tiny.yaml").write_text(SCENARIO)
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: bad\nbase: tiny.yaml\n" + body)
    return spec


def problems(spec: Path) -> list[tuple[str, int | None, str]]:
    with pytest.raises(ScenarioError) as caught:
        load_study(spec)
    for problem in caught.value.problems:
        assert problem.file == str(spec)
    return [(p.field, p.line, p.message) for p in caught.value.problems]


def test_a_path_that_names_no_field(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "vary:\n  consumers.workers.workers: [1, 2]\n  consumers.nobody.workers: [1, 2]\n")
    [(field, line, message)] = problems(spec)
    assert field == "vary.consumers.nobody.workers" and line == 5
    assert "names no field" in message and "'nobody'" in message


def test_a_value_of_the_wrong_type_points_at_the_value(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "vary:\n  consumers.workers.workers:\n    - 2\n    - many\n  buffers.queue.policy: [block, sideways]\n")
    found = problems(spec)
    assert ("vary.consumers.workers.workers[1]", 6) in [(f, l) for f, l, _ in found]
    assert ("vary.buffers.queue.policy[1]", 7) in [(f, l) for f, l, _ in found]
    message = dict(((f, m) for f, _, m in found))["vary.consumers.workers.workers[1]"]
    assert "'many'" in message and "integer" in message


def test_a_target_on_an_unknown_figure_and_a_bad_unit(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "targets:\n  loss_ratio: {max: 0.1%}\n  latency_s.p999: {max: 2s}\n  latency_s.p99: {max: soon}\n")
    found = problems(spec)
    assert [(f, l) for f, l, _ in found] == [("targets.latency_s.p999", 5), ("targets.latency_s.p99.max", 6)]
    assert "did you mean latency_s.p99" in found[0][2]
    assert "duration" in found[1][2]


def test_schema_faults_unknown_keys_ranges_and_replications(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "seed: 1\nreplications: {min: 4, max: 2}\nvary:\n  load_multiplier: 3\njudgement: mean\n")
    found = problems(spec)
    fields = {f: l for f, l, _ in found}
    assert fields["replications"] == 4
    assert fields["vary.load_multiplier"] == 6
    assert fields["judgement"] == 7
    assert any("unknown key" in m and "docs/planning.md" in m for _, _, m in found)


def test_missing_base_and_plan_section(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: bad\nbase: nowhere.yaml\n")
    [(field, line, message)] = problems(spec)
    assert (field, line) == ("base", 2) and "no scenario file" in message
    spec = write_spec(tmp_path, "targets: {loss_ratio: {max: 0.01}}\n")
    with pytest.raises(ScenarioError) as caught:
        load_study(spec, need_plan=True)
    assert caught.value.problems[0].field == "plan" and "search" in caught.value.problems[0].message


def test_combinations_and_plan_search_are_checked(tmp_path: Path) -> None:
    # each value is fine alone, but block_timeout belongs to policy: block only
    spec = write_spec(tmp_path, "vary:\n  buffers.queue.policy: [block, drop_oldest]\n  buffers.queue.block_timeout: [1s]\n"
                                "plan:\n  search:\n    consumers.workers.workers: {min: 0, max: 3}\n")
    found = problems(spec)
    fields = [f for f, _, _ in found]
    assert "vary" in fields and "plan.search.consumers.workers.workers" in fields
    assert any("block_timeout applies only to policy: block" in m for _, _, m in found)


def test_a_point_too_large_is_refused_up_front(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "mode: exact\nfixed: {duration: 1000h}\n")  # 180 million messages
    [(field, line, message)] = problems(spec)
    assert (field, line) == ("base", 2) and "180,000,000 messages" in message and "allow_large" in message
    assert load_study(spec, allow_large=True).points[0].scenario.duration == 3.6e6


def test_an_unknown_mode(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "mode: quick\n")
    [(field, line, message)] = problems(spec)
    assert (field, line) == ("mode", 3) and "exact" in message
