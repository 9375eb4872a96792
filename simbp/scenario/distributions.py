"""Distributions of service times and message sizes: constant, exponential, uniform, lognormal,
gamma, erlang, pareto and empirical (a list or a CSV column next to the scenario).

A bare number or quantity is a constant. Each family exists twice, once parsing durations ("4ms")
and once sizes ("2KiB"): `TimeDistribution` and `SizeDistribution`.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BeforeValidator, Field, PrivateAttr, model_validator

from ..units import parse_bytes, parse_duration
from .base import Model, ReferenceProblem

__all__ = ["TimeDistribution", "SizeDistribution", "Distribution", "TIME_DISTRIBUTIONS", "SIZE_DISTRIBUTIONS"]


class _Distribution(Model):
    """A distribution of times or sizes; `_parse` turns "4ms" or "2KiB" into a number."""

    _parse: ClassVar[Any] = staticmethod(float)
    _quantities: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _convert_units(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in cls._quantities:
                value = data.get(key)
                if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                    try:
                        data[key] = cls._parse(value)
                    except ValueError as error:
                        raise ReferenceProblem((key,), str(error)) from None
                elif isinstance(value, list):
                    converted = []
                    for index, item in enumerate(value):
                        if isinstance(item, (int, float, str)) and not isinstance(item, bool):
                            try:
                                item = cls._parse(item)
                            except ValueError as error:
                                raise ReferenceProblem((key, index), str(error)) from None
                        converted.append(item)  # anything else (null, a list) is for the field's type to refuse
                    data[key] = converted
        return data

    @property
    def mean(self) -> float:  # pragma: no cover - each subclass overrides
        raise NotImplementedError


class _Constant(_Distribution):
    dist: Literal["constant"] = "constant"
    value: float = Field(ge=0)
    _quantities = ("value",)

    @property
    def mean(self) -> float:
        return self.value


class _Exponential(_Distribution):
    dist: Literal["exponential"]
    mean_: float = Field(gt=0, alias="mean")
    _quantities = ("mean",)

    @property
    def mean(self) -> float:
        return self.mean_


class _Uniform(_Distribution):
    dist: Literal["uniform"]
    low: float = Field(ge=0)
    high: float = Field(ge=0)
    _quantities = ("low", "high")

    @model_validator(mode="after")
    def _ordered(self) -> "_Uniform":
        if self.high < self.low:
            raise ValueError("uniform needs low <= high")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2


class _Lognormal(_Distribution):
    """Lognormal with the given mean; `sigma` is the spread of the underlying normal."""

    dist: Literal["lognormal"]
    mean_: float = Field(gt=0, alias="mean")
    sigma: float = Field(gt=0, le=5)
    _quantities = ("mean",)

    @property
    def mean(self) -> float:
        return self.mean_


class _Gamma(_Distribution):
    """Gamma with the given mean and shape (shape 1 is exponential; larger is less variable)."""

    dist: Literal["gamma"]
    mean_: float = Field(gt=0, alias="mean")
    shape: float = Field(gt=0)
    _quantities = ("mean",)

    @property
    def mean(self) -> float:
        return self.mean_


class _Erlang(_Distribution):
    """Erlang-k: the sum of k exponential phases with the given total mean."""

    dist: Literal["erlang"]
    mean_: float = Field(gt=0, alias="mean")
    k: int = Field(ge=1, le=100_000)
    _quantities = ("mean",)

    @property
    def mean(self) -> float:
        return self.mean_


class _Pareto(_Distribution):
    """Pareto (heavy tail): values at least `scale`, tail index `alpha` (> 1 for a finite mean)."""

    dist: Literal["pareto"]
    scale: float = Field(gt=0)
    alpha: float = Field(gt=1)
    _quantities = ("scale",)

    @property
    def mean(self) -> float:
        return self.alpha * self.scale / (self.alpha - 1)


class _Empirical(_Distribution):
    """Values drawn uniformly from a list, or from a CSV column next to the scenario."""

    dist: Literal["empirical"]
    values: list[float] | None = None
    file: str | None = None
    column: str | None = None
    _quantities = ("values",)
    _loaded: list[float] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_source(self) -> "_Empirical":
        if (self.values is None) == (self.file is None):
            raise ValueError("empirical needs exactly one of `values` (a list) or `file` (a CSV)")
        if self.values is not None and (not self.values or min(self.values) < 0):
            raise ValueError("empirical `values` must be a non-empty list of non-negative numbers")
        return self

    @property
    def mean(self) -> float:
        data = self.values if self.values is not None else self._loaded
        return float(sum(data) / len(data)) if data else float("nan")


def _family(parse: Any, suffix: str) -> Any:
    classes = []
    for base in (_Constant, _Exponential, _Uniform, _Lognormal, _Gamma, _Erlang, _Pareto, _Empirical):
        cls = type(base.__name__.lstrip("_") + suffix, (base,), {"_parse": staticmethod(parse), "__module__": __name__})
        globals()[cls.__name__] = cls  # a module attribute, so scenarios pickle (caches, process pools)
        classes.append(cls)
    union = Annotated[Union[tuple(classes)], Field(discriminator="dist")]  # type: ignore[valid-type]  # noqa: UP007 - built at run time

    def bare_is_constant(value: Any) -> Any:
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            return {"dist": "constant", "value": value}
        return value

    return Annotated[union, BeforeValidator(bare_is_constant)], tuple(classes)


TimeDistribution, TIME_DISTRIBUTIONS = _family(parse_duration, "Time")
SizeDistribution, SIZE_DISTRIBUTIONS = _family(parse_bytes, "Size")
Distribution = Union[tuple(TIME_DISTRIBUTIONS + SIZE_DISTRIBUTIONS)]  # type: ignore[valid-type]  # noqa: UP007 - built at run time
