"""A spec validated against its base scenario (`load_study`): targets, points, search space.

`load_study` checks everything before anything runs and reports each fault with the spec file's
line and field path, as scenario errors are. Seeds: replication r of a point gets its seed from
`SeedSequence(sweep seed, spawn_key=(point key, r))`, where the point key is a hash of the point's
whole scenario, so numbers depend only on the sweep seed, the configuration and the replication
index, never on the executor or the path a search took.
"""

from __future__ import annotations

import itertools
import json
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..budget import BudgetExceeded, Budgets
from ..errors import Problem, ScenarioError
from ..scenario import Scenario, get_path, load_scenario
from ..scenario.loading import format_path as _format_path
from ..scenario.loading import line_of as _line_of
from ..scenario.loading import problems_from_validation as _problems
from ..scenario.yamldoc import load_yaml, looks_like_path, read_document
from .figures import display, figure_kind, parse_figure_value, short_path
from .judging import Target
from .spec import SweepSpec, ValueRange
from .steady import SteadyState, changing_load

__all__ = ["Point", "Study", "load_study", "replication_seed"]

# ====================================================================================== seeds, points
def _identity(scenario: Scenario) -> str:
    data = scenario.model_dump(mode="json", by_alias=True)
    for key in ("name", "description", "seed", "expect"):
        data.pop(key, None)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def replication_seed(sweep_seed: int, point_key: int, replication: int, attempt: int = 0) -> int:
    """The run seed of one replication: `SeedSequence(sweep_seed)` spawned by (point key, replication),
    and by the attempt too when runs were lengthened (fresh numbers: the runs that showed the first
    ones too short must not also be the ones measured)."""
    import numpy as np

    key = (int(point_key), int(replication)) if attempt == 0 else (int(point_key), int(replication), int(attempt))
    state = np.random.SeedSequence(int(sweep_seed), spawn_key=key).generate_state(2, np.uint32)
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
        return ", ".join(f"{short_path(path)}={display(value)}" for path, value in self.changes.items()) or "base"

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
    steady: SteadyState = field(default_factory=SteadyState)
    notes: list[str] = field(default_factory=list)
    budgets: Budgets = field(default_factory=Budgets)  # runtime budgets of each replication (simbp.budget)
    allow_large: bool = False  # points over the message limit may run (budgets still apply)

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

    @property
    def prices(self) -> dict[str, float] | None:
        """The price per unit of each costed field (`cost:` as a mapping), or None (cost by order)."""
        return dict(self.spec.cost) if isinstance(self.spec.cost, dict) else None

    def cost_of(self, changes: dict[str, Any]) -> float | None:
        """The configuration's cost under the spec's prices (fields not changed take the base's value)."""
        prices = self.prices
        if prices is None:
            return None
        data = self.base.model_dump(by_alias=True)
        total = 0.0
        for path, price in prices.items():
            value = changes.get(path, get_path(data, path))
            total += price * float(value)
        return total

    def plot_figure(self, which: str) -> str:
        chosen = getattr(self.spec.report, which)
        if chosen:
            return chosen
        return self.targets[0].figure if self.targets else "latency_s.p99"


def load_study(source: str | Path, *, base_dir: Path | None = None, allow_large: bool | None = None,
               need_plan: bool = False, overrides: dict[str, Any] | None = None, lengthen: bool = True,
               budgets: Budgets | None = None) -> Study:
    """Read and validate a spec (YAML path or text) before anything runs.

    `lengthen=False` (the command line's `--no-lengthen`) never lengthens runs: a quick look, where points
    whose runs are too short say so (and how long they should be) instead of passing. `overrides` are extra
    `fixed` fields (path → value) that win over the spec's, e.g. `{"duration": "10s"}` for a quick look (the
    command line's `--duration`). `budgets` bound the spec document, the grid and each replication
    (`simbp.budget`; `allow_large` does not lift them).

    Every fault is collected and raised together as `ScenarioError`, each with the spec file's
    line and field path: unknown keys, a path that names no field, a value of the wrong type for
    its field, a target on a figure the summary does not have, a point too large to simulate.
    """
    budgets = budgets or Budgets()
    if looks_like_path(source):
        path = Path(source)
        text = read_document(path, budgets, what="spec")
        label, folder = str(path), path.parent
    else:
        text, label, folder = str(source), "<spec>", base_dir or Path.cwd()
    data, root = load_yaml(text, label, budgets)  # the scenarios' reader: YAML 1.2, duplicate keys, bounded
    if not isinstance(data, dict):
        raise ScenarioError([Problem("", "expected a mapping of spec keys (name, base, vary, targets, …)", 1, label)])
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as error:
        problems = _problems(error, label, root)
        raise ScenarioError([Problem(p.field, p.message.replace("the README's scenario keys", "docs/planning.md"),
                                     p.line, p.file) for p in problems]) from None
    if not lengthen:
        spec = spec.model_copy(update={"steady_state": spec.steady_state.model_copy(update={"longest": 1.0})})
    return _Validator(spec, label, root, folder, allow_large, need_plan, overrides or {}, budgets).study()


class _Validator:
    """Checks a structurally valid spec against its base scenario, collecting every problem."""

    def __init__(self, spec: SweepSpec, label: str, root: yaml.Node | None, folder: Path,
                 allow_large: bool | None, need_plan: bool, overrides: dict[str, Any] | None = None,
                 budgets: Budgets | None = None):
        self.spec = spec
        self.budgets = budgets or Budgets()
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
        self._cost(vary_values, search)
        steady, notes = self._steady(base, targets)
        study = Study(spec=spec, label=self.label, base=base, targets=targets, figures=figures, points=[],
                      search=search, check_figures=check, vary_values=vary_values, steady=steady, notes=notes,
                      budgets=self.budgets, allow_large=bool(self.allow_large))
        self._count_points(vary_values, search)
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
        return load_scenario(base_path, budgets=self.budgets)

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
        ceiling = self.spec.max_utilisation
        if ceiling is not None:  # every consumer group's utilisation at most the ceiling, judged like any target
            for name in sorted(f for f in figures if f.startswith("components.") and f.endswith(".utilisation")):
                given = next((t for t in targets if t.figure == name), None)
                if given is None:
                    targets.append(Target(name, "ratio", None, ceiling))
                else:
                    high = ceiling if given.high is None else min(given.high, ceiling)
                    targets[targets.index(given)] = Target(name, "ratio", given.low, high)
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

    def _cost(self, vary_values: dict[str, list[Any]], search: list[tuple[str, list[Any]]]) -> None:
        listed = set(vary_values) | {p for entry in self.spec.points for p in entry}
        if isinstance(self.spec.cost, dict):
            searched = dict(search)
            for path in self.spec.cost:
                values = vary_values.get(path, searched.get(path))
                if path not in listed and path not in searched:
                    self.problem(("cost", path), f"{path!r} is neither varied nor searched; a price applies to a field "
                                                 f"the sweep varies or the plan searches")
                elif values is not None and not all(_number(v) for v in values):
                    self.problem(("cost", path), f"a price per unit needs numeric values, and {path} takes "
                                                 f"{', '.join(map(repr, values[:3]))}")
            return
        for index, path in enumerate(self.spec.cost or []):
            if path not in listed:
                self.problem(("cost", index), f"{path!r} is not varied (vary: {', '.join(vary_values) or 'nothing'})")

    def _steady(self, base: Scenario, targets: list[Target]) -> tuple[SteadyState, list[str]]:
        """How replications are analysed: steady state unless the spec says transient or the load
        itself changes over the run (then the whole run is reported, and the report says why)."""
        if self.spec.transient:
            return SteadyState(enabled=False), ["transient study: figures cover the whole run (after the scenario's "
                                                "own warmup), no warm-up is detected and runs are not lengthened"]
        changing = changing_load(base)
        if changing:
            return SteadyState(enabled=False), [f"no steady state to analyse: {changing}; figures cover the whole run "
                                                f"(say `transient: true` to make this explicit)"]
        quantiles = [float(t.figure.rsplit(".p", 1)[1]) / 100 for t in targets
                     if ".latency_s.p" in f".{t.figure}" and t.figure.rsplit(".p", 1)[1].isdigit()]
        setting = self.spec.steady_state
        return SteadyState(True, setting.warmup, setting.longest, max(quantiles, default=None),
                           self.spec.replications.most), []

    # ------------------------------------------------------------------ points
    def _count_points(self, vary_values: dict[str, list[Any]], search: list[tuple[str, list[Any]]]) -> None:
        """Refuse a grid or search space over the `points` budget before any point is built."""
        grid = max(len(self.spec.points), 1) * math.prod(len(values) for values in vary_values.values())
        space = math.prod(len(values) for _, values in search)
        runs = grid * self.spec.replications.most
        for loc, count, what in ((("vary",), grid, "the sweep grid (the product of the numbers of values varied)"),
                                 (("plan", "search"), space, "the plan's search space (the product of the numbers of values)"),
                                 (("replications",), runs, "the sweep's runs (points × the most replications a point gets)")):
            try:
                self.budgets.check_points(count, what)
            except BudgetExceeded as error:
                self.problem(loc, error.problems[0].message)
                self.stop_if_any()

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
            check_size(point.scenario, allow_large=bool(self.allow_large), budgets=self.budgets, **options)
        except BudgetExceeded as error:
            self.problem(("base",), f"at point {point.label()}, each replication: {error.problems[0].message}")
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
                point = study.make_point(changes, index=0)
            except (ValidationError, KeyError) as error:
                self.problem(("plan", "search"), f"the combination {_describe(changes)} is not a valid scenario: {_reason(error)}")
                return
            self._size(point)
            if self.problems:
                return


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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

