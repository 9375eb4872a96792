"""Which queueing model applies to a scenario, and what it predicts (`theory_prediction`); the
cheapest configuration of a plan's search space that theory says meets the targets."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..scenario import Scenario, get_path
from .study import Study

__all__ = ["TheoryPrediction", "TheoryAnswer", "theory_prediction", "theory_answer"]

# ====================================================================================== theory
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

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "exact": self.exact, "notes": self.notes, "arrival_rate_per_s": self.arrival_rate,
                "service_rate_per_s": self.service_rate, "workers": self.workers,
                "system_capacity": self.system_capacity, "figures": self.figures}


def theory_prediction(scenario: Scenario) -> TheoryPrediction | str:
    """Erlang C (M/M/c) or M/M/c/K figures for a one-buffer, one-consumer-group scenario.

    Returns a sentence saying why theory does not apply when the scenario has several stages,
    batches or trace arrivals. Non-Poisson arrivals or non-exponential service are treated by
    their means and flagged as approximate.
    """
    from .. import semantics, theory
    from ..scenario.distributions import _Exponential

    beyond = _beyond_core(scenario)
    if beyond:
        return f"theory here covers producers, one buffer and one consumer group; it does not model {', '.join(beyond)}"
    if len(scenario.consumers) != 1 or len(scenario.buffers) != 1:
        return "theory covers one buffer drained by one consumer group; this scenario is a pipeline"
    group = scenario.consumers[0]
    buffer = scenario.buffers[0]
    if group.batch is not None or group.to is not None:
        return "theory does not model batching consumers or forwarding"
    try:  # the semantics table says which model applies, and refuses by name what it does not declare
        arrivals = [semantics.arrival_process(p.arrivals.process, "theory") for p in scenario.producers]
        policy = semantics.policy(buffer.policy, "theory")
    except (semantics.NotModelled, semantics.UnknownSemantics) as error:
        return f"no theory applies: {error}"
    notes: list[str] = []
    exact = True
    rate = sum(p.mean_rate(scenario.duration) for p in scenario.producers) * scenario.load_multiplier
    if any(entry.theory != "M" for entry in arrivals):
        exact = False
        notes.append("arrivals are not Poisson: treated as Poisson at their mean rate")
    if any(p.start > 0 or p.stop is not None for p in scenario.producers):
        exact = False
        notes.append("producers start late or stop early: the rate is the full-run mean")
    mean_service = group.mean_service()
    if mean_service <= 0:
        return "theory needs a positive mean service time"
    if not isinstance(group.service, _Exponential):
        exact = False
        notes.append("service is not exponential: treated as exponential with the same mean")
    service_rate = 1.0 / mean_service
    workers = group.workers
    capacity = int(buffer.capacity or 0) + workers if policy.bounded else None
    if policy.blocks:
        exact = False
    if policy.theory_note:
        notes.append(f"{policy.name}: {policy.theory_note}")
    if scenario.memory is not None:
        notes.append("the memory limit (crashes) is not modelled")
    figures: dict[str, float] = {}
    if capacity is None:
        figures["loss_ratio"] = 0.0
        figures["latency_s.mean"] = theory.mmc_mean_sojourn(rate, service_rate, workers)
        model = f"{policy.theory} (Erlang C)"
    else:
        figures["loss_ratio"] = theory.mmck_blocking(rate, service_rate, workers, capacity)
        figures["latency_s.mean"] = theory.mmck_mean_sojourn(rate, service_rate, workers, capacity)
        model = policy.theory or "M/M/c/K"
        notes.append(f"K = capacity {buffer.capacity} + {workers} workers = {capacity}; latency percentiles from "
                     f"M/M/c (close when little is lost)")
    for quantile, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        figures[f"latency_s.{name}"] = theory.mmc_sojourn_quantile(rate, service_rate, workers, quantile)
    accepted = rate * (1.0 - figures["loss_ratio"])
    figures["throughput_per_s"] = min(accepted, workers * service_rate)
    figures[f"components.{group.name}.utilisation"] = min(1.0, accepted / (workers * service_rate))
    for name in ("mean", "p50", "p95", "p99"):
        figures[f"components.{group.name}.latency_s.{name}"] = figures[f"latency_s.{name}"]
    if capacity is None and rate >= workers * service_rate:
        notes.append("unstable: arrivals reach or exceed what the workers can serve, so the backlog grows without end")
    return TheoryPrediction(model, exact, notes, rate, service_rate, workers, capacity, figures)


_CORE_FIELDS = {
    "Scenario": {"name", "description", "duration", "seed", "sample_interval", "warmup", "load_multiplier", "memory",
                 "producers", "buffers", "consumers", "expect"},
    "ProducerSpec": {"name", "to", "arrivals", "size", "start", "stop"},
    "BufferSpec": {"name", "capacity", "policy", "block_timeout"},
    "ConsumerSpec": {"name", "from_", "workers", "service", "to", "batch"},
}


def _beyond_core(scenario: Scenario) -> list[str]:
    """Fields set away from their defaults that the queueing formulas know nothing about
    (Kafka topics, retries, autoscaling, …): with any of them, theory is not offered."""
    found: list[str] = []

    def check(model: Any, where: str) -> None:
        core = _CORE_FIELDS.get(type(model).__name__)
        if core is None:
            return
        for name, info in type(model).model_fields.items():
            if name in core:
                continue
            value = getattr(model, name)
            if value != info.get_default(call_default_factory=True):
                found.append(f"{where}{info.alias or name}")

    check(scenario, "")
    for group in ("producers", "buffers", "consumers"):
        for item in getattr(scenario, group):
            check(item, f"{group}.{item.name}.")
    return found


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
    names = [path for path, _ in study.search]
    first = study.base.with_changes({"load_multiplier": load})
    probe = theory_prediction(first)
    if isinstance(probe, str):
        return TheoryAnswer(None, None, [], [t.figure for t in study.targets], probe)
    judged = [t.figure for t in study.targets if t.figure in probe.figures]
    not_judged = [t.figure for t in study.targets if t.figure not in probe.figures]
    if not judged:
        return TheoryAnswer(None, None, [], not_judged, "theory predicts none of the targeted figures")
    for count, combination in enumerate(itertools.product(*(values for _, values in study.search))):
        if count >= limit:
            break
        changes = dict(zip(names, combination))
        try:
            scenario = study.base.with_changes({**changes, "load_multiplier": load})
        except (ValidationError, KeyError):
            continue
        prediction = theory_prediction(scenario)
        if isinstance(prediction, str):
            return TheoryAnswer(None, None, [], not_judged + judged, prediction)
        if all(t.value_passes(prediction.figures[t.figure]) for t in study.targets if t.figure in judged):
            resolved = {path: get_path(scenario.model_dump(by_alias=True), path) for path in names}
            return TheoryAnswer(resolved, prediction, judged, not_judged)
    return TheoryAnswer(None, None, judged, not_judged, "no configuration in the search space meets the targets in theory")

