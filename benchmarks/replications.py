"""Mean ± standard error over replications, shared by the benchmarks that compare fast and exact mode."""

from __future__ import annotations

import statistics
from collections.abc import Iterable


def mean_and_error(values: Iterable[float]) -> tuple[float, float]:
    """The mean of independent replications and its standard error (0 for a single one)."""
    data = list(values)
    mean = statistics.fmean(data)
    return mean, (statistics.stdev(data) / len(data) ** 0.5 if len(data) > 1 else 0.0)
