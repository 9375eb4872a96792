"""The capacity view: how many do we need? A small sweep, priced before it starts, run in its own
process (`simbp.dashboard.sweeps`), with a cancel button; it stops when the page moves on."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ... import dashboard
from ...errors import ScenarioError
from ...units import format_duration
from .. import sweeps
from .common import show_problems
from .setup import Setup

__all__ = ["show_capacity", "stop_abandoned_sweep"]

_JOB = "capacity_job"


def stop_abandoned_sweep(request: Any = None) -> None:
    """Cancel this page's sweep unless it is the one the page shows now (`request`)."""
    job: sweeps.SweepJob | None = st.session_state.get(_JOB)
    if job is not None and job.request != request:
        job.cancel()
        del st.session_state[_JOB]


def show_capacity(setup: Setup) -> Any:
    """Draw the capacity view; returns the request it shows (None before the button)."""
    sizable = dashboard.sizing_knobs(setup.knobs, setup.values)
    if not sizable:
        st.info("This scenario has no count to size (workers, consumers, partitions or a bounded capacity).")
        stop_abandoned_sweep()
        return None
    st.markdown("How many do you need? A small sweep of the scenario as set on the left: every combination of the "
                "values below, each run several times with its own seeds, judged on the 95% confidence interval "
                "(see docs/planning.md).")
    first, second = st.columns(2)
    size = first.selectbox("what to size", sizable, format_func=lambda k: f"{k.group}: {k.label}")
    current = int(setup.values.get(size.key, size.value))
    size_text = first.text_input("values to try", ", ".join(map(str, dashboard.default_size_values(current))),
                                 key=f"capacity-values:{size.key}")
    loads_text = second.text_input("load multipliers to try", "1, 2, 3",
                                   help="set the scenario's load_multiplier (the what-if multiplier is replaced)")
    columns = st.columns(4)
    max_loss = columns[0].number_input("target: loss at most (%)", min_value=0.0, max_value=100.0, value=0.1, step=0.1,
                                       format="%.3f")
    max_p99 = columns[1].number_input("target: p99 latency at most (s, 0 = none)", min_value=0.0, value=2.0, step=0.5)
    replications = columns[2].slider("replications per point", min_value=2, max_value=10, value=3)
    run_length = columns[3].number_input("simulated time per run (s)", min_value=1.0, max_value=3600.0,
                                         value=float(min(setup.whatif.duration, 60.0)), step=10.0)
    try:
        question = dashboard.CapacityQuestion(
            size_path=size.key, size_values=dashboard.parse_number_list(size_text, int),
            loads=dashboard.parse_number_list(loads_text), max_loss_ratio=max_loss / 100,
            max_p99_s=max_p99 if max_p99 > 0 else None, replications=int(replications), duration_s=float(run_length),
            seed=setup.seed, mode=setup.mode)
    except ValueError as error:
        st.error(f"Cannot read the values: {error}")
        stop_abandoned_sweep()
        return None
    estimate = sweeps.estimate_sweep(setup.whatif_text, question, base_dir=setup.base_dir)
    st.caption(f"{len(question.size_values)} values × {len(question.loads)} loads × {question.replications} "
               f"replications = {estimate.runs} simulations of {format_duration(question.duration_s)} each: "
               f"{estimate.describe()}.")
    request = (setup.whatif_text, setup.base_dir, question)
    if estimate.refused:
        st.error(f"**This sweep is too large for a shared dashboard:** {estimate.refused.rstrip('.')}.")
        stop_abandoned_sweep()
        return None
    stop_abandoned_sweep(request)  # a sweep for other settings stops here
    job: sweeps.SweepJob | None = st.session_state.get(_JOB)
    if job is None:
        if not st.button("Run the sweep", type="primary"):
            return None
        try:
            job = sweeps.SweepJob.start(setup.whatif_text, question, base_dir=setup.base_dir, request=request)
        except RuntimeError as error:
            st.warning(str(error))
            return None
        st.session_state[_JOB] = job
    _follow(job, estimate.runs)
    if job.status() != "done":
        return request
    _show_result(setup, job.result())
    return request


@st.fragment(run_every=1.0)
def _progress(job: sweeps.SweepJob, runs: int) -> None:
    """Polls the sweep once a second while it runs (and keeps its heartbeat); reruns the page when done."""
    if job.status() != "running":
        st.rerun()
    job.heartbeat()
    st.progress(min(job.fraction(), 1.0), text=f"sweeping {runs} runs…")
    if st.button("Cancel the sweep"):
        job.cancel()
        st.session_state.pop(_JOB, None)
        st.rerun()


def _follow(job: sweeps.SweepJob, runs: int) -> None:
    status = job.status()
    if status == "running":
        _progress(job, runs)
        st.stop()
    if status == "failed":
        st.error(f"The sweep failed: {job.error()}")
        st.session_state.pop(_JOB, None)
        st.stop()
    if status == "cancelled":
        st.info("The sweep was cancelled.")
        st.session_state.pop(_JOB, None)
        st.stop()


def _show_result(setup: Setup, result: Any) -> None:
    try:
        lines = dashboard.capacity_recommendations(result)
    except ScenarioError as error:
        show_problems("The sweep cannot run:", error)
        return
    for line in lines:
        st.markdown(f"- {line}")
    pictures = dashboard.capacity_figures(result)
    for column, (name, png) in zip(st.columns(max(len(pictures), 1)), pictures):
        column.image(png, caption=f"{name}: mean over replications; ✓ meets every target", width="stretch")
    st.dataframe(dashboard.capacity_table(result), hide_index=True)
    st.download_button("Download the sweep (CSV, every replication)", result.table.to_csv(index=False).encode("utf-8"),
                       file_name=f"{setup.whatif.name}-capacity.csv", mime="text/csv")
