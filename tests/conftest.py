"""Shared fixtures: the repository root and the scenario library."""

from __future__ import annotations

from pathlib import Path

import pytest
from repo import ROOT


@pytest.fixture
def root() -> Path:
    return ROOT
