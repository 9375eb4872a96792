"""The simbp what-if dashboard: `streamlit run app.py`.

A thin layer of widgets over the library: choosing, validating and editing scenarios, deriving the
controls, applying them and comparing policies all happen in `simbp.dashboard`; the pictures are
`simbp.plots`. Results are cached on the scenario text and seed, so moving a control back is instant.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable
from typing import Any

import streamlit as st

from simbp import ScenarioError, dashboard, report
from simbp.limits import estimate_messages
from simbp.results import Results
from simbp.units import format_bytes, format_duration

PROGRESS_FROM_MESSAGES = 150_000  # runs estimated above this many messages show a progress bar
VERDICT_COLOURS = {"healthy": "green", "dropping": "red", "blocking": "orange", "falling_behind": "orange",
                   "crashed": "red"}
VIEWS = ("What-if", "Compare policies", "Capacity")


@st.cache_data(show_spinner=False, max_entries=256)
def simulate(text: str, seed: int, base_dir: str, label: str, mode: str, _progress: Callable[[float], None] | None = None) -> Results:
    """One run, cached on the scenario text, seed, folder, label and mode (not on the progress bar)."""
    return dashboard.run_text(text, seed, base_dir=base_dir, label=label, mode=mode, progress=_progress)


@st.cache_data(show_spinner=False, max_entries=1024)
def plot_png(text: str, seed: int, base_dir: str, label: str, mode: str, name: str, small: bool = False) -> bytes:
    """A library plot of a cached run as PNG (rendering is the slow part of a rerun, so it is cached too)."""
    results = simulate(text, seed, base_dir, label, mode)
    return dashboard.figure_png(results, name, size=(5.5, 2.8) if small else None, dpi=100)


@st.cache_data(show_spinner=False, max_entries=32)
def capacity_sweep(text: str, base_dir: str, question: dashboard.CapacityQuestion,
                   _progress: Callable[[float], None] | None = None) -> Any:
    """A capacity sweep, cached on the scenario text and the question."""
    return dashboard.run_capacity_sweep(text, question, base_dir=base_dir, progress=_progress)


@st.cache_data(show_spinner=False, ttl=60)
def library(folder: str) -> list[dashboard.LibraryScenario]:
    return dashboard.library_scenarios(folder)


def show_problems(title: str, error: ScenarioError) -> None:
    """Validation problems as one readable error box: each with its line and field."""
    lines = "\n".join(f"- {line}" for line in dashboard.problem_lines(error))
    st.error(f"**{title}**\n\n{lines}")


def run_with_progress(text: str, seed: int, base_dir: str, label: str, mode: str, caption: str) -> Results | None:
    """A cached run; a long one shows a progress bar. Problems are shown, never raised."""
    try:
        messages = estimate_messages(dashboard.load_text(text, label=label, base_dir=base_dir))
    except ScenarioError as error:
        show_problems("The scenario cannot run as edited:", error)
        return None
    try:
        if messages <= PROGRESS_FROM_MESSAGES:
            return simulate(text, seed, base_dir, label, mode)
        return simulate_showing_progress(caption, text, seed, base_dir, label, mode)
    except ScenarioError as error:
        show_problems("The scenario cannot run:", error)
        return None
    except Exception as error:
        st.error(f"The simulation failed: {error}")
        with st.expander("details for a bug report"):
            st.code(traceback.format_exc(), language="text")
        return None


def simulate_showing_progress(caption: str, *args: Any, function: Callable[..., Any] | None = None) -> Any:
    """Run `simulate` (or `function`) in a helper thread while this script thread moves a progress bar.

    A cached function may not draw on elements created outside it (its drawing is replayed on a
    cache hit), so the simulation only reports its fraction and the page draws it from here.
    """
    done: dict[str, Any] = {"fraction": 0.0}

    def work() -> None:
        try:
            done["results"] = (function or simulate)(*args, _progress=lambda fraction: done.__setitem__("fraction", fraction))
        except BaseException as error:
            done["error"] = error

    bar = st.progress(0.0, text=caption)
    worker = threading.Thread(target=work, name="simbp-simulation", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
            bar.progress(min(max(float(done["fraction"]), 0.0), 1.0), text=caption)
    finally:
        bar.empty()
    if "error" in done:
        raise done["error"]
    return done["results"]


def knob_widget(container: Any, knob: dashboard.Knob, key: str, disabled: bool = False) -> Any:
    """Draw one what-if control and return its value (display units)."""
    label = f"{knob.label} ({knob.unit})" if knob.unit else knob.label
    if knob.widget == "select":
        index = knob.options.index(knob.value) if knob.value in knob.options else 0
        return container.selectbox(label, knob.options, index=index, key=key, help=knob.help, disabled=disabled)
    if knob.widget == "number":
        return container.number_input(label, min_value=knob.minimum, max_value=knob.maximum, value=knob.value,
                                      step=knob.step, key=key, help=knob.help, disabled=disabled)
    return container.slider(label, min_value=knob.minimum, max_value=knob.maximum, value=knob.value, step=knob.step,
                             format=knob.display_format, key=key, help=knob.help, disabled=disabled)


def verdict_block(summary: dict[str, Any]) -> None:
    verdict = summary["verdict"]
    colour = VERDICT_COLOURS.get(verdict, "gray")
    st.markdown(f"### Verdict: :{colour}[{verdict.replace('_', ' ')}]")
    st.markdown(summary["verdict_reason"][:1].upper() + summary["verdict_reason"][1:])
    st.caption(report.ADVICE.get(verdict, ""))


def metric_rows(summary: dict[str, Any]) -> None:
    """The verdict and key figures on a first row (the verdict gets room), the counts on a second."""
    figures = dashboard.headline_metrics(summary)
    key = len(dashboard.KEY_FIGURES)
    for row, widths in ((figures[:key], [2.2] + [1.0] * (key - 1)), (figures[key:], [1.0] * len(figures[key:]))):
        if not row:
            continue
        for column, (label, value) in zip(st.columns(widths), row):
            column.metric(label, value)


# --------------------------------------------------------------------------- page
st.set_page_config(page_title="simbp: what if?", layout="wide")
st.title("simbp: what if…?")
st.caption("A discrete-event backpressure simulator. Pick a scenario, move a control on the left, and watch the "
           "system keep up or fall over, and read why.")

folder = os.environ.get("SIMBP_SCENARIOS", str(dashboard.LIBRARY_DIR))
entries = library(folder)
side = st.sidebar
side.header("Scenario")
source = side.radio("source", ("Library", "Upload a file"), horizontal=True, label_visibility="collapsed")
if source == "Library":
    if not entries:
        st.warning(f"No scenario files in {folder}.")
        st.stop()
    choice = side.selectbox("library scenario", range(len(entries)), index=dashboard.default_library_index(entries),
                            format_func=lambda i: entries[i].file + ("  (has problems)" if entries[i].problem else ""))
    entry = entries[choice]
    base_text = entry.path.read_text(encoding="utf-8")
    label, base_dir = entry.file, str(entry.path.parent)
else:
    upload = side.file_uploader("scenario YAML", type=["yaml", "yml"])
    if upload is None:
        st.info("Upload a scenario file (YAML), or pick one from the library.")
        st.stop()
    try:
        base_text = upload.getvalue().decode("utf-8")
    except UnicodeDecodeError:
        st.error("That file is not UTF-8 text; a scenario is a YAML text file.")
        st.stop()
    label, base_dir = upload.name, folder  # relative files (traces) are looked up in the library folder

with st.expander("Scenario YAML: edit it here (the controls on the left apply on top)"):
    text = st.text_area("scenario YAML", base_text, height=420, key=f"yaml:{dashboard.source_id(base_text)}",
                        label_visibility="collapsed")

try:
    scenario = dashboard.load_text(text, label=label, base_dir=base_dir)
except ScenarioError as error:
    show_problems(f"{label} has problems; fix them in the YAML editor above:", error)
    st.stop()

st.subheader(scenario.name)
st.markdown(scenario.description.strip() or "_(this scenario has no description)_")
if scenario.expect is not None:
    st.caption(f"As written, this scenario is meant to show: **{scenario.expect.verdict.replace('_', ' ')}**.")

# what-if controls, derived from the scenario's own fields
side.header("What if…")
knobs = dashboard.derive_knobs(scenario)
prefix = dashboard.source_id(text)
values: dict[str, Any] = {}
group = None
for knob in knobs:
    if knob.group != group:
        group = knob.group
        side.markdown(f"**{group}**")
    disabled = knob.action == "capacity" and values.get(knob.key.rsplit(".", 1)[0] + ".policy") == "unbounded"
    values[knob.key] = knob_widget(side, knob, f"{prefix}:{knob.key}", disabled)
mode = side.selectbox("simulation mode", dashboard.run_modes(), help="exact: every message simulated; fast: message "
                      "counts per small step of time, for production-sized runs; auto: fast only for very large runs "
                      "(see docs/performance.md)")

try:
    whatif_text = dashboard.apply_knobs(text, knobs, values)
    whatif = dashboard.load_text(whatif_text, label=label, base_dir=base_dir)
except ScenarioError as error:
    show_problems("These settings make an invalid scenario:", error)
    st.stop()
seed = int(values.get("seed", whatif.seed))

view = st.radio("view", VIEWS, horizontal=True, label_visibility="collapsed")

if view == "What-if":
    results = run_with_progress(whatif_text, seed, base_dir, label, mode, f"simulating {whatif.name}…")
    if results is None:
        st.stop()
    summary = results.summary
    verdict_block(summary)
    metric_rows(summary)
    ran = f"Simulated {format_duration(summary['duration_s'])} with seed {summary['seed']} in {summary.get('mode', 'exact')} mode"
    st.caption(ran + (f": {summary['mode_reason']}." if summary.get("mode_reason") else "."))
    names = dashboard.plot_names()
    for start in range(0, len(names), 2):
        columns = st.columns(2)
        for column, name in zip(columns, names[start:start + 2]):
            with column:
                st.image(plot_png(whatif_text, seed, base_dir, label, mode, name), caption=dashboard.plot_caption(name),
                         width="stretch")
    columns = dashboard.series_columns(results.timeseries)
    lag_seconds = [c for c in columns if c.endswith(".lag_s")]
    if lag_seconds:
        st.markdown("**Lag in seconds** (how far behind each consumer group is, in time)")
        st.line_chart(results.timeseries.set_index("time_s")[lag_seconds])
    with st.expander("Any time series"):
        chosen = st.multiselect("columns", columns, default=lag_seconds or columns[:1])
        if chosen:
            st.line_chart(results.timeseries.set_index("time_s")[chosen])
    with st.expander("The scenario as run (YAML)"):
        st.code(whatif_text, language="yaml")
    columns = st.columns(3)
    columns[0].download_button("Download the scenario (YAML)", dashboard.scenario_yaml_bytes(whatif_text),
                               file_name=f"{whatif.name}.yaml", mime="application/x-yaml")
    columns[1].download_button("Download the time series (CSV)", dashboard.timeseries_csv(results),
                               file_name=f"{whatif.name}-timeseries.csv", mime="text/csv")
    columns[2].download_button("Download the summary (JSON)", dashboard.summary_json(results),
                               file_name=f"{whatif.name}-summary.json", mime="application/json")

elif view == "Compare policies":
    buffers = dashboard.buffer_names(whatif)
    if not buffers:
        st.info("This scenario has no buffer, so there is no policy to compare.")
        st.stop()
    buffer = st.selectbox("buffer whose policy changes", buffers) if len(buffers) > 1 else buffers[0]
    capacity = values.get(f"buffers.{buffer}.capacity")
    st.markdown(
        f"The same load and seed under each policy on **{buffer}** (bounded policies at capacity "
        f"{int(capacity or dashboard.DEFAULT_CAPACITY):,}); every other setting is the one on the left. "
        "Each component draws its own random numbers, so every run sees the same arrivals and service times "
        "(a blocked producer skips the arrivals that fall due while it waits).")
    variants = dashboard.policy_variants(whatif_text, buffer, int(capacity) if capacity is not None else None)
    valid, invalid = dashboard.split_valid(variants, base_dir=base_dir)
    runs: dict[str, Results] = {}
    for policy, variant in valid.items():
        result = run_with_progress(variant, seed, base_dir, label, mode, f"simulating {policy}…")
        if result is None:
            st.stop()
        runs[policy] = result
    columns = st.columns(len(variants))
    for column, policy in zip(columns, variants):
        with column:
            st.markdown(f"#### {policy}")
            if policy in invalid:
                st.info("Not possible on this buffer: " + " ".join(invalid[policy]))
                continue
            result = runs[policy]
            summary = result.summary
            st.metric("verdict", summary["verdict"])
            left, right = st.columns(2)
            p99 = (summary.get("latency_s") or {}).get("p99")
            left.metric("loss", f"{summary['loss_ratio']:.2%}")
            right.metric("peak memory", format_bytes(summary["peak_memory_bytes"]))
            left.metric("p99 latency", format_duration(p99) if p99 is not None else "n/a")
            right.metric("producers blocked", f"{summary['producer_blocked_fraction']:.1%}")
            left.metric("crashes", f"{summary['crashes']:,}")
            right.metric("dropped", f"{summary['dropped']:,}")
            for name in ("lag", "memory"):
                st.image(plot_png(valid[policy], seed, base_dir, label, mode, name, small=True), width="stretch")
            with st.expander("why"):
                st.markdown(summary["verdict_reason"])
    if not runs:
        st.stop()
    table = dashboard.comparison_table(runs)
    st.dataframe(table)
    st.download_button("Download the comparison (CSV)", table.to_csv().encode("utf-8"),
                       file_name=f"{whatif.name}-policies.csv", mime="text/csv")

elif view == "Capacity":
    sizable = dashboard.sizing_knobs(knobs, values)
    if not sizable:
        st.info("This scenario has no count to size (workers, consumers, partitions or a bounded capacity).")
        st.stop()
    st.markdown("How many do you need? A small sweep of the scenario as set on the left: every combination of the "
                "values below, each run several times with its own seeds, judged on the 95% confidence interval "
                "(see docs/planning.md).")
    first, second = st.columns(2)
    size = first.selectbox("what to size", sizable, format_func=lambda k: f"{k.group}: {k.label}")
    current = int(values.get(size.key, size.value))
    size_text = first.text_input("values to try", ", ".join(map(str, dashboard.default_size_values(current))),
                                 key=f"capacity-values:{size.key}")
    loads_text = second.text_input("load multipliers to try", "1, 2, 3",
                                   help="set the scenario's load_multiplier (the what-if multiplier is replaced)")
    columns = st.columns(4)
    max_loss = columns[0].number_input("target: loss at most (%)", min_value=0.0, max_value=100.0, value=0.1, step=0.1,
                                       format="%.3f")
    max_p99 = columns[1].number_input("target: p99 latency at most (s, 0 = none)", min_value=0.0, value=2.0, step=0.5)
    replications = columns[2].slider("replications per point", min_value=2, max_value=10, value=3)
    run_length = columns[3].number_input("simulated time per run (s)", min_value=1.0,
                                         value=float(min(whatif.duration, 60.0)), step=10.0)
    try:
        question = dashboard.CapacityQuestion(
            size_path=size.key, size_values=dashboard.parse_number_list(size_text, int),
            loads=dashboard.parse_number_list(loads_text), max_loss_ratio=max_loss / 100,
            max_p99_s=max_p99 if max_p99 > 0 else None, replications=int(replications), duration_s=float(run_length),
            seed=seed, mode=mode)
    except ValueError as error:
        st.error(f"Cannot read the values: {error}")
        st.stop()
    runs = len(question.size_values) * len(question.loads) * question.replications
    st.caption(f"{len(question.size_values)} values × {len(question.loads)} loads × {question.replications} replications "
               f"= {runs} simulations of {format_duration(question.duration_s)} each.")
    request = (whatif_text, base_dir, question)
    if st.button("Run the sweep", type="primary"):
        st.session_state["capacity_request"] = request
    if st.session_state.get("capacity_request") != request:
        st.stop()
    try:
        sweep = simulate_showing_progress(f"sweeping {runs} runs…", whatif_text, base_dir, question, function=capacity_sweep)
    except ScenarioError as error:
        show_problems("The sweep cannot run:", error)
        st.stop()
    for line in dashboard.capacity_recommendations(sweep):
        st.markdown(f"- {line}")
    pictures = dashboard.capacity_figures(sweep)
    for column, (name, png) in zip(st.columns(max(len(pictures), 1)), pictures):
        column.image(png, caption=f"{name}: mean over replications; ✓ meets every target", width="stretch")
    table = dashboard.capacity_table(sweep)
    st.dataframe(table, hide_index=True)
    st.download_button("Download the sweep (CSV, every replication)", sweep.table.to_csv(index=False).encode("utf-8"),
                       file_name=f"{whatif.name}-capacity.csv", mime="text/csv")
