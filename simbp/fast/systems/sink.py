"""The fields shared by the fast groups that end their path (a batch consumer, calls behind permits)."""

from __future__ import annotations

from collections.abc import Callable

from ...scenario.schema import ConsumerSpec
from ..buffer import FastBuffer


class SinkGroup:
    """A fast consumer group with no target: what the model reads of every group, set up once."""

    def _start_sink(self, spec: ConsumerSpec, source: FastBuffer, count: int,
                    on_latencies: Callable[[list[float], list[int]], None]) -> None:
        """Set the identity, the counters the summary reads, and the latency hand-over."""
        self.spec = spec
        self.name = spec.name
        self.source = source
        self.target: FastBuffer | None = None
        self.sink = True
        self.workers = range(spec.workers)
        self.count = count  # what the buffer sees take its items at most (`FastModel._substeps`)
        self.processed = self.consumed = self.forwarded = self.timed_out = self.lost_in_crash = 0
        self.batches = 0
        self.busy_time = 0.0
        self.blocked_time = 0.0
        self._values: list[float] = []
        self._weights: list[int] = []
        self._on_latencies = on_latencies
