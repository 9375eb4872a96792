"""Which what-if controls a scenario gets: found from the fields each component has.

Any component with `workers`, `partitions`, `capacity`/`policy`, a service time or an arrival rate
gets its control, so new component kinds pick up controls without changes here; the mechanisms
people teach with get theirs too: a Node.js source's `on_backpressure` (pipe or naive write),
retries and caller time-outs, Kafka's commit interval and retention, a semaphore's permits
(0 = none), rate limits.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

from .. import semantics
from ..scenario import Scenario
from .knobs import DEFAULT_CAPACITY, Knob, duration_knob, float_knob, int_knob

__all__ = ["derive_knobs"]


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


def group_heading(kind: str, name: str) -> str:
    """The sidebar heading of a component's controls: "Consumer group billing", but "Consumers" for a
    consumer named `consumers` and "Consumer group: consumers" (never "Consumer consumers")."""
    singular = name.lower().removesuffix("s")
    words = kind.lower().split()
    if singular == kind.lower():
        return name[:1].upper() + name[1:]
    return f"{kind}: {name}" if singular in words else f"{kind} {name}"


def _component_knobs(collection: str, index: int, item: Any) -> list[Knob]:
    """The controls one component (a pydantic model of any kind) offers, found from the fields it has."""
    knobs: list[Knob] = []
    name = str(item.name)
    key = f"{collection}.{name}"
    path = f"{collection}[{index}]"
    group = group_heading(_GROUP_NAMES.get(collection, collection.replace('_', ' ').capitalize()), name)
    fields = type(item).model_fields
    arrivals = getattr(item, "arrivals", None)
    if arrivals is not None:
        rate = getattr(arrivals, "rate", None)
        if isinstance(rate, (int, float)) and rate > 0:
            knobs.append(float_knob(f"{key}.arrivals.rate", "rate", group, float(rate), (f"{path}.arrivals.rate",),
                                     low=0.0, high=3 * rate, unit="/s", write="{:g}/s",
                                     help="messages per second this producer emits (before the load multiplier)"))
        on, off = getattr(arrivals, "on", None), getattr(arrivals, "off", None)
        if on is not None and off is not None and hasattr(on, "rate") and hasattr(on, "duration"):
            peak = max(on.rate, off.rate, 1.0)
            knobs.append(float_knob(f"{key}.arrivals.on.rate", "burst rate", group, float(on.rate),
                                     (f"{path}.arrivals.on.rate",), low=0.0, high=3 * peak, unit="/s", write="{:g}/s",
                                     help="rate during a burst (the on period)", positive=False))
            knobs.append(float_knob(f"{key}.arrivals.on.duration", "burst length", group, float(on.duration),
                                     (f"{path}.arrivals.on.duration",), low=0.0, high=4 * on.duration, unit="s",
                                     write="{:g}s", help="how long each burst lasts"))
            knobs.append(float_knob(f"{key}.arrivals.off.rate", "rate between bursts", group, float(off.rate),
                                     (f"{path}.arrivals.off.rate",), low=0.0, high=3 * peak, unit="/s", write="{:g}/s",
                                     help="rate in the quiet (off) period", positive=False))
            knobs.append(float_knob(f"{key}.arrivals.off.duration", "time between bursts", group, float(off.duration),
                                     (f"{path}.arrivals.off.duration",), low=0.0, high=4 * off.duration, unit="s",
                                     write="{:g}s", help="how long each quiet period lasts"))
    limit = getattr(item, "rate_limit", None) if "rate_limit" in fields else None
    if limit is not None and isinstance(getattr(limit, "rate", None), (int, float)):
        knobs.append(float_knob(f"{key}.rate_limit.rate", "rate limit", group, float(limit.rate),
                                 (f"{path}.rate_limit.rate",), low=0.0, high=3 * limit.rate, unit="/s", write="{:g}/s",
                                 help="the token bucket's refill rate: the most this producer sends per second"))
    if "policy" in fields and "capacity" in fields:
        options = _literal_options(item, "policy")
        knobs.append(Knob(f"{key}.policy", "policy", group, "select", str(item.policy), (f"{path}.policy",),
                          "policy", options=options,
                          help="what happens when the buffer is full: drop the new item, drop the oldest, "
                               "make the producer wait, or never limit (memory grows)"))
        capacity = item.capacity
        knobs.append(int_knob(f"{key}.capacity", "capacity", group, int(capacity if capacity is not None else DEFAULT_CAPACITY),
                               (f"{path}.capacity",), low=0, high=10**9, widget="number", action="capacity",
                               help="items that may wait (an unbounded buffer ignores this until bounded)"))
    elif "capacity" in fields and isinstance(item.capacity, int):
        capacity = int(item.capacity)
        knobs.append(int_knob(f"{key}.capacity", "capacity", group, capacity, (f"{path}.capacity",), low=1,
                               high=max(4 * capacity, capacity + 8), help="calls it serves at once at its normal latency"))
    mark = getattr(item, "high_water_mark", None) if "high_water_mark" in fields else None
    if mark is not None and isinstance(getattr(mark, "objects", None), int):
        knobs.append(int_knob(f"{key}.high_water_mark", "high water mark (chunks)", group, int(mark.objects),
                               (f"{path}.high_water_mark",), low=0, high=max(4 * mark.objects, 64),
                               help="write() returns false once the stream holds this many chunks"))
    elif mark is not None and isinstance(getattr(mark, "bytes", None), (int, float)):
        kib = float(mark.bytes) / 1024
        knobs.append(float_knob(f"{key}.high_water_mark", "high water mark", group, kib, (f"{path}.high_water_mark",),
                                 low=0.0, high=max(4 * kib, 64.0), unit="KiB", scale=1024.0, write="{:g}KiB",
                                 help="write() returns false once the stream holds this many bytes"))
    for field_name, (label, help_text) in _COUNT_FIELDS.items():
        count = getattr(item, field_name, None) if field_name in fields else None
        if isinstance(count, int) and not isinstance(count, bool):
            low, high = 1, max(4 * count, count + 8)
            autoscale = getattr(item, "autoscale", None)
            if field_name == "consumers" and autoscale is not None:  # must stay within the autoscaler's range
                low, high = int(autoscale.min), int(autoscale.max)
            knobs.append(int_knob(f"{key}.{field_name}", label, group, count, (f"{path}.{field_name}",),
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
            knobs.append(float_knob(f"{key}.{field_name}", label, group, mean * 1e3, paths, low=0.0,
                                     high=3 * mean * 1e3, unit="ms", scale=1e-3, action="scale_time", help=help_text))
    knobs.extend(_mechanism_knobs(key, path, group, item, fields))
    return knobs


def _options(item: Any, field_name: str) -> tuple[str, ...]:
    annotation = type(item).model_fields[field_name].annotation
    if isinstance(annotation, str):  # a forward reference such as "Literal['pause', 'ignore'] | None"
        return tuple(part for part in annotation.replace('"', "'").split("'")[1::2])
    return tuple(a for arg in typing.get_args(annotation) for a in (typing.get_args(arg) or (arg,)) if isinstance(a, str))


def _mechanism_knobs(key: str, path: str, group: str, item: Any, fields: dict[str, Any]) -> list[Knob]:
    """Controls of the mechanisms people teach with, where the component uses them."""
    knobs: list[Knob] = []
    if "on_backpressure" in fields and getattr(item, "on_backpressure", None) is not None:
        knobs.append(Knob(f"{key}.on_backpressure", "on write() returning false", group, "select",
                          str(item.on_backpressure), (f"{path}.on_backpressure",),
                          options=_options(item, "on_backpressure") or ("pause", "ignore"),
                          help="pause: honour backpressure, as pipe() or awaiting 'drain' does; ignore: keep calling "
                               "write() (a naive loop), so the stream's buffer grows without bound"))
    if "caller_timeout" in fields and getattr(item, "caller_timeout", None) is not None:
        knobs.append(duration_knob(f"{key}.caller_timeout", "caller timeout", group, float(item.caller_timeout),
                                   f"{path}.caller_timeout", help="the caller gives up if its message is not picked "
                                   "up within this"))
    if "retry" in fields and (item.retry is not None or getattr(item, "caller_timeout", None) is not None):
        retries = int(item.retry.max) if item.retry is not None else 0
        knobs.append(int_knob(f"{key}.retry.max", "retries per message", group, retries, (f"{path}.retry.max",),
                              low=0, high=max(10, 2 * retries), help="how often a caller that timed out tries again "
                              "(0: never); each retry is new load on the queue"))
    if "block_timeout" in fields and getattr(item, "block_timeout", None) is not None:
        knobs.append(duration_knob(f"{key}.block_timeout", "block timeout", group, float(item.block_timeout),
                                   f"{path}.block_timeout", help="a blocked producer gives up after this"))
    limit = getattr(item, "rate_limit", None) if "rate_limit" in fields else None
    if limit is not None:
        knobs.append(int_knob(f"{key}.rate_limit.burst", "rate limit burst", group, int(limit.burst),
                              (f"{path}.rate_limit.burst",), low=1, high=max(4 * int(limit.burst), 10),
                              help="tokens the bucket holds: how many may pass at once above the rate"))
    calls = getattr(item, "calls", None) if "calls" in fields else None
    if calls is not None:
        knobs.append(int_knob(f"{key}.calls.semaphore", "semaphore permits (0 = none)", group, int(calls.semaphore or 0),
                              (f"{path}.calls.semaphore",), low=0, high=max(4 * int(calls.semaphore or 0), 50),
                              action="optional", help="calls allowed in flight to the downstream at once; 0 removes "
                              "the semaphore, so every worker calls at once"))
        knobs.append(int_knob(f"{key}.calls.retries", "call retries", group, int(calls.retries),
                              (f"{path}.calls.retries",), low=0, high=max(10, 2 * int(calls.retries)),
                              help="a failed or timed-out call is tried again this often"))
        if calls.timeout is not None:
            knobs.append(duration_knob(f"{key}.calls.timeout", "call timeout", group, float(calls.timeout),
                                       f"{path}.calls.timeout", help="a call gives up after this"))
    commit = getattr(item, "commit", None) if "commit" in fields else None
    if commit is not None and commit.interval is not None:
        knobs.append(duration_knob(f"{key}.commit.interval", "commit interval", group, float(commit.interval),
                                   f"{path}.commit.interval", help="offsets are committed this often (auto-commit): "
                                   "lag counts every message not yet committed, so it saw-tooths with this period"))
    retention = getattr(item, "retention", None) if "retention" in fields else None
    if retention is not None and retention.time is not None:
        knobs.append(duration_knob(f"{key}.retention.time", "retention", group, float(retention.time),
                                   f"{path}.retention.time", help="the broker deletes messages older than this, read "
                                   "or not: a consumer further behind loses data"))
    return knobs


def derive_knobs(scenario: Scenario) -> list[Knob]:
    """The what-if controls that apply to this scenario, in display order, with its current values."""
    knobs = [float_knob("load_multiplier", "load multiplier", "Load", float(scenario.load_multiplier), ("load_multiplier",),
                         low=0.1, high=max(3.0, 2 * scenario.load_multiplier), unit="×",
                         help="scales every producer's rate at once")]
    for collection in _named_collections(scenario):
        for index, item in enumerate(getattr(scenario, collection)):
            knobs.extend(_component_knobs(collection, index, item))
    if scenario.memory is not None:
        mib = scenario.memory.limit / 2**20
        knobs.append(float_knob("memory.limit", "memory limit", "Memory", mib, ("memory.limit",), low=1.0,
                                 high=max(4 * mib, 16.0), unit="MiB", scale=2**20, write="{:g}MiB",
                                 help="the service crashes when the items it holds pass this"))
    duration = float(scenario.duration)
    knobs.append(float_knob("duration", "duration", "Run", duration, ("duration",), low=min(1.0, duration),
                             high=max(2 * duration, 10.0), unit="s", write="{:g}s", help="simulated time"))
    knobs.append(int_knob("seed", "seed", "Run", int(scenario.seed), ("seed",), low=0, high=2**31 - 1, widget="number",
                           help="same scenario and seed give identical results"))
    return knobs


