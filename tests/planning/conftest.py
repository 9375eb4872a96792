"""Small scenarios for the planning tests: each replication simulates well under a second."""

from __future__ import annotations

from pathlib import Path

import pytest

# Constant arrivals every 250 ms into a buffer with no room, served in exactly 375 ms: every
# accept and drop can be worked out by hand (see test_planning_tiny_sweep.py).
CLOCKWORK = """\
name: clockwork
duration: 10s
producers:
  - {name: ticker, to: slot, arrivals: {process: constant, rate: 4/s}}
buffers:
  - {name: slot, capacity: 0, policy: drop_newest}
consumers:
  - {name: workers, from: slot, workers: 1, service: 375ms}
"""

# Poisson arrivals, exponential service: random, so replications differ.
NOISY = """\
name: noisy
duration: 4s
producers:
  - {name: web, to: queue, arrivals: {process: poisson, rate: 200/s}}
buffers:
  - {name: queue, capacity: 20, policy: drop_newest}
consumers:
  - {name: workers, from: queue, workers: 2, service: {dist: exponential, mean: 9ms}}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "clockwork.yaml").write_text(CLOCKWORK)
    (tmp_path / "noisy.yaml").write_text(NOISY)
    return tmp_path
