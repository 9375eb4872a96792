"""What the exact engine and its extensions promise each other, as typing Protocols.

An extension (Kafka, worker autoscaling, the systems keys) is built by `Model` only when a
scenario uses it, and needs a view of the model while it is built: `ModelView`. The model holds
its extensions as `Extension`s and calls their hooks at fixed moments. Both live here, below
`model.py`, so an extension never imports the model (no import circle) and a new one is checked
by mypy against the same list of hooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import simpy

    from ..metrics import LatencySketch
    from ..random import SeedTree
    from ..scenario.schema import Scenario
    from ..service import Service
    from .buffer import Buffer
    from .consumer import WorkerGroup

__all__ = ["ModelView", "Extension", "TOTALS"]

TOTALS = ("dropped", "consumed", "in_flight", "discarded", "failed")
"""The counters an extension may add to the model's totals (each additive; a missing one is 0)."""


class ModelView(Protocol):
    """The parts of a built `Model` an extension may read while it is built and run."""

    @property
    def env(self) -> simpy.Environment:
        """The run's clock (a `simbp.exact.clock.Clock`)."""

    @property
    def scenario(self) -> Scenario: ...

    @property
    def seeds(self) -> SeedTree:
        """Named random streams: a new mechanism takes its own, `seeds.generator("kind/name/what")`."""

    @property
    def service(self) -> Service:
        """Memory held and crash/restart of the modelled service."""

    @property
    def buffers(self) -> dict[str, Buffer]: ...

    @property
    def groups(self) -> dict[str, WorkerGroup]:
        """The buffer consumers' worker groups, by consumer name."""

    @property
    def sketch_by_group(self) -> dict[str, LatencySketch]:
        """Latency sketch per consumer (an extension adds one for each consumer it builds)."""

    @property
    def interval_sketch(self) -> LatencySketch:
        """Latencies of the current sampling interval (every consumer adds to it too)."""


@runtime_checkable
class Extension(Protocol):
    """An optional mechanism's hooks, called by `Model` in this order.

    `start()` once before the first event; `flush()` before every observation (move buffered
    latencies to their sketches); `totals()` at every observation; `sample(row)` once per
    time-series row; `end_warmup()` when the warm-up ends; `components()`, `events()` and
    `peak_queue_depth()` once, when the results are built.
    """

    def start(self) -> None:
        """Start processes and timers (the model's groups and producers are built by now)."""

    def flush(self) -> None:
        """Hand buffered latencies to the sketches."""

    def totals(self) -> Mapping[str, float]:
        """Cumulative counters to add to the model's, keyed by names in `TOTALS`; every message the
        extension holds or lost must be in exactly one of them, so conservation stays exact."""

    def sample(self, row: dict[str, float]) -> None:
        """Add this extension's columns to one time-series row (per-interval figures as differences)."""

    def end_warmup(self) -> None:
        """Remember what time averages in `components()` must leave out."""

    def components(self) -> dict[str, dict[str, Any]]:
        """Summary entries by component name (merged into an existing entry of that name)."""

    def events(self) -> list[dict[str, Any]]:
        """Rows for the events table: `time_s`, `event`, `component`, `detail`."""

    def peak_queue_depth(self) -> int:
        """The deepest queue this extension saw (Kafka lag counts as depth; 0 if none)."""
