"""The what-if view: the verdict and advice, the headline figures, interactive charts, the panels of
the mechanisms the scenario uses (Kafka, Node.js streams, downstreams, retries), and downloads."""

from __future__ import annotations

from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from ... import dashboard
from ...results import Results
from .. import charts, mechanisms
from ..charts import timeline_chart
from .common import (
    POOL,
    cached_chart,
    caption_for_run,
    draw_chart,
    fast_mode_note,
    metric_tiles,
    run_page,
    show_timeline,
    verdict_block,
)
from .setup import Setup

__all__ = ["show_whatif", "show_results", "show_mechanisms"]


def show_whatif(setup: Setup) -> Results | None:
    results = run_page(setup.whatif_text, setup.seed, setup.base_dir, setup.label, setup.mode,
                       f"simulating {setup.whatif.name}…", confirm_key="whatif")
    if results is None:
        return None
    show_results(results, key=_key(setup))
    _downloads(setup, results)
    return results


def _key(setup: Setup) -> Any:
    return dashboard.run_key(setup.whatif_text, setup.seed, setup.mode) + (setup.base_dir,)


def show_results(results: Results, *, key: Any, heading: str = "###") -> None:
    """Verdict, figures, charts and mechanism panels of one run."""
    summary = results.summary
    verdict_block(results, heading=heading)
    metric_tiles(summary, results.timeseries)
    fast_mode_note(summary)
    st.caption(caption_for_run(summary))
    show_timeline(key, results)
    show_mechanisms(results, key)
    with st.expander("Any time series"):
        _any_series(results)


@st.fragment
def _any_series(results: Results) -> None:
    """Columns of the run's time series on demand; choosing them reruns only this part of the page."""
    columns = dashboard.series_columns(results.timeseries)
    chosen = st.multiselect("columns", columns, placeholder="choose columns of timeseries.csv to chart")
    if chosen:
        draw_chart(timeline_chart([charts.series_panel(results, chosen)], height=220))


def show_mechanisms(results: Results, key: Any) -> None:
    """A panel per mechanism the scenario uses; nothing for those it does not."""
    groups = POOL.derived(key, "kafka", lambda: mechanisms.kafka_groups(results))
    for index, group in enumerate(groups):
        st.markdown(f"#### Kafka: consumer group {group.name} on {group.topic}")
        for note in group.notes:
            st.markdown(note)
        st.markdown(f"**Assignment**: {group.active} of {group.consumers} consumers own a partition")
        st.dataframe(group.assignment, hide_index=True, width="stretch", height="content")
        st.markdown("**Partitions at the end**: lag in messages and seconds, and Burrow's worst status")
        st.dataframe(group.partitions[["partition", "owner", "lag (messages)", "lag (seconds)", "deleted unread",
                                       "worst status"]], hide_index=True, width="stretch", height="content")
        unit = group.lag_panel.data.attrs.get("time_unit", "s")
        draw_chart(cached_chart(key, f"kafka_lag:{index}", partial(timeline_chart, [group.lag_panel], height=170)))
        draw_chart(cached_chart(key, f"kafka_status:{index}", partial(
            charts.status_chart, group.status, unit=unit, colours=mechanisms.STATUS_COLOURS)))
        st.caption("Burrow's evaluation per partition: OK; WARN when lag grew over the whole window; STOP when the "
                   "consumer stopped committing; STALL when it commits the same offset while lag stays.")
    streams = POOL.derived(key, "streams", lambda: mechanisms.stream_panels(results))
    for index, (panel, figures) in enumerate(streams):
        st.markdown("#### Node.js stream: the buffer against its highWaterMark")
        st.markdown(" · ".join(f"{label}: **{value:,}**" for label, value in figures.items()))
        draw_chart(cached_chart(key, f"stream:{index}", partial(timeline_chart, [panel], height=170)))
    downstreams = POOL.derived(key, "downstreams", lambda: mechanisms.downstream_panels(results))
    for index, (panel, figures) in enumerate(downstreams):
        st.markdown("#### Downstream: concurrency against capacity and permits")
        st.markdown(" · ".join(f"{label}: **{value:,}**" if isinstance(value, int) else f"{label}: **{value}**"
                               for label, value in figures.items()))
        draw_chart(cached_chart(key, f"downstream:{index}", partial(timeline_chart, [panel], height=170)))
    retries = POOL.derived(key, "retries", lambda: mechanisms.retry_panel(results))
    if retries is not None:
        st.markdown("#### Retries")
        draw_chart(cached_chart(key, "retries", lambda: timeline_chart([retries], height=170)))


def _downloads(setup: Setup, results: Results) -> None:
    with st.expander("The scenario as run (YAML)"):
        st.code(setup.whatif_text, language="yaml")
    columns = st.columns(3)
    name = setup.whatif.name
    # the files are made only when a button is pressed (not on every rerun), and pressing one reruns nothing
    columns[0].download_button("Download the scenario (YAML)", dashboard.scenario_yaml_bytes(setup.whatif_text),
                               file_name=f"{name}.yaml", mime="application/x-yaml", on_click="ignore", wrap=True,
                               width="stretch")
    columns[1].download_button("Download the time series (CSV)", lambda: dashboard.timeseries_csv(results),
                               file_name=f"{name}-timeseries.csv", mime="text/csv", on_click="ignore", wrap=True, width="stretch")
    columns[2].download_button("Download the summary (JSON)", lambda: dashboard.summary_json(results),
                               file_name=f"{name}-summary.json", mime="application/json", on_click="ignore", wrap=True,
                               width="stretch")


def figures_table(runs: dict[str, Results]) -> pd.DataFrame:
    """Headline figures of several runs as one table (a column per run): nothing is ever cut off."""
    rows: dict[str, dict[str, str]] = {}
    for name, result in runs.items():
        for label, value in dashboard.headline_metrics(result.summary, result.timeseries):
            rows.setdefault(label, {})[name] = value
    return pd.DataFrame.from_dict(rows, orient="index")
