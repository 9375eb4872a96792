"""Where the repository's files are, for every test (one `ROOT`, not a copy per test file)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
