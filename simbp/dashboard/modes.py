"""The mode the dashboard runs a scenario in when its mode control says `auto`.

`simbp.run`'s own `auto` (`simbp.limits.choose_mode`) picks fast mode only above two million
messages, where exact mode would take over ten seconds. A page waits for every run, so the page's
`auto` also picks fast mode for a smaller run when fast mode models it, is estimated quicker
(`simbp.limits.estimate_seconds`: Kafka topics, piped Node.js streams, RxJS bufferTime into a batch
writer; a dropping or blocking buffer is stepped finely and is slower) and its latency bounds
cover the run's quantum, unless the scenario uses a mechanism where fast mode was measured outside
a stated bound on the library's scenarios (`MEASURED_OUTSIDE`). Measured with
`python benchmarks/dashboard_modes.py` (docs/dashboard.md): on the library's scenarios this rule
picks, fast mode was 2-7 times quicker and every figure with a stated bound (`fast_error`) was
within it. The page then shows fast mode's bounds and a "Run exactly" switch.
"""

from __future__ import annotations

from typing import Any

from ..limits import choose_mode

__all__ = ["page_mode", "MEASURED_OUTSIDE"]

MEASURED_OUTSIDE = {
    "consumer_groups[].autoscale": "autoscaling consumers (the group's utilisation measured 3.8% low in "
                                   "kafka_autoscale, against a bound of 1%)",
}
"""Mechanisms where the page keeps exact mode: fast mode was quicker there, but measured outside a
stated bound on the library's scenario that uses it (benchmarks/dashboard_modes.py)."""


def _measured_outside(scenario: Any) -> list[str]:
    if any(group.autoscale is not None for group in scenario.consumer_groups):
        return [MEASURED_OUTSIDE["consumer_groups[].autoscale"]]
    return []


def page_mode(scenario: Any, mode: str = "auto") -> tuple[str, str]:
    """The mode the page runs (`"exact"` or `"fast"`) and why, for the mode control's `mode`."""
    chosen, reason = choose_mode(scenario, mode)
    if mode != "auto" or chosen == "fast":
        return chosen, reason
    from .. import semantics
    from ..fast.accuracy import LATENCY_QUANTA_COVERED, latency_quanta
    from ..fast.model import choose_quantum
    from ..limits import estimate_seconds
    from ..units import format_duration

    if semantics.fast_unsupported(scenario) or _measured_outside(scenario):
        return chosen, reason
    exact_s, fast_s = estimate_seconds(scenario, "exact"), estimate_seconds(scenario, "fast")
    if not fast_s < exact_s:
        return chosen, reason
    quantum = choose_quantum(scenario)
    coarseness = latency_quanta(scenario, quantum)
    if coarseness is not None and coarseness > LATENCY_QUANTA_COVERED:
        return chosen, reason
    return "fast", (f"auto on this page: fast mode models this scenario and is quicker here, so message counts per "
                    f"quantum of {format_duration(quantum)} instead of every message, within the bounds in `fast_error` "
                    f"(choose exact mode to simulate every message)")
