"""Targets and their three-valued judgement: pass, fail or undecided, and what it would take to
decide an undecided one.

With the default rule (`bound`) a point passes a target only when its whole 95% interval is on
the right side of the limit, fails when the whole interval is on the wrong side, and is otherwise
undecided: the data cannot tell, and saying "misses" would blame the configuration (or the
theory) for sampling noise. `mean` judges on the estimate alone (two-valued, a gamble at the
limit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .figures import format_figure
from .statistics import Estimate, t_quantile_975

__all__ = ["PASS", "FAIL", "UNDECIDED", "JUDGE_RULES", "Target", "worst", "replications_to_decide"]

PASS, FAIL, UNDECIDED = "pass", "fail", "undecided"
JUDGE_RULES = {
    "bound": "the 95% confidence interval: a point passes only when the whole interval meets the target (its "
             "upper end for a `max` target, its lower end for a `min` target), fails when the whole interval "
             "misses it, and is undecided when the interval straddles the limit",
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

    def value_passes(self, value: float | None) -> bool:
        """Whether a single value (a mean, a theory prediction) is within the target."""
        if value is None or math.isnan(value):
            return False
        return (self.high is None or value <= self.high) and (self.low is None or value >= self.low)

    def judge(self, estimate: Estimate, rule: str = "bound") -> str:
        """PASS, FAIL or UNDECIDED (with `rule` "mean": PASS or FAIL on the estimate alone).

        A figure no replication produced (latency when nothing was consumed) fails."""
        if estimate.n == 0 or math.isnan(estimate.mean):
            return FAIL
        if rule == "mean":
            return PASS if self.value_passes(estimate.mean) else FAIL
        low, high = estimate.low, estimate.high
        if (self.high is not None and low > self.high) or (self.low is not None and high < self.low):
            return FAIL
        if (self.high is None or high <= self.high) and (self.low is None or low >= self.low):
            return PASS
        return UNDECIDED

    def passes(self, estimate: Estimate, judge: str = "bound") -> bool:
        """Whether the point passes this target (undecided is not a pass)."""
        return self.judge(estimate, judge) == PASS

    def decided(self, estimate: Estimate) -> bool:
        """True when the whole interval is on one side of every limit: more replications won't flip it."""
        if estimate.n < 2 or math.isnan(estimate.mean) or math.isinf(estimate.half_width):
            return False
        return self.judge(estimate, "bound") != UNDECIDED

    def slack(self, value: float) -> float:
        """How far inside the target a value is, as a share of the limit (negative: outside)."""
        shares = []
        if self.high is not None:
            shares.append((self.high - value) / abs(self.high) if self.high else -value)
        if self.low is not None:
            shares.append((value - self.low) / abs(self.low) if self.low else value)
        return min(shares) if shares else math.inf


def worst(judgements: list[str]) -> str:
    """A point's judgement from its targets': any FAIL fails it, else any UNDECIDED leaves it undecided."""
    if FAIL in judgements:
        return FAIL
    return UNDECIDED if UNDECIDED in judgements else PASS


def replications_to_decide(target: Target, value: Estimate, replications: int) -> int | None:
    """About how many replications in all would decide an undecided target, or None when no number
    would (the estimate sits on the limit).

    An interval narrows as 1/√n, so n × (half width ÷ distance to the limit)² replications put the
    limit just outside it; a one-sided bound (no losses seen: the bound falls as 1/traffic) needs
    n × bound ÷ limit.
    """
    limits = [limit for limit in (target.high, target.low) if limit is not None and value.low <= limit <= value.high]
    if not limits or replications < 1:
        return None
    limit = limits[0]
    if value.mean == 0 and value.low == 0 and limit > 0:  # nothing seen: the upper bound shrinks with traffic
        return math.ceil(replications * value.high / limit * 1.1)
    distance = abs(value.mean - limit)
    if distance <= 1e-12 * max(abs(limit), 1e-300):
        return None
    reach = value.high - value.mean if limit > value.mean else value.mean - value.low
    reach *= 1.96 / t_quantile_975(replications - 1) if replications > 1 else 0.5  # many replications: t → normal
    return max(replications + 1, math.ceil(replications * (reach / distance) ** 2 * 1.1))
