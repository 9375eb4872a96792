"""Field paths into a scenario dict (`consumers.workers.workers`, `consumers[0].workers`), as
sweeps, plans and the dashboard name what they vary."""

from __future__ import annotations

from typing import Any

__all__ = ["set_path", "get_path"]


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set a field in a scenario dict by path: `consumers.workers.workers` or `consumers[0].workers`.

    A list segment may be an index (`[0]`) or a component name (`consumers.workers`), so sweeps
    can name what they vary the way a user would.
    """
    parts = _split_path(path)
    target: Any = data
    for depth, part in enumerate(parts[:-1]):
        target = _step(target, part, parts[: depth + 1], path)
    last = parts[-1]
    in_list = isinstance(target, list) and isinstance(last, int) and 0 <= last < len(target)
    if not (isinstance(target, dict) or in_list):
        raise KeyError(f"{path!r} names no field")
    target[last] = value


def get_path(data: dict[str, Any], path: str) -> Any:
    """Read a field from a scenario dict by the same paths `set_path` takes."""
    parts = _split_path(path)
    target: Any = data
    for depth, part in enumerate(parts):
        target = _step(target, part, parts[: depth + 1], path)
    return target


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for chunk in path.replace("]", "").replace("[", ".").split("."):
        if chunk == "":
            continue
        parts.append(int(chunk) if chunk.isdigit() else chunk)
    if not parts:
        raise KeyError("empty field path")
    return parts


def _step(target: Any, part: str | int, prefix: list[str | int], path: str) -> Any:
    if isinstance(target, list):
        if isinstance(part, int):
            if 0 <= part < len(target):
                return target[part]
        else:
            for item in target:
                if isinstance(item, dict) and item.get("name") == part:
                    return item
        raise KeyError(f"{path!r} names no field: no item {part!r} in {'.'.join(map(str, prefix[:-1]))}")
    if isinstance(target, dict) and isinstance(part, str) and part in target:
        return target[part]
    raise KeyError(f"{path!r} names no field: {part!r} not found")

