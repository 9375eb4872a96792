"""Human units in scenario files: "250ms", "64MiB", "1200/s" → plain numbers (seconds, bytes, per second)."""

from __future__ import annotations

import math
import re

__all__ = ["parse_duration", "parse_bytes", "parse_rate", "format_duration", "format_bytes"]

# a sign is accepted so that "-5/s" reaches the schema, which says "greater than 0" at the field
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"

_DURATION_UNITS = {
    "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0,
    "h": 3600.0, "d": 86400.0,
}
_BYTE_UNITS = {
    "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_RATE_UNITS = {"ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def _split(text: str, what: str) -> tuple[float, str]:
    if not isinstance(text, str):
        raise ValueError(f"expected {what}, got {type(text).__name__}")
    match = re.fullmatch(_NUMBER + r"\s*([A-Za-zµ/]*)", text.strip()[:200])
    if not match:
        raise ValueError(f"expected {what}, got {_shown(text)}")
    return _finite(float(match.group(1)), text), match.group(2)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _finite(number: float, given: object) -> float:
    """`number`, or ValueError when it is infinite or not a number (1e999, inf, nan)."""
    if not math.isfinite(number):
        shown = _shown(given) if isinstance(given, str) else repr(given)
        raise ValueError(f"expected a finite number, got {shown}")
    return number


def parse_duration(value: float | int | str) -> float:
    """Seconds from a number (already seconds) or a string such as "500ms", "30s", "5m", "2h"."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, got a boolean")
    if isinstance(value, (int, float)):
        return _float(value)
    number, unit = _split(value, 'a duration such as "500ms", "30s", "5m" or "2h"')
    if unit == "":
        return number
    if unit not in _DURATION_UNITS:
        raise ValueError(f"unknown time unit {unit!r} in {_shown(value)}; use us, ms, s, m, h or d")
    return _finite(number * _DURATION_UNITS[unit], value)


def parse_bytes(value: float | int | str) -> float:
    """Bytes from a number or a string such as "512B", "2KiB", "64MiB", "1GB"."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 2KiB, got a boolean")
    if isinstance(value, (int, float)):
        return _float(value)
    number, unit = _split(value, 'a size such as "512B", "2KiB" or "64MiB"')
    if unit == "":
        return number
    key = unit.lower()
    if key not in _BYTE_UNITS:
        raise ValueError(f"unknown size unit {unit!r} in {_shown(value)}; use B, KB, KiB, MB, MiB, GB, GiB")
    return _finite(number * _BYTE_UNITS[key], value)


def parse_rate(value: float | int | str) -> float:
    """Events per second from a number (already per second) or "1200/s", "54000/min", "3/ms"."""
    if isinstance(value, bool):
        raise ValueError("expected a rate such as 900/s, got a boolean")
    if isinstance(value, (int, float)):
        return _float(value)
    if not isinstance(value, str):
        raise ValueError(f'expected a rate such as "900/s", got {type(value).__name__}')
    text = value.strip()
    if "/" not in text:
        return _split(text, 'a rate such as "900/s" or "54000/min"')[0] if re.fullmatch(_NUMBER, text) else _bad_rate(value)
    count, per = text.split("/", 1)
    number, unit = _split(count, 'a rate such as "900/s"')
    if unit:
        return _bad_rate(value)
    per = per.strip()
    match = re.fullmatch(_NUMBER + r"?\s*([A-Za-z]+)", per)
    if not match or match.group(2) not in _RATE_UNITS:
        return _bad_rate(value)
    scale = _finite(float(match.group(1)), value) if match.group(1) else 1.0
    if scale <= 0:
        raise ValueError(f"a rate's time span must be positive, got {_shown(value)}")
    return _finite(number / (scale * _RATE_UNITS[match.group(2)]), value)


def _bad_rate(value: object) -> float:
    shown = _shown(value) if isinstance(value, str) else repr(value)
    raise ValueError(f'expected a rate such as "900/s" or "54000/min", got {shown}')


def _float(value: int | float) -> float:
    """A number as a float: finite, and an integer too large for a float is an error, not a traceback."""
    try:
        return _finite(float(value), value)
    except OverflowError:
        raise ValueError("expected a finite number, got an integer too large to use") from None


def format_duration(seconds: float) -> str:
    """A short readable duration: 0.25 → "250ms", 432 → "7m12s"."""
    if seconds != seconds:  # NaN
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes}m{rest:02d}s" if rest else f"{minutes}m"
    hours, rest = divmod(round(seconds), 3600)
    minutes = rest // 60
    return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"


def format_bytes(count: float) -> str:
    """A short readable size in binary units: 268435456 → "256MiB"."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(count) >= scale:
            return f"{count / scale:.3g}{unit}"
    return f"{count:.0f}B"
