"""Escape: a scenario reads only files inside its folder, and a run writes only into its output
folder, deleting or replacing only files simbp wrote there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile_helpers import GOOD, ROOT, assert_clean, assert_refused, run_cli, run_main, run_scenario, snapshot, write

from simbp.budget import resolve_inside
from simbp.output import MANIFEST, OutputFolder, result_names

TRACE = GOOD.replace("arrivals: {process: poisson, rate: 50/s}", "arrivals: {process: trace, file: FILE, format: counts}")
EMPIRICAL = GOOD.replace("service: {dist: exponential, mean: 10ms}", "service: {dist: empirical, file: FILE}")
SECRET = "TOPSECRET_FIRST_LINE"


@pytest.fixture
def secret(place: Path) -> Path:
    path = place / "secret.csv"
    path.write_text(f"{SECRET}\n1\n2\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("template", [TRACE, EMPIRICAL], ids=["trace", "empirical"])
@pytest.mark.parametrize("kind", ["absolute", "parent", "symlink"])
def test_data_files_outside_the_scenario_folder_are_refused(place: Path, secret: Path, template: str, kind: str) -> None:
    if kind == "absolute":
        name = str(secret)
    elif kind == "parent":
        name = "../secret.csv"
    else:
        (place / "scenario" / "link.csv").symlink_to(secret)
        name = "link.csv"
    outcome = run_scenario(place, template.replace("FILE", name))
    assert_refused(outcome, "file")
    assert "relative" in outcome.err or "outside" in outcome.err
    assert SECRET not in outcome.err + outcome.out  # the file's first line is never echoed


def test_a_system_file_is_neither_read_nor_quoted(place: Path) -> None:
    outcome = run_scenario(place, TRACE.replace("FILE", "/etc/passwd"))
    assert_refused(outcome, "relative")
    assert "root:" not in outcome.err


def test_errors_never_quote_a_data_file(place: Path) -> None:
    (place / "scenario" / "data.csv").write_text(f"{SECRET}\nnot-a-number\n", encoding="utf-8")
    outcome = run_scenario(place, TRACE.replace("FILE", "data.csv"))
    assert_refused(outcome, "line 2", "finite numbers")
    missing_column = TRACE.replace("FILE", "data.csv").replace("format: counts", "format: counts, column: rate")
    outcome = run_scenario(place, missing_column)
    assert_refused(outcome, "no column 'rate'")
    assert SECRET not in outcome.err


def test_resolve_inside_is_the_one_rule() -> None:
    base = ROOT / "scenarios"
    assert resolve_inside(base, "traffic.csv") == (base / "traffic.csv").resolve()
    for bad in ("/etc/passwd", "../README.md", "a/../../x", "~/x", ""):
        with pytest.raises(ValueError):
            resolve_inside(base, bad)


@pytest.mark.parametrize("name", ["..", ".", "-", "...", ".-."])
def test_names_that_are_not_names_are_refused(place: Path, name: str) -> None:
    (place / "work").mkdir()
    path = write(place, GOOD.replace("name: hostile", f'name: "{name}"'))
    before = snapshot(place)
    outcome = run_main(["run", str(path), "--no-plots", "--quiet"], place / "work")
    assert_refused(outcome, "letter, digit or underscore")
    assert snapshot(place) == before


def test_no_plots_never_deletes_a_file_simbp_did_not_write(place: Path) -> None:
    out = place / "out"
    out.mkdir()
    (out / "lag.png").write_bytes(b"the user's own picture")
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert_clean(run_scenario(place, GOOD))
    assert (out / "lag.png").read_bytes() == b"the user's own picture"
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (out / "summary.json").is_file()


def test_a_foreign_file_under_a_name_simbp_writes_is_not_replaced(place: Path) -> None:
    out = place / "out"
    out.mkdir()
    (out / "summary.json").write_text('{"mine": true}', encoding="utf-8")
    outcome = run_scenario(place, GOOD)
    assert_refused(outcome, "not written by simbp")
    assert (out / "summary.json").read_text(encoding="utf-8") == '{"mine": true}'


def test_simbp_removes_its_own_stale_plots(place: Path) -> None:
    path = write(place, GOOD)
    assert_clean(run_main(["run", str(path), "--out", "out", "--quiet"], place))
    assert (place / "out" / "lag.png").is_file()
    assert_clean(run_main(["run", str(path), "--out", "out", "--quiet", "--no-plots"], place))
    assert not (place / "out" / "lag.png").exists()  # simbp wrote it, and this run has no plots
    assert "lag.png" not in (place / "out" / MANIFEST).read_text(encoding="utf-8")


def test_two_runs_into_one_folder_do_not_interleave(place: Path) -> None:
    """While one run holds the folder (here: this test, as a run would from before simulating until
    its summary is written), another run into it exits 2 at once and writes nothing there."""
    path = write(place, GOOD)
    assert_clean(run_main(["run", str(path), "--out", "out", "--quiet", "--no-plots"], place))
    first = json.loads((place / "out" / "summary.json").read_text(encoding="utf-8"))
    before = {p.name: p.stat().st_mtime_ns for p in (place / "out").iterdir()}
    with OutputFolder(place / "out", result_names(plots=False)):
        in_process = run_main(["run", str(path), "--out", "out", "--quiet", "--no-plots", "--seed", "5"], place)
        other_process = run_cli(["run", str(path), "--out", "out", "--quiet", "--no-plots", "--seed", "5"], place)
    for outcome in (in_process, other_process):
        assert_refused(outcome, "another simbp run")
    assert {p.name: p.stat().st_mtime_ns for p in (place / "out").iterdir()} == before
    assert json.loads((place / "out" / "summary.json").read_text(encoding="utf-8")) == first
    assert_clean(run_main(["run", str(path), "--out", "out", "--quiet", "--no-plots", "--seed", "5"], place))  # released


SWEEP = "name: s\nbase: base.yaml\nvary:\n  consumers.workers.workers: [1, 2]\nreplications: {min: 2, max: 2}\n"


@pytest.mark.parametrize("kind", ["sweep", "plan"])
def test_an_interrupted_sweep_or_plan_leaves_no_old_summary(place: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    write(place, GOOD.replace("duration: 10s", "duration: 2s"), "base.yaml")
    body = SWEEP + ("plan:\n  search:\n    consumers.workers.workers: [1, 2, 3]\n  margin: {enabled: false}\n"
                    if kind == "plan" else "")
    spec = write(place, body, "spec.yaml")
    args = [kind, str(spec), "--jobs", "1", "--out", "out", "--quiet", "--no-plots"]
    assert run_main(args, place).code in (0, 1)
    assert (place / "out" / f"{kind}_summary.json").is_file()
    (place / "out" / "mine.txt").write_text("mine", encoding="utf-8")
    import simbp.planning.files as files

    def interrupted(*_args: object, **_kwargs: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(files, f"render_{kind}_html", interrupted)
    assert run_main(args, place).code == 130
    names = {p.name for p in (place / "out").iterdir()}
    assert f"{kind}_summary.json" not in names  # the old summary went first: nothing looks complete
    assert f"{kind}_table.csv" in names and "mine.txt" in names
    assert not [n for n in names if n.endswith(".part")]
