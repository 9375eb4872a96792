"""Every scenario in scenarios/ validates, runs, keeps conservation, and shows the verdict it declares."""

from __future__ import annotations

from pathlib import Path

import pytest
from repo import ROOT

import simbp

SCENARIO_FILES = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_library_is_not_empty() -> None:
    assert len(SCENARIO_FILES) >= 8


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_scenario_runs_and_meets_its_expectation(path: Path) -> None:
    scenario = simbp.load_scenario(path)
    assert scenario.description.strip(), "every library scenario teaches something: it needs a description"
    assert scenario.expect is not None, "every library scenario declares the verdict it is meant to show"
    results = simbp.run(scenario)
    summary = results.summary
    accounted = (summary["consumed"] + summary["dropped"] + summary["timed_out"] + summary["lost_in_crash"]
                 + summary["in_flight_at_end"] + summary.get("discarded", 0) + summary.get("failed", 0))
    assert summary["produced"] == accounted
    assert summary["produced"] > 0
    assert summary["verdict"] == scenario.expect.verdict, summary["verdict_reason"]
    assert summary["expectation_met"] is True


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_scenario_description_names_what_to_look_at(path: Path) -> None:
    text = simbp.load_scenario(path).description.lower()
    assert "look" in text and "lesson" in text, "a workshop description says what to look for and the lesson"
