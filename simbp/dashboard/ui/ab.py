"""A/B: any two settings, or two library scenarios, run on the same seed and drawn on shared axes.

A is the scenario as set in the sidebar. B is A with some controls moved (pipe against a naive
write, retries against none, 3 against 6 consumers), another library scenario (batches of 1
against 100), or a scenario of your own, uploaded or pasted: it goes through the same bounded
loader and run guard as everything else (size, nesting, aliases, files only from the library
folder, priced before it runs), so hostile text is refused with its problems, never run. The
figures sit in one table, the charts share every axis, a line per run.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ... import dashboard
from ...errors import ScenarioError
from .. import charts, guard
from .common import VERDICT_COLOURS, cached_chart, draw_chart, run_page, run_panels, short_hash, show_problems
from .setup import Setup, knob_widget
from .whatif import figures_table

__all__ = ["show_ab"]

_KINDS = ("A with other settings", "another library scenario", "a scenario of your own (YAML)")


def _b_settings(setup: Setup) -> tuple[str, dict[str, Any], str]:
    """B's text, the controls B moved (key → value) and a description of the difference."""
    pending = st.session_state.get("pending")
    knobs = {k.key: k for k in setup.knobs}
    if pending is not None and pending.b_values and "ab_controls" not in st.session_state:
        st.session_state["ab_controls"] = [key for key in pending.b_values if key in knobs]
    chosen = st.multiselect("controls B changes", list(knobs), key="ab_controls",
                            format_func=lambda key: f"{knobs[key].group}: {knobs[key].label}",
                            placeholder="choose one or more controls")
    prefix = dashboard.source_id(setup.text)
    moved: dict[str, Any] = {}
    for column, key in zip(st.columns(max(len(chosen), 1)), chosen):
        knob = knobs[key]
        widget_key = f"b:{prefix}:{key}"
        if widget_key not in st.session_state:
            seed = pending.b_values.get(key) if pending is not None else None
            st.session_state[widget_key] = setup.values.get(key, knob.value)
            if seed is not None:
                from ..urlstate import parse_value

                parsed = parse_value(knob, seed)
                if parsed is not None:
                    st.session_state[widget_key] = parsed
        moved[key] = knob_widget(column, knob, widget_key)
    values = {**setup.values, **moved}
    text = dashboard.apply_knobs(setup.text, setup.knobs, values)
    changes = ", ".join(f"{knobs[k].label} {dashboard.format_value(v)}{(' ' + knobs[k].unit) if knobs[k].unit else ''}"
                        for k, v in moved.items() if dashboard.format_value(v) != dashboard.format_value(setup.values.get(k)))
    return text, moved, changes or "the same settings (choose a control above)"


def _own_b() -> str:
    """B's text, uploaded or pasted; an upload fills the box (editable, and carried by the link)."""
    pending = st.session_state.get("pending")
    if pending is not None and pending.b_yaml and "ab_yaml" not in st.session_state:
        st.session_state["ab_yaml"] = pending.b_yaml
    limit = guard.BUDGET.max_scenario_bytes
    upload = st.file_uploader("B's scenario (YAML)", type=["yaml", "yml"], key="ab_upload",
                              max_upload_size=max(1, limit // 2**20))
    if upload is not None and st.session_state.get("ab_upload_seen") != upload.file_id:
        st.session_state["ab_upload_seen"] = upload.file_id
        if upload.size > limit:
            st.error(f"That upload is refused: it has {upload.size:,} bytes; a scenario here has at most {limit:,}.")
        else:
            try:
                st.session_state["ab_yaml"] = upload.getvalue().decode("utf-8")
            except UnicodeDecodeError:
                st.error("That upload is refused: it is not UTF-8 text; a scenario is a YAML text file.")
    text = st.text_area("or paste B's YAML here", key="ab_yaml", height=240, max_chars=limit,
                        placeholder="name: my_b\nduration: 60s\nproducers: …",
                        help="Validated like any scenario: it may read data files only from the scenario library.")
    return text or ""


def show_ab(setup: Setup, folder: str, entries: list[dashboard.LibraryScenario]) -> dict[str, Any]:
    """Draw the A/B comparison; returns what the link must carry (`b_values`, `b_scenario` or `b_yaml`)."""
    pending = st.session_state.get("pending")
    if pending is not None and pending.b_scenario and "ab_kind" not in st.session_state:
        st.session_state["ab_kind"] = _KINDS[1]
        st.session_state["ab_scenario"] = pending.b_scenario
    if pending is not None and pending.b_yaml and "ab_kind" not in st.session_state:
        st.session_state["ab_kind"] = _KINDS[2]
    st.markdown("**A** is the scenario as set on the left. **B** is:")
    kind = st.radio("B is", _KINDS, key="ab_kind", horizontal=True, label_visibility="collapsed")
    link: dict[str, Any] = {}
    if kind == _KINDS[0]:
        b_text, moved, changes = _b_settings(setup)
        b_label, b_dir, b_name = setup.label, setup.base_dir, f"B: {changes}"
        link["b_values"] = moved
    elif kind == _KINDS[2]:
        b_text = _own_b()
        if not b_text.strip():
            st.info("Upload B's scenario file, or paste its YAML, to compare it with A.")
            return link
        b_label, b_dir, b_name = "B (your scenario)", folder, "B: your scenario"
        link["b_yaml"] = b_text
    else:
        files = [e.file for e in entries if not e.problem]
        if st.session_state.get("ab_scenario") not in files:
            st.session_state["ab_scenario"] = files[0]
        b_file = st.selectbox("library scenario for B", files, key="ab_scenario")
        entry = next(e for e in entries if e.file == b_file)
        b_text, b_label, b_dir, b_name = entry.path.read_text(encoding="utf-8"), entry.file, str(entry.path.parent), \
            f"B: {entry.file}"
        link["b_scenario"] = b_file
    try:
        b_scenario = dashboard.load_text(b_text, label=b_label, base_dir=b_dir)
    except ScenarioError as error:
        show_problems("B is not a valid scenario:", error)
        return link
    if kind == _KINDS[2]:
        b_name = f"B: {b_scenario.name} (your scenario)"
    a_name = f"A: {setup.label}" + (" as set on the left" if any(
        dashboard.format_value(setup.values[k.key]) != dashboard.format_value(k.value) for k in setup.knobs) else "")
    a = run_page(setup.whatif_text, setup.seed, setup.base_dir, setup.label, setup.mode, "simulating A…",
                 confirm_key="ab:a")
    b = run_page(b_text, setup.seed, b_dir, b_label, setup.mode, "simulating B…", confirm_key="ab:b")
    if a is None or b is None:
        return link
    for column, name, result in zip(st.columns(2), (a_name, b_name), (a, b)):
        verdict = result.summary["verdict"]
        column.markdown(f"**{name}**\n\n### :{VERDICT_COLOURS.get(verdict, 'gray')}[{verdict.replace('_', ' ')}]")
        column.caption(result.summary["verdict_reason"])
    table = figures_table({"A": a, "B": b})
    st.dataframe(table, width="stretch", height="content")  # every figure in view, no inner scrolling
    a_key = dashboard.run_key(setup.whatif_text, setup.seed, setup.mode) + (setup.base_dir,)
    b_key = dashboard.run_key(b_text, setup.seed, setup.mode) + (b_dir,)

    def chart() -> dict[str, Any]:
        panels = {"A": run_panels(a_key, a), "B": run_panels(b_key, b)}
        return charts.timeline_chart(charts.combine_panels(panels), height=180)

    st.markdown("**A and B on shared axes** (a line per run and series; zoom and hover as in the what-if view)")
    draw_chart(cached_chart(a_key, "ab:" + short_hash(b_key), chart))
    return link
