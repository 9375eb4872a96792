"""The capacity view's logic: a small sweep over one count and the load, judged on targets.

It phrases a question as a `simbp.planning` spec, runs it with `simbp.planning.sweep`, and
turns the result into words, a table and pictures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import Problem, ScenarioError
from .guard import linked_files
from .knobs import Knob, is_bounded, knob_policy
from .library import read_data, write_yaml

__all__ = [
    "CapacityQuestion",
    "capacity_available",
    "sizing_knobs",
    "default_size_values",
    "parse_number_list",
    "capacity_spec",
    "run_capacity_sweep",
    "capacity_recommendations",
    "capacity_table",
    "capacity_figures",
]


@dataclass(frozen=True)
class CapacityQuestion:
    """A small sweep the capacity view runs: one count to size, the loads, the targets, the effort."""

    size_path: str
    size_values: tuple[int, ...]
    loads: tuple[float, ...]
    max_loss_ratio: float | None = 0.001
    max_p99_s: float | None = 2.0
    replications: int = 3
    duration_s: float = 60.0
    seed: int = 1
    mode: str | None = None


def capacity_available() -> bool:
    """Whether capacity planning can run: always, since `simbp.planning` ships with simbp (kept for callers)."""
    return True


def sizing_knobs(knobs: list[Knob], values: dict[str, Any] | None = None) -> list[Knob]:
    """The whole-number knobs a capacity sweep can size (workers, consumers, partitions, capacities).

    A buffer's capacity counts only while the buffer is bounded. Workers and consumers come first.
    A knob's key is also its field path by component name (`consumers.workers.workers`), which is
    what a sweep varies.
    """
    values = values or {}
    chosen = []
    for knob in knobs:
        if not knob.is_int or knob.key == "seed" or knob.widget == "select":
            continue
        if knob.action == "capacity" and not is_bounded(knob_policy(knobs, values, knob)):
            continue
        chosen.append(knob)
    rank = {"workers": 0, "consumers": 0, "partitions": 1}  # what people usually buy first
    return sorted(chosen, key=lambda k: (rank.get(k.key.rsplit(".", 1)[-1], 2), k.action == "capacity"))


def default_size_values(value: int) -> tuple[int, ...]:
    """Values around the current one to try: half, as is, double, triple."""
    return tuple(sorted({max(1, value // 2), max(1, value), 2 * max(1, value), 3 * max(1, value)}))


def parse_number_list(text: str, kind: type = float) -> tuple[Any, ...]:
    """ "1, 2, 3" → (1.0, 2.0, 3.0); raises ValueError naming the entry that is not a number."""
    items = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    if not items:
        raise ValueError("give at least one value, separated by commas")
    numbers = []
    for item in items:
        try:
            number = kind(float(item)) if kind is int else float(item)
        except ValueError:
            raise ValueError(f"{item!r} is not a number") from None
        if kind is int and float(item) != int(float(item)):
            raise ValueError(f"{item!r} is not a whole number")
        if number <= 0:
            raise ValueError(f"{item!r} must be above zero")
        numbers.append(number)
    return tuple(dict.fromkeys(numbers))


def capacity_spec(question: CapacityQuestion, base_file: str = "base.yaml") -> str:
    """The planning spec (YAML) a capacity question amounts to (see docs/planning.md)."""
    targets: dict[str, Any] = {}
    if question.max_loss_ratio is not None:
        targets["loss_ratio"] = {"max": float(question.max_loss_ratio)}
    if question.max_p99_s is not None:
        targets["latency_s.p99"] = {"max": float(question.max_p99_s)}
    spec: dict[str, Any] = {
        "name": "dashboard_capacity",
        "description": "A capacity sweep started from the dashboard.",
        "base": base_file,
        "seed": int(question.seed),
        "fixed": {"duration": float(question.duration_s)},
        "replications": {"min": int(question.replications), "max": int(question.replications)},
        # warm-up cut, but runs never lengthened: the estimate shown before the sweep starts holds,
        # and points whose runs are too short say so (undecided) instead of passing
        "steady_state": {"longest": 1},
        "vary": {question.size_path: [int(v) for v in question.size_values],
                 "load_multiplier": [float(v) for v in question.loads]},
        "targets": targets,
        "judge": "upper_bound" if question.replications >= 2 else "mean",
        "cost": [question.size_path],
    }
    if question.mode is not None:
        spec["mode"] = question.mode
    if targets:
        figure = "loss_ratio" if "loss_ratio" in targets else "latency_s.p99"
        spec["report"] = {"heatmap": figure, "curve": "latency_s.p99" if "latency_s.p99" in targets else figure}
    return write_yaml(spec)


class _CountingExecutor:
    """Wraps an executor so that each finished replication reports the share done so far."""

    def __init__(self, inner: Any, progress: Callable[[float], None] | None):
        self.inner = inner
        self.jobs = inner.jobs
        self.description = inner.description
        self.progress = progress
        self.done = 0
        self.total = 0

    def map(self, function: Callable[[Any], Any], tasks: Any) -> Any:
        tasks = list(tasks)
        self.total += len(tasks)
        for result in self.inner.map(function, tasks):
            self.done += 1
            if self.progress is not None:
                self.progress(self.done / max(self.total, 1))
            yield result

    def close(self) -> None:
        self.inner.close()


def run_capacity_sweep(text: str, question: CapacityQuestion, *, base_dir: Path | str | None = None,
                       progress: Callable[[float], None] | None = None, jobs: int | None = None) -> Any:
    """Run a capacity question on a scenario's YAML with `simbp.planning.sweep`; returns its `SweepResult`.

    The scenario is written to a temporary folder as the spec's base (files it reads, inside its
    folder and within the file-size budget, are copied beside it). Small sweeps run in this process;
    larger ones on every core (`jobs` overrides).
    """
    import shutil
    import tempfile

    from ..budget import resolve_inside
    from ..limits import estimate_messages
    from ..planning import load_study, sweep
    from ..planning.executors import SerialExecutor, make_executor

    source = Path(base_dir) if base_dir is not None else Path.cwd()
    try:
        files = linked_files(read_data(text), source)  # only files inside the scenario's folder are linked
    except ValueError as error:
        raise ScenarioError([Problem("", str(error), None, None)]) from None
    with tempfile.TemporaryDirectory(prefix="simbp-capacity-") as folder:
        (Path(folder) / "base.yaml").write_text(text, encoding="utf-8")
        for name, target in files:  # copied (checked, bounded), never linked out of the folder
            copy = resolve_inside(folder, name)
            if target.exists() and not copy.exists():
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(target, copy)
        study = load_study(capacity_spec(question), base_dir=Path(folder))
        work = sum(estimate_messages(point.scenario) for point in study.points) * question.replications
        if jobs is None:
            jobs = 1 if work < 3_000_000 else None
        inner = SerialExecutor() if jobs == 1 else make_executor(jobs)
        executor = _CountingExecutor(inner, progress)
        try:
            return sweep(study, executor, progress=False)
        finally:
            executor.close()


def capacity_recommendations(result: Any) -> list[str]:
    """The sweep's answer per load, in words: the cheapest value meeting every target, or why none does."""
    study = result.study
    targets = ", ".join(f"{t.figure} {t.describe()}" for t in study.targets) or "no targets"
    lines = []
    for entry in result.summary.get("recommendations", []):
        load = entry.get("load_multiplier")
        at = f"At {float(load):g}× load" if load is not None else "At the scenario's load"
        choice = entry.get("recommendation")
        if choice:
            setting = ", ".join(f"{path} = {value:g}" if isinstance(value, float) else f"{path} = {value}"
                                for path, value in choice.items())
            lines.append(f"{at}: **{setting}** is the cheapest setting tried that meets every target ({targets}).")
        else:
            lines.append(f"{at}: {entry.get('reason', 'no recommendation')} ({targets}).")
    return lines


def capacity_table(result: Any) -> pd.DataFrame:
    """Per point: the varied values, replications, the engine mode they ran in (auto picks fast mode
    at production sizes), the targeted figures (mean and 95% interval), pass."""
    points = result.points
    varied = [c for c in points.columns if c in result.study.vary_values]
    figures = [t.figure for t in result.study.targets] or ["loss_ratio", "latency_s.p99"]
    columns = [*varied, "replications"] + (["mode"] if "mode" in points.columns else [])
    for figure in figures:
        columns += [c for c in (f"{figure}.mean", f"{figure}.low", f"{figure}.high") if c in points.columns]
    columns += [c for c in points.columns if c.startswith("pass.")] + (["passed"] if "passed" in points.columns else [])
    return points[columns].reset_index(drop=True)


def capacity_figures(result: Any) -> list[tuple[str, bytes]]:
    """The sweep's pictures as PNG: heatmaps of each targeted figure, else the curve against load."""
    import io

    from ..planning.plots import plot_heatmap, plot_load_curve

    pictures: list[tuple[str, bytes]] = []
    figures = [t.figure for t in result.study.targets] or ["loss_ratio"]
    for name in figures:
        figure = plot_heatmap(result, name)
        if figure is None:
            figure = plot_load_curve(result, name)
        if figure is None:
            continue
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110)
        pictures.append((name, buffer.getvalue()))
    return pictures
