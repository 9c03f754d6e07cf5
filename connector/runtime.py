"""Wire the configured tasks to the scanner, run them, and stop cleanly on SIGINT/SIGTERM.

A stop request lets the transaction in progress finish (its records and its
checkpoint are committed together), then closes every producer.  A task that
halts leaves the others running; when every task has halted there is nothing
left to do and ``run`` returns exit code 1.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from connector.config import ConnectorConfig, describe
from connector.tasks.scanner import WalScanner
from connector.tasks.task import SourceTask, TaskHalted, TaskStatus

__all__ = ["Runtime"]

log = logging.getLogger(__name__)


class Runtime:
    """All tasks of one connector process."""

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.tasks = [SourceTask(config, task, index=i) for i, task in enumerate(config.tasks)]

    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        if signum is not None:
            log.info("received %s; stopping after the current transaction",
                     signal.Signals(signum).name)
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)

    def _any_running(self) -> bool:
        return any(task.status is TaskStatus.READY for task in self.tasks)

    def run(self, *, once: bool = False) -> int:
        """Start every task and scan until stopped; return the process exit code.

        With ``once`` the scan ends when no task finds a new complete entry.
        """
        log.info("starting connector %s", describe(self.config))
        try:
            for task in self.tasks:
                if self.stop_event.is_set():
                    break
                try:
                    task.start()
                except TaskHalted:
                    pass  # already logged with its cause; the other tasks go on

            scanner = WalScanner(self.tasks, idle_delay_s=self.config.idle_scan_delay_ms / 1000,
                                 wait=self.stop_event.wait)
            scanner.run(alive=lambda: self._any_running() and not self.stop_event.is_set(),
                        stop_when_idle=once)
        finally:
            for task in self.tasks:
                task.stop()

        halted = [task for task in self.tasks if task.status is TaskStatus.HALTED]
        for task in halted:
            log.error("[%s] halted: %s", task.name, task.error)
        if halted and len(halted) == len(self.tasks):
            return 1
        log.info("connector %s stopped", self.config.name)
        return 0
