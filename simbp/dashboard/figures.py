"""What the what-if view shows of a run: the headline figures, the library's plots, the chartable series.

Nothing here imports matplotlib at module level; `figure_png` does, when a picture is asked for.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..results import Results
from ..units import format_bytes

__all__ = ["KEY_FIGURES", "BROKER_LOG", "BROKER_LOG_HELP", "broker_log_bytes", "headline_metrics", "plot_names",
           "plot_caption", "figure_png", "series_columns", "fast_error_text"]

KEY_FIGURES = ("verdict", "loss ratio", "p99 latency", "peak memory", "crashes", "producers blocked")


BROKER_LOG = "broker log peak"
BROKER_LOG_HELP = ("This scenario has no memory section and its messages wait in a Kafka topic, whose bytes live on "
                   "the broker's disk, not in the service's memory (which would read 0 B). This is the most the "
                   "topic's log held at once, read or not, until retention deleted it.")


def fast_error_text(fast_error: dict[str, float]) -> str:
    """A fast run's stated error bounds (`summary["fast_error"]`) in words: "loss ratio ±3% (or
    ±0.001), p99 latency ±5%, …": each figure is within the larger of its relative and absolute bound."""
    parts = []
    for key, value in fast_error.items():
        if not key.endswith("_rel"):
            continue
        name = key[:-4]
        words = {"latency_p99": "p99 latency", "latency_mean": "mean latency", "peak_lag_s": "peak lag (s)",
                 "lag": "Kafka lag", "lag_s": "Kafka lag (s)"}.get(name, name.replace("_", " "))
        absolute = fast_error.get(f"{name}_abs")
        parts.append(f"{words} ±{value:.0%}" + (f" (or ±{absolute:g})" if absolute else ""))
    if fast_error.get("latency_covered") is False:  # quanta coarser than the latency bounds were measured at
        parts.append(f"latency not covered: quanta of {fast_error.get('quantum_service_times', 0):.0f} service "
                     "times overstate short waits")
    return ", ".join(parts)


def headline_metrics(summary: dict[str, Any], timeseries: pd.DataFrame | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs for the metric rows: the verdict and the key figures first, then the counts.

    Values are the report's headline figures, shortened to fit a metric tile (the crash time and
    the blocked share's wording are in the verdict's reason). For a Kafka scenario without a
    memory section "peak memory" would always be 0 B; its tile shows the topics' log instead
    (`BROKER_LOG`: the peak of their summed bytes in `timeseries`, else their bytes at the end).
    """
    from ..report import headline_figures

    figures = dict(headline_figures(summary))
    figures["verdict"] = str(summary["verdict"])
    figures["crashes"] = f"{summary['crashes']:,}"
    figures["producers blocked"] = f"{summary['producer_blocked_fraction']:.1%}"
    ordered = [label for label in KEY_FIGURES if label in figures]
    ordered += [label for label in figures if label not in KEY_FIGURES]
    metrics = [(label, figures[label]) for label in ordered]
    log = broker_log_bytes(summary, timeseries)
    if log is not None:
        metrics = [(BROKER_LOG, format_bytes(log)) if label == "peak memory" else (label, value)
                   for label, value in metrics]
    return metrics


def broker_log_bytes(summary: dict[str, Any], timeseries: pd.DataFrame | None = None) -> float | None:
    """The most bytes the Kafka topics kept at once, when that, not memory, is where messages wait.

    None when the scenario models memory (a memory section, or anything held in memory) or has no topic.
    """
    if summary.get("memory_limit_bytes") or float(summary.get("peak_memory_bytes") or 0.0) > 0:
        return None
    topics = [name for name, entry in summary.get("components", {}).items() if entry.get("kind") == "topic"]
    if not topics:
        return None
    columns = [f"{name}.bytes" for name in topics]
    if timeseries is not None and all(column in timeseries.columns for column in columns):
        return float(timeseries[columns].sum(axis=1).max()) if len(timeseries) else 0.0
    return float(sum(float(summary["components"][name].get("bytes") or 0.0) for name in topics))


def plot_names() -> list[str]:
    """The library's plots in display order (`simbp.plots.PLOTS`: new plots appear here by themselves)."""
    from ..plots import PLOTS

    return list(PLOTS)


def plot_caption(name: str) -> str:
    """What a plot shows, in the words the HTML report uses."""
    from ..report import _CAPTIONS

    return _CAPTIONS.get(name, "")


def figure_png(results: Results, name: str, *, dpi: int = 120, size: tuple[float, float] | None = None) -> bytes:
    """One of the library's plots as PNG bytes; `size` (inches) shrinks it for side-by-side views.

    Rendering is the slow part of a dashboard rerun, so the app caches these bytes per run.
    """
    import io

    from ..plots import PLOTS

    figure = PLOTS[name](results)
    if size is not None:
        figure.set_size_inches(*size)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def series_columns(timeseries: pd.DataFrame) -> list[str]:
    """The numeric time-series columns a person can chart (everything but the time), as they exist."""
    return [c for c in timeseries.columns if c != "time_s" and pd.api.types.is_numeric_dtype(timeseries[c])]
