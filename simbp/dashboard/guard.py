"""What a shared dashboard server accepts: its budgets, upload caps, run estimates and cancellation.

The dashboard may be open to a whole room, so no input may hang the page for others or read the
server's files. The limits are `simbp.budget`'s, the same as the CLI's, tightened for a shared page
(`BUDGETS`): the loader refuses a document over its size, nesting or expanded size (a "billion
laughs" is refused, not expanded) and any `file:` outside the scenario's folder (the library
folder or the uploaded bundle) before reading it, naming the path, never the file's contents; the
engines stop a run over its wall clock or memory. On top, `estimate_run` prices a run before it
starts (messages, seconds, mode) and says whether to ask first or refuse; `Deadline` is one run's
cancellation and progress; `check_bundle` caps an upload.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..budget import BudgetExceeded, Budgets, RunCancelled, resolve_inside
from ..limits import EXACT_MESSAGES_PER_SECOND
from ..scenario import Scenario

__all__ = ["Budget", "BUDGET", "BUDGETS", "RunEstimate", "RunCancelled", "Deadline", "referenced_files",
           "linked_files", "estimate_run", "check_bundle"]


@dataclass(frozen=True)
class Budget:
    """The dashboard's own limits, beside `BUDGETS`: uploads, components, and how long a page waits."""

    max_scenario_bytes: int = 200_000
    max_bundle_files: int = 10
    max_bundle_bytes: int = 20 * 2**20
    max_components: int = 60
    warn_seconds: float = 8.0
    max_seconds: float = 90.0
    max_wall_seconds: float = 180.0


BUDGET = Budget()
BUDGETS = Budgets().with_overrides({
    "document_size": BUDGET.max_scenario_bytes, "yaml_depth": 40, "yaml_nodes": 50_000, "file_size": 16 * 2**20,
    "samples": 20_000, "cells": 2_000_000, "workers": 20_000, "wall": BUDGET.max_wall_seconds, "memory": 2**30,
    "points": 400})
"""`simbp.budget.Budgets` for a shared page: the CLI's budgets, tightened (a sweep's points included)."""


@dataclass(frozen=True)
class RunEstimate:
    """What a run will cost before it starts: messages, the mode, seconds, and whether to go ahead."""

    messages: float
    mode: str
    seconds: float
    warn: bool
    refused: str | None = None

    def describe(self) -> str:
        return f"about {self.messages:,.0f} messages in {self.mode} mode, about {_seconds(self.seconds)} of computing"


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def referenced_files(data: Any, path: str = "") -> list[tuple[str, str]]:
    """Every `file:` value in scenario data, with its field path: [("producers[0].arrivals.file", "x.csv")]."""
    found: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "file":
                found.append((where, value if isinstance(value, str) else repr(value)))
            else:
                found.extend(referenced_files(value, where))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(referenced_files(value, f"{path}[{index}]"))
    return found


def linked_files(data: Any, base_dir: Path | str) -> list[tuple[str, Path]]:
    """(name, path) of every file the scenario names, each inside `base_dir` (`ValueError` otherwise)."""
    return [(name, resolve_inside(base_dir, name)) for _, name in referenced_files(data)]


def check_bundle(files: list[tuple[str, int]], budget: Budget = BUDGET) -> str | None:
    """Why an upload of (name, size) files is refused, or None. Names must be plain file names."""
    if len(files) > budget.max_bundle_files:
        return f"upload at most {budget.max_bundle_files} files at once (a scenario and the files it reads)"
    total = sum(size for _, size in files)
    if total > budget.max_bundle_bytes:
        return f"the files come to {total:,} bytes; this dashboard accepts up to {budget.max_bundle_bytes:,}"
    for name, _ in files:
        if Path(name).name != name or name.startswith("."):
            return f"{name!r} is not a plain file name"
    scenarios = [name for name, _ in files if name.endswith((".yaml", ".yml"))]
    if len(scenarios) != 1:
        return "upload exactly one scenario (.yaml or .yml), with any CSV files it reads"
    return None


def _component_count(scenario: Scenario) -> int:
    return sum(len(getattr(scenario, name, []) or []) for name in
               ("producers", "buffers", "consumers", "topics", "consumer_groups", "downstreams"))


def estimate_run(scenario: Scenario, mode: str = "auto", budget: Budget = BUDGET,
                 budgets: Budgets = BUDGETS) -> RunEstimate:
    """Price a run before it starts: the mode the page's `auto` picks (`modes.page_mode`), messages,
    seconds; ask first or refuse.

    `simbp.limits.check_budgets` refuses what is over a budget (rows, cells, workers, events); the
    seconds come from exact mode's messages or fast mode's quantum steps (`simbp.limits`' measured
    rates). Above `warn_seconds` the page asks first; above `max_seconds` it refuses, saying what to change.
    """
    from ..limits import check_budgets, estimate_messages, estimate_seconds
    from .modes import page_mode

    components = _component_count(scenario)
    if components > budget.max_components:
        return RunEstimate(0.0, mode, 0.0, False, f"{components} components; this dashboard runs up to "
                                                  f"{budget.max_components}")
    messages = float(estimate_messages(scenario))
    if not math.isfinite(messages):
        messages = 0.0
    chosen, _ = page_mode(scenario, mode)
    try:
        check_budgets(scenario, budgets, mode=chosen)
    except BudgetExceeded as error:
        return RunEstimate(messages, chosen, 0.0, False, "; ".join(p.message.split(" To allow it")[0]
                                                                   for p in error.problems))
    if chosen == "fast":
        seconds = estimate_seconds(scenario, "fast")  # simbp.limits: per quantum, per message only where drawn
    else:
        seconds = messages / EXACT_MESSAGES_PER_SECOND
    refused = None
    if seconds > budget.max_seconds:
        hint = "use fast mode, " if chosen == "exact" else ""
        refused = (f"about {messages:,.0f} messages in {chosen} mode would take about {_seconds(seconds)}; this "
                   f"dashboard runs up to {_seconds(budget.max_seconds)} per run: {hint}shorten the duration or lower "
                   f"the load, or run it with `simbp run`")
    return RunEstimate(messages, chosen, seconds, seconds > budget.warn_seconds, refused)


class Deadline:
    """One run's cancellation and progress: `cancel()` stops it (`simbp.run` asks `cancelled()`), and
    the run may take at most `seconds` of wall time (the `wall` budget). `fraction` is its progress.

    `simbp.run` checks both about a hundred times a run, so a stop takes effect within about 1%.
    """

    def __init__(self, seconds: float = BUDGET.max_wall_seconds):
        self.seconds = seconds
        self.cancelled = False
        self.fraction = 0.0

    def cancel(self) -> None:
        self.cancelled = True

    def is_cancelled(self) -> bool:
        return self.cancelled

    def __call__(self, fraction: float) -> None:
        """The run's progress callback."""
        self.fraction = fraction
