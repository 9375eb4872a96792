"""Worker autoscaling (`consumers[].autoscale`) in fast mode: the same threshold autoscaler as exact
mode (`simbp.scaling.Autoscaler`, on the depth of `from`), resizing a `FastGroup`'s worker count.

A group's pooled work per quantum is `busy workers × dt` (`fast.group`), so a resize takes effect from
the next quantum. A worker removed while serving finishes its item first in exact mode; here the items
in service beyond the new count share the remaining workers' work, so they finish a little later (a
fraction of a service time; the stated bound `accuracy.WORKERS_SCALED` covers it). Decisions read the
depth at the last quantum boundary: the quantum is kept to at most a quarter of `check_every`
(`fast.model.choose_quantum`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import simpy

from ..scaling import WorkerAutoscaling, depth_of

if TYPE_CHECKING:
    from .buffer import FastBuffer
    from .group import FastGroup

__all__ = ["FastWorkerPool", "fast_worker_autoscaling"]


class FastWorkerPool:
    """A `FastGroup`'s worker count as a resizable pool, counting the worker-seconds present.

    A decision at time T takes effect after the quantum ending at T has been stepped (a zero-delay
    event, queued behind the clock's step), so the worker-seconds counted and the work the group did
    with them cover the same quanta (utilisation never above 1)."""

    def __init__(self, group: FastGroup, env: simpy.Environment):
        self.group = group
        self.env = env
        self.area = 0.0
        self._since = env.now
        self.target = group.count

    @property
    def size(self) -> int:
        """The size asked for (it is the group's from the next quantum)."""
        return self.target

    def resize(self, target: int) -> None:
        """From the next quantum, the group works with `target` workers."""
        self.target = target
        self.env.timeout(0).callbacks.append(self._apply)

    def _apply(self, _event: object) -> None:
        now = self.env.now
        self.area += self.group.count * (now - self._since)
        self._since = now
        self.group.count = self.target
        self.group.workers = range(self.target)

    def worker_seconds(self, now: float) -> float:
        return self.area + self.group.count * (now - self._since)

    def busy_seconds(self, now: float) -> float:
        return self.group.busy_seconds(now)


def fast_worker_autoscaling(env: simpy.Environment, consumers: list[Any], groups: dict[str, FastGroup],
                            buffers: dict[str, FastBuffer]) -> WorkerAutoscaling | None:
    """The extension that scales the autoscaled consumers among `consumers`, or None when none is."""
    scaled = [spec for spec in consumers if spec.autoscale is not None]
    if not scaled:
        return None
    return WorkerAutoscaling(env, [(spec.name, spec.autoscale, FastWorkerPool(groups[spec.name], env),
                                    depth_of(buffers[spec.from_])) for spec in scaled])

