"""Summary figures by dotted name: their unit (duration, bytes, rate, ratio, number), target
values written with units, and how figures and field values are shown to people."""

from __future__ import annotations

import json
import math
from typing import Any

from ..units import format_bytes, format_duration, parse_bytes, parse_duration, parse_rate

__all__ = ["HEADLINE_FIGURES", "figure_kind", "parse_figure_value", "format_figure", "display", "short_path", "field_label"]

HEADLINE_FIGURES = ("loss_ratio", "latency_s.mean", "latency_s.p99", "peak_queue_depth", "peak_memory_bytes",
                    "crashes", "producer_blocked_fraction", "throughput_per_s")
# ====================================================================================== figures
def figure_kind(figure: str) -> str:
    """The unit of a summary figure from its name: duration, bytes, rate, ratio or number."""
    last = figure.rsplit(".", 1)[-1]
    if last.endswith("_per_s"):
        return "rate"
    if ".latency_s." in f".{figure}" or last.endswith("_s"):
        return "duration"
    if "bytes" in last:
        return "bytes"
    if last.endswith(("_ratio", "_fraction")) or last == "utilisation":
        return "ratio"
    return "number"


def parse_figure_value(value: float | str, kind: str) -> float:
    """A target value in the figure's units: "2s", "64MiB", "900/s", "0.1%" or a plain number."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, (int, float)):
        return _finite(float(value), value)
    text = value.strip()
    if text.endswith("%"):
        try:
            return _finite(float(text[:-1]) / 100.0, value)
        except ValueError:
            raise ValueError(f"expected a percentage such as 0.1%, got {value!r}") from None
    parser = {"duration": parse_duration, "bytes": parse_bytes, "rate": parse_rate}.get(kind)
    if parser is not None:
        return parser(text)
    try:
        return _finite(float(text), value)
    except ValueError:
        raise ValueError(f"expected a finite number, got {value!r}") from None


def _finite(number: float, given: object) -> float:
    """A target must be a finite number: NaN would make every comparison false, and pass silently."""
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {given!r}")
    return number


def format_figure(value: float | None, kind: str) -> str:
    """A figure for people: 0.0012 → "0.12%", 1.5 (seconds) → "1.5s", bytes in KiB/MiB."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "∞"
    if kind == "duration":
        return format_duration(value)
    if kind == "bytes":
        return format_bytes(value)
    if kind == "ratio":
        return f"{value:.3%}" if abs(value) < 0.1 else f"{value:.1%}"
    if kind == "rate":
        return f"{value:,.4g}/s"
    return f"{value:,.4g}"

def short_path(path: str) -> str:
    parts = path.split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 else path


def display(value: Any) -> str:
    if isinstance(value, dict):
        if value.get("dist") == "constant" and "value" in value:
            return display(value["value"])
        return json.dumps({k: v for k, v in value.items() if v is not None}, separators=(",", ":"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def field_label(path: str) -> str:
    return "load multiplier" if path == "load_multiplier" else path
