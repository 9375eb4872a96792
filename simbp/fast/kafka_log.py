"""Fast-mode Kafka topics: partitions as offsets over a history of appended counts, not messages.

A partition is its offsets (log start, log end, the group's position, consumed and committed
offsets) and, shared by the topic, a history: every `stride` quanta a row of each partition's log end
offset (and cumulative bytes, when retention by bytes needs them). A message's creation time is
read off the history by interpolation, since a quantum's appends are spread evenly over it, so
retention by time is a row lookup, lag in seconds the age of the oldest uncommitted offset, and a
consumed message's latency its processing end minus that time. Rows are kept to about
`HISTORY_CELLS` cells, so memory stays bounded whatever the message count (a day of 60 partitions at
one row a quantum is 6 million cells, 48 MB).

Counts are whole numbers, so every message produced is exactly one of consumed, lost to retention
(`retention_lost`, the summary's `dropped`), held in a member's batch, or unread.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque

import numpy as np

from ..kafka_rules import OK, burrow_status
from ..scenario.schema import TopicSpec

__all__ = ["FastTopic", "HISTORY_CELLS"]

HISTORY_CELLS = 6_000_000  # history rows × partitions kept at most (rows are thinned to fit)


class FastTopic:
    """A topic's partitions as offset lists plus the shared history of appends."""

    def __init__(self, spec: TopicSpec, quantum: float, quanta: int, window: int = 10, min_distance: float = 1.0):
        self.spec = spec
        self.name = spec.name
        count = spec.partitions
        self.count = count
        self.retention_time = spec.retention.time if spec.retention.time is not None else math.inf
        self.retention_bytes = spec.retention.bytes if spec.retention.bytes is not None else math.inf
        self.end = [0] * count  # log end offsets
        self.start = [0] * count  # log start offsets
        self.position = [0] * count  # next offset the group fetches
        self.committed = [0] * count
        self.retention_lost_by = [0] * count
        self.consumed_by = [0] * count
        self.peak_lag_by = [0] * count
        self.owner = [-1] * count
        self.bytes_end = np.zeros(count)  # cumulative bytes appended
        self.bytes_start = np.zeros(count)  # cumulative bytes before the log start
        self.retention_lost = 0
        self.lag = 0
        self.peak_lag = 0
        self.group_name: str | None = None
        self.windows: list[deque[list[float]]] = [deque(maxlen=window) for _ in range(count)]
        self.min_distance = min_distance
        self.worst_status = [OK] * count
        # history: rows of cumulative appends (and bytes), one every `stride` quanta
        self.stride = max(1, math.ceil((quanta + 1) * count / HISTORY_CELLS))
        rows = quanta // self.stride + 2
        self.history = np.zeros((rows, count))
        self.history_bytes = np.zeros((rows, count)) if math.isfinite(self.retention_bytes) else None
        self.history_time = [0.0]
        self._quanta = 0
        self._cursor = [0] * count  # history row holding each partition's consumed offset
        self._closed: list[tuple[float, float, float, float] | None] = [None] * count  # its interval, once closed

    def configure_window(self, window: int, min_distance: float) -> None:
        """Use the reading group's Burrow window."""
        self.windows = [deque(maxlen=window) for _ in range(self.count)]
        self.min_distance = min_distance

    # ------------------------------------------------------------------ appends
    def append(self, counts: list[int], nbytes: list[float], now: float) -> None:
        """A quantum's appends (per partition), ending at `now`; records a history row every stride."""
        end = self.end
        added = 0
        for index, k in enumerate(counts):
            if k:
                end[index] += k
                added += k
        if added:
            self.bytes_end += np.asarray(nbytes)
            self.lag += added
        self._quanta += 1
        if self._quanta % self.stride == 0:
            row = len(self.history_time)
            if row >= len(self.history):  # longer than planned (a trailing partial quantum): grow
                self.history = np.vstack([self.history, np.zeros_like(self.history)])
                if self.history_bytes is not None:
                    self.history_bytes = np.vstack([self.history_bytes, np.zeros_like(self.history_bytes)])
            self.history[row] = end
            if self.history_bytes is not None:
                self.history_bytes[row] = self.bytes_end
            self.history_time.append(now)

    # ------------------------------------------------------------------ creation times
    def _interval(self, partition: int, row: int, now: float) -> tuple[float, float, float, float]:
        """(time, offset) at history row `row` and at the next row (or now and the log end)."""
        time = self.history_time
        low_t, low_o = time[row], float(self.history[row, partition])
        if row + 1 < len(time):
            return low_t, low_o, time[row + 1], float(self.history[row + 1, partition])
        return low_t, low_o, now, float(self.end[partition])

    def created(self, partition: int, offset: float, now: float) -> float:
        """Creation time of the message at `offset` (mid-message; searched in the history)."""
        rows = len(self.history_time)
        column = self.history[:rows, partition]
        row = max(int(np.searchsorted(column, offset, side="right")) - 1, 0)
        return self._at(partition, row, offset, now)

    def _at(self, partition: int, row: int, offset: float, now: float) -> float:
        low_t, low_o, high_t, high_o = self._interval(partition, row, now)
        if high_o <= low_o:
            return high_t
        return low_t + (high_t - low_t) * min(max((offset - low_o + 0.5) / (high_o - low_o), 0.0), 1.0)

    def created_consumed(self, partition: int, offset: float, now: float) -> float:
        """Creation time of a consumed offset: offsets only grow, so a cursor walks the history, and
        the closed interval it is in is kept (most lookups fall in the same one)."""
        cached = self._closed[partition]
        if cached is not None and cached[1] <= offset < cached[3]:
            low_t, low_o, high_t, high_o = cached
            return low_t + (high_t - low_t) * min((offset - low_o + 0.5) / (high_o - low_o), 1.0)
        rows = len(self.history_time)
        column = self.history
        row = self._cursor[partition]
        steps = 0
        while row + 1 < rows and column[row + 1, partition] <= offset:
            row += 1
            steps += 1
            if steps > 16:  # far ahead (a catch-up or a reset): search instead
                row = max(int(np.searchsorted(column[:rows, partition], offset, side="right")) - 1, row)
                break
        self._cursor[partition] = row
        interval = self._interval(partition, row, now)
        if row + 1 < rows and interval[3] > interval[1]:
            self._closed[partition] = interval
        return self._at(partition, row, offset, now)

    # ------------------------------------------------------------------ retention
    def expire(self, now: float) -> None:
        """Delete by age and by size; a deleted message the group had not fetched is lost."""
        if math.isfinite(self.retention_time) and now > self.retention_time:
            cutoff = now - self.retention_time
            time = self.history_time
            row = bisect_right(time, cutoff) - 1
            for partition in range(self.count):
                low_t, low_o, high_t, high_o = self._interval(partition, row, now)
                share = (cutoff - low_t) / (high_t - low_t) if high_t > low_t else 1.0
                self._delete_to(partition, math.floor(low_o + (high_o - low_o) * min(max(share, 0.0), 1.0)))
        if math.isfinite(self.retention_bytes):
            limit = self.retention_bytes
            for partition in range(self.count):
                if self.bytes_end[partition] - self.bytes_start[partition] > limit:
                    self._delete_to(partition, self._offset_of_bytes(partition, self.bytes_end[partition] - limit))

    def _offset_of_bytes(self, partition: int, cumulative: float) -> int:
        """The first offset whose message ends after `cumulative` bytes (the newest always stays)."""
        assert self.history_bytes is not None
        rows = len(self.history_time)
        column = self.history_bytes[:rows, partition]
        row = max(int(np.searchsorted(column, cumulative, side="right")) - 1, 0)
        low_b = float(column[row])
        low_o = float(self.history[row, partition])
        if row + 1 < rows:
            high_b, high_o = float(column[row + 1]), float(self.history[row + 1, partition])
        else:
            high_b, high_o = float(self.bytes_end[partition]), float(self.end[partition])
        share = (cumulative - low_b) / (high_b - low_b) if high_b > low_b else 1.0
        return min(math.ceil(low_o + (high_o - low_o) * min(max(share, 0.0), 1.0)), self.end[partition] - 1)

    def _delete_to(self, partition: int, new_start: int) -> None:
        old = self.start[partition]
        if new_start <= old:
            return
        unread = new_start - max(old, self.position[partition])
        if unread > 0:
            self.retention_lost_by[partition] += unread
            self.retention_lost += unread
        self.start[partition] = new_start
        end, total = self.end[partition], self.bytes_end[partition] - self.bytes_start[partition]
        self.bytes_start[partition] += total * (new_start - old) / (end - old) if end > old else total

    # ------------------------------------------------------------------ commits and lag
    def commit(self, partition: int, now: float, offset: int) -> None:
        """Store a commit; Burrow keeps the last `window` commits, merging those within `min_distance`."""
        self.lag -= offset - self.committed[partition]
        self.committed[partition] = offset
        lag = self.end[partition] - offset
        window = self.windows[partition]
        if window and now - window[-1][0] < self.min_distance:
            window[-1][1] = offset
            window[-1][2] = lag
        else:
            window.append([now, offset, lag])

    def partition_lag(self, partition: int) -> int:
        return self.end[partition] - self.committed[partition]

    def lag_seconds(self, partition: int, now: float) -> float:
        """Age of the oldest message not yet committed that is still in the log (0 when none)."""
        offset = max(self.committed[partition], self.start[partition])
        if offset >= self.end[partition]:
            return 0.0
        return max(now - self.created(partition, offset, now), 0.0)

    def status(self, partition: int, now: float) -> int:
        """Burrow status, judged once the window is full."""
        window = self.windows[partition]
        if len(window) < (window.maxlen or 0):
            return OK
        return burrow_status(window, self.partition_lag(partition), now)

    def track_peaks(self) -> None:
        if self.lag > self.peak_lag:
            self.peak_lag = self.lag
        for partition in range(self.count):
            lag = self.end[partition] - self.committed[partition]
            if lag > self.peak_lag_by[partition]:
                self.peak_lag_by[partition] = lag

    # ------------------------------------------------------------------ totals
    @property
    def produced(self) -> int:
        return sum(self.end)

    def unread(self) -> int:
        return sum(e - max(p, s) for e, p, s in zip(self.end, self.position, self.start) if e > max(p, s))

    def retained(self) -> int:
        return sum(e - s for e, s in zip(self.end, self.start))

    def bytes(self) -> float:
        return float((self.bytes_end - self.bytes_start).sum())
