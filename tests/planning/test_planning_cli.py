"""`simbp sweep` and `simbp plan` from the command line: files written, answers printed, bad
specs refused with exit status 2, the spec's line and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from simbp.cli import main

SPEC = """\
name: clockwork_cli
base: clockwork.yaml
replications: {min: 2}
vary:
  consumers.workers.workers: [1, 2]
targets:
  loss_ratio: {max: 0}
plan:
  search:
    consumers.workers.workers: [1, 2, 3]
  margin: {enabled: false}
"""


def test_sweep_and_plan_commands(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "spec.yaml").write_text(SPEC)
    out = folder / "out"
    assert main(["sweep", str(folder / "spec.yaml"), "--jobs", "1", "--out", str(out), "--no-plots"]) == 0
    printed = capsys.readouterr().out
    assert "cheapest point meeting every target: consumers.workers.workers=2" in printed
    assert (out / "sweep_summary.json").is_file() and (out / "sweep_table.parquet").is_file()
    assert not list(out.glob("*.png"))
    assert main(["plan", str(folder / "spec.yaml"), "--jobs", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "cheapest configuration meeting every target: consumers.workers.workers=2" in printed
    assert "cheaper workers.workers=1" in printed
    assert (out / "plan_report.html").is_file() and (out / "sweep_report.html").is_file()


def test_plan_exits_1_when_nothing_meets_the_targets(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "spec.yaml").write_text(SPEC.replace("[1, 2, 3]", "[1]"))
    assert main(["plan", str(folder / "spec.yaml"), "--jobs", "1", "--out", str(folder / "out"), "--no-plots"]) == 1
    assert "no configuration in the search space meets every target" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["sweep", "plan"])
def test_bad_input_exits_2_with_the_line(command: str, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "spec.yaml").write_text(SPEC.replace("consumers.workers.workers: [1, 2]", "consumers.worker.workers: [1, 2]"))
    assert main([command, str(folder / "spec.yaml"), "--jobs", "1"]) == 2
    error = capsys.readouterr().err
    assert f"{folder / 'spec.yaml'}:5: vary.consumers.worker.workers:" in error
    assert "Traceback" not in error
    assert main([command, str(folder / "missing.yaml")]) == 2
    assert "no such spec file" in capsys.readouterr().err
    (folder / "spec.yaml").write_text(SPEC)
    assert main([command, str(folder / "spec.yaml"), "--jobs", "0"]) == 2
    assert "--jobs" in capsys.readouterr().err


def test_plan_needs_a_plan_section(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "spec.yaml").write_text(SPEC.split("plan:")[0])
    assert main(["plan", str(folder / "spec.yaml"), "--jobs", "1"]) == 2
    assert "needs a `plan:` section" in capsys.readouterr().err
