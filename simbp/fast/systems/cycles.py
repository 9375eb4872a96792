"""The cycles of a piped Node.js stream, simulated by exact mode's rules: the banks `streams.py` replays.

`simulate_bank` steps one source rate's write()/'drain' cycles chunk by chunk (a source writing at
its rate unless paused, a writable's length against its mark, `_write()`'s workers first in first
out) and returns a `Bank`: per chunk its write, service start and completion times and size, the
pauses, drains and regeneration points (the instants the stage is empty and idle), with cumulative
sums so any interval's counts and integrals are a few binary searches.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ... import semantics
from ...metrics import RELATIVE_ERROR

__all__ = ["BANK_CHUNKS", "MIN_BANK_CHUNKS", "RATE_GRID", "GROUP_FROM", "Bank", "simulate_bank"]

GROUP_FROM = 256  # a slice of this many completions or more is handed to the sketch per bucket
BANK_CHUNKS = semantics.STREAM_BANK_CHUNKS  # chunks simulated per source rate (fewer when the whole run has fewer)
MIN_BANK_CHUNKS = 2_000
RATE_GRID = 1.01  # source rates within this ratio share a bank
_MAX_EXTEND = 8  # a bank is extended up to this many times its chunks to hold two regeneration points


@dataclass
class Bank:
    """One source rate's simulated timeline: per chunk its write, service start and completion times
    and size, the pauses and drains, and the regeneration points (cumulative sums for integrals)."""

    rate: float
    arrivals: np.ndarray  # write times, ascending
    starts: np.ndarray  # service start times, ascending (FIFO)
    completions: np.ndarray  # completion times, ascending
    latencies: np.ndarray  # completion − write, in completion order
    sizes: np.ndarray  # bytes, in write order
    done_sizes: np.ndarray  # bytes, in completion order
    pauses: np.ndarray  # times a write returned false
    drains: np.ndarray  # times 'drain' fired
    regenerations: np.ndarray  # times the stage was empty and idle (0 first); the bank ends at the last
    queued_after: np.ndarray  # chunks waiting just after each write
    waiting_after: np.ndarray  # bytes waiting just after each write
    held_after: np.ndarray  # bytes held (waiting and being written) just after each write

    def __post_init__(self) -> None:
        def prefix(values: np.ndarray) -> np.ndarray:
            return np.concatenate([[0.0], np.cumsum(values)])

        self._a, self._s, self._d = prefix(self.arrivals), prefix(self.starts), prefix(self.completions)
        self._p, self._r = prefix(self.pauses), prefix(self.drains)
        self._size, self._done_size = prefix(self.sizes), prefix(self.done_sizes)
        self.end = float(self.regenerations[-1])
        # each latency's bucket in the latency sketch (`metrics.RELATIVE_ERROR`): a slice is handed over as the
        # mean of its values in each bucket, weighted, so quantiles and the mean are as from every value
        gamma = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
        buckets = np.ceil(np.log(np.maximum(self.latencies, 1e-12)) / math.log(gamma)).astype(np.int64)
        self._buckets = buckets - (int(buckets.min()) if len(buckets) else 0)

    def latency_slice(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Latencies of completions lo..hi−1 with their weights (per sketch bucket when there are many)."""
        values = self.latencies[lo:hi]
        if hi - lo < GROUP_FROM:
            return values, np.ones(hi - lo, dtype=np.int64)
        ids = self._buckets[lo:hi]
        counts = np.bincount(ids)
        present = counts > 0
        return np.bincount(ids, weights=values)[present] / counts[present], counts[present]

    def counts(self, t: float, cap: tuple[int, int, int] | None = None) -> tuple[int, int, int, int, int]:
        """Writes, service starts and pauses before `t`; completions and drains at `t` or before (so the
        stage is empty at a regeneration point, the completion that emptied it counted). With `cap`
        (chunks, pauses, drains), no more than those: the source stopped, what it wrote drains."""
        a, s = int(np.searchsorted(self.arrivals, t)), int(np.searchsorted(self.starts, t))
        d = int(np.searchsorted(self.completions, t, side="right"))
        p, r = int(np.searchsorted(self.pauses, t)), int(np.searchsorted(self.drains, t, side="right"))
        if cap is None:
            return a, s, d, p, r
        return min(a, cap[0]), min(s, cap[0]), min(d, cap[0]), min(p, cap[1]), min(r, cap[2])

    def integrals(self, t: float, n: tuple[int, int, int, int, int]) -> tuple[float, float, float]:
        """Busy, queued and paused chunk-seconds up to `t` (given `counts(t)`)."""
        a, s, d, p, r = n
        busy = self._d[d] - self._s[s] + t * (s - d)
        queued = self._s[s] - self._a[a] + t * (a - s)
        paused = self._r[r] - self._p[p] + t * (p - r)
        return float(busy), float(queued), float(paused)

    def held_bytes(self, n: tuple[int, int, int, int, int]) -> tuple[float, float]:
        """Bytes waiting and being written at an instant (given `counts` there)."""
        a, s, d, _, _ = n
        waiting = float(self._size[a] - self._size[s])
        return waiting, float(self._size[a] - self._done_size[d]) - waiting

    def regeneration_after(self, t: float) -> float:
        """The first regeneration point at or after `t`."""
        return float(self.regenerations[min(int(np.searchsorted(self.regenerations, t)), len(self.regenerations) - 1)])


def simulate_bank(rate: float, evenly: bool, services: np.ndarray, sizes: np.ndarray, workers: int, mark: float,
                  counts_bytes: bool, rng: np.random.Generator, extend: Callable[[int], tuple[np.ndarray, np.ndarray]]) -> Bank:
    """Exact mode's rules for a piped source into a writable, chunk by chunk (`streams.WritableBuffer`,
    `UpstreamProducer`): the source writes at `rate` (Poisson, or evenly spaced with a random phase)
    unless paused; a write whose length after it is at the mark or over returns false and pauses it;
    'drain' fires when the last chunk held is finished, and the source resumes on its own schedule
    (the next arrival after it). `extend(n)` draws n more service times and sizes if the bank needs them."""
    gap = 1.0 / rate
    n_max = len(services)
    services_list, sizes_list = services.tolist(), sizes.tolist()
    write, start, finish = [0.0] * n_max, [0.0] * n_max, [0.0] * n_max
    pauses: list[float] = []
    drains: list[float] = []
    regenerations = [0.0]
    phase = float(rng.uniform(0.0, gap)) if evenly else 0.0
    exponentials = rng.exponential(gap, n_max + 16).tolist() if not evenly else []
    next_arrival = phase if evenly else exponentials.pop()
    heap: list[tuple[float, int]] = []
    waiting: deque[int] = deque()
    free = workers
    length = 0.0
    need_drain = paused = False
    i = 0
    extensions = 0
    while True:
        if i == n_max:
            if len(regenerations) >= 3 or extensions >= _MAX_EXTEND:
                break
            more_services, more_sizes = extend(n_max)
            services_list += more_services.tolist()
            sizes_list += more_sizes.tolist()
            write += [0.0] * n_max
            start += [0.0] * n_max
            finish += [0.0] * n_max
            if not evenly:
                exponentials += rng.exponential(gap, n_max).tolist()
            n_max *= 2
            extensions += 1
        if not paused and (not heap or next_arrival < heap[0][0]):
            t = next_arrival
            write[i] = t
            length += sizes_list[i] if counts_bytes else 1.0
            if free:
                free -= 1
                start[i] = t
                heapq.heappush(heap, (t + services_list[i], i))
            else:
                waiting.append(i)
            i += 1
            if not length < mark:
                need_drain = paused = True
                pauses.append(t)
            else:
                next_arrival = t + gap if evenly else t + exponentials.pop()
            continue
        t, j = heapq.heappop(heap)
        finish[j] = t
        length -= sizes_list[j] if counts_bytes else 1.0
        if waiting:
            k = waiting.popleft()
            start[k] = t
            heapq.heappush(heap, (t + services_list[k], k))
            continue
        free += 1
        if free == workers:
            length = 0.0
            if need_drain:
                need_drain = False
                drains.append(t)
                if paused:
                    paused = False
                    # (never before the drain: the grid point the rounding may put a hair earlier is this instant)
                    next_arrival = max(t, phase + math.ceil((t - phase) / gap - 1e-12) * gap) if evenly \
                        else t + exponentials.pop()
            regenerations.append(t)
    if len(regenerations) < 2:  # semantics keeps such marks in exact mode (`stream_limits`)
        raise RuntimeError(f"a piped stage never emptied in {i:,} chunks at {rate:g}/s: its cycles are longer than a bank")
    end = regenerations[-1]
    n = int(np.searchsorted(np.asarray(write[:i]), end))
    return _bank(rate, np.asarray(write[:n]), np.asarray(start[:n]), np.asarray(finish[:n]), np.asarray(sizes_list[:n]),
                 [p for p in pauses if p < end], [r for r in drains if r <= end], [g for g in regenerations if g <= end])


def _bank(rate: float, write: np.ndarray, start: np.ndarray, finish: np.ndarray, sizes: np.ndarray, pauses: list[float],
          drains: list[float], regenerations: list[float]) -> Bank:
    order = np.argsort(finish, kind="stable")
    completions = finish[order]
    done_sizes = sizes[order]
    written = np.cumsum(sizes)
    size_prefix = np.concatenate([[0.0], written])
    started = np.searchsorted(start, write, side="right")
    done = np.searchsorted(completions, write, side="right")
    held = written - np.concatenate([[0.0], np.cumsum(done_sizes)])[done]
    return Bank(rate, write, start, completions, (finish - write)[order], sizes, done_sizes, np.asarray(pauses),
                np.asarray(drains), np.asarray(regenerations), (np.arange(1, len(write) + 1) - started).astype(float),
                written - size_prefix[started], held)
