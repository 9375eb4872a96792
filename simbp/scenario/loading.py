"""Reading scenarios: YAML text or a file → a validated `Scenario`, with every fault reported as a
`Problem` naming the file, the line, the field path and what was expected.

YAML is read by `yamldoc` (`ScenarioLoader`: YAML 1.2 booleans, duplicate keys refused, bounded
size and depth); the pydantic-error conversion here (`problems_from_validation`, `line_of`, `format_path`) serves
sweep and plan specs too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..budget import DEFAULT_BUDGETS, Budgets
from ..errors import Problem, ScenarioError
from .base import ReferenceProblem
from .rates import check_files
from .schema import Scenario
from .yamldoc import ScenarioLoader, load_yaml, looks_like_path, read_document

__all__ = [
    "ScenarioLoader",
    "load_scenario",
    "parse_scenario_text",
    "parse_scenario_dict",
    "problems_from_validation",
    "line_of",
    "format_path",
]


def load_scenario(source: str | Path, *, name_hint: str | None = None, budgets: Budgets | None = None) -> Scenario:
    """Read and validate a scenario from a YAML file path or YAML text.

    Raises `ScenarioError` naming the file, line, field and what was expected. `budgets` bound the
    document and the data files it names (defaults: `simbp.budget.Budgets()`).
    """
    budgets = budgets or DEFAULT_BUDGETS
    if looks_like_path(source):
        path = Path(source)
        text = read_document(path, budgets)
        return parse_scenario_text(text, label=str(path), base_dir=path.parent, budgets=budgets)
    return parse_scenario_text(str(source), label=name_hint or "<scenario>", base_dir=Path.cwd(), budgets=budgets)


def parse_scenario_text(text: str, *, label: str = "<scenario>", base_dir: Path | None = None,
                        budgets: Budgets | None = None) -> Scenario:
    """Validate YAML text as a scenario; errors carry `label` as the file name."""
    data, root = load_yaml(text, label, budgets or DEFAULT_BUDGETS)
    if not isinstance(data, dict):
        raise ScenarioError([Problem("", "expected a mapping of scenario keys (name, duration, producers, …)", 1, label)])
    return parse_scenario_dict(data, label=label, base_dir=base_dir, root=root, budgets=budgets)


def parse_scenario_dict(
    data: dict[str, Any], *, label: str = "<scenario>", base_dir: Path | None = None, root: yaml.Node | None = None,
    budgets: Budgets | None = None,
) -> Scenario:
    """Validate an already-parsed scenario mapping; `root` (a composed YAML node) supplies line numbers.

    Files the scenario names (traces, empirical CSVs) must lie inside `base_dir` and within the
    `file_size` budget.
    """
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(problems_from_validation(error, label, root)) from None
    except RecursionError:
        raise ScenarioError([Problem("", "nested too deeply to validate", None, label)]) from None
    scenario._base_dir = base_dir or Path.cwd()
    scenario._source = label
    problems = check_files(scenario, budgets or DEFAULT_BUDGETS)
    if problems:
        raise ScenarioError([Problem(format_path(p), msg, line_of(root, p), label) for p, msg in problems])
    return scenario


def problems_from_validation(error: ValidationError, label: str, root: yaml.Node | None) -> list[Problem]:
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        loc: tuple[Any, ...] = tuple(item["loc"])
        ctx = item.get("ctx") or {}
        cause = ctx.get("error")
        message = item["msg"]
        if isinstance(cause, ReferenceProblem):
            loc = loc + cause.path
            message = str(cause)
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        elif item["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}; check the spelling against the README's scenario keys"
        elif item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] == "union_tag_invalid":
            key = str(ctx.get("discriminator", "")).strip("'")
            given = item.get("input", {}).get(key, "") if isinstance(item.get("input"), dict) else ""
            message = f"unknown kind {given!r}; expected one of {ctx.get('expected_tags')}"
        elif item["type"] == "union_tag_not_found":
            message = f"needs the key {ctx.get('discriminator')} (one of its kinds)"
        loc = _clean_loc(loc, root)
        problems.append(Problem(format_path(loc), message, line_of(root, loc), label))
    return _dedupe(problems)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[str] = set()
    unique = []
    for problem in problems:
        if str(problem) not in seen:
            seen.add(str(problem))
            unique.append(problem)
    return unique


def _clean_loc(loc: tuple[Any, ...], root: yaml.Node | None) -> tuple[Any, ...]:
    """Drop pydantic's internal parts (union tags, validator names) so the path matches the YAML."""
    cleaned: list[Any] = []
    node = root
    for part in loc:
        if isinstance(part, str) and (part.startswith("function-") or (part.endswith("]") and "[" in part)):
            continue
        if node is None:
            cleaned.append(part)
            continue
        child = _child(node, part)
        if child is None and isinstance(node, yaml.MappingNode) and isinstance(part, str):
            # a union tag such as 'poisson' or 'ExponentialTime': not a key in the file
            if part not in _keys(node) and _looks_like_tag(part, node):
                continue
        cleaned.append(part)
        node = child
    return tuple(cleaned)


def _looks_like_tag(part: str, node: yaml.MappingNode) -> bool:
    """Whether `part` is a union tag pydantic put in the path (a kind such as 'poisson' that is the
    value of a key in this mapping, or a generated class name), not a key of the file."""
    values = {value.value for _, value in node.value if isinstance(value, yaml.ScalarNode)}
    return part in values or part.endswith(("Time", "Size", "Spec"))


def _keys(node: yaml.MappingNode) -> list[str]:
    return [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]


def _child(node: yaml.Node | None, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    return None


def line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest node on `loc` that the file has."""
    if root is None:
        return None
    node = root
    line = root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = None
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    found = value
                    line = key.start_mark.line + 1
                    break
            if found is None:
                return line
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def format_path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


# the names the planning layer used before the split
_problems = problems_from_validation
_line_of = line_of
_format_path = format_path
