"""One thread per task that runs its sink steps, so a slow or failing Kafka side stalls only that task."""

from __future__ import annotations

import logging
import threading
from typing import Callable

from connector.errors import ConnectorError
from connector.tasks.state import TaskStatus
from connector.tasks.task import SourceTask

__all__ = ["SinkWorker"]

log = logging.getLogger(__name__)


class SinkWorker(threading.Thread):
    """Publish a task's queued items whenever the scanner wakes it, and refresh an idle checkpoint.

    ``on_progress`` runs after steps that took items out of the queue, so the
    scanner can refill a queue that was full.
    """

    def __init__(self, task: SourceTask, *, on_progress: Callable[[], object],
                 idle_check_s: float = 1.0) -> None:
        super().__init__(name=f"sink-{task.name}", daemon=True)
        self.task = task
        self._on_progress = on_progress
        self._idle_check_s = idle_check_s
        self._wake = threading.Event()
        self._stop_requested = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def request_stop(self) -> None:
        self._stop_requested.set()
        self._wake.set()

    def run(self) -> None:
        task = self.task
        while not self._stop_requested.is_set():
            self._wake.wait(self._idle_check_s)
            self._wake.clear()
            progressed = False
            try:
                while task.has_queued_items() and not self._stop_requested.is_set():
                    if not task.sink_step():
                        break
                    progressed = True
                if not task.has_queued_items():
                    task.refresh_checkpoint()
            except Exception:  # noqa: BLE001 - one task's bug must not kill the others
                log.exception("[%s] unexpected error in the sink step; halting the task", task.name)
                task.publisher.halt(ConnectorError("unexpected error in the sink step; see the "
                                                   "traceback in the log"), version=task.committed_ver)
            if progressed:
                self._on_progress()
            if task.status in (TaskStatus.HALTED, TaskStatus.STOPPED):
                return
