"""Running a scenario's text: the modes offered, the run the dashboard caches, and its guard rails.

`run_text` is the plain call. `run_guarded` is what a shared page uses: it runs in the mode the
page's `auto` picks (`modes.page_mode`: fast mode also where it is quicker and measured within its
bounds, not only for very large runs), prices the run first
(`guard.estimate_run`, refused over budget), waits for one of `RUN_SLOTS` (runs are CPU-bound, so
more at once than cores only slows every user), and runs within the dashboard's budgets
(`guard.BUDGETS`, wall clock from its `Deadline`), so a run whose page moved on
(`simbp.budget.RunCancelled`), or that outlives its budget (`BudgetExceeded`), stops within about 1%.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from ..errors import Problem, ScenarioError
from ..limits import MODES
from ..results import Results
from .guard import BUDGETS, Deadline, RunCancelled, estimate_run
from .library import load_text
from .modes import page_mode

__all__ = ["run_modes", "run_text", "run_guarded", "RUN_SLOTS", "run_key"]

RUN_SLOTS = threading.BoundedSemaphore(2)
"""Simulations running at once in this server process (one per core of a 2-core machine)."""


def run_modes() -> tuple[str, ...]:
    """Simulation modes `simbp.run` accepts, its default (`auto`) first."""
    return MODES


def run_key(text: str, seed: int | None, mode: str | None) -> tuple[str, int | None, str]:
    """What identifies a run for caching and for the URL: the scenario text, the seed and the mode."""
    return text, seed, mode or "auto"


def run_text(text: str, seed: int | None = None, *, base_dir: Path | str | None = None, label: str = "<scenario>",
             mode: str | None = None, progress: Callable[[float], None] | None = None) -> Results:
    """Validate and simulate scenario YAML text; the dashboard caches this on (text, seed, …)."""
    from .. import run

    scenario = load_text(text, label=label, base_dir=base_dir)
    return run(scenario, seed, progress=progress, mode=mode or "auto")


def run_guarded(text: str, seed: int | None = None, *, base_dir: Path | str | None = None, label: str = "<scenario>",
                mode: str | None = None, deadline: Deadline | None = None, allow_slow: bool = True) -> Results:
    """`run_text` within the dashboard's budget: refused over it (`ScenarioError`), stopped by `deadline`.

    `allow_slow=False` also refuses a run the page should warn about first (over `warn_seconds`).
    """
    from .. import run

    deadline = deadline or Deadline()
    scenario = load_text(text, label=label, base_dir=base_dir)
    estimate = estimate_run(scenario, mode or "auto")
    if estimate.refused:
        raise ScenarioError([Problem("", estimate.refused, None, None)])
    if estimate.warn and not allow_slow:
        raise ScenarioError([Problem("", f"this run is large ({estimate.describe()}); confirm it first", None, None)])
    while not RUN_SLOTS.acquire(timeout=0.1):
        if deadline.cancelled:  # the page moved on while this run waited for a slot
            raise RunCancelled(label)
    chosen, reason = page_mode(scenario, mode or "auto")
    try:
        results = run(scenario, seed, progress=deadline, mode=chosen, cancelled=deadline.is_cancelled,
                      budgets=BUDGETS.with_overrides({"wall": deadline.seconds}))
    finally:
        RUN_SLOTS.release()
    if chosen != (mode or "auto"):  # the page's auto chose: say so, not "as asked"
        results.summary["mode_reason"] = reason
    return results

