"""Human units in scenario files: durations, sizes and rates, and their display."""

from __future__ import annotations

import pytest

from simbp.units import format_bytes, format_duration, parse_bytes, parse_duration, parse_rate


@pytest.mark.parametrize("text, seconds", [
    (30, 30.0), (2.5, 2.5), ("30", 30.0), ("500ms", 0.5), ("30s", 30.0), ("5m", 300.0), ("2h", 7200.0),
    ("1.5min", 90.0), ("250us", 250e-6), ("1d", 86400.0), (" 4ms ", 0.004), ("1e3ms", 1.0),
])
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, rel=1e-15)  # type: ignore[arg-type]


@pytest.mark.parametrize("text, count", [
    (2048, 2048.0), ("512B", 512.0), ("2KiB", 2048.0), ("64MiB", 64 * 2**20), ("1GB", 1e9), ("1kb", 1000.0),
    ("256MiB", 268_435_456.0), ("1.5KiB", 1536.0),
])
def test_parse_bytes(text: object, count: float) -> None:
    assert parse_bytes(text) == count  # type: ignore[arg-type]


@pytest.mark.parametrize("text, per_second", [
    (900, 900.0), ("900", 900.0), ("900/s", 900.0), ("54000/min", 900.0), ("54000/m", 900.0), ("3/ms", 3000.0),
    ("7200/h", 2.0), ("10/5s", 2.0), ("1/2min", 1 / 120),
])
def test_parse_rate(text: object, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second, rel=1e-15)  # type: ignore[arg-type]


@pytest.mark.parametrize("parse, text", [
    (parse_duration, "5 parsecs"), (parse_duration, "fast"), (parse_duration, True), (parse_duration, "5s5"),
    (parse_bytes, "2 KiBytes"), (parse_bytes, "lots"), (parse_bytes, False),
    (parse_rate, "900 per second"), (parse_rate, "900/fortnight"), (parse_rate, "5s/s"), (parse_rate, True),
])
def test_bad_units_are_refused_with_what_was_expected(parse, text) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"expected|unknown"):
        parse(text)


def test_negative_values_parse_so_the_schema_can_name_the_field() -> None:
    # the schema's `gt=0` / `ge=0` then says "greater than 0" at the right field and line
    assert parse_rate("-5/s") == -5.0
    assert parse_duration("-2s") == -2.0


@pytest.mark.parametrize("seconds, text", [
    (432, "7m12s"), (0.25, "250ms"), (5e-5, "50µs"), (12.5, "12.5s"), (300, "5m"), (7200, "2h"), (9000, "2h30m"),
    (float("nan"), "n/a"),
])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("count, text", [(268_435_456, "256MiB"), (2048, "2KiB"), (512, "512B"), (3 * 2**30, "3GiB")])
def test_format_bytes(count: float, text: str) -> None:
    assert format_bytes(count) == text


def test_displayed_values_parse_back() -> None:
    for seconds in (0.25, 12.5, 300.0, 7200.0):
        assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)
    for count in (512, 2048, 268_435_456):
        assert parse_bytes(format_bytes(count)) == count
