"""How big a run is, before it starts: which mode runs it, and refusing what is absurd.

Exact mode simulates every message, so its cost is the message count (rates × duration): above
`MAX_EXACT_MESSAGES` it is refused unless allowed. Fast mode (`simbp.fast.model`) costs a number of
quantum steps per component, bounded by design, plus a little per message: it is refused only when
that would be absurd. `choose_mode` picks the mode for `mode="auto"` and says why.
"""

from __future__ import annotations

import math

from . import semantics
from .errors import Problem, ScenarioTooLarge
from .scenario.schema import Scenario
from .units import format_duration

__all__ = ["check_size", "choose_mode", "estimate_messages", "estimate_fast_steps", "estimate_seconds", "MODES", "MAX_EXACT_MESSAGES",
           "EXACT_MESSAGES_PER_SECOND", "AUTO_FAST_ABOVE", "MAX_FAST_SECONDS"]

MODES = ("auto", "exact", "fast")
MAX_EXACT_MESSAGES = 20_000_000
EXACT_MESSAGES_PER_SECOND = 150_000  # measured order of magnitude on a 2-core machine (docs/performance.md)
AUTO_FAST_ABOVE = 2_000_000  # auto: more messages than this (about 10 s of exact mode) run in fast mode
FAST_SECONDS_PER_STEP = 40e-6  # one quantum of one component, measured (docs/performance.md)
FAST_SECONDS_PER_MESSAGE = 0.05e-6
MAX_FAST_SECONDS = 3600.0  # fast mode refuses only what would take over an hour


def estimate_messages(scenario: Scenario) -> float:
    """Messages the scenario's producers will emit (traces: counted from the file)."""
    from .scenario.rates import read_trace
    from .scenario.schema import TraceArrivals

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


def estimate_fast_steps(scenario: Scenario) -> float:
    """Quantum steps fast mode would take: quanta × (producers + buffers + consumer groups), plus the
    sub-steps of stages whose dropping buffer is small enough to be stepped finely throughout."""
    from .fast.model import choose_quantum, fine_substeps

    quanta = math.ceil(scenario.duration / choose_quantum(scenario))
    steps = quanta * (len(scenario.producers) + len(scenario.buffers) + len(scenario.consumers))
    for substeps in fine_substeps(scenario).values():
        steps += quanta * 3 * (substeps - 1)  # producer, buffer and group of that stage, per sub-step
    return float(steps)


def estimate_seconds(scenario: Scenario, mode: str) -> float:
    """Computing time a run would take in `mode` ("exact" or "fast"), from the measured rates."""
    messages = estimate_messages(scenario)
    if mode == "exact":
        return messages / EXACT_MESSAGES_PER_SECOND
    return estimate_fast_steps(scenario) * FAST_SECONDS_PER_STEP + messages * FAST_SECONDS_PER_MESSAGE


def check_size(scenario: Scenario, *, allow_large: bool = False, limit: float = MAX_EXACT_MESSAGES,
               mode: str = "exact") -> float:
    """The estimated message count; raises `ScenarioTooLarge` when the run in `mode` ("exact" or
    "fast") would be too large, unless allowed."""
    messages = estimate_messages(scenario)
    source = getattr(scenario, "_source", None)
    if mode == "fast":
        steps = estimate_fast_steps(scenario)
        seconds = steps * FAST_SECONDS_PER_STEP + messages * FAST_SECONDS_PER_MESSAGE
        if seconds > MAX_FAST_SECONDS and not allow_large:
            raise ScenarioTooLarge([Problem(
                "duration",
                f"this scenario would take about {steps:,.0f} quantum steps for about {messages:,.0f} messages, "
                f"about {format_duration(seconds)} of computing even in fast mode. Shorten `duration`, use a longer "
                f"`sample_interval`, or pass --allow-large (allow_large=True) to run it anyway.", None, source)])
        return messages
    if messages > limit and not allow_large:
        seconds = messages / EXACT_MESSAGES_PER_SECOND
        raise ScenarioTooLarge([Problem(
            "duration",
            f"this scenario would simulate about {messages:,.0f} messages (producer rates × duration), "
            f"about {format_duration(seconds)} of computing in exact mode; the limit is {limit:,.0f}. "
            f"Shorten `duration`, lower the rates, run it in fast mode (--mode fast, mode='fast'), "
            f"or pass --allow-large (allow_large=True) to run it anyway.",
            None, source)])
    return messages


def choose_mode(scenario: Scenario, mode: str = "auto") -> tuple[str, str]:
    """The mode that will run (`"exact"` or `"fast"`) and one sentence saying why.

    `"auto"` runs exact mode up to `AUTO_FAST_ABOVE` messages and fast mode above, unless the
    scenario uses a mechanism fast mode cannot model. Forcing `"fast"` on such a scenario raises
    `ScenarioError` naming the mechanism.
    """
    from .fast.model import choose_quantum, require_supported

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "exact":
        return "exact", "exact mode, as asked: every message simulated"
    if mode == "fast":
        require_supported(scenario)
        return "fast", f"fast mode, as asked: message counts per quantum of {format_duration(choose_quantum(scenario))}"
    messages = estimate_messages(scenario)
    if not messages > AUTO_FAST_ABOVE:  # NaN (an unreadable estimate) stays exact
        return "exact", f"auto: about {messages:,.0f} messages, few enough to simulate every one (exact mode)"
    missing = semantics.fast_unsupported(scenario)
    if missing:
        return "exact", (f"auto: about {messages:,.0f} messages, but fast mode cannot model "
                         f"{'; '.join(missing)}, so exact mode")
    exact_seconds, fast_seconds = estimate_seconds(scenario, "exact"), estimate_seconds(scenario, "fast")
    if fast_seconds > exact_seconds and messages <= MAX_EXACT_MESSAGES:
        return "exact", (f"auto: about {messages:,.0f} messages, but a small dropping buffer would make fast mode "
                         f"step finely (about {format_duration(fast_seconds)} against "
                         f"{format_duration(exact_seconds)} in exact mode), so exact mode")
    return "fast", (f"auto: about {messages:,.0f} messages (over {AUTO_FAST_ABOVE:,}), so fast mode: message counts "
                    f"per quantum of {format_duration(choose_quantum(scenario))} instead of every message "
                    f"(exact mode would take about {format_duration(messages / EXACT_MESSAGES_PER_SECOND)})")
