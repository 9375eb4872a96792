"""Lag status by LinkedIn Burrow's rules: each partition from its window of commits, and the group.

A partition is judged only while it has lag: STOP when its consumer stopped committing, STALL
when commits keep coming but the offset does not move, WARN when the lag never went down across
the window, OK otherwise. The group's status is its worst partition (STOP and STALL are ERR).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["OK", "WARN", "STOP", "STALL", "STATUS_NAMES", "GROUP_STATUS_NAMES", "burrow_status", "group_status"]

OK, WARN, STOP, STALL = 0, 1, 2, 3
STATUS_NAMES = ("OK", "WARN", "STOP", "STALL")
GROUP_STATUS_NAMES = ("OK", "WARN", "ERR")


def burrow_status(window: Sequence[Sequence[float]], current_lag: int, now: float) -> int:
    """A partition's status by Burrow's rules, from its window of commits `(time, offset, lag)`.

    With lag now and never zero in the window: STOP when the last commit is older than the span
    of the window; STALL when every commit has the same offset; WARN when the lag never went
    down from one commit to the next; otherwise (or with no lag) OK. Offsets never rewind here.
    """
    if current_lag <= 0 or not window:
        return OK
    for entry in window:
        if entry[2] == 0:
            return OK
    first, last = window[0][0], window[-1][0]
    if now - last > last - first:
        return STOP
    offset = window[0][1]
    if all(entry[1] == offset for entry in window):
        return STALL
    if all(window[i][2] >= window[i - 1][2] for i in range(1, len(window))):
        return WARN
    return OK


def group_status(statuses: Sequence[int]) -> int:
    """Burrow's group status: the worst partition, with STOP and STALL both counted as ERR."""
    worst = max(statuses, default=OK)
    return 2 if worst >= STOP else worst
