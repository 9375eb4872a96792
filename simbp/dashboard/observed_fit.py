"""Fitting uploaded observed metrics on a shared dashboard (`simbp fit` behind the "Observed" view).

No Streamlit here (`simbp.dashboard.ui.observed` draws it). An upload is refused before it is read
past the dashboard's caps (`guard.BUDGET`: files, bytes) and read by the same checks as the CLI
(`simbp.calibration`: shape, units, too short, not UTF-8 …); a zip is opened member by member with
declared and actual sizes checked (no paths, no bombs). Only bytes reach the disk, under one
temporary folder per fit (`FIT_ROOT/<content digest>-<random>`), cleared after a day; the user
never names a path. The replay runs within the dashboard's budgets (`guard.BUDGETS`), priced
first (`guard.estimate_run`), on one of `running.RUN_SLOTS`, with fewer seeds than the CLI.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..calibration import FitResult, fit
from ..calibration.backtest import Backtest
from ..calibration.observed import ROLES
from ..calibration.scenario_out import LAG_TARGET, TRACE_FILE, lag_column
from ..errors import Problem, ScenarioError
from . import guard
from .panels import Panel, Rule, time_unit

__all__ = ["FIT_ROOT", "FitOptions", "DashboardFit", "check_upload", "unpack", "fit_upload", "parameter_table",
           "backtest_table", "overlay_panels", "whatif_text", "whatif_panels", "whatif_figures", "download_zip",
           "problem_lines", "roles", "safe_name", "scenario_source", "shown_file", "UPLOAD_TYPES", "REPLAYS", "REPLAY_SECONDS"]

FIT_ROOT = Path(tempfile.gettempdir()) / "simbp-dashboard-fits"
_TTL_S = 24 * 3600
UPLOAD_TYPES = ("csv", "zip", "json", "yaml", "yml")
REPLAYS = 3  # backtest seeds on a shared page (the CLI replays 5)
REPLAY_SECONDS = guard.BUDGET.warn_seconds  # estimated computing the replays may take together
_MEMBER_TYPES = (".json", ".yaml", ".yml")
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


@dataclass(frozen=True)
class FitOptions:
    """What the CLI's options say, for an upload: columns by role, latency scale, system, consumers, target."""

    mapping: tuple[tuple[str, str], ...] = ()
    latency_scale: float = 1.0
    kind: str = "auto"
    workers: int | None = None
    lag_target_s: float = 60.0
    seed: int = 0


@dataclass
class DashboardFit:
    """A finished fit of an upload: its result, its folder (fitted.yaml and the trace), what to show."""

    result: FitResult
    folder: Path
    upload: str
    hidden: list[str] = field(default_factory=list)  # server paths to keep out of what is shown

    @property
    def summary(self) -> dict[str, Any]:
        return self.result.summary

    @property
    def backtest(self) -> Backtest:
        return self.result.backtest

    def shown(self, text: str) -> str:
        """`text` without the server's temporary paths."""
        for path in self.hidden:
            text = text.replace(path + "/", "").replace(path, self.upload)
        return text


def _refuse(message: str, file: str = "upload") -> ScenarioError:
    return ScenarioError([Problem("", message, None, file)])


def check_upload(files: list[tuple[str, int]], budget: guard.Budget = guard.BUDGET) -> str | None:
    """Why these uploaded (name, size) files are refused, or None: one CSV, one zip, or Prometheus JSON files."""
    if not files:
        return "nothing uploaded"
    if len(files) > budget.max_bundle_files:
        return f"upload at most {budget.max_bundle_files} files at once"
    total = sum(size for _, size in files)
    if total > budget.max_bundle_bytes:
        return f"the files come to {total:,} bytes; this dashboard accepts up to {budget.max_bundle_bytes:,}"
    names = [safe_name(name) for name, _ in files]
    if len(set(names)) != len(names):
        return "two uploaded files have the same name"
    kinds = {Path(name).suffix.lower() for name in names}
    if kinds <= {".csv"} or kinds <= {".zip"}:
        return None if len(files) == 1 else "upload one CSV (or one zip) at a time"
    if kinds <= set(_MEMBER_TYPES):
        return None
    return "upload one CSV, one zip of Prometheus JSON, or the Prometheus JSON files (role.json, manifest.yaml)"


def safe_name(name: str) -> str:
    """An uploaded file's name as a plain file name: its last part, other characters as `_`."""
    last = re.split(r"[/\\]", name)[-1]
    plain = re.sub(r"[^A-Za-z0-9_.\-]", "_", last).lstrip(".")[:100]
    return plain or "upload"


def _unzip(data: bytes, folder: Path, budget: guard.Budget) -> None:
    """The zip's JSON and YAML members, flattened into `folder`; anything odd is refused, not skipped silently."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise _refuse("not a zip file") from None
    members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
    if len(members) > budget.max_bundle_files:
        raise _refuse(f"the zip holds {len(members)} files; this dashboard reads up to {budget.max_bundle_files}")
    if sum(m.file_size for m in members) > budget.max_bundle_bytes:
        raise _refuse(f"the zip unpacks to more than {budget.max_bundle_bytes:,} bytes")
    seen: set[str] = set()
    for member in members:
        parts = member.filename.split("/")
        name = parts[-1]
        if len(parts) > 2 or not _PLAIN.match(name) or Path(name).suffix.lower() not in _MEMBER_TYPES or name in seen:
            raise _refuse(f"{member.filename!r} in the zip: expected Prometheus JSON files and a manifest.yaml, "
                          "at most one folder deep, each name once")
        seen.add(name)
        with archive.open(member) as stream:
            content = stream.read(member.file_size + 1)
        if len(content) > member.file_size:
            raise _refuse(f"{name!r} in the zip is larger than it says")
        (folder / name).write_bytes(content)
    if not seen:
        raise _refuse("the zip holds no Prometheus JSON files")


def unpack(files: list[tuple[str, bytes]], folder: Path, budget: guard.Budget = guard.BUDGET) -> Path:
    """Write the upload into `folder`: the CSV file, or the folder of Prometheus JSON, to fit."""
    refused = check_upload([(name, len(data)) for name, data in files], budget)
    if refused:
        raise _refuse(refused)
    folder.mkdir(parents=True, exist_ok=True)
    files = [(safe_name(name), data) for name, data in files]
    name, data = files[0]
    if name.lower().endswith(".csv"):
        (folder / name).write_bytes(data)
        return folder / name
    target = folder / "prometheus"
    target.mkdir(exist_ok=True)
    if name.lower().endswith(".zip"):
        _unzip(data, target, budget)
    else:
        for member, content in files:
            (target / member).write_bytes(content)
    return target


def _digest(files: list[tuple[str, bytes]], options: FitOptions) -> str:
    digest = hashlib.sha256(repr(options).encode())
    for name, data in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:20]


def _clear_old(root: Path, keep: Path) -> None:
    now = time.time()
    for old in root.iterdir() if root.is_dir() else []:
        if old != keep and old.is_dir() and now - old.stat().st_mtime > _TTL_S:
            shutil.rmtree(old, ignore_errors=True)


def _price(scenario: Any) -> None:
    """Refuse a replay over the shared page's limits before it runs (messages, seconds, rows)."""
    estimate = guard.estimate_run(scenario, "auto")
    if estimate.refused:
        raise _refuse(f"the replay is too large for a shared dashboard: {estimate.refused}; downsample the metrics "
                      "(a coarser step) or fit them with `simbp fit`", "replay")


def fit_upload(files: list[tuple[str, bytes]], options: FitOptions, *, root: Path | None = None,
               cancelled: Any = None) -> DashboardFit:
    """Unpack and fit an upload in its own temporary folder (under `root`, default `FIT_ROOT`);
    `ScenarioError` for anything unusable."""
    from .running import RUN_SLOTS

    root = root or FIT_ROOT
    # one folder per fit, never shared: another page fitting the same bytes must not touch this one's files
    folder = root / f"{_digest(files, options)}-{secrets.token_hex(4)}"
    _clear_old(root, folder)
    try:
        source = unpack(files, folder / "input")
        scale = {"latency_p99": options.latency_scale} if options.latency_scale != 1.0 else None
        run_options: dict[str, Any] = {"budgets": guard.BUDGETS}
        if cancelled is not None:
            run_options["cancelled"] = cancelled
        with RUN_SLOTS:
            result = fit(source, folder / "fit", kind=options.kind, mapping=dict(options.mapping), scale=scale,
                         workers=options.workers, seed=options.seed, lag_target_s=options.lag_target_s, plots=False,
                         max_bytes=guard.BUDGET.max_bundle_bytes, replications=REPLAYS, backtest_seconds=REPLAY_SECONDS,
                         run_options=run_options, before_replay=_price)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    upload = files[0][0] if len(files) == 1 else "the uploaded files"
    return DashboardFit(result, folder / "fit", upload, [str(folder / "input"), str(folder)])


def problem_lines(error: ScenarioError, hidden: list[str]) -> list[str]:
    """Each problem as `file, line N, field: what`, naming the uploaded file, never the server's paths."""
    lines = []
    for problem in error.problems:
        where = [Path(problem.file).name] if problem.file else []
        where += [f"line {problem.line}"] if problem.line is not None else []
        where += [problem.field] if problem.field else []
        text = f"{', '.join(where)}: {problem.message}" if where else problem.message
        for path in hidden:
            text = text.replace(path + "/", "").replace(path, "upload")
        lines.append(text)
    return lines or [str(error)]


def _fmt(value: float | None) -> str:
    if value is None:
        return "not identified"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def parameter_table(summary: dict[str, Any]) -> pd.DataFrame:
    """Fitted parameters with their 95% intervals and how each was found."""
    def row(name: str, value: float | None, interval: list[float | None] | None, unit: str, how: str) -> dict[str, str]:
        low, high = interval or [None, None]
        shown = "" if interval is None else f"[{_fmt(low) if low is not None else '—'}, {_fmt(high)}]"
        return {"parameter": name, "estimate": f"{_fmt(value)} {unit}".strip(), "95% interval": shown, "how": how}
    rows = [
        row("capacity per consumer", summary["capacity_per_s"], summary["capacity_per_s_interval"], "/s",
            summary["capacity_method"]),
        row("consumers", summary["workers"], None, "", summary["workers_source"]),
        row("total capacity", summary["total_capacity_per_s"], None, "/s", "capacity per consumer × consumers"),
        row("service time (mean)", summary["service_mean_s"], summary["service_mean_s_interval"], "s",
            "1 / capacity per consumer"),
        row("service variability (cv²)", summary["service_cv2"], summary["service_cv2_interval"], "",
            summary["service_method"]),
    ]
    return pd.DataFrame(rows)


_BACKTEST_ROWS = (("simulated_peak_lag", "peak lag (messages)"), ("peak_lag_relative_error", "peak lag error (relative)"),
                  ("peak_time_offset_s", "time of peak, simulated − observed (s)"), ("lag_nrmse", "lag NRMSE"),
                  ("throughput_nrmse", "throughput NRMSE"), ("latency_p99_nrmse", "latency p99 NRMSE"))


def backtest_table(summary: dict[str, Any]) -> pd.DataFrame:
    """The backtest's figures: the first replay, and mean, 95% interval and range over the replays."""
    bt = summary["backtest"]
    rows = []
    for key, label in _BACKTEST_ROWS:
        if key not in bt:
            continue
        spread = bt.get("spread", {}).get(key, {})
        rows.append({"figure": label, "first replay": _fmt(bt[key]) if bt[key] is not None else "—",
                     f"mean of {bt.get('replications', 1)}": _fmt(spread.get("mean")) if spread.get("mean") is not None else "—",
                     "95% interval": (f"[{_fmt(spread['low'])}, {_fmt(spread['high'])}]"
                                      if spread.get("low") is not None else "—"),
                     "range": f"{_fmt(spread['min'])} – {_fmt(spread['max'])}" if spread.get("min") is not None else "—"})
    if "observed_peak_lag" in bt:
        rows.insert(0, {"figure": "observed peak lag (messages)", "first replay": _fmt(bt["observed_peak_lag"]),
                        f"mean of {bt.get('replications', 1)}": "", "95% interval": "", "range": ""})
    return pd.DataFrame(rows)


_OVERLAYS = (("lag", "Lag: messages waiting", "messages", ",.0f"), ("throughput", "Throughput", "messages/s", ",.4~g"),
             ("latency_p99", "Latency p99", "seconds", ",.3~g"))


def _long(times: np.ndarray, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    frames = [pd.DataFrame({"t": times, "series": name, "value": values.astype(float)}) for name, values in columns.items()]
    frame = pd.concat(frames, ignore_index=True)
    return frame[np.isfinite(frame["value"])].reset_index(drop=True)


def overlay_panels(test: Backtest, summary: dict[str, Any]) -> list[Panel]:
    """Observed against simulated (the first replay, and the lowest and highest of all replays) per role."""
    step = float(summary["observed"]["step_s"])
    unit, factor = time_unit(float(test.times[-1] + step) if len(test.times) else 0.0)
    times = (test.times + step) / factor
    replays = summary["backtest"].get("replications", 1)
    panels = []
    for role, title, y_title, y_format in _OVERLAYS:
        if role not in test.observed:
            continue
        columns = {"observed": test.observed[role], "simulated (fitted)": test.simulated[role]}
        if replays > 1 and role in test.bands:
            low, high = test.bands[role]
            columns[f"simulated: lowest of {replays} seeds"] = low
            columns[f"simulated: highest of {replays} seeds"] = high
        rules = [Rule(f"fitted capacity {summary['total_capacity_per_s']:,.4g}/s", value=summary["total_capacity_per_s"])] \
            if role == "throughput" else []
        panel = Panel(f"fit_{role}", title, y_title, _long(times, columns), rules, y_format)
        panel.data.attrs["time_unit"] = unit
        panels.append(panel)
    return panels


def scenario_source(fitted: DashboardFit | None, root: Path | None = None) -> tuple[str, Path] | None:
    """fitted.yaml's text and the folder it reads its trace from, for the what-if view; None when
    there is no fit, or its folder is gone (cleared after a day) or lies outside the fits' area
    (`root`, default `FIT_ROOT`): the folder is always the server's own, never a path from the user."""
    if fitted is None or "fitted.yaml" not in fitted.result.files:
        return None
    folder, area = fitted.folder.resolve(), (root or FIT_ROOT).resolve()
    if not folder.is_dir() or not folder.is_relative_to(area) or folder == area:
        return None
    return fitted.shown(fitted.result.files["fitted.yaml"].decode("utf-8")), folder


def whatif_text(fitted: DashboardFit, workers: int) -> str:
    """fitted.yaml with another consumer count (it reads its trace from the fit's folder)."""
    data = yaml.safe_load(fitted.result.files["fitted.yaml"].decode())
    if fitted.summary["kind"] == "kafka":
        data["consumer_groups"][0]["consumers"] = workers
    else:
        data["consumers"][0]["workers"] = workers
    data["name"] = f"{data['name']}_{workers}_consumers"
    return yaml.safe_dump(data, sort_keys=False)


def whatif_figures(results: Any, target_s: float) -> dict[str, Any]:
    """The replay at another consumer count: its lag in seconds against the target, and its peaks."""
    summary = results.summary
    peak = float(summary.get(LAG_TARGET) or 0.0)
    return {"peak_lag_s": peak, "keeps_target": peak <= target_s, "peak_queue_depth": summary["peak_queue_depth"],
            "verdict": summary["verdict"]}


def whatif_panels(fitted: DashboardFit, results: Any, workers: int, target_s: float) -> list[Panel]:
    """Lag in messages (observed, fitted, and at `workers` consumers) and lag in seconds against the target."""
    test, summary = fitted.backtest, fitted.summary
    step = float(summary["observed"]["step_s"])
    unit, factor = time_unit(float(test.times[-1] + step) if len(test.times) else 0.0)
    n = len(test.times)
    rows = results.timeseries.iloc[1:n + 1]
    kind = summary["kind"]
    lag = rows[lag_column(kind)].to_numpy(dtype=float) if lag_column(kind) in rows else np.full(len(rows), np.nan)
    seconds_column = f"{lag_column(kind).rsplit('.', 1)[0]}.lag_s"
    lag_s = rows[seconds_column].to_numpy(dtype=float) if seconds_column in rows else np.full(len(rows), np.nan)
    times = (test.times[:len(rows)] + step) / factor
    columns = {f"replay with {workers} consumers": lag}
    if "lag" in test.observed:
        columns = {"observed": test.observed["lag"][:len(rows)], f"fitted ({summary['workers']} consumers)":
                   test.simulated["lag"][:len(rows)], **columns}
    messages = Panel("whatif_lag", "Lag: messages waiting", "messages", _long(times, columns))
    seconds = Panel("whatif_lag_s", f"Lag in seconds with {workers} consumers (age of the oldest message waiting)",
                    "seconds", _long(times, {f"{workers} consumers": lag_s}),
                    [Rule(f"target {target_s:g}s", value=target_s)], ",.3~g")
    for panel in (messages, seconds):
        panel.data.attrs["time_unit"] = unit
    return [messages, seconds]


def download_zip(fitted: DashboardFit) -> bytes:
    """fitted.yaml, its trace, plan.yaml and fit.json in one zip (fitted.yaml needs its trace beside it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("fitted.yaml", TRACE_FILE, "plan.yaml"):
            archive.writestr(name, shown_file(fitted, name))
        archive.writestr("fit.json", fitted.shown(json.dumps(fitted.summary, indent=2, default=_plain)) + "\n")
    return buffer.getvalue()


def shown_file(fitted: DashboardFit, name: str) -> bytes:
    """One of the fit's files as offered for download: YAML without the server's temporary paths."""
    data = fitted.result.files[name]
    return fitted.shown(data.decode("utf-8")).encode("utf-8") if name.endswith(".yaml") else data


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)


def roles() -> tuple[str, ...]:
    """The roles a column can be mapped to (as `--map ROLE=COLUMN`)."""
    return ROLES

