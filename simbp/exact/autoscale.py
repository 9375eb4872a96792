"""Horizontal scaling on lag: a threshold autoscaler for Kafka consumer groups and buffer workers.

Every `check_every` the autoscaler reads the lag (a group's lag in messages, or a buffer's depth):
at or above `scale_up_lag` it asks for `step` more consumers, at or below `scale_down_lag` it
removes `step`, always within `min` and `max` (for Kafka also at most the partition count, since a
member beyond it would sit idle). A scale-up takes effect `scale_up_delay` after the decision (a
pod starting); a scale-down at once. No decision is taken while a scale-up is pending or within
`cooldown` of the last change taking effect (as KEDA/HPA stabilisation windows do).

`Autoscaler` itself lives in `simbp.scaling` (fast mode uses it too) and is re-exported here.
`WorkerScaler` adapts a buffer's `WorkerGroup` to the same interface: added workers start taking
items at once; a removed worker finishes the item it holds, then leaves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..scaling import Autoscaler, depth_of
from ..scaling import WorkerAutoscaling as SharedWorkerAutoscaling
from .consumer import BatchWorker, Worker

if TYPE_CHECKING:
    from .consumer import WorkerGroup
    from .contract import ModelView

__all__ = ["Autoscaler", "WorkerScaler", "WorkerAutoscaling"]


class _ScalableWorker(Worker):
    """A `Worker` that can be told to leave the pool once it has finished the item it holds."""

    __slots__ = ("scaler", "retiring")
    scaler: WorkerScaler
    retiring: bool

    def _next(self) -> None:
        if self.retiring:
            self.scaler.leave(self)
        else:
            Worker._next(self)


class _ScalableBatchWorker(BatchWorker):
    """A `BatchWorker` that can be told to leave the pool once its batch is done."""

    __slots__ = ("scaler", "retiring")
    scaler: WorkerScaler
    retiring: bool

    def _next(self) -> None:
        if self.retiring:
            self.scaler.leave(self)
        else:
            BatchWorker._next(self)


class WorkerScaler:
    """Resizes a buffer consumer's `WorkerGroup`: new workers start taking at once; a removed worker
    finishes what it holds first. Only an autoscaled group gets these workers (others pay nothing).
    Counts worker-seconds so utilisation stays right while the pool changes."""

    def __init__(self, group: "WorkerGroup"):
        self.group = group
        self.env = group.env
        self.area = 0.0
        self._since = self.env.now
        kind = type(group.workers[0])
        if kind not in (Worker, BatchWorker):
            from ..errors import Problem, ScenarioError

            raise ScenarioError([Problem(f"consumers.{group.name}.autoscale",
                                         "autoscale works with plain workers and batches, "
                                         f"not yet with this consumer's kind ({kind.__name__})")])
        group.workers = [self._new_worker(i) for i in range(len(group.workers))]

    @property
    def size(self) -> int:
        return sum(1 for w in self.group.workers if not w.retiring)

    def _track(self) -> None:
        now = self.env.now
        self.area += len(self.group.workers) * (now - self._since)
        self._since = now

    def worker_seconds(self, now: float) -> float:
        return self.area + len(self.group.workers) * (now - self._since)

    def busy_seconds(self, now: float) -> float:
        return self.group.busy_seconds(now)

    def _new_worker(self, index: int) -> Any:
        group = self.group
        if group.spec.batch is None:
            worker: Any = _ScalableWorker(group, index)
        else:
            worker = _ScalableBatchWorker(group, index, group.spec.batch.size, group.spec.batch.timeout)
        worker.scaler = self
        worker.retiring = False
        return worker

    def resize(self, target: int) -> None:
        """Grow or shrink the pool to `target` workers."""
        group = self.group
        self._track()
        while self.size < target:
            retiring = next((w for w in group.workers if w.retiring), None)
            if retiring is not None:  # keep a worker that was about to leave
                retiring.retiring = False
                continue
            worker = self._new_worker(max((w.index for w in group.workers), default=-1) + 1)
            group.workers.append(worker)
            if not group.service.down:
                worker._next()
        idle = group.source.idle
        while self.size > target:
            candidate = next((w for w in reversed(idle) if getattr(w, "scaler", None) is self and not w.retiring
                              and not getattr(w, "collecting", False)), None)
            if candidate is not None:  # an idle worker leaves at once
                idle.remove(candidate)
                group.workers.remove(candidate)
                continue
            busy = next(w for w in reversed(group.workers) if not w.retiring)
            busy.retiring = True

    def leave(self, worker: Any) -> None:
        """A retiring worker finished its item: it leaves instead of taking the next."""
        self._track()
        worker.retiring = False
        self.group.workers.remove(worker)


class WorkerAutoscaling(SharedWorkerAutoscaling):
    """Autoscalers for buffer consumers (`consumers[].autoscale`) in exact mode: each scaled group gets
    scalable workers (`WorkerScaler`) before the workers start; the lag read is the depth of `from`."""

    def __init__(self, model: "ModelView"):
        super().__init__(model.env, [(spec.name, spec.autoscale, WorkerScaler(model.groups[spec.name]),
                                      depth_of(model.buffers[spec.from_]))
                                     for spec in model.scenario.consumers if spec.autoscale is not None])

