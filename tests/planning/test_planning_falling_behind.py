"""A point whose backlog is still growing fails, even when a short run's figures meet the targets."""

from __future__ import annotations

from pathlib import Path

from simbp.planning import FALLING_BEHIND, sweep

# 300/s into one or two workers of 200/s each, with a buffer far larger than 20 s can fill: with one
# worker (ρ = 1.5) nothing is dropped yet and p99 stays under the target, but the queue grows.
BASE = """\
name: growing
duration: 20s
producers:
  - {name: src, to: queue, arrivals: {process: constant, rate: 300/s}}
buffers:
  - {name: queue, capacity: 100000, policy: drop_newest}
consumers:
  - {name: workers, from: queue, workers: 1, service: 5ms}
"""

SPEC = """\
name: growing_sweep
base: growing.yaml
seed: 1
replications: {min: 2, max: 2}
vary:
  consumers.workers.workers: [1, 2]
targets:
  loss_ratio: {max: 0.001}
  latency_s.p99: {max: 30s}
judge: mean
"""


def test_a_growing_backlog_fails_its_point_even_when_the_figures_pass(tmp_path: Path) -> None:
    (tmp_path / "growing.yaml").write_text(BASE)
    (tmp_path / "spec.yaml").write_text(SPEC)
    result = sweep(tmp_path / "spec.yaml", jobs=1, progress=False)
    by_workers = {r.point.changes["consumers.workers.workers"]: r for r in result.results}
    one, two = by_workers[1], by_workers[2]
    # one worker: the user's figures pass (nothing dropped, p99 about 10 s) ...
    assert one.verdicts["loss_ratio"] and one.verdicts["latency_s.p99"]
    # ... but the backlog grows 100 messages a second, so the point fails on the implicit target
    assert one.verdicts[FALLING_BEHIND] is False and not one.passed
    assert one.failing() == [FALLING_BEHIND]
    # two workers keep up: the implicit target is not even added
    assert FALLING_BEHIND not in two.verdicts and two.passed
