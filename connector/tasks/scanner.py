"""The WAL scanner: coalesced scan requests and passes over all tasks.

The rules follow TDengine's stream-task WAL scan (tqStreamTask.c,
``tqScanWalAsync`` and ``doScanWalForAllTasks`` in 3.2 to 3.3.4):

1. ``request_scan`` raises a scan counter, capped at ``max_scan_counter``
   (3 by default).  When the raised counter is above 1, a pass is already
   pending or running and will repeat, so the call returns.  When every
   task is paused the counter resets to 0 and no pass starts.
2. A pass goes over a snapshot of the task list, so tasks added or removed
   meanwhile do not disturb it.  After the pass the counter drops by one and,
   while it stays above 0, the next pass runs after ``idle_delay_s``.
3. Only tasks whose ``ready_for_wal`` returns True take part (see SourceTask).
4. Each taking part positions its reader (``position_reader``) and
5. moves complete entries into its input queue (``fill_queue``).
6. Fill-history tasks stop at the end of their range inside ``fill_queue``.
7. Every task that received items gets its sink step scheduled, and the pass
   reports whether any task found data.  A pass that found data keeps the
   counter at 1 or more and runs the next pass at once, so a backlog drains
   without idle delays; the scanner goes idle only after a pass found nothing.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Protocol, Sequence

from connector.tasks.scheduler import Scheduler

__all__ = ["ScannableTask", "WalScanner"]

log = logging.getLogger(__name__)


class ScannableTask(Protocol):
    name: str

    def is_paused(self) -> bool: ...

    def ready_for_wal(self) -> bool: ...

    def position_reader(self) -> None: ...

    def fill_queue(self) -> int: ...


class WalScanner:
    """Coalesce scan requests and run passes over the tasks on a scheduler."""

    def __init__(self, tasks: Callable[[], Sequence[ScannableTask]], *, scheduler: Scheduler,
                 schedule_sink: Callable[[ScannableTask], None], idle_delay_s: float = 0.1,
                 max_scan_counter: int = 3) -> None:
        self._tasks = tasks
        self._scheduler = scheduler
        self._schedule_sink = schedule_sink
        self.idle_delay_s = idle_delay_s
        self.max_scan_counter = max_scan_counter
        self.counter = 0
        self.passes = 0
        self._lock = threading.Lock()

    def request_scan(self) -> bool:
        """Ask for a pass (rule 1); return True when this call scheduled one."""
        with self._lock:
            tasks = self._tasks()
            if tasks and all(task.is_paused() for task in tasks):
                self.counter = 0
                return False
            self.counter = min(self.counter + 1, self.max_scan_counter)
            if self.counter > 1:
                return False
        self._scheduler.call_later(0.0, self.run_pass)
        return True

    def run_pass(self) -> bool:
        """Run one pass over a snapshot of the tasks (rules 2 to 7); return True if any found data."""
        fed = []
        for task in list(self._tasks()):
            if not task.ready_for_wal():
                continue
            task.position_reader()
            if task.fill_queue() > 0:
                fed.append(task)
        for task in fed:
            self._schedule_sink(task)
        self.passes += 1

        found = bool(fed)
        with self._lock:
            self.counter = max(self.counter - 1, 0)
            if found:
                self.counter = max(self.counter, 1)
            again = self.counter > 0
        if again:
            self._scheduler.call_later(0.0 if found else self.idle_delay_s, self.run_pass)
        return found
