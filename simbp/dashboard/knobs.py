"""What-if controls derived from a scenario's own fields, and writing their values into its YAML.

Any component with `workers`, `partitions`, `capacity`/`policy`, a service time or an arrival rate
gets its control, so new component kinds pick up controls without changes here. A knob edits the
scenario's YAML data, not the validated model: untouched keys keep the user's units, and the edited
YAML is what the dashboard runs, caches and offers as a download.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from .. import semantics
from ..scenario import Scenario, get_path, set_path
from ..units import parse_duration
from .library import read_data, write_yaml

__all__ = ["DEFAULT_CAPACITY", "Knob", "KnobWidget", "KnobAction", "derive_knobs", "apply_knobs", "is_bounded",
           "knob_policy"]

DEFAULT_CAPACITY = 10_000  # offered when a compare or a policy switch bounds an unbounded buffer

KnobWidget = Literal["slider", "number", "select"]
KnobAction = Literal["set", "scale_time", "policy", "capacity"]


@dataclass(frozen=True)
class Knob:
    """One what-if control: where it writes in the scenario, its range and its current value.

    `value`, `minimum`, `maximum` and `step` are in display units (`unit`); the scenario's value is
    `value × scale`. `action` says how a new value is written: `set` a field, `scale_time` every
    time quantity of the distributions at `paths`, or the buffer `policy`/`capacity` pair, which
    keep each other valid (an unbounded buffer has no capacity).
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


def _float_knob(key: str, label: str, group: str, value: float, paths: tuple[str, ...], *, low: float, high: float,
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


def _int_knob(key: str, label: str, group: str, value: int, paths: tuple[str, ...], *, low: int, high: int,
              widget: KnobWidget = "slider", action: KnobAction = "set", help: str = "") -> Knob:
    step = 1  # every whole number reachable (a slider of a few hundred positions is still usable)
    return Knob(key, label, group, widget, int(value), paths, action, int(low), int(max(high, value)), step, help=help)


def _literal_options(model: BaseModel, field_name: str) -> tuple[str, ...]:
    annotation = type(model).model_fields[field_name].annotation
    options = tuple(a for a in typing.get_args(annotation) if isinstance(a, str))
    return options or semantics.policy_names()


def _time_quantities(dist: Any) -> bool:
    """Whether a distribution can be scaled (an empirical distribution read from a file cannot)."""
    return dist is not None and not (getattr(dist, "dist", None) == "empirical" and getattr(dist, "file", None))


def _named_collections(scenario: Scenario) -> list[str]:
    """Top-level list fields whose items are named components (producers, buffers, consumers, topics, …)."""
    names = []
    for field_name in type(scenario).model_fields:
        value = getattr(scenario, field_name, None)
        if isinstance(value, list) and value and all(isinstance(v, BaseModel) and hasattr(v, "name") for v in value):
            names.append(field_name)
    return names


# Whole-number fields that size a component, and time distributions that say how long its work
# takes: any component having one of these fields gets a control for it.
_COUNT_FIELDS = {
    "workers": ("workers", "identical workers taking from the buffer"),
    "consumers": ("consumers", "members of the consumer group; a member without a partition sits idle"),
    "partitions": ("partitions", "partitions of the topic: each is read by exactly one member of a group"),
}
_TIME_FIELDS = {
    "service": ("mean service time", "time a worker spends per message; the distribution's shape is kept"),
    "processing": ("mean processing time", "time a group member spends per message; the distribution's shape is kept"),
    "latency": ("mean latency", "time the downstream takes per call at normal load; the shape is kept"),
}
_GROUP_NAMES = {"producers": "Producer", "buffers": "Buffer", "consumers": "Consumer", "topics": "Topic",
                "consumer_groups": "Consumer group", "downstreams": "Downstream"}


def _component_knobs(collection: str, index: int, item: Any) -> list[Knob]:
    """The controls one component (a pydantic model of any kind) offers, found from the fields it has."""
    knobs: list[Knob] = []
    name = str(item.name)
    key = f"{collection}.{name}"
    path = f"{collection}[{index}]"
    group = f"{_GROUP_NAMES.get(collection, collection.replace('_', ' ').capitalize())} {name}"
    fields = type(item).model_fields
    arrivals = getattr(item, "arrivals", None)
    if arrivals is not None:
        rate = getattr(arrivals, "rate", None)
        if isinstance(rate, (int, float)) and rate > 0:
            knobs.append(_float_knob(f"{key}.arrivals.rate", "rate", group, float(rate), (f"{path}.arrivals.rate",),
                                     low=0.0, high=3 * rate, unit="/s", write="{:g}/s",
                                     help="messages per second this producer emits (before the load multiplier)"))
        on, off = getattr(arrivals, "on", None), getattr(arrivals, "off", None)
        if on is not None and off is not None and hasattr(on, "rate") and hasattr(on, "duration"):
            peak = max(on.rate, off.rate, 1.0)
            knobs.append(_float_knob(f"{key}.arrivals.on.rate", "burst rate", group, float(on.rate),
                                     (f"{path}.arrivals.on.rate",), low=0.0, high=3 * peak, unit="/s", write="{:g}/s",
                                     help="rate during a burst (the on period)", positive=False))
            knobs.append(_float_knob(f"{key}.arrivals.on.duration", "burst length", group, float(on.duration),
                                     (f"{path}.arrivals.on.duration",), low=0.0, high=4 * on.duration, unit="s",
                                     write="{:g}s", help="how long each burst lasts"))
            knobs.append(_float_knob(f"{key}.arrivals.off.rate", "rate between bursts", group, float(off.rate),
                                     (f"{path}.arrivals.off.rate",), low=0.0, high=3 * peak, unit="/s", write="{:g}/s",
                                     help="rate in the quiet (off) period", positive=False))
            knobs.append(_float_knob(f"{key}.arrivals.off.duration", "time between bursts", group, float(off.duration),
                                     (f"{path}.arrivals.off.duration",), low=0.0, high=4 * off.duration, unit="s",
                                     write="{:g}s", help="how long each quiet period lasts"))
    limit = getattr(item, "rate_limit", None) if "rate_limit" in fields else None
    if limit is not None and isinstance(getattr(limit, "rate", None), (int, float)):
        knobs.append(_float_knob(f"{key}.rate_limit.rate", "rate limit", group, float(limit.rate),
                                 (f"{path}.rate_limit.rate",), low=0.0, high=3 * limit.rate, unit="/s", write="{:g}/s",
                                 help="the token bucket's refill rate: the most this producer sends per second"))
    if "policy" in fields and "capacity" in fields:
        options = _literal_options(item, "policy")
        knobs.append(Knob(f"{key}.policy", "policy", group, "select", str(item.policy), (f"{path}.policy",),
                          "policy", options=options,
                          help="what happens when the buffer is full: drop the new item, drop the oldest, "
                               "make the producer wait, or never limit (memory grows)"))
        capacity = item.capacity
        knobs.append(_int_knob(f"{key}.capacity", "capacity", group, int(capacity if capacity is not None else DEFAULT_CAPACITY),
                               (f"{path}.capacity",), low=0, high=10**9, widget="number", action="capacity",
                               help="items that may wait (an unbounded buffer ignores this until bounded)"))
    elif "capacity" in fields and isinstance(item.capacity, int):
        capacity = int(item.capacity)
        knobs.append(_int_knob(f"{key}.capacity", "capacity", group, capacity, (f"{path}.capacity",), low=1,
                               high=max(4 * capacity, capacity + 8), help="calls it serves at once at its normal latency"))
    mark = getattr(item, "high_water_mark", None) if "high_water_mark" in fields else None
    if mark is not None and isinstance(getattr(mark, "objects", None), int):
        knobs.append(_int_knob(f"{key}.high_water_mark", "high water mark (chunks)", group, int(mark.objects),
                               (f"{path}.high_water_mark",), low=0, high=max(4 * mark.objects, 64),
                               help="write() returns false once the stream holds this many chunks"))
    elif mark is not None and isinstance(getattr(mark, "bytes", None), (int, float)):
        kib = float(mark.bytes) / 1024
        knobs.append(_float_knob(f"{key}.high_water_mark", "high water mark", group, kib, (f"{path}.high_water_mark",),
                                 low=0.0, high=max(4 * kib, 64.0), unit="KiB", scale=1024.0, write="{:g}KiB",
                                 help="write() returns false once the stream holds this many bytes"))
    for field_name, (label, help_text) in _COUNT_FIELDS.items():
        count = getattr(item, field_name, None) if field_name in fields else None
        if isinstance(count, int) and not isinstance(count, bool):
            low, high = 1, max(4 * count, count + 8)
            autoscale = getattr(item, "autoscale", None)
            if field_name == "consumers" and autoscale is not None:  # must stay within the autoscaler's range
                low, high = int(autoscale.min), int(autoscale.max)
            knobs.append(_int_knob(f"{key}.{field_name}", label, group, count, (f"{path}.{field_name}",),
                                   low=low, high=high, help=help_text))
    batch = getattr(item, "batch", None) if "batch" in fields else None
    for field_name, (label, help_text) in _TIME_FIELDS.items():
        paths: tuple[str, ...]
        dist = getattr(item, field_name, None) if field_name in fields else None
        if field_name == "service" and dist is None and batch is not None:
            dists, paths = [batch.fixed, batch.per_item], (f"{path}.batch.fixed", f"{path}.batch.per_item")
            mean = float(item.mean_service()) if callable(getattr(item, "mean_service", None)) else float("nan")
            label = "mean cost per item (batch)"
        elif dist is not None and hasattr(dist, "dist"):
            dists, paths, mean = [dist], (f"{path}.{field_name}",), float(dist.mean)
        else:
            continue
        if mean > 0 and all(_time_quantities(d) for d in dists):
            knobs.append(_float_knob(f"{key}.{field_name}", label, group, mean * 1e3, paths, low=0.0,
                                     high=3 * mean * 1e3, unit="ms", scale=1e-3, action="scale_time", help=help_text))
    return knobs


def derive_knobs(scenario: Scenario) -> list[Knob]:
    """The what-if controls that apply to this scenario, in display order, with its current values."""
    knobs = [_float_knob("load_multiplier", "load multiplier", "Load", float(scenario.load_multiplier), ("load_multiplier",),
                         low=0.1, high=max(3.0, 2 * scenario.load_multiplier), unit="×",
                         help="scales every producer's rate at once")]
    for collection in _named_collections(scenario):
        for index, item in enumerate(getattr(scenario, collection)):
            knobs.extend(_component_knobs(collection, index, item))
    if scenario.memory is not None:
        mib = scenario.memory.limit / 2**20
        knobs.append(_float_knob("memory.limit", "memory limit", "Memory", mib, ("memory.limit",), low=1.0,
                                 high=max(4 * mib, 16.0), unit="MiB", scale=2**20, write="{:g}MiB",
                                 help="the service crashes when the items it holds pass this"))
    duration = float(scenario.duration)
    knobs.append(_float_knob("duration", "duration", "Run", duration, ("duration",), low=min(1.0, duration),
                             high=max(2 * duration, 10.0), unit="s", write="{:g}s", help="simulated time"))
    knobs.append(_int_knob("seed", "seed", "Run", int(scenario.seed), ("seed",), low=0, high=2**31 - 1, widget="number",
                           help="same scenario and seed give identical results"))
    return knobs


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
            if knob.is_int:
                written: Any = int(new)
            elif knob.write != "{:g}":
                written = knob.write.format(float(new))  # keep human units: "900/s", "256MiB", "300s"
            else:
                written = float(new) * knob.scale
            for path in knob.paths:
                set_path(data, path, written)
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
