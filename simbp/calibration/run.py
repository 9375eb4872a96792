"""The whole `fit` pipeline: load → estimate → write scenario and plan → backtest → report → fit.json.

Files are written under temporary names and renamed into place; fit.json comes last, so its
presence means the fit finished. A previous fit's fit.json (recognised by its `generator` key) is
removed first; nothing else in the folder is ever deleted.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Problem, ScenarioError
from .backtest import BACKTEST_REPLICATIONS, BACKTEST_SECONDS, Backtest, backtest
from .estimate import Fit, estimate
from .load import load_observed
from .observed import MAX_BYTES, Observed
from .scenario_out import TRACE_FILE, dump_yaml, plan_dict, scenario_dict, scenario_name, trace_csv

__all__ = ["FitResult", "fit", "atomic_write", "GENERATOR"]

GENERATOR = "simbp fit"


@dataclass
class FitResult:
    """Everything a fit produced: the observations, the estimates, the backtest and fit.json's content."""

    observed: Observed
    fit: Fit
    scenario: Any
    backtest: Backtest
    summary: dict[str, Any]
    written: list[Path] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # fitted.yaml, observed_arrivals.csv, plan.yaml as written


def atomic_write(path: Path, data: bytes) -> Path:
    """Write via a temporary file in the same folder and an atomic rename."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _prepare_out(out_dir: Path, source: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ScenarioError([Problem("--out", "is an existing file; give a folder (it is created if missing)", None, str(out_dir))])
    if source.is_dir() and out_dir.resolve() == source.resolve():
        raise ScenarioError([Problem("--out", "is the folder of observed metrics; write the fit somewhere else", None, str(out_dir))])
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = out_dir / "fit.json"
    if previous.is_file():
        try:
            ours = json.loads(previous.read_text(encoding="utf-8")).get("generator") == GENERATOR
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise ScenarioError([Problem("--out", "holds a fit.json that simbp fit did not write; choose another folder",
                                         None, str(out_dir))])
        previous.unlink()  # until the new one is written, the folder is visibly unfinished


def _interval(pair: tuple[float | None, float | None]) -> list[float | None]:
    return [None if v is None or not math.isfinite(v) else float(f"{v:.6g}") for v in pair]


def _summary(obs: Observed, fitted: Fit, test: Backtest, scenario_file: str) -> dict[str, Any]:
    return {
        "generator": GENERATOR,
        "observed": {"source": obs.source, "samples": len(obs.times), "step_s": obs.step, "roles": sorted(obs.series),
                     "start_epoch_s": obs.start_epoch},
        "kind": fitted.kind, "kind_reason": fitted.kind_reason,
        "workers": fitted.workers, "workers_source": fitted.workers_source,
        "capacity_per_s": float(f"{fitted.capacity_per_s:.6g}"),
        "capacity_per_s_interval": _interval(fitted.capacity_interval),
        "total_capacity_per_s": float(f"{fitted.total_capacity_per_s:.6g}"),
        "capacity_method": fitted.capacity_method, "saturated_intervals": fitted.saturated_intervals,
        "service_mean_s": float(f"{fitted.service_mean_s:.6g}"),
        "service_mean_s_interval": _interval(fitted.service_interval),
        "service": fitted.service, "service_cv2": None if fitted.service_cv2 is None else float(f"{fitted.service_cv2:.4g}"),
        "service_cv2_interval": _interval(fitted.service_cv2_interval), "service_method": fitted.service_method,
        "interval_level": 0.95,
        "unidentified": fitted.unidentified, "notes": fitted.notes, "repairs": obs.repairs,
        "scenario": scenario_file, "plan": "plan.yaml",
        "backtest": test.figures,
    }


def fit(observed: str | Path, out_dir: str | Path | None = None, *, kind: str = "auto",
        mapping: dict[str, str] | None = None, counters: set[str] | None = None, gauges: set[str] | None = None,
        scale: dict[str, float] | None = None, workers: int | None = None, seed: int = 0, lag_target_s: float = 60.0,
        allow_large: bool = False, plots: bool = True, max_bytes: int = MAX_BYTES,
        replications: int = BACKTEST_REPLICATIONS, backtest_seconds: float = BACKTEST_SECONDS,
        run_options: dict[str, Any] | None = None, before_replay: Callable[[Any], None] | None = None) -> FitResult:
    """Fit a scenario to observed metrics, backtest it, and (with `out_dir`) write fitted.yaml, the
    arrivals trace, plan.yaml, fit_report.html and fit.json (last). Raises `ScenarioError` for bad input.

    `kind` is "auto", "buffer" or "kafka"; `mapping` {role: CSV column}; `counters`/`gauges` declare
    roles as monotonic totals or plain values; `scale` {role: factor}; `workers` the consumer count
    when it was not observed; `seed` the backtest's first seed; `lag_target_s` the plan's target.
    The backtest replays `replications` seeds (fewer when they would take over `backtest_seconds` of
    estimated computing); `run_options` go to `simbp.run` (budgets, cancellation) and
    `before_replay(scenario)` may refuse the replay by raising `ScenarioError` (a shared server's limits).
    """
    from ..scenario import parse_scenario_text

    if kind not in ("auto", "buffer", "kafka"):
        raise ScenarioError([Problem("--as", f"expected buffer or kafka, got {kind!r}", None, "command line")])
    if workers is not None and workers < 1:
        raise ScenarioError([Problem("--workers", f"must be at least 1, got {workers}", None, "command line")])
    source = Path(observed)
    if out_dir is not None:
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            _prepare_out(out, source)
    obs = load_observed(source, mapping=mapping, counters=counters, gauges=gauges, scale=scale, max_bytes=max_bytes)
    fitted = estimate(obs, kind=kind, workers=workers)
    name = scenario_name(str(source))
    scenario_data = scenario_dict(obs, fitted, name=name, seed=seed)
    header = "fitted by simbp fit; see fit.json for the estimates, their intervals and what the data could not identify"
    scenario_text = dump_yaml(scenario_data, header)
    trace = trace_csv(obs, fitted)
    plan_text = dump_yaml(plan_dict(fitted, name=name, lag_target_s=lag_target_s),
                          "simbp plan plan.yaml: the fewest consumers keeping lag under the target through the observed period")
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="simbp-fit-") as scratch:
        folder = Path(scratch)
        if out_dir is not None:
            folder = Path(out_dir)
            _prepare_out(folder, source)
            written.append(atomic_write(folder / TRACE_FILE, trace))
        else:
            (folder / TRACE_FILE).write_bytes(trace)
        scenario = parse_scenario_text(scenario_text.decode(), label=str(folder / "fitted.yaml"), base_dir=folder)
        if before_replay is not None:
            before_replay(scenario)
        test = backtest(obs, scenario, fitted.kind, seed=seed, replications=replications, seconds=backtest_seconds,
                        allow_large=allow_large, run_options=run_options)
        summary = _summary(obs, fitted, test, "fitted.yaml")
        if out_dir is not None:
            from .report import render_report

            written.append(atomic_write(folder / "fitted.yaml", scenario_text))
            written.append(atomic_write(folder / "plan.yaml", plan_text))
            written.append(atomic_write(folder / "fit_report.html", render_report(summary, test, plots=plots).encode()))
            written.append(atomic_write(folder / "fit.json", (json.dumps(summary, indent=2, default=_json) + "\n").encode()))
    files = {"fitted.yaml": scenario_text, TRACE_FILE: trace, "plan.yaml": plan_text}
    return FitResult(obs, fitted, scenario, test, summary, written, files)


def _json(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
