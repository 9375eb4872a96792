"""How fast mode couples the stages of a pipeline: what a group forwards reaches the next stage as
arrivals spread over the same quantum.

A group forwarding into a buffer that does not push back (`drop_newest`, `drop_oldest`,
`unbounded`: `semantics` says it does not block) hands its finished items to the buffer's `Inlet`.
The next stage is stepped after the one feeding it (`stage_order`), and the inlet offers the items
there like a producer: spread over the quantum, split over the stage's sub-steps near capacity, so
the sub-step rule and `boundary.overshoot` count them with the producers' arrivals, and the policy
settles what does not fit. (Netting a quantum's forwards into a buffer its workers had already
taken from made them one burst at the next quantum: at quanta of 50 ms a stage with 20 places lost
0.60 of its messages where exact mode lost 0.011, docs/performance.md "Pipelines".)

A `block` buffer pushes back, so the stage behind it is stepped first and a forward knows the room
left (`FastBuffer.room`), as before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol

from .buffer import FastBuffer, split_whole
from .cohorts import Cohorts, Slice, add_run, cut_slices, take_runs

__all__ = ["Inlet", "Forwarding", "stage_order", "block_segments"]


class Forwarding(Protocol):
    """A group that forwards: its source, its target (or None) and its count of items forwarded."""

    source: FastBuffer
    target: FastBuffer | None
    forwarded: int


class Inlet:
    """Items forwarded into a buffer this quantum, offered to it as arrivals when its stage steps.

    It stands among the buffer's producers in the model's stepping (not in `buffer.producers`, which
    only `block` reads); its senders are credited with the items the buffer accepted, as exact mode
    counts a forward."""

    evenly = False  # forwards finish at random moments of the quantum
    held = None  # never holds an item back

    def __init__(self, buffer: FastBuffer):
        self.buffer = buffer
        self.pending = Cohorts()
        self._timed: deque[list[Any]] = deque()  # runs [count, timed] of the pending items (`hold`)
        self._senders: dict[int, list[Any]] = {}  # id → [sender, items offered this quantum, not yet settled]
        self._offered = 0

    def hold(self, slices: list[Slice], n: int, sender: Any, timed: list[bool] | None = None) -> None:
        """Keep `n` forwarded items (as `slices`) until the buffer's stage steps; `timed` slices enter at
        their own times (the sender's stage gave them the stationary queue's sojourn: `stage_wait.py`)."""
        for index, (count, c_lo, c_hi, e_lo, e_hi, nbytes) in enumerate(slices):
            self.pending.push(count, c_lo, c_hi, e_lo, e_hi, nbytes, 0.0)
            add_run(self._timed, count, timed is not None and timed[index])
        if sender is not None:
            entry = self._senders.setdefault(id(sender), [sender, 0])
            entry[1] += n

    def arrivals(self, down: bool) -> int:
        """Items forwarded this quantum (0 while the service is down: nothing was forwarded)."""
        return self.pending.count

    def holds_item(self) -> int:
        return 0

    def offer(self, k: int, t0: float, t1: float, merge_within: float, share: float = 1.0) -> int:
        """Put the `k` oldest pending items into the buffer, entering spread over [t0, t1). A timed item
        (its stage gave it the stationary queue's sojourn and the time it left, `FastGroup._timed_forwards`)
        keeps the time it spent before this stage: it counts as created that long before it enters, so
        the wait the counts give it here starts when they bring it in, not from when it left."""
        if k <= 0:
            return 0
        queue, step, position = self.buffer.queue, (t1 - t0) / k, 0
        slices = self.pending.pop(k)
        for n, timed in take_runs(self._timed, k):
            part, slices = cut_slices(slices, n)
            for count, c_lo, c_hi, e_lo, e_hi, nbytes in part:
                lo, hi = t0 + step * position, t0 + step * (position + count)
                if timed:  # its time so far is (entered − created), whenever the counts bring it in
                    c_lo, c_hi = lo - (e_lo - c_lo), hi - (e_hi - c_hi)
                queue.push(count, c_lo, c_hi, lo, hi, nbytes, merge_within)
                position += count
        self._offered += k
        return k

    def settle(self, offered: int, accepted: int) -> None:
        """After the policy settled a (sub-)step where `offered` items arrived in all and `accepted`
        were kept: the items lost are shared between the producers and this inlet in proportion to
        what each offered, and the senders' `forwarded` loses this inlet's share."""
        mine, self._offered = self._offered, 0
        lost = offered - accepted
        if not mine or lost <= 0:
            return
        share = split_whole(lost, [mine, offered - mine])[0]
        senders = list(self._senders.values())
        for (sender, _), cut in zip(senders, split_whole(share, [n for _, n in senders])):
            sender.forwarded -= cut

    def end_quantum(self, t0: float, t1: float) -> None:
        """Anything still pending (a stage stepped before its feeder: a cycle) goes into the buffer as
        the old rule did, netted; the senders' shares are forgotten."""
        if self.pending.count:
            n = self.pending.count
            self._timed.clear()
            lost = n - self.buffer.receive_now(self.pending.pop(n), n, t0, t1, 0.0)
            senders = list(self._senders.values())
            for (sender, _), cut in zip(senders, split_whole(lost, [m for _, m in senders])):
                sender.forwarded -= cut
        self._senders.clear()

    def lose(self) -> int:
        """A crash: the pending items are lost; returns how many."""
        n = self.pending.count
        self.pending.clear()
        self._timed.clear()
        self._senders.clear()
        self._offered = 0
        return n


def stage_order(buffers: dict[str, FastBuffer], groups: Iterable[Forwarding]) -> list[FastBuffer]:
    """Buffers in the order their stages are stepped in a quantum: a stage feeding a buffer that does
    not push back before that buffer's stage (its forwards are that stage's arrivals), and a stage
    feeding a `block` buffer after it (the room left is known). Ties keep the scenario's order; a
    cycle of forwards is broken where it closes."""
    before: dict[str, set[str]] = {name: set() for name in buffers}  # buffer → buffers stepped before it
    for group in groups:
        if group.target is None or group.target.name not in buffers:
            continue
        source, target = group.source.name, group.target.name
        if group.target.blocks:
            before[source].add(target)
        else:
            before[target].add(source)
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str) -> None:
        if state.get(name):
            return  # done, or on the path (a cycle: broken here)
        state[name] = 1
        for first in sorted(before[name], key=list(buffers).index):
            visit(first)
        state[name] = 2
        order.append(name)

    for name in buffers:
        visit(name)
    return [buffers[name] for name in order]


def block_segments(order: list[FastBuffer], groups: Iterable[Forwarding]) -> list[list[FastBuffer]]:
    """`order` cut into segments of stages joined by forwards into `block` buffers (in `order`), each
    stepped as one: when one of them needs sub-steps near capacity all of them take the same, the
    stage behind the `block` buffer first in each, so the room it leaves and the items forwarded into
    it move at the pace of a sub-step rather than of a quantum."""
    root = {buffer.name: buffer.name for buffer in order}

    def find(name: str) -> str:
        while root[name] != name:
            name = root[name]
        return name

    for group in groups:
        if group.target is not None and group.target.blocks and group.target.name in root and group.source.name in root:
            root[find(group.source.name)] = find(group.target.name)
    segments: dict[str, list[FastBuffer]] = {}
    for buffer in order:
        segments.setdefault(find(buffer.name), []).append(buffer)
    return list(segments.values())
