"""The sweep/plan spec schema (pydantic, closed): base scenario, fields to vary, replications,
targets, judging, the plan's search space and margin, report choices. Cross-checks against the
base scenario live in `study.py`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from ..scenario.base import Model, Name

__all__ = ["ValueRange", "ReplicationsSpec", "TargetSpec", "MarginSpec", "PlanSpec", "SteadyStateSpec", "ReportSpec",
           "SweepSpec", "Values"]

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
        """The replication cap: `max`, else 10 (or `min` when that is more). A point stops before it
        once every checked figure is tight enough or decided; undecided points use the budget."""
        if self.max is not None:
            return self.max
        return max(self.min, 10)


class TargetSpec(Model):
    """A target on one summary figure: `max` (at most) and/or `min` (at least), with units."""

    min: float | str | None = None
    max: float | str | None = None

    @model_validator(mode="after")
    def _some_limit(self) -> "TargetSpec":
        if self.min is None and self.max is None:
            raise ValueError("a target needs `max` (at most) or `min` (at least)")
        return self


def _auto_or_duration(value: Any) -> Any:
    from ..units import parse_duration

    if value is None or value == "auto":
        return None
    if isinstance(value, bool):
        raise ValueError("give `auto` or a duration")
    seconds = parse_duration(value) if isinstance(value, str) else float(value)
    if seconds < 0:
        raise ValueError("a warm-up cannot be negative")
    return seconds


def _order_or_prices(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return value
    raise ValueError("give the fields in order of cost, e.g. [consumers.workers.workers], or a price per unit of "
                     "each, e.g. {consumers.workers.workers: 120, buffers.queue.capacity: 0.01}")


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
    sensitivity: bool = True


class SteadyStateSpec(Model):
    """Steady-state analysis: the warm-up cut (`auto`: MSER-5 on the replications' average number in
    system; or a duration) and how far too-short runs may be lengthened (`longest` × duration)."""

    warmup: Annotated[float | None, BeforeValidator(_auto_or_duration)] = None
    longest: float = Field(default=64.0, ge=1, le=1024)


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
    cost: Annotated[list[str] | dict[str, float] | None, BeforeValidator(_order_or_prices)] = None
    cost_unit: str = ""
    headroom: float | None = Field(default=None, ge=1)
    max_utilisation: float | None = Field(default=None, gt=0, le=1)
    transient: bool = False
    steady_state: SteadyStateSpec = Field(default_factory=SteadyStateSpec)
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
        if isinstance(self.cost, dict):
            for path, price in self.cost.items():
                if price < 0:
                    raise _at(("cost", path), "a price cannot be negative")
        if self.transient and "steady_state" in self.model_fields_set:
            raise _at(("steady_state",), "a transient study has no steady state: remove `steady_state` or `transient`")
        if self.judge != "mean" and self.replications.min < 2:
            raise _at(("replications", "min"), "judging on the confidence interval needs at least 2 replications "
                                               "(or judge: mean)")
        return self

    @property
    def judge_rule(self) -> str:
        """`bound` or `mean` (`upper_bound` is accepted as another name for `bound`)."""
        return "mean" if self.judge == "mean" else "bound"


def _at(path: tuple[str | int, ...], message: str) -> ValueError:
    from ..scenario import ReferenceProblem

    return ReferenceProblem(path, message)

