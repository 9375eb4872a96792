"""The sample specs in scenarios/sweeps/ validate, and run end to end when shortened."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from repo import ROOT

from simbp.planning import load_study, plan, sweep
from simbp.planning.executors import SerialExecutor

SPECS = sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml"))


def test_there_is_a_sample_spec() -> None:
    assert SPECS


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_sample_spec_validates_and_runs_shortened(path: Path, tmp_path: Path) -> None:
    study = load_study(path)
    assert study.points and study.targets and study.spec.description.strip()
    short_study = load_study(path, overrides={"duration": "1s"}, lengthen=False)  # a quick look
    fewest = short_study.spec.replications.model_copy(update={"max": short_study.spec.replications.min})
    short_study = dataclasses.replace(short_study, spec=short_study.spec.model_copy(update={"replications": fewest}))
    assert all(point.scenario.duration == 1.0 for point in short_study.points)
    with SerialExecutor() as executor:
        swept = sweep(short_study, executor, progress=False)
        planned = plan(short_study, executor, progress=False)
    assert len(swept.table) >= len(short_study.points) * short_study.spec.replications.min
    assert planned.recommendation is not None
