"""Writing a run's files: summary.json, time series (CSV, Parquet), PNG plots, report.html.

Every file is written to a temporary name in the same folder and renamed into place, so an
interrupted run never leaves a half-written file under a final name. `summary.json` is written
last: its presence means the run finished.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .results import Results

__all__ = ["atomic_write", "write_results"]


def atomic_write(path: Path, data: bytes) -> Path:
    """Write `data` to `path` via a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_results(results: "Results", out_dir: Path, *, plots: bool = True) -> list[Path]:
    """Write all of a run's outputs into `out_dir`; returns the paths written, summary last."""
    out_dir = Path(out_dir)
    # The previous run's summary goes first: until this run's is written, the folder is visibly
    # unfinished, never a mix of old and new files that looks complete.
    (out_dir / "summary.json").unlink(missing_ok=True)
    written: list[Path] = []
    frame = results.timeseries
    written.append(atomic_write(out_dir / "timeseries.csv", frame.to_csv(index=False, float_format="%.9g").encode()))
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    written.append(atomic_write(out_dir / "timeseries.parquet", buffer.getvalue()))
    if len(results.events):
        written.append(atomic_write(out_dir / "events.csv", results.events.to_csv(index=False).encode()))
    images: dict[str, bytes] = {}
    if plots:
        from .plots import PLOTS

        for name, draw in PLOTS.items():
            figure = draw(results)
            png = io.BytesIO()
            figure.savefig(png, format="png", metadata={"Software": None})
            images[name] = png.getvalue()
            written.append(atomic_write(out_dir / f"{name}.png", images[name]))
    from .report import render_report

    written.append(atomic_write(out_dir / "report.html", render_report(results, images).encode("utf-8")))
    from .plots import PLOT_NAMES

    for stale in ("events.csv", *(f"{name}.png" for name in PLOT_NAMES)):  # a previous run's, not this one's
        if out_dir / stale not in written:
            (out_dir / stale).unlink(missing_ok=True)
    written.append(atomic_write(out_dir / "summary.json", results.to_json().encode("utf-8")))
    return written
