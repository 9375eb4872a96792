"""Helpers for hostile-input tests: run the CLI in a subprocess under a 3 GiB address-space cap and
a timeout, and check the outcome the way an attacker's victim would: exit 2, a message naming the
problem, no traceback, nothing written outside the output folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from repo import ROOT

MEMORY_CAP = 3 * 1024**3

GOOD = """\
name: hostile
duration: 10s
producers:
  - name: web
    to: queue
    arrivals: {process: poisson, rate: 50/s}
buffers:
  - name: queue
    policy: drop_newest
    capacity: 100
consumers:
  - name: workers
    from: queue
    workers: 2
    service: {dist: exponential, mean: 10ms}
"""


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    seconds: float


def _cap_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_cli(args: list[str], cwd: Path, timeout: float = 60.0, stdin: str | None = None) -> Outcome:
    """`simbp ARGS` in a fresh process, in `cwd`, capped at 3 GiB and `timeout` seconds."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    env.pop("SIMBP_TRACEBACK", None)
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "simbp.cli", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout, preexec_fn=_cap_memory, input=stdin, errors="replace")
    except subprocess.TimeoutExpired:
        pytest.fail(f"simbp {' '.join(args)} did not finish within {timeout:.0f} s (a hang)")
    return Outcome(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def run_main(args: list[str], cwd: Path) -> Outcome:
    """`simbp ARGS` in this process (fast: for inputs that cannot hang or exhaust memory)."""
    import contextlib
    import io

    from simbp.cli import main

    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exit_:  # argparse
            code = int(exit_.code or 0)
    return Outcome(code, out.getvalue(), err.getvalue(), time.monotonic() - started)


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def assert_refused(outcome: Outcome, *words: str) -> None:
    """Exit 2, every word in the message (case-insensitive), no traceback."""
    assert outcome.code == 2, (outcome.code, outcome.err[-2000:], outcome.out[-500:])
    assert "Traceback" not in outcome.err, outcome.err[-3000:]
    assert outcome.err.startswith("error:") or "\nerror:" in outcome.err, outcome.err
    for word in words:
        assert word.lower() in outcome.err.lower(), (word, outcome.err)


def assert_clean(outcome: Outcome) -> None:
    """Exit 0 (or 1: an expectation not met), no traceback."""
    assert outcome.code in (0, 1), (outcome.code, outcome.err[-2000:])
    assert "Traceback" not in outcome.err


def write(place: Path, text: str, name: str = "s.yaml") -> Path:
    path = place / "scenario" / name
    path.write_text(text, encoding="utf-8")
    return path


def run_scenario(place: Path, text: str, *extra: str, timeout: float = 60.0, isolated: bool = False) -> Outcome:
    """`simbp run` a scenario text into `out/`, and check nothing appeared outside `out/`.

    `isolated`: in a subprocess under the memory cap and `timeout` (for what could hang or swell).
    """
    path = write(place, text)
    before = snapshot(place)
    args = ["run", str(path), "--out", "out", "--no-plots", "--quiet", *extra]
    outcome = run_cli(args, place, timeout) if isolated else run_main(args, place)
    after = {name for name in snapshot(place) - before if not name.startswith("out")}
    assert not after, f"files written outside the output folder: {sorted(after)}"
    return outcome
