"""Fixtures of the hostile-input tests (helpers are in hostile_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def place(tmp_path: Path) -> Path:
    """A working folder with a `scenario/` folder for inputs; runs write into `out/` inside it."""
    (tmp_path / "scenario").mkdir()
    return tmp_path
