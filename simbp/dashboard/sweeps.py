"""Capacity sweeps in their own process: started from the page, priced first, cancelled when left.

A sweep runs `python -m simbp.dashboard.sweeps FOLDER`, a fresh interpreter whose main module is
this one, so its worker processes never re-import the page (`app.py`). The page and the job talk
through files in FOLDER: `job.json` (the question), `progress.json`, `result.pkl` or `error.txt`,
and `heartbeat`, which the page touches while it shows the sweep. A job whose heartbeat goes
stale (the user closed the tab) stops itself; `cancel` stops it and its worker processes at once
(the job leads its own process group). `MAX_RUNNING` sweeps run at a time on the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .capacity import CapacityQuestion

__all__ = ["SweepJob", "SweepEstimate", "estimate_sweep", "running_jobs", "HEARTBEAT_TIMEOUT_S", "MAX_RUNNING",
           "MAX_SWEEP_RUNS", "MAX_SWEEP_SECONDS"]

HEARTBEAT_TIMEOUT_S = 20.0
MAX_RUNNING = 1
MAX_SWEEP_RUNS = 400
MAX_SWEEP_SECONDS = 300.0
_START_SECONDS = 3.0  # starting the interpreter and the worker processes
_LOCK = threading.Lock()
_JOBS: dict[str, SweepJob] = {}


@dataclass(frozen=True)
class SweepEstimate:
    """What a sweep will cost: runs, messages, seconds on this server, and why it is refused (or None)."""

    runs: int
    messages: float
    seconds: float
    jobs: int
    refused: str | None = None

    def describe(self) -> str:
        where = "in this server's sweep process" if self.jobs == 1 else f"on {self.jobs} processes"
        return f"{self.runs} runs, about {self.messages:,.0f} messages: about {self.seconds:.0f} s {where}"


def estimate_sweep(text: str, question: CapacityQuestion, *, base_dir: Path | str | None = None) -> SweepEstimate:
    """Price a capacity question before it starts (messages scale with load and run length)."""
    from ..limits import EXACT_MESSAGES_PER_SECOND, estimate_messages
    from ..planning.executors import available_cores
    from .library import load_text

    scenario = load_text(text, base_dir=base_dir)
    per_second = estimate_messages(scenario) / max(scenario.duration, 1e-9) / max(scenario.load_multiplier, 1e-9)
    runs = len(question.size_values) * len(question.loads) * question.replications
    messages = sum(per_second * question.duration_s * load for load in question.loads)
    messages *= len(question.size_values) * question.replications
    jobs = 1 if messages < 3_000_000 else available_cores()
    seconds = _START_SECONDS + messages / EXACT_MESSAGES_PER_SECOND / jobs
    refused = None
    if runs > MAX_SWEEP_RUNS:
        refused = f"{runs} runs; this dashboard sweeps up to {MAX_SWEEP_RUNS}: try fewer values, loads or replications"
    elif seconds > MAX_SWEEP_SECONDS:
        refused = (f"about {seconds / 60:.0f} min of computing; this dashboard sweeps up to "
                   f"{MAX_SWEEP_SECONDS / 60:.0f} min: shorten the run length, or use `simbp sweep` on your machine")
    return SweepEstimate(runs, messages, seconds, jobs, refused)


def running_jobs() -> list[SweepJob]:
    """Sweeps running now in this server (finished ones are forgotten)."""
    with _LOCK:
        for key in [k for k, job in _JOBS.items() if not job.alive()]:
            del _JOBS[key]
        return list(_JOBS.values())


class SweepJob:
    """One sweep process and its folder. `status()` reads its progress; `cancel()` stops it."""

    def __init__(self, folder: Path, process: subprocess.Popen[bytes], request: Any):
        self.folder = folder
        self.process = process
        self.request = request
        self.started = time.monotonic()
        self._result: Any = None

    @classmethod
    def start(cls, text: str, question: CapacityQuestion, *, base_dir: Path | str, request: Any = None,
              jobs: int | None = None, heartbeat_timeout: float = HEARTBEAT_TIMEOUT_S) -> SweepJob:
        """Start a sweep process; raises RuntimeError when `MAX_RUNNING` sweeps are already running."""
        with _LOCK:
            alive = [job for job in _JOBS.values() if job.alive()]
            if len(alive) >= MAX_RUNNING:
                raise RuntimeError("another sweep is running on this server; try again when it has finished")
            folder = Path(tempfile.mkdtemp(prefix="simbp-sweep-"))
            (folder / "job.json").write_text(json.dumps({
                "text": text, "base_dir": str(base_dir), "question": asdict(question), "jobs": jobs,
                "heartbeat_timeout": heartbeat_timeout}), encoding="utf-8")
            (folder / "heartbeat").touch()
            package_root = str(Path(__file__).resolve().parents[2])
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
            with open(folder / "stderr.txt", "wb") as errors:
                process = subprocess.Popen([sys.executable, "-m", "simbp.dashboard.sweeps", str(folder)], env=env,
                                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
                                           start_new_session=True)
            job = cls(folder, process, request)
            _JOBS[folder.name] = job
            return job

    def alive(self) -> bool:
        return self.process.poll() is None

    def heartbeat(self) -> None:
        """The page is still showing this sweep (call at least every `HEARTBEAT_TIMEOUT_S`)."""
        with contextlib.suppress(OSError):
            os.utime(self.folder / "heartbeat")

    def fraction(self) -> float:
        try:
            return float(json.loads((self.folder / "progress.json").read_text())["fraction"])
        except (OSError, ValueError, KeyError):
            return 0.0

    def status(self) -> str:
        """"running", "done", "failed" or "cancelled"."""
        if self._result is not None:
            return "done"
        if self.alive():
            return "running"
        if (self.folder / "result.pkl").exists():
            return "done"
        if (self.folder / "error.txt").exists():
            return "failed"
        return "cancelled"

    def error(self) -> str:
        try:
            return (self.folder / "error.txt").read_text(encoding="utf-8")
        except OSError:
            return "the sweep stopped"

    def result(self) -> Any:
        """The `SweepResult` once done (read once, then the folder is removed)."""
        if self._result is None and (self.folder / "result.pkl").exists():
            with open(self.folder / "result.pkl", "rb") as handle:
                self._result = pickle.load(handle)  # written by our own job process, never by a user
            shutil.rmtree(self.folder, ignore_errors=True)
        return self._result

    def cancel(self) -> None:
        """Stop the sweep and its worker processes now, and remove its folder."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError, PermissionError):  # workers left behind share its group
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait()
        if self._result is None:
            shutil.rmtree(self.folder, ignore_errors=True)
        with _LOCK:
            _JOBS.pop(self.folder.name, None)


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)


def _stop_group() -> None:
    os.killpg(os.getpgid(0), signal.SIGKILL)  # this job and its workers, at once


def main(folder_name: str) -> int:
    """The job process: run the sweep, report progress, stop when the page stops beating."""
    from .capacity import run_capacity_sweep

    folder = Path(folder_name)
    job = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    question_data = job["question"]
    for name in ("size_values", "loads"):
        question_data[name] = tuple(question_data[name])
    question = CapacityQuestion(**question_data)
    timeout = float(job.get("heartbeat_timeout", HEARTBEAT_TIMEOUT_S))

    def progress(fraction: float) -> None:
        _write_atomic(folder / "progress.json", json.dumps({"fraction": fraction}).encode())
        try:
            stale = time.time() - (folder / "heartbeat").stat().st_mtime > timeout
        except OSError:
            stale = True
        if stale:  # nobody is watching: stop this job and its workers
            _stop_group()

    def watchdog() -> None:
        while True:
            time.sleep(min(2.0, timeout / 2))
            progress_file = folder / "progress.json"
            fraction = json.loads(progress_file.read_text())["fraction"] if progress_file.exists() else 0.0
            progress(fraction)

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        result = run_capacity_sweep(job["text"], question, base_dir=job["base_dir"], progress=progress, jobs=job["jobs"])
    except Exception as error:  # reported to the page, which shows it
        _write_atomic(folder / "error.txt", f"{type(error).__name__}: {error}".encode())
        return 1
    _write_atomic(folder / "result.pkl", pickle.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
