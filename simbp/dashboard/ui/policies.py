"""The policy comparison: the same load and seed under every declared policy on one buffer, side by
side, with the runs on shared axes (one chart per figure, a line per policy)."""

from __future__ import annotations

import streamlit as st

from ... import dashboard
from ...results import Results
from ...units import format_bytes, format_duration
from .. import charts
from ..compare import comparison_figures
from .common import cached_chart, draw_chart, run_page, run_panels, short_hash
from .setup import Setup

__all__ = ["show_policies"]


def _figures(summary: dict[str, object]) -> str:
    """The policy's key figures as a two-column table (wraps; never cut to "184…")."""
    latency = summary.get("latency_s") or {}
    p99 = latency.get("p99") if isinstance(latency, dict) else None
    rows = [("loss", f"{summary['loss_ratio']:.2%}"), ("dropped", f"{summary['dropped']:,}"),
            ("peak memory", format_bytes(summary["peak_memory_bytes"])),  # type: ignore[arg-type]
            ("p99 latency", format_duration(p99) if p99 is not None else "n/a"),
            ("producers blocked", f"{summary['producer_blocked_fraction']:.1%}"),
            ("crashes", f"{summary['crashes']:,}")]
    return "| figure | value |\n|---|---:|\n" + "\n".join(f"| {label} | **{value}** |" for label, value in rows)


def show_policies(setup: Setup) -> str | None:
    """Draw the comparison; returns the buffer compared (for the link)."""
    buffers = dashboard.buffer_names(setup.whatif)
    if not buffers:
        st.info("This scenario has no buffer, so there is no policy to compare.")
        return None
    pending = st.session_state.get("pending")
    if pending is not None and pending.buffer in buffers and "compare_buffer" not in st.session_state:
        st.session_state["compare_buffer"] = pending.buffer
    buffer = st.selectbox("buffer whose policy changes", buffers, key="compare_buffer") if len(buffers) > 1 \
        else buffers[0]
    capacity = setup.values.get(f"buffers.{buffer}.capacity")
    st.markdown(
        f"The same load and seed under each policy on **{buffer}** (bounded policies at capacity "
        f"{int(capacity or dashboard.DEFAULT_CAPACITY):,}); every other setting is the one on the left. "
        "Each component draws its own random numbers, so every run sees the same arrivals and service times "
        "(a blocked producer skips the arrivals that fall due while it waits).")
    variants = dashboard.policy_variants(setup.whatif_text, buffer, int(capacity) if capacity is not None else None)
    valid, invalid = dashboard.split_valid(variants, base_dir=setup.base_dir)
    runs: dict[str, Results] = {}
    for policy, variant in valid.items():
        result = run_page(variant, setup.seed, setup.base_dir, setup.label, setup.mode, f"simulating {policy}…",
                          confirm_key=f"policy:{policy}")
        if result is None:
            st.stop()
        runs[policy] = result
    for column, policy in zip(st.columns(len(variants)), variants):
        with column:
            st.markdown(f"#### {policy}")
            if policy in invalid:
                st.info("Not possible on this buffer: " + " ".join(invalid[policy]))
                continue
            summary = runs[policy].summary
            st.metric("verdict", summary["verdict"])
            st.markdown(_figures(summary))
            with st.expander("why"):
                st.markdown(summary["verdict_reason"])
    if not runs:
        return buffer
    keys = {policy: dashboard.run_key(valid[policy], setup.seed, setup.mode) + (setup.base_dir,) for policy in runs}

    def chart() -> dict[str, object]:
        panels = {policy: run_panels(keys[policy], result) for policy, result in runs.items()}
        combined = [p for p in charts.combine_panels(panels) if p.name in ("lag", "loss", "memory", "blocked")]
        return charts.timeline_chart(combined, height=170)

    st.markdown("**The policies on shared axes** (one line per policy; zoom and hover as in the what-if view)")
    first = next(iter(keys.values()))
    draw_chart(cached_chart(first, "policies:" + short_hash(*keys.values()), chart))
    table = dashboard.comparison_table(runs)
    st.markdown("**Every figure, policy by policy** (the CSV has a row per policy)")
    st.dataframe(comparison_figures(table), width="stretch", height="content")  # a column per policy: nothing cut
    st.download_button("Download the comparison (CSV)", table.to_csv().encode("utf-8"),
                       file_name=f"{setup.whatif.name}-policies.csv", mime="text/csv")
    return buffer
