"""Observed metrics: load a CSV or a folder of Prometheus range-query responses, check and repair.

Every sample i is read as: rates (`arrivals`, `throughput`) averaged over the interval ending at
time t_i (what Prometheus `rate()` and most dashboards report), gauges (`lag`, `consumers`,
`latency_p99`) as the value at t_i. Problems the data cannot survive raise `ScenarioError` with the
file, line (CSV) or series and what was expected; problems with an obvious cure are repaired and
the repair is recorded in `Observed.repairs` (and later in fit.json).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Problem, ScenarioError

__all__ = ["ROLES", "RATE_ROLES", "MAX_BYTES", "MIN_SAMPLES", "Observed", "RawSeries"]

ROLES = ("arrivals", "throughput", "lag", "consumers", "latency_p99")
RATE_ROLES = ("arrivals", "throughput")
MAX_BYTES = 200 * 1024 * 1024  # refuse larger inputs before reading a byte
MIN_SAMPLES = 20
_MAX_GAP_SHARE = 0.2  # more missing samples than this (after the grid is fixed) is unusable


@dataclass
class RawSeries:
    """One role's samples as read: times (s, unsorted maybe), values, and where each came from."""

    role: str
    times: np.ndarray
    values: np.ndarray
    file: str
    column: str
    lines: np.ndarray | None = None  # CSV line of each sample (1-based), None for JSON
    counter: bool = False
    labels: str = ""


@dataclass
class Observed:
    """Metrics on one regular time grid: `times` (s from the first sample), `step`, `series` by role."""

    times: np.ndarray
    step: float
    series: dict[str, np.ndarray]
    source: str
    start_epoch: float | None = None  # epoch seconds of times[0] when timestamps were absolute
    repairs: list[str] = field(default_factory=list)
    hints: dict[str, str] = field(default_factory=dict)  # e.g. {"kind": "kafka"} from metric names

    @property
    def duration(self) -> float:
        """Seconds covered: n samples × step (each sample stands for the interval before it)."""
        return len(self.times) * self.step


def _fail(file: str, message: str, field: str = "", line: int | None = None) -> ScenarioError:
    return ScenarioError([Problem(field, message, line, file)])


def _read_text(path: Path, max_bytes: int) -> str:
    """The file as text, refusing huge or non-UTF-8 files with a clear error."""
    if not path.is_file():
        raise _fail(str(path), "no such file")
    size = path.stat().st_size
    if size > max_bytes:
        raise _fail(str(path), f"file is {size / 1024**2:.0f} MiB, over the {max_bytes / 1024**2:.0f} MiB limit; "
                               "downsample it (e.g. a coarser Prometheus step) before fitting")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise _fail(str(path), f"not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
                               "save the file as UTF-8", line=line) from None


# --------------------------------------------------------------------------- CSV
def _parse_times(raw: Any, file: str, column: str) -> tuple[np.ndarray, float | None, list[str]]:
    """Seconds from a numeric or ISO-8601 time column; epoch milliseconds are recognised."""
    import pandas as pd

    notes: list[str] = []
    numbers = pd.to_numeric(raw, errors="coerce")
    if numbers.isna().any() and numbers.notna().mean() > 0.5:  # seconds, with a few that are not
        row = int(numbers.isna().to_numpy().argmax())
        raise _fail(file, f"{raw.iloc[row]!r} is not a number of seconds like the other times", column, row + 2)
    if not numbers.isna().any():
        values = numbers.to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            raise _fail(file, "time must be a finite number of seconds or an ISO-8601 timestamp", column, int(bad.argmax()) + 2)
        if np.nanmedian(values) > 1e11:  # epoch milliseconds (seconds would be after the year 5000)
            notes.append(f"column {column!r} holds epoch milliseconds: divided by 1000")
            values = values / 1000.0
        epoch = float(values.min()) if np.nanmedian(values) > 1e8 else None
        return values, epoch, notes
    try:
        stamps = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601")
    except (ValueError, TypeError):
        stamps = pd.Series([pd.NaT] * len(raw))
    if stamps.isna().any():
        row = int(stamps.isna().to_numpy().argmax())
        raise _fail(file, f"{raw.iloc[row]!r} is neither seconds nor an ISO-8601 timestamp "
                          "(e.g. 2024-05-01T12:00:00Z)", column, row + 2)
    seconds = (stamps - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy(dtype=float)
    return seconds, float(seconds.min()), notes


def _read_csv(path: Path, mapping: dict[str, str], max_bytes: int) -> tuple[list[RawSeries], float | None, list[str]]:
    import pandas as pd

    text = _read_text(path, max_bytes)
    file = str(path)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as error:
        raise _fail(file, f"cannot read as CSV: {error}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if "time" not in frame.columns:
        raise _fail(file, f"no `time` column (columns: {', '.join(frame.columns)}); expected seconds or "
                          "ISO-8601 timestamps in a column named time", "time", 1)
    times, epoch, notes = _parse_times(frame["time"], file, "time")
    unknown = [role for role in mapping if role not in ROLES]
    if unknown:
        raise _fail("command line", f"unknown role {unknown[0]!r}; roles are {', '.join(ROLES)}", "--map")
    series: list[RawSeries] = []
    for role in ROLES:
        column = mapping.get(role, role)
        if column not in frame.columns:
            if role in mapping:
                raise _fail(file, f"--map {role}={column}: no such column (columns: {', '.join(frame.columns)})", column, 1)
            continue
        text_values = frame[column].str.strip()
        values = pd.to_numeric(text_values, errors="coerce").to_numpy(dtype=float)
        blank = (text_values == "").to_numpy()  # an empty cell is a missing sample: filled like a gap
        bad = np.isnan(values) & ~blank & ~text_values.str.lower().isin(["nan", "+nan", "-nan"]).to_numpy()
        if bad.any():
            row = int(bad.argmax())
            raise _fail(file, f"{frame[column].iloc[row]!r} is not a number; expected {role} as a number", column, row + 2)
        keep = ~blank
        series.append(RawSeries(role, times[keep], values[keep], file, column, lines=(np.arange(len(values)) + 2)[keep],
                                counter=column.endswith(("_total", "_count"))))
    if not series:
        raise _fail(file, f"no metric columns: expected any of {', '.join(ROLES)} (or --map role=column)", "", 1)
    return series, epoch, notes


# --------------------------------------------------------------------------- Prometheus
def _read_prometheus_file(path: Path, role: str, select: dict[str, str], max_bytes: int) -> RawSeries:
    """Sum the series matching `select` in one `/api/v1/query_range` response."""
    file = str(path)
    try:
        doc = json.loads(_read_text(path, max_bytes))
    except json.JSONDecodeError as error:
        raise _fail(file, f"not valid JSON: {error.msg}", line=error.lineno) from None
    if not isinstance(doc, dict) or doc.get("status") != "success":
        raise _fail(file, "expected a Prometheus query_range response with \"status\": \"success\"", "status")
    data = doc.get("data") or {}
    if data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
        raise _fail(file, "expected data.resultType \"matrix\" (a range query) with a data.result list", "data.resultType")
    chosen = [(i, s) for i, s in enumerate(data["result"])
              if all(str((s.get("metric") or {}).get(k)) == str(v) for k, v in select.items())]
    if not chosen:
        raise _fail(file, f"no series matches {select} ({len(data['result'])} series in the file)", "data.result")
    total: dict[float, float] = {}
    counts: dict[float, int] = {}
    names = set()
    for index, item in chosen:
        names.add(str((item.get("metric") or {}).get("__name__", "")))
        for j, pair in enumerate(item.get("values") or []):
            where = f"data.result[{index}].values[{j}]"
            try:
                stamp, value = float(pair[0]), float(pair[1])
            except (TypeError, ValueError, IndexError):
                raise _fail(file, f"expected [timestamp, \"value\"], got {pair!r}", where) from None
            if not math.isfinite(value):
                raise _fail(file, f"value {pair[1]!r} at {stamp:.0f}: expected a finite number", where)
            total[stamp] = total.get(stamp, 0.0) + value
            counts[stamp] = counts.get(stamp, 0) + 1
    stamps = np.array(sorted(total))
    if len(chosen) > 1:
        partial = [s for s in stamps if counts[s] != len(chosen)]
        if len(partial) > 0.05 * len(stamps):
            raise _fail(file, f"the {len(chosen)} matching series do not share timestamps "
                              f"({len(partial)} of {len(stamps)} times miss a series); select one with a manifest", "data.result")
        stamps = np.array([s for s in stamps if counts[s] == len(chosen)])
    values = np.array([total[s] for s in stamps])
    labels = ",".join(sorted(n for n in names if n))
    counter = any(n.endswith(("_total", "_count")) for n in names)
    return RawSeries(role, stamps, values, file, role, counter=counter, labels=labels + json.dumps(select))


def _read_prometheus_folder(folder: Path, max_bytes: int) -> tuple[list[RawSeries], float | None, list[str], dict[str, str]]:
    import yaml

    manifest = folder / "manifest.yaml"
    entries: dict[str, dict[str, Any]] = {}
    if manifest.is_file():
        try:
            doc = yaml.safe_load(_read_text(manifest, max_bytes)) or {}
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            raise _fail(str(manifest), f"not valid YAML: {getattr(error, 'problem', error)}",
                        line=mark.line + 1 if mark else None) from None
        roles = doc.get("roles") if isinstance(doc, dict) else None
        if not isinstance(roles, dict) or not roles:
            raise _fail(str(manifest), "expected `roles:` mapping each role to a file name or {file, select, counter}", "roles", 1)
        for role, entry in roles.items():
            if role not in ROLES:
                raise _fail(str(manifest), f"unknown role {role!r}; roles are {', '.join(ROLES)}", f"roles.{role}")
            entry = {"file": entry} if isinstance(entry, str) else entry
            if not isinstance(entry, dict) or "file" not in entry:
                raise _fail(str(manifest), "expected a file name or {file, select, counter}", f"roles.{role}")
            extra = set(entry) - {"file", "select", "counter"}
            if extra:
                raise _fail(str(manifest), f"unknown key {sorted(extra)[0]!r}; expected file, select, counter", f"roles.{role}")
            entries[role] = entry
    else:
        entries = {role: {"file": f"{role}.json"} for role in ROLES if (folder / f"{role}.json").is_file()}
        if not entries:
            raise _fail(str(folder), f"no manifest.yaml and none of {', '.join(r + '.json' for r in ROLES)}")
    series = []
    for role, entry in entries.items():
        item = _read_prometheus_file(folder / str(entry["file"]), role, dict(entry.get("select") or {}), max_bytes)
        if "counter" in entry:
            item.counter = bool(entry["counter"])
        series.append(item)
    text = " ".join(s.labels for s in series).lower()
    hints = {"kind": "kafka"} if any(w in text for w in ("kafka", "consumergroup", "topic", "partition")) else {}
    epoch = min(float(s.times.min()) for s in series if len(s.times)) if series else None
    return series, epoch, [], hints
