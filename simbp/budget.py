"""Runtime budgets: what a run, a file or a document may cost before simbp stops it cleanly.

The size estimate (`simbp.limits`) refuses most oversized scenarios before they start; the engines
also check these budgets while running (at each time-series sample, never per message), so what
the estimate cannot see (a retry storm, a process that swells) still stops with a message naming
the budget and how to raise it. Files a scenario names must stay inside its folder
(`resolve_inside`). Nothing here imports the scenario layer or an engine: every layer may use it.

    budgets = Budgets().with_overrides(["events=5e8", "wall=30m"])
    guard = budgets.guard()          # one per run: wall clock, memory, cancellation
    guard.check_running(visits=..., rows=...)
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .errors import Problem, ScenarioError, ScenarioTooLarge
from .units import format_bytes, format_duration, parse_bytes, parse_duration

__all__ = ["Budgets", "BudgetExceeded", "RunCancelled", "RunGuard", "DEFAULT_BUDGETS", "BUDGET_HELP",
           "resolve_inside", "check_file_size", "check_document_size", "clamp_jobs", "describe", "raise_hint",
           "add_budget_option"]


class BudgetExceeded(ScenarioTooLarge):
    """A run, file or document that went over a budget; the message names it and how to raise it."""

    def __init__(self, name: str, message: str, file: str | None = None):
        self.budget = name
        super().__init__([Problem(f"budget {name}", message, None, file)])
        self.args = (name, message, file)  # SimPy re-raises a process's error as type(error)(*error.args)

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


class RunCancelled(ScenarioError):
    """A run stopped because its caller asked (the dashboard user moved on)."""

    def __init__(self, file: str | None = None):
        super().__init__([Problem("", "the run was cancelled before it finished; nothing was kept", None, file)])
        self.args = (file,)

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


# name: (kind, help). kind says how a value is written: "count", "duration" or "bytes".
BUDGET_HELP: dict[str, tuple[str, str]] = {
    "events": ("count", "work of one run: arrivals drawn, burst phases and stage visits (a message passing "
                        "a stage, retries included); estimated before the run and counted while it runs"),
    "samples": ("count", "rows of the time series (duration / sample_interval)"),
    "cells": ("count", "time-series cells: rows × columns (columns grow with buffers, consumers and Kafka partitions)"),
    "workers": ("count", "workers in all consumers and consumer groups, at their autoscaling maxima"),
    "wall": ("duration", "wall-clock time of one run"),
    "memory": ("bytes", "growth of the process's resident memory during one run"),
    "file_size": ("bytes", "size of a trace or empirical CSV a scenario names"),
    "document_size": ("bytes", "size of a scenario or spec YAML document"),
    "yaml_depth": ("count", "nesting depth of a YAML document"),
    "yaml_nodes": ("count", "values in a YAML document after its aliases are expanded"),
    "points": ("count", "points of a sweep grid or plan search, counted before any is built"),
}


@dataclass(frozen=True)
class Budgets:
    """Limits on one run and on the inputs it reads; every default lets the library and tests run.

    Raise one with `with_overrides({"events": 5e8})` (the CLI's `--budget events=5e8`).
    """

    events: float = 40_000_000
    samples: float = 1_000_000
    cells: float = 10_000_000
    workers: float = 20_000
    wall: float = 600.0
    memory: float = 2 * 1024**3
    file_size: float = 64 * 1024**2
    document_size: float = 2 * 1024**2
    yaml_depth: float = 40
    yaml_nodes: float = 200_000
    points: float = 10_000

    def with_overrides(self, overrides: Mapping[str, Any] | Iterable[str] | None) -> "Budgets":
        """A copy with some budgets changed: a mapping, or `NAME=VALUE` strings as the CLI takes them.

        Values take units where the budget has them ("30m", "4GiB"); raises `ScenarioError` on an
        unknown name or a value that is not a positive finite number.
        """
        if not overrides:
            return self
        pairs: list[tuple[str, Any]] = []
        if isinstance(overrides, Mapping):
            pairs = list(overrides.items())
        else:
            for item in overrides:
                name, sep, value = str(item).partition("=")
                if not sep:
                    raise _bad_budget(str(item), "write a budget as NAME=VALUE, e.g. events=5e8 or wall=30m")
                pairs.append((name.strip(), value.strip()))
        changes = {}
        for name, value in pairs:
            if name not in BUDGET_HELP:
                raise _bad_budget(name, f"unknown budget {name!r}; budgets: {', '.join(BUDGET_HELP)}")
            changes[name] = _parse_budget(name, value)
        return replace(self, **changes)

    def as_dict(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}

    def guard(self, *, label: str | None = None, cancelled: Callable[[], bool] | None = None) -> "RunGuard":
        """A fresh guard for one run (starts its wall clock and memory baseline now)."""
        return RunGuard(self, label=label, cancelled=cancelled)

    # ------------------------------------------------------------- checks before a run
    def check(self, name: str, value: float, what: str, *, file: str | None = None, hint: str = "") -> None:
        """Raise `BudgetExceeded` when `value` (an estimate or a count) is over budget `name`.

        NaN counts as over: an estimate that cannot be made is not a licence to run.
        """
        limit = getattr(self, name)
        if value <= limit:
            return
        raise BudgetExceeded(name, f"{what} is {describe(name, value)}, over the {name} budget of "
                                   f"{describe(name, limit)}.{(' ' + hint) if hint else ''} {raise_hint(name, value)}", file)

    def check_points(self, count: float, what: str = "the sweep grid (the product of the numbers of values varied)",
                     file: str | None = None) -> None:
        """Refuse a sweep grid, plan search space or run count over the `points` budget."""
        self.check("points", count, what, file=file, hint="Vary fewer fields or fewer values, or ask for fewer replications.")


DEFAULT_BUDGETS = Budgets()


def describe(name: str, value: float) -> str:
    """A budget value for a message: "2GiB", "15m", "200,000,000"."""
    kind = BUDGET_HELP[name][0]
    if value != value:
        return "unknown (not a number)"
    if math.isinf(value):
        return "unbounded"
    if kind == "duration":
        return format_duration(value)
    if kind == "bytes":
        return format_bytes(value)
    return f"{value:,.0f}"


def raise_hint(name: str, wanted: float | None = None) -> str:
    """How to raise budget `name`: the CLI flag and the API keyword."""
    suggestion = BUDGET_HELP[name][0]
    example = {"duration": "1h", "bytes": "8GiB"}.get(suggestion, "")
    if not example:
        base = wanted if wanted is not None and math.isfinite(wanted) and wanted > 0 else getattr(DEFAULT_BUDGETS, name) * 10
        example = f"{float(f'{base * 1.2:.2g}'):g}"
    return (f"To allow it, raise the budget: --budget {name}={example} on the command line, "
            f"or budgets={{'{name}': ...}} in simbp.run.")


def _parse_budget(name: str, value: Any) -> float:
    kind = BUDGET_HELP[name][0]
    try:
        if isinstance(value, bool):
            raise ValueError("a budget is a number, not a boolean")
        if kind == "duration":
            number = parse_duration(value)
        elif kind == "bytes":
            number = parse_bytes(value)
        else:
            number = float(value)
    except (ValueError, TypeError, OverflowError) as error:
        raise _bad_budget(name, f"budget {name}: {error}") from None
    if not (number > 0) or math.isnan(number):
        raise _bad_budget(name, f"budget {name} must be a positive number (inf lifts it), not {value!r}")
    return number


def _bad_budget(name: str, message: str) -> ScenarioError:
    return ScenarioError([Problem("--budget", message, None, "command line")])


# ------------------------------------------------------------------ while a run goes
def resident_bytes() -> float:
    """This process's resident memory now (Linux /proc), else its peak (other systems)."""
    try:
        with open("/proc/self/statm", "rb") as stream:
            return float(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        import resource

        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class RunGuard:
    """Enforces a run's budgets while it runs: call `check_running` at each sample.

    Counts (stage visits, rows, cells) are compared every call; the wall clock, memory and the
    caller's `cancelled()` at most every `every` seconds of wall time, so a check costs nanoseconds.
    """

    def __init__(self, budgets: Budgets, *, label: str | None = None, cancelled: Callable[[], bool] | None = None,
                 every: float = 0.2):
        self.budgets = budgets
        self.label = label
        self.cancelled = cancelled
        self.every = every
        self.started = time.monotonic()
        self.memory_at_start = resident_bytes()
        self._next_clock = self.started + every
        self.width = 0

    def check_layout(self, columns: int, rows: float) -> None:
        """At the first sample: the time series' width and its expected rows fit the budgets."""
        self.width = columns
        self.budgets.check("samples", rows, "the time series' length (duration / sample_interval)", file=self.label,
                           hint="Use a longer sample_interval or a shorter duration.")
        self.budgets.check("cells", rows * columns, f"the time series' size ({rows:,.0f} rows × {columns:,} columns)",
                           file=self.label, hint="Use a longer sample_interval, or fewer partitions, buffers or consumers.")

    def on_sample(self, model: Any) -> None:
        """The engines' hook, after each time-series row: layout at the first, counts and clock at each.

        Reads what both engines offer (`simbp.engine_contract.SimulatedModel`): the rows so far, the
        cumulative totals `recording` keeps in `model._last`, and each group's `processed`. Stage
        visits (produced + processed by each stage + consumed by Kafka groups) count in exact mode
        only: fast mode's work is its quanta, bounded before it starts.
        """
        samples = model.samples
        rows = len(samples)
        if rows == 1:
            scenario = model.scenario
            expected = math.ceil(scenario.duration / scenario.effective_sample_interval) + 2
            if model.mode == "fast":
                expected = min(expected, math.ceil(scenario.duration / model.quantum) + 2)
            self.check_layout(len(samples[0]), expected)
        visits = 0.0
        if model.mode == "exact":
            last = model._last
            groups = model.groups.values()
            processed = sum(group.processed for group in groups)
            elsewhere = last.get("consumed", 0.0) - sum(group.consumed for group in groups)  # Kafka groups
            visits = last.get("produced", 0.0) + processed + max(elsewhere, 0.0)
        self.check_running(visits, rows)

    def check_running(self, visits: float = 0.0, rows: int = 0) -> None:
        """Stop the run (raise `BudgetExceeded` or `RunCancelled`) when it went over a budget."""
        if visits > self.budgets.events:
            raise BudgetExceeded("events", f"the run passed {describe('events', self.budgets.events)} events "
                                           f"(stage visits) before finishing. {raise_hint('events', self.budgets.events * 4)}", self.label)
        if rows > self.budgets.samples:
            raise BudgetExceeded("samples", f"the time series passed {describe('samples', self.budgets.samples)} rows. "
                                            f"{raise_hint('samples', self.budgets.samples * 4)}", self.label)
        now = time.monotonic()
        if now >= self._next_clock:
            self._next_clock = now + self.every
            self.check_clock(now)

    def check_clock(self, now: float | None = None) -> None:
        """Wall time, memory and cancellation (call from a progress callback, too)."""
        now = time.monotonic() if now is None else now
        if self.cancelled is not None and self.cancelled():
            raise RunCancelled(self.label)
        elapsed = now - self.started
        if elapsed > self.budgets.wall:
            raise BudgetExceeded("wall", f"the run took over {describe('wall', self.budgets.wall)} of wall-clock time "
                                         f"and was stopped. {raise_hint('wall')}", self.label)
        grown = resident_bytes() - self.memory_at_start
        if grown > self.budgets.memory:
            raise BudgetExceeded("memory", f"the run grew this process's memory by {format_bytes(grown)}, over the "
                                           f"memory budget of {describe('memory', self.budgets.memory)}, and was stopped. "
                                           f"{raise_hint('memory')}", self.label)


# ------------------------------------------------------------------ files and documents
def resolve_inside(base_dir: str | Path, name: str | os.PathLike[str]) -> Path:
    """The path of file `name` inside `base_dir`, or `ValueError` saying why it is not allowed.

    `name` must be relative and must stay inside `base_dir` once `..` and symbolic links are
    resolved, so a scenario (or an upload) can read only the files that travel with it.
    """
    text = os.fspath(name)
    if not text or "\x00" in text:
        raise ValueError("a file name must be a non-empty relative path")
    if os.path.isabs(text) or text.startswith("~") or (len(text) > 1 and text[1] == ":"):
        raise ValueError(f"file {text!r} must be a path relative to the scenario's folder, not an absolute path")
    base = Path(base_dir).resolve()
    path = (base / text).resolve()
    if path != base and base not in path.parents:
        raise ValueError(f"file {text!r} is outside the scenario's folder; keep data files next to the scenario")
    return path


def check_file_size(path: Path, budgets: Budgets = DEFAULT_BUDGETS, *, shown: str | None = None) -> None:
    """Refuse a data file larger than the `file_size` budget, before reading it."""
    size = path.stat().st_size
    budgets.check("file_size", size, f"file {shown or path.name!r}", hint="Aggregate the trace (format: counts) or sample it.")


def check_document_size(size: int, label: str | None = None, budgets: Budgets = DEFAULT_BUDGETS) -> None:
    """Refuse a YAML document (scenario, spec, upload, editor text) larger than the `document_size` budget."""
    budgets.check("document_size", size, "the YAML document", file=label,
                  hint="Put long lists of values in a CSV next to the scenario (empirical: {file: ...}).")


def clamp_jobs(jobs: int | None) -> tuple[int | None, str | None]:
    """`--jobs` clamped to the cores this process may use, and a note when it was clamped."""
    if jobs is None:
        return None, None
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    if jobs > cores:
        return cores, f"--jobs {jobs} is more than the {cores} core(s) available; using {cores}"
    return jobs, None


def add_budget_option(parser: Any) -> None:
    """`--budget NAME=VALUE` (repeatable) on an argparse parser; read it with
    `Budgets().with_overrides(args.budget)`."""
    names = ", ".join(f"{name} ({describe(name, getattr(DEFAULT_BUDGETS, name))})" for name in BUDGET_HELP)
    parser.add_argument("--budget", action="append", default=[], metavar="NAME=VALUE",
                        help=f"change a budget, e.g. --budget events=5e8 --budget wall=1h (docs/limits.md); "
                             f"budgets and defaults: {names}")
