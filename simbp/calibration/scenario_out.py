"""The fitted scenario (`fitted.yaml` + its arrivals trace) and a ready capacity plan (`plan.yaml`).

The trace replays the observed arrival counts per interval (`format: counts`): simbp places each
interval's count at independent uniform times within it, which is a Poisson process conditioned on
the observed count, so the replay keeps the observed curve exactly and has Poisson variation
inside each interval. Simulated time 0 is one step before the first sample, so simulated sample
k+1 lines up with observed sample k (each sample covers the interval before it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .estimate import Fit
from .observed import Observed

__all__ = ["TRACE_FILE", "LAG_TARGET", "scenario_dict", "trace_csv", "plan_dict", "dump_yaml", "lag_column", "throughput_column",
           "worker_path"]

TRACE_FILE = "observed_arrivals.csv"
LAG_TARGET = "peak_lag_s"  # the summary figure plan.yaml's target is on: lag in seconds at its highest sample
PRODUCER, BUFFER, CONSUMER, TOPIC, GROUP = "observed", "backlog", "consumers", "observed_topic", "consumers"


def scenario_name(source: str) -> str:
    """A scenario name from the observed file's name (letters, digits, `_ . -`)."""
    stem = Path(source.rstrip("/")).stem or "observed"
    return ("fitted_" + re.sub(r"[^A-Za-z0-9_.\-]+", "_", stem))[:80]


def trace_csv(obs: Observed, fit: Fit) -> bytes:
    """Arrival counts per interval (the observed rate × step), the initial backlog added to the first."""
    counts = obs.series["arrivals"] * obs.step
    counts = counts.copy()
    counts[0] += max(fit.initial_backlog, 0.0)
    lines = ["count"] + [f"{c:.6g}" for c in counts]
    return ("\n".join(lines) + "\n").encode()


def _number(value: float) -> float:
    return float(f"{value:.6g}")


def _service(fit: Fit) -> dict[str, Any]:
    return {k: (_number(v) if isinstance(v, float) else v) for k, v in fit.service.items()}


def partitions_for(fit: Fit, search_max: int) -> int:
    """Kafka partitions: enough that the plan's largest group still gives every consumer a partition."""
    return max(search_max, fit.workers)


def search_max(fit: Fit) -> int:
    """The most consumers the plan may try: 4× the fitted count, at least 8."""
    return max(4 * fit.workers, 8)


def scenario_dict(obs: Observed, fit: Fit, *, name: str, seed: int = 0) -> dict[str, Any]:
    """The fitted scenario as a mapping (validated later with simbp's own parser)."""
    description = (f"Fitted by `simbp fit` from {obs.source}: the observed arrivals replayed from {TRACE_FILE} "
                   f"({len(obs.times)} intervals of {obs.step:g}s), {fit.workers} consumer(s) of "
                   f"{fit.capacity_per_s:.4g}/s each ({fit.capacity_method.split(';')[0]}). See fit.json for intervals.")
    data: dict[str, Any] = {
        "name": name,
        "description": description,
        "duration": _number(len(obs.times) * obs.step),
        "seed": seed,
        "sample_interval": _number(obs.step),
        "producers": [{"name": PRODUCER, "to": TOPIC if fit.kind == "kafka" else BUFFER,
                       "arrivals": {"process": "trace", "file": TRACE_FILE, "format": "counts", "column": "count",
                                    "bin": _number(obs.step)}}],
    }
    if fit.kind == "kafka":
        data["topics"] = [{"name": TOPIC, "partitions": partitions_for(fit, search_max(fit))}]
        data["consumer_groups"] = [{"name": GROUP, "topic": TOPIC, "consumers": fit.workers, "processing": _service(fit)}]
    else:
        data["buffers"] = [{"name": BUFFER, "policy": "unbounded"}]
        data["consumers"] = [{"name": CONSUMER, "from": BUFFER, "workers": fit.workers, "service": _service(fit)}]
    return data


def worker_path(kind: str) -> str:
    """The field path of the consumer count, for the plan's search."""
    return f"consumer_groups.{GROUP}.consumers" if kind == "kafka" else f"consumers.{CONSUMER}.workers"


def lag_column(kind: str) -> str:
    """The simulated time-series column that corresponds to observed lag."""
    return f"{TOPIC}.lag" if kind == "kafka" else f"{BUFFER}.depth"


def throughput_column(kind: str) -> str:
    """The simulated per-interval consumed column."""
    return f"{GROUP}.consumed" if kind == "kafka" else f"{CONSUMER}.consumed"


def plan_dict(fit: Fit, *, name: str, lag_target_s: float = 60.0) -> dict[str, Any]:
    """A `simbp plan` spec: the fewest consumers that keep the lag in seconds under the target.

    The target is `peak_lag_s`, the highest sampled age of the oldest message waiting (buffer) or not
    yet committed (Kafka): what a lag exporter shows as "lag in seconds". Unlike `latency_s.max` it
    also counts messages still waiting when the replay ends."""
    path = worker_path(fit.kind)
    return {
        "name": f"{name}_plan",
        "description": (f"How many consumers would have kept lag under {lag_target_s:g}s during the observed period? "
                        "Replays the observed arrivals (fitted.yaml) and searches the consumer count; lag in time is "
                        "the age of the oldest message not yet processed, at its highest sample (peak_lag_s)."),
        "base": "fitted.yaml",
        "seed": 1,
        "replications": {"min": 2, "max": 4, "target_relative_half_width": 0.1},
        "targets": {LAG_TARGET: {"max": f"{lag_target_s:g}s"}},
        "judge": "upper_bound",
        "plan": {"search": {path: {"min": 1, "max": search_max(fit)}}, "margin": {"enabled": False}},
    }


def dump_yaml(data: dict[str, Any], header: str = "") -> bytes:
    """YAML text with keys in the order given and an optional comment header."""
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return ((f"# {header}\n" if header else "") + text).encode("utf-8")
