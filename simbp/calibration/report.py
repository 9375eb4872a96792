"""fit_report.html: the estimates, what was not identified, repairs, and observed vs simulated plots.

Self-contained: the PNGs are base64-embedded. matplotlib is imported here only, when a report is
drawn, so `import simbp` stays light.
"""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

from .backtest import Backtest

__all__ = ["render_report", "draw_plots"]

_SPREAD_COLUMNS = ("mean", "low", "high", "min", "max")
_PLOTS = (("lag", "Lag (messages waiting)", "messages"), ("throughput", "Throughput", "messages / s"),
          ("latency_p99", "Latency p99", "seconds"))


def draw_plots(test: Backtest, summary: dict[str, Any]) -> dict[str, bytes]:
    """One PNG per observed role among lag, throughput and latency: observed and simulated overlaid."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import EngFormatter

    span = float(test.times[-1]) if len(test.times) else 0.0
    factor, unit = (3600.0, "h") if span >= 4 * 3600 else (60.0, "min") if span >= 120 else (1.0, "s")
    x = (test.times + summary["observed"]["step_s"]) / factor
    images: dict[str, bytes] = {}
    for role, title, ylabel in _PLOTS:
        if role not in test.observed:
            continue
        figure = Figure(figsize=(9, 3.4), dpi=100, layout="constrained")
        axes = figure.add_subplot()
        axes.plot(x, test.observed[role], color="#1f77b4", linewidth=1.6, label="observed")
        axes.plot(x, test.simulated[role], color="#d62728", linewidth=1.2, linestyle="--", label="simulated (fitted)")
        if role == "throughput":
            total = summary["total_capacity_per_s"]
            axes.axhline(total, color="#555555", linewidth=1, linestyle=":", label=f"fitted capacity {total:,.4g}/s")
        if role == "lag" and summary["backtest"].get("observed_peak_lag") is not None:
            bt = summary["backtest"]
            axes.set_title(f"{title}: peak observed {bt['observed_peak_lag']:,.0f}, simulated {bt['simulated_peak_lag']:,.0f} "
                           f"(NRMSE {bt['lag_nrmse']})", loc="left", fontsize=11)
        else:
            axes.set_title(title, loc="left", fontsize=11)
        axes.set_xlabel(f"time since the first sample ({unit})")
        axes.set_ylabel(ylabel)
        axes.yaxis.set_major_formatter(EngFormatter(sep=""))
        axes.set_ylim(bottom=0)
        axes.grid(True, alpha=0.3)
        axes.legend(loc="upper right", fontsize=9)
        png = io.BytesIO()
        figure.savefig(png, format="png", metadata={"Software": None})
        images[role] = png.getvalue()
    return images


def _interval(values: list[float | None], digits: str = ".4g") -> str:
    low, high = values
    left = "—" if low is None else format(low, digits)
    right = "not identified" if high is None else format(high, digits)
    return f"[{left}, {right}]"


def render_report(summary: dict[str, Any], test: Backtest, *, plots: bool = True) -> str:
    """The HTML report text."""
    images = draw_plots(test, summary) if plots else {}
    e = html.escape
    bt = summary["backtest"]
    rows = [
        ("system", f"{summary['kind']} ({summary['kind_reason']})"),
        ("consumers (workers)", f"{summary['workers']} ({summary['workers_source']})"),
        ("capacity per consumer", f"{summary['capacity_per_s']:.4g}/s, 95% interval {_interval(summary['capacity_per_s_interval'])}"),
        ("total capacity", f"{summary['total_capacity_per_s']:.4g}/s"),
        ("how", summary["capacity_method"]),
        ("service time mean", f"{summary['service_mean_s']:.4g}s, 95% interval {_interval(summary['service_mean_s_interval'])}"),
        ("service distribution", f"{json.dumps(summary['service'])}: {summary['service_method']}"),
    ]
    figures = [(k, v) for k, v in bt.items() if k not in ("normalisation", "spread", "spread_note")]
    spread = bt.get("spread") or {}
    spread_rows = "".join(f"<tr><th>{e(k)}</th>" + "".join(f"<td>{e(str(v.get(c)))}</td>" for c in _SPREAD_COLUMNS) + "</tr>"
                          for k, v in spread.items())
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>simbp fit</title>",
        "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
        "td,th{padding:3px 10px;text-align:left;vertical-align:top}tr:nth-child(even){background:#f4f4f4}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>simbp fit: {e(summary['observed']['source'])}</h1>",
        f"<p>{summary['observed']['samples']} samples every {summary['observed']['step_s']:g}s; roles: "
        f"{e(', '.join(summary['observed']['roles']))}. Scenario: <code>fitted.yaml</code>; plan: <code>simbp plan plan.yaml</code>.</p>",
        "<h2>Fitted parameters</h2><table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in rows) + "</table>",
        "<h2>What the data could not identify</h2><ul>" + ("".join(f"<li>{e(u)}</li>" for u in summary["unidentified"])
                                                            or "<li>nothing: every parameter was estimated from the data</li>") + "</ul>",
    ]
    if summary["notes"]:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in summary["notes"]) + "</ul>")
    parts.append("<h2>Repairs to the input</h2><ul>" + ("".join(f"<li>{e(r)}</li>" for r in summary["repairs"])
                                                      or "<li>none needed</li>") + "</ul>")
    parts.append("<h2>Backtest: the fitted scenario replaying the observed arrivals</h2><table>"
                 + "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in figures) + "</table>"
                 + f"<p>{e(bt['normalisation'])}</p>")
    if spread_rows:
        parts.append(f"<h3>Spread over {bt.get('replications', 1)} replays</h3><table><tr><th>figure</th>"
                     + "".join(f"<th>{c}</th>" for c in _SPREAD_COLUMNS) + f"</tr>{spread_rows}</table>"
                     + f"<p>{e(str(bt.get('spread_note', '')))}</p>")
    for role, png in images.items():
        parts.append(f"<h3>{e(role)}</h3><img alt='{e(role)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    parts.append("</body></html>")
    return "\n".join(parts)
