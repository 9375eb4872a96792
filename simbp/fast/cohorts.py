"""Cohorts: a FIFO of messages kept as groups (count, time ranges, bytes) instead of one by one.

A queue of ten million items is a few hundred cohorts: items that entered close together are merged
(`merge_within`), and items of a cohort are taken as spread evenly over its creation and entry time
ranges, so splitting one at a fraction splits both ranges there. Bytes are split in proportion to
the count as `bytes × n / m`, which keeps whole-byte totals exact for constant sizes.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

__all__ = ["Cohorts", "Slice", "cut_slices", "add_run", "take_runs"]

Slice = tuple[int, float, float, float, float, float]
"""Part of a cohort: (count, created_lo, created_hi, entered_lo, entered_hi, bytes)."""


class Cohorts:
    """A FIFO of cohorts `[count, created_lo, created_hi, entered_lo, entered_hi, bytes]`.

    `entered` is when the items entered the queue (buffers) or when a worker took them (items in
    service). `count` and `bytes` are the totals over all cohorts.
    """

    __slots__ = ("items", "count", "bytes")

    def __init__(self) -> None:
        self.items: deque[list[Any]] = deque()  # [count, created_lo, created_hi, entered_lo, entered_hi, bytes]
        self.count = 0
        self.bytes = 0.0

    def push(self, n: int, created_lo: float, created_hi: float, entered_lo: float, entered_hi: float,
             nbytes: float, merge_within: float) -> None:
        """Append `n` items; merge them into the last cohort when both stay within `merge_within` s."""
        if n <= 0:
            return
        self.count += n
        self.bytes += nbytes
        items = self.items
        if items:
            tail = items[-1]
            if created_hi - tail[1] <= merge_within and entered_hi - tail[3] <= merge_within:
                tail[0] += n
                if created_hi > tail[2]:
                    tail[2] = created_hi
                if entered_hi > tail[4]:
                    tail[4] = entered_hi
                tail[5] += nbytes
                return
        items.append([n, created_lo, created_hi, entered_lo, entered_hi, nbytes])

    def pop(self, n: int) -> list[Slice]:
        """Remove the `n` oldest items, as slices of cohorts."""
        out: list[Slice] = []
        items = self.items
        self.count -= n
        while n > 0:
            head = items[0]
            m = head[0]
            if m <= n:
                items.popleft()
                out.append((m, head[1], head[2], head[3], head[4], head[5]))
                self.bytes -= head[5]
                n -= m
            else:
                f = n / m
                created_cut = head[1] + f * (head[2] - head[1])
                entered_cut = head[3] + f * (head[4] - head[3])
                nbytes = head[5] * n / m
                out.append((n, head[1], created_cut, head[3], entered_cut, nbytes))
                head[0] = m - n
                head[1] = created_cut
                head[3] = entered_cut
                head[5] -= nbytes
                self.bytes -= nbytes
                n = 0
        if self.count == 0:
            self.bytes = 0.0
        return out

    def pop_newest(self, n: int) -> tuple[int, float]:
        """Remove the `n` newest items; returns (n, their bytes)."""
        removed_bytes = 0.0
        items = self.items
        self.count -= n
        left = n
        while left > 0:
            tail = items[-1]
            m = tail[0]
            if m <= left:
                items.pop()
                removed_bytes += tail[5]
                left -= m
            else:
                f = (m - left) / m
                nbytes = tail[5] * left / m
                tail[0] = m - left
                tail[2] = tail[1] + f * (tail[2] - tail[1])
                tail[4] = tail[3] + f * (tail[4] - tail[3])
                tail[5] -= nbytes
                removed_bytes += nbytes
                left = 0
        self.bytes -= removed_bytes
        if self.count == 0:
            self.bytes = 0.0
        return n, removed_bytes

    def oldest_created(self) -> float:
        """Creation time of the oldest item (infinity when empty)."""
        return self.items[0][1] if self.items else math.inf

    def clear(self) -> None:
        self.items.clear()
        self.count = 0
        self.bytes = 0.0


def cut_slices(slices: list[Slice], n: int) -> tuple[list[Slice], list[Slice]]:
    """The first `n` items of a list of cohort slices, and the rest."""
    first: list[Slice] = []
    rest: list[Slice] = []
    for piece in slices:
        count = piece[0]
        if n >= count:
            first.append(piece)
            n -= count
        elif n > 0:
            f = n / count
            created_cut = piece[1] + f * (piece[2] - piece[1])
            entered_cut = piece[3] + f * (piece[4] - piece[3])
            nbytes = piece[5] * n / count
            first.append((n, piece[1], created_cut, piece[3], entered_cut, nbytes))
            rest.append((count - n, created_cut, piece[2], entered_cut, piece[4], piece[5] - nbytes))
            n = 0
        else:
            rest.append(piece)
    return first, rest


def add_run(runs: deque[list[Any]], count: int, flag: bool) -> None:
    """Append `count` items marked `flag` to a FIFO of runs [count, flag] (kept beside a `Cohorts`, whose
    merging must not lose the mark)."""
    if count <= 0:
        return
    if runs and runs[-1][1] == flag:
        runs[-1][0] += count
    else:
        runs.append([count, flag])


def take_runs(runs: deque[list[Any]], n: int) -> list[tuple[int, bool]]:
    """Remove the `n` oldest items of a FIFO of runs: (count, flag) in order (unmarked past its end)."""
    out: list[tuple[int, bool]] = []
    while n > 0 and runs:
        head = runs[0]
        m = min(head[0], n)
        out.append((m, bool(head[1])))
        n -= m
        head[0] -= m
        if head[0] == 0:
            runs.popleft()
    if n > 0:
        out.append((n, False))
    return out
