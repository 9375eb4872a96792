"""Refuse scenarios too large to simulate, up front, with an estimate of their cost."""

from __future__ import annotations

import math

from .errors import Problem, ScenarioTooLarge
from .scenario import Scenario
from .units import format_duration

__all__ = ["check_size", "MAX_EXACT_MESSAGES", "EXACT_MESSAGES_PER_SECOND", "estimate_messages"]

MAX_EXACT_MESSAGES = 20_000_000
EXACT_MESSAGES_PER_SECOND = 150_000  # measured order of magnitude on a 2-core machine (see benchmarks/)


def estimate_messages(scenario: Scenario) -> float:
    """Messages the scenario's producers will emit (traces: counted from the file)."""
    from .components.producer import read_trace
    from .scenario import TraceArrivals

    total = 0.0
    for producer in scenario.producers:
        if isinstance(producer.arrivals, TraceArrivals):
            values = read_trace(producer.arrivals, scenario.base_dir)
            count = len(values) if producer.arrivals.format == "timestamps" else float(values.sum())
            span = (values[-1] if producer.arrivals.format == "timestamps" else len(values) * producer.arrivals.bin) or 1.0
            repeats = math.ceil(scenario.duration / span) if producer.arrivals.loop else 1
            total += count * repeats * scenario.load_multiplier
        else:
            active = min(producer.stop or scenario.duration, scenario.duration) - producer.start
            total += producer.mean_rate(scenario.duration) * max(active, 0.0) * scenario.load_multiplier
    return total


def check_size(scenario: Scenario, *, allow_large: bool = False, limit: float = MAX_EXACT_MESSAGES) -> float:
    """The estimated message count; raises `ScenarioTooLarge` above `limit` unless allowed."""
    messages = estimate_messages(scenario)
    if messages > limit and not allow_large:
        seconds = messages / EXACT_MESSAGES_PER_SECOND
        raise ScenarioTooLarge([Problem(
            "duration",
            f"this scenario would simulate about {messages:,.0f} messages (producer rates × duration), "
            f"about {format_duration(seconds)} of computing in exact mode; the limit is {limit:,.0f}. "
            f"Shorten `duration`, lower the rates, or pass --allow-large (allow_large=True) to run it anyway.",
            None, getattr(scenario, "_source", None))])
    return messages
