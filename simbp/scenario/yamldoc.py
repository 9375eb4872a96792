"""The one YAML reader for scenarios and sweep/plan specs: bounded, strict and line-aware.

YAML 1.2 booleans (only true/false, so `on:`/`off:` stay keys); a duplicate key is an error naming
both lines (PyYAML would silently keep the last); `.inf`, `.nan` and integers too large to use are
errors at their line; the document's size, nesting depth and its size after aliases are expanded
are bounded by the budgets (`simbp.budget`), so no document can hang or exhaust the reader.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

from ..budget import DEFAULT_BUDGETS, BudgetExceeded, Budgets, check_document_size
from ..errors import Problem, ScenarioError

__all__ = ["ScenarioLoader", "read_document", "load_yaml", "looks_like_path", "MAX_INTEGER"]

MAX_INTEGER = 2**64  # larger integers are refused where they are written (seeds go up to 2**63 - 1)
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class ValueProblem(ConstructorError):
    """A value the reader refuses (a duplicate key, a number that is not finite): not a syntax error."""


class ScenarioLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans, duplicate keys refused, finite numbers and a depth limit."""

    max_depth = int(DEFAULT_BUDGETS.yaml_depth)

    def __init__(self, stream: Any):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                mark = self.peek_event().start_mark
                raise ComposerError(None, None, f"the document nests deeper than {self.max_depth} levels (the yaml_depth budget)", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = (key_node.tag, key_node.value)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise ValueProblem(None, None, f"duplicate key {key_node.value[:80]!r} (first at line {seen[key]}): "
                                           "the second would silently replace the first", key_node.start_mark)
                seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_float(self, node: Any) -> float:
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise ValueProblem(None, None, f"{node.value[:40]!r} is not a finite number", node.start_mark)
        return value

    def construct_yaml_int(self, node: Any) -> int:
        digits = node.value.replace("_", "").lstrip("+-")
        if len(digits) > 24:
            raise ValueProblem(None, None, f"integer with {len(digits)} digits is too large to use", node.start_mark)
        value = super().construct_yaml_int(node)
        if abs(value) >= MAX_INTEGER:
            raise ValueProblem(None, None, "integer too large to use (at most 2**64)", node.start_mark)
        return value


ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ScenarioLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
ScenarioLoader.add_constructor("tag:yaml.org,2002:float", ScenarioLoader.construct_yaml_float)
ScenarioLoader.add_constructor("tag:yaml.org,2002:int", ScenarioLoader.construct_yaml_int)


def looks_like_path(source: str | Path) -> bool:
    """Whether `source` names a YAML file (a Path, or one line ending in .yaml/.yml) rather than YAML text."""
    if isinstance(source, Path):
        return True
    return "\n" not in source and source.strip().endswith((".yaml", ".yml"))


def read_document(path: Path, budgets: Budgets = DEFAULT_BUDGETS, *, what: str = "scenario") -> str:
    """A YAML file's text: size-checked before it is read, and UTF-8 (else a `ScenarioError`)."""
    label = str(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ScenarioError([Problem("", f"{what} path is not a file", None, label)])
        check_document_size(size, label, budgets)
        with path.open("rb") as stream:
            data = stream.read(int(min(budgets.document_size, 2**62)) + 1)
    except OSError as error:
        raise ScenarioError([Problem("", f"cannot read {what} file: {error.strerror or type(error).__name__}", None, label)]) from None
    check_document_size(len(data), label, budgets)
    return decode(data, label)


def decode(data: bytes, label: str) -> str:
    """UTF-8 text, or a `ScenarioError` that does not quote the bytes."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ScenarioError([Problem("", "not UTF-8 text (is it a binary file?); save it as UTF-8 YAML", line, label)]) from None


def load_yaml(text: str, label: str, budgets: Budgets = DEFAULT_BUDGETS) -> tuple[Any, yaml.Node | None]:
    """Parse one YAML document into (data, root node); the node gives line numbers to errors.

    Raises `ScenarioError` (file and line) for invalid YAML, duplicate keys, non-finite numbers,
    a document over the size, depth or expanded-size budgets, and aliases that refer to themselves.
    """
    check_document_size(len(text.encode("utf-8", "surrogatepass")), label, budgets)
    loader: ScenarioLoader | None = None
    try:
        loader = ScenarioLoader(text)
        loader.max_depth = int(min(budgets.yaml_depth, 500))
        root = loader.get_single_node()
        loader._simbp_root = root  # type: ignore[attr-defined]
        if root is None:
            return None, None
        _check_expanded_size(root, budgets, label)
        data = loader.construct_document(root)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(error, "problem", None) or str(error)
        if isinstance(error, yaml.reader.ReaderError):
            reason = f"a character YAML does not allow (code {error.character!r}) at position {error.position}"
        field = _key_path(root_of(loader), mark) if isinstance(error, ValueProblem) else ""
        message = reason if isinstance(error, ValueProblem) else f"not valid YAML: {reason}"
        raise ScenarioError([Problem(field, message, line, label)]) from None
    except RecursionError:
        raise ScenarioError([Problem("", "not valid YAML: nested too deeply", None, label)]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, root


def root_of(loader: ScenarioLoader | None) -> yaml.Node | None:
    return getattr(loader, "_simbp_root", None)


def _key_path(root: yaml.Node | None, mark: Any) -> str:
    """The field path (`producers[0].arrivals.rate`) of the value at `mark`, for messages."""
    if root is None or mark is None:
        return ""
    path: list[str | int] = []
    node = root
    while True:
        children: list[tuple[str | int, yaml.Node]] = []
        if isinstance(node, yaml.MappingNode):
            children = [(k.value if isinstance(k, yaml.ScalarNode) else "?", v) for k, v in node.value]
        elif isinstance(node, yaml.SequenceNode):
            children = list(enumerate(node.value))
        found = None
        for key, child in children:
            if child.start_mark.index <= mark.index <= max(child.end_mark.index - 1, child.start_mark.index):
                found = (key, child)
                break
        if found is None:
            break
        path.append(found[0])
        node = found[1]
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + str(part)
    return text


def _check_expanded_size(root: yaml.Node, budgets: Budgets, label: str) -> None:
    """Count the values the document holds once aliases are expanded (each alias counts its whole
    target again, as validation will walk it); refuse a cycle or more than the yaml_nodes budget."""
    sizes: dict[int, float] = {}
    active: set[int] = set()
    limit = budgets.yaml_nodes

    def size(node: yaml.Node) -> float:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ScenarioError([Problem("", "not valid YAML here: an alias refers to the value that contains it",
                                         node.start_mark.line + 1, label)])
        active.add(key)
        total = 1.0
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child)
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                total += size(key_node) + size(value_node)
        active.discard(key)
        sizes[key] = total
        if total > limit:
            raise BudgetExceeded("yaml_nodes", f"the document holds over {limit:,.0f} values once its aliases are expanded "
                                               "(a YAML 'billion laughs'?); write the values out or raise the yaml_nodes budget "
                                               "(--budget yaml_nodes=...)", label)
        return total

    size(root)
