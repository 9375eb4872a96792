"""What the what-if view shows of a run: the headline figures, the library's plots, the chartable series.

Nothing here imports matplotlib at module level; `figure_png` does, when a picture is asked for.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..results import Results

__all__ = ["KEY_FIGURES", "headline_metrics", "plot_names", "plot_caption", "figure_png", "series_columns"]

KEY_FIGURES = ("verdict", "loss ratio", "p99 latency", "peak memory", "crashes", "producers blocked")


def headline_metrics(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs for the metric rows: the verdict and the key figures first, then the counts.

    Values are the report's headline figures, shortened to fit a metric tile (the crash time and
    the blocked share's wording are in the verdict's reason).
    """
    from ..report import headline_figures

    figures = dict(headline_figures(summary))
    figures["verdict"] = str(summary["verdict"])
    figures["crashes"] = f"{summary['crashes']:,}"
    figures["producers blocked"] = f"{summary['producer_blocked_fraction']:.1%}"
    ordered = [label for label in KEY_FIGURES if label in figures]
    ordered += [label for label in figures if label not in KEY_FIGURES]
    return [(label, figures[label]) for label in ordered]


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
