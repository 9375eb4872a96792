"""The base of every scenario model: a closed pydantic model, quantity types with units, names.

Quantities accept human units ("250ms", "2KiB", "900/s") and must be finite; `ReferenceProblem`
carries a field path for faults found after the structure validated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from ..units import parse_bytes, parse_duration, parse_rate

__all__ = [
    "Model",
    "ReferenceProblem",
    "Name",
    "Duration",
    "Bytes",
    "Rate",
    "PositiveDuration",
    "NonNegativeDuration",
    "PositiveRate",
    "NonNegativeRate",
    "PositiveBytes",
    "NonNegativeBytes",
    "unit",
]


class ReferenceProblem(ValueError):
    """A cross-reference fault found after the structure validated, with its field path."""

    def __init__(self, path: tuple[str | int, ...], message: str):
        self.path = path
        super().__init__(message)


def unit(parser: Callable[[Any], float]) -> BeforeValidator:
    """A validator turning a number or a string with a unit into a number with `parser`."""

    def convert(value: Any) -> Any:
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            return parser(value)
        return value

    return BeforeValidator(convert)


Duration = Annotated[float, unit(parse_duration)]
Bytes = Annotated[float, unit(parse_bytes)]
Rate = Annotated[float, unit(parse_rate)]
PositiveDuration = Annotated[float, unit(parse_duration), Field(gt=0)]
NonNegativeDuration = Annotated[float, unit(parse_duration), Field(ge=0)]
PositiveRate = Annotated[float, unit(parse_rate), Field(gt=0)]
NonNegativeRate = Annotated[float, unit(parse_rate), Field(ge=0)]
PositiveBytes = Annotated[float, unit(parse_bytes), Field(gt=0)]
NonNegativeBytes = Annotated[float, unit(parse_bytes), Field(ge=0)]

def _names_something(value: str) -> str:
    """A name must hold a letter, a digit or `_`: "..", "." or "-" would name a folder's parent or itself."""
    if not any(ch.isalnum() or ch == "_" for ch in value):
        raise ValueError(f"name {value!r} needs at least one letter, digit or underscore")
    return value


Name = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$"), AfterValidator(_names_something)]


class Model(BaseModel):
    """Base of every scenario model: unknown keys are errors, values are validated on assignment, and
    every number must be finite (`.inf`, `.nan` and `1e999` are errors wherever they appear)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True, allow_inf_nan=False)
