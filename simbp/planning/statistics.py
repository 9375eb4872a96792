"""Confidence intervals: Student's t over independent replications, exact binomial (Clopper–
Pearson) bounds for proportions, and the `Estimate` every figure of a point is reported as.

Everything here is plain arithmetic on numbers (no scipy at run time): the t and normal quantiles
from tables and series, the regularised incomplete beta function by Lentz's continued fraction,
and its inverse by bisection. The tests check each against scipy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["CONFIDENCE", "Estimate", "estimate", "t_quantile_975", "clopper_pearson", "incomplete_beta"]

CONFIDENCE = 0.95
_ALPHA = 1.0 - CONFIDENCE

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
    """A figure's estimate and its 95% confidence interval over replications.

    `mean` is the point estimate (for a quantile, the quantile of all replications' observations
    pooled; for a loss ratio, losses over traffic pooled). The interval is `mean ± half_width`
    unless `lower`/`upper` say otherwise (asymmetric intervals: proportions, quantiles with the
    sketch's error). `method` names how the interval was made.
    """

    mean: float
    half_width: float
    n: int
    std: float
    lower: float | None = None
    upper: float | None = None
    method: str = "t"

    @property
    def low(self) -> float:
        return self.lower if self.lower is not None else self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.upper if self.upper is not None else self.mean + self.half_width

    def relative_half_width(self) -> float:
        if self.half_width == 0:
            return 0.0
        return self.half_width / abs(self.mean) if self.mean else math.inf

    def as_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "low": self.low, "high": self.high, "half_width": self.half_width, "n": self.n,
                "method": self.method}


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


# ====================================================================================== proportions
def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 100_000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-13:
            break
    return result


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) (a, b > 0; 0 ≤ x ≤ 1)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def _beta_quantile(probability: float, a: float, b: float) -> float:
    """x with I_x(a, b) = probability, by bisection on a log scale (accurate for tiny x)."""
    low, high = 1e-300, 1.0
    for _ in range(200):
        middle = math.sqrt(low * high) if high < 1e-3 else (low + high) / 2
        if incomplete_beta(a, b, middle) < probability:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return (low + high) / 2


def clopper_pearson(events: float, trials: float) -> tuple[float, float]:
    """The exact 95% binomial interval for `events` in `trials`, which may be effective (not whole)
    counts: events ÷ the design effect over trials ÷ the design effect, for clustered events.

    With no events the upper end is 1 − 0.025^(1/trials) (about 3.7 / trials): what zero
    observed events in that much traffic still allows.
    """
    if trials <= 0:
        return 0.0, 1.0
    events = min(max(events, 0.0), trials)
    half = _ALPHA / 2
    low = 0.0 if events <= 0 else _beta_quantile(half, events, trials - events + 1.0)
    if events >= trials:
        high = 1.0
    elif events <= 0:
        high = -math.expm1(math.log(half) / trials)
    else:
        high = _beta_quantile(1.0 - half, events + 1.0, trials - events)
    return low, high
