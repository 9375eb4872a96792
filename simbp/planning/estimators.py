"""A point's figures estimated from its replications, each with a 95% interval that holds up:

- **means** (mean latency, utilisation, throughput, peaks …): Student's t over the independent
  replications' values;
- **latency quantiles** (`…latency_s.p50/.p95/.p99`): the quantile of every replication's window
  observations pooled (their sketches merged), never the mean of per-run quantiles (biased low on
  short runs); the interval by sectioning (Asmussen & Glynn; Nakayama 2014) on a log scale (a
  quantile is positive and its spread over runs right-skewed): the pooled quantile × e^(± t × s
  / √n), s the spread of the log per-replication quantiles around the log pooled one, widened by
  the sketch's `RELATIVE_ERROR`;
- **loss ratio**: losses over traffic pooled. Losses come in bursts (while a buffer is full), so
  the counts are not binomial: the exact Clopper–Pearson interval is taken on effective counts
  (both divided by the design effect D, the variance inflation of clustered counts). D is measured
  from the loss counts in batches when enough bursts were seen; otherwise it is bounded by what a
  queue at the measured utilisation ρ gives, (1 + ρ)/(1 − ρ) (an arrival finding the buffer full
  is followed by about ρ/(1 − ρ) more). With no loss at all, that makes the upper end about
  3.7·D / traffic: what the observed traffic allows, never [0, 0]. The replications' own t
  interval (sectioning) is joined to it when losses were seen.

Replications identical in every figure come from a scenario with nothing random: their figures are
exact and the intervals have zero width.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from ..metrics import RELATIVE_ERROR, LatencySketch
from .statistics import Estimate, clopper_pearson, estimate, t_quantile_975
from .steady import POOLED, sketch_from_state

__all__ = ["estimate_figure", "quantile_estimate", "loss_estimate", "identical", "design_effect", "QUANTILES",
           "LOSS_FIGURE", "MIN_BURSTS", "UTILISATION_CAP"]

QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
LOSS_FIGURE = "loss_ratio"
MIN_BURSTS = 10  # batches with losses needed before the measured design effect alone is trusted
UTILISATION_CAP = 0.995  # the burst bound (1 + ρ)/(1 − ρ) is taken at most at this utilisation (D ≤ 399)
_QUANTILE = re.compile(r"^(?:components\.(?P<group>[^.]+)\.)?latency_s\.(?P<q>p50|p95|p99)$")
_NOT_COMPARED = {"point", "replication", "seed", POOLED}


def identical(rows: list[dict[str, Any]]) -> bool:
    """Whether at least two replications agree in every figure: nothing in the scenario is random."""
    if len(rows) < 2:
        return False
    first = {k: v for k, v in rows[0].items() if k not in _NOT_COMPARED}
    return all({k: v for k, v in row.items() if k not in _NOT_COMPARED} == first for row in rows[1:])


def estimate_figure(figure: str, rows: list[dict[str, Any]], exact: bool = False) -> Estimate:
    """The estimate of one figure from a point's replication rows (with their pooled data)."""
    values = [row.get(figure, math.nan) for row in rows]
    if exact:
        value = next((float(v) for v in values if v is not None and not math.isnan(float(v))), math.nan)
        return Estimate(value, 0.0 if not math.isnan(value) else math.nan, len(rows) if not math.isnan(value) else 0,
                        0.0, method="exact (nothing random: every replication identical)")
    pooled = [row.get(POOLED) for row in rows]
    if any(p is None for p in pooled):
        return estimate(values)
    match = _QUANTILE.match(figure)
    if match:
        return quantile_estimate(QUANTILES[match["q"]], rows, match["group"])
    if figure == LOSS_FIGURE:
        return loss_estimate(rows)
    return estimate(values)


def _merged(rows: list[dict[str, Any]], group: str | None) -> tuple[LatencySketch, list[LatencySketch]]:
    total = LatencySketch()
    each = []
    for row in rows:
        sketch = LatencySketch()
        for name, state in row[POOLED]["sketches"].items():
            if group is None or name == group:
                sketch.merge(sketch_from_state(state))
        each.append(sketch)
        total.merge(sketch)
    return total, each


def quantile_estimate(quantile: float, rows: list[dict[str, Any]], group: str | None = None) -> Estimate:
    """The pooled quantile with its sectioning interval (see the module docstring)."""
    total, each = _merged(rows, group)
    if total.count == 0:
        return Estimate(math.nan, math.nan, 0, math.nan, method="pooled sketches (no observations)")
    centre = total.quantile(quantile)
    sections = [s.quantile(quantile) for s in each if s.count]
    n = len(sections)
    if n < 2:
        return Estimate(centre, math.inf, n, math.nan, method="pooled sketches (one replication: no interval)")
    if centre <= 0 or min(sections) <= 0:  # zeros: no log scale
        std = math.sqrt(sum((q - centre) ** 2 for q in sections) / (n - 1))
        half = t_quantile_975(n - 1) * std / math.sqrt(n)
        low, high = max(0.0, centre - half), centre + half
    else:
        std = math.sqrt(sum(math.log(q / centre) ** 2 for q in sections) / (n - 1))
        half = t_quantile_975(n - 1) * std / math.sqrt(n)
        low, high = centre * math.exp(-half), centre * math.exp(half)
    low, high = low * (1 - RELATIVE_ERROR), high * (1 + RELATIVE_ERROR)
    return Estimate(centre, (high - low) / 2, n, std, lower=low, upper=high,
                    method="pooled sketches; sectioning interval on a log scale, widened by the sketch's 1% error")


def design_effect(batches: list[tuple[int, int]], ratio: float) -> tuple[float, int]:
    """(measured variance inflation of loss counts over batches, batches with losses)."""
    produced = np.array([b[0] for b in batches], dtype=float)
    lost = np.array([b[1] for b in batches], dtype=float)
    bursts = int(np.count_nonzero(lost))
    if len(batches) < 2 or ratio <= 0 or ratio >= 1 or produced.sum() <= 0:
        return 1.0, bursts
    expected = ratio * (1 - ratio) * produced.mean()
    spread = float(np.sum((lost - ratio * produced) ** 2) / (len(batches) - 1))
    return max(1.0, spread / expected) if expected > 0 else 1.0, bursts


def burst_bound(utilisation: float) -> float:
    """The design effect a queue at utilisation ρ gives its losses: (1 + ρ)/(1 − ρ), at least 1."""
    rho = min(max(utilisation, 0.0), UTILISATION_CAP)
    return max(1.0, (1 + rho) / (1 - rho))


def _busiest(rows: list[dict[str, Any]]) -> float:
    names = {k for row in rows for k in row if k.startswith("components.") and k.endswith(".utilisation")}
    means = [float(np.nanmean([row.get(name, math.nan) for row in rows])) for name in names]
    finite = [m for m in means if math.isfinite(m)]
    return max(finite, default=0.0)


def loss_estimate(rows: list[dict[str, Any]]) -> Estimate:
    """Pooled losses over pooled traffic, with an interval honest about bursts and about zero
    losses (see the module docstring)."""
    produced = [float(row.get("steady.produced", row.get("produced", 0)) or 0) for row in rows]
    lost = [float(row.get("steady.lost", 0) or 0) for row in rows]
    traffic, losses, n = sum(produced), sum(lost), len(rows)
    if traffic <= 0:
        return Estimate(0.0, math.nan, 0, math.nan, method="no traffic")
    ratio = losses / traffic
    batches = [(int(b[0]), int(b[1])) for row in rows for b in row[POOLED]["loss_batches"]]
    measured, bursts = design_effect(batches, ratio)
    effect = measured if bursts >= MIN_BURSTS else max(measured, burst_bound(_busiest(rows)))
    low, high = clopper_pearson(losses / effect, traffic / effect)
    method = f"exact binomial on pooled counts, design effect {effect:.3g}"
    std = math.nan
    if n >= 2 and losses > 0:
        mean_traffic = traffic / n
        std = math.sqrt(sum((l - ratio * p) ** 2 for l, p in zip(lost, produced)) / (n - 1)) / mean_traffic
        half = t_quantile_975(n - 1) * std / math.sqrt(n)
        low, high = min(low, max(0.0, ratio - half)), max(high, ratio + half)
        method += ", joined with the replications' t interval"
    return Estimate(ratio, (high - low) / 2, n, std, lower=low, upper=high, method=method)
