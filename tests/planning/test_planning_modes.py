"""Planning sweeps run each replication in the mode `auto` picks (issue 12, point 5): exact mode for
small points, fast mode at production sizes, and say which ran, per replication and per point."""

from __future__ import annotations

from pathlib import Path

from simbp.limits import AUTO_FAST_ABOVE
from simbp.planning import load_study, sweep
from simbp.planning.executors import Replication, SerialExecutor

BUSY = """\
name: busy
duration: 30s
producers:
  - {name: api, to: queue, arrivals: {process: poisson, rate: 100000/s}}
buffers:
  - {name: queue, capacity: 1000000, policy: drop_newest}
consumers:
  - {name: workers, from: queue, workers: 1200, service: {dist: exponential, mean: 10ms}}
"""

SWEEP = """\
name: modes
base: busy.yaml
seed: 3
transient: true
replications: {min: 2, max: 2}
vary:
  load_multiplier: [0.05, 1]
targets:
  loss_ratio: {max: 1%}
"""


def test_a_sweep_runs_production_sized_points_in_fast_mode_and_says_so(tmp_path: Path) -> None:
    """150,000 messages a replication run exactly; 3,000,000 (over `AUTO_FAST_ABOVE`) in fast mode."""
    assert 0.05 * 100_000 * 30 < AUTO_FAST_ABOVE < 100_000 * 30
    assert Replication(0, 0, 1, {}).mode is None  # the spec's mode when it sets one, else auto
    (tmp_path / "busy.yaml").write_text(BUSY)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    with SerialExecutor() as executor:
        result = sweep(load_study(tmp_path / "sweep.yaml"), executor)
    assert list(result.table["mode"]) == ["exact", "exact", "fast", "fast"]
    assert list(result.points["mode"]) == ["exact", "fast"]
    assert [r.mode for r in result.results] == ["exact", "fast"]
    assert result.summary["modes"] == {"exact": 2, "fast": 2}
    assert [p["mode"] for p in result.summary["points"]] == ["exact", "fast"]
    assert all(result.table["loss_ratio"] == 0) and all(result.points["passed"])
