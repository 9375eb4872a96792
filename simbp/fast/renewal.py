"""Counted service: how many items a group's pooled work finishes in a quantum, without drawing
each item's service time.

A group's work in a quantum is `busy workers × dt` seconds spent on its items in FIFO order, so
the items it finishes are a renewal count: the most items whose service times fit the work. While
few items finish in a quantum `FastGroup` draws each one's service time (`inputs.WorkStream`); at
production rates that costs a draw per message, which sets the run time (a day at 100,000/s is
8.6e9 draws). Above `COUNTED_FROM` expected completions in a quantum (scaled up by the service
time's squared coefficient of variation c², so skewed distributions keep per-item draws longer)
the count is drawn instead, by the renewal central limit theorem: N(W) for work W is normal with
mean W / mean and variance W · c² / mean. The unrounded remainder is carried to the next quantum
as work already done on the next item, so a constant service time gives exact counts and the
counts of successive quanta add up to the renewal count of their total work (their deviations are
independent, with the variance the theorem gives for the sum). Service times whose variance is
infinite (Pareto with a tail index of 2 or less) are never counted. Latencies need a service time
per latency representative only: a few fresh draws per cohort slice.

Stated and tested against per-item draws and exact mode in tests/fast/test_fast_counted.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..random import empirical_values
from ..scenario.distributions import _Constant, _Empirical, _Erlang, _Exponential, _Gamma, _Lognormal, _Pareto, _Uniform

__all__ = ["COUNTED_FROM", "ServiceCounts", "squared_cv"]

COUNTED_FROM = 1024  # expected completions in a quantum (× max(1, c²)) from which they are counted, not drawn
_BLOCK = 4096  # normals and representative service times drawn at a time


def squared_cv(dist: Any, base_dir: Any = None) -> float:
    """The squared coefficient of variation (variance / mean²) of a service-time distribution;
    infinity when its variance is."""
    if isinstance(dist, _Constant):
        return 0.0
    if isinstance(dist, _Exponential):
        return 1.0
    if isinstance(dist, _Uniform):
        mean = (dist.low + dist.high) / 2
        return (dist.high - dist.low) ** 2 / 12 / mean ** 2 if mean > 0 else 0.0
    if isinstance(dist, _Lognormal):
        return math.expm1(dist.sigma ** 2)
    if isinstance(dist, _Gamma):
        return 1.0 / dist.shape
    if isinstance(dist, _Erlang):
        return 1.0 / dist.k
    if isinstance(dist, _Pareto):
        return 1.0 / (dist.alpha * (dist.alpha - 2)) if dist.alpha > 2 else math.inf
    if isinstance(dist, _Empirical):
        values = np.asarray(empirical_values(dist, base_dir), dtype=float)
        mean = float(values.mean())
        return float(values.var() / mean ** 2) if mean > 0 else 0.0
    return math.inf  # unknown: never counted


class ServiceCounts:
    """Renewal counts of service completions for one group, from its own random stream."""

    def __init__(self, mean: float, scv: float, rng: np.random.Generator, draw: Callable[[int], np.ndarray],
                 counted_from: float | None = None):
        self.mean = mean
        self.scv = scv
        usable = mean > 0 and math.isfinite(mean) and math.isfinite(scv)
        counted_from = COUNTED_FROM if counted_from is None else counted_from
        self.counted_work = counted_from * max(1.0, scv) * mean if usable else math.inf  # work from which to count
        self._rng = rng
        self._draw = draw
        self._normals: list[float] = []
        self._services: list[float] = []

    def applies(self, work: float) -> bool:
        """Whether `work` seconds of pooled work finish enough items to count them."""
        return work >= self.counted_work

    def completions(self, work: float, carry: float) -> tuple[int, float]:
        """Items finished by `work` seconds (after `carry` seconds already spent on the first), and
        the realised service time per item of this quantum: the drawn count spreads `work + carry`
        over its unrounded value, so work is conserved as with per-item draws. The items of a count
        cut short (no more items) took `count × unit − carry`; a busy group carries
        `work + carry − count × unit` over to the next item."""
        expected = work / self.mean
        if not self._normals:
            self._normals = self._rng.standard_normal(_BLOCK).tolist()
        # a group starting from idle (no carry) is at a renewal: E[N(W)] = W / mean + (c² − 1) / 2, and
        # the count is the value rounded down (−½ on average); a busy group's carry is its remainder
        offset = carry / self.mean if carry > 0 else 0.5 * self.scv
        value = expected + offset + math.sqrt(self.scv * expected) * self._normals.pop()
        if value <= 1:
            return 0, work + carry  # (never at the counts this is used for): one item longer than the work
        return int(value), (work + carry) / value

    def service_time(self) -> float:
        """A fresh service time (for a latency representative)."""
        if not self._services:
            self._services = self._draw(_BLOCK).tolist()
        return self._services.pop()
