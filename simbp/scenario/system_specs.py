"""Models of the systems keys (docs/systems.md): Node.js `high_water_mark`, RxJS operators,
retries, rate limits, downstream services and the calls consumers make to them.

They build only on `base` and `distributions`, so the components that carry them can import them;
their checks (which need the components) are in `simbp.scenario.systems`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from ..units import parse_bytes
from .base import Model, Name, NonNegativeDuration, PositiveDuration, PositiveRate
from .distributions import TimeDistribution

__all__ = [
    "HighWaterMark",
    "OperatorSpec",
    "BufferTimeSpec",
    "RetrySpec",
    "RateLimitSpec",
    "DownstreamSpec",
    "OverloadSpec",
    "CallSpec",
]


# --------------------------------------------------------------------------- Node.js streams
class HighWaterMark(Model):
    """Node's `highWaterMark`: `write()` returns false once the buffer holds this much.

    A bare whole number counts chunks (Node's objectMode); a size with a unit ("16KiB") counts
    bytes, as Node's byte streams do. The chunk being written by `_write()` counts too, as in Node.
    """

    objects: int | None = Field(default=None, ge=0, le=10**12)
    bytes: float | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, bool):
            raise ValueError("high_water_mark is a count of chunks (16) or a size with a unit (\"16KiB\")")
        if isinstance(data, int):
            return {"objects": data}
        if isinstance(data, float):
            if data.is_integer():
                return {"objects": int(data)}
            raise ValueError("a high_water_mark in chunks must be a whole number")
        if isinstance(data, str):
            text = data.strip()
            if text.isdigit():
                return {"objects": int(text)}
            try:
                return {"bytes": parse_bytes(text)}
            except ValueError as error:
                raise ValueError(f"high_water_mark is a count of chunks (16) or a size with a unit (\"16KiB\"): {error}") from None
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> "HighWaterMark":
        if (self.objects is None) == (self.bytes is None):
            raise ValueError("high_water_mark needs exactly one of `objects` (chunks) or `bytes`")
        return self

    @property
    def limit(self) -> float:
        """The mark, in chunks or bytes."""
        return float(self.objects) if self.objects is not None else float(self.bytes)  # type: ignore[arg-type]

    @property
    def counts_bytes(self) -> bool:
        return self.bytes is not None


# --------------------------------------------------------------------------- RxJS operators
def _duration_is_span(value: Any) -> Any:
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return {"duration": value}
    return value


class BufferTimeSpec(Model):
    """`bufferTime(duration, null, max_size)`: arrays every `duration`, or sooner when `max_size` is reached."""

    duration: PositiveDuration
    max_size: int | None = Field(default=None, ge=1, le=10_000_000)


class OperatorSpec(Model):
    """One RxJS operator, written as in `source$.pipe(...)`: exactly one of the keys below."""

    debounceTime: PositiveDuration | None = None
    throttleTime: PositiveDuration | None = None
    bufferTime: Annotated[BufferTimeSpec, BeforeValidator(_duration_is_span)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "OperatorSpec":
        given = [k for k in ("debounceTime", "throttleTime", "bufferTime") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("each operator is one of debounceTime: <t>, throttleTime: <t>, bufferTime: <t> "
                             f"(got {', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        """The RxJS name of this operator."""
        return next(k for k in ("debounceTime", "throttleTime", "bufferTime") if getattr(self, k) is not None)


# --------------------------------------------------------------------------- callers and remedies
RetryOn = Literal["timeout", "drop"]


class RetrySpec(Model):
    """A caller that retries an attempt that timed out (or was dropped) after a backoff.

    The n-th retry waits `backoff × multiplier^(n-1)` (at most `max_backoff`); `jitter: full` waits a
    uniform fraction of that instead (AWS's "full jitter").
    """

    max: int = Field(ge=0, le=100)
    backoff: NonNegativeDuration = 0.1
    multiplier: float = Field(default=1.0, ge=1.0, le=100.0)
    max_backoff: PositiveDuration | None = None
    jitter: Literal["none", "full"] = "none"
    on: list[RetryOn] = Field(default_factory=lambda: list[RetryOn](["timeout"]), min_length=1)


class RateLimitSpec(Model):
    """A token bucket at the source: `rate` tokens a second, at most `burst` saved up.

    `on_limit: drop` discards a message that finds no token (a 429); `wait` holds it (and the
    producer) until a token is there.
    """

    rate: PositiveRate
    burst: int = Field(default=1, ge=1, le=10_000_000)
    on_limit: Literal["drop", "wait"] = "drop"


# --------------------------------------------------------------------------- downstream services
class OverloadSpec(Model):
    """How a downstream degrades per call in flight beyond its capacity (the excess)."""

    slowdown: float = Field(default=0.0, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)


class DownstreamSpec(Model):
    """A service that consumers call (a database, an HTTP API).

    A call that starts with n calls in flight (itself included) takes
    `latency × (1 + overload.slowdown × max(0, n − capacity))` and fails with probability
    `min(max_error_rate, error_rate + overload.error_rate × max(0, n − capacity))`.
    """

    name: Name
    capacity: int = Field(ge=1, le=1_000_000)
    latency: TimeDistribution
    error_rate: float = Field(default=0.0, ge=0, le=1)
    overload: OverloadSpec = Field(default_factory=OverloadSpec)
    max_error_rate: float = Field(default=1.0, ge=0, le=1)


class CallSpec(Model):
    """What each message costs a consumer downstream: one call to `downstream`, after `service`."""

    downstream: Name
    semaphore: int | None = Field(default=None, ge=1, le=1_000_000)
    timeout: PositiveDuration | None = None
    retries: int = Field(default=0, ge=0, le=100)
    backoff: NonNegativeDuration = 0.0

