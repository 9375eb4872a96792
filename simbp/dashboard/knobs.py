"""A what-if control (`Knob`), its range, and writing control values into a scenario's YAML.

A knob edits the scenario's YAML data, not the validated model: untouched keys keep the user's
units, and the edited YAML is what the dashboard runs, caches, links and offers as a download.
Which knobs a scenario gets is `controls.derive_knobs`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from .. import semantics
from ..scenario import get_path, set_path
from ..units import parse_duration
from .library import read_data, write_yaml

__all__ = ["DEFAULT_CAPACITY", "Knob", "KnobWidget", "KnobAction", "apply_knobs", "is_bounded", "float_knob",
           "int_knob", "duration_knob", "knob_policy"]

DEFAULT_CAPACITY = 10_000  # offered when a compare or a policy switch bounds an unbounded buffer

KnobWidget = Literal["slider", "number", "select"]
KnobAction = Literal["set", "scale_time", "policy", "capacity", "optional"]


@dataclass(frozen=True)
class Knob:
    """One what-if control: where it writes in the scenario, its range and its current value.

    `value`, `minimum`, `maximum` and `step` are in display units (`unit`); the scenario's value is
    `value × scale`. `action` says how a new value is written: `set` a field, `scale_time` every
    time quantity of the distributions at `paths`, the buffer `policy`/`capacity` pair, which
    keep each other valid (an unbounded buffer has no capacity), or an `optional` whole number
    whose 0 removes the key (a semaphore of 0 permits is no semaphore). A missing parent (a
    `retry:` or `commit:` block not yet written) is created.
    """

    key: str
    label: str
    group: str
    widget: KnobWidget
    value: Any
    paths: tuple[str, ...]
    action: KnobAction = "set"
    minimum: float | int | None = None
    maximum: float | int | None = None
    step: float | int | None = None
    options: tuple[str, ...] = ()
    unit: str = ""
    scale: float = 1.0
    write: str = "{:g}"
    help: str = ""

    @property
    def is_int(self) -> bool:
        return isinstance(self.value, int) and not isinstance(self.value, bool)

    @property
    def display_format(self) -> str:
        """A printf format showing as many decimals as the step has ("%.0f" for 20, "%.2f" for 0.05)."""
        if self.is_int or not isinstance(self.step, float):
            return "%d"
        decimals = max(0, -math.floor(math.log10(self.step) + 1e-9)) if self.step < 1 else 0
        return f"%.{decimals}f"


def _nice_step(span: float) -> float:
    """A round step giving roughly 100–200 positions over `span`."""
    if span <= 0:
        return 1.0
    raw = span / 150
    exponent = math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        step = factor * 10**exponent
        if step >= raw:
            return float(step)
    return float(10 ** (exponent + 1))


def _round_to(value: float, step: float) -> float:
    digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return round(value, digits + 2)


def float_knob(key: str, label: str, group: str, value: float, paths: tuple[str, ...], *, low: float, high: float,
                unit: str = "", scale: float = 1.0, write: str = "{:g}", action: KnobAction = "set",
                help: str = "", positive: bool = True) -> Knob:
    step = _nice_step(high - low)
    if positive:
        low = max(low, step)  # rates, times and limits must stay above zero
    value = _round_to(value, step)
    low = value - math.floor((value - low) / step + 1e-9) * step  # the current value lies on the slider's grid
    high = low + math.ceil((high - low) / step - 1e-9) * step
    return Knob(key, label, group, "slider", float(value), paths, action, float(_round_to(low, step)),
                float(_round_to(max(high, value), step)), float(step), unit=unit, scale=scale, write=write, help=help)


def int_knob(key: str, label: str, group: str, value: int, paths: tuple[str, ...], *, low: int, high: int,
              widget: KnobWidget = "slider", action: KnobAction = "set", help: str = "") -> Knob:
    step = 1  # every whole number reachable (a slider of a few hundred positions is still usable)
    return Knob(key, label, group, widget, int(value), paths, action, int(low), int(max(high, value)), step, help=help)


def duration_knob(key: str, label: str, group: str, seconds: float, path: str, *, help: str = "",
                  low: float = 0.0) -> Knob:
    """A time control shown in s, min or h (whichever reads best for `seconds`), written with that unit."""
    unit, scale, suffix = ("s", 1.0, "s")
    if seconds >= 2 * 3600:
        unit, scale, suffix = ("h", 3600.0, "h")
    elif seconds >= 120:
        unit, scale, suffix = ("min", 60.0, "m")
    value = seconds / scale
    return float_knob(key, label, group, value, (path,), low=low / scale, high=4 * value, unit=unit, scale=scale,
                      write="{:g}" + suffix, help=help)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
    return a == b


def _seconds_text(seconds: float) -> str:
    return f"{seconds * 1e3:.6g}ms" if seconds < 1 else f"{seconds:.6g}s"


def _scale_distribution(data: dict[str, Any], path: str, ratio: float) -> None:
    """Multiply every time quantity of the distribution at `path` by `ratio`, keeping its shape."""
    try:
        node = get_path(data, path)
    except KeyError:
        return  # a default (e.g. a zero fixed batch cost): nothing to scale
    if isinstance(node, (int, float, str)) and not isinstance(node, bool):
        set_path(data, path, _seconds_text(parse_duration(node) * ratio))
        return
    if isinstance(node, dict):
        for key in ("mean", "value", "low", "high", "scale"):
            if key in node:
                node[key] = _seconds_text(parse_duration(node[key]) * ratio)
        if isinstance(node.get("values"), list):
            node["values"] = [parse_duration(v) * ratio for v in node["values"]]


def _set_creating(data: dict[str, Any], path: str, value: Any) -> None:
    """`set_path`, creating missing parent mappings (`producers[0].retry.max` without a `retry:` yet)."""
    parent, _, _ = path.rpartition(".")
    if parent:
        try:
            get_path(data, parent)
        except KeyError:
            _set_creating(data, parent, {})
    set_path(data, path, value)


def _delete_path(data: dict[str, Any], path: str) -> None:
    parent, _, last = path.rpartition(".")
    try:
        target = get_path(data, parent) if parent else data
    except KeyError:
        return
    if isinstance(target, dict):
        target.pop(last, None)


def is_bounded(policy: str | None) -> bool:
    """Whether a buffer under `policy` has a capacity (`None`: no policy control, keep what is written)."""
    return policy is None or semantics.policy(policy).bounded


def knob_policy(knobs: list[Knob], values: dict[str, Any], knob: Knob) -> str | None:
    """The policy in effect for a capacity knob's buffer: the moved value, else the knob's current one."""
    policy_key = knob.key.rsplit(".", 1)[0] + ".policy"
    return values.get(policy_key, next((k.value for k in knobs if k.key == policy_key), None))


def apply_knobs(text: str, knobs: list[Knob], values: dict[str, Any]) -> str:
    """The scenario YAML with knob `values` (by knob key, display units) written in.

    Knobs left at their current value change nothing, so the text comes back unchanged (comments
    and all) when nothing moved. Raises `ScenarioError` when the text is not a scenario mapping.
    """
    moved = [k for k in knobs if k.key in values and not _same(values[k.key], k.value)]
    bounded_again = [k for k in knobs if k.action == "policy" and k.key in values and is_bounded(values[k.key])
                     and not is_bounded(k.value)]
    if not moved:
        return text
    data = read_data(text)
    by_key = {k.key: k for k in knobs}
    for knob in sorted(moved, key=lambda k: k.action == "capacity"):  # policies first, then capacities
        new = values[knob.key]
        if knob.action == "set":
            if knob.widget == "select":
                written: Any = str(new)
            elif knob.is_int:
                written = int(new)
            elif knob.write != "{:g}":
                written = knob.write.format(float(new))  # keep human units: "900/s", "256MiB", "300s"
            else:
                written = float(new) * knob.scale
            for path in knob.paths:
                _set_creating(data, path, written)
        elif knob.action == "scale_time":
            ratio = float(new) / float(knob.value) if knob.value else 1.0
            for path in knob.paths:
                _scale_distribution(data, path, ratio)
        elif knob.action == "policy":
            buffer_path = knob.paths[0].rsplit(".", 1)[0]
            set_path(data, knob.paths[0], new)
            if not is_bounded(new):
                _delete_path(data, f"{buffer_path}.capacity")
            if not semantics.policy(new).blocks:
                _delete_path(data, f"{buffer_path}.block_timeout")
        elif knob.action == "optional":
            for path in knob.paths:
                if int(new) == 0:
                    _delete_path(data, path)
                else:
                    _set_creating(data, path, int(new))
        elif knob.action == "capacity":
            # the effective policy (a schema default may make a buffer unbounded)
            if is_bounded(knob_policy(knobs, values, knob)):
                set_path(data, knob.paths[0], int(new))
    for knob in bounded_again:  # a buffer leaving `unbounded` needs a capacity
        buffer_path = knob.paths[0].rsplit(".", 1)[0]
        capacity_key = knob.key.rsplit(".", 1)[0] + ".capacity"
        capacity = values.get(capacity_key, by_key[capacity_key].value if capacity_key in by_key else DEFAULT_CAPACITY)
        set_path(data, f"{buffer_path}.capacity", int(capacity))
    return write_yaml(data)
