"""Arrival processes of a producer: constant, poisson, bursty, schedule and trace.

`mean_arrival_rate` is their average rate over a run (for estimates and planning).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .base import Model, NonNegativeDuration, NonNegativeRate, PositiveDuration, PositiveRate, ReferenceProblem
from .rates import schedule_integral, schedule_rate_function

__all__ = [
    "ConstantArrivals",
    "PoissonArrivals",
    "Period",
    "BurstyArrivals",
    "RatePoint",
    "ScheduleArrivals",
    "TraceArrivals",
    "Arrivals",
    "mean_arrival_rate",
]


class ConstantArrivals(Model):
    """Evenly spaced arrivals at `rate`."""

    process: Literal["constant"]
    rate: PositiveRate


class PoissonArrivals(Model):
    """Independent arrivals at an average `rate` (exponential gaps)."""

    process: Literal["poisson"]
    rate: PositiveRate


class Period(Model):
    rate: NonNegativeRate
    duration: PositiveDuration


class BurstyArrivals(Model):
    """Alternating on/off periods, each with its own rate (e.g. a burst every minute)."""

    process: Literal["bursty"]
    on: Period
    off: Period
    within: Literal["poisson", "constant"] = "poisson"
    start: Literal["on", "off"] = "on"

    @model_validator(mode="after")
    def _some_traffic(self) -> "BurstyArrivals":
        if self.on.rate <= 0 and self.off.rate <= 0:
            raise ReferenceProblem(("on", "rate"), "a bursty process needs a positive rate in `on` or `off`")
        return self


class RatePoint(Model):
    at: NonNegativeDuration
    rate: NonNegativeRate


class ScheduleArrivals(Model):
    """Piecewise rates over time: steps or linear ramps between points, optionally repeating (diurnal)."""

    process: Literal["schedule"]
    points: list[RatePoint] = Field(min_length=1)
    interpolation: Literal["step", "linear"] = "linear"
    repeat: PositiveDuration | None = None
    within: Literal["poisson", "constant"] = "poisson"

    @model_validator(mode="after")
    def _increasing(self) -> "ScheduleArrivals":
        times = [p.at for p in self.points]
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ValueError("schedule points must have strictly increasing `at` times")
        if max(p.rate for p in self.points) <= 0:
            raise ValueError("a schedule needs at least one point with a positive rate")
        return self


class TraceArrivals(Model):
    """Replay a CSV next to the scenario: one timestamp (seconds) per message, or counts per bin."""

    process: Literal["trace"]
    file: str
    format: Literal["timestamps", "counts"] = "timestamps"
    column: str | None = None
    bin: PositiveDuration = 1.0
    loop: bool = False


Arrivals = Annotated[
    ConstantArrivals | PoissonArrivals | BurstyArrivals | ScheduleArrivals | TraceArrivals,
    Field(discriminator="process"),
]



def mean_arrival_rate(arrivals: Any, duration: float) -> float:
    """Average arrival rate (per second) of an arrival spec over `duration` seconds."""
    if isinstance(arrivals, (ConstantArrivals, PoissonArrivals)):
        return arrivals.rate
    if isinstance(arrivals, BurstyArrivals):
        cycle = arrivals.on.duration + arrivals.off.duration
        return (arrivals.on.rate * arrivals.on.duration + arrivals.off.rate * arrivals.off.duration) / cycle
    if isinstance(arrivals, ScheduleArrivals):
        if duration <= 0:
            return schedule_rate_function(arrivals)[0](0.0)
        return schedule_integral(arrivals, duration)[0] / duration
    if isinstance(arrivals, TraceArrivals):
        return float("nan")
    raise TypeError(f"unknown arrivals {arrivals!r}")

