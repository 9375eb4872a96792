"""The what-if dashboard's logic, without Streamlit: library, knobs, policy comparison, downloads.

`app.py` only draws widgets; everything it decides comes from here, so it is unit-tested without a
browser. Knobs are derived from the scenario's own fields (any component with `workers`,
`partitions`, `capacity`/`policy`, a service time or an arrival rate gets its control), so new
component kinds pick up controls without changes here. A knob edits the scenario's YAML data, not
the validated model: untouched keys keep the user's units, and the edited YAML is what the
dashboard runs, caches and offers as a download. This module imports neither streamlit nor
matplotlib.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel

from .. import semantics
from ..errors import Problem, ScenarioError
from ..results import Results
from ..scenario import loading as scenario_module
from ..scenario import Scenario, get_path, parse_scenario_text, set_path
from ..units import parse_duration

__all__ = [
    "LIBRARY_DIR",
    "DEFAULT_CAPACITY",
    "LibraryScenario",
    "Knob",
    "library_scenarios",
    "default_library_index",
    "source_id",
    "load_text",
    "problem_lines",
    "derive_knobs",
    "apply_knobs",
    "run_text",
    "policy_variants",
    "split_valid",
    "compare_policies",
    "comparison_table",
    "headline_metrics",
    "series_columns",
    "plot_names",
    "plot_caption",
    "figure_png",
    "timeseries_csv",
    "summary_json",
    "scenario_yaml_bytes",
    "run_modes",
    "CapacityQuestion",
    "capacity_available",
    "sizing_knobs",
    "default_size_values",
    "parse_number_list",
    "capacity_spec",
    "run_capacity_sweep",
    "capacity_recommendations",
    "capacity_table",
    "capacity_figures",
]

LIBRARY_DIR = Path(__file__).resolve().parents[2] / "scenarios"
DEFAULT_CAPACITY = 10_000  # offered when a compare or a policy switch bounds an unbounded buffer
COMPARED_POLICIES = ("drop_newest", "drop_oldest", "block", "unbounded")

KnobWidget = Literal["slider", "number", "select"]
KnobAction = Literal["set", "scale_time", "policy", "capacity"]


# --------------------------------------------------------------------------- the library
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


def load_text(text: str, *, label: str = "<scenario>", base_dir: Path | str | None = None) -> Scenario:
    """Validate scenario YAML text (raises `ScenarioError` with lines and field paths)."""
    return parse_scenario_text(text, label=label, base_dir=Path(base_dir) if base_dir is not None else None)


def problem_lines(error: ScenarioError) -> list[str]:
    """Each problem as one readable line: `line 12, consumers[0].workers: must be ≥ 1`."""
    lines = []
    for problem in error.problems:
        lines.append(_problem_line(problem))
    return lines or [str(error)]


def _problem_line(problem: Problem) -> str:
    where = []
    if problem.line is not None:
        where.append(f"line {problem.line}")
    if problem.field:
        where.append(problem.field)
    prefix = ", ".join(where)
    return f"{prefix}: {problem.message}" if prefix else problem.message


# --------------------------------------------------------------------------- knobs
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


def _component_knobs(collection: str, index: int, item: BaseModel) -> list[Knob]:
    """The controls one component offers, found from the fields it has."""
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


def _raw(text: str) -> dict[str, Any]:
    loader = getattr(scenario_module, "ScenarioLoader", yaml.SafeLoader)
    data = yaml.load(text, Loader=loader)
    if not isinstance(data, dict):
        raise ScenarioError([Problem("", "expected a mapping of scenario keys (name, duration, producers, …)", 1, None)])
    return data


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


def apply_knobs(text: str, knobs: list[Knob], values: dict[str, Any]) -> str:
    """The scenario YAML with knob `values` (by knob key, display units) written in.

    Knobs left at their current value change nothing, so the text comes back unchanged (comments
    and all) when nothing moved. Raises `ScenarioError` when the text is not a scenario mapping.
    """
    moved = [k for k in knobs if k.key in values and not _same(values[k.key], k.value)]
    bounded_again = [k for k in knobs if k.action == "policy" and k.key in values and values[k.key] != "unbounded"
                     and k.value == "unbounded"]
    if not moved:
        return text
    data = _raw(text)
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
            if new == "unbounded":
                _delete_path(data, f"{buffer_path}.capacity")
            if new != "block":
                _delete_path(data, f"{buffer_path}.block_timeout")
        elif knob.action == "capacity":
            policy_key = knob.key.rsplit(".", 1)[0] + ".policy"
            policy = values.get(policy_key, by_key[policy_key].value if policy_key in by_key else None)
            if policy != "unbounded":  # the effective policy (a schema default may make a buffer unbounded)
                set_path(data, knob.paths[0], int(new))
    for knob in bounded_again:  # a buffer leaving `unbounded` needs a capacity
        buffer_path = knob.paths[0].rsplit(".", 1)[0]
        capacity_key = knob.key.rsplit(".", 1)[0] + ".capacity"
        capacity = values.get(capacity_key, by_key[capacity_key].value if capacity_key in by_key else DEFAULT_CAPACITY)
        set_path(data, f"{buffer_path}.capacity", int(capacity))
    return _dump(data)


class _ScenarioDumper(yaml.SafeDumper):
    """Writes long or multi-line strings (descriptions) as folded blocks, the way people write them."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value.rstrip("\n") or len(value) > 80:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=">")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_ScenarioDumper.add_representer(str, _represent_text)


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_ScenarioDumper, sort_keys=False, allow_unicode=True, width=100)


# --------------------------------------------------------------------------- running
def run_modes() -> tuple[str, ...]:
    """Simulation modes `simbp.run` accepts, its default first (just `exact` where it has no modes)."""
    from .. import run

    parameter = inspect.signature(run).parameters.get("mode")
    if parameter is None:
        return ("exact",)
    modes: tuple[str, ...] = ()
    for module_name in ("simbp.limits", "simbp.fast.model", "simbp.exact.model"):
        try:
            module = __import__(module_name, fromlist=["MODES"])
        except ImportError:
            continue
        if getattr(module, "MODES", None):
            modes = tuple(str(m) for m in module.MODES)
            break
    default = parameter.default if isinstance(parameter.default, str) else None
    if default and default not in modes:
        modes = (default, *modes)
    ordered = tuple(dict.fromkeys([*([default] if default else []), *modes]))
    return ordered or ("exact",)


def run_text(text: str, seed: int | None = None, *, base_dir: Path | str | None = None, label: str = "<scenario>",
             mode: str | None = None, progress: Callable[[float], None] | None = None) -> Results:
    """Validate and simulate scenario YAML text; the dashboard caches this on (text, seed, …)."""
    from .. import run

    scenario = load_text(text, label=label, base_dir=base_dir)
    if mode is not None and "mode" in inspect.signature(run).parameters:
        return run(scenario, seed, progress=progress, mode=mode)  # type: ignore[call-arg]
    return run(scenario, seed, progress=progress)


def buffer_names(scenario: Scenario) -> list[str]:
    """Buffers a policy comparison can be applied to, in file order."""
    return [b.name for b in scenario.buffers]


def policy_variants(text: str, buffer: str | None = None, capacity: int | None = None) -> dict[str, str]:
    """The scenario YAML once per policy (drop_newest, drop_oldest, block, unbounded) on one buffer.

    The buffer defaults to the first; bounded variants of an unbounded buffer get `capacity`
    (default `DEFAULT_CAPACITY`); `unbounded` removes the capacity and `block_timeout`.
    """
    data = _raw(text)
    buffers = data.get("buffers") or []
    names = [b.get("name") for b in buffers if isinstance(b, dict)]
    if not names:
        raise ScenarioError([Problem("buffers", "the scenario has no buffer to compare policies on", None, None)])
    name = buffer if buffer is not None else names[0]
    if name not in names:
        raise ScenarioError([Problem("buffers", f"no buffer named {name!r} (buffers: {', '.join(map(str, names))})", None, None)])
    index = names.index(name)
    original = buffers[index]
    bound = capacity if capacity is not None else original.get("capacity", DEFAULT_CAPACITY)
    variants: dict[str, str] = {}
    for policy in COMPARED_POLICIES:
        variant = dict(original)
        variant["policy"] = policy
        if policy == "unbounded":
            variant.pop("capacity", None)
        else:
            variant["capacity"] = int(bound)
        if policy != "block":
            variant.pop("block_timeout", None)
        copy = dict(data)
        copy["buffers"] = [*buffers[:index], variant, *buffers[index + 1:]]
        variants[policy] = text if variant == original else _dump(copy)
    return variants


def split_valid(variants: dict[str, str], *, base_dir: Path | str | None = None) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Variants that validate, and the problems of those that do not (a Node.js writable only
    allows `unbounded`; a caller timeout rules out `drop_oldest`, …)."""
    valid: dict[str, str] = {}
    invalid: dict[str, list[str]] = {}
    for policy, variant in variants.items():
        try:
            load_text(variant, base_dir=base_dir)
        except ScenarioError as error:
            invalid[policy] = problem_lines(error)
        else:
            valid[policy] = variant
    return valid, invalid


def compare_policies(text: str, seed: int | None = None, *, buffer: str | None = None, capacity: int | None = None,
                     base_dir: Path | str | None = None, runner: Callable[[str, int | None], Results] | None = None,
                     progress: Callable[[float], None] | None = None) -> dict[str, Results]:
    """Run the same scenario and seed under each policy on one buffer (see `policy_variants`).

    Policies the scenario does not allow on that buffer are left out (`split_valid` says why).
    `runner(text, seed)` runs one variant (the dashboard passes its cached runner); `progress`
    gets the overall fraction done.
    """
    variants, _ = split_valid(policy_variants(text, buffer, capacity), base_dir=base_dir)
    results: dict[str, Results] = {}
    for number, (policy, variant) in enumerate(variants.items()):
        if runner is not None:
            results[policy] = runner(variant, seed)
        else:
            part = (lambda f, n=number: progress((n + f) / len(variants))) if progress else None
            results[policy] = run_text(variant, seed, base_dir=base_dir, progress=part)
        if progress is not None:
            progress((number + 1) / len(variants))
    return results


def comparison_table(results: dict[str, Results]) -> pd.DataFrame:
    """One row per policy: verdict, loss, peak memory, p99 latency, blocking, crashes."""
    rows = []
    for policy, result in results.items():
        summary = result.summary
        latency = summary.get("latency_s") or {}
        rows.append({
            "policy": policy,
            "verdict": summary["verdict"],
            "produced": summary["produced"],
            "consumed": summary["consumed"],
            "dropped": summary["dropped"],
            "timed_out": summary["timed_out"],
            "lost_in_crash": summary["lost_in_crash"],
            "loss_ratio": summary["loss_ratio"],
            "peak_queue_depth": summary["peak_queue_depth"],
            "peak_memory_bytes": summary["peak_memory_bytes"],
            "p99_latency_s": latency.get("p99"),
            "producer_blocked_fraction": summary["producer_blocked_fraction"],
            "crashes": summary["crashes"],
        })
    return pd.DataFrame(rows).set_index("policy")


KEY_FIGURES = ("verdict", "loss ratio", "p99 latency", "peak memory", "crashes", "producers blocked")


def headline_metrics(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs for the metric rows: the verdict and the key figures first, then the counts.

    Values are the report's headline figures, shortened to fit a metric tile (the crash time and
    the blocked share's wording are in the verdict's reason).
    """
    from ..report import headline_figures

    figures = dict(headline_figures(summary))
    figures["verdict"] = str(summary["verdict"])
    figures["crashes"] = f"{summary['crashes']:,}"
    figures["producers blocked"] = f"{summary['producer_blocked_fraction']:.1%}"
    ordered = [label for label in KEY_FIGURES if label in figures]
    ordered += [label for label in figures if label not in KEY_FIGURES]
    return [(label, figures[label]) for label in ordered]


# --------------------------------------------------------------------------- capacity (simbp.planning.core)
@dataclass(frozen=True)
class CapacityQuestion:
    """A small sweep the capacity view runs: one count to size, the loads, the targets, the effort."""

    size_path: str
    size_values: tuple[int, ...]
    loads: tuple[float, ...]
    max_loss_ratio: float | None = 0.001
    max_p99_s: float | None = 2.0
    replications: int = 3
    duration_s: float = 60.0
    seed: int = 1
    mode: str | None = None


def capacity_available() -> bool:
    """Whether this simbp has capacity planning (`simbp.planning.core.sweep`)."""
    try:
        from ..planning import load_study, sweep  # noqa: F401
    except ImportError:
        return False
    return True


def sizing_knobs(knobs: list[Knob], values: dict[str, Any] | None = None) -> list[Knob]:
    """The whole-number knobs a capacity sweep can size (workers, consumers, partitions, capacities).

    A buffer's capacity counts only while the buffer is bounded. Workers and consumers come first.
    A knob's key is also its field path by component name (`consumers.workers.workers`), which is
    what a sweep varies.
    """
    values = values or {}
    chosen = []
    for knob in knobs:
        if not knob.is_int or knob.key == "seed" or knob.widget == "select":
            continue
        if knob.action == "capacity":
            policy_key = knob.key.rsplit(".", 1)[0] + ".policy"
            policy = values.get(policy_key, next((k.value for k in knobs if k.key == policy_key), None))
            if policy == "unbounded":
                continue
        chosen.append(knob)
    rank = {"workers": 0, "consumers": 0, "partitions": 1}  # what people usually buy first
    return sorted(chosen, key=lambda k: (rank.get(k.key.rsplit(".", 1)[-1], 2), k.action == "capacity"))


def default_size_values(value: int) -> tuple[int, ...]:
    """Values around the current one to try: half, as is, double, triple."""
    return tuple(sorted({max(1, value // 2), max(1, value), 2 * max(1, value), 3 * max(1, value)}))


def parse_number_list(text: str, kind: type = float) -> tuple[Any, ...]:
    """ "1, 2, 3" → (1.0, 2.0, 3.0); raises ValueError naming the entry that is not a number."""
    items = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    if not items:
        raise ValueError("give at least one value, separated by commas")
    numbers = []
    for item in items:
        try:
            number = kind(float(item)) if kind is int else float(item)
        except ValueError:
            raise ValueError(f"{item!r} is not a number") from None
        if kind is int and float(item) != int(float(item)):
            raise ValueError(f"{item!r} is not a whole number")
        if number <= 0:
            raise ValueError(f"{item!r} must be above zero")
        numbers.append(number)
    return tuple(dict.fromkeys(numbers))


def capacity_spec(question: CapacityQuestion, base_file: str = "base.yaml") -> str:
    """The planning spec (YAML) a capacity question amounts to (see docs/planning.md)."""
    targets: dict[str, Any] = {}
    if question.max_loss_ratio is not None:
        targets["loss_ratio"] = {"max": float(question.max_loss_ratio)}
    if question.max_p99_s is not None:
        targets["latency_s.p99"] = {"max": float(question.max_p99_s)}
    spec: dict[str, Any] = {
        "name": "dashboard_capacity",
        "description": "A capacity sweep started from the dashboard.",
        "base": base_file,
        "seed": int(question.seed),
        "fixed": {"duration": float(question.duration_s)},
        "replications": {"min": int(question.replications), "max": int(question.replications)},
        "vary": {question.size_path: [int(v) for v in question.size_values],
                 "load_multiplier": [float(v) for v in question.loads]},
        "targets": targets,
        "judge": "upper_bound" if question.replications >= 2 else "mean",
        "cost": [question.size_path],
    }
    if question.mode is not None:
        spec["mode"] = question.mode
    if targets:
        figure = "loss_ratio" if "loss_ratio" in targets else "latency_s.p99"
        spec["report"] = {"heatmap": figure, "curve": "latency_s.p99" if "latency_s.p99" in targets else figure}
    return _dump(spec)


class _CountingExecutor:
    """Wraps an executor so that each finished replication reports the share done so far."""

    def __init__(self, inner: Any, progress: Callable[[float], None] | None):
        self.inner = inner
        self.jobs = inner.jobs
        self.description = inner.description
        self.progress = progress
        self.done = 0
        self.total = 0

    def map(self, function: Callable[[Any], Any], tasks: Any) -> Any:
        tasks = list(tasks)
        self.total += len(tasks)
        for result in self.inner.map(function, tasks):
            self.done += 1
            if self.progress is not None:
                self.progress(self.done / max(self.total, 1))
            yield result

    def close(self) -> None:
        self.inner.close()


def _referenced_files(data: Any) -> list[str]:
    """Relative file names a scenario reads (traces, empirical CSVs): every `file:` value."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "file" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_referenced_files(value))
    elif isinstance(data, list):
        for value in data:
            found.extend(_referenced_files(value))
    return found


def run_capacity_sweep(text: str, question: CapacityQuestion, *, base_dir: Path | str | None = None,
                       progress: Callable[[float], None] | None = None, jobs: int | None = None) -> Any:
    """Run a capacity question on a scenario's YAML with `simbp.planning.core.sweep`; returns its `SweepResult`.

    The scenario is written to a temporary folder as the spec's base (files it reads are linked
    beside it). Small sweeps run in this process; larger ones on every core (`jobs` overrides).
    """
    import tempfile

    from ..limits import estimate_messages
    from ..planning import load_study, sweep
    from ..planning.executors import SerialExecutor, make_executor

    source = Path(base_dir) if base_dir is not None else Path.cwd()
    with tempfile.TemporaryDirectory(prefix="simbp-capacity-") as folder:
        (Path(folder) / "base.yaml").write_text(text, encoding="utf-8")
        for name in _referenced_files(_raw(text)):
            target, link = (source / name).resolve(), Path(folder) / name
            if target.exists() and not Path(name).is_absolute() and not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(target)
        study = load_study(capacity_spec(question), base_dir=Path(folder))
        work = sum(estimate_messages(point.scenario) for point in study.points) * question.replications
        if jobs is None:
            jobs = 1 if work < 3_000_000 else None
        inner = SerialExecutor() if jobs == 1 else make_executor(jobs)
        executor = _CountingExecutor(inner, progress)
        try:
            return sweep(study, executor, progress=False)
        finally:
            executor.close()


def capacity_recommendations(result: Any) -> list[str]:
    """The sweep's answer per load, in words: the cheapest value meeting every target, or why none does."""
    study = result.study
    targets = ", ".join(f"{t.figure} {t.describe()}" for t in study.targets) or "no targets"
    lines = []
    for entry in result.summary.get("recommendations", []):
        load = entry.get("load_multiplier")
        at = f"At {float(load):g}× load" if load is not None else "At the scenario's load"
        choice = entry.get("recommendation")
        if choice:
            setting = ", ".join(f"{path} = {value:g}" if isinstance(value, float) else f"{path} = {value}"
                                for path, value in choice.items())
            lines.append(f"{at}: **{setting}** is the cheapest setting tried that meets every target ({targets}).")
        else:
            lines.append(f"{at}: {entry.get('reason', 'no recommendation')} ({targets}).")
    return lines


def capacity_table(result: Any) -> pd.DataFrame:
    """Per point: the varied values, replications, the targeted figures (mean and 95% interval), pass."""
    points = result.points
    varied = [c for c in points.columns if c in result.study.vary_values]
    figures = [t.figure for t in result.study.targets] or ["loss_ratio", "latency_s.p99"]
    columns = [*varied, "replications"]
    for figure in figures:
        columns += [c for c in (f"{figure}.mean", f"{figure}.low", f"{figure}.high") if c in points.columns]
    columns += [c for c in points.columns if c.startswith("pass.")] + (["passed"] if "passed" in points.columns else [])
    return points[columns].reset_index(drop=True)


def capacity_figures(result: Any) -> list[tuple[str, bytes]]:
    """The sweep's pictures as PNG: heatmaps of each targeted figure, else the curve against load."""
    import io

    from ..planning.plots import plot_heatmap, plot_load_curve

    pictures: list[tuple[str, bytes]] = []
    figures = [t.figure for t in result.study.targets] or ["loss_ratio"]
    for name in figures:
        figure = plot_heatmap(result, name)
        if figure is None:
            figure = plot_load_curve(result, name)
        if figure is None:
            continue
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110)
        pictures.append((name, buffer.getvalue()))
    return pictures


# --------------------------------------------------------------------------- pictures, tables and downloads
def plot_names() -> list[str]:
    """The library's plots in display order (`simbp.plots.PLOTS`: new plots appear here by themselves)."""
    from ..plots import PLOTS

    return list(PLOTS)


def plot_caption(name: str) -> str:
    """What a plot shows, in the words the HTML report uses."""
    from ..report import _CAPTIONS

    return _CAPTIONS.get(name, "")


def figure_png(results: Results, name: str, *, dpi: int = 120, size: tuple[float, float] | None = None) -> bytes:
    """One of the library's plots as PNG bytes; `size` (inches) shrinks it for side-by-side views.

    Rendering is the slow part of a dashboard rerun, so the app caches these bytes per run.
    """
    import io

    from ..plots import PLOTS

    figure = PLOTS[name](results)
    if size is not None:
        figure.set_size_inches(*size)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()



def series_columns(timeseries: pd.DataFrame) -> list[str]:
    """The numeric time-series columns a person can chart (everything but the time), as they exist."""
    return [c for c in timeseries.columns if c != "time_s" and pd.api.types.is_numeric_dtype(timeseries[c])]


def timeseries_csv(results: Results) -> bytes:
    """The run's time series as CSV bytes (the same columns as `timeseries.csv`)."""
    return results.timeseries.to_csv(index=False).encode("utf-8")


def summary_json(results: Results) -> bytes:
    """The run's summary as the JSON `simbp run` writes."""
    return results.to_json().encode("utf-8")


def scenario_yaml_bytes(text: str) -> bytes:
    """The edited scenario, ready to save and run with `simbp run`."""
    return text.encode("utf-8")

