"""How big a run is, before it starts: which mode runs it, and refusing what is absurd.

Exact mode simulates every message, so its cost is the message count (rates × duration): above
`MAX_EXACT_MESSAGES` it is refused unless allowed. Fast mode (`simbp.fast.model`) costs a number of
quantum steps per component, bounded by design, plus a little per message: it is refused only when
that would be absurd. `choose_mode` picks the mode for `mode="auto"` and says why.

Beyond messages, the estimate counts what the budgets (`simbp.budget`) bound: events (arrivals
drawn, burst phases and schedule pieces passed, stage visits with retries), time-series rows and
cells, and workers. Schedules and bursts are integrated exactly, so a short spike or a step
between two samples is counted. The engines check the same budgets while running.
"""

from __future__ import annotations

import math
from typing import Any

from . import semantics
from .budget import DEFAULT_BUDGETS, Budgets
from .errors import Problem, ScenarioTooLarge
from .scenario import BurstyArrivals, Scenario, ScheduleArrivals, TraceArrivals
from .scenario.rates import bursty_integral, read_trace, schedule_integral
from .units import format_duration

__all__ = ["check_size", "check_budgets", "choose_mode", "estimate_messages", "estimate_fast_steps", "estimate_seconds",
           "estimate_events",
           "estimate_stage_visits", "estimate_batches", "estimate_workers", "estimate_samples", "estimate_columns", "MODES",
           "MAX_EXACT_MESSAGES", "EXACT_MESSAGES_PER_SECOND", "AUTO_FAST_ABOVE", "MAX_FAST_SECONDS"]

MODES = ("auto", "exact", "fast")
MAX_EXACT_MESSAGES = 20_000_000
EXACT_MESSAGES_PER_SECOND = 150_000  # measured order of magnitude on a 2-core machine (docs/performance.md)
AUTO_FAST_ABOVE = 2_000_000  # auto: more messages than this (about 10 s of exact mode) run in fast mode
FAST_SECONDS_PER_STEP = 40e-6  # one quantum of one component, measured (docs/performance.md)
FAST_SECONDS_PER_MESSAGE = 0.05e-6
MAX_FAST_SECONDS = 3600.0  # fast mode refuses only what would take over an hour
_GRID_STEPS_PER_EVENT = 32  # evenly spaced schedules walk a vectorised grid: 32 grid steps cost about one event
EVENTS_PER_PARTITION_SAMPLE = 16  # a Kafka partition settled and sampled costs about 16 events (measured, 17 µs)
EVENTS_PER_COMPONENT_SAMPLE = 3  # a producer, buffer or consumer counted and sampled costs about 3 events (measured)
WORKERS_COUNTED_PER_EVENT = 8  # an autoscaling check counts its group's workers: 8 of them cost about one event
BATCH_STEPS = 2  # a batch in fast mode costs about two quantum steps (measured, docs/performance.md)
BATCH_QUANTUM_STEPS = 2  # and a batch stage's quantum (its arrivals' times drawn) about two more
EXACT_SECONDS_PER_EVENT = 3.5e-6  # exact mode's cost of one event (docs/performance.md: 2–5 µs per message and stage)


def _active_span(scenario: Scenario, producer: Any) -> float:
    stop = min(producer.stop if producer.stop is not None else scenario.duration, scenario.duration)
    return max(stop - producer.start, 0.0)


def _producer_load(scenario: Scenario, producer: Any) -> tuple[float, float]:
    """(messages, arrival-generator work) of one producer over the run, load multiplier included."""
    arrivals = producer.arrivals
    span = _active_span(scenario, producer)
    multiplier = scenario.load_multiplier
    if isinstance(arrivals, TraceArrivals):
        timestamps = arrivals.format == "timestamps"
        length, count, last = _trace_figures(arrivals, scenario.base_dir)
        lap = (last if timestamps else length * arrivals.bin) or 1.0
        laps = math.ceil(span / lap) if arrivals.loop else 1
        messages = count * laps * multiplier
        return messages, messages + (0 if timestamps else length * laps)
    if isinstance(arrivals, BurstyArrivals):
        count, phases = bursty_integral(arrivals, span)
        return count * multiplier, count * multiplier + phases
    if isinstance(arrivals, ScheduleArrivals):
        count, bound, pieces = schedule_integral(arrivals, span)
        if arrivals.within == "poisson":
            work = bound * multiplier + pieces  # thinning draws at each piece's largest rate
        else:
            work = count * multiplier + (100 * span + 10 * bound * multiplier) / _GRID_STEPS_PER_EVENT + pieces
        return count * multiplier, work
    messages = arrivals.rate * span * multiplier
    return messages, messages


_TRACES: dict[tuple[Any, ...], tuple[int, float, float]] = {}


def _trace_figures(arrivals: TraceArrivals, base_dir: Any) -> tuple[int, float, float]:
    """(values, messages in one lap, last value) of a trace, read once per file version (sweeps
    estimate every point, and points share their traces)."""
    from .scenario.rates import data_file

    path = data_file(base_dir, arrivals.file)
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size, arrivals.column, arrivals.format)
    if key not in _TRACES:
        values = read_trace(arrivals, base_dir)
        count = len(values) if arrivals.format == "timestamps" else float(values.sum())
        if len(_TRACES) > 64:
            _TRACES.clear()
        _TRACES[key] = (len(values), count, float(values[-1]))
    return _TRACES[key]


def estimate_messages(scenario: Scenario) -> float:
    """Messages the scenario's producers will emit (traces: counted from the file; schedules and
    bursts: their rates integrated exactly over each producer's active time)."""
    return sum(_producer_load(scenario, producer)[0] for producer in scenario.producers)


def _visits_by_buffer(scenario: Scenario) -> dict[str, float]:
    """Stage visits (retried downstream calls included) of one message entering each buffer: the
    longest path of consumers from it. Stages form no loops (validated), so each buffer is solved
    once, deepest first, without recursion (a pipeline may have thousands of stages)."""
    readers: dict[str, list[Any]] = {}
    for consumer in scenario.consumers:
        readers.setdefault(consumer.from_, []).append(consumer)
    visits: dict[str, float] = {}
    for start in readers:
        stack = [start]
        while stack:
            buffer = stack[-1]
            if buffer in visits:
                stack.pop()
                continue
            waiting = [c.to for c in readers.get(buffer, []) if c.to is not None and c.to not in visits and c.to != buffer]
            if waiting:
                stack.extend(waiting)
                continue
            stack.pop()
            most = 0.0
            for consumer in readers.get(buffer, []):
                cost = 1.0 + (consumer.calls.retries + 1 if consumer.calls is not None else 0.0)
                most = max(most, cost + (visits.get(consumer.to, 0.0) if consumer.to is not None else 0.0))
            visits[buffer] = most
    return visits


def estimate_stage_visits(scenario: Scenario) -> float:
    """Times a message passes a stage (produced, then each consumer on its path), at most: a
    producer that retries counts every attempt, a downstream call every retry."""
    topics = {topic.name for topic in scenario.topics}
    visits = _visits_by_buffer(scenario)
    total = 0.0
    for producer in scenario.producers:
        messages, _ = _producer_load(scenario, producer)
        attempts = 1 + (producer.retry.max if producer.retry is not None else 0) + len(producer.operators)
        path = 1.0 if producer.to in topics else visits.get(producer.to, 0.0)
        total += messages * attempts * (1.0 + path)
    return total


def estimate_events(scenario: Scenario) -> float:
    """Exact mode's work for the `events` budget: arrivals drawn (with burst phases and schedule
    pieces passed), the stage visits after production, components and Kafka partitions visited at
    each sample, and autoscaling checks that count a group's workers."""
    generated = sum(_producer_load(scenario, producer)[1] for producer in scenario.producers)
    produced = estimate_messages(scenario)
    samples = estimate_samples(scenario)
    partitions = sum(topic.partitions for topic in scenario.topics) * samples * EVENTS_PER_PARTITION_SAMPLE
    components = len(scenario.producers) + len(scenario.buffers) + len(scenario.consumers)
    partitions += components * samples * EVENTS_PER_COMPONENT_SAMPLE
    scaling = 0.0
    for autoscale in [spec.autoscale for spec in scenario.consumers] + [group.autoscale for group in scenario.consumer_groups]:
        if autoscale is not None:
            scaling += scenario.duration / autoscale.check_every * autoscale.max / WORKERS_COUNTED_PER_EVENT
    return generated + max(estimate_stage_visits(scenario) - produced, 0.0) + partitions + scaling


def estimate_workers(scenario: Scenario) -> int:
    """Workers the run may hold at once: every consumer's and consumer group's, at autoscaling maxima."""
    total = 0
    for consumer in scenario.consumers:
        total += consumer.autoscale.max if consumer.autoscale is not None else consumer.workers
    for group in scenario.consumer_groups:
        total += max(group.initial_consumers, group.autoscale.max if group.autoscale is not None else 0)
    return total


def estimate_samples(scenario: Scenario) -> float:
    """Rows of the time series: one per sample interval, plus the first and the last."""
    return math.ceil(scenario.duration / scenario.effective_sample_interval) + 2


def estimate_columns(scenario: Scenario) -> int:
    """Columns of the time series, at least (the engines check the real width at the first sample)."""
    return (14 + len(scenario.producers) + 4 * len(scenario.buffers) + 2 * len(scenario.consumers)
            + sum(2 * topic.partitions + 6 for topic in scenario.topics) + 4 * len(scenario.consumer_groups))


def estimate_fast_steps(scenario: Scenario) -> float:
    """Quantum steps fast mode would take: quanta × (producers + buffers + consumer groups), plus the
    sub-steps of stages whose dropping buffer is small enough to be stepped finely throughout."""
    from .fast.model import choose_quantum, fine_substeps
    from .fast.systems.permits import step_equivalents as permit_steps

    quanta = math.ceil(scenario.duration / choose_quantum(scenario))
    steps = quanta * (len(scenario.producers) + len(scenario.buffers) + len(scenario.consumers))
    fine = fine_substeps(scenario)
    for substeps in fine.values():
        steps += quanta * 3 * (substeps - 1)  # producer, buffer and group of that stage, per sub-step
    for name, substeps in _storm_substeps(scenario).items():
        if name not in fine:
            steps += quanta * 3 * (substeps - 1)
    steps += quanta * BATCH_QUANTUM_STEPS * sum(1 for c in scenario.consumers if c.batch is not None)
    calls = permit_steps(scenario, quanta)  # calls that interact (fast.systems.permits)
    return float(steps) + calls + BATCH_STEPS * estimate_batches(scenario)


def _storm_substeps(scenario: Scenario) -> dict[str, int]:
    """Dropping buffers that callers retrying into could keep full (their first attempts and every
    retry over the workers' capacity): fast mode then sub-steps them near capacity all along."""
    from .fast.model import MAX_SUBSTEPS, SERVICE_FRACTION, choose_quantum

    quantum = choose_quantum(scenario)
    readers = {c.from_: c for c in scenario.consumers}
    result: dict[str, int] = {}
    for buffer in scenario.buffers:
        reader = readers.get(buffer.name)
        feeding = [p for p in scenario.producers if p.to == buffer.name]
        if reader is None or buffer.capacity is None or not any(p.retry or p.caller_timeout for p in feeding):
            continue
        mean = reader.mean_service()
        if not (mean > 0 and math.isfinite(mean)) or quantum <= SERVICE_FRACTION * mean:
            continue
        worst = sum(_producer_load(scenario, p)[0] * (1 + (p.retry.max if p.retry else 0)) for p in feeding)
        if worst / scenario.duration >= reader.workers / mean:
            result[buffer.name] = min(MAX_SUBSTEPS, math.ceil(quantum / (SERVICE_FRACTION * mean) - 1e-9))
    return result


def estimate_batches(scenario: Scenario) -> float:
    """Batches the batch consumers will make (fast mode steps them batch by batch): their messages
    over the batch a worker gathers, what arrives while it waits for the timeout or serves a batch
    of one (at least one, at most `size`)."""
    total = 0.0
    messages = estimate_messages(scenario)
    for consumer in scenario.consumers:
        if consumer.batch is None:
            continue
        batch = consumer.batch
        into = sum(_producer_load(scenario, p)[0] for p in scenario.producers if p.to == consumer.from_) or messages
        rate = into / scenario.duration / consumer.workers
        gathered = min(batch.size, max(1.0, rate * max(batch.timeout, batch.fixed.mean + batch.per_item.mean)))
        total += into / gathered
    return total


def estimate_seconds(scenario: Scenario, mode: str) -> float:
    """Computing time a run would take in `mode` ("exact" or "fast"), from the measured rates."""
    messages = estimate_messages(scenario)
    if mode == "exact":
        return messages / EXACT_MESSAGES_PER_SECOND
    return estimate_fast_steps(scenario) * FAST_SECONDS_PER_STEP + _drawn_messages(scenario, messages) * FAST_SECONDS_PER_MESSAGE


def _drawn_messages(scenario: Scenario, messages: float) -> float:
    """Messages whose service fast mode draws one by one: all of them, except those served by a
    group fed straight by producers that finishes enough of them each quantum to count them
    instead (`simbp.fast.renewal.COUNTED_FROM`; judged at the mean rate)."""
    from .fast.model import choose_quantum
    from .fast.renewal import COUNTED_FROM, squared_cv

    quantum = choose_quantum(scenario)
    counted = 0.0
    for consumer in scenario.consumers:
        if consumer.batch is not None or consumer.calls is not None or consumer.service is None:
            continue  # batch and calling groups draw per batch or per call (`fast.systems`)
        mean, scv = consumer.mean_service(), squared_cv(consumer.service, scenario.base_dir)
        into = sum(_producer_load(scenario, p)[0] for p in scenario.producers if p.to == consumer.from_)
        if not (mean > 0 and math.isfinite(mean) and math.isfinite(scv)) or into <= 0:
            continue
        finished_per_quantum = min(into / scenario.duration, consumer.workers / mean) * quantum
        if finished_per_quantum >= COUNTED_FROM * max(1.0, scv):
            counted += into
    return max(messages - counted, 0.0)


def check_budgets(scenario: Scenario, budgets: Budgets | None = None, *, mode: str = "exact",
                  allow_large: bool = False) -> None:
    """Refuse, before it starts, a run over a budget (`BudgetExceeded` names it): time-series rows
    and cells and workers (exact counts), and exact mode's estimated events, which `allow_large`
    lifts like the message limit (the engines still count events while running)."""
    budgets = budgets or DEFAULT_BUDGETS
    source = getattr(scenario, "_source", None)
    samples = estimate_samples(scenario)
    budgets.check("samples", samples, "the time series' length (duration / sample_interval)", file=source,
                  hint="Use a longer sample_interval or a shorter duration.")
    columns = estimate_columns(scenario)
    budgets.check("cells", samples * columns, f"the time series' size (about {samples:,.0f} rows × {columns:,} columns)",
                  file=source, hint="Use a longer sample_interval, or fewer partitions, buffers or consumers.")
    budgets.check("workers", estimate_workers(scenario), "the number of workers (consumers and consumer group members "
                  "at their autoscaling maxima)", file=source, hint="Model fewer, faster workers.")
    if mode == "exact" and not allow_large:
        budgets.check("events", estimate_events(scenario), "the estimated work in exact mode (arrivals drawn, burst "
                      "phases and schedule pieces, stage visits with retries, Kafka partitions at each sample)",
                      file=source, hint="Shorten `duration`, lower the rates, lengthen very short burst phases or "
                      "repeats, or run it in fast mode (--mode fast).")
    elif not allow_large:  # fast mode too settles and samples every Kafka partition at each sample
        partitions = sum(topic.partitions for topic in scenario.topics)
        budgets.check("events", partitions * samples * EVENTS_PER_PARTITION_SAMPLE,
                      f"the estimated work of sampling {partitions:,} Kafka partitions {samples:,.0f} times", file=source,
                      hint="Use fewer partitions or a longer sample_interval.")


def check_size(scenario: Scenario, *, allow_large: bool = False, limit: float = MAX_EXACT_MESSAGES,
               mode: str = "exact", budgets: Budgets | None = None) -> float:
    """The estimated message count; raises `ScenarioTooLarge` when the run in `mode` ("exact" or
    "fast") would be too large, unless allowed, and `BudgetExceeded` when the run is over one of
    `budgets` (`allow_large` lifts the events estimate too; other budgets are raised by name)."""
    messages = estimate_messages(scenario)
    source = getattr(scenario, "_source", None)
    if mode == "fast":
        steps = estimate_fast_steps(scenario)
        seconds = steps * FAST_SECONDS_PER_STEP + messages * FAST_SECONDS_PER_MESSAGE
        if not allow_large:
            (budgets or DEFAULT_BUDGETS).check(
                "wall", seconds, f"the estimated computing time in fast mode ({steps:,.0f} quantum steps for about "
                f"{messages:,.0f} messages)", file=source,
                hint="Shorten `duration`, use a longer `sample_interval`, or pass --allow-large to try anyway.")
        if not seconds <= MAX_FAST_SECONDS and not allow_large:
            raise ScenarioTooLarge([Problem(
                "duration",
                f"this scenario would take about {steps:,.0f} quantum steps for about {messages:,.0f} messages, "
                f"about {format_duration(seconds)} of computing even in fast mode. Shorten `duration`, use a longer "
                f"`sample_interval`, or pass --allow-large (allow_large=True) to run it anyway.", None, source)])
        check_budgets(scenario, budgets, mode=mode, allow_large=allow_large)
        return messages
    if not messages <= limit and not allow_large:
        seconds = messages / EXACT_MESSAGES_PER_SECOND
        raise ScenarioTooLarge([Problem(
            "duration",
            f"this scenario would simulate about {messages:,.0f} messages (producer rates × duration), "
            f"about {format_duration(seconds)} of computing in exact mode; the limit is {limit:,.0f}. "
            f"Shorten `duration`, lower the rates, run it in fast mode (--mode fast, mode='fast'), "
            f"or pass --allow-large (allow_large=True) to run it anyway.",
            None, source)])
    check_budgets(scenario, budgets, mode=mode, allow_large=allow_large)
    return messages


def choose_mode(scenario: Scenario, mode: str = "auto") -> tuple[str, str]:
    """The mode that will run (`"exact"` or `"fast"`) and one sentence saying why.

    `"auto"` runs exact mode up to `AUTO_FAST_ABOVE` messages and fast mode above, unless the
    scenario uses a mechanism fast mode cannot model. Forcing `"fast"` on such a scenario raises
    `ScenarioError` naming the mechanism.
    """
    from .fast.model import choose_quantum, require_supported
    from .fast.systems.permits import step_equivalents as permit_steps

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
        why = ("retries could keep a dropping buffer full, which fast mode steps finely" if _storm_substeps(scenario)
               else "fast mode steps batch consumers batch by batch, which is slower here"
               if any(c.batch is not None for c in scenario.consumers)
               else "fast mode steps calls that interact (a semaphore, a degrading downstream) at a cost per quantum "
                    "that this rate of calls does not repay" if permit_steps(scenario, 1.0)
               else "a small dropping buffer would make fast mode step finely")
        return "exact", (f"auto: about {messages:,.0f} messages, but {why} (about {format_duration(fast_seconds)} against "
                         f"{format_duration(exact_seconds)} in exact mode), so exact mode")
    mechanisms = semantics.fast_mechanisms(scenario)
    also = (f"; {', '.join(mechanisms)} modelled on counts too, within the bounds in `fast_error`" if mechanisms else "")
    return "fast", (f"auto: about {messages:,.0f} messages (over {AUTO_FAST_ABOVE:,}), so fast mode: message counts "
                    f"per quantum of {format_duration(choose_quantum(scenario))} instead of every message "
                    f"(exact mode would take about {format_duration(messages / EXACT_MESSAGES_PER_SECOND)}){also}")
