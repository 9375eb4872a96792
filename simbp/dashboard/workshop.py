"""Workshop mode: a lesson path through the scenario library, and predict-then-reveal.

Each `Lesson` names a library scenario, what attendees predict before the results show (the
verdict, or a number such as the loss or the peak lag), and links to try next (the same scenario
with one control moved, an A/B comparison, the policy comparison). The question, what to look at
and the lesson itself come from the scenario's own `description` (its "Question:", "Look at" and
"Lesson:" sentences), so the library stays the one place they are written.
`judge` says how close a prediction was.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Prediction", "Lesson", "LESSONS", "lesson_by_id", "DescriptionParts", "split_description", "Judgement",
           "judge", "figure_value", "shown_actual"]


@dataclass(frozen=True)
class Prediction:
    """What attendees predict: the verdict, or the summary figure at `figure` (a dotted path).

    A number is shown and entered in display units: the figure × `scale` (100 for a ratio as %).
    """

    kind: Literal["verdict", "number"]
    label: str
    figure: str = "verdict"
    unit: str = ""
    scale: float = 1.0


@dataclass(frozen=True)
class Lesson:
    """One step of the lesson path."""

    id: str
    title: str
    file: str
    predict: Prediction
    try_next: tuple[tuple[str, dict[str, str]], ...] = field(default_factory=tuple)
    minutes: int = 7


_VERDICT = Prediction("verdict", "Which failure mode will this system fall into?")
_LOSS = Prediction("number", "What share of the messages will be lost?", "loss_ratio", "%", 100.0)

LESSONS: tuple[Lesson, ...] = (
    Lesson("keep-up", "Does it keep up?", "quickstart.yaml", _VERDICT,
           (("Push the load 20% higher", {"load_multiplier": "1.2"}),
            ("Take one worker away", {"consumers.workers.workers": "3"})), minutes=6),
    Lesson("drop-block-crash", "Drop, block or crash", "unbounded_crash.yaml", _VERDICT,
           (("The four policies side by side", {"view": "policies"}),
            ("Bound it: drop_newest", {"buffers.inbox.policy": "drop_newest"})), minutes=8),
    Lesson("steady-overload", "A bounded queue under steady overload", "bounded_drop.yaml", _LOSS,
           (("drop_oldest instead", {"buffers.readings.policy": "drop_oldest"}),
            ("block instead", {"buffers.readings.policy": "block"})), minutes=6),
    Lesson("bursts", "Bursts against a buffer sized for the average", "bursty_traffic.yaml", _VERDICT,
           (("A buffer of 12,000", {"buffers.notifications.capacity": "12000"}),), minutes=6),
    Lesson("node-pipe", "Node.js: pipe() or a naive write()", "node_naive_write.yaml", _VERDICT,
           (("A/B: naive write against pipe()", {"view": "ab", "b.producers.upload.on_backpressure": "pause"}),), minutes=8),
    Lesson("kafka-consumers", "Kafka: consumers beyond partitions", "kafka_8_consumers_6_partitions.yaml",
           Prediction("number", "How many of the 8 consumers will process messages?",
                      "components.billing.consumers_active", "consumers"),
           (("A/B: 3 against 6 consumers", {"scenario": "kafka_3_consumers_6_partitions.yaml", "view": "ab",
                                             "b.consumer_groups.billing.consumers": "6"}),
            ("Commit every second", {"consumer_groups.billing.commit.interval": "1"})), minutes=8),
    Lesson("kafka-retention", "Kafka: falling behind past retention", "kafka_retention_loss.yaml", _LOSS,
           (("Keep messages for a minute", {"topics.clicks.retention.time": "60"}),
            ("Four consumers", {"consumer_groups.analytics.consumers": "4"})), minutes=6),
    Lesson("semaphore", "A downstream without a semaphore", "downstream_without_semaphore.yaml", _VERDICT,
           (("A/B: no semaphore against 10 permits", {"view": "ab", "b.consumers.handlers.calls.semaphore": "10"}),), minutes=7),
    Lesson("batching", "Batch writes", "batch_size_1.yaml",
           Prediction("number", "How many rows a second will the writer insert?", "throughput_per_s", "rows/s"),
           (("A/B: batches of 1 against 100", {"view": "ab", "b_scenario": "batch_size_100.yaml"}),), minutes=6),
    Lesson("retry-storm", "Retries after a burst", "retry_storm.yaml", _LOSS,
           (("A/B: 3 retries against none", {"view": "ab", "b.producers.clients.retry.max": "0"}),), minutes=7),
    Lesson("rxjs", "RxJS: debounceTime", "rxjs_debounce.yaml",
           Prediction("number", "Of about 780 keystrokes, how many searches reach the API?", "consumed", "searches"),
           (("throttleTime instead", {"scenario": "rxjs_throttle.yaml"}),
            ("bufferTime", {"scenario": "rxjs_buffer_time.yaml"})), minutes=5),
    Lesson("rate-limit", "Rate limiting at the door", "token_bucket.yaml", _VERDICT,
           (("Shedding by priority", {"scenario": "priority_shedding.yaml"}),), minutes=5),
    Lesson("scale-out", "Scaling out: how many do we need?", "kafka_3_consumers_6_partitions.yaml", _VERDICT,
           (("Size the group (capacity sweep)", {"view": "capacity"}),
            ("Autoscaling on lag", {"scenario": "kafka_autoscale.yaml"})), minutes=7),
)


def lesson_by_id(lesson_id: str | None) -> Lesson | None:
    return next((lesson for lesson in LESSONS if lesson.id == lesson_id), None)


@dataclass(frozen=True)
class DescriptionParts:
    """A scenario description cut at its "Question:", "Look at" and "Lesson:" sentences."""

    question: str
    setup: str
    look_at: str
    lesson: str


def split_description(text: str) -> DescriptionParts:
    """The parts of a library description; a part the text lacks is empty (the setup keeps the rest)."""
    flat = " ".join(text.split())
    question = lesson = look = ""
    match = re.search(r"Lesson:\s*(.*)$", flat)
    if match:
        lesson, flat = match.group(1).strip(), flat[:match.start()].strip()
    match = re.match(r"Question:\s*(.*?\?)\s*(.*)$", flat)
    if match:
        question, flat = match.group(1).strip(), match.group(2).strip()
    match = re.search(r"\b([Ll]ook at\b.*)$", flat)
    if match:
        look, flat = match.group(1).strip(), flat[:match.start()].strip()
        look = look[:1].upper() + look[1:]
    return DescriptionParts(question, flat, look, lesson)


def figure_value(summary: dict[str, Any], path: str) -> Any:
    """A summary figure by dotted path (`components.billing.consumers_active`), or None."""
    value: Any = summary
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


@dataclass(frozen=True)
class Judgement:
    """How a prediction compares with the run: the actual value (display units), a verdict in words."""

    actual: Any
    guess: Any
    close: bool
    words: str


def shown_actual(prediction: Prediction, summary: dict[str, Any]) -> str:
    """The run's value of the predicted figure, as words in display units ("dropping", "34.3%", "6 consumers")."""
    actual = figure_value(summary, prediction.figure)
    if prediction.kind == "verdict":
        return str(actual).replace("_", " ")
    value = float(actual or 0.0) * prediction.scale
    unit = f" {prediction.unit}" if prediction.unit and prediction.unit != "%" else prediction.unit
    return f"{value:,.3g}{unit}" if abs(value) < 1000 else f"{value:,.0f}{unit}"


def judge(prediction: Prediction, guess: Any, summary: dict[str, Any]) -> Judgement:
    """Compare a guess with the run: a verdict is right or wrong; a number is spot on (within 10%, or 2
    points for a percentage), close (within a factor of 1.5, or 10 points) or off by a factor."""
    actual = figure_value(summary, prediction.figure)
    shown = shown_actual(prediction, summary)
    if prediction.kind == "verdict":
        right = str(guess) == str(actual)
        return Judgement(actual, guess, right, f"Right: it was **{shown}**" if right else f"Not quite: it was **{shown}**")
    value = float(actual or 0.0) * prediction.scale
    number = float(guess)
    difference = abs(number - value)
    if prediction.unit == "%":
        spot, near = difference <= 2.0, difference <= 10.0
    else:
        spot = difference <= 0.1 * max(abs(value), 1e-12) or difference < 0.5
        ratio = (max(number, value) / min(number, value)) if min(number, value) > 0 else math.inf
        near = ratio <= 1.5
    if spot:
        words = f"Spot on: it was **{shown}**"
    elif near:
        words = f"Close: it was **{shown}**"
    elif number > 0 and value > 0:
        factor = max(number, value) / min(number, value)
        words = f"It was **{shown}**: your guess was {factor:,.1f}× too {'high' if number > value else 'low'}"
    else:
        words = f"It was **{shown}**"
    return Judgement(value, number, spot or near, words)
