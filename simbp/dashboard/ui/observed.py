"""The "Observed metrics" view: upload metrics, fit a scenario (`simbp fit`), see the backtest overlaid,
and ask what another consumer count would have done; download fitted.yaml and plan.yaml.

The decisions (upload checks, fitting, tables, chart panels) are `simbp.dashboard.observed_fit`;
this module only draws them. Problems are shown as messages, never as tracebacks.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from ...errors import ScenarioError
from .. import guard
from .. import observed_fit as fitting
from ..charts import timeline_chart
from .common import draw_chart, run_page
from .setup import open_fitted

__all__ = ["show_observed"]

_LATENCY_UNITS = {"seconds": 1.0, "milliseconds": 0.001}


def _options() -> tuple[fitting.FitOptions | None, str | None]:
    """The fit's options from the widgets, or a problem with them."""
    with st.expander("Columns, units and the question (like `simbp fit`'s options)"):
        mapping_text = st.text_input(
            "columns by role", key="observed_map", placeholder="lag=queue_depth, latency_p99=p99_ms",
            help="CSV columns whose names are not the role's: role=column, separated by commas. Roles: "
                 + ", ".join(fitting.roles()))
        left, middle, right = st.columns(3)
        unit = left.selectbox("latency p99 is in", list(_LATENCY_UNITS), key="observed_latency_unit")
        kind = middle.selectbox("system", ("auto", "buffer", "kafka"), key="observed_kind",
                                help="a buffer with workers, or a Kafka topic and consumer group (auto: from the data)")
        workers = right.number_input("consumers, if the data has none", min_value=0, max_value=10_000, value=0, step=1,
                                     key="observed_workers", help="0: from the data's consumers series")
        target = left.number_input("lag target (seconds)", min_value=1.0, max_value=86_400.0, value=60.0, step=10.0,
                                   key="observed_target", help="plan.yaml's target: the lag in seconds to stay under")
    mapping = []
    for item in filter(None, (part.strip() for part in (mapping_text or "").split(","))):
        role, sep, column = item.partition("=")
        if not sep or role.strip() not in fitting.roles() or not column.strip():
            return None, (f"columns by role: {item!r} is not role=column (roles: {', '.join(fitting.roles())})")
        mapping.append((role.strip(), column.strip()))
    return fitting.FitOptions(tuple(mapping), _LATENCY_UNITS[unit], str(kind), int(workers) or None, float(target)), None


def show_observed() -> None:
    """The whole view: upload, fit, figures, overlay, what-if, downloads."""
    st.subheader("Observed metrics: fit the simulator to your system")
    st.markdown("Upload an incident's metrics (a CSV with a `time` column and any of `arrivals`, `throughput`, "
                "`lag`, `consumers`, `latency_p99`; or Prometheus `query_range` JSON files, one per role, or a zip "
                "of them). simbp estimates the consumers' capacity from the periods with a backlog, replays the "
                "observed arrivals through the fitted scenario, and overlays the replay on what you saw "
                "(docs/fit.md).")
    if dict(st.query_params) != {"view": "observed"}:  # a link to this page opens this view
        st.query_params.from_dict({"view": "observed"})
    limit_mb = max(1, guard.BUDGET.max_bundle_bytes // 2**20)
    uploads = st.file_uploader("observed metrics", type=list(fitting.UPLOAD_TYPES), accept_multiple_files=True,
                               key="observed_upload", max_upload_size=limit_mb,
                               help=f"one CSV, one zip, or JSON files; up to {limit_mb} MiB")
    options, problem = _options()
    if not uploads:
        st.info("Upload observed metrics to fit them.")
        return
    if problem or options is None:
        st.error(problem)
        return
    refused = fitting.check_upload([(u.name, u.size) for u in uploads])
    if refused:
        st.error(f"**That upload is refused:** {refused}.")
        return
    files = [(u.name, u.getvalue()) for u in uploads]
    fitted = _fit(files, options)
    if fitted is None:
        return
    _show_fit(fitted)
    _show_whatif(fitted, options)
    _open_button()
    _downloads(fitted)


def _fit(files: list[tuple[str, bytes]], options: fitting.FitOptions) -> fitting.DashboardFit | None:
    """The fit of this upload and these options: from this session's memory, or computed now."""
    digest = hashlib.sha256(repr((options, [(n, hashlib.sha256(d).hexdigest()) for n, d in files])).encode()).hexdigest()
    kept = st.session_state.get("observed_fit")
    if kept is not None and kept[0] == digest and kept[1].folder.is_dir():
        return kept[1]
    try:
        with st.spinner("fitting and replaying the observed period…"):
            fitted = fitting.fit_upload(files, options)
    except ScenarioError as error:
        lines = "\n".join(f"- {line}" for line in fitting.problem_lines(error, [str(fitting.FIT_ROOT)]))
        st.error(f"**These metrics cannot be fitted:**\n\n{lines}")
        return None
    except Exception as error:  # a bug: say so plainly, without a traceback for a shared page
        st.error(f"The fit failed unexpectedly ({type(error).__name__}). Try `simbp fit` on the same file to see why.")
        return None
    st.session_state["observed_fit"] = (digest, fitted)
    return fitted


def _show_fit(fitted: fitting.DashboardFit) -> None:
    summary = fitted.summary
    low, high = summary["capacity_per_s_interval"]
    columns = st.columns(4)
    columns[0].metric("capacity per consumer", f"{summary['capacity_per_s']:.4g}/s",
                      help=f"95% interval [{low if low is None else f'{low:.4g}'}, "
                           f"{'not identified' if high is None else f'{high:.4g}'}]")
    columns[1].metric("consumers", summary["workers"])
    columns[2].metric("total capacity", f"{summary['total_capacity_per_s']:,.4g}/s")
    columns[3].metric("service time", f"{summary['service_mean_s']:.4g}s")
    st.caption(f"{fitted.shown(summary['observed']['source'])}: {summary['observed']['samples']} samples every "
               f"{summary['observed']['step_s']:g}s; fitted as {summary['kind']} ({summary['kind_reason']}).")
    st.markdown("#### Fitted parameters, with 95% intervals")
    st.dataframe(fitting.parameter_table(summary), hide_index=True, width="stretch")
    st.markdown("#### What the data could not identify")
    unidentified = summary["unidentified"]
    st.markdown("\n".join(f"- {item}" for item in unidentified) if unidentified
                else "_Nothing: every parameter was estimated from the data._")
    if summary["repairs"] or summary["notes"]:
        with st.expander(f"Repairs to the input and notes ({len(summary['repairs']) + len(summary['notes'])})"):
            st.markdown("\n".join(f"- {fitted.shown(line)}" for line in summary["repairs"] + summary["notes"]))
    bt = summary["backtest"]
    st.markdown(f"#### Backtest: the fitted scenario replaying the observed arrivals ({bt['replications']} seeds)")
    st.dataframe(fitting.backtest_table(summary), hide_index=True, width="stretch")
    st.caption(bt["normalisation"] + ". " + bt.get("spread_note", ""))
    draw_chart(timeline_chart(fitting.overlay_panels(fitted.backtest, summary), height=200), key="observed_overlay")
    st.caption("Drag or scroll to zoom all panels together; double-click to reset; hover to read the values.")


def _show_whatif(fitted: fitting.DashboardFit, options: fitting.FitOptions) -> None:
    summary = fitted.summary
    st.markdown("#### What if: the same spike with another number of consumers")
    most = max(4 * summary["workers"], 8)
    workers = int(st.number_input("consumers", min_value=1, max_value=most, value=min(summary["workers"] + 1, most),
                                  step=1, key=f"observed_whatif:{fitted.folder.parent.name}"))
    text = fitting.whatif_text(fitted, workers)
    results = run_page(text, options.seed, str(fitted.folder), "fitted.yaml", "auto",
                       f"replaying with {workers} consumers…", confirm_key="observed")
    if results is None:
        return
    figures = fitting.whatif_figures(results, options.lag_target_s)
    columns = st.columns(3)
    columns[0].metric("peak lag (seconds)", f"{figures['peak_lag_s']:,.3g}s",
                      delta=f"target {options.lag_target_s:g}s: {'kept' if figures['keeps_target'] else 'missed'}",
                      delta_color="normal" if figures["keeps_target"] else "inverse")
    columns[1].metric("peak lag (messages)", f"{figures['peak_queue_depth']:,}")
    columns[2].metric("verdict", str(figures["verdict"]).replace("_", " "))
    draw_chart(timeline_chart(fitting.whatif_panels(fitted, results, workers, options.lag_target_s), height=180),
               key="observed_whatif_chart")
    st.caption(f"One replay (seed {options.seed}). `simbp plan plan.yaml` searches the fewest consumers that keep the "
               f"lag under {options.lag_target_s:g}s with replications and intervals.")


def _open_button() -> None:
    st.markdown("#### Every control: the fitted scenario in the what-if view")
    st.button("Open in what-if", key="observed_open", type="primary", on_click=open_fitted,
              help="the fitted scenario becomes the what-if view's (source: fitted from observed metrics), with "
                   "every control: consumers, buffer, policy, rates, seed, mode")
    st.caption("It stays in this session only: it reads the observed arrivals from this fit's temporary folder on "
               "the server, so a shared link cannot carry it (download the fit to share it).")


def _downloads(fitted: fitting.DashboardFit) -> None:
    name = str(fitted.summary.get("scenario", "fitted.yaml"))
    stem = str(fitted.result.scenario.name)
    columns = st.columns(3)
    columns[0].download_button("Download the fit (zip)", fitting.download_zip(fitted), file_name=f"{stem}.zip",
                               mime="application/zip", help="fitted.yaml, observed_arrivals.csv, plan.yaml and fit.json")
    columns[1].download_button("Download fitted.yaml", fitting.shown_file(fitted, name), file_name="fitted.yaml",
                               mime="application/x-yaml")
    columns[2].download_button("Download plan.yaml", fitting.shown_file(fitted, "plan.yaml"), file_name="plan.yaml",
                               mime="application/x-yaml")
    st.caption("fitted.yaml reads observed_arrivals.csv from its folder: unzip the fit and run "
               "`simbp plan plan.yaml` there.")

