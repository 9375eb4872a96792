"""Fixtures for the fit tests: synthetic observations from an independent M/M/c (tests/fit/synth.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import synth
from synth import MU, WORKERS


@pytest.fixture(scope="session")
def spike() -> pd.DataFrame:
    """An hour of metrics every 10 s from a saturated spike."""
    return synth.mmc_metrics(synth.spike_profile(70, 150, 900, 1500), c=WORKERS, mu=MU, duration=3600, seed=11)


@pytest.fixture(scope="session")
def spike_csv(tmp_path_factory: pytest.TempPathFactory, spike: pd.DataFrame) -> Path:
    path = tmp_path_factory.mktemp("obs") / "incident.csv"
    spike.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def spike_fit(tmp_path_factory: pytest.TempPathFactory, spike_csv: Path):
    """`simbp.fit` on the spike, written to a folder (shared: fitting takes a few seconds)."""
    import simbp

    out = tmp_path_factory.mktemp("fit") / "incident_fit"
    return simbp.fit(spike_csv, out), out


@pytest.fixture(scope="session")
def small_spike() -> pd.DataFrame:
    """15 minutes every 5 s: 2 consumers of 10/s, 12/s arriving, 30/s for two minutes (cheap to plan)."""
    return synth.mmc_metrics(synth.spike_profile(12, 30, 180, 300), c=2, mu=10.0, duration=900, step=5.0, seed=3)
