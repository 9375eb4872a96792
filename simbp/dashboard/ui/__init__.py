"""The dashboard's Streamlit layer: `main()` draws the page (`app.py` only calls it).

Importing `simbp.dashboard` does not import this package (nor streamlit); the views are in
`setup` (sidebar and link), `whatif`, `policies`, `ab`, `capacity` and `workshop`.
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from ... import dashboard
from .ab import show_ab
from .capacity import show_capacity, stop_abandoned_sweep
from .common import CSS, PRESENTER_CSS
from .observed import show_observed
from .policies import show_policies
from .setup import UNLINKABLE, VIEW_LABELS, choose_scenario, read_link, write_link
from .whatif import show_whatif
from .workshop import choose_lesson, show_lesson

__all__ = ["main"]


@st.cache_data(show_spinner=False, ttl=60)
def library(folder: str) -> list[dashboard.LibraryScenario]:
    return dashboard.library_scenarios(folder)


def main() -> None:
    """Draw the whole page for this rerun; a link's pending settings are used up by its end."""
    try:
        _page()
    finally:
        st.session_state.pop("pending", None)


def _page() -> None:
    present = st.query_params.get("present") in ("1", "true") if "link_read" not in st.session_state \
        else bool(st.session_state.get("present"))
    st.set_page_config(page_title="simbp: what if?", layout="wide",
                       initial_sidebar_state="collapsed" if present else "auto")
    read_link()
    st.html(CSS + (PRESENTER_CSS if st.session_state.get("present") else ""))
    st.title("simbp: what if…?")
    st.caption("A discrete-event backpressure simulator. Pick a scenario, move a control on the left, and watch the "
               "system keep up or fall over, and read why.")
    folder = os.environ.get("SIMBP_SCENARIOS", str(dashboard.LIBRARY_DIR))
    entries = library(folder)
    labels = list(VIEW_LABELS.values())
    if st.session_state.get("view") not in labels:
        st.session_state["view"] = labels[0]
    label = st.radio("view", labels, horizontal=True, label_visibility="collapsed", key="view")
    view = next(name for name, shown in VIEW_LABELS.items() if shown == label)
    if view == "observed":  # its scenario is fitted from an upload, not chosen in the sidebar
        keep_controls()
        stop_abandoned_sweep()
        show_observed()
        return
    lesson = choose_lesson() if view == "workshop" else None
    setup = choose_scenario(folder, entries)
    st.sidebar.toggle("presenter layout (large type, one column)", key="present")
    if view != "capacity":
        stop_abandoned_sweep()
    share = st.expander("Share these settings: a link that opens this page as it is now")
    slot = share.empty()
    link_options: dict[str, object] = {"lesson": lesson.id if lesson else None}
    _show_link(slot, write_link(setup, view, **link_options))  # type: ignore[arg-type]
    if view == "workshop" and lesson is not None:
        show_lesson(setup, lesson)
        return
    st.subheader(setup.whatif.name)
    st.markdown(setup.whatif.description.strip() or "_(this scenario has no description)_")
    if setup.whatif.expect is not None:
        st.caption(f"As written, this scenario is meant to show: **{setup.whatif.expect.verdict.replace('_', ' ')}**.")
    if view == "whatif":
        show_whatif(setup)
    elif view == "policies":
        buffer = show_policies(setup)
        _show_link(slot, write_link(setup, view, buffer=buffer))
    elif view == "ab":
        extra = show_ab(setup, folder, entries)
        _show_link(slot, write_link(setup, view, **extra))
    elif view == "capacity":
        show_capacity(setup)


KEPT_PREFIXES = ("knob:", "yaml:", "b:", "capacity-values:")
KEPT_KEYS = ("mode", "present", "lesson", "source", "library_file", "ab_scenario", "ab_controls", "ab_yaml", "ab_kind",
             "compare_buffer")
"""Controls of the other views (sidebar, A/B, Capacity, Workshop) whose values outlive a visit to the
Observed view. Buttons and file uploaders cannot be set, so they are not listed."""


def keep_controls() -> None:
    """Keep the values of controls this run does not draw (Streamlit forgets a widget's value after a
    run without it): written back as the session's own state, they are there when the view returns."""
    for key in list(st.session_state):
        if isinstance(key, str) and (key.startswith(KEPT_PREFIXES) or key in KEPT_KEYS):
            st.session_state[key] = st.session_state[key]


def _show_link(slot: Any, link: str | None) -> None:
    """The shareable link, or why these settings have none (a fitted scenario lives on this server only)."""
    if link is None:
        slot.info(UNLINKABLE)
    else:
        slot.code(link, language=None)
