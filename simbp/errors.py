"""Errors a user can act on: each names the file, the line, the field and what was expected."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem", "ScenarioError", "ScenarioTooLarge"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where it is and what was expected."""

    field: str
    message: str
    line: int | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = self.file or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ScenarioError(ValueError):
    """A scenario that cannot be simulated as written; `problems` lists every fault found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ScenarioTooLarge(ScenarioError):
    """A scenario whose estimated work is too large to simulate without being asked explicitly."""
