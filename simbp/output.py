"""Writing a run's files: summary.json, time series (CSV, Parquet), PNG plots, report.html.

Every file is written to a temporary name in the same folder and renamed into place, so an
interrupted run never leaves a half-written file under a final name. The summary is written last:
its presence means the run finished, and a previous run's is removed first.

An `OutputFolder` is checked before anything is simulated (not a file, writable), locked while a
run writes it (a second run into the same folder exits with a clear error instead of interleaving
its files), and remembers in `.simbp-files` which files simbp wrote there: simbp deletes or
replaces only those, never a file it did not write.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from fnmatch import fnmatch
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .errors import Problem, ScenarioError

if TYPE_CHECKING:
    from .results import Results

__all__ = ["atomic_write", "write_results", "OutputFolder", "MANIFEST", "result_names"]

MANIFEST = ".simbp-files"


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


def _bad_folder(folder: Path, message: str) -> ScenarioError:
    return ScenarioError([Problem("--out", message, None, str(folder))])


class OutputFolder:
    """The folder a run (or a sweep, or a plan) writes; use as a context manager around the run.

    On entry: the folder is created if needed, refused if it is a file or not writable, and locked
    (another simbp run holding it → `ScenarioError`). `begin()` removes the previous run's summary
    (if simbp wrote it); `write(name, data)` writes one file atomically; `remove_stale()` removes
    files a previous run wrote that this one did not, before the summary is written. simbp never
    deletes or replaces a file it did not write: such a file under one of the `names` a run may
    write is an error on entry, before anything runs.
    """

    def __init__(self, folder: str | Path, names: tuple[str, ...] = (), *, summary: str = "summary.json",
                 family: tuple[str, ...] | None = None):
        self.folder = Path(folder)
        self.names = names  # names this run may write: checked for foreign files on entry
        self.summary = summary
        self.family = family or names  # patterns (fnmatch) of the files this kind of run owns: a run's
        # stale files are removed; a sweep's or a plan's in the same folder are left alone
        self.written: list[Path] = []
        self._previous: set[str] = set()
        self._lock: Any = None
        self._open = False

    # ---------------------------------------------------------------- entry and exit
    def __enter__(self) -> "OutputFolder":
        self.open()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()

    def check(self) -> None:
        """Refuse a folder that cannot be written, without creating anything: a file, a folder that
        is not writable, or a missing folder whose nearest existing parent is not writable."""
        folder = self.folder
        if folder.exists() and not folder.is_dir():
            raise _bad_folder(folder, "the output folder is a file; choose a folder with --out")
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise _bad_folder(folder, f"cannot create the output folder: {str(existing)!r} is a file")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise _bad_folder(folder, "the output folder is not writable; choose another with --out")

    def open(self) -> None:
        """Check, create and lock the folder (before anything is simulated)."""
        folder = self.folder
        self.check()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise _bad_folder(folder, f"cannot create the output folder: {error.strerror or type(error).__name__}") from None
        self._acquire()
        self._open = True
        self._previous = self._read_manifest()
        for name in self.names:
            path = folder / name
            if (path.exists() or path.is_symlink()) and name not in self._previous and not self._legacy(name):
                self.close()
                raise _bad_folder(folder, f"{name!r} in the output folder was not written by simbp; simbp will not "
                                          "replace it: choose another folder with --out or move the file")

    @property
    def locked(self) -> bool:
        """Whether this folder is open (checked, created and locked by this object)."""
        return self._open

    def close(self) -> None:
        """Release the lock (closing the descriptor releases it)."""
        self._open = False
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _acquire(self) -> None:
        """Lock the folder itself (flock on its descriptor): no lock file, released if the process dies."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock, but still atomic files
            return
        try:
            descriptor = os.open(self.folder, os.O_RDONLY)
        except OSError as error:
            raise _bad_folder(self.folder, f"cannot open the output folder: {error.strerror or type(error).__name__}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            raise _bad_folder(self.folder, "another simbp run is writing this folder; wait for it to finish or "
                                           "choose another folder with --out") from None
        self._lock = descriptor

    # ---------------------------------------------------------------- what simbp wrote
    def _read_manifest(self) -> set[str]:
        try:
            names = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
        return {str(name) for name in names if isinstance(name, str) and "/" not in name} if isinstance(names, list) else set()

    def _legacy(self, name: str) -> bool:
        """A folder written before simbp kept a manifest: its summary says it is simbp's."""
        if self._previous:
            return False
        try:
            summary = json.loads((self.folder / self.summary).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if isinstance(summary, dict) and ("verdict" in summary or summary.get("kind") in ("sweep", "plan")):
            self._previous = {n for n in self.names if (self.folder / n).is_file()}
            return name in self._previous
        return False

    def ours(self, name: str) -> bool:
        """Whether `name` in this folder was written by simbp (a previous run, or this one)."""
        return name in self._previous or any(p.name == name for p in self.written)

    def begin(self) -> None:
        """Remove the previous summary first, so until this run's is written the folder is visibly
        unfinished, never a mix of old and new files that looks complete."""
        if self.summary in self._previous:
            (self.folder / self.summary).unlink(missing_ok=True)
        self._save_manifest()

    def write(self, name: str, data: bytes) -> Path:
        """Write one file atomically and record it as simbp's (never over a file simbp did not write)."""
        path = self.folder / name
        if name not in self.names and not self.ours(name) and (path.exists() or path.is_symlink()):
            raise _bad_folder(self.folder, f"{name!r} in the output folder was not written by simbp; simbp will not "
                                           "replace it: choose another folder with --out or move the file")
        path = atomic_write(path, data)
        self.written.append(path)
        self._save_manifest()
        return path

    def remove_stale(self) -> None:
        """Remove files a previous run wrote that this one did not (a plot skipped with --no-plots);
        call it just before writing the summary."""
        current = {p.name for p in self.written} | {self.summary}
        stale = {name for name in self._previous - current if any(fnmatch(name, pattern) for pattern in self.family)}
        for name in sorted(stale):
            (self.folder / name).unlink(missing_ok=True)
        self._previous -= stale
        self._save_manifest()

    def _save_manifest(self) -> None:
        names = sorted(self._previous | {p.name for p in self.written})
        atomic_write(self.folder / MANIFEST, (json.dumps(names, indent=0) + "\n").encode())


def result_names(plots: bool = True) -> tuple[str, ...]:
    """The files `write_results` may write (the plots only with `plots`)."""
    from .plots import PLOT_NAMES

    return ("summary.json", "timeseries.csv", "timeseries.parquet", "events.csv", "report.html",
            *(f"{name}.png" for name in PLOT_NAMES if plots))


def write_results(results: "Results", out_dir: Path | OutputFolder, *, plots: bool = True) -> list[Path]:
    """Write all of a run's outputs into `out_dir` (a path or an open `OutputFolder`); returns the
    paths written, summary last."""
    if isinstance(out_dir, OutputFolder):
        return _write(results, out_dir, plots)
    with OutputFolder(out_dir, result_names(plots), family=result_names()) as folder:
        return _write(results, folder, plots)


def _write(results: "Results", folder: OutputFolder, plots: bool) -> list[Path]:
    folder.begin()
    frame = results.timeseries
    folder.write("timeseries.csv", frame.to_csv(index=False, float_format="%.9g").encode())
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    folder.write("timeseries.parquet", buffer.getvalue())
    if len(results.events):
        folder.write("events.csv", results.events.to_csv(index=False).encode())
    images: dict[str, bytes] = {}
    if plots:
        from .plots import PLOTS

        for name, draw in PLOTS.items():
            figure = draw(results)
            png = io.BytesIO()
            figure.savefig(png, format="png", metadata={"Software": None})
            images[name] = png.getvalue()
            folder.write(f"{name}.png", images[name])
    from .report import render_report

    folder.write("report.html", render_report(results, images).encode("utf-8"))
    folder.remove_stale()
    folder.write("summary.json", results.to_json().encode("utf-8"))
    return list(folder.written)
