"""The exact engine's seams: the buffer's put hook, the extension hooks, the model view.

A subclass sees every put through `Buffer._put_hook` (no monkey-patching), the plain buffer's
`put` is the policy's hook itself (no extra call per message), every extension offers the hooks
`contract.Extension` lists, and the model offers what `contract.ModelView` promises them.
"""

from __future__ import annotations

import pytest

import simbp
from simbp.exact.buffer import ACCEPTED, DROPPED, Buffer, PutHook
from simbp.exact.clock import Clock
from simbp.exact.contract import Extension, ModelView
from simbp.exact.model import Model
from simbp.scenario import BufferSpec
from simbp.service import Service


class CountingBuffer(Buffer):
    """Counts the outcome of every put, whatever the policy decided."""

    def _put_hook(self, policy_put: PutHook) -> PutHook:
        self.outcomes: list[int] = []
        outcomes = self.outcomes

        def put(created: float, size: float) -> int:
            code = policy_put(created, size)
            outcomes.append(code)
            return code

        return put


def test_a_subclass_sees_every_put_through_the_hook() -> None:
    """Capacity 2, drop_newest, no worker: two accepted, the third dropped, all three seen."""
    env = Clock()
    buffer = CountingBuffer(env, BufferSpec(name="q", capacity=2, policy="drop_newest"), Service(env, None))
    assert [buffer.put(0.0, 1.0) for _ in range(3)] == [ACCEPTED, ACCEPTED, DROPPED]
    assert buffer.outcomes == [ACCEPTED, ACCEPTED, DROPPED]
    assert (buffer.depth, buffer.dropped) == (2, 1)


@pytest.mark.parametrize("policy", ["block", "drop_newest", "drop_oldest", "unbounded"])
def test_a_plain_buffer_offers_the_policy_hook_itself(policy: str) -> None:
    env = Clock()
    spec = BufferSpec(name="q", policy=policy) if policy == "unbounded" else BufferSpec(name="q", capacity=2, policy=policy)
    buffer = Buffer(env, spec, Service(env, None))
    assert buffer.put.__func__ is getattr(Buffer, f"_put_{policy}")  # type: ignore[attr-defined]


KAFKA_AUTOSCALE_SYSTEMS = """
name: all_extensions
duration: 2s
producers:
  - {name: web, to: events, arrivals: {process: constant, rate: 10/s}}
  - {name: api, to: writable, arrivals: {process: constant, rate: 10/s}, on_backpressure: pause}
buffers:
  - {name: queue, capacity: 10}
  - {name: writable, high_water_mark: 4}
topics: [{name: events, partitions: 2}]
consumer_groups: [{name: readers, topic: events, consumers: 1, processing: 10ms}]
consumers:
  - {name: sink, from: writable, workers: 1, service: 10ms, to: queue}
  - name: workers
    from: queue
    workers: 1
    service: 10ms
    autoscale: {min: 1, max: 3, scale_up_lag: 5, scale_down_lag: 0, check_every: 1s}
"""


def test_every_extension_offers_the_engine_hooks() -> None:
    model = Model(simbp.load_scenario(KAFKA_AUTOSCALE_SYSTEMS))
    kinds = {type(extension).__name__ for extension in model.extensions}
    assert kinds == {"KafkaSystem", "WorkerAutoscaling", "Systems"}
    for extension in model.extensions:
        assert isinstance(extension, Extension), type(extension).__name__
    model.run()
    totals = model.totals()
    assert totals["produced"] == 38  # each producer: arrivals at 0.1, 0.2, … 1.9 s
    assert totals["produced"] == sum(totals[key] for key in totals if key != "produced")


def test_the_model_offers_what_extensions_may_read() -> None:
    model = Model(simbp.load_scenario(KAFKA_AUTOSCALE_SYSTEMS))
    view: ModelView = model  # checked by mypy; the attributes are checked here
    for name in ("env", "scenario", "seeds", "service", "buffers", "groups", "sketch_by_group", "interval_sketch"):
        assert hasattr(view, name), name
    assert isinstance(model.env, Clock)
