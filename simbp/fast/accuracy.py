"""Fast mode's stated error against exact mode: the bounds the tests hold it to, as constants.

`summary.json` carries them as `fast_error` whenever fast mode ran (`fast_error_summary`), so a
reader sees how far to trust each figure. Each bound is `Bound(relative, absolute)`: fast mode's
figure is within the larger of `relative × exact` and `absolute` of what exact mode gives on the
same scenario (on average over seeds: both modes draw random numbers, so a single run adds its own
run-to-run spread). Each is tested in tests/test_fast_accuracy.py against replications of exact mode
(fast's mean inside exact's 99.9% interval widened by the bound), and measured in
docs/performance.md with `python benchmarks/fast_error.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Bound", "LOSS_RATIO", "LATENCY_P99", "LATENCY_MEAN", "BUFFER_LAG_SECONDS", "KAFKA_LAG",
           "KAFKA_LAG_SECONDS", "KAFKA_RETENTION_LOST",
           "fast_error_summary"]


@dataclass(frozen=True)
class Bound:
    """Within the larger of `relative` × the exact figure and `absolute`."""

    relative: float
    absolute: float = 0.0

    def tolerance(self, exact: float) -> float:
        """How far from `exact` fast mode's figure may be."""
        return max(self.relative * abs(exact), self.absolute)


LOSS_RATIO = Bound(relative=0.03, absolute=0.001)
"""Loss ratio on bounded dropping buffers, M/M/c/K from ρ = 0.7 to 1.3 (the boundary is resolved by
`boundary.overshoot` and fine sub-steps near capacity)."""

LATENCY_P99 = Bound(relative=0.05)
"""p99 latency of a stable queue (M/M/c, ρ = 0.8–0.9; measured −5% to +5% at quanta of two service
times, +3% on the hour at 10,000/s with quanta of nine)."""

LATENCY_MEAN = Bound(relative=0.08)
"""Mean latency of a stable queue (M/M/c, ρ = 0.8–0.9; measured +1% to +6% at quanta of two service
times, +7% on the hour at 10,000/s with quanta of nine: fast mode tends to overstate short waits)."""

BUFFER_LAG_SECONDS = Bound(relative=0.05)
"""`peak_lag_s` of a buffer whose backlog builds (an overload, or a saturated spike replayed from
`simbp fit`): the age of the oldest message waiting at its highest sample. Measured −1.2% ± 1.3%
(M/M/3 at ρ = 1.2 for 60 s, 24 seeds, quanta of two service times) and +0.3% (a fitted 15-minute spike,
8 seeds); tested in tests/fit/test_lag_seconds.py. Not covered: the peak of a stable queue, a fraction
of a second set by the quantum's granularity (−9% ± 14% measured at ρ = 0.9)."""

KAFKA_LAG = Bound(relative=0.02)
"""A topic's lag in messages, at its peak and at the end (overloaded and healthy groups, auto-commit and
commit per poll, hashed keys with a hot key)."""

KAFKA_LAG_SECONDS = Bound(relative=0.02)
"""A topic's lag in seconds (the age of the oldest uncommitted message)."""

KAFKA_RETENTION_LOST = Bound(relative=0.02)
"""Messages retention deleted unread (by time or by bytes)."""


def fast_error_summary(kafka: bool = False) -> dict[str, float]:
    """The stated bounds as `summary.json`'s `fast_error` entry (with the Kafka ones when it has topics)."""
    bounds = {
        "loss_ratio_rel": LOSS_RATIO.relative,
        "loss_ratio_abs": LOSS_RATIO.absolute,
        "latency_p99_rel": LATENCY_P99.relative,
        "latency_mean_rel": LATENCY_MEAN.relative,
        "peak_lag_s_rel": BUFFER_LAG_SECONDS.relative,
    }
    if kafka:
        bounds.update({"lag_rel": KAFKA_LAG.relative, "lag_s_rel": KAFKA_LAG_SECONDS.relative,
                       "retention_lost_rel": KAFKA_RETENTION_LOST.relative})
    return bounds
