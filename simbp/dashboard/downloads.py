"""The downloads: the scenario as run, its time series and its summary, as bytes ready to save."""

from __future__ import annotations

from ..results import Results

__all__ = ["timeseries_csv", "summary_json", "scenario_yaml_bytes"]


def timeseries_csv(results: Results) -> bytes:
    """The run's time series as CSV bytes (the same columns as `timeseries.csv`)."""
    return results.timeseries.to_csv(index=False).encode("utf-8")


def summary_json(results: Results) -> bytes:
    """The run's summary as the JSON `simbp run` writes."""
    return results.to_json().encode("utf-8")


def scenario_yaml_bytes(text: str) -> bytes:
    """The edited scenario, ready to save and run with `simbp run`."""
    return text.encode("utf-8")
