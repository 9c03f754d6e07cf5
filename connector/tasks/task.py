"""A source task: one vnode WAL published to one topic, from its checkpoint onwards.

The task joins two sides that run on different threads (see TaskState):

* the scanner side (WalFeed) checks readiness, positions the reader and moves
  complete entries into the bounded input queue;
* the sink side (Publisher) publishes the queued items, each run of versions
  in one transaction with its checkpoint.

A fill-history task reads a fixed range [from, to] chosen when it is first
created, publishes a hand-off marker after ``to`` and stops.  The live task of
the same vnode starts at ``to + 1`` and takes no WAL data until the marker is
committed.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Callable

from connector.config import ConnectorConfig, TaskConfig
from connector.decode import catalog_from_config
from connector.errors import ConfigError, ConnectorError, WalError
from connector.sink.producer import Checkpoint, TaskProducer
from connector.sink.records import RecordContext
from connector.tasks.feed import WalFeed
from connector.tasks.publish import Publisher
from connector.tasks.queue import InputQueue
from connector.tasks.state import TaskState, TaskStatus
from connector.tasks.vnode import VnodeInfo, read_vnode_info
from connector.wal import WalReader, wal_bounds

__all__ = ["SourceTask", "TaskHalted", "TaskStatus"]

log = logging.getLogger(__name__)

# Message types whose bodies change the schema catalog (CREATE_TABLE,
# ALTER_TABLE, DROP_TABLE, CREATE_STB, ALTER_STB, DROP_STB).
_DDL_MSG_TYPES = frozenset({515, 517, 519, 531, 533, 535})


class TaskHalted(ConnectorError):
    """Raised by ``SourceTask.start`` when a task cannot begin; the cause is chained."""


class SourceTask:
    """Publish one vnode WAL to one topic, resuming from the committed checkpoint."""

    def __init__(self, config: ConnectorConfig, task: TaskConfig, *,
                 index: int = 0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = time.sleep,
                 producer: TaskProducer | None = None,
                 role: str = "live",
                 history: SourceTask | None = None) -> None:
        """``role`` is "live" or "fill-history"; a live task with a ``history`` task waits for its hand-off."""
        self.config = config
        self.task = task
        self.role = role
        self.name = task.name if role == "live" else f"{task.name}.{role}"
        self._config_key = f"tasks[{index}]"
        self._clock = clock
        self._sleep = sleep
        self.history = history
        if not os.path.isdir(task.wal_dir):
            raise ConfigError(f"{self._config_key}.wal_dir: {task.wal_dir!r} is not a directory; "
                              f"point it at a vnode's wal/ directory")
        self.vnode: VnodeInfo = read_vnode_info(
            task.wal_dir, configured_vg_id=task.vgroup_id, key=f"{self._config_key}.vgroup_id",
            configured_precision=task.precision, precision_key=f"{self._config_key}.precision")
        self.producer = producer or TaskProducer(config, task, role=role)
        self.state = TaskState(name=self.name, queue=InputQueue(max_items=config.queue_max_items,
                                                               max_bytes=config.queue_max_bytes))
        self._reader = WalReader(task.wal_dir)
        self._catalog = catalog_from_config(config.table_schemas)
        self._context = RecordContext(connector=config.name, task=self.name,
                                      vg_id=self.vnode.vg_id, precision=self.vnode.precision)
        gate = (lambda: history.state.handed_off) if history is not None else None
        self.feed = WalFeed(self.state, task, self._reader, clock=clock, gate=gate)
        self.publisher = Publisher(self.state, config, task, producer=self.producer,
                                   catalog=self._catalog, context=self._context,
                                   reader=self._reader, vg_id=self.vnode.vg_id, clock=clock)

    # -- properties read by the runtime, status output and tests ---------------------------

    @property
    def status(self) -> TaskStatus:
        return self.state.status

    @property
    def error(self) -> ConnectorError | None:
        return self.state.error

    @property
    def next_process_ver(self) -> int | None:
        return self.state.next_process_ver

    @property
    def committed_ver(self) -> int | None:
        return self.state.committed_ver

    # -- start -------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect to Kafka, read the checkpoint and restore the catalog; halts the task on failure.

        The reader is positioned later, by the first scan pass (scan rule 4).
        """
        try:
            self._start()
        except ConnectorError as err:
            self.publisher.halt(err, version=self.state.next_process_ver)
            raise TaskHalted(str(err)) from err

    def _start(self) -> None:
        checkpoint = self.producer.start()
        bounds = wal_bounds(self.task.wal_dir)
        if checkpoint is not None:
            start_version = self._resume_at(checkpoint, bounds.first_version, bounds.last_version)
        else:
            start_version = self._initial_version(bounds.first_version, bounds.last_version)
        self._restore_catalog(bounds.first_version, start_version)
        with self.state.lock:
            self.state.next_process_ver = start_version
            self.state.committed_ver = start_version
        if self.state.handed_off:
            self.state.move_to(TaskStatus.DONE)
        else:
            self.state.move_to(TaskStatus.READY)

    def _resume_at(self, checkpoint: Checkpoint, first: int, last: int) -> int:
        if checkpoint.vg_id is not None and checkpoint.vg_id != self.vnode.vg_id:
            raise WalError(
                f"[{self.name}] the checkpoint {checkpoint.next_version} in group "
                f"{self.producer.group_id!r} belongs to vgroup {checkpoint.vg_id} "
                f"(WAL {checkpoint.wal_dir}), but {self.task.wal_dir} is vgroup "
                f"{self.vnode.vg_id}; refusing to resume")
        if checkpoint.next_version > last + 1:
            raise WalError(
                f"[{self.name}] the checkpoint nextProcessVer {checkpoint.next_version} is ahead of "
                f"the WAL, whose last version is {last}: the vnode may have been rebuilt, the "
                f"database recreated or the directory restored; reset the group "
                f"{self.producer.group_id!r} offset of topic {self.task.topic!r} to resume")
        if self.role == "fill-history":
            if checkpoint.fill_range is None:
                raise WalError(f"[{self.name}] the checkpoint has no fill-history range")
            self.state.fill_range = checkpoint.fill_range
            self.state.handed_off = checkpoint.handed_off
        log.info("[%s] resuming at nextProcessVer %d from the committed checkpoint of group %s "
                 "(WAL holds versions %d..%d)", self.name, checkpoint.next_version,
                 self.producer.group_id, first, last)
        return checkpoint.next_version

    def _initial_version(self, first: int, last: int) -> int:
        if self.role == "fill-history":
            fill = self.task.fill_history
            assert fill is not None
            to_version = last if fill.to_version is None else fill.to_version
            self.state.fill_range = (fill.from_version, to_version)
            log.info("[%s] no checkpoint; fill-history range fixed at %d..%d", self.name,
                     fill.from_version, to_version)
            return fill.from_version
        if self.history is not None:
            assert self.history.state.fill_range is not None
            version = self.history.state.fill_range[1] + 1
            log.info("[%s] no checkpoint; starting at version %d, after the fill-history range",
                     self.name, version)
            return version
        position = self.task.initial_position
        if position == "earliest":
            version = first
        elif position == "latest":
            version = last + 1
        else:
            version = int(position)
        log.info("[%s] no checkpoint in group %s for topic %s; starting at version %d "
                 "(initial_position %s, WAL holds versions %d..%d)", self.name,
                 self.producer.group_id, self.task.topic, version, position, first, last)
        return version

    def _restore_catalog(self, first: int, start_version: int) -> None:
        """Rebuild the schema catalog as it stood at the checkpoint.

        The schema-history topic contains every change committed with an earlier
        checkpoint.  When it is empty (a new task, or a topic written before
        the history existed) the retained DDL before the start version is
        replayed from the WAL instead, and its changes are persisted with the
        next transaction.
        """
        history = self.producer.read_schema_history()
        for change in history:
            self._catalog.apply_change(change)
        self._catalog.record_changes = True
        if history:
            log.info("[%s] restored %d schema catalog change(s) from %s", self.name, len(history),
                     self.task.history_topic)
        # A live task waiting for its fill-history task cannot rely on the
        # history topic: DDL in the part of the range not yet published is
        # not there yet, so it reads the DDL before its start from the WAL too.
        waiting = self.history is not None and not self.history.state.handed_off
        if not history or waiting:
            self._replay_ddl(first, start_version)

    def _replay_ddl(self, first: int, stop: int) -> None:
        """Feed the catalog with the DDL entries in ``[first, stop)``.

        NOTE: only DDL retained in the WAL is seen; older schemas must come
        from ``table_schemas``.  Tables auto-created by SUBMITs before the
        start version are not replayed, so their names stay unknown.
        """
        if stop <= first:
            return
        with WalReader(self.task.wal_dir) as reader:
            reader.seek(first)
            while reader.next_version is not None and reader.next_version < stop:
                entry = reader.next_entry()
                if entry is None:
                    break
                if entry.msg_type in _DDL_MSG_TYPES:
                    self.publisher.decode(entry)

    # -- scanner protocol ------------------------------------------------------------------

    def is_paused(self) -> bool:
        return self.state.status is TaskStatus.PAUSED

    def ready_for_wal(self) -> bool:
        return self.feed.ready_for_wal()

    def position_reader(self) -> None:
        self.feed.position_reader()

    def fill_queue(self) -> int:
        return self.feed.fill_queue()

    # -- sink side ---------------------------------------------------------------------------

    def sink_step(self) -> bool:
        return self.publisher.step()

    def has_queued_items(self) -> bool:
        return len(self.state.queue) > 0

    def refresh_checkpoint(self) -> bool:
        return self.publisher.refresh_checkpoint()

    # -- control -------------------------------------------------------------------------------

    def pause(self) -> None:
        """Stop taking WAL data; queued items are still published, nothing is read twice."""
        with self.state.lock:
            if self.state.status is TaskStatus.READY:
                self.state.move_to(TaskStatus.PAUSED)
                log.info("[%s] paused at nextProcessVer %s", self.name, self.state.next_process_ver)

    def resume(self) -> None:
        with self.state.lock:
            if self.state.status is TaskStatus.PAUSED:
                self.state.move_to(TaskStatus.READY)
                log.info("[%s] resumed at nextProcessVer %s", self.name, self.state.next_process_ver)

    def skip_to(self, version: int) -> None:
        """Ask the next scan pass to jump to ``version``, publishing a gap record for the skipped range."""
        with self.state.lock:
            self.state.skip_to = version

    def begin_stop(self) -> None:
        with self.state.lock:
            if self.state.status not in (TaskStatus.STOPPING, TaskStatus.STOPPED):
                self.state.move_to(TaskStatus.STOPPING)

    def stop(self) -> None:
        """Close the reader and the producer; committed work stays committed.

        A halted task keeps its HALTED status, so the runtime can report it.
        """
        if self.state.status is not TaskStatus.HALTED:
            self.begin_stop()
        self._reader.close()
        self.producer.close()
        if self.state.status is TaskStatus.STOPPING:
            self.state.move_to(TaskStatus.STOPPED)
        if self.state.committed_ver is None:
            log.info("[%s] stopped before reading its checkpoint", self.name)
            return
        publisher = self.publisher
        log.info("[%s] stopped at nextProcessVer %d; this run committed %d version(s) and "
                 "%d record(s) in %d transaction(s)", self.name, self.state.committed_ver,
                 publisher.versions_published, publisher.records_published, publisher.transactions)

    # -- synchronous driving, for --once and tests ----------------------------------------------

    def poll(self) -> bool:
        """Run one scan step and one sink step on the calling thread; True if a step committed or halted."""
        if self.ready_for_wal():
            self.position_reader()
            self.fill_queue()
        return self.sink_step()

    def drain(self) -> None:
        """Run sink steps until the queue is empty or the task can no longer publish."""
        while self.has_queued_items() and self.sink_step():
            pass

    def run_until_idle(self, *, max_passes: int = 1_000_000) -> None:
        """Scan and publish on the calling thread until no complete entry is left.

        A failed publish is retried after its back-off, so this returns only
        when everything complete is committed or the task cannot go on.
        """
        for _ in range(max_passes):
            wait = self.state.retry_at - self._clock()
            if self.state.status is TaskStatus.READY and wait > 0:
                self._sleep(wait)
                continue
            if self.ready_for_wal():
                self.position_reader()
                moved = self.fill_queue()
            else:
                moved = 0
            self.drain()
            if moved == 0 and not self.has_queued_items():
                return

