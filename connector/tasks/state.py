"""The status machine and shared position of one source task.

    STARTING ──start()──► READY ◄──resume()── PAUSED
                            │  └──pause()──────►┘
                            ├── error ─────────► HALTED
                            ├── hand-off (fill-history only) ► DONE
                            └── stop() ► STOPPING ► STOPPED

The scanner thread moves WAL entries into the input queue while the task's
sink thread publishes them; ``lock`` serializes everything that touches the
reader, the queue and ``next_process_ver`` so the two never interleave.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field

from connector.errors import ConnectorError
from connector.tasks.queue import InputQueue

__all__ = ["TaskState", "TaskStatus"]


class TaskStatus(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    PAUSED = "paused"
    HALTED = "halted"
    DONE = "done"
    STOPPING = "stopping"
    STOPPED = "stopped"


# Status changes a caller may request; anything else is a programming error.
_ALLOWED = {
    TaskStatus.STARTING: {TaskStatus.READY, TaskStatus.HALTED, TaskStatus.STOPPING, TaskStatus.DONE},
    TaskStatus.READY: {TaskStatus.PAUSED, TaskStatus.HALTED, TaskStatus.STOPPING, TaskStatus.DONE},
    TaskStatus.PAUSED: {TaskStatus.READY, TaskStatus.HALTED, TaskStatus.STOPPING},
    TaskStatus.DONE: {TaskStatus.STOPPING},
    TaskStatus.HALTED: {TaskStatus.STOPPING},
    TaskStatus.STOPPING: {TaskStatus.STOPPED},
    TaskStatus.STOPPED: set(),
}


@dataclass
class TaskState:
    """Mutable state shared by a task's scanner side and sink side.

    ``next_process_ver`` follows the reader (the version after the last
    entry put into the queue); ``committed_ver`` follows the broker (every
    version below it is in Kafka).  ``fill_range`` is set for fill-history
    tasks.
    """

    name: str
    queue: InputQueue
    status: TaskStatus = TaskStatus.STARTING
    error: ConnectorError | None = None
    next_process_ver: int | None = None
    committed_ver: int | None = None
    reader_positioned: bool = False
    feed_stopped: bool = False
    skip_to: int | None = None
    fill_range: tuple[int, int] | None = None
    handoff_queued: bool = False
    handed_off: bool = False
    retry_at: float = 0.0
    # (first, last published, changed through) of each rewind alarm, for status output and tests.
    rewinds: list[tuple[int, int, int]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def move_to(self, status: TaskStatus) -> None:
        """Change the status, rejecting changes the machine does not allow."""
        if status is self.status:
            return
        if status not in _ALLOWED[self.status]:
            raise ValueError(f"task {self.name}: cannot go from {self.status.value} to {status.value}")
        self.status = status
