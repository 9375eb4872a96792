"""The sidebar: which scenario (library, upload, edit), its what-if controls, the mode; and the link.

`read_link` turns the page's URL into pending settings once per session (and `apply_link` does
the same for a lesson's "try this" buttons), which the widgets below take as their starting
values. `Setup` is everything a view needs: the scenario as edited, the controls' values, the
scenario as run, seed and mode. `write_link` puts the current settings back into the URL.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from ... import dashboard
from ...errors import ScenarioError
from ...scenario import Scenario
from .. import guard, urlstate, workshop
from .. import observed_fit as fitting
from ..knobs import Knob
from .common import show_problems

__all__ = ["Setup", "read_link", "apply_link", "choose_scenario", "write_link", "VIEW_LABELS", "knob_widget",
           "FITTED", "open_fitted", "UNLINKABLE"]

VIEW_LABELS = {"whatif": "What-if", "policies": "Compare policies", "ab": "A/B", "capacity": "Capacity",
               "workshop": "Workshop", "observed": "Observed metrics"}
SOURCES = ("Library", "Upload a file")
FITTED = "Fitted from observed metrics"  # a source only in the session that ran the fit
UNLINKABLE = ("This scenario was fitted from observed metrics in this session: it replays the observed arrivals "
              "from a temporary folder on this server, which a link cannot carry. A link reproduces only library "
              "and pasted scenarios; to share this one, download the fit (zip) from the Observed metrics view: "
              "`simbp run fitted.yaml` or `simbp plan plan.yaml` in its folder replays it.")
_UPLOADS = Path(tempfile.gettempdir()) / "simbp-dashboard-uploads"
_UPLOAD_TTL_S = 24 * 3600


@dataclass
class Setup:
    """The scenario as chosen and edited, its controls and their values, and the scenario as run."""

    label: str
    base_dir: str
    library_file: str | None
    base_text: str
    text: str
    edited: bool
    knobs: list[Knob]
    values: dict[str, Any]
    whatif_text: str
    whatif: Scenario
    seed: int
    mode: str
    source: str = "Library"


def read_link() -> None:
    """Once per session: the URL's settings become the widgets' starting values."""
    if "link_read" in st.session_state:
        return
    st.session_state["link_read"] = True
    apply_link(urlstate.decode_state(dict(st.query_params)), clear_knobs=False)


def apply_link(state: urlstate.ShareState, *, clear_knobs: bool = True) -> None:
    """Make `state` the pending settings (call from a callback, before the widgets exist)."""
    lesson = workshop.lesson_by_id(state.lesson) if state.view == "workshop" else None
    if lesson is not None and state.scenario is None:
        state.scenario = lesson.file  # a lesson's link opens its scenario
    st.session_state["pending"] = state
    if state.scenario is not None:
        st.session_state["source"] = "Library"
        st.session_state["library_file"] = state.scenario
    st.session_state["view"] = VIEW_LABELS.get(state.view, "What-if")
    st.session_state["mode"] = state.mode
    st.session_state["present"] = state.present
    if state.lesson:
        st.session_state["lesson"] = state.lesson
    if clear_knobs:  # controls not named in the link go back to the scenario's own values
        for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(("knob:", "b:", "yaml:"))]:
            del st.session_state[key]


def knob_widget(container: Any, knob: Knob, key: str, disabled: bool = False, pending: str | None = None) -> Any:
    """Draw one what-if control and return its value; `pending` (URL text) seeds a new widget."""
    if pending is not None and key not in st.session_state:
        value = urlstate.parse_value(knob, pending)
        if value is not None:
            st.session_state[key] = value
    current = st.session_state.get(key, knob.value)  # as the default too: never an empty, clearable widget
    label = f"{knob.label} ({knob.unit})" if knob.unit else knob.label
    if knob.widget == "select":
        index = knob.options.index(current) if current in knob.options else 0
        return container.selectbox(label, knob.options, index=index, key=key, help=knob.help, disabled=disabled)
    if knob.widget == "number":
        return container.number_input(label, min_value=knob.minimum, max_value=knob.maximum, value=current,
                                      step=knob.step, key=key, help=knob.help, disabled=disabled)
    return container.slider(label, min_value=knob.minimum, max_value=knob.maximum, value=current, step=knob.step,
                            format=knob.display_format, key=key, help=knob.help, disabled=disabled)


def _bundle_folder(files: list[Any]) -> Path:
    """A folder holding the uploaded data files (named by their content), old ones cleared away."""
    digest = hashlib.sha1()
    for upload in files:
        digest.update(upload.name.encode())
        digest.update(upload.getvalue())
    folder = _UPLOADS / digest.hexdigest()[:16]
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True)
        for upload in files:
            (folder / upload.name).write_bytes(upload.getvalue())
    now = time.time()
    for old in _UPLOADS.iterdir():
        if old != folder and now - old.stat().st_mtime > _UPLOAD_TTL_S:
            for child in old.iterdir():
                child.unlink(missing_ok=True)
            old.rmdir()
    return folder


def _fitted() -> tuple[str, Path, str] | None:
    """This session's fitted scenario: its text, its server-side fit folder, and the upload it came from."""
    kept = st.session_state.get("observed_fit")
    fitted = kept[1] if kept is not None else None
    found = fitting.scenario_source(fitted, fitting.FIT_ROOT)
    return None if found is None or fitted is None else (*found, fitted.upload)


def open_fitted() -> None:
    """Callback of the Observed view's "Open in what-if": the fitted scenario becomes the what-if view's."""
    st.session_state["source"] = FITTED
    st.session_state["view"] = VIEW_LABELS["whatif"]


def _source(side: Any, folder: str, entries: list[dashboard.LibraryScenario]) -> tuple[str, str, str, str | None]:
    """(text, label, base_dir, library file) of the chosen scenario; stops the page when there is none."""
    for key in ("source", "library_file"):  # Streamlit forgets a widget's value on a page without it (Observed)
        if key not in st.session_state and f"kept:{key}" in st.session_state:
            st.session_state[key] = st.session_state[f"kept:{key}"]
    fitted = _fitted()
    sources = SOURCES + ((FITTED,) if fitted is not None else ())
    if st.session_state.get("source") not in sources:
        if st.session_state.get("source") == FITTED:
            st.warning("The fitted scenario is gone (fits are kept for a day): fit the metrics again in the "
                       "Observed metrics view.")
        st.session_state["source"] = "Library"
    source = side.radio("source", sources, horizontal=True, label_visibility="collapsed", key="source")
    st.session_state["kept:source"] = source
    if source == FITTED and fitted is not None:
        text, fit_folder, upload = fitted
        side.caption(f"Fitted from {upload} in this session (the Observed metrics view); it replays the observed "
                     "arrivals. Every control below applies to it.")
        return text, "fitted.yaml", str(fit_folder), None
    if source == "Library":
        if not entries:
            st.warning(f"No scenario files in {folder}.")
            st.stop()
        files = [e.file for e in entries]
        if st.session_state.get("library_file") not in files:
            st.session_state["library_file"] = files[dashboard.default_library_index(entries)]
        problems = {e.file for e in entries if e.problem}
        chosen = side.selectbox("library scenario", files, key="library_file",
                                format_func=lambda f: f + ("  (has problems)" if f in problems else ""))
        entry = entries[files.index(chosen)]
        st.session_state["kept:library_file"] = chosen
        return entry.path.read_text(encoding="utf-8"), entry.file, str(entry.path.parent), entry.file
    upload = side.file_uploader("scenario YAML", type=["yaml", "yml"], key="upload",
                                max_upload_size=max(1, guard.BUDGET.max_scenario_bytes // 2**20))
    data_files = side.file_uploader("files it reads (CSV), if any", type=["csv"], accept_multiple_files=True,
                                    key="upload_data", help="traces and empirical distributions the scenario names "
                                    "with `file:`; it can read only these (or, without them, the library's)")
    if upload is None:
        st.info("Upload a scenario file (YAML), or pick one from the library.")
        st.stop()
    refused = guard.check_bundle([(upload.name, upload.size)] + [(f.name, f.size) for f in data_files or []])
    if refused:
        st.error(f"That upload is refused: {refused}.")
        st.stop()
    try:
        text = upload.getvalue().decode("utf-8")
    except UnicodeDecodeError:
        st.error("That file is not UTF-8 text; a scenario is a YAML text file.")
        st.stop()
    base_dir = str(_bundle_folder(list(data_files))) if data_files else folder
    return text, upload.name, base_dir, None


def choose_scenario(folder: str, entries: list[dashboard.LibraryScenario], *, editor: bool = True) -> Setup:
    """The sidebar's scenario, YAML editor and controls; stops the page with the problems if invalid."""
    side = st.sidebar
    pending: urlstate.ShareState | None = st.session_state.get("pending")
    side.header("Scenario")
    base_text, label, base_dir, library_file = _source(side, folder, entries)
    editor_key = f"yaml:{dashboard.source_id(base_text)}"
    if pending is not None and pending.yaml and editor_key not in st.session_state:
        st.session_state[editor_key] = pending.yaml
    text = base_text
    if editor:
        with st.expander("Scenario YAML: edit it here (the controls on the left apply on top)"):
            text = st.text_area("scenario YAML", value=None if editor_key in st.session_state else base_text,
                                height=420, key=editor_key, label_visibility="collapsed",
                                max_chars=guard.BUDGET.max_scenario_bytes) or ""
    elif editor_key in st.session_state:
        text = st.session_state[editor_key] or base_text
    try:
        scenario = dashboard.load_text(text, label=label, base_dir=base_dir)
    except ScenarioError as error:
        show_problems(f"{label} has problems; fix them in the YAML editor above:", error)
        st.stop()
    side.header("What if…")
    knobs = dashboard.derive_knobs(scenario)
    prefix = dashboard.source_id(text)
    values: dict[str, Any] = {}
    group = None
    for knob in knobs:
        if knob.group != group:
            group = knob.group
            side.markdown(f"**{group}**")
        disabled = knob.action == "capacity" and not dashboard.is_bounded(values.get(knob.key.rsplit(".", 1)[0] + ".policy"))
        seed_value = pending.values.get(knob.key) if pending is not None else None
        values[knob.key] = knob_widget(side, knob, f"knob:{prefix}:{knob.key}", disabled, seed_value)
    mode = side.selectbox("simulation mode", dashboard.run_modes(), key="mode",
                          help="exact: every message simulated; fast: message counts per small step of time, for "
                               "production-sized runs; auto: fast where it is quicker and was measured within its "
                               "stated bounds (Kafka topics, piped Node.js streams, RxJS bufferTime) and for very "
                               "large runs, else exact (see docs/dashboard.md)")
    try:
        whatif_text = dashboard.apply_knobs(text, knobs, values)
        whatif = dashboard.load_text(whatif_text, label=label, base_dir=base_dir)
    except ScenarioError as error:
        show_problems("These settings make an invalid scenario:", error)
        st.stop()
    return Setup(label, base_dir, library_file, base_text, text, text != base_text or library_file is None, knobs,
                 values, whatif_text, whatif, int(values.get("seed", whatif.seed)), str(mode),
                 str(st.session_state.get("source", "Library")))


def write_link(setup: Setup | None, view: str, *, lesson: str | None = None, b_values: dict[str, Any] | None = None,
               b_scenario: str | None = None, buffer: str | None = None, b_yaml: str | None = None) -> str | None:
    """Put the current settings in the URL (only when they changed) and return the shareable link;
    None for a fitted scenario (its trace is in a server temp folder: the URL keeps only view and mode)."""
    state = urlstate.ShareState(view=view, mode=str(st.session_state.get("mode", "auto")), lesson=lesson,
                                present=bool(st.session_state.get("present")), buffer=buffer, b_scenario=b_scenario,
                                b_yaml=b_yaml)
    params: dict[str, str] = {}
    unlinkable = setup is not None and setup.source == FITTED
    if setup is not None and not unlinkable:
        state.scenario = setup.library_file
        state.yaml = setup.text if setup.edited else None
        params = urlstate.encode_state(state, setup.knobs, setup.values, b_values)
    else:
        params = urlstate.encode_state(state)
    if dict(st.query_params) != params:
        st.query_params.from_dict(params)
    if unlinkable:
        return None
    base = st.context.url or os.environ.get("SIMBP_DASHBOARD_URL", "http://localhost:8501/")
    return urlstate.share_url(base, params)
