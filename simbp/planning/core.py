"""Capacity planning: sweeps over scenario fields, replications with 95% confidence intervals,
targets (SLOs) judged on those intervals, and a search for the cheapest configuration that meets
every target, started from queueing theory and confirmed by simulation.

A *spec* (YAML, see docs/planning.md) names a base scenario, the fields to vary (any scenario
field by its path, e.g. `consumers.workers.workers`, `buffers.queue.capacity`, `load_multiplier`),
how many replications to run at each point and the targets. `load_study` validates all of it
before anything runs and reports faults with the spec file's line, as scenario errors are.

Seeds: replication r of a point gets its seed from `SeedSequence(sweep seed, spawn_key=(point
key, r))`, where the point key is a hash of the point's whole scenario. So the numbers depend
only on the sweep seed, the configuration and the replication index: not on the executor, the
order runs finish in, nor on the path a search took to reach a configuration (`simbp plan` and
`simbp sweep` agree on a configuration both simulate).
"""

from __future__ import annotations

import itertools
import json
import math
import sys
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import BeforeValidator, Field, ValidationError, model_validator

from ..errors import Problem, ScenarioError
from ..scenario import Scenario, get_path, load_scenario
from ..scenario.base import Model, Name
from ..scenario.loading import _format_path, _line_of, _problems
from ..units import format_bytes, format_duration, parse_bytes, parse_duration, parse_rate

if TYPE_CHECKING:
    import pandas as pd

    from .executors import Executor

__all__ = [
    "SweepSpec",
    "Study",
    "Target",
    "Point",
    "Estimate",
    "PointResult",
    "SweepResult",
    "PlanResult",
    "TheoryPrediction",
    "TheoryAnswer",
    "Margin",
    "load_study",
    "sweep",
    "plan",
    "estimate",
    "t_quantile_975",
    "replication_seed",
    "theory_prediction",
    "figure_kind",
    "format_figure",
    "HEADLINE_FIGURES",
    "JUDGE_RULES",
]

CONFIDENCE = 0.95
HEADLINE_FIGURES = ("loss_ratio", "latency_s.mean", "latency_s.p99", "peak_queue_depth", "peak_memory_bytes",
                    "crashes", "producer_blocked_fraction", "throughput_per_s")
JUDGE_RULES = {
    "bound": "the pessimistic end of the 95% confidence interval: its upper end for a `max` target, its lower end "
             "for a `min` target (a point passes only when the whole interval is on the right side)",
    "mean": "the mean over replications (a point passes when the mean is on the right side; half the time a "
            "point right at the limit passes by luck)",
}


# ====================================================================================== spec schema
class ValueRange(Model):
    """Whole numbers from `min` to `max` inclusive in steps of `step` (e.g. workers to try)."""

    min: int
    max: int
    step: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> "ValueRange":
        if self.max < self.min:
            raise ValueError("a range needs min <= max")
        if (self.max - self.min) // self.step > 10_000:
            raise ValueError("a range may hold at most 10,000 values; raise `step`")
        return self

    def values(self) -> list[int]:
        return list(range(self.min, self.max + 1, self.step))


def _list_or_range(value: Any) -> Any:
    if isinstance(value, (list, dict, ValueRange)):
        return value
    raise ValueError("give a list of values to try, e.g. [2, 4, 8], or a range {min: 1, max: 16, step: 1}")


Values = Annotated[list[Any] | ValueRange, BeforeValidator(_list_or_range)]


class ReplicationsSpec(Model):
    """How many replications per point: at least `min`, more (in steps of `step`, up to `max`)
    until every checked figure's interval is tight (half width ≤ `target_relative_half_width` ×
    |mean|) or, with `stop_when_decided`, lies wholly inside or outside its target."""

    min: int = Field(default=3, ge=1, le=1000)
    max: int | None = Field(default=None, ge=1, le=1000)
    target_relative_half_width: float | None = Field(default=None, gt=0)
    step: int = Field(default=2, ge=1, le=1000)
    figures: list[str] | None = None
    stop_when_decided: bool = True

    @model_validator(mode="after")
    def _bounds(self) -> "ReplicationsSpec":
        if self.max is not None and self.max < self.min:
            raise ValueError(f"replications.max ({self.max}) is below replications.min ({self.min})")
        return self

    @property
    def most(self) -> int:
        """The replication cap: `max`, or `min` when no interval width is asked for (else 10)."""
        if self.max is not None:
            return self.max
        return self.min if self.target_relative_half_width is None else max(self.min, 10)


class TargetSpec(Model):
    """A target on one summary figure: `max` (at most) and/or `min` (at least), with units."""

    min: float | str | None = None
    max: float | str | None = None

    @model_validator(mode="after")
    def _some_limit(self) -> "TargetSpec":
        if self.min is None and self.max is None:
            raise ValueError("a target needs `max` (at most) or `min` (at least)")
        return self


class MarginSpec(Model):
    """After a plan: raise the load on the chosen configuration until it fails a target."""

    enabled: bool = True
    up_to: float | None = Field(default=None, gt=0)
    tolerance: float = Field(default=0.05, gt=0, lt=1)


class PlanSpec(Model):
    """What `simbp plan` may buy, cheapest first, and at what load it must meet the targets."""

    load_multiplier: float | None = Field(default=None, gt=0)
    search: dict[str, Values] = Field(min_length=1)
    margin: MarginSpec = Field(default_factory=MarginSpec)


class ReportSpec(Model):
    """Which figures the plots show (default: the first target's figure)."""

    heatmap: str | None = None
    curve: str | None = None


class SweepSpec(Model):
    """A sweep or plan spec: the base scenario, what to vary, replications, targets, judging."""

    name: Name
    description: str = ""
    base: str
    seed: int = Field(default=0, ge=0)
    mode: str | None = None
    fixed: dict[str, Any] = Field(default_factory=dict)
    vary: dict[str, Values] = Field(default_factory=dict)
    points: list[dict[str, Any]] = Field(default_factory=list)
    replications: ReplicationsSpec = Field(default_factory=ReplicationsSpec)
    targets: dict[str, TargetSpec] = Field(default_factory=dict)
    judge: Literal["bound", "upper_bound", "mean"] = "bound"
    common_random_numbers: bool = False
    allow_large: bool = False
    cost: list[str] | None = None
    plan: PlanSpec | None = None
    report: ReportSpec = Field(default_factory=ReportSpec)

    @model_validator(mode="after")
    def _lists_not_empty(self) -> "SweepSpec":
        for path, values in self.vary.items():
            if isinstance(values, list) and not values:
                raise _at(("vary", path), "give at least one value to try")
        if self.plan is not None:
            for path, values in self.plan.search.items():
                if isinstance(values, list) and not values:
                    raise _at(("plan", "search", path), "give at least one value to try")
        if self.judge != "mean" and self.replications.min < 2:
            raise _at(("replications", "min"), "judging on the confidence interval needs at least 2 replications "
                                               "(or judge: mean)")
        return self

    @property
    def judge_rule(self) -> str:
        """`bound` or `mean` (`upper_bound` is accepted as another name for `bound`)."""
        return "mean" if self.judge == "mean" else "bound"


def _at(path: tuple[str | int, ...], message: str) -> ValueError:
    from ..scenario.schema import ReferenceProblem

    return ReferenceProblem(path, message)


# ====================================================================================== figures
def figure_kind(figure: str) -> str:
    """The unit of a summary figure from its name: duration, bytes, rate, ratio or number."""
    last = figure.rsplit(".", 1)[-1]
    if last.endswith("_per_s"):
        return "rate"
    if ".latency_s." in f".{figure}" or last.endswith("_s"):
        return "duration"
    if "bytes" in last:
        return "bytes"
    if last.endswith(("_ratio", "_fraction")) or last == "utilisation":
        return "ratio"
    return "number"


def parse_figure_value(value: float | str, kind: str) -> float:
    """A target value in the figure's units: "2s", "64MiB", "900/s", "0.1%" or a plain number."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    text = value.strip()
    if text.endswith("%"):
        return float(text[:-1]) / 100.0
    parser = {"duration": parse_duration, "bytes": parse_bytes, "rate": parse_rate}.get(kind)
    if parser is not None:
        return parser(text)
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None


def format_figure(value: float | None, kind: str) -> str:
    """A figure for people: 0.0012 → "0.12%", 1.5 (seconds) → "1.5s", bytes in KiB/MiB."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "∞"
    if kind == "duration":
        return format_duration(value)
    if kind == "bytes":
        return format_bytes(value)
    if kind == "ratio":
        return f"{value:.3%}" if abs(value) < 0.1 else f"{value:.1%}"
    if kind == "rate":
        return f"{value:,.4g}/s"
    return f"{value:,.4g}"


@dataclass(frozen=True)
class Target:
    """A target on one figure: at most `high` and/or at least `low`."""

    figure: str
    kind: str
    low: float | None = None
    high: float | None = None

    def describe(self) -> str:
        parts = []
        if self.high is not None:
            parts.append(f"≤ {format_figure(self.high, self.kind)}")
        if self.low is not None:
            parts.append(f"≥ {format_figure(self.low, self.kind)}")
        return " and ".join(parts)

    def value_passes(self, value: float) -> bool:
        """Whether a single value (a mean, a theory prediction) is within the target."""
        if value is None or math.isnan(value):
            return False
        return (self.high is None or value <= self.high) and (self.low is None or value >= self.low)

    def passes(self, estimate: "Estimate", judge: str) -> bool:
        """Pass/fail of a point: on the mean, or on the pessimistic end of its interval."""
        if estimate.n == 0 or math.isnan(estimate.mean):
            return False
        if judge == "mean":
            return self.value_passes(estimate.mean)
        ok = True
        if self.high is not None:
            ok = ok and estimate.high <= self.high
        if self.low is not None:
            ok = ok and estimate.low >= self.low
        return ok

    def decided(self, estimate: "Estimate") -> bool:
        """True when the whole interval is on one side of every limit: more replications won't flip it."""
        if estimate.n < 2 or math.isnan(estimate.mean) or math.isinf(estimate.half_width):
            return False
        for limit in (self.high, self.low):
            if limit is not None and estimate.low <= limit <= estimate.high and estimate.half_width > 0:
                return False
        return True


# ====================================================================================== statistics
_T_975 = (12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
          2.200985, 2.178813, 2.160369, 2.144787, 2.13145, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
          2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.04523, 2.042272)


def t_quantile_975(degrees_of_freedom: int) -> float:
    """Student's t 97.5% quantile (two-sided 95% interval): a table to 30, Cornish–Fisher above."""
    if degrees_of_freedom < 1:
        return math.inf
    if degrees_of_freedom <= len(_T_975):
        return _T_975[degrees_of_freedom - 1]
    z, n = 1.959963984540054, float(degrees_of_freedom)
    return (z + (z**3 + z) / (4 * n) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * n**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * n**3))


@dataclass(frozen=True)
class Estimate:
    """Mean over replications and its 95% confidence interval (Student's t)."""

    mean: float
    half_width: float
    n: int
    std: float

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def relative_half_width(self) -> float:
        if self.half_width == 0:
            return 0.0
        return self.half_width / abs(self.mean) if self.mean else math.inf

    def as_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "low": self.low, "high": self.high, "half_width": self.half_width, "n": self.n}


def estimate(values: Iterable[float]) -> Estimate:
    """The mean and 95% interval of replication values; NaNs (figure missing in a run) are left out."""
    data = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(data)
    if n == 0:
        return Estimate(math.nan, math.nan, 0, math.nan)
    mean = math.fsum(data) / n
    if n == 1:
        return Estimate(mean, math.inf, 1, math.nan)
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in data) / (n - 1))
    return Estimate(mean, t_quantile_975(n - 1) * std / math.sqrt(n), n, std)


# ====================================================================================== seeds, points
def _identity(scenario: Scenario) -> str:
    data = scenario.model_dump(mode="json", by_alias=True)
    for key in ("name", "description", "seed", "expect"):
        data.pop(key, None)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def replication_seed(sweep_seed: int, point_key: int, replication: int) -> int:
    """The run seed of one replication: `SeedSequence(sweep_seed)` spawned by (point key, replication)."""
    import numpy as np

    state = np.random.SeedSequence(int(sweep_seed), spawn_key=(int(point_key), int(replication))).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


@dataclass(frozen=True)
class Point:
    """One configuration to simulate: the fields it sets (path → value) and its scenario."""

    index: int
    changes: dict[str, Any]
    scenario: Scenario = field(repr=False, compare=False)
    identity: str = field(repr=False)
    key: int

    def label(self) -> str:
        return ", ".join(f"{_short(path)}={_display(value)}" for path, value in self.changes.items()) or "base"


def _short(path: str) -> str:
    parts = path.split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 else path


def _display(value: Any) -> str:
    if isinstance(value, dict):
        if value.get("dist") == "constant" and "value" in value:
            return _display(value["value"])
        return json.dumps({k: v for k, v in value.items() if v is not None}, separators=(",", ":"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


# ====================================================================================== the study
@dataclass
class Study:
    """A validated spec: the base scenario (with `fixed` applied), targets, points, search space."""

    spec: SweepSpec
    label: str
    base: Scenario
    targets: list[Target]
    figures: dict[str, str]
    points: list[Point]
    search: list[tuple[str, list[Any]]]
    check_figures: list[str]
    vary_values: dict[str, list[Any]]

    @property
    def judge(self) -> str:
        return self.spec.judge_rule

    def target(self, figure: str) -> Target | None:
        return next((t for t in self.targets if t.figure == figure), None)

    def make_point(self, changes: dict[str, Any], index: int) -> Point:
        """Point number `index`: `changes` applied to the base (resolved values, identity, seed key)."""
        scenario = self.base.with_changes(changes)
        data = scenario.model_dump(by_alias=True)
        resolved = {path: get_path(data, path) for path in changes}
        identity = _identity(scenario)
        key = 0 if self.spec.common_random_numbers else zlib.crc32(identity.encode("utf-8"))
        return Point(index, resolved, scenario, identity, key)

    def plot_figure(self, which: str) -> str:
        chosen = getattr(self.spec.report, which)
        if chosen:
            return chosen
        return self.targets[0].figure if self.targets else "latency_s.p99"


def load_study(source: str | Path, *, base_dir: Path | None = None, allow_large: bool | None = None,
               need_plan: bool = False, overrides: dict[str, Any] | None = None) -> Study:
    """Read and validate a spec (YAML path or text) before anything runs.

    `overrides` are extra `fixed` fields (path → value) that win over the spec's, e.g.
    `{"duration": "10s"}` for a quick look (the command line's `--duration`).

    Every fault is collected and raised together as `ScenarioError`, each with the spec file's
    line and field path: unknown keys, a path that names no field, a value of the wrong type for
    its field, a target on a figure the summary does not have, a point too large to simulate.
    """
    path: Path | None = None
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and source.strip().endswith((".yaml", ".yml"))):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ScenarioError([Problem("", f"cannot read spec file: {error.strerror or error}", None, str(path))]) from None
        label = str(path)
        folder = path.parent
    else:
        text, label, folder = str(source), "<spec>", base_dir or Path.cwd()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise ScenarioError([Problem("", f"not valid YAML: {getattr(error, 'problem', None) or error}",
                                     mark.line + 1 if mark is not None else None, label)]) from None
    if not isinstance(data, dict):
        raise ScenarioError([Problem("", "expected a mapping of spec keys (name, base, vary, targets, …)", 1, label)])
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as error:
        problems = _problems(error, label, root)
        raise ScenarioError([Problem(p.field, p.message.replace("the README's scenario keys", "docs/planning.md"),
                                     p.line, p.file) for p in problems]) from None
    return _Validator(spec, label, root, folder, allow_large, need_plan, overrides or {}).study()


class _Validator:
    """Checks a structurally valid spec against its base scenario, collecting every problem."""

    def __init__(self, spec: SweepSpec, label: str, root: yaml.Node | None, folder: Path,
                 allow_large: bool | None, need_plan: bool, overrides: dict[str, Any] | None = None):
        self.spec = spec
        self.overrides = dict(overrides or {})
        self.label = label
        self.root = root
        self.folder = folder
        self.allow_large = spec.allow_large if allow_large is None else allow_large
        self.need_plan = need_plan
        self.problems: list[Problem] = []

    def problem(self, loc: tuple[Any, ...], message: str) -> None:
        self.problems.append(Problem(_format_path(loc), message, _line_of(self.root, loc), self.label))

    def stop_if_any(self) -> None:
        if self.problems:
            raise ScenarioError(self.problems)

    def study(self) -> Study:
        spec = self.spec
        if self.need_plan and spec.plan is None:
            self.problem(("plan",), "`simbp plan` needs a `plan:` section with `search:` (what it may buy, "
                                    "cheapest first); see docs/planning.md")
        base = self._base()
        self.stop_if_any()
        assert base is not None
        base = self._fixed(base)
        self.stop_if_any()
        self._mode()
        figures = self._figures(base)
        targets = self._targets(figures)
        check = self._check_figures(figures, targets)
        for which in ("heatmap", "curve"):
            name = getattr(spec.report, which)
            if name is not None and name not in figures:
                self.problem(("report", which), self._unknown_figure(name, figures))
        vary_values = {p: self._values(base, ("vary", p), v) for p, v in spec.vary.items()}
        for index, entry in enumerate(spec.points):
            for path, value in entry.items():
                self._check_value(base, ("points", index, path), path, value)
        search = []
        if spec.plan is not None:
            for path, values in spec.plan.search.items():
                search.append((path, self._values(base, ("plan", "search", path), values)))
        self._cost(vary_values)
        study = Study(spec=spec, label=self.label, base=base, targets=targets, figures=figures, points=[],
                      search=search, check_figures=check, vary_values=vary_values)
        if not any(p.field.startswith(("vary", "points")) for p in self.problems):
            study.points = self._grid(study, vary_values)
        if not any(p.field.startswith("plan") for p in self.problems):
            self._plan_space(study)
        self.stop_if_any()
        return study

    # ------------------------------------------------------------------ base and fixed fields
    def _base(self) -> Scenario | None:
        base_path = (self.folder / self.spec.base)
        if not base_path.is_file():
            self.problem(("base",), f"no scenario file at {str(base_path)!r} (the path is relative to the spec file)")
            return None
        return load_scenario(base_path)

    def _fixed(self, base: Scenario) -> Scenario:
        for path, value in self.spec.fixed.items():
            self._check_value(base, ("fixed", path), path, value)
        for path, value in self.overrides.items():  # from the command line: no line in the spec
            before = len(self.problems)
            self._check_value(base, ("fixed", path), path, value)
            for index in range(before, len(self.problems)):
                problem = self.problems[index]
                self.problems[index] = Problem(f"--{path.replace('_', '-')}", problem.message, None, "command line")
        if self.problems:
            return base
        try:
            return base.with_changes({**self.spec.fixed, **self.overrides})
        except (ValidationError, KeyError) as error:
            self.problem(("fixed",), f"these fixed values do not make a valid scenario together: {_reason(error)}")
            return base

    def _mode(self) -> None:
        if self.spec.mode is None:
            return
        modes = _modes()
        if not modes:
            self.problem(("mode",), "this simbp runs every message exactly and has no modes; remove `mode`")
        elif self.spec.mode not in modes:
            self.problem(("mode",), f"unknown mode {self.spec.mode!r}; expected one of {', '.join(modes)}")

    # ------------------------------------------------------------------ figures and targets
    def _figures(self, base: Scenario) -> dict[str, str]:
        """Figures a run of this scenario reports, from a 1 ms dry run (names and units only)."""
        import simbp

        from .executors import flatten_summary

        probe = base.with_changes({"duration": min(base.duration, 1e-3), "warmup": 0.0})
        summary = simbp.run(probe, seed=0, allow_large=True).summary
        return {name: figure_kind(name) for name, value in flatten_summary(summary).items() if not isinstance(value, str)}

    def _unknown_figure(self, name: str, figures: dict[str, str]) -> str:
        import difflib

        close = difflib.get_close_matches(name, list(figures), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        top = sorted({f for f in figures if not f.startswith("components.")})
        return (f"no summary figure named {name!r}{hint} Figures: {', '.join(top)}, and per component "
                f"components.<name>.<figure>")

    def _targets(self, figures: dict[str, str]) -> list[Target]:
        targets = []
        for name, spec in self.spec.targets.items():
            if name not in figures:
                self.problem(("targets", name), self._unknown_figure(name, figures))
                continue
            kind = figures[name]
            limits: dict[str, float | None] = {"min": None, "max": None}
            for side in ("min", "max"):
                raw = getattr(spec, side)
                if raw is None:
                    continue
                try:
                    limits[side] = parse_figure_value(raw, kind)
                except ValueError as error:
                    self.problem(("targets", name, side), f"{error} (this figure is a {kind})")
            if limits["min"] is not None and limits["max"] is not None and limits["min"] > limits["max"]:
                self.problem(("targets", name), "min is above max: no value could meet this target")
            targets.append(Target(name, kind, limits["min"], limits["max"]))
        return targets

    def _check_figures(self, figures: dict[str, str], targets: list[Target]) -> list[str]:
        chosen = self.spec.replications.figures
        if chosen is None:
            return [t.figure for t in targets] or ["loss_ratio", "latency_s.p99"]
        for index, name in enumerate(chosen):
            if name not in figures:
                self.problem(("replications", "figures", index), self._unknown_figure(name, figures))
        return list(chosen)

    # ------------------------------------------------------------------ values
    def _values(self, base: Scenario, loc: tuple[Any, ...], values: Any) -> list[Any]:
        path = loc[-1]
        if isinstance(values, ValueRange):
            listed = values.values()
            if self._check_path(base, loc, path):
                for value in (listed[0], listed[-1]):
                    self._check_value(base, loc, path, value)
            return listed
        if not self._check_path(base, loc, path):
            return list(values)
        for index, value in enumerate(values):
            self._check_value(base, loc + (index,), path, value, path_checked=True)
        return list(values)

    def _check_path(self, base: Scenario, loc: tuple[Any, ...], path: str) -> bool:
        try:
            get_path(base.model_dump(by_alias=True), path)
        except KeyError as error:
            self.problem(loc, f"{error.args[0]} in the base scenario {base.name!r}")
            return False
        return True

    def _check_value(self, base: Scenario, loc: tuple[Any, ...], path: str, value: Any, path_checked: bool = False) -> None:
        if not path_checked and not self._check_path(base, loc, path):
            return
        try:
            base.with_changes({path: value})
        except KeyError as error:
            self.problem(loc, str(error.args[0]))
        except ValidationError as error:
            self.problem(loc, f"{value!r} is not valid for {path}: {_reason(error)}")

    def _cost(self, vary_values: dict[str, list[Any]]) -> None:
        for index, path in enumerate(self.spec.cost or []):
            listed = set(vary_values) | {p for entry in self.spec.points for p in entry}
            if path not in listed:
                self.problem(("cost", index), f"{path!r} is not varied (vary: {', '.join(vary_values) or 'nothing'})")

    # ------------------------------------------------------------------ points
    def _grid(self, study: Study, vary_values: dict[str, list[Any]]) -> list[Point]:
        entries = self.spec.points or [{}]
        names = list(vary_values)
        points: list[Point] = []
        seen: set[str] = set()
        for entry_index, entry in enumerate(entries):
            for combination in itertools.product(*(vary_values[n] for n in names)):
                changes = dict(zip(names, combination))
                changes.update(entry)
                try:
                    point = study.make_point(changes, index=len(points))
                except (ValidationError, KeyError) as error:
                    loc: tuple[Any, ...] = ("points", entry_index) if self.spec.points else ("vary",)
                    self.problem(loc, f"the combination {_describe(changes)} is not a valid scenario: {_reason(error)}")
                    if len(self.problems) > 10:
                        return points
                    continue
                if point.identity in seen:
                    continue
                seen.add(point.identity)
                if not self.allow_large:
                    self._size(point)
                points.append(point)
        return points

    def _size(self, point: Point) -> None:
        """Refuse a point too large to simulate (in the mode it would run in) before anything runs."""
        import inspect

        from ..errors import ScenarioTooLarge
        from ..limits import check_size

        if any(p.field in ("base", "mode") for p in self.problems):
            return  # one size problem says it; an unknown mode is reported already
        options: dict[str, Any] = {}
        if "mode" in inspect.signature(check_size).parameters:
            from ..limits import choose_mode

            try:
                options["mode"] = choose_mode(point.scenario, self.spec.mode or "auto")[0]
            except ScenarioError as error:  # fast mode asked for a mechanism it cannot model
                self.problem(("mode",), f"at point {point.label()}: {error.problems[0].message}")
                return
        try:
            check_size(point.scenario, **options)
        except ScenarioTooLarge as error:
            self.problem(("base",), f"at point {point.label()}, each replication: {error.problems[0].message} "
                                    f"In a spec: shorten the duration with `fixed: {{duration: ...}}` (or --duration), "
                                    f"or set `allow_large: true` (--allow-large).")

    def _plan_space(self, study: Study) -> None:
        plan = self.spec.plan
        if plan is None:
            return
        load = plan.load_multiplier or study.base.load_multiplier
        combinations = math.prod(len(values) for _, values in study.search)
        if combinations > 2000:
            return  # each value was checked on its own; combinations are checked as the search meets them
        names = [p for p, _ in study.search]
        for combination in itertools.product(*(values for _, values in study.search)):
            changes = dict(zip(names, combination), load_multiplier=load)
            try:
                study.base.with_changes(changes)
            except (ValidationError, KeyError) as error:
                self.problem(("plan", "search"), f"the combination {_describe(changes)} is not a valid scenario: {_reason(error)}")
                return


def _modes() -> tuple[str, ...]:
    """The engine modes `simbp.run` accepts (none when it has no `mode` parameter)."""
    import inspect

    import simbp

    if "mode" not in inspect.signature(simbp.run).parameters:
        return ()
    from .. import limits

    return tuple(getattr(limits, "MODES", ("auto", "exact", "fast")))


def _describe(changes: dict[str, Any]) -> str:
    return ", ".join(f"{path}={value!r}" for path, value in changes.items())


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        problems = _problems(error, "", None)
        return "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in problems)
    if isinstance(error, KeyError):
        return str(error.args[0])
    return str(error)


# ====================================================================================== evaluation
FALLING_BEHIND = "falling_behind"  # the implicit target every point must meet: the backlog is not growing


@dataclass
class PointResult:
    """A point's replications, the estimate of each figure and pass/fail per target."""

    point: Point
    rows: list[dict[str, Any]]
    estimates: dict[str, Estimate]
    verdicts: dict[str, bool]

    @property
    def replications(self) -> int:
        return len(self.rows)

    @property
    def passed(self) -> bool:
        return all(self.verdicts.values())

    def failing(self) -> list[str]:
        return [figure for figure, ok in self.verdicts.items() if not ok]


class _Progress:
    """A tqdm bar of replications done (total grows as rounds add replications) and points finished."""

    def __init__(self, enabled: bool | None, description: str):
        if enabled is None:
            enabled = _stderr_is_terminal()
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=0, unit="run", desc=description, file=sys.stderr, dynamic_ncols=True, leave=False)
        self.points_done = 0
        self.points_total = 0

    def add(self, replications: int, points: int = 0) -> None:
        self.points_total += points
        if self.bar is not None:
            self.bar.total += replications
            self.bar.refresh()

    def done(self, replications: int = 0, points: int = 0) -> None:
        self.points_done += points
        if self.bar is not None:
            if points:
                self.bar.set_postfix_str(f"points {self.points_done}/{self.points_total}", refresh=False)
            self.bar.update(replications)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Evaluator:
    """Runs points to the replication rule, each point once (results cached by configuration)."""

    def __init__(self, study: Study, executor: "Executor", progress: _Progress):
        self.study = study
        self.executor = executor
        self.progress = progress
        self.cache: dict[str, PointResult] = {}
        self.order: list[PointResult] = []

    def evaluate(self, points: list[Point]) -> list[PointResult]:
        from .executors import Replication, run_replication

        spec = self.study.spec
        todo: dict[int, Point] = {}
        seen: set[str] = set()
        for point in points:
            if point.identity not in self.cache and point.identity not in seen:
                seen.add(point.identity)
                todo[point.index] = point
        rows: dict[int, list[dict[str, Any]]] = {index: [] for index in todo}
        data = {index: point.scenario.model_dump(by_alias=True) for index, point in todo.items()}
        base_dir = str(self.study.base.base_dir)

        def tasks(point: Point, start: int, count: int) -> list[Replication]:
            return [Replication(point.index, r, replication_seed(spec.seed, point.key, r), data[point.index], base_dir,
                                spec.mode, True) for r in range(start, start + count)]

        batch = [task for point in todo.values() for task in tasks(point, 0, spec.replications.min)]
        self.progress.add(len(batch), len(todo))
        open_points = dict(todo)
        while batch:
            for row in self.executor.map(run_replication, batch):
                rows[row["point"]].append(row)
                self.progress.done(1)
            batch = []
            for index, point in list(open_points.items()):
                point_rows = sorted(rows[index], key=lambda r: r["replication"])
                if self._settled(point_rows):
                    del open_points[index]
                    self.progress.done(points=1)
                    continue
                more = min(spec.replications.step, spec.replications.most - len(point_rows))
                batch += tasks(point, len(point_rows), more)
            self.progress.add(len(batch))
        for index, point in todo.items():
            result = self._result(point, sorted(rows[index], key=lambda r: r["replication"]))
            self.cache[point.identity] = result
            self.order.append(result)
        return [self.cache[point.identity] for point in points]

    def _settled(self, rows: list[dict[str, Any]]) -> bool:
        rule = self.study.spec.replications
        n = len(rows)
        if n < rule.min:
            return False
        if n >= rule.most:
            return True
        for figure in self.study.check_figures:
            value = estimate(row.get(figure, math.nan) for row in rows)
            tight = rule.target_relative_half_width is not None and value.relative_half_width() <= rule.target_relative_half_width
            target = self.study.target(figure)
            decided = rule.stop_when_decided and target is not None and target.decided(value)
            if not (tight or decided):
                return False
        return True

    def _result(self, point: Point, rows: list[dict[str, Any]]) -> PointResult:
        study = self.study
        names = list(dict.fromkeys([*HEADLINE_FIGURES, *(t.figure for t in study.targets), *study.check_figures,
                                    study.plot_figure("heatmap"), study.plot_figure("curve")]))
        estimates = {name: estimate(row.get(name, math.nan) for row in rows) for name in names if name in study.figures}
        verdicts = {t.figure: t.passes(estimates[t.figure], study.judge) for t in study.targets}
        # A backlog that is still growing at the end of the run meets no target for long, whatever
        # the figures of a short run say: such a point fails (more time would only make it worse).
        behind = sum(1 for row in rows if row.get("verdict") == "falling_behind")
        if behind * 2 > len(rows):
            verdicts[FALLING_BEHIND] = False
        return PointResult(point, rows, estimates, verdicts)


def _tables(results: list[PointResult], study: Study, extra: dict[int, dict[str, Any]] | None = None) -> tuple["pd.DataFrame", "pd.DataFrame"]:
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
            entry.update({k: v for k, v in row.items() if k not in ("point", "replication")})
            rows.append(entry)
    table = _parquet_safe(pd.DataFrame(rows))
    point_rows = []
    for result in ordered:
        entry = {"point": result.point.index}
        entry.update((extra or {}).get(result.point.index, {}))
        entry.update({path: result.point.changes.get(path) for path in params})
        entry["replications"] = result.replications
        for name, value in result.estimates.items():
            entry[f"{name}.mean"] = value.mean
            entry[f"{name}.low"] = value.low
            entry[f"{name}.high"] = value.high
        for figure, ok in result.verdicts.items():
            entry[f"pass.{figure}"] = ok
        entry["passed"] = result.passed
        point_rows.append(entry)
    return table, _parquet_safe(pd.DataFrame(point_rows))


def _parquet_safe(frame: "pd.DataFrame") -> "pd.DataFrame":
    """Columns holding mixed types (numbers and words) become text, so Parquet can store them."""
    for column in frame.columns:
        if frame[column].dtype == object:
            kinds = {type(v) for v in frame[column].dropna()}
            if len(kinds) > 1 or kinds & {dict, list}:
                frame[column] = frame[column].map(lambda v: v if v is None else _display(v))
    return frame


def _point_summary(result: PointResult, study: Study) -> dict[str, Any]:
    return {
        "point": result.point.index,
        "changes": result.point.changes,
        "replications": result.replications,
        "figures": {name: value.as_dict() for name, value in result.estimates.items()},
        "pass": result.verdicts,
        "passed": result.passed,
    }


def _spec_summary(study: Study) -> dict[str, Any]:
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
    }


def _jsonable(value: Any) -> Any:
    from ..results import _jsonable as results_jsonable

    return results_jsonable(value)


def _with_executor(run: Callable[["Executor"], Any], executor: "Executor | None", jobs: int | None, dask: str | None) -> Any:
    from .executors import make_executor

    if executor is not None:
        return run(executor)
    owned = make_executor(jobs, dask)
    try:
        return run(owned)
    finally:
        owned.close()


def _as_study(spec: "Study | str | Path", allow_large: bool | None, need_plan: bool = False) -> Study:
    if isinstance(spec, Study):
        return spec
    return load_study(spec, allow_large=allow_large, need_plan=need_plan)


# ====================================================================================== sweep
@dataclass
class SweepResult:
    """A sweep: every point's replications (`table`), per-point estimates (`points`), the summary."""

    study: Study
    results: list[PointResult]
    table: "pd.DataFrame"
    points: "pd.DataFrame"
    summary: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(_jsonable(self.summary), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def sweep(spec: "Study | str | Path", executor: "Executor | None" = None, *, jobs: int | None = None,
          dask: str | None = None, progress: bool | None = None, allow_large: bool | None = None) -> SweepResult:
    """Run every point of a spec's grid to its replication rule and judge the targets.

    `executor` (see `simbp.planning.executors`) or `jobs`/`dask` choose where runs happen; the results are
    the same whichever is used. `progress` shows a bar (default: when stderr is a terminal).
    """
    study = _as_study(spec, allow_large)
    bar = _Progress(progress, f"sweep {study.spec.name}")
    try:
        results = _with_executor(lambda ex: _Evaluator(study, ex, bar).evaluate(study.points), executor, jobs, dask)
    finally:
        bar.close()
    table, points = _tables(results, study)
    summary = _spec_summary(study)
    summary["kind"] = "sweep"
    summary["vary"] = {path: values for path, values in _resolved_vary(study).items()}
    summary["points"] = [_point_summary(r, study) for r in results]
    summary["replications_run"] = int(sum(r.replications for r in results))
    summary["modes"] = _modes_run(table)
    summary["recommendations"] = _recommendations(study, results)
    return SweepResult(study, results, table, points, summary)


def _modes_run(table: "pd.DataFrame") -> dict[str, int]:
    """How many replications ran in each engine mode (mixed modes make points less comparable)."""
    if "mode" not in table.columns:
        return {}
    return {str(mode): int(count) for mode, count in sorted(table["mode"].value_counts().items())}


def _resolved_vary(study: Study) -> dict[str, list[Any]]:
    values: dict[str, list[Any]] = {}
    for point in study.points:
        for path, value in point.changes.items():
            values.setdefault(path, [])
            if value not in values[path]:
                values[path].append(value)
    return values


def _recommendations(study: Study, results: list[PointResult]) -> list[dict[str, Any]]:
    """The cheapest passing point (by the `cost` order: fewest of the first, then …), per load."""
    varied = list(_resolved_vary(study))
    cost = study.spec.cost or [p for p in varied if p != "load_multiplier"]
    by_load: dict[Any, list[PointResult]] = {}
    for result in results:
        by_load.setdefault(result.point.changes.get("load_multiplier"), []).append(result)
    order = _resolved_vary(study)
    recommendations = []
    for load, group in by_load.items():
        passing = [r for r in group if r.passed]
        entry: dict[str, Any] = {"load_multiplier": load if load is not None else study.base.load_multiplier}
        if not study.targets:
            entry.update(recommendation=None, reason="no targets given")
        elif not passing:
            entry.update(recommendation=None, reason="no point in the sweep meets every target at this load")
        else:
            best = min(passing, key=lambda r: (tuple(_rank(order.get(p, []), r.point.changes.get(p)) for p in cost), r.point.index))
            changes = {p: v for p, v in best.point.changes.items() if p != "load_multiplier" or load is None}
            entry.update(recommendation=changes, point=best.point.index,
                         figures={t.figure: best.estimates[t.figure].as_dict() for t in study.targets})
        recommendations.append(entry)
    return recommendations


def _rank(values: list[Any], value: Any) -> Any:
    if all(isinstance(v, (int, float)) for v in values) and isinstance(value, (int, float)):
        return value
    return values.index(value) if value in values else len(values)


# ====================================================================================== theory
@dataclass
class TheoryPrediction:
    """What queueing theory says about a one-stage scenario: the model, its inputs and figures."""

    model: str
    exact: bool
    notes: list[str]
    arrival_rate: float
    service_rate: float
    workers: int
    system_capacity: int | None
    figures: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "exact": self.exact, "notes": self.notes, "arrival_rate_per_s": self.arrival_rate,
                "service_rate_per_s": self.service_rate, "workers": self.workers,
                "system_capacity": self.system_capacity, "figures": self.figures}


def theory_prediction(scenario: Scenario) -> TheoryPrediction | str:
    """Erlang C (M/M/c) or M/M/c/K figures for a one-buffer, one-consumer-group scenario.

    Returns a sentence saying why theory does not apply when the scenario has several stages,
    batches or trace arrivals. Non-Poisson arrivals or non-exponential service are treated by
    their means and flagged as approximate.
    """
    from .. import theory
    from ..scenario.schema import PoissonArrivals, TraceArrivals, _Exponential

    beyond = _beyond_core(scenario)
    if beyond:
        return f"theory here covers producers, one buffer and one consumer group; it does not model {', '.join(beyond)}"
    if len(scenario.consumers) != 1 or len(scenario.buffers) != 1:
        return "theory covers one buffer drained by one consumer group; this scenario is a pipeline"
    group = scenario.consumers[0]
    buffer = scenario.buffers[0]
    if group.batch is not None or group.to is not None:
        return "theory does not model batching consumers or forwarding"
    if any(isinstance(p.arrivals, TraceArrivals) for p in scenario.producers):
        return "theory needs an arrival rate; trace arrivals have none up front"
    notes: list[str] = []
    exact = True
    rate = sum(p.mean_rate(scenario.duration) for p in scenario.producers) * scenario.load_multiplier
    if not all(isinstance(p.arrivals, PoissonArrivals) for p in scenario.producers):
        exact = False
        notes.append("arrivals are not Poisson: treated as Poisson at their mean rate")
    if any(p.start > 0 or p.stop is not None for p in scenario.producers):
        exact = False
        notes.append("producers start late or stop early: the rate is the full-run mean")
    mean_service = group.mean_service()
    if mean_service <= 0:
        return "theory needs a positive mean service time"
    if not isinstance(group.service, _Exponential):
        exact = False
        notes.append("service is not exponential: treated as exponential with the same mean")
    service_rate = 1.0 / mean_service
    workers = group.workers
    capacity = None if buffer.policy == "unbounded" else int(buffer.capacity or 0) + workers
    if buffer.policy == "block":
        exact = False
        notes.append("block slows producers instead of losing messages: the loss figure is the share of arrivals "
                     "that would find the buffer full")
    if buffer.policy == "drop_oldest":
        notes.append("drop_oldest loses a waiting message instead of the arrival: latency percentiles are approximate")
    if scenario.memory is not None:
        notes.append("the memory limit (crashes) is not modelled")
    figures: dict[str, float] = {}
    if capacity is None:
        figures["loss_ratio"] = 0.0
        figures["latency_s.mean"] = theory.mmc_mean_sojourn(rate, service_rate, workers)
        model = "M/M/c (Erlang C)"
    else:
        figures["loss_ratio"] = theory.mmck_blocking(rate, service_rate, workers, capacity)
        figures["latency_s.mean"] = theory.mmck_mean_sojourn(rate, service_rate, workers, capacity)
        model = "M/M/c/K"
        notes.append(f"K = capacity {buffer.capacity} + {workers} workers = {capacity}; latency percentiles from "
                     f"M/M/c (close when little is lost)")
    for quantile, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        figures[f"latency_s.{name}"] = theory.mmc_sojourn_quantile(rate, service_rate, workers, quantile)
    accepted = rate * (1.0 - figures["loss_ratio"])
    figures["throughput_per_s"] = min(accepted, workers * service_rate)
    figures[f"components.{group.name}.utilisation"] = min(1.0, accepted / (workers * service_rate))
    for name in ("mean", "p50", "p95", "p99"):
        figures[f"components.{group.name}.latency_s.{name}"] = figures[f"latency_s.{name}"]
    if capacity is None and rate >= workers * service_rate:
        notes.append("unstable: arrivals reach or exceed what the workers can serve, so the backlog grows without end")
    return TheoryPrediction(model, exact, notes, rate, service_rate, workers, capacity, figures)


_CORE_FIELDS = {
    "Scenario": {"name", "description", "duration", "seed", "sample_interval", "warmup", "load_multiplier", "memory",
                 "producers", "buffers", "consumers", "expect"},
    "ProducerSpec": {"name", "to", "arrivals", "size", "start", "stop"},
    "BufferSpec": {"name", "capacity", "policy", "block_timeout"},
    "ConsumerSpec": {"name", "from_", "workers", "service", "to", "batch"},
}


def _beyond_core(scenario: Scenario) -> list[str]:
    """Fields set away from their defaults that the queueing formulas know nothing about
    (Kafka topics, retries, autoscaling, …): with any of them, theory is not offered."""
    found: list[str] = []

    def check(model: Any, where: str) -> None:
        core = _CORE_FIELDS.get(type(model).__name__)
        if core is None:
            return
        for name, info in type(model).model_fields.items():
            if name in core:
                continue
            value = getattr(model, name)
            if value != info.get_default(call_default_factory=True):
                found.append(f"{where}{info.alias or name}")

    check(scenario, "")
    for group in ("producers", "buffers", "consumers"):
        for item in getattr(scenario, group):
            check(item, f"{group}.{item.name}.")
    return found


@dataclass
class TheoryAnswer:
    """The cheapest configuration in the search space that theory says meets the targets it can judge."""

    changes: dict[str, Any] | None
    prediction: TheoryPrediction | None
    judged: list[str]
    not_judged: list[str]
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"answer": self.changes, "prediction": self.prediction.as_dict() if self.prediction else None,
                "targets_judged": self.judged, "targets_not_judged": self.not_judged, "reason": self.reason}


def _theory_answer(study: Study, load: float, limit: int = 20_000) -> TheoryAnswer:
    names = [path for path, _ in study.search]
    first = study.base.with_changes({"load_multiplier": load})
    probe = theory_prediction(first)
    if isinstance(probe, str):
        return TheoryAnswer(None, None, [], [t.figure for t in study.targets], probe)
    judged = [t.figure for t in study.targets if t.figure in probe.figures]
    not_judged = [t.figure for t in study.targets if t.figure not in probe.figures]
    if not judged:
        return TheoryAnswer(None, None, [], not_judged, "theory predicts none of the targeted figures")
    for count, combination in enumerate(itertools.product(*(values for _, values in study.search))):
        if count >= limit:
            break
        changes = dict(zip(names, combination))
        try:
            scenario = study.base.with_changes({**changes, "load_multiplier": load})
        except (ValidationError, KeyError):
            continue
        prediction = theory_prediction(scenario)
        if isinstance(prediction, str):
            return TheoryAnswer(None, None, [], not_judged + judged, prediction)
        if all(t.value_passes(prediction.figures[t.figure]) for t in study.targets if t.figure in judged):
            resolved = {path: get_path(scenario.model_dump(by_alias=True), path) for path in names}
            return TheoryAnswer(resolved, prediction, judged, not_judged)
    return TheoryAnswer(None, None, judged, not_judged, "no configuration in the search space meets the targets in theory")


# ====================================================================================== plan
@dataclass
class Margin:
    """How far the load on the chosen configuration can rise before a target fails."""

    planning_load: float
    max_load: float
    first_failing_load: float | None
    failing_targets: list[str]
    up_to: float
    curve: list[tuple[float, PointResult]]

    @property
    def headroom(self) -> float:
        return self.max_load / self.planning_load

    def as_dict(self) -> dict[str, Any]:
        return {"planning_load_multiplier": self.planning_load, "max_load_multiplier": self.max_load,
                "headroom": self.headroom, "first_failing_load_multiplier": self.first_failing_load,
                "failing_targets": self.failing_targets, "searched_up_to": self.up_to,
                "curve": [{"load_multiplier": load, "point": r.point.index, "passed": r.passed} for load, r in self.curve]}


@dataclass
class PlanResult:
    """A plan: the cheapest configuration found, the cheaper ones that failed, theory, margin."""

    study: Study
    load: float
    recommendation: PointResult | None
    cheaper_failed: list[PointResult]
    theory: TheoryAnswer
    theory_at_recommendation: TheoryPrediction | str | None
    margin: Margin | None
    evaluated: list[PointResult]
    table: "pd.DataFrame"
    points: "pd.DataFrame"
    summary: dict[str, Any]
    phases: dict[int, str] = field(default_factory=dict)

    def phase(self, result: PointResult) -> str:
        """Why a configuration was simulated: "search" (finding the cheapest) or "margin"."""
        return self.phases.get(result.point.index, "search")

    def to_json(self) -> str:
        return json.dumps(_jsonable(self.summary), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


class _Planner:
    """Lexicographic search: the fewest of the first search field, then the least of the next, …"""

    def __init__(self, study: Study, evaluator: _Evaluator, load: float):
        self.study = study
        self.evaluator = evaluator
        self.load = load
        self.phase: dict[int, str] = {}

    def evaluate(self, changes: dict[str, Any], phase: str) -> PointResult:
        changes = {**changes, "load_multiplier": changes.get("load_multiplier", self.load)}
        point = self.study.make_point(changes, index=len(self.evaluator.order))
        result = self.evaluator.evaluate([point])[0]
        self.phase.setdefault(result.point.index, phase)
        return result

    def cheapest_completion(self, prefix: dict[str, Any], depth: int) -> PointResult | None:
        """The first passing configuration that starts with `prefix`, scanning later fields in order."""
        search = self.study.search
        if depth == len(search):
            result = self.evaluate(prefix, "search")
            return result if result.passed else None
        path, values = search[depth]
        for value in values:
            found = self.cheapest_completion({**prefix, path: value}, depth + 1)
            if found is not None:
                return found
        return None

    def search(self, start: int) -> tuple[PointResult | None, list[PointResult]]:
        """Smallest feasible index of the first field (assumed monotone: more never hurts), by
        galloping from `start` (the theory answer) and bisecting; returns it and the failed cheaper value."""
        path, values = self.study.search[0]
        known: dict[int, PointResult | None] = {}

        def feasible(index: int) -> bool:
            if index not in known:
                known[index] = self.cheapest_completion({path: values[index]}, 1)
            return known[index] is not None

        last = len(values) - 1
        start = min(max(start, 0), last)
        if feasible(start):
            high, step = start, 1
            low = -1
            while high > 0:
                probe = max(high - step, 0)
                if feasible(probe):
                    high, step = probe, step * 2
                else:
                    low = probe
                    break
        else:
            low, step = start, 1
            high = None
            while high is None:
                probe = min(low + step, last)
                if feasible(probe):
                    high = probe
                elif probe == last:
                    return None, []
                else:
                    low, step = probe, step * 2
        while high - low > 1:
            middle = (low + high) // 2
            if feasible(middle):
                high = middle
            else:
                low = middle
        cheaper = [] if low < 0 else self._failed_with(path, values[low])
        return known[high], cheaper

    def _failed_with(self, path: str, value: Any) -> list[PointResult]:
        resolved = get_path(self.study.base.with_changes({path: value}).model_dump(by_alias=True), path)
        return [r for r in self.evaluator.order if r.point.changes.get(path) == resolved and not r.passed
                and self.phase.get(r.point.index) == "search"]

    def margin(self, chosen: PointResult) -> Margin:
        spec = self.study.spec.plan
        assert spec is not None
        up_to = spec.margin.up_to or 4.0 * self.load
        changes = {p: v for p, v in chosen.point.changes.items() if p != "load_multiplier"}
        curve: list[tuple[float, PointResult]] = [(self.load, chosen)]
        low, high = self.load, None
        high_result: PointResult | None = None
        load = min(up_to, low * 2)
        while high is None and load > low:
            result = self.evaluate({**changes, "load_multiplier": load}, "margin")
            curve.append((load, result))
            if result.passed:
                low = load
                load = min(up_to, load * 2)
            else:
                high, high_result = load, result
        while high is not None and (high - low) / low > spec.margin.tolerance:
            middle = float(f"{(low + high) / 2:.4g}")
            if not low < middle < high:
                break
            result = self.evaluate({**changes, "load_multiplier": middle}, "margin")
            curve.append((middle, result))
            if result.passed:
                low = middle
            else:
                high, high_result = middle, result
        curve.sort(key=lambda item: item[0])
        failing = high_result.failing() if high_result is not None else []
        return Margin(self.load, low, high, failing, up_to, curve)


def plan(spec: "Study | str | Path", executor: "Executor | None" = None, *, jobs: int | None = None,
         dask: str | None = None, progress: bool | None = None, allow_large: bool | None = None) -> PlanResult:
    """Find the cheapest configuration meeting every target at the planning load, then its margin.

    Theory (Erlang C, M/M/c/K) proposes a starting point; simulation decides. The first search
    field is assumed monotone (more of it never hurts), so the search gallops from the theory
    answer and bisects; later fields are scanned in the order given, cheapest first.
    """
    study = _as_study(spec, allow_large, need_plan=True)
    assert study.spec.plan is not None
    load = study.spec.plan.load_multiplier or study.base.load_multiplier
    answer = _theory_answer(study, load)
    path, values = study.search[0]
    start = 0
    if answer.changes is not None and path in answer.changes:
        start = _index_at_least(values, answer.changes[path], study.base, path)
    bar = _Progress(progress, f"plan {study.spec.name}")

    def run(executor: "Executor") -> tuple[_Planner, PointResult | None, list[PointResult], Margin | None]:
        planner = _Planner(study, _Evaluator(study, executor, bar), load)
        chosen, cheaper = planner.search(start)
        margin = None
        if chosen is not None and study.spec.plan is not None and study.spec.plan.margin.enabled:
            margin = planner.margin(chosen)
        return planner, chosen, cheaper, margin

    try:
        planner, chosen, cheaper, margin = _with_executor(run, executor, jobs, dask)
    finally:
        bar.close()
    evaluated = planner.evaluator.order
    extra = {r.point.index: {"phase": planner.phase.get(r.point.index, "search")} for r in evaluated}
    table, points = _tables(evaluated, study, extra)
    at_choice = theory_prediction(chosen.point.scenario) if chosen is not None else None
    summary = _spec_summary(study)
    summary["kind"] = "plan"
    summary["planning_load_multiplier"] = load
    summary["search"] = {p: v for p, v in study.search}
    summary["recommendation"] = None if chosen is None else {
        "changes": {p: v for p, v in chosen.point.changes.items() if p != "load_multiplier"},
        "point": chosen.point.index, "replications": chosen.replications,
        "figures": {name: value.as_dict() for name, value in chosen.estimates.items()},
        "pass": chosen.verdicts,
    }
    summary["reason"] = None if chosen is not None else "no configuration in the search space meets every target"
    summary["cheaper_failed"] = [{"changes": r.point.changes, "point": r.point.index, "failing": r.failing()} for r in cheaper]
    summary["theory"] = answer.as_dict()
    summary["theory_at_recommendation"] = at_choice.as_dict() if isinstance(at_choice, TheoryPrediction) else at_choice
    summary["agreement"] = _agreement(answer, chosen, path)
    summary["margin"] = margin.as_dict() if margin is not None else None
    summary["points"] = [dict(_point_summary(r, study), phase=extra[r.point.index]["phase"]) for r in evaluated]
    summary["replications_run"] = int(sum(r.replications for r in evaluated))
    summary["modes"] = _modes_run(table)
    phases = {index: entry["phase"] for index, entry in extra.items()}
    return PlanResult(study, load, chosen, cheaper, answer, at_choice, margin, evaluated, table, points, summary, phases)


def _index_at_least(values: list[Any], target: Any, base: Scenario, path: str) -> int:
    try:
        for index, value in enumerate(values):
            resolved = get_path(base.with_changes({path: value}).model_dump(by_alias=True), path)
            if resolved >= target:
                return index
    except TypeError:
        return 0
    return len(values) - 1


def _agreement(answer: TheoryAnswer, chosen: PointResult | None, path: str) -> str:
    if answer.changes is None:
        return f"no theory answer ({answer.reason})"
    if chosen is None:
        return "theory found a configuration but simulation confirmed none"
    theory_value = answer.changes.get(path)
    simulated = chosen.point.changes.get(path)
    if theory_value == simulated:
        return f"theory and simulation agree on {path} = {_display(simulated)}"
    try:
        difference = float(simulated) - float(theory_value)
    except (TypeError, ValueError):
        return f"theory says {path} = {theory_value}, simulation {simulated}"
    side = "more" if difference > 0 else "less"
    return (f"simulation needs {_display(abs(difference))} {side} {path} than theory ({_display(simulated)} against "
            f"{_display(theory_value)}): the scenario departs from the model's assumptions, or targets are judged on "
            f"the interval's bound")
