"""Streamlit pieces every view uses: runs through the shared pool, problems, the verdict, figures, charts.

Runs go through one `RunPool` per server: a run is computed once however many pages ask for it,
in a helper thread while the page polls (so a control moved mid-run interrupts the page at once,
and the abandoned run is cancelled when no page waits for it any more).
"""

from __future__ import annotations

import hashlib
import time
import traceback
from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
import streamlit as st

from ... import dashboard
from ...errors import ScenarioError
from ...results import Results
from ...units import format_duration
from .. import charts, guard, runpool
from ..figures import BROKER_LOG, BROKER_LOG_HELP, fast_error_text

__all__ = ["POOL", "run_page", "show_problems", "verdict_block", "metric_tiles", "show_timeline", "short_hash",
           "CSS", "PRESENTER_CSS", "run_panels", "caption_for_run", "draw_chart", "cached_chart", "fast_mode_note"]

POOL = runpool.RunPool(max_entries=96)
VERDICT_COLOURS = {"healthy": "green", "dropping": "red", "blocking": "orange", "falling_behind": "orange",
                   "crashed": "red"}
PROGRESS_AFTER_S = 0.3  # a run finishing sooner shows no progress bar (no flicker on quick reruns)

CSS = """
<style>
/* headline figures wrap instead of being cut to "3…" at a projector's 1024 px */
[data-testid="stMetricValue"] { font-size: 1.75rem; line-height: 1.25; }
[data-testid="stMetricValue"] > div, [data-testid="stMetricValue"] div, [data-testid="stMetricLabel"] p {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
  overflow-wrap: anywhere; }
/* columns wrap to the next line rather than shrinking below a readable width */
[data-testid="stHorizontalBlock"] { flex-wrap: wrap; row-gap: 0.5rem; }
[data-testid="stHorizontalBlock"] > [data-testid="stColumn"] { min-width: 150px; }
.simbp-figures td, .simbp-figures th { padding: 0.15rem 0.5rem; white-space: nowrap; }
</style>
"""

PRESENTER_CSS = """
<style>
html { font-size: 21px; }
[data-testid="stMetricValue"] { font-size: 2.1rem; }
.block-container, [data-testid="stMainBlockContainer"] { max-width: 1100px; padding-top: 2rem; }
</style>
"""


def short_hash(*parts: Any) -> str:
    return hashlib.sha1(repr(parts).encode("utf-8")).hexdigest()[:10]


def show_problems(title: str, error: ScenarioError) -> None:
    """Validation problems as one error box: each with its line and field (never a file's contents)."""
    lines = "\n".join(f"- {line}" for line in dashboard.problem_lines(error))
    st.error(f"**{title}**\n\n{lines}")


def _work(text: str, seed: int, base_dir: str, label: str, mode: str) -> Any:
    return lambda deadline: dashboard.run_guarded(text, seed, base_dir=base_dir, label=label, mode=mode,
                                                  deadline=deadline)


def run_page(text: str, seed: int, base_dir: str, label: str, mode: str, caption: str, *,
             confirm_key: str = "") -> Results | None:
    """A run for this page: from the pool at once when known, else computed (or joined) while a
    progress bar shows. A large run asks first; problems are shown, never raised."""
    key = dashboard.run_key(text, seed, mode) + (base_dir,)
    placeholder = st.empty()  # always here, so what follows keeps its place (and the browser its charts)
    cached = POOL.get(key)
    if cached is not None:
        return cached
    try:
        scenario = dashboard.load_text(text, label=label, base_dir=base_dir)
        estimate = guard.estimate_run(scenario, mode)
    except ScenarioError as error:
        show_problems("The scenario cannot run as edited:", error)
        return None
    if estimate.refused:
        st.error(f"**This run is too large for a shared dashboard:** {estimate.refused.rstrip('.')}.")
        return None
    confirmed = st.session_state.setdefault("confirmed_runs", set())
    if estimate.warn and short_hash(key) not in confirmed:
        faster = "shorten the duration" + (" or use fast mode" if estimate.mode == "exact" else "")
        st.warning(f"**This run is large:** {estimate.describe()}. For a quick answer {faster}; or run it anyway.")
        if st.button("Run it anyway", key=f"confirm:{confirm_key}:{short_hash(key)}"):
            confirmed.add(short_hash(key))
            st.rerun()
        return None
    ticket = POOL.submit(key, _work(text, seed, base_dir, label, mode))
    started = time.monotonic()
    shown = 0.0
    try:
        while not ticket.wait(0.05):
            now = time.monotonic()
            if now - shown < 0.2:
                continue
            shown = now  # five updates a second: each lets Streamlit interrupt this wait when a control moves
            if now - started > PROGRESS_AFTER_S:
                placeholder.progress(min(max(ticket.fraction, 0.0), 1.0), text=caption)
            else:
                placeholder.empty()
        placeholder.empty()
        return ticket.result()
    except guard.RunCancelled:
        st.warning("The run stopped before it finished (it was cancelled).")
    except ScenarioError as error:  # invalid, or over a budget while running (wall clock, memory)
        show_problems("The scenario cannot run:", error)
    except Exception as error:  # a bug: say so, with details for a report
        st.error(f"The simulation failed: {error}")
        with st.expander("details for a bug report"):
            st.code(traceback.format_exc(), language="text")
    finally:
        ticket.release()
    return None


def verdict_block(results: Results, *, heading: str = "###") -> None:
    """The verdict in colour, its reason, and advice that fits the mechanism and the numbers."""
    summary = results.summary
    verdict = summary["verdict"]
    colour = VERDICT_COLOURS.get(verdict, "gray")
    st.markdown(f"{heading} Verdict: :{colour}[{verdict.replace('_', ' ')}]")
    reason = summary["verdict_reason"]
    st.markdown(reason[:1].upper() + reason[1:])
    lines = dashboard.advise(results)
    st.markdown("\n".join(f"- {line}" for line in lines) if len(lines) > 1 else f"_{lines[0]}_" if lines else "")


def metric_tiles(summary: dict[str, Any], timeseries: pd.DataFrame | None = None) -> None:
    """The verdict and key figures, then the counts, in rows that wrap rather than cut a figure."""
    figures = dashboard.headline_metrics(summary, timeseries)
    key = len(dashboard.KEY_FIGURES)
    for row in (figures[:3], figures[3:key]):
        for column, (label, value) in zip(st.columns(3), row):
            column.metric(label, value, help=BROKER_LOG_HELP if label == BROKER_LOG else None)
    counts = figures[key:]
    for start in range(0, len(counts), 3):
        for column, (label, value) in zip(st.columns(3), counts[start:start + 3]):
            column.metric(label, value)


def caption_for_run(summary: dict[str, Any]) -> str:
    ran = (f"Simulated {format_duration(summary['duration_s'])} with seed {summary['seed']} in "
           f"{summary.get('mode', 'exact')} mode")
    return ran + (f": {summary['mode_reason']}." if summary.get("mode_reason") else ".")


def _run_exactly() -> None:
    st.session_state["mode"] = "exact"  # the sidebar's mode control, and so the link's `mode=exact`


def fast_mode_note(summary: dict[str, Any]) -> None:
    """Beside a fast run's figures: that it counted messages per quantum, its stated error bounds
    (`fast_error`), and a switch to simulate every message (which the link then carries)."""
    if summary.get("mode") != "fast":
        return
    quantum = summary.get("quantum_s")
    step = f" per quantum of {format_duration(float(quantum))}" if quantum else ""
    bounds = fast_error_text(summary.get("fast_error") or {})
    st.info(f"**Fast mode**: message counts{step}, not every message. Its stated bounds against exact mode "
            f"(`fast_error` in the summary): {bounds}. Latency per interval is the least exact: run exactly to check.")
    st.button("Run exactly: every message", on_click=_run_exactly, key="run_exactly",
              help="exact mode: every message simulated (slower); the link then carries mode=exact")


def run_panels(key: Any, results: Results) -> list[charts.Panel]:
    """The run's standard panels, computed once per run."""
    return POOL.derived(key, "panels", lambda: charts.timeline_panels(results))


def cached_chart(key: Any, name: str, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A chart spec built once per run (`key`) and `name`: a rerun that shows a known run builds no chart.

    Its datasets are kept as Arrow tables, which Streamlit sends as they are; DataFrames were
    converted again on every rerun (a third of a cached rerun's time on the server)."""
    return POOL.derived(key, "chart:" + name, lambda: arrow_datasets(make()))


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    """`frame`'s columns as an Arrow table: numbers as they are, anything else as text (index dropped:
    the charts never use it). Built column by column: `Table.from_pandas` took five times as long
    (its pandas metadata and a thread pool per call), a fifth of a new run's page on the server."""
    columns = {}
    for name in frame.columns:
        values = frame[name].to_numpy()
        columns[str(name)] = pa.array(values) if values.dtype.kind in "fiub" else \
            pa.array([None if v is None else str(v) for v in values], type=pa.string())
    return pa.table(columns) if columns else pa.table({})


def arrow_datasets(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with its DataFrame datasets as Arrow tables (`arrow_table`)."""
    datasets = {name: arrow_table(frame) if isinstance(frame, pd.DataFrame) else frame
                for name, frame in spec.get("datasets", {}).items()}
    return {**spec, "datasets": datasets} if datasets else spec


def draw_chart(spec: dict[str, Any], *, key: str | None = None) -> None:
    """An interactive chart across the page's width; larger type in the presenter layout.

    `spec` may be cached and shared between pages, so it is never changed here."""
    if st.session_state.get("present"):
        config = dict(spec.get("config", {}))
        config["axis"] = {**config.get("axis", {}), "labelFontSize": 18, "titleFontSize": 18}
        config["legend"] = {**config.get("legend", {}), "labelFontSize": 18}
        config["title"] = {"fontSize": 21}
        spec = {**spec, "config": config}
    st.vega_lite_chart(spec, width="stretch", key=key)


def show_timeline(key: Any, results: Results, *, height: int = 190) -> None:
    """The run's panels on one shared, zoomable time axis, with what each shows underneath."""
    draw_chart(cached_chart(key, f"timeline:{height}",
                            lambda: charts.timeline_chart(run_panels(key, results), height=height)))
    st.caption("Drag or scroll on a chart to zoom every panel's time axis together; double-click to reset; hover "
               "to read the values. Dashed black lines: crashes; dotted grey: other events; red dashed: limits.")
