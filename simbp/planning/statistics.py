"""Confidence intervals over replications and judging targets on them: the arithmetic every
pass/fail stands on."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .figures import format_figure

__all__ = ["CONFIDENCE", "JUDGE_RULES", "Target", "Estimate", "estimate", "t_quantile_975"]

CONFIDENCE = 0.95
JUDGE_RULES = {
    "bound": "the pessimistic end of the 95% confidence interval: its upper end for a `max` target, its lower end "
             "for a `min` target (a point passes only when the whole interval is on the right side)",
    "mean": "the mean over replications (a point passes when the mean is on the right side; half the time a "
            "point right at the limit passes by luck)",
}

@dataclass(frozen=True)
class Target:
    """A target on one figure: at most `high` and/or at least `low`."""

    figure: str
    kind: str
    low: float | None = None
    high: float | None = None

    def describe(self) -> str:
        parts = []
        if self.high is not None:
            parts.append(f"≤ {format_figure(self.high, self.kind)}")
        if self.low is not None:
            parts.append(f"≥ {format_figure(self.low, self.kind)}")
        return " and ".join(parts)

    def value_passes(self, value: float) -> bool:
        """Whether a single value (a mean, a theory prediction) is within the target."""
        if value is None or math.isnan(value):
            return False
        return (self.high is None or value <= self.high) and (self.low is None or value >= self.low)

    def passes(self, estimate: "Estimate", judge: str) -> bool:
        """Pass/fail of a point: on the mean, or on the pessimistic end of its interval."""
        if estimate.n == 0 or math.isnan(estimate.mean):
            return False
        if judge == "mean":
            return self.value_passes(estimate.mean)
        ok = True
        if self.high is not None:
            ok = ok and estimate.high <= self.high
        if self.low is not None:
            ok = ok and estimate.low >= self.low
        return ok

    def decided(self, estimate: "Estimate") -> bool:
        """True when the whole interval is on one side of every limit: more replications won't flip it."""
        if estimate.n < 2 or math.isnan(estimate.mean) or math.isinf(estimate.half_width):
            return False
        for limit in (self.high, self.low):
            if limit is not None and estimate.low <= limit <= estimate.high and estimate.half_width > 0:
                return False
        return True


# ====================================================================================== statistics
_T_975 = (12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
          2.200985, 2.178813, 2.160369, 2.144787, 2.13145, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
          2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.04523, 2.042272)


def t_quantile_975(degrees_of_freedom: int) -> float:
    """Student's t 97.5% quantile (two-sided 95% interval): a table to 30, Cornish–Fisher above."""
    if degrees_of_freedom < 1:
        return math.inf
    if degrees_of_freedom <= len(_T_975):
        return _T_975[degrees_of_freedom - 1]
    z, n = 1.959963984540054, float(degrees_of_freedom)
    return (z + (z**3 + z) / (4 * n) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * n**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * n**3))


@dataclass(frozen=True)
class Estimate:
    """Mean over replications and its 95% confidence interval (Student's t)."""

    mean: float
    half_width: float
    n: int
    std: float

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def relative_half_width(self) -> float:
        if self.half_width == 0:
            return 0.0
        return self.half_width / abs(self.mean) if self.mean else math.inf

    def as_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "low": self.low, "high": self.high, "half_width": self.half_width, "n": self.n}


def estimate(values: Iterable[float]) -> Estimate:
    """The mean and 95% interval of replication values; NaNs (figure missing in a run) are left out."""
    data = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(data)
    if n == 0:
        return Estimate(math.nan, math.nan, 0, math.nan)
    mean = math.fsum(data) / n
    if n == 1:
        return Estimate(mean, math.inf, 1, math.nan)
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in data) / (n - 1))
    return Estimate(mean, t_quantile_975(n - 1) * std / math.sqrt(n), n, std)

