"""What each buffer policy, arrival process and mechanism *means*, declared once.

Every layer asks this table instead of writing its own if-chain: the schema builds its allowed
values from it, exact mode binds a buffer's put hook from it, fast mode and the theory bridge look
up what they do with it (or refuse it by name), `limits` asks it which mode can run a scenario, and
the dashboard lists the policies from it. A name the table does not know fails loudly everywhere
(`UnknownSemantics`); a name an engine has not learned fails loudly in that engine
(`NotModelled`), naming the policy and the engine.

Adding a policy is one `register_policy(Policy(...))` with its exact-mode hook: exact mode runs it
at once, while fast mode and theory refuse it until their fields are filled in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "Policy",
    "ArrivalProcess",
    "Mechanism",
    "UnknownSemantics",
    "NotModelled",
    "POLICIES",
    "ARRIVALS",
    "MECHANISMS",
    "FAST_POLICY_RULES",
    "register_policy",
    "unregister_policy",
    "policy",
    "arrival_process",
    "policy_names",
    "fast_unsupported",
    "fast_mechanisms",
]

Engine = Literal["exact", "fast", "theory"]
FAST_POLICY_RULES = ("drop_newest", "drop_oldest", "block", "unbounded")
"""The overflow rules fast mode knows how to apply to message counts (see `Policy.fast`)."""


class UnknownSemantics(LookupError):
    """A policy or arrival process that the semantics table does not declare."""


class NotModelled(LookupError):
    """A declared policy or process that one engine (fast mode, theory) cannot model."""

    def __init__(self, what: str, name: str, engine: str, hint: str = ""):
        self.what, self.name, self.engine = what, name, engine
        super().__init__(f"{engine} cannot model {what} {name!r}" + (f": {hint}" if hint else ""))


@dataclass(frozen=True)
class Policy:
    """A buffer policy: what happens when an item arrives at a full buffer.

    `exact` is the exact-mode put hook: the name of a `simbp.exact.buffer.Buffer` method, or a
    function `(buffer, created, size) -> ACCEPTED | DROPPED | WAITING`. `fast` is the overflow
    rule fast mode applies to counts (one of `FAST_POLICY_RULES`), or None when it cannot.
    `theory` names the queueing model for this policy (None: no theory applies).
    """

    name: str
    when_full: str
    bounded: bool
    drops: bool
    blocks: bool
    exact: str | Callable[[Any, float, float], int]
    fast: str | None = None
    theory: str | None = None
    theory_note: str = ""


@dataclass(frozen=True)
class ArrivalProcess:
    """An arrival process: how exact mode draws times, how fast mode draws counts, what theory sees.

    `theory` is the Kendall letter of the arrival stream ("M" for Poisson, "D" for evenly spaced),
    or None when the rate varies in time and no stationary formula applies. `stationary` says whether
    the load settles into a steady state that planning can measure: always, only when the process
    repeats (`repeat:`), or never (and `unsteady` says why, in words that follow "producer NAME").
    """

    name: str
    meaning: str
    exact: str
    fast: str | None
    theory: Literal["M", "D"] | None
    stationary: Literal["always", "when repeating", "never"] = "always"
    unsteady: str = ""


@dataclass(frozen=True)
class Mechanism:
    """An optional mechanism, found by a scenario field path: which engines model it."""

    name: str
    path: str
    fast: bool
    theory: bool
    why_not_fast: str = ""
    fast_limits: Callable[[Any, Any], str] | None = None
    """With `fast=True`: given the component's spec (the producer, buffer or consumer holding the key)
    and the scenario, the settings of this mechanism fast mode still leaves to exact mode, as a reason
    ("" when none)."""


POLICIES: dict[str, Policy] = {}
ARRIVALS: dict[str, ArrivalProcess] = {}


def register_policy(entry: Policy) -> Policy:
    """Declare a buffer policy; the schema accepts it and exact mode runs it from now on."""
    if entry.fast is not None and entry.fast not in FAST_POLICY_RULES:
        raise ValueError(f"fast rule {entry.fast!r} is not one of {', '.join(FAST_POLICY_RULES)}")
    POLICIES[entry.name] = entry
    return entry


def unregister_policy(name: str) -> None:
    """Forget a policy (tests that register one clean up with this)."""
    POLICIES.pop(name, None)


def policy_names() -> tuple[str, ...]:
    """The declared policies, in declaration order."""
    return tuple(POLICIES)


def policy(name: str, engine: Engine | None = None) -> Policy:
    """The declaration of policy `name`; with `engine`, raise `NotModelled` if that engine cannot."""
    try:
        entry = POLICIES[name]
    except KeyError:
        raise UnknownSemantics(f"unknown buffer policy {name!r}; declared policies: {', '.join(POLICIES)}") from None
    if engine == "fast" and entry.fast is None:
        raise NotModelled("buffer policy", name, "fast mode", "run it in exact mode")
    if engine == "theory" and entry.theory is None:
        raise NotModelled("buffer policy", name, "queueing theory", "no formula is declared for it")
    return entry


def arrival_process(name: str, engine: Engine | None = None) -> ArrivalProcess:
    """The declaration of arrival process `name`; with `engine`, raise `NotModelled` if it cannot."""
    try:
        entry = ARRIVALS[name]
    except KeyError:
        raise UnknownSemantics(f"unknown arrival process {name!r}; declared: {', '.join(ARRIVALS)}") from None
    if engine == "fast" and entry.fast is None:
        raise NotModelled("arrival process", name, "fast mode", "run it in exact mode")
    if engine == "theory" and entry.theory is None:
        raise NotModelled("arrival process", name, "queueing theory", "its rate varies in time")
    return entry


for _entry in (
    Policy("block", "the producer (or forwarding worker) waits for room", bounded=True, drops=False, blocks=True,
           exact="_put_block", fast="block", theory="M/M/c/K",
           theory_note="a blocked Poisson producer is a lost arrival: M/M/c/K's loss is the share of arrivals "
                       "that would find the buffer full"),
    Policy("drop_newest", "the arriving item is dropped", bounded=True, drops=True, blocks=False,
           exact="_put_drop_newest", fast="drop_newest", theory="M/M/c/K",
           theory_note="K = capacity + workers: an arrival finding K in the system is lost"),
    Policy("drop_oldest", "the oldest waiting item is dropped to make room", bounded=True, drops=True, blocks=False,
           exact="_put_drop_oldest", fast="drop_oldest", theory="M/M/c/K",
           theory_note="the loss ratio is M/M/c/K's; latency percentiles are approximate (a waiting item is lost "
                       "instead of the arrival)"),
    Policy("unbounded", "no limit: memory grows until the service's memory limit crashes it", bounded=False,
           drops=False, blocks=False, exact="_put_unbounded", fast="unbounded", theory="M/M/c",
           theory_note="Erlang C; stable only below 100% utilisation"),
):
    register_policy(_entry)

for _process in (
    ArrivalProcess("constant", "evenly spaced", exact="constant", fast="integrated rate", theory="D"),
    ArrivalProcess("poisson", "independent arrivals (exponential gaps)", exact="poisson", fast="poisson counts",
                   theory="M"),
    ArrivalProcess("bursty", "on and off periods, each with its rate", exact="bursty", fast="poisson counts per phase",
                   theory=None),
    ArrivalProcess("schedule", "a rate curve (steps or ramps), optionally repeating", exact="schedule",
                   fast="integrated rate", theory=None, stationary="when repeating",
                   unsteady="follows a schedule that does not repeat"),
    ArrivalProcess("trace", "replayed timestamps or counts from a CSV", exact="trace", fast="exact counts",
                   theory=None, stationary="never", unsteady="replays a trace"),
):
    ARRIVALS[_process.name] = _process

def _target_blocks(producer: Any, scenario: Any, what: str) -> str:
    """`what` (each emission would wait for room on its own) when the producer's buffer blocks."""
    target = next((b for b in scenario.buffers if b.name == producer.to), None)
    if target is not None and target.policy in POLICIES and POLICIES[target.policy].blocks:
        return f"{what}: each would wait for room on its own"
    return ""


TIMEOUT_STEPS = 4096
"""A `block_timeout` shorter than the quantum a run may get over this many is left to exact mode: fast
mode steps a stage whose producers may block at half its timeout (`fast.model.TIMEOUT_FRACTION`)."""


def _timeout_limits(buffer: Any, scenario: Any) -> str:
    """What of a buffer's `block_timeout` fast mode leaves to exact mode: waits for room other than a
    producer's own blocked emission (forwarding workers, RxJS operators' emissions; per-request waits
    and retries are named by their own keys), readers other than plain workers, and timeouts far
    shorter than the quantum."""
    if any(c.to == buffer.name for c in scenario.consumers):
        return ("a stage forwarding into this buffer (consumers[].to): its workers' waits for room, each given up "
                "after block_timeout, are not timed in fast mode")
    if any(p.to == buffer.name and p.operators for p in scenario.producers):
        return "RxJS operators' emissions into this buffer: each waits for room, and gives up, on its own"
    readers = [c for c in scenario.consumers if c.from_ == buffer.name]
    if any(c.batch is not None or c.calls is not None for c in readers):
        return ("a block_timeout on a buffer read by a batch or calling consumer: fast mode's timeouts were measured "
                "against exact mode only with workers that take one message at a time (service:)")
    means = [float(c.mean_service()) for c in readers]
    finite = [0.25 * m for m in means if 0 < m < float("inf")]
    coarsest = scenario.effective_sample_interval  # a quantum divides the sample interval
    if finite:  # and is no coarser than a quarter service time, or the run's length over its most quanta
        coarsest = min(coarsest, max(scenario.duration / 100_000, min(finite)))
    if buffer.block_timeout * TIMEOUT_STEPS < coarsest:
        return (f"a block_timeout under 1/{TIMEOUT_STEPS:,} of the quantum a run this long may get "
                f"({coarsest:.3g} s): fast mode would step the stage at half of it")
    return ""


def _request_limits(producer: Any, scenario: Any) -> str:
    """What of requests waiting on their own (`blocking: request`) fast mode leaves to exact mode: a
    producer that is also shed by priority (its waiting requests are not shed again when offered), a
    buffer others also feed, and a buffer read by a batch or calling consumer."""
    target = next((b for b in scenario.buffers if b.name == producer.to), None)
    if producer.priority is not None and target is not None and target.shed and producer.priority in target.shed:
        return "requests waiting on their own from a producer shed by priority (buffers[].shed)"
    if any(p.to == producer.to and p is not producer for p in scenario.producers) \
            or any(c.to == producer.to for c in scenario.consumers):
        return ("requests waiting on their own for a buffer other producers or stages also feed: measured against exact "
                "mode only with the requests alone")
    if any(c.from_ == producer.to and (c.batch is not None or c.calls is not None) for c in scenario.consumers):
        return ("requests waiting on their own for a buffer read by a batch or calling consumer: measured against exact "
                "mode only with workers that take one message at a time (service:)")
    return ""


def _retry_limits(producer: Any, scenario: Any) -> str:
    """What of a producer's retries fast mode leaves to exact mode."""
    if producer.operators:
        return "retries of values that passed RxJS operators"
    return _target_blocks(producer, scenario, "retries of requests waiting on a block buffer (block_timeout)")


_COLLAPSE = ("a downstream that loses throughput with concurrency (overload.slowdown × capacity > 1) called by more "
             "than its capacity at once (no semaphore at or under it): whether and when a chance burst of calls tips it "
             "into congestion collapse depends on the calls' exact timing, which counts per quantum smooth (measured: "
             "loss +10% at 70% load), so no error bound holds")
STREAM_BANK_CHUNKS = 20_000
"""Chunks fast mode simulates per source rate to replay a piped Node.js stream (`fast/systems/streams.py`)."""


def _marks_pause(consumer: Any, scenario: Any) -> bool:
    """A transform: a consumer forwarding into a writable with a mark, pausing on it (the default)."""
    target = next((b for b in scenario.buffers if b.name == consumer.to), None) if consumer.to else None
    return target is not None and target.high_water_mark is not None and (consumer.on_backpressure or "pause") == "pause"


def _stream_limits(buffer: Any, scenario: Any) -> str:
    """What of a Node.js writable fast mode leaves to exact mode: transforms that pause, and piped
    sources whose stage is not one source into one `_write()` (the cycles `fast/systems/streams.py` replays)."""
    if any(_marks_pause(c, scenario) for c in scenario.consumers if c.to == buffer.name):
        return ("a transform pausing on this writable's mark (consumers[].on_backpressure: pause, the default): its "
                "pauses couple two stages' write()/'drain' cycles, which fast mode does not replay")
    sources = [p for p in scenario.producers if p.to == buffer.name]
    piped = [p for p in sources if (p.on_backpressure or "pause") == "pause"]
    if not piped:
        return ""
    readers = [c for c in scenario.consumers if c.from_ == buffer.name]
    if len(sources) > 1 or any(c.to == buffer.name for c in scenario.consumers):
        return "a piped source sharing its writable with other writers: fast mode replays one source's cycles"
    if len(readers) != 1 or readers[0].service is None or readers[0].to is not None or readers[0].calls is not None \
            or readers[0].autoscale is not None:
        return "a piped source into a writable not read by one plain _write() (service, no to:, calls or autoscale)"
    source = piped[0]
    if source.retry is not None or source.rate_limit is not None or source.priority is not None \
            or source.caller_timeout is not None:
        return "a piped source that also retries, is rate limited or shed"
    mark = buffer.high_water_mark
    mean_size = float(source.size.mean)
    chunks = mark.limit / mean_size if mark.counts_bytes and mean_size > 0 else mark.limit
    if chunks > STREAM_BANK_CHUNKS / 8:
        return (f"a mark of about {chunks:,.0f} chunks: a write()/'drain' cycle longer than the "
                f"{STREAM_BANK_CHUNKS:,} chunks fast mode simulates per source rate")
    return ""




def _downstream_limits(scenario: Any) -> str:
    """Downstreams fast mode leaves to exact mode: none by themselves (calls that interact are stepped
    by `simbp.fast.systems.permits`; see `_call_limits` for the callers it leaves)."""
    return ""


def _call_limits(consumer: Any, scenario: Any) -> str:
    """A calling consumer fast mode leaves to exact mode: one forwarding to another stage, or one
    that can tip its downstream into congestion collapse."""
    downstream = next((d for d in scenario.downstreams if d.name == consumer.calls.downstream), None)
    if consumer.to is not None and (consumer.calls.semaphore is not None or consumer.calls.timeout is not None
                                    or downstream is None or downstream.error_rate > 0 or downstream.overload.slowdown > 0
                                    or downstream.overload.error_rate > 0):
        return ("a calling consumer forwarding to another stage (to:) whose calls can fail (error_rate, timeout) or "
                "interact (semaphore, overload): fast mode forwards only calls that always answer")
    concurrency = min(consumer.workers, consumer.calls.semaphore or consumer.workers)
    if downstream is not None and downstream.overload.slowdown * downstream.capacity > 1 \
            and concurrency > downstream.capacity:
        return f"calls to {downstream.name!r}, {_COLLAPSE}"
    return ""


MECHANISMS: tuple[Mechanism, ...] = (
    Mechanism("Kafka topics", "topics", fast=True, theory=False, why_not_fast="topics, partitions and keys"),
    Mechanism("Kafka consumer groups", "consumer_groups", fast=True, theory=False,
              why_not_fast="polls, commits and rebalances"),
    Mechanism("downstream services", "downstreams", fast=True, theory=False,
              fast_limits=lambda _, scenario: _downstream_limits(scenario)),
    Mechanism("producer keys", "producers[].key", fast=True, theory=False),
    Mechanism("backpressure handling at the source", "producers[].on_backpressure", fast=True, theory=False),
    Mechanism("callers that wait", "producers[].blocking", fast=True, theory=False,
              why_not_fast="each request waits for room on its own, with its own deadline (blocking: request)",
              fast_limits=lambda producer, scenario: _request_limits(producer, scenario)),
    Mechanism("caller time-outs", "producers[].caller_timeout", fast=True, theory=False),
    Mechanism("retries", "producers[].retry", fast=True, theory=False,
              fast_limits=lambda producer, scenario: _retry_limits(producer, scenario)),
    Mechanism("RxJS operators", "producers[].operators", fast=True, theory=False),
    Mechanism("rate limits", "producers[].rate_limit", fast=True, theory=False),
    Mechanism("priority shedding", "producers[].priority", fast=True, theory=False),
    Mechanism("block time-outs", "buffers[].block_timeout", fast=True, theory=False,
              why_not_fast="a blocked caller gives up after its own wait (block_timeout)",
              fast_limits=lambda buffer, scenario: _timeout_limits(buffer, scenario)),
    Mechanism("high-water marks", "buffers[].high_water_mark", fast=True, theory=False,
              fast_limits=lambda buffer, scenario: _stream_limits(buffer, scenario)),
    # a transform that pauses on the next writable's mark is named by that writable's limit (`_stream_limits`)
    Mechanism("transform backpressure", "consumers[].on_backpressure", fast=True, theory=False),
    Mechanism("shedding", "buffers[].shed", fast=True, theory=False),
    Mechanism("batch consumers", "consumers[].batch", fast=True, theory=False,
              fast_limits=lambda consumer, _: "a batch consumer forwarding to another stage (to:)" if consumer.to else ""),
    Mechanism("downstream calls", "consumers[].calls", fast=True, theory=False,
              fast_limits=lambda consumer, scenario: _call_limits(consumer, scenario)),
    Mechanism("worker autoscaling", "consumers[].autoscale", fast=True, theory=False,
              fast_limits=lambda consumer, _: "a batch consumer's autoscaled workers" if consumer.batch else ""),
    Mechanism("forwarding between stages", "consumers[].to", fast=True, theory=False),
    Mechanism("a memory limit", "memory", fast=True, theory=False),
)
"""Optional mechanisms by field path. A field not listed here and not in the core (`_CORE_FIELDS`) is
treated as a mechanism fast mode cannot model, so a new key is refused by fast mode until declared."""

_CORE_FIELDS = {
    "": {"name", "description", "duration", "seed", "sample_interval", "warmup", "load_multiplier", "memory",
         "producers", "buffers", "consumers", "expect"},
    "producers[]": {"name", "to", "arrivals", "size", "start", "stop"},
    "buffers[]": {"name", "capacity", "policy"},
    "consumers[]": {"name", "from_", "workers", "service", "to"},
    "memory": {"limit", "restart_after", "per_item_overhead", "baseline"},
}


def _set_fields(spec: Any, known: set[str], prefix: str, generic: str) -> list[tuple[str, str, Any]]:
    """Fields of `spec` outside `known` set away from their default: (display path, generic path, spec)."""
    found = []
    for name, field in type(spec).model_fields.items():
        if name in known:
            continue
        if getattr(spec, name) != field.get_default(call_default_factory=True):
            key = field.alias or name
            found.append((f"{prefix}{key}", f"{generic}{key}" if generic else key, spec))
    return found


def fast_unsupported(scenario: Any) -> list[str]:
    """What in `scenario` (a `simbp.scenario.Scenario`) fast mode cannot model, as field paths with a reason (empty: it can)."""
    by_path = {m.path: m for m in MECHANISMS}
    fields = _set_fields(scenario, _CORE_FIELDS[""], "", "")
    for index, producer in enumerate(scenario.producers):
        fields += _set_fields(producer, _CORE_FIELDS["producers[]"], f"producers[{index}].", "producers[].")
        process = getattr(producer.arrivals, "process", None)
        if process not in ARRIVALS or ARRIVALS[process].fast is None:
            fields.append((f"producers[{index}].arrivals.process", f"arrival process {process}", producer))
    for index, buffer in enumerate(scenario.buffers):
        fields += _set_fields(buffer, _CORE_FIELDS["buffers[]"], f"buffers[{index}].", "buffers[].")
        entry = POLICIES.get(buffer.policy)
        if entry is None or entry.fast is None:
            fields.append((f"buffers[{index}].policy", f"buffer policy {buffer.policy}", buffer))
    readers: dict[str, list[int]] = {}
    for index, consumer in enumerate(scenario.consumers):
        fields += _set_fields(consumer, _CORE_FIELDS["consumers[]"], f"consumers[{index}].", "consumers[].")
        readers.setdefault(consumer.from_, []).append(index)
    if scenario.memory is not None:
        fields += _set_fields(scenario.memory, _CORE_FIELDS["memory"], "memory.", "memory.")
    found = []
    for shown, generic, spec in fields:
        mechanism = by_path.get(generic)
        if mechanism is not None and mechanism.fast:
            limit = mechanism.fast_limits(spec, scenario) if mechanism.fast_limits is not None else ""
            if limit:
                found.append(f"{shown}: {limit}")
            continue
        reason = mechanism.why_not_fast or mechanism.name if mechanism else generic
        found.append(f"{shown}: {reason}" if reason != shown else shown)
    for name, indices in readers.items():
        if len(indices) > 1:
            found.append(f"consumers[{indices[1]}].from: several consumer groups competing for buffer {name!r}")
    return found


def fast_mechanisms(scenario: Any) -> list[str]:
    """The optional mechanisms `scenario` uses that fast mode models, by name, in declaration order
    (beyond the core: what `mode_reason` names when auto picks fast mode)."""
    fields = _set_fields(scenario, _CORE_FIELDS[""], "", "")
    for producer in scenario.producers:
        fields += _set_fields(producer, _CORE_FIELDS["producers[]"], "", "producers[].")
    for buffer in scenario.buffers:
        fields += _set_fields(buffer, _CORE_FIELDS["buffers[]"], "", "buffers[].")
    for consumer in scenario.consumers:
        fields += _set_fields(consumer, _CORE_FIELDS["consumers[]"], "", "consumers[].")
    used = {generic for _, generic, _ in fields}
    names = [m.name for m in MECHANISMS if m.fast and m.path in used and m.path not in ("memory", "consumers[].to")]
    if any(c.calls is not None and c.calls.semaphore is not None for c in scenario.consumers):
        names.append("calls behind a semaphore")  # calls that interact (simbp.fast.systems.permits)
    if any(d.overload.slowdown > 0 or d.overload.error_rate > 0 for d in scenario.downstreams):
        names.append("downstreams degrading in overload")
    return names
