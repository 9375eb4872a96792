"""Runs shared by every page of one server: cached, computed once however many pages ask, cancellable.

A workshop opens the same link in thirty browsers at once; `RunPool` runs each distinct
(scenario text, seed, mode) once, in a helper thread, while every page that asked waits on a
`Ticket` and draws its own progress bar. A page that moves on releases its ticket; when no page
waits for a run any more, the run is cancelled (its `Deadline` raises at the next progress
report), so rapid control changes never queue stale runs. Finished results are kept, most recent
first, up to `max_entries`, with values derived from them (chart data) memoised beside them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from .guard import Deadline

__all__ = ["RunPool", "Ticket"]


class _Run:
    def __init__(self, deadline: Deadline):
        self.deadline = deadline
        self.done = threading.Event()
        self.waiters = 0
        self.result: Any = None
        self.error: BaseException | None = None


class Ticket:
    """A page's claim on a run: wait for it, read its progress, release it when done or leaving."""

    def __init__(self, pool: RunPool, key: Hashable, run: _Run):
        self._pool, self._key, self._run = pool, key, run
        self._released = False

    @property
    def fraction(self) -> float:
        return self._run.deadline.fraction

    def wait(self, timeout: float) -> bool:
        """Whether the run has finished, waiting up to `timeout` seconds."""
        return self._run.done.wait(timeout)

    def result(self) -> Any:
        """The run's result; raises the run's error if it failed."""
        if self._run.error is not None:
            raise self._run.error
        return self._run.result

    def release(self) -> None:
        """This page no longer waits; the last page to leave cancels an unfinished run."""
        if not self._released:
            self._released = True
            self._pool._release(self._key, self._run)


class RunPool:
    """Results by key: `get` a finished one, or `submit` to start (or join) its computation."""

    def __init__(self, max_entries: int = 64, deadline: Callable[[], Deadline] = Deadline):
        self.max_entries = max_entries
        self._deadline = deadline
        self._lock = threading.Lock()
        self._results: OrderedDict[Hashable, Any] = OrderedDict()
        self._derived: dict[tuple[Hashable, str], Any] = {}
        self._running: dict[Hashable, _Run] = {}

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        return None

    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def submit(self, key: Hashable, work: Callable[[Deadline], Any]) -> Ticket:
        """A ticket for `key`'s result: joins a run already under way, else starts `work(deadline)`."""
        with self._lock:
            run = self._running.get(key)
            if run is None:
                run = _Run(self._deadline())
                self._running[key] = run
                if key in self._results:  # finished meanwhile: hand it over at once
                    run.result = self._results[key]
                    run.done.set()
                    del self._running[key]
                else:
                    threading.Thread(target=self._work, args=(key, run, work), name="simbp-run", daemon=True).start()
            run.waiters += 1
        return Ticket(self, key, run)

    def _work(self, key: Hashable, run: _Run, work: Callable[[Deadline], Any]) -> None:
        try:
            run.result = work(run.deadline)
        except BaseException as error:  # handed to every waiting page
            run.error = error
        with self._lock:
            if run.error is None:
                self._results[key] = run.result
                self._results.move_to_end(key)
                while len(self._results) > self.max_entries:
                    old, _ = self._results.popitem(last=False)
                    for derived in [k for k in self._derived if k[0] == old]:
                        del self._derived[derived]
            if self._running.get(key) is run:
                del self._running[key]
        run.done.set()

    def _release(self, key: Hashable, run: _Run) -> None:
        with self._lock:
            run.waiters -= 1
            if run.waiters <= 0 and not run.done.is_set():
                run.deadline.cancel()
                if self._running.get(key) is run:
                    del self._running[key]  # a page asking again starts afresh

    def derived(self, key: Hashable, name: str, make: Callable[[], Any]) -> Any:
        """A value computed from `key`'s result (chart data, say), computed once while the result is kept."""
        with self._lock:
            if (key, name) in self._derived:
                return self._derived[(key, name)]
        value = make()
        with self._lock:
            if key in self._results:
                self._derived[(key, name)] = value
        return value
