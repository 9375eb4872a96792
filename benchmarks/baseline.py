"""Minimal hand-written SimPy models: the yardstick simbp's speed is measured against.

Each is what a person would write in a few minutes: one producer process per source drawing
exponential gaps with `random.expovariate`, a `simpy.Store` per queue, one consumer process per
worker, a list of latencies. No simbp code is used. A queue is described by the same few numbers
as the simbp scenario it is compared with, so both simulate the same system.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import simpy

__all__ = ["Queue", "Stage", "run_baseline"]


@dataclass
class Stage:
    """A store and its workers: `capacity` waiting items (None: unbounded), `policy` drop or block."""

    workers: int
    service_mean: float
    capacity: int | None = None
    policy: str = "drop"  # "drop": the arriving item is dropped when full; "block": the putter waits


@dataclass
class Queue:
    """A source at `rate` per second feeding a chain of stages (one stage: a single queue)."""

    rate: float
    stages: list[Stage] = field(default_factory=list)


def run_baseline(queues: list[Queue], duration: float, seed: int = 1) -> dict[str, Any]:
    """Simulate independent queues side by side for `duration` seconds; counts and latencies."""
    env = simpy.Environment()
    rnd = random.Random(seed)
    stats: dict[str, Any] = {"arrivals": 0, "dropped": 0, "consumed": 0, "latencies": []}

    def source(rate: float, store: simpy.Store, stage: Stage) -> Any:
        while True:
            yield env.timeout(rnd.expovariate(rate))
            stats["arrivals"] += 1
            if stage.policy == "block":
                yield store.put(env.now)
            elif stage.capacity is not None and len(store.items) >= stage.capacity:
                stats["dropped"] += 1
            else:
                store.put(env.now)

    def worker(store: simpy.Store, stage: Stage, after: tuple[simpy.Store, Stage] | None) -> Any:
        rate = 1.0 / stage.service_mean
        while True:
            created = yield store.get()
            yield env.timeout(rnd.expovariate(rate))
            if after is None:
                stats["consumed"] += 1
                stats["latencies"].append(env.now - created)
                continue
            target, target_stage = after
            if target_stage.policy == "block":
                yield target.put(created)
            elif target_stage.capacity is not None and len(target.items) >= target_stage.capacity:
                stats["dropped"] += 1
            else:
                target.put(created)

    for queue in queues:
        stores = []
        for stage in queue.stages:
            capacity = stage.capacity if stage.policy == "block" and stage.capacity is not None else float("inf")
            stores.append(simpy.Store(env, capacity=capacity))
        env.process(source(queue.rate, stores[0], queue.stages[0]))
        for index, (store, stage) in enumerate(zip(stores, queue.stages)):
            after = (stores[index + 1], queue.stages[index + 1]) if index + 1 < len(stores) else None
            for _ in range(stage.workers):
                env.process(worker(store, stage, after))
    env.run(until=duration)
    return stats
