"""The scenario library and scenario text: listing files, validating text, reading and writing YAML data.

Knobs, comparisons and sweeps edit a scenario's YAML data, not its validated model, so untouched
keys keep the user's units; `read_data`/`write_yaml` are the one place that text becomes data and
back.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem, ScenarioError
from ..scenario import (
    Scenario,
    ScenarioLoader,  # the schema's YAML rules (`on:`/`off:` stay keys)
    parse_scenario_text,
)
from .guard import BUDGETS

__all__ = [
    "LIBRARY_DIR",
    "LibraryScenario",
    "library_scenarios",
    "default_library_index",
    "source_id",
    "load_text",
    "problem_lines",
    "read_data",
    "write_yaml",
]

LIBRARY_DIR = Path(__file__).resolve().parents[2] / "scenarios"


@dataclass(frozen=True)
class LibraryScenario:
    """One file of the scenario library, with what a chooser shows about it."""

    file: str
    path: Path
    name: str
    description: str
    problem: str | None = None


def library_scenarios(folder: Path | str = LIBRARY_DIR) -> list[LibraryScenario]:
    """Every `*.yaml`/`*.yml` in `folder`, sorted by file name; invalid files say why instead of vanishing."""
    folder = Path(folder)
    entries: list[LibraryScenario] = []
    paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")], key=lambda p: p.name)
    for path in paths:
        try:
            scenario = parse_scenario_text(path.read_text(encoding="utf-8"), label=path.name, base_dir=path.parent)
        except ScenarioError as error:
            entries.append(LibraryScenario(path.name, path, path.stem, "", str(error)))
            continue
        except OSError as error:
            entries.append(LibraryScenario(path.name, path, path.stem, "", f"cannot read: {error}"))
            continue
        entries.append(LibraryScenario(path.name, path, scenario.name, scenario.description.strip()))
    return entries


def default_library_index(entries: list[LibraryScenario], preferred: str = "quickstart.yaml") -> int:
    """The entry a first visit opens: the quickstart when present, otherwise the first valid file."""
    for index, entry in enumerate(entries):
        if entry.file == preferred and entry.problem is None:
            return index
    for index, entry in enumerate(entries):
        if entry.problem is None:
            return index
    return 0


def source_id(text: str) -> str:
    """A short stable id of a scenario text: widget keys carry it so knobs reset when the text changes."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


_VALIDATED: OrderedDict[tuple[str, str, str], Scenario] = OrderedDict()
_VALIDATED_LOCK = threading.Lock()
_VALIDATED_MAX = 128


def load_text(text: str, *, label: str = "<scenario>", base_dir: Path | str | None = None) -> Scenario:
    """Validate scenario YAML text (raises `ScenarioError` with lines and field paths).

    Within the dashboard's budgets (`guard.BUDGETS`): document size, nesting and expanded size, and
    every `file:` inside `base_dir` (the current folder when None), checked before any file is
    read. Every rerun validates the same texts again, so the last validated scenarios are kept
    (callers must not change them).
    """
    key = (text, label, str(base_dir))
    with _VALIDATED_LOCK:
        if key in _VALIDATED:
            _VALIDATED.move_to_end(key)
            return _VALIDATED[key]
    scenario = parse_scenario_text(text, label=label, base_dir=Path(base_dir) if base_dir is not None else Path.cwd(),
                                   budgets=BUDGETS)
    with _VALIDATED_LOCK:
        _VALIDATED[key] = scenario
        while len(_VALIDATED) > _VALIDATED_MAX:
            _VALIDATED.popitem(last=False)
    return scenario


def problem_lines(error: ScenarioError) -> list[str]:
    """Each problem as one readable line: `line 12, consumers[0].workers: must be ≥ 1`."""
    lines = []
    for problem in error.problems:
        lines.append(_problem_line(problem))
    return lines or [str(error)]


_CLI_HINTS = (" To allow it, raise the budget", "; write the values out or raise the ")


def _problem_line(problem: Problem) -> str:
    """One problem; the loader's advice on raising a budget is dropped (a shared page cannot)."""
    message = problem.message
    for hint in _CLI_HINTS:
        if hint in message and message.index(hint) > 0:
            message = message[:message.index(hint)].rstrip(";,. ") + "."
    where = []
    if problem.line is not None:
        where.append(f"line {problem.line}")
    if problem.field:
        where.append(problem.field)
    prefix = ", ".join(where)
    return f"{prefix}: {message}" if prefix else message


class _DataLoader(getattr(yaml, "CSafeLoader", ScenarioLoader)):  # type: ignore[misc]
    """The schema's YAML rules (`ScenarioLoader`) on libyaml's parser when available (several times faster)."""

    yaml_implicit_resolvers = ScenarioLoader.yaml_implicit_resolvers


def read_data(text: str) -> dict[str, Any]:
    """Scenario YAML text as plain data (the schema's YAML rules); refuses anything but a mapping."""
    data = yaml.load(text, Loader=_DataLoader)
    if not isinstance(data, dict):
        raise ScenarioError([Problem("", "expected a mapping of scenario keys (name, duration, producers, …)", 1, None)])
    return data


class _ScenarioDumper(yaml.SafeDumper):
    """Writes long or multi-line strings (descriptions) as folded blocks, the way people write them."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value.rstrip("\n") or len(value) > 80:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=">")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_ScenarioDumper.add_representer(str, _represent_text)


def write_yaml(data: dict[str, Any]) -> str:
    """Scenario data as YAML text, keys in their given order."""
    return yaml.dump(data, Dumper=_ScenarioDumper, sort_keys=False, allow_unicode=True, width=100)
