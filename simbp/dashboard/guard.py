"""What a shared dashboard server accepts: size caps, file references, and run budgets.

The dashboard may be open to a whole room, so no input may hang the page for others or read the
server's files. Before anything is parsed, `check_text` caps the scenario's size, YAML nesting and
aliases (a "billion laughs" document is refused, not expanded). Before anything is read,
`check_files` keeps every `file:` a scenario names inside its own folder (the library folder or
the uploaded bundle): `/etc/passwd` and `../../x` are refused, and the message names the path, never
the file's contents. `estimate_run` prices a run before it starts (messages, seconds, mode) and
says whether to warn first or refuse; `Deadline` stops a run that outlives its budget.

The limits are one `Budget`; when simbp grows run budgets of its own (`simbp.budget`, shared with
the CLI), `estimate_run` is the one place that defers to them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem, ScenarioError
from ..limits import EXACT_MESSAGES_PER_SECOND, FAST_SECONDS_PER_MESSAGE, FAST_SECONDS_PER_STEP
from ..scenario import Scenario

__all__ = ["Budget", "BUDGET", "RunEstimate", "RunCancelled", "Deadline", "check_text", "check_files",
           "referenced_files", "estimate_run", "check_bundle"]


@dataclass(frozen=True)
class Budget:
    """The dashboard's limits per input and per run (one server, many users, 2 cores)."""

    max_scenario_bytes: int = 200_000
    max_yaml_depth: int = 40
    max_yaml_aliases: int = 50
    max_bundle_files: int = 10
    max_bundle_bytes: int = 20 * 2**20
    max_components: int = 60
    max_workers: int = 20_000
    max_samples: int = 20_000
    warn_seconds: float = 8.0
    max_seconds: float = 90.0
    max_wall_seconds: float = 180.0


BUDGET = Budget()
_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML was built with it


class RunCancelled(Exception):
    """A run stopped on purpose: its page moved on, or it outlived its budget."""


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


def _refuse(message: str, field: str = "") -> ScenarioError:
    return ScenarioError([Problem(field, message, None, None)])


def check_text(text: str, budget: Budget = BUDGET) -> None:
    """Refuse scenario text that is too large, too deeply nested or full of YAML aliases (`ScenarioError`)."""
    size = len(text.encode("utf-8"))
    if size > budget.max_scenario_bytes:
        raise _refuse(f"the scenario is {size:,} bytes; this dashboard accepts up to {budget.max_scenario_bytes:,}")
    depth = aliases = 0
    try:
        for event in yaml.parse(text, Loader=_PARSER):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > budget.max_yaml_depth:
                    raise _refuse(f"the YAML nests deeper than {budget.max_yaml_depth} levels")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > budget.max_yaml_aliases:
                    raise _refuse(f"the YAML uses more than {budget.max_yaml_aliases} aliases (*name)")
    except yaml.YAMLError:
        return  # not valid YAML: the scenario loader says where, with the line


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


def check_files(data: Any, base_dir: Path | str) -> None:
    """Refuse any `file:` that is absolute or resolves outside `base_dir` (symbolic links followed).

    Checked on the raw data before the scenario is validated, since validation reads the files.
    The message names the field and the path as written, and never reads the file.
    """
    root = Path(base_dir).resolve()
    problems = []
    for field, name in referenced_files(data):
        candidate = Path(name)
        inside = False
        if name and not candidate.is_absolute() and not name.startswith("~"):
            try:
                inside = (root / candidate).resolve().is_relative_to(root)
            except (OSError, ValueError):
                inside = False
        if not inside:
            problems.append(Problem(field, f"file {name!r} is outside the scenario's folder; this dashboard reads only "
                                           "files in the library folder or in the files uploaded with the scenario",
                                    None, None))
    if problems:
        raise ScenarioError(problems)


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


def estimate_run(scenario: Scenario, mode: str = "auto", budget: Budget = BUDGET) -> RunEstimate:
    """Price a run before it starts: the mode `auto` picks, messages, seconds; warn or refuse.

    Exact mode costs its messages (`simbp.limits` measured rate); fast mode its quantum steps.
    Above `warn_seconds` the page asks first; above `max_seconds` it refuses and says what to change.
    """
    from ..limits import choose_mode, estimate_fast_steps, estimate_messages

    components = _component_count(scenario)
    if components > budget.max_components:
        return RunEstimate(0.0, mode, 0.0, False, f"{components} components; this dashboard runs up to "
                                                  f"{budget.max_components}")
    workers = sum(int(getattr(c, "workers", 0) or 0) for c in scenario.consumers)
    workers += sum(int(getattr(g, "consumers", 0) or 0) for g in getattr(scenario, "consumer_groups", []) or [])
    if workers > budget.max_workers:
        return RunEstimate(0.0, mode, 0.0, False, f"{workers:,} workers and consumers; this dashboard runs up to "
                                                  f"{budget.max_workers:,}")
    samples = scenario.duration / scenario.effective_sample_interval
    if samples > budget.max_samples:
        return RunEstimate(0.0, mode, 0.0, False, f"{samples:,.0f} samples (duration / sample_interval); this "
                                                  f"dashboard keeps up to {budget.max_samples:,}: lengthen sample_interval")
    messages = float(estimate_messages(scenario))
    if not math.isfinite(messages):
        messages = 0.0
    chosen, _ = choose_mode(scenario, mode)
    if chosen == "fast":
        seconds = estimate_fast_steps(scenario) * FAST_SECONDS_PER_STEP + messages * FAST_SECONDS_PER_MESSAGE
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
    """A progress callback that stops a run (`RunCancelled`) when cancelled or past its time budget.

    Simulations report progress about a hundred times a run, so a stop takes effect within about
    1% of the run. `fraction` is the last progress reported, for the page's progress bar.
    """

    def __init__(self, seconds: float = BUDGET.max_wall_seconds):
        self.until = time.monotonic() + seconds
        self.cancelled = False
        self.fraction = 0.0

    def cancel(self) -> None:
        self.cancelled = True

    def __call__(self, fraction: float) -> None:
        self.fraction = fraction
        if self.cancelled:
            raise RunCancelled("the page moved on")
        if time.monotonic() > self.until:
            raise RunCancelled("the run outlived its time budget")
