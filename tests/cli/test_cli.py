"""The `simbp` command: outputs, determinism, exit statuses and error messages."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from repo import ROOT

from simbp.cli import main
from simbp.output import MANIFEST

QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
SUMMARY_KEYS = {"produced", "dropped", "timed_out", "lost_in_crash", "consumed", "in_flight_at_end", "loss_ratio",
                "latency_s", "peak_queue_depth", "peak_memory_bytes", "crashes", "first_crash_s",
                "producer_blocked_fraction", "verdict", "verdict_reason", "components"}

SMALL = """
name: small
duration: 20s
seed: 3
memory: {limit: 1MiB, restart_after: 2s}
producers:
  - {name: src, to: q, arrivals: {process: poisson, rate: 300/s}, size: 1KiB}
buffers:
  - {name: q, policy: unbounded}
consumers:
  - {name: w, from: q, workers: 1, service: {dist: exponential, mean: 5ms}}
expect: {verdict: crashed}
"""


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_run_writes_every_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["run", str(_write(tmp_path, SMALL)), "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"summary.json", "timeseries.csv", "timeseries.parquet", "report.html", "lag.png", "loss.png",
            "memory.png", "latency.png", "blocked.png", "events.csv"} <= names
    assert not [n for n in names if n.endswith(".part")]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert summary["verdict"] == "crashed" and summary["crashes"] >= 1
    assert summary["produced"] == (summary["consumed"] + summary["dropped"] + summary["timed_out"]
                                   + summary["lost_in_crash"] + summary["in_flight_at_end"])
    csv = pd.read_csv(out / "timeseries.csv")
    parquet = pd.read_parquet(out / "timeseries.parquet")
    assert list(csv.columns) == list(parquet.columns)
    assert csv["produced"].sum() == summary["produced"]
    assert {"q.depth", "q.bytes", "memory_bytes", "w.utilisation", "latency_p99_s", "crashes"} <= set(csv.columns)
    report = (out / "report.html").read_text()
    assert "data:image/png;base64," in report and "crashed" in report
    assert "src=\"http" not in report and "href=\"http" not in report  # self-contained
    printed = capsys.readouterr().out
    assert "CRASHED" in printed and "expectation: verdict crashed held" in printed


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path, SMALL)
    for name in ("a", "b"):
        assert main(["run", str(path), "--out", str(tmp_path / name), "--no-plots", "--quiet"]) == 0
    for file in ("summary.json", "timeseries.csv", "timeseries.parquet", "events.csv"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_seed_and_duration_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path, SMALL)
    main(["run", str(path), "--out", str(tmp_path / "a"), "--no-plots", "--quiet", "--seed", "4", "--duration", "5s"])
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["seed"] == 4 and summary["duration_s"] == 5.0
    assert 1200 < summary["produced"] < 1800  # about 300/s for 5 s


def test_check_expect_fails_when_the_verdict_differs(tmp_path: Path) -> None:
    path = _write(tmp_path, SMALL.replace("verdict: crashed", "verdict: healthy"))
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--no-plots", "--quiet"]) == 0
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--no-plots", "--quiet", "--check-expect"]) == 1


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (SMALL.replace("rate: 300/s", "rate: -3/s"), 7, "producers[0].arrivals.rate", "rate"),
        (SMALL.replace("from: q", "from: nowhere"), 11, "consumers[0].from", "no buffer named 'nowhere'"),
        (SMALL.replace("policy: unbounded", "policy: unbounded, capacity: 5"), 9, "buffers[0].capacity", "unbounded"),
        (SMALL.replace("seed: 3", "seed: 3\ncolour: blue"), 5, "colour", "unknown key"),
        (SMALL.replace("workers: 1", "workers: many"), 11, "consumers[0].workers", "integer"),
    ],
)
def test_bad_input_exits_2_with_file_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    text: str, line: int, field: str, words: str) -> None:
    path = _write(tmp_path, text)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}: {field}:" in err, err
    assert words in err
    assert "Traceback" not in err
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_validate_accepts_the_quickstart(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(QUICKSTART)]) == 0
    assert "ok" in capsys.readouterr().out


def test_too_large_is_refused_up_front_with_an_estimate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, SMALL.replace("duration: 20s", "duration: 1000h"))
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--mode", "exact"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"about 1,08[0-9],[0-9]{3},[0-9]{3} messages", err), err  # 300/s × 3.6e6 s
    assert "--allow-large" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
    # even fast mode refuses what would take absurdly long, before starting
    absurd = _write(tmp_path, SMALL.replace("duration: 20s", "duration: 100000000h"), "absurd.yaml")
    assert main(["run", str(absurd), "--out", str(tmp_path / "o")]) == 2
    assert "--allow-large" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # refused up front: nothing simulated, nothing written


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "no such scenario file" in capsys.readouterr().err


def test_console_script_reports_yaml_syntax_errors_without_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nproducers: [\n")
    done = subprocess.run([sys.executable, "-m", "simbp.cli", "validate", str(path)], capture_output=True, text=True)
    assert done.returncode == 2
    assert f"{path}:" in done.stderr and "not valid YAML" in done.stderr
    assert "Traceback" not in done.stderr


def test_readme_commands_name_a_bundled_scenario_that_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    run_command = next(c for c in commands if "simbp run" in c)
    test_command = next(c for c in commands if "pytest" in c)
    assert run_command.startswith("pip install -e . && simbp run scenarios/")
    assert test_command.startswith('pip install -e ".[test]" && ')
    assert test_command.endswith("&& python -m pytest -q -n 2 --dist loadfile")  # lint and types first, then
    pytest_part = test_command.rsplit("pytest", 1)[1].split()  # every test (two processes), none deselected
    assert not {"-k", "-m", "--deselect", "-x", "--lf"} & set(pytest_part)
    assert test_command in (ROOT / ".ci" / "run").read_text()
    scenario = run_command.split("simbp run ", 1)[1].split()[0]
    assert main(["run", str(ROOT / scenario), "--out", str(tmp_path / "r"), "--quiet", "--no-plots"]) == 0


def test_import_simbp_loads_neither_streamlit_nor_matplotlib() -> None:
    code = "import sys, simbp; simbp.run(simbp.load_scenario(open(sys.argv[1]).read())); " \
           "print(sorted(m for m in sys.modules if m.split('.')[0] in ('streamlit', 'matplotlib')))"
    done = subprocess.run([sys.executable, "-c", code, str(QUICKSTART)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_rerun_into_the_same_folder_leaves_nothing_of_the_previous_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", str(_write(tmp_path, SMALL)), "--out", str(out), "--quiet"]) == 0
    assert (out / "events.csv").exists() and (out / "lag.png").exists()
    healthy = SMALL.replace("rate: 300/s", "rate: 20/s").replace("verdict: crashed", "verdict: healthy")
    assert main(["run", str(_write(tmp_path, healthy, "h.yaml")), "--out", str(out), "--quiet", "--no-plots"]) == 0
    names = {p.name for p in out.iterdir()}
    assert "events.csv" not in names and not [n for n in names if n.endswith(".png")]
    assert json.loads((out / "summary.json").read_text())["verdict"] == "healthy"


def test_an_interrupted_run_leaves_no_summary_and_no_partial_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    path = _write(tmp_path, SMALL)
    assert main(["run", str(path), "--out", str(out), "--quiet", "--no-plots"]) == 0
    import simbp.report

    def interrupted(*_args: object, **_kwargs: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(simbp.report, "render_report", interrupted)
    assert main(["run", str(path), "--out", str(out), "--quiet", "--no-plots", "--seed", "9"]) == 130
    names = {p.name for p in out.iterdir()}
    assert "summary.json" not in names  # the old summary is gone: the folder is visibly unfinished
    # no partial or temporary file; the one hidden file is simbp's list of the files it wrote there
    assert not [n for n in names if (n.startswith(".") and n != MANIFEST) or n.endswith(".part")]
