"""Load observed metrics: read them (`observed`), then check, repair and grid them (`clean`)."""

from __future__ import annotations

from pathlib import Path

from .clean import assemble
from .observed import MAX_BYTES, ROLES, Observed, _fail, _read_csv, _read_prometheus_folder, _read_text

__all__ = ["load_observed"]


def load_observed(source: str | Path, *, mapping: dict[str, str] | None = None, counters: set[str] | None = None,
                  gauges: set[str] | None = None, scale: dict[str, float] | None = None,
                  max_bytes: int = MAX_BYTES) -> Observed:
    """Read observed metrics (CSV file, or folder of Prometheus JSON), check them and put them on one grid.

    `mapping` {role: column} names CSV columns; `counters`/`gauges` declare roles as monotonic totals
    or as plain values (otherwise totals are detected); `scale` {role: factor} multiplies a role's
    values (e.g. latency in ms: 0.001). Raises `ScenarioError` for data that cannot be used.
    """
    path = Path(source)
    if path.is_dir():
        series, epoch, notes, hints = _read_prometheus_folder(path, max_bytes)
    elif path.exists() and not path.is_file():
        raise _fail(str(path), "expected a CSV file or a folder of Prometheus JSON files")
    else:
        if path.exists() and path.stat().st_size > max_bytes:
            _read_text(path, max_bytes)  # raises the size error before anything is read
        series, epoch, notes = _read_csv(path, mapping or {}, max_bytes)
        hints = {}
    for role in set(counters or ()) | set(gauges or ()) | set(scale or {}):
        if role not in ROLES:
            raise _fail("command line", f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    observed = assemble(series, counters=set(counters or ()), gauges=set(gauges or ()), scale=dict(scale or {}),
                        source=str(path), epoch=epoch)
    observed.repairs[:0] = notes
    observed.hints.update(hints)
    return observed

