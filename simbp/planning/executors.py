"""Where a sweep's replications run: in this process, in local processes, or on a Dask cluster.

Every replication is a self-contained `Replication` task (the point's scenario as plain data, its
seed, the engine mode) handled by the module-level `run_replication`, so any executor can ship it
anywhere. Executors hand results back in whatever order they finish; the planner files each
result under its (point, replication) and never looks at the order, so the tables are identical
whichever executor ran them.

- `SerialExecutor`: one job, in this process (no start-up cost; what `--jobs 1` gives).
- `ProcessExecutor`: local processes (`--jobs N`, default all cores), started once and reused.
- `DaskExecutor`: a Dask cluster by scheduler address (`--dask tcp://host:8786`), or a
  `LocalCluster` started for the run (`--dask local`). Workers need simbp installed, and files a
  scenario reads (traces, empirical CSVs) at the same paths.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..budget import clamp_jobs
from .steady import POOLED, RunPlan, SteadyState

__all__ = [
    "Replication",
    "Executor",
    "SerialExecutor",
    "ProcessExecutor",
    "DaskExecutor",
    "make_executor",
    "run_replication",
    "flatten_summary",
    "available_cores",
    "POOLED",
    "RAW",
    "window_row",
    "verify_dask_scheduler",
]

RAW = "_raw"  # a row's key for a first run's raw data, before the point's warm-up cut is chosen

# Summary keys that describe the run rather than measure it, or are text.
_NOT_FIGURES = {"scenario", "seed", "verdict_reason", "mode_reason", "kind", "policy", "expected_verdict"}
_TEXT_KEPT = {"verdict", "mode"}  # text figures kept in the table


@dataclass(frozen=True)
class Replication:
    """One simulation to run: a point's scenario (plain data), its seed and where it belongs, and
    how to analyse it (`steady`: steady state with a detected warm-up by default; `None` or
    `SteadyState(enabled=False)`: the whole run, a transient study)."""

    point: int
    replication: int
    seed: int
    scenario: dict[str, Any] = field(repr=False)
    base_dir: str = "."
    mode: str | None = None
    allow_large: bool = False
    steady: SteadyState | None = None
    plan: RunPlan | None = None
    budgets: dict[str, float] | None = None  # simbp.budget.Budgets.as_dict(): each replication's runtime budgets


def flatten_summary(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Numeric figures of a summary as dotted names (`latency_s.p99`, `components.queue.dropped`).

    Missing values (`None`, e.g. latency when nothing was consumed) become NaN; text is left out
    except the verdict and the engine mode that ran.
    """
    flat: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_summary(value, name + "."))
        elif key in _NOT_FIGURES or isinstance(value, (list, tuple)):
            continue
        elif key in _TEXT_KEPT and isinstance(value, str):
            flat[name] = value
        elif isinstance(value, bool):
            flat[name] = int(value)
        elif isinstance(value, (int, float)):
            flat[name] = value
        elif value is None:
            flat[name] = math.nan
    return flat


def run_replication(task: Replication) -> dict[str, Any]:
    """Simulate one replication and return its row: point, replication, seed, every figure (of the
    steady-state window, see `simbp.planning.steady`) and, under `POOLED`, the window's latency
    sketches and loss counts for pooling over replications. The spec's budgets bound each run."""
    from ..budget import Budgets
    from ..scenario import parse_scenario_dict
    from .steady import run_at_cut, run_probe, run_whole

    budgets = Budgets().with_overrides(task.budgets)
    scenario = parse_scenario_dict(dict(task.scenario), label=f"point {task.point}", base_dir=Path(task.base_dir),
                                   budgets=budgets)
    row: dict[str, Any] = {"point": task.point, "replication": task.replication, "seed": task.seed}
    if task.steady is None or not task.steady.enabled or task.plan is None:
        summary, pooled = run_whole(scenario, task.seed, task.mode, task.allow_large, budgets)
    elif task.plan.cut is None:
        row[RAW] = run_probe(scenario, task.seed, task.mode, task.allow_large, task.plan.duration, budgets)
        return row
    else:
        summary, pooled = run_at_cut(scenario, task.seed, task.mode, task.allow_large, task.plan.duration,
                                     task.plan.cut, budgets)
    row.update(flatten_summary(summary))
    row[POOLED] = pooled
    return row


def window_row(raw_row: dict[str, Any], cut: int, base_duration: float) -> dict[str, Any]:
    """The row of a first run (raw data) once its point's cut is chosen."""
    from .steady import window

    summary, pooled = window(raw_row[RAW], cut, base_duration)
    row = {key: raw_row[key] for key in ("point", "replication", "seed")}
    row.update(flatten_summary(summary))
    row[POOLED] = pooled
    return row


class Executor(Protocol):
    """Runs tasks and yields their results as they finish (any order)."""

    jobs: int
    description: str

    def map(self, function: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]: ...

    def close(self) -> None: ...


class _ContextManager:
    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # type: ignore[attr-defined]


class SerialExecutor(_ContextManager):
    """Runs every task here, one after another (no processes; for one job and for debugging)."""

    jobs = 1
    description = "this process (1 job)"

    def map(self, function: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        for task in tasks:
            yield function(task)

    def close(self) -> None:
        pass


class ProcessExecutor(_ContextManager):
    """Runs tasks in `jobs` local processes, started on first use and kept for later batches.

    Processes come from a `forkserver` (on Linux), so a pool started after threads exist (a Dask
    client, a GUI) cannot inherit a held lock.
    """

    def __init__(self, jobs: int | None = None):
        self.jobs = max(1, int(jobs or available_cores()))
        self.description = f"{self.jobs} local processes"
        self._pool: Any = None

    def _ensure_pool(self) -> Any:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
            if "forkserver" in methods:
                context.set_forkserver_preload(["simbp.planning.executors", "simbp.planning.steady", "simbp.exact.model",
                                                 "simbp.results"])
            self._pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=context)
        return self._pool

    def map(self, function: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        from concurrent.futures import as_completed

        pool = self._ensure_pool()
        futures = [pool.submit(function, task) for task in tasks]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(_ContextManager):
    """Runs tasks on a Dask cluster: `address` of its scheduler, or "local" for a `LocalCluster`.

    A local cluster has `jobs` single-threaded workers (default: all cores), in processes unless
    `processes=False` (threads: quicker to start, for tests and small runs).
    """

    def __init__(self, address: str = "local", jobs: int | None = None, *, processes: bool = True):
        from distributed import Client

        self._cluster: Any = None
        if address == "local":
            from distributed import LocalCluster

            workers = max(1, int(jobs or available_cores()))
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                                         dashboard_address=None)
            self._client = Client(self._cluster)
            self.description = f"a local Dask cluster of {workers} workers"
        else:
            verify_dask_scheduler(address)
            self._client = Client(address, timeout="10s")
            self.description = f"the Dask cluster at {address}"
        self.jobs = max(1, sum(self._client.nthreads().values()))

    def map(self, function: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        from distributed import as_completed

        tasks = list(tasks)
        if not tasks:
            return
        futures = self._client.map(function, tasks, pure=False)
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            self._client.cancel(futures)

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def verify_dask_scheduler(address: str, seconds: float = 10.0) -> None:
    """Raise `ValueError` unless a Dask scheduler answers at `address` within `seconds`.

    `distributed.Client` can wait forever on a peer that accepts the connection but is not Dask
    (an HTTP server, a database); this asks the peer who it is, under a deadline, first.
    """
    import asyncio
    import threading

    from distributed.comm import connect

    async def identity() -> Any:
        comm = await connect(address, timeout=seconds)
        try:
            await comm.write({"op": "identity"})
            return await comm.read()
        finally:
            comm.abort()

    answer: dict[str, Any] = {}

    def ask() -> None:
        try:
            answer["reply"] = asyncio.run(asyncio.wait_for(identity(), seconds))
        except BaseException as error:
            answer["error"] = error

    thread = threading.Thread(target=ask, daemon=True)  # its own event loop, even under a running one
    thread.start()
    thread.join(seconds + 2)
    reply = answer.get("reply")
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        error = answer.get("error")
        why = "no answer" if thread.is_alive() or (error is None and reply is None) else (
            f"{type(error).__name__}" if error is not None else "the peer is not a Dask scheduler")
        raise ValueError(f"no Dask scheduler answered at {address} within {seconds:g} s ({why})")


def available_cores() -> int:
    """Cores this process may use (the affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def make_executor(jobs: int | None = None, dask: str | None = None) -> Executor:
    """The executor the command line asks for: Dask when `dask` is given, else local processes.

    `jobs=1` without Dask runs in this process; `jobs=None` uses every core.
    """
    if jobs is not None and jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    if dask:
        return DaskExecutor(dask, clamp_jobs(jobs)[0] if dask == "local" else jobs)
    jobs = clamp_jobs(jobs)[0]  # never more processes than cores (simbp.budget)
    if (jobs or available_cores()) == 1:
        return SerialExecutor()
    return ProcessExecutor(jobs)
