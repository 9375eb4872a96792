"""Advice that fits the mechanism and the numbers, not only the verdict.

`simbp.report.ADVICE` says what a verdict usually calls for; here the run's own mechanism and
figures decide: a Kafka topic is never told to "bound the queue"; bursts whose average the
consumers can handle are told that a larger buffer *is* the fix (and how large), while a
sustained overload is told that a larger buffer only delays the drops; a naive Node.js write, a
downstream without a semaphore, a retry storm and an idle Kafka consumer each get their own line.
"""

from __future__ import annotations

from typing import Any

from ..report import ADVICE
from ..results import Results

__all__ = ["advise", "consumer_capacity", "offered_rates"]


def consumer_capacity(scenario: Any, buffer: str) -> float | None:
    """Messages per second the consumers reading `buffer` can serve at full utilisation (None: unknown)."""
    total = 0.0
    for consumer in scenario.consumers:
        if consumer.from_ != buffer:
            continue
        mean = consumer.mean_service() if callable(getattr(consumer, "mean_service", None)) else None
        if not mean:
            return None
        total += consumer.workers / float(mean)
    return total or None


def offered_rates(scenario: Any, buffer: str) -> tuple[float, float]:
    """(mean, peak) arrival rate into `buffer` from its producers, per second, load multiplier applied."""
    mean = peak = 0.0
    for producer in scenario.producers:
        if producer.to != buffer:
            continue
        arrivals = producer.arrivals
        average = float(producer.mean_rate(scenario.duration))
        top = average
        on, off = getattr(arrivals, "on", None), getattr(arrivals, "off", None)
        if on is not None and off is not None:
            top = max(float(on.rate), float(off.rate))
        points = getattr(arrivals, "points", None)
        if points:
            top = max(float(getattr(p, "rate", 0.0)) for p in points)
        mean += average * scenario.load_multiplier
        peak += top * scenario.load_multiplier
    return mean, peak


def _buffer_lines(results: Results) -> list[str]:
    scenario, summary = results.scenario, results.summary
    lines = []
    for name, entry in summary.get("components", {}).items():
        if entry.get("kind") != "buffer" or not entry.get("dropped"):
            continue
        capacity = consumer_capacity(scenario, name)
        mean, peak = offered_rates(scenario, name)
        measured = sum(float(c.get("mean_rate_per_s") or 0.0) for n, c in summary["components"].items()
                       if c.get("kind") == "producer" and any(p.name == n and p.to == name for p in scenario.producers))
        mean = max(mean, measured)  # what was really sent, retries included
        if capacity is None or mean <= 0:
            continue
        if mean < 0.95 * capacity <= peak:
            spec = next((p.arrivals for p in scenario.producers if p.to == name), None)
            on = getattr(spec, "on", None)
            excess = (peak - capacity) * float(on.duration) if on is not None else None
            size = f" (each burst brings about {excess:,.0f} more than the consumers take: a capacity above that " \
                   f"absorbs it)" if excess else ""
            lines.append(f"**{name}** drops during bursts, but on average the consumers keep up ({mean:,.0f}/s "
                         f"offered against about {capacity:,.0f}/s): **a larger buffer is the fix here**{size}, at the "
                         f"cost of latency during the burst; or smooth the source with a rate limit.")
        elif mean >= 0.95 * capacity:
            lines.append(f"**{name}** receives about {mean:,.0f}/s but its consumers serve about {capacity:,.0f}/s: a "
                         "sustained overload. A larger buffer only delays the drops and adds latency; add consumers "
                         f"(about {mean / capacity:.2g}× today's capacity is needed), make service faster, or "
                         "rate-limit or shed at the source.")
    return lines


def _mechanism_lines(results: Results) -> list[str]:
    summary = results.summary
    components = summary.get("components", {})
    lines = []
    for name, entry in components.items():
        kind = entry.get("kind")
        if kind == "buffer" and entry.get("high_water_mark") is not None and summary.get("crashes"):
            lines.append(f"The source ignores `write()` returning false on **{name}**, so its buffer grows past the "
                         "highWaterMark until memory runs out. Honour backpressure: `readable.pipe(writable)`, "
                         "`stream.pipeline`, or `await once(writable, 'drain')` when `write()` returns false.")
        if kind == "downstream" and float(entry.get("error_ratio") or 0) > 0.05:
            capacity = entry.get("capacity")
            callers = [n for n, c in components.items() if c.get("downstream") == name and not c.get("semaphore")]
            if callers and int(entry.get("peak_in_flight") or 0) > int(capacity or 0):
                lines.append(f"**{name}** had up to {entry.get('peak_in_flight')} calls in flight against a capacity "
                             f"of {capacity}, so it slowed and failed {float(entry['error_ratio']):.0%} of calls. Cap "
                             f"concurrency with a semaphore of about {capacity} permits in {', '.join(callers)}.")
        if kind == "producer" and entry.get("retries") and entry.get("retries", 0) > 0.2 * entry.get("produced", 1):
            lines.append(f"**{name}** retried {entry['retries']:,} times ({entry['retries'] / entry['produced']:.0%} of "
                         "what it sent): retries of work that already waits too long feed the overload (a retry "
                         "storm). Use a retry budget, exponential backoff with jitter, and shed or time out earlier.")
        if kind == "producer" and (entry.get("discarded_by") or {}).get("rate_limit"):
            lines.append(f"The rate limit let **{name}** send {entry['rate_limit']['passed']:,} and rejected "
                         f"{entry['rate_limit']['limited']:,} at once: the queue behind it stays short. Rejected "
                         "callers must back off, or the rejections become retries.")
        if kind == "consumer_group":
            lines.extend(_kafka_lines(name, entry, components, summary))
    return lines


def _kafka_lines(name: str, entry: dict[str, Any], components: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    topic = components.get(str(entry.get("topic")), {})
    partitions = int(topic.get("partitions", 0))
    lines = []
    if entry.get("idle_consumers"):
        lines.append(f"{entry['idle_consumers']} of {entry['consumers']} consumers in **{name}** own no partition and "
                     f"sit idle: a group reads at most {partitions} partitions in parallel. To read faster add "
                     "partitions (repartitioning moves keys, so do it early) or make each message cheaper.")
    if topic.get("retention_lost"):
        lines.append(f"Retention deleted {topic['retention_lost']:,} messages before **{name}** read them: add "
                     f"consumers (up to {partitions}, then partitions), make processing cheaper, or keep messages "
                     "longer; alert when lag in seconds nears the retention time.")
    elif summary.get("verdict") == "falling_behind":
        active = int(entry.get("consumers_active", 0))
        more = "add consumers" if active < partitions else "add partitions and consumers"
        lines.append(f"**{name}** falls behind: its lag grows. Nothing is dropped yet (a topic keeps messages until "
                     f"retention), so the risk is stale data, then loss at retention: {more}, or make processing "
                     "cheaper. Bounding a queue does not apply to a Kafka topic.")
    return lines


def advise(results: Results) -> list[str]:
    """Lines of advice for this run: the mechanism's own first, else the verdict's general advice."""
    lines = _mechanism_lines(results) + _buffer_lines(results)
    if not lines:
        verdict = str(results.summary["verdict"])
        uses_kafka = any(c.get("kind") == "topic" for c in results.summary.get("components", {}).values())
        if uses_kafka and verdict == "healthy":
            lines.append("The group keeps up. Lag that saw-tooths with the commit interval is not a backlog; lag "
                         "whose troughs rise is. Try a higher load multiplier to find where the group stops keeping up.")
        else:
            lines.append(ADVICE.get(verdict, ""))
    return [line for line in lines if line]
