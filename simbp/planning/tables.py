"""Tables and summaries of evaluated points: the tidy table (one row per replication), the
per-point table (estimates, intervals, pass/fail) and the JSON summary parts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .figures import display
from .judging import JUDGE_RULES
from .statistics import CONFIDENCE
from .steady import POOLED

if TYPE_CHECKING:
    import pandas as pd

    from .evaluation import PointResult
    from .study import Study

__all__ = ["result_tables", "point_summary", "spec_summary", "jsonable", "modes_run"]


def result_tables(results: list["PointResult"], study: "Study",
                  extra: dict[int, dict[str, Any]] | None = None) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """The tidy table (one row per point and replication) and the per-point table (means, CIs, pass)."""
    import pandas as pd

    params = list(dict.fromkeys(path for r in results for path in r.point.changes))
    ordered = sorted(results, key=lambda r: r.point.index)
    rows = []
    for result in ordered:
        for row in result.rows:
            entry: dict[str, Any] = {"point": result.point.index, "replication": row["replication"]}
            entry.update((extra or {}).get(result.point.index, {}))
            entry.update({path: result.point.changes.get(path) for path in params})
            entry.update({k: v for k, v in row.items() if k not in ("point", "replication", POOLED)})
            rows.append(entry)
    table = _parquet_safe(pd.DataFrame(rows))
    point_rows = []
    for result in ordered:
        entry = {"point": result.point.index}
        entry.update((extra or {}).get(result.point.index, {}))
        entry.update({path: result.point.changes.get(path) for path in params})
        entry["replications"] = result.replications
        entry["mode"] = result.mode
        for name, value in result.estimates.items():
            entry[f"{name}.mean"] = value.mean
            entry[f"{name}.low"] = value.low
            entry[f"{name}.high"] = value.high
        for figure, ok in result.verdicts.items():
            entry[f"pass.{figure}"] = ok
        for figure, judgement in result.judgements.items():
            entry[f"judgement.{figure}"] = judgement
        entry["passed"] = result.passed
        entry["judgement"] = result.judgement
        entry["warmup_s"] = result.steady.get("warmup_s")
        entry["run_s"] = result.steady.get("run_s")
        entry["runs_too_short"] = bool(result.steady.get("too_short"))
        point_rows.append(entry)
    return table, _parquet_safe(pd.DataFrame(point_rows))


def _parquet_safe(frame: "pd.DataFrame") -> "pd.DataFrame":
    """Columns holding mixed types (numbers and words) become text, so Parquet can store them."""
    for column in frame.columns:
        if frame[column].dtype == object:
            kinds = {type(v) for v in frame[column].dropna()}
            if len(kinds) > 1 or kinds & {dict, list}:
                frame[column] = frame[column].map(lambda v: v if v is None else display(v))
    return frame


def point_summary(result: "PointResult", study: "Study") -> dict[str, Any]:
    entry = {
        "point": result.point.index,
        "changes": result.point.changes,
        "replications": result.replications,
        "mode": result.mode,
        "figures": {name: value.as_dict() for name, value in result.estimates.items()},
        "pass": result.verdicts,
        "passed": result.passed,
        "judgement": result.judgement,
        "judgements": result.judgements,
        "steady_state": result.steady,
    }
    note = result.decision_note(study)
    if note:
        entry["to_decide"] = note
    cost = study.cost_of(result.point.changes)
    if cost is not None:
        entry["cost"] = cost
    return entry


def spec_summary(study: Study) -> dict[str, Any]:
    spec = study.spec
    return {
        "name": spec.name,
        "description": spec.description.strip(),
        "spec": study.label,
        "base": study.base.name,
        "seed": spec.seed,
        "confidence": CONFIDENCE,
        "judge": study.judge,
        "judge_rule": JUDGE_RULES[study.judge],
        "replications": {"min": spec.replications.min, "max": spec.replications.most, "step": spec.replications.step,
                         "target_relative_half_width": spec.replications.target_relative_half_width,
                         "stop_when_decided": spec.replications.stop_when_decided, "figures": study.check_figures},
        "common_random_numbers": spec.common_random_numbers,
        "targets": [{"figure": t.figure, "min": t.low, "max": t.high, "text": t.describe()} for t in study.targets],
        "steady_state": {"enabled": study.steady.enabled, "warmup": "auto" if study.steady.warmup is None else study.steady.warmup,
                         "longest": study.steady.longest, "tail_quantile": study.steady.tail_quantile},
        "notes": study.notes,
        "headroom": spec.headroom,
        "max_utilisation": spec.max_utilisation,
        "cost": spec.cost,
    }


def jsonable(value: Any) -> Any:
    from ..results import _jsonable as results_jsonable

    return results_jsonable(value)


def modes_run(table: "pd.DataFrame") -> dict[str, int]:
    """How many replications ran in each engine mode (mixed modes make points less comparable)."""
    if "mode" not in table.columns:
        return {}
    return {str(mode): int(count) for mode, count in sorted(table["mode"].value_counts().items())}

