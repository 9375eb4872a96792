"""Which queueing model applies to a scenario, and what it predicts (`theory_prediction`); the
cheapest configuration of a plan's search space that theory says meets the targets.

Theory is offered only where it holds, and says which:

- **exact**: Poisson arrivals, exponential service, one buffer drained by one consumer group:
  M/M/c (Erlang C) for an unbounded buffer, M/M/c/K for `drop_newest` (loss, mean and percentiles
  of the latency of accepted messages) and `drop_oldest` (loss only: pushing out a waiting message
  changes who waits);
- **approximate**, labelled with the squared coefficients of variation used: other arrivals or
  service with finite variance, on an unbounded buffer or one far larger than the predicted queue:
  Allen–Cunneen for the mean latency (no percentiles: no formula for G/G/c percentiles is
  defensible); `block` as M/M/c/K (the producer waits instead of losing);
- **none**, with the reason by name: what `simbp.semantics` declares no theory for (a policy, an
  arrival process, a mechanism such as Kafka), pipelines, batches, and service times with infinite
  variance (heavy tails: Pareto with α ≤ 2), where queueing means and percentiles are not finite
  or not predictable.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .. import semantics, theory
from ..scenario import Scenario, get_path
from .queueing import allen_cunneen_wait, mmck_sojourn_quantile, service_scv
from .study import Study

__all__ = ["TheoryPrediction", "TheoryAnswer", "theory_prediction", "theory_answer", "ROOMY_BUFFER"]

ROOMY_BUFFER = 10  # a bounded buffer counts as unbounded for G/G/c when it holds this many times the predicted queue
_PERCENTILES = ((0.5, "p50"), (0.95, "p95"), (0.99, "p99"))


@dataclass
class TheoryPrediction:
    """What queueing theory says about a one-stage scenario: the model, its inputs and figures."""

    model: str
    exact: bool
    notes: list[str]
    arrival_rate: float
    service_rate: float
    workers: int
    system_capacity: int | None
    figures: dict[str, float]
    arrival_scv: float = 1.0
    service_scv: float = 1.0
    approximate: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """"exact" or "approximation"."""
        return "exact" if self.exact else "approximation"

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "exact": self.exact, "kind": self.kind, "notes": self.notes,
                "arrival_rate_per_s": self.arrival_rate, "service_rate_per_s": self.service_rate, "workers": self.workers,
                "system_capacity": self.system_capacity, "arrival_scv": self.arrival_scv, "service_scv": self.service_scv,
                "figures": self.figures}


_CORE = {  # the fields the queueing formulas read; anything else set away from its default is a mechanism
    "": {"name", "description", "duration", "seed", "sample_interval", "warmup", "load_multiplier", "memory",
         "producers", "buffers", "consumers", "expect"},
    "producers[].": {"name", "to", "arrivals", "size", "start", "stop"},
    "buffers[].": {"name", "capacity", "policy"},
    "consumers[].": {"name", "from_", "workers", "service"},
}


def _mechanisms(scenario: Scenario) -> list[str]:
    """What the scenario uses beyond the formulas' fields, by the semantics table's name (or the
    field path when the table does not declare it): theory models none of these."""
    declared = {m.path: m for m in semantics.MECHANISMS}
    found: list[str] = []

    def check(spec: Any, generic: str) -> None:
        for name, info in type(spec).model_fields.items():
            if name in _CORE[generic] or getattr(spec, name) == info.get_default(call_default_factory=True):
                continue
            path = f"{generic}{info.alias or name}"
            mechanism = declared.get(path)
            if mechanism is None or not mechanism.theory:
                label = mechanism.name if mechanism is not None else path
                if label not in found:
                    found.append(label)

    check(scenario, "")
    for group in ("producers", "buffers", "consumers"):
        for item in getattr(scenario, group):
            check(item, f"{group}[].")
    return found


def _memory_note(scenario: Scenario, capacity: int | None, workers: int) -> str | None:
    """None when the memory limit can matter (theory then does not apply); else a note saying why not."""
    memory = scenario.memory
    if memory is None:
        return ""
    sizes = [p.size for p in scenario.producers]
    if capacity is None or any(getattr(s, "dist", "constant") != "constant" for s in sizes):
        return None
    largest = max(float(getattr(s, "mean", 0.0)) for s in sizes) + memory.per_item_overhead
    held = memory.baseline + (capacity + len(scenario.producers)) * largest
    if held >= memory.limit:
        return None
    return (f"the memory limit cannot be reached: at most {capacity} items of at most {largest:,.0f} bytes are held "
            f"({held:,.0f} bytes against the {memory.limit:,.0f}-byte limit)")


def theory_prediction(scenario: Scenario) -> TheoryPrediction | str:
    """The queueing model for a one-buffer, one-consumer-group scenario and its figures, or a
    sentence saying why no theory applies (see the module docstring)."""
    mechanisms = _mechanisms(scenario)
    if mechanisms:
        return f"no theory applies: queueing theory does not model {', '.join(mechanisms)}"
    if len(scenario.consumers) != 1 or len(scenario.buffers) != 1:
        return "no theory applies: the formulas cover one buffer drained by one consumer group, and this is a pipeline"
    group, buffer = scenario.consumers[0], scenario.buffers[0]
    if group.batch is not None or group.to is not None or group.service is None:
        return "no theory applies: batching consumers and forwarding are not modelled"
    try:  # the semantics table says which model applies, and refuses by name what it does not declare
        arrivals = [semantics.arrival_process(p.arrivals.process, "theory") for p in scenario.producers]
        policy = semantics.policy(buffer.policy, "theory")
    except (semantics.NotModelled, semantics.UnknownSemantics) as error:
        return f"no theory applies: {error}"
    if any(p.start > 0 or p.stop is not None for p in scenario.producers):
        return "no theory applies: producers start late or stop early, so the load is not steady"
    cs2 = service_scv(group.service)
    if cs2 is None:
        alpha = getattr(group.service, "alpha", None)
        detail = f" (Pareto α = {alpha:g} ≤ 2)" if alpha is not None else ""
        return (f"no theory applies: the service time's variance is infinite or unknown{detail}, so waits have no "
                f"finite mean or stable percentiles to predict")
    rates = [p.mean_rate(scenario.duration) * scenario.load_multiplier for p in scenario.producers]
    rate = sum(rates)
    mean_service = group.mean_service()
    if rate <= 0 or mean_service <= 0:
        return "no theory applies: it needs arrivals and a positive mean service time"
    ca2 = sum(r / rate * (1.0 if a.theory == "M" else 0.0) for r, a in zip(rates, arrivals))
    mu, workers = 1.0 / mean_service, group.workers
    capacity = int(buffer.capacity or 0) + workers if policy.bounded else None
    memory = _memory_note(scenario, capacity, workers)
    if memory is None:
        return "no theory applies: the memory limit can be reached (crashes are not modelled)"
    markovian = all(a.theory == "M" for a in arrivals) and getattr(group.service, "dist", "") == "exponential"
    prediction: TheoryPrediction | str
    if markovian:
        prediction = _markovian(rate, mu, workers, capacity, policy, group.name, buffer.capacity)
    else:
        prediction = _approximate(rate, mu, workers, capacity, ca2, cs2, policy, group.name, buffer.capacity)
    if isinstance(prediction, TheoryPrediction) and memory:
        prediction.notes.append(memory)
    return prediction


def _common(figures: dict[str, float], rate: float, mu: float, workers: int, group: str, loss: float) -> None:
    accepted = rate * (1.0 - loss)
    figures["throughput_per_s"] = min(accepted, workers * mu)
    figures[f"components.{group}.utilisation"] = min(1.0, accepted / (workers * mu))
    for name in ("mean", "p50", "p95", "p99"):
        if f"latency_s.{name}" in figures:
            figures[f"components.{group}.latency_s.{name}"] = figures[f"latency_s.{name}"]


def _markovian(rate: float, mu: float, workers: int, capacity: int | None, policy: semantics.Policy, group: str,
               room: int | None) -> TheoryPrediction:
    notes = [f"{policy.name}: {policy.theory_note}"] if policy.theory_note else []
    figures: dict[str, float] = {}
    if capacity is None:
        model = f"{policy.theory} (Erlang C)"
        figures["loss_ratio"] = 0.0
        figures["latency_s.mean"] = theory.mmc_mean_sojourn(rate, mu, workers)
        for quantile, name in _PERCENTILES:
            figures[f"latency_s.{name}"] = theory.mmc_sojourn_quantile(rate, mu, workers, quantile)
        if rate >= workers * mu:
            notes.append("unstable: arrivals reach or exceed what the workers can serve, so the backlog grows without end")
    else:
        model = policy.theory or "M/M/c/K"
        notes.append(f"K = capacity {room} + {workers} workers = {capacity}")
        blocking = theory.mmck_blocking(rate, mu, workers, capacity)
        if policy.blocks:  # nothing is lost: the producer waits while the buffer is full
            figures["loss_ratio"] = 0.0
            figures["producer_blocked_fraction"] = blocking
        else:
            figures["loss_ratio"] = blocking
        if policy.name != "drop_oldest":  # pushing out a waiting message changes who waits
            figures["latency_s.mean"] = theory.mmck_mean_sojourn(rate, mu, workers, capacity)
            for quantile, name in _PERCENTILES:
                figures[f"latency_s.{name}"] = mmck_sojourn_quantile(rate, mu, workers, capacity, quantile)
    turned_away = figures.get("producer_blocked_fraction", 0.0) if policy.blocks else figures["loss_ratio"]
    _common(figures, rate, mu, workers, group, turned_away)
    exact = not policy.blocks
    approximate = [] if exact else [f for f in figures if f != "loss_ratio"]
    return TheoryPrediction(model, exact, notes, rate, mu, workers, capacity, figures, 1.0, 1.0, approximate)


def _approximate(rate: float, mu: float, workers: int, capacity: int | None, ca2: float, cs2: float,
                 policy: semantics.Policy, group: str, room: int | None) -> TheoryPrediction | str:
    """Allen–Cunneen G/G/c: the mean latency only, and only where the buffer never fills."""
    if rate >= workers * mu:
        return (f"no theory applies: G/G/c with ca² = {ca2:.3g}, cs² = {cs2:.3g} is unstable at this load "
                f"(arrivals reach what the workers can serve)")
    wait = allen_cunneen_wait(rate, mu, workers, ca2, cs2)
    notes = [f"an approximation: Allen–Cunneen for G/G/c with arrival ca² = {ca2:.3g} and service cs² = {cs2:.3g} "
             f"(exact only for M/M/c); mean latency only, no percentiles"]
    if capacity is not None:
        queue = rate * wait
        if room is None or room < ROOMY_BUFFER * max(queue, 1.0):
            return (f"no theory applies: the {policy.name} buffer (capacity {room}) is not roomy enough to treat as "
                    f"unbounded (predicted mean queue {queue:.3g}), and no formula gives a bounded G/G/c queue's loss "
                    f"(ca² = {ca2:.3g}, cs² = {cs2:.3g})")
        notes.append(f"the buffer (capacity {room}) holds over {ROOMY_BUFFER}× the predicted mean queue ({queue:.3g}), "
                     f"so it is treated as unbounded; loss is not predicted")
    figures = {"latency_s.mean": wait + 1.0 / mu}
    if capacity is None:
        figures["loss_ratio"] = 0.0
    _common(figures, rate, mu, workers, group, 0.0)
    model = f"G/G/c (Allen–Cunneen approximation, ca² = {ca2:.3g}, cs² = {cs2:.3g})"
    return TheoryPrediction(model, False, notes, rate, mu, workers, capacity, figures, ca2, cs2,
                            [f for f in figures if f != "loss_ratio"])


@dataclass
class TheoryAnswer:
    """The cheapest configuration in the search space that theory says meets the targets it can judge."""

    changes: dict[str, Any] | None
    prediction: TheoryPrediction | None
    judged: list[str]
    not_judged: list[str]
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"answer": self.changes, "prediction": self.prediction.as_dict() if self.prediction else None,
                "targets_judged": self.judged, "targets_not_judged": self.not_judged, "reason": self.reason}


def theory_answer(study: Study, load: float, limit: int = 20_000) -> TheoryAnswer:
    """The configuration theory picks: the first in search order (or the cheapest under the spec's
    prices) whose predicted figures meet every target theory can judge, at the planning load and,
    with `headroom`, at the planning load × headroom too."""
    names = [path for path, _ in study.search]
    probe = theory_prediction(study.base.with_changes({"load_multiplier": load}))
    if isinstance(probe, str):
        return TheoryAnswer(None, None, [], [t.figure for t in study.targets], probe)
    judged = [t.figure for t in study.targets if t.figure in probe.figures]
    not_judged = [t.figure for t in study.targets if t.figure not in probe.figures]
    if not judged:
        return TheoryAnswer(None, None, [], not_judged, "theory predicts none of the targeted figures")
    loads = [load] + ([load * study.spec.headroom] if study.spec.headroom and study.spec.headroom > 1 else [])
    best: tuple[float, dict[str, Any], TheoryPrediction] | None = None
    for count, combination in enumerate(itertools.product(*(values for _, values in study.search))):
        if count >= limit:
            break
        changes = dict(zip(names, combination))
        predictions = []
        for each in loads:
            try:
                scenario = study.base.with_changes({**changes, "load_multiplier": each})
            except (ValidationError, KeyError):
                break
            prediction = theory_prediction(scenario)
            if isinstance(prediction, str):
                return TheoryAnswer(None, None, [], not_judged + judged, prediction)
            predictions.append(prediction)
        if len(predictions) < len(loads):
            continue
        if all(t.value_passes(p.figures.get(t.figure)) for p in predictions for t in study.targets if t.figure in judged):
            resolved = {path: get_path(scenario.model_dump(by_alias=True), path) for path in names}
            cost = study.cost_of(resolved)
            if cost is None:
                return TheoryAnswer(resolved, predictions[0], judged, not_judged)
            if best is None or cost < best[0]:
                best = (cost, resolved, predictions[0])
    if best is not None:
        return TheoryAnswer(best[1], best[2], judged, not_judged)
    return TheoryAnswer(None, None, judged, not_judged, "no configuration in the search space meets the targets in theory")
