"""A readable, self-contained HTML report of one run (plots embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING, Any

from .units import format_bytes, format_duration

if TYPE_CHECKING:
    from .results import Results

__all__ = ["render_report", "ADVICE", "headline_figures"]

ADVICE = {
    "healthy": "The consumers keep up with this load. Try a higher load multiplier to find where it stops being true.",
    "dropping": "The buffer is full often enough to shed messages. Add consumers, make service faster, or rate-limit "
                "the source; a larger buffer only delays the drops and adds latency if the load stays above capacity.",
    "blocking": "Backpressure is reaching the producers: they wait for room, so callers upstream slow down (and may "
                "time out). That protects memory; if upstream cannot wait, add consumers or shed load explicitly.",
    "falling_behind": "Arrivals outpace consumption, so the backlog grows without bound. Bound the queue (drop or "
                      "block), add consumers or partitions, or rate-limit the source before memory runs out.",
    "crashed": "An unbounded backlog filled the service's memory and it crashed, losing everything it held. Bound the "
               "buffer with a drop or block policy so the failure is a controlled one.",
}

_CAPTIONS = {
    "lag": "Messages waiting in each buffer (dotted: capacity). A line that keeps rising means consumers are behind.",
    "loss": "Messages lost by reason: dropped by a full buffer's policy, timed out waiting upstream, or lost in a crash.",
    "memory": "Bytes held by the service against its limit; a dashed vertical line marks each crash.",
    "latency": "Time from production to the end of consumption, per sampling interval (p50 and p99).",
    "blocked": "Share of each interval producers spent blocked on a full buffer, and how busy the consumers were.",
}


def headline_figures(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures a person reads first, formatted: (label, value)."""
    latency = summary.get("latency_s") or {}
    p99 = latency.get("p99")
    first = summary.get("first_crash_s")
    return [
        ("produced", f"{summary['produced']:,}"),
        *([("of which retries", f"{summary['retries']:,}")] if summary.get("retries") else []),
        ("consumed", f"{summary['consumed']:,}"),
        ("dropped", f"{summary['dropped']:,}"),
        ("timed out", f"{summary['timed_out']:,}"),
        ("lost in crash", f"{summary['lost_in_crash']:,}"),
        *[(label, f"{summary[key]:,}") for key, label in (("discarded", "discarded on purpose"), ("failed", "failed downstream"))
          if summary.get(key)],
        ("in flight at end", f"{summary['in_flight_at_end']:,}"),
        ("loss ratio", f"{summary['loss_ratio']:.3%}"),
        ("p99 latency", format_duration(p99) if p99 is not None else "n/a"),
        ("peak queue depth", f"{summary['peak_queue_depth']:,}"),
        ("peak memory", format_bytes(summary["peak_memory_bytes"])),
        ("crashes", f"{summary['crashes']}" + (f" (first at {format_duration(first)})" if first is not None else "")),
        ("producers blocked", f"{summary['producer_blocked_fraction']:.1%} of the time"),
    ]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_cell(v)}" for k, v in value.items() if v is not None)
    return html.escape(str(value))


def render_report(results: "Results", images: dict[str, bytes]) -> str:
    """The report as one HTML page that needs no other file."""
    summary = results.summary
    scenario = results.scenario
    verdict = summary["verdict"]
    colour = {"healthy": "#2ca02c", "dropping": "#d62728", "blocking": "#ff7f0e", "falling_behind": "#bcbd22",
              "crashed": "#7f0000"}.get(verdict, "#444")
    expectation = ""
    if "expected_verdict" in summary:
        held = summary["expectation_met"]
        expectation = (f"<p class='expect {'ok' if held else 'bad'}'>Expected verdict <b>{html.escape(summary['expected_verdict'])}</b>: "
                       f"{'held' if held else 'did not hold'}.</p>")
    figures = "".join(f"<div class='figure'><div class='label'>{html.escape(k)}</div><div class='value'>{html.escape(v)}</div></div>"
                      for k, v in headline_figures(summary))
    rows = []
    keys = ["kind", "produced", "accepted", "processed", "consumed", "forwarded", "dropped", "timed_out", "lost_in_crash",
            "in_flight_at_end", "peak_queue_depth", "mean_queue_depth", "utilisation", "producer_blocked_fraction", "latency_s"]
    for name, component in summary.get("components", {}).items():
        cells = "".join(f"<td>{_cell(component[k]) if k in component and component[k] is not None else ''}</td>" for k in keys)
        rows.append(f"<tr><th>{html.escape(name)}</th>{cells}</tr>")
    header = "".join(f"<th>{html.escape(k.replace('_', ' '))}</th>" for k in keys)
    plots = "".join(
        f"<section><h3>{html.escape(name.capitalize())}</h3><p>{html.escape(_CAPTIONS.get(name, ''))}</p>"
        f"<img alt='{html.escape(name)} plot' src='data:image/png;base64,{base64.b64encode(png).decode()}'></section>"
        for name, png in images.items())
    description = html.escape(scenario.description.strip()) or "(no description)"
    mode = html.escape(str(summary.get("mode", "exact")))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>simbp: {html.escape(scenario.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
.verdict {{ border-left: 0.5rem solid {colour}; padding: 0.5rem 1rem; background: #f7f7f7; }}
.verdict h2 {{ margin: 0; color: {colour}; }}
.figures {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: 0.5rem; margin: 1rem 0; }}
.figure {{ background: #f3f5f8; padding: 0.5rem; border-radius: 4px; }}
.figure .label {{ font-size: 0.8rem; color: #555; }} .figure .value {{ font-size: 1.2rem; font-weight: 600; }}
table {{ border-collapse: collapse; font-size: 0.8rem; }} td, th {{ border: 1px solid #ddd; padding: 0.2rem 0.4rem; text-align: right; }}
img {{ max-width: 100%; }} .expect.ok {{ color: #2ca02c; }} .expect.bad {{ color: #d62728; }}
</style></head><body>
<h1>{html.escape(scenario.name)}</h1>
<p>{description}</p>
<div class="verdict"><h2>{html.escape(verdict.replace('_', ' '))}</h2><p>{html.escape(summary['verdict_reason'])}</p>
<p><i>{html.escape(ADVICE.get(verdict, ''))}</i></p></div>
{expectation}
<div class="figures">{figures}</div>
<p>Simulated {format_duration(summary['duration_s'])} with seed {summary['seed']} in {mode} mode.
Conservation: produced = consumed + dropped + timed out + lost in crash + in flight at end
(+ discarded on purpose + failed downstream, where a scenario has them).
Latency quantiles are within {summary.get('latency_relative_error', 0.01):.0%} (relative).</p>
{plots}
<h3>Components</h3>
<div style="overflow-x:auto"><table><tr><th>name</th>{header}</tr>{''.join(rows)}</table></div>
</body></html>
"""
