"""Running a scenario's text: the modes offered and the one call the dashboard caches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..limits import MODES
from ..results import Results
from .library import load_text

__all__ = ["run_modes", "run_text"]


def run_modes() -> tuple[str, ...]:
    """Simulation modes `simbp.run` accepts, its default (`auto`) first."""
    return MODES


def run_text(text: str, seed: int | None = None, *, base_dir: Path | str | None = None, label: str = "<scenario>",
             mode: str | None = None, progress: Callable[[float], None] | None = None) -> Results:
    """Validate and simulate scenario YAML text; the dashboard caches this on (text, seed, …)."""
    from .. import run

    scenario = load_text(text, label=label, base_dir=base_dir)
    return run(scenario, seed, progress=progress, mode=mode or "auto")
