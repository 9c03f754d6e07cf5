"""Wire the configured tasks to the scanner, run them, and stop cleanly on SIGINT/SIGTERM.

Threads: the scanner runs its passes on the thread that calls ``run``, and
each task publishes on its own sink thread.  An inotify thread (where Linux
offers it) and a periodic timer request scans when WAL files change.  A stop
request lets every sink step in progress finish (its records and checkpoint
commit together), then closes the producers.  A task that halts leaves the
others running; when every task has halted there is nothing left to do and
``run`` returns exit code 1.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from connector.admin import AdminServer
from connector.config import ConnectorConfig, describe
from connector.errors import FencedError
from connector.tasks.notify import InotifyWatcher, inotify_available
from connector.tasks.scanner import WalScanner
from connector.tasks.scheduler import ThreadScheduler
from connector.tasks.state import TaskStatus
from connector.tasks.task import SourceTask, TaskHalted
from connector.tasks.worker import SinkWorker

__all__ = ["Runtime"]

log = logging.getLogger(__name__)

_FINISHED = (TaskStatus.HALTED, TaskStatus.DONE, TaskStatus.STOPPED)


class Runtime:
    """All tasks of one connector process."""

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.tasks: list[SourceTask] = []
        for index, task_config in enumerate(config.tasks):
            history = None
            if task_config.fill_history is not None:
                history = SourceTask(config, task_config, index=index, role="fill-history")
                self.tasks.append(history)
            self.tasks.append(SourceTask(config, task_config, index=index, history=history))
        self._scheduler: ThreadScheduler | None = None
        self.scanner: WalScanner | None = None
        self._workers: dict[str, SinkWorker] = {}
        self.admin: AdminServer | None = None

    def task(self, name: str) -> SourceTask:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(name)

    # -- control -------------------------------------------------------------------------

    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        if signum is not None:
            log.info("received %s; stopping after the transactions in progress",
                     signal.Signals(signum).name)
        self.stop_event.set()
        if self._scheduler is not None:
            self._scheduler.stop()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)

    def request_scan(self) -> None:
        if self.scanner is not None:
            self.scanner.request_scan()

    def pause(self, name: str) -> None:
        self.task(name).pause()

    def resume(self, name: str) -> None:
        self.task(name).resume()
        self.request_scan()

    # -- running -----------------------------------------------------------------------------

    def _start_tasks(self) -> None:
        # Fill-history tasks come first in self.tasks, so their range is fixed
        # before the live task of the same vnode computes its start version.
        for task in self.tasks:
            if self.stop_event.is_set():
                break
            try:
                task.start()
            except TaskHalted:
                pass  # already logged with its cause; the other tasks go on

    def run(self, *, once: bool = False) -> int:
        """Start every task and run until stopped; return the process exit code.

        With ``once`` the tasks are driven on this thread until none has a
        complete entry left, then the process stops.
        """
        log.info("starting connector %s", describe(self.config))
        if self.config.admin_listen and not once:
            self.admin = AdminServer(self, self.config.admin_listen)
            self.admin.start()
        try:
            self._start_tasks()
            if once:
                for task in self.tasks:
                    if self.stop_event.is_set() or self._fenced():
                        break
                    task.run_until_idle()
            elif not self.stop_event.is_set():
                self._run_threads()
        finally:
            if self.admin is not None:
                self.admin.stop()
            for worker in self._workers.values():
                worker.request_stop()
            for worker in self._workers.values():
                worker.join()
            for task in self.tasks:
                task.stop()
        return self._exit_code()

    def _run_threads(self) -> None:
        scheduler = ThreadScheduler()
        self._scheduler = scheduler
        if self.stop_event.is_set():
            return
        self.scanner = WalScanner(lambda: self.tasks, scheduler=scheduler,
                                  schedule_sink=lambda task: self._workers[task.name].wake(),
                                  idle_delay_s=self.config.idle_scan_delay_ms / 1000,
                                  max_scan_counter=self.config.max_scan_counter)
        for task in self.tasks:
            worker = SinkWorker(task, on_progress=self.request_scan)
            self._workers[task.name] = worker
            worker.start()

        watcher = self._start_watcher()
        timer_s = self.config.scan_timer_ms / 1000 if watcher else self.config.idle_scan_delay_ms / 1000

        def tick() -> None:
            if self._fenced():
                self.request_stop()
                return
            if self._all_finished():
                log.error("every task has halted or finished; stopping")
                self.request_stop()
                return
            self.request_scan()
            scheduler.call_later(timer_s, tick)

        scheduler.call_later(0.0, tick)
        try:
            scheduler.run()
        finally:
            if watcher is not None:
                watcher.request_stop()
                watcher.join()

    def _start_watcher(self) -> InotifyWatcher | None:
        if not inotify_available():
            log.info("inotify is not available; polling the WALs every %d ms",
                     self.config.idle_scan_delay_ms)
            return None
        directories = sorted({task.task.wal_dir for task in self.tasks})
        try:
            watcher = InotifyWatcher(directories, self.request_scan)
        except OSError as err:
            log.warning("cannot watch the WAL directories with inotify (%s); polling every %d ms",
                        err, self.config.idle_scan_delay_ms)
            return None
        watcher.start()
        return watcher

    def _fenced(self) -> bool:
        """True when another instance fenced one of this process's producers; logs it once."""
        for task in self.tasks:
            if isinstance(task.error, FencedError):
                log.error("[%s] another connector instance took over transactional.id %s; this "
                          "instance stops all its tasks now, without committing anything more",
                          task.name, task.producer.transactional_id)
                return True
        return False

    def _all_finished(self) -> bool:
        live = [task for task in self.tasks if task.role == "live"]
        return all(task.status in _FINISHED for task in live)

    def _exit_code(self) -> int:
        halted = [task for task in self.tasks if task.status is TaskStatus.HALTED]
        for task in halted:
            log.error("[%s] halted: %s", task.name, task.error)
        if any(isinstance(task.error, FencedError) for task in halted):
            return 1
        if halted and len(halted) == len(self.tasks):
            return 1
        log.info("connector %s stopped", self.config.name)
        return 0
