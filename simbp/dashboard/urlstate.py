"""Shareable state: the page's settings as URL query parameters, and back.

A link carries the scenario (a library file, or an edited text packed small), the view, the mode,
the workshop lesson and layout, and every control moved away from the scenario's own value (by
knob key: `consumers.workers.workers=3`, `seed=8`). Controls left alone are not written, so a link
stays short and keeps meaning the same thing when the scenario file is improved. Opening the link
reproduces the same run: same text, same seed, same mode, hence the same figures.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .knobs import Knob

__all__ = ["ShareState", "VIEWS", "encode_state", "decode_state", "format_value", "parse_value", "pack_text",
           "unpack_text", "share_url", "RESERVED", "B_PREFIX"]

VIEWS = ("whatif", "policies", "ab", "capacity", "workshop", "observed")
RESERVED = ("scenario", "yaml", "view", "mode", "lesson", "present", "buffer", "b_scenario", "reveal")
B_PREFIX = "b."
MAX_PACKED_CHARS = 12_000  # an edited scenario in the URL; longer edits are downloaded, not linked
MAX_UNPACKED_BYTES = 200_000


@dataclass
class ShareState:
    """Everything a link carries. `values`/`b_values` are knob values as URL text, by knob key."""

    scenario: str | None = None
    yaml: str | None = None
    view: str = "whatif"
    mode: str = "auto"
    lesson: str | None = None
    present: bool = False
    buffer: str | None = None
    b_scenario: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    b_values: dict[str, str] = field(default_factory=dict)


def format_value(value: Any) -> str:
    """A control's value as short URL text: 3, 1.5, drop_newest."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def parse_value(knob: Knob, text: str) -> Any | None:
    """URL text as a value of `knob`, within its range and options; None when it does not fit."""
    if knob.widget == "select":
        return text if text in knob.options else None
    try:
        number = float(text)
    except ValueError:
        return None
    if number != number:  # NaN
        return None
    if knob.minimum is not None:
        number = max(number, float(knob.minimum))
    if knob.maximum is not None:
        number = min(number, float(knob.maximum))
    return int(round(number)) if knob.is_int else float(number)


def pack_text(text: str) -> str | None:
    """An edited scenario as compact URL text (zlib + URL-safe base64), or None when too long to link."""
    packed = base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii").rstrip("=")
    return packed if len(packed) <= MAX_PACKED_CHARS else None


def unpack_text(packed: str) -> str | None:
    """The scenario text back, or None if the parameter is damaged or would unpack too large."""
    if len(packed) > MAX_PACKED_CHARS:
        return None
    try:
        raw = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))
        inflater = zlib.decompressobj()
        data = inflater.decompress(raw, MAX_UNPACKED_BYTES + 1)
        if len(data) > MAX_UNPACKED_BYTES or inflater.unconsumed_tail:
            return None
        return data.decode("utf-8")
    except (ValueError, zlib.error, UnicodeDecodeError):
        return None


def _changed(knobs: list[Knob], values: Mapping[str, Any]) -> dict[str, str]:
    changed = {}
    for knob in knobs:
        if knob.key not in values:
            continue
        value = values[knob.key]
        if format_value(value) != format_value(knob.value):
            changed[knob.key] = format_value(value)
    return changed


def encode_state(state: ShareState, knobs: list[Knob] | None = None, values: Mapping[str, Any] | None = None,
                 b_values: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Query parameters for `state`; with `knobs`, `values`/`b_values` are compared with the knobs'
    own values and only the moved ones are written (otherwise `state.values` is written as is)."""
    params: dict[str, str] = {}
    if state.yaml is not None:
        packed = pack_text(state.yaml)
        if packed is not None:
            params["yaml"] = packed
    if state.scenario is not None:
        params["scenario"] = state.scenario
    if state.view != "whatif":
        params["view"] = state.view
    if state.mode != "auto":
        params["mode"] = state.mode
    if state.lesson:
        params["lesson"] = state.lesson
    if state.present:
        params["present"] = "1"
    if state.buffer:
        params["buffer"] = state.buffer
    if state.b_scenario:
        params["b_scenario"] = state.b_scenario
    moved = _changed(knobs, values or {}) if knobs is not None else dict(state.values)
    params.update(moved)
    b_moved = _changed(knobs, b_values or {}) if knobs is not None else dict(state.b_values)
    params.update({B_PREFIX + key: value for key, value in b_moved.items()})
    return params


def decode_state(params: Mapping[str, Any]) -> ShareState:
    """A `ShareState` from query parameters (unknown views and modes fall back to the defaults)."""

    def one(name: str) -> str | None:
        value = params.get(name)
        if isinstance(value, (list, tuple)):
            value = value[-1] if value else None
        return None if value is None else str(value)

    from ..limits import MODES

    state = ShareState()
    state.scenario = one("scenario")
    packed = one("yaml")
    state.yaml = unpack_text(packed) if packed else None
    view = one("view")
    state.view = view if view in VIEWS else "whatif"
    mode = one("mode")
    state.mode = mode if mode in MODES else "auto"
    state.lesson = one("lesson")
    state.present = one("present") in ("1", "true", "yes")
    state.buffer = one("buffer")
    state.b_scenario = one("b_scenario")
    for name in params:
        if name in RESERVED:
            continue
        value = one(name)
        if value is None:
            continue
        if name.startswith(B_PREFIX):
            state.b_values[name[len(B_PREFIX):]] = value
        else:
            state.values[name] = value
    return state


def share_url(base: str, params: Mapping[str, str]) -> str:
    """The page's address with `params` as its query (the base's own query and fragment dropped)."""
    root = base.split("#", 1)[0].split("?", 1)[0]
    return root + ("?" + urlencode(params) if params else "")
