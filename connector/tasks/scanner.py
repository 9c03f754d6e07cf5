"""The WAL scan loop: one pass over a snapshot of the tasks, then an idle delay when none found data.

A pass gives every ready task one ``poll``.  When no task found a new entry,
the loop waits ``idle_scan_delay_ms`` before the next pass.  When any did, the
next pass starts at once, so a busy WAL is drained without sleeping.
The wait is an injected callable that returns True when the loop must stop,
which lets tests drive the loop without real time passing.
"""

from __future__ import annotations

import logging
from typing import Callable, Protocol, Sequence

__all__ = ["PollableTask", "WalScanner"]

log = logging.getLogger(__name__)


class PollableTask(Protocol):
    name: str

    def is_ready(self) -> bool: ...

    def poll(self) -> bool: ...

    def retry_pending(self) -> bool: ...


class WalScanner:
    """Pass over the tasks until a stop is requested or no task can run any more."""

    def __init__(self, tasks: Sequence[PollableTask], *, idle_delay_s: float,
                 wait: Callable[[float], bool]) -> None:
        self._tasks = list(tasks)
        self.idle_delay_s = idle_delay_s
        self._wait = wait
        self.passes = 0

    def scan_once(self) -> bool:
        """Poll each ready task once, over a snapshot of the task list; return True if any found data."""
        found = False
        for task in list(self._tasks):
            if task.is_ready() and task.poll():
                found = True
        self.passes += 1
        return found

    def run(self, *, alive: Callable[[], bool], stop_when_idle: bool = False) -> None:
        """Scan until ``wait`` reports a stop request or ``alive()`` turns False.

        With ``stop_when_idle`` the loop also ends after the first pass that
        finds no new entry in any task and no task waits to retry a failed
        publish: everything complete on disk is then published.
        """
        while alive():
            if self.scan_once():
                continue
            if stop_when_idle and not any(task.retry_pending() for task in self._tasks):
                return
            if self._wait(self.idle_delay_s):
                return
