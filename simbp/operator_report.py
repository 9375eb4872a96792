"""How an RxJS operator chain reports itself in `summary.json`: one shape for exact and fast mode
(`simbp.exact.systems.operators`, `simbp.fast.systems.operators`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["ReportingOperator", "operator_stats", "operator_stages"]


class ReportingOperator(Protocol):
    """What an operator of either engine counts."""

    kind: str
    received: int
    emitted: int
    discarded: int
    delay_sum: float
    delay_max: float

    def held(self) -> int: ...


def operator_stats(operator: ReportingOperator) -> dict[str, Any]:
    """One operator's summary entry: counts, what it holds at the end, the latency it added, and for
    `bufferTime` the arrays it emitted."""
    emitted = operator.emitted
    stats: dict[str, Any] = {
        "operator": operator.kind, "received": operator.received, "emitted": emitted, "discarded": operator.discarded,
        "in_flight_at_end": operator.held(),
        "added_latency_s": {"mean": operator.delay_sum / emitted if emitted else None,
                            "max": operator.delay_max if emitted else None}}
    arrays = getattr(operator, "arrays", None)
    if arrays is not None:  # bufferTime
        stats["arrays"] = arrays
        stats["mean_array_size"] = emitted / arrays if arrays else None
        stats["largest_array"] = getattr(operator, "largest_array", None)
    return stats


def operator_stages(operators: Iterable[ReportingOperator]) -> dict[str, Any]:
    """Per operator, keyed by its RxJS name (a repeated one gets _2, _3 …), in pipe order."""
    stages: dict[str, Any] = {}
    for operator in operators:
        key, n = operator.kind, 1
        while key in stages:
            n += 1
            key = f"{operator.kind}_{n}"
        stages[key] = operator_stats(operator)
    return stages
