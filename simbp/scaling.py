"""A threshold autoscaler on lag, shared by both engines (Kafka consumer groups, buffer workers).

Every `check_every` the autoscaler reads the lag (a group's lag in messages, or a buffer's depth):
at or above `scale_up_lag` it asks for `step` more consumers, at or below `scale_down_lag` it
removes `step`, always within `min` and `max` (for Kafka also at most the partition count, since a
member beyond it would sit idle). A scale-up takes effect `scale_up_delay` after the decision (a
pod starting); a scale-down at once. No decision is taken while a scale-up is pending or within
`cooldown` of the last change taking effect (as KEDA/HPA stabilisation windows do). It only needs
a SimPy clock and three callbacks, so exact mode and fast mode use it alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import simpy

    from .scenario.schema import AutoscaleSpec

__all__ = ["Autoscaler", "WorkerPool", "WorkerAutoscaling", "depth_of"]


class Autoscaler:
    """Threshold scaling with cooldown, scale-up delay and bounds; records every change as an event."""

    def __init__(self, env: "simpy.Environment", spec: "AutoscaleSpec", name: str, *, measure: Callable[[], float],
                 size: Callable[[], int], resize: Callable[[int], None], cap: int | None = None,
                 noun: str = "consumers"):
        self.env = env
        self.noun = noun
        self.spec = spec
        self.name = name
        self.measure = measure
        self.size = size
        self.resize = resize
        self.cap = cap
        self.maximum = min(spec.max, cap) if cap is not None else spec.max
        self.minimum = min(spec.min, self.maximum)
        self.pending: int | None = None
        self.last_change = float("-inf")
        self.events: list[dict[str, Any]] = []
        self.changes: list[dict[str, Any]] = []

    def start(self) -> None:
        self._arm()

    def _arm(self) -> None:
        timer = self.env.timeout(self.spec.check_every)
        timer.callbacks.append(self._tick)

    def _tick(self, _event: Any) -> None:
        self.check()
        self._arm()

    def check(self) -> None:
        """One evaluation: maybe request a scale-up (after the delay) or scale down now."""
        now = self.env.now
        if self.pending is not None or now - self.last_change < self.spec.cooldown - 1e-12:
            return
        lag = self.measure()
        size = self.size()
        spec = self.spec
        if lag >= spec.scale_up_lag:
            if size >= self.maximum:
                return
            target = min(size + spec.step, self.maximum)
            self.events.append({"time_s": now, "event": "scale_up_requested", "component": self.name,
                                "detail": f"lag {lag:,.0f} ≥ {spec.scale_up_lag:,.0f}: {size} → {target} in {spec.scale_up_delay:g}s"})
            if spec.scale_up_delay > 0:
                self.pending = target
                timer = self.env.timeout(spec.scale_up_delay)
                timer.callbacks.append(partial(self._joined, target, lag))
            else:
                self._apply(target, lag)
        elif lag <= spec.scale_down_lag and size > self.minimum:
            self._apply(max(size - spec.step, self.minimum), lag)

    def _joined(self, target: int, lag: float, _event: Any) -> None:
        self._apply(target, lag)

    def _apply(self, target: int, lag: float) -> None:
        now = self.env.now
        before = self.size()
        self.pending = None
        self.last_change = now
        self.resize(target)
        direction = "scale_up" if target > before else "scale_down"
        self.events.append({"time_s": now, "event": direction, "component": self.name,
                            "detail": f"{self.noun} {before} → {target}"})
        self.changes.append({"time_s": now, "from": before, "to": target, "lag_at_decision": lag})

    def summary(self) -> dict[str, Any]:
        """What the autoscaler did, for the summary's component entry."""
        sizes = [c["to"] for c in self.changes]
        return {"min": self.spec.min, "max": self.spec.max, "effective_max": self.maximum,
                "capped_by_partitions": self.cap is not None and self.spec.max > self.cap,
                "scale_ups": sum(1 for c in self.changes if c["to"] > c["from"]),
                "scale_downs": sum(1 for c in self.changes if c["to"] < c["from"]),
                "peak_consumers": max(sizes + [self.changes[0]["from"] if self.changes else self.size()]),
                "changes": self.changes}


class WorkerPool(Protocol):
    """A buffer consumer's workers as an autoscaler resizes them (exact mode's `WorkerScaler`, fast
    mode's `FastWorkerPool`): its size, a resize, and the seconds workers were present and busy."""

    @property
    def size(self) -> int: ...

    def resize(self, target: int) -> None: ...

    def worker_seconds(self, now: float) -> float: ...

    def busy_seconds(self, now: float) -> float: ...


class WorkerAutoscaling:
    """Autoscalers for buffer consumers (`consumers[].autoscale`), the lag being the depth of `from`,
    in either engine. Offers the engines' extension hooks (start, flush, totals, sample, end_warmup,
    components, events): the worker count per sample, and utilisation over the worker-seconds
    actually present (a pool that changes size would otherwise be judged against its first size)."""

    def __init__(self, env: "simpy.Environment", pools: Iterable[tuple[str, "AutoscaleSpec", WorkerPool, Callable[[], float]]]):
        self.env = env
        self.pools: dict[str, WorkerPool] = {}
        self.scalers: dict[str, Autoscaler] = {}
        self._last: dict[str, float] = {}
        self._warm: dict[str, float] = {}
        for name, spec, pool, depth in pools:
            self.pools[name] = pool
            self.scalers[name] = Autoscaler(env, spec, name, measure=depth, size=partial(_size, pool),
                                            resize=pool.resize, noun="workers")

    def start(self) -> None:
        for scaler in self.scalers.values():
            scaler.start()

    def flush(self) -> None:
        """Nothing buffered here."""

    def totals(self) -> dict[str, int]:
        return {}

    def peak_queue_depth(self) -> int:
        return 0

    def end_warmup(self) -> None:
        now = self.env.now
        for name, pool in self.pools.items():
            self._warm[f"{name}.busy"] = pool.busy_seconds(now)
            self._warm[f"{name}.workers"] = pool.worker_seconds(now)

    def sample(self, row: dict[str, float]) -> None:
        """Worker count, and utilisation over the worker-seconds actually present in the interval."""
        now = self.env.now
        for name, pool in self.pools.items():
            busy = pool.busy_seconds(now)
            seconds = pool.worker_seconds(now)
            span = seconds - self._last.get(f"{name}.workers", 0.0)
            row[f"{name}.workers"] = pool.size
            row[f"{name}.utilisation"] = (busy - self._last.get(f"{name}.busy", 0.0)) / span if span > 0 else 0.0
            self._last[f"{name}.busy"] = busy
            self._last[f"{name}.workers"] = seconds

    def components(self) -> dict[str, dict[str, Any]]:
        """Updates to the scaled consumers' summary entries."""
        now = self.env.now
        result = {}
        for name, pool in self.pools.items():
            busy = pool.busy_seconds(now) - self._warm.get(f"{name}.busy", 0.0)
            seconds = pool.worker_seconds(now) - self._warm.get(f"{name}.workers", 0.0)
            result[name] = {"workers": pool.size, "utilisation": busy / seconds if seconds > 0 else 0.0,
                            "autoscale": self.scalers[name].summary()}
        return result

    def events(self) -> list[dict[str, Any]]:
        return [event for scaler in self.scalers.values() for event in scaler.events]


def _size(pool: WorkerPool) -> int:
    return pool.size


def depth_of(buffer: Any) -> Callable[[], float]:
    """The lag a buffer's autoscaler reads: items waiting in the buffer (either engine's `depth`)."""
    return lambda: float(buffer.depth)
