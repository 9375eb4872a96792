"""Thinning long time series for the browser without hiding their peaks.

A run may keep up to 20,000 samples (`guard.BUDGETS`' `samples`); drawing every one as SVG in
every panel made a rerun's drawing the slowest part of the page. `thin_indices` keeps at most
`MAX_POINTS` samples of a series: in each bucket the smallest and the largest value (in time
order), plus the first and last sample, so a saw-tooth keeps its teeth and a spike its height.
`hover_rows` picks the times the shared hover snaps to.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_POINTS", "thin_indices", "hover_rows"]

MAX_POINTS = 1500
"""Samples per series sent to the browser at most (about two per horizontal pixel of a wide chart)."""


def thin_indices(values: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Sorted indices of at most `max_points` samples of `values` keeping each bucket's min and max.

    NaN counts as neither (a bucket of NaN keeps its first sample, so gaps stay gaps).
    """
    count = len(values)
    if count <= max_points:
        return np.arange(count)
    buckets = max(1, (max_points - 2) // 2)
    size = -(-count // buckets)
    padded = np.full(buckets * size, np.nan)
    padded[:count] = values.astype(float)
    blocks = padded.reshape(buckets, size)
    valid = ~np.isnan(blocks)
    low = np.where(valid, blocks, np.inf).argmin(axis=1)
    high = np.where(valid, blocks, -np.inf).argmax(axis=1)
    offsets = np.arange(buckets) * size
    chosen = np.concatenate(([0, count - 1], offsets + low, offsets + high))
    return np.unique(chosen[chosen < count])


def hover_rows(count: int, max_rows: int) -> np.ndarray:
    """Indices of at most `max_rows` evenly spaced rows of `count`, always the first and the last."""
    if count <= max_rows:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, max_rows).round().astype(int))
