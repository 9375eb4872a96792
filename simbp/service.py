"""The service: the memory its held items take, and the crash when that passes the limit (both engines).

Every item inside the service (waiting in a buffer, held by a worker, or waiting to be
forwarded) takes its bytes plus the per-item overhead. Going over `memory.limit` crashes the
service: every held item is lost, and it stays down (arrivals are lost too) until it restarts
empty after `restart_after`, or for good.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import simpy

    from .scenario.schema import MemorySpec

__all__ = ["Service"]


class Service:
    """Memory accounting and crash/restart for the whole modelled service."""

    def __init__(self, env: "simpy.Environment", spec: "MemorySpec | None"):
        self.env = env
        self.spec = spec
        self.limit = float("inf") if spec is None else spec.limit
        self.baseline = 0.0 if spec is None else spec.baseline
        self.restart_after = None if spec is None else spec.restart_after
        self.held = self.baseline
        self.peak = self.baseline
        self.down = False
        self.crashes = 0
        self.crash_times: list[float] = []
        self.restart_times: list[float] = []
        self.down_time = 0.0
        self._down_since = 0.0
        self._on_crash: list[Callable[[], None]] = []
        self._on_restart: list[Callable[[], None]] = []

    def hold(self, size: float) -> None:
        """An item entered the service; crash if memory passes the limit."""
        held = self.held + size
        self.held = held
        if held > self.peak:
            self.peak = held
        if held > self.limit:
            self.crash()

    def release(self, size: float) -> None:
        """An item left the service (consumed, dropped or timed out)."""
        self.held -= size

    def on_crash(self, callback: Callable[[], None]) -> None:
        self._on_crash.append(callback)

    def on_restart(self, callback: Callable[[], None]) -> None:
        self._on_restart.append(callback)

    def crash(self) -> None:
        """Lose everything held; stay down until the restart (if any)."""
        now = self.env.now
        self.crashes += 1
        self.crash_times.append(now)
        self.down = True
        self._down_since = now
        for callback in self._on_crash:
            callback()
        self.held = self.baseline
        if self.restart_after is not None:
            timer = self.env.timeout(self.restart_after)
            timer.callbacks.append(self._restart)

    def _restart(self, _event: Any) -> None:
        self.down = False
        self.down_time += self.env.now - self._down_since
        self.restart_times.append(self.env.now)
        for callback in self._on_restart:
            callback()

    def downtime_until(self, now: float) -> float:
        """Seconds spent down up to `now`."""
        return self.down_time + (now - self._down_since if self.down else 0.0)
