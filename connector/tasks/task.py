"""A source task: one vnode WAL published to one topic, from its checkpoint onwards.

Each ``poll`` is one step: read the complete entries after ``nextProcessVer``
(bounded by versions and records per transaction), decode them, build their
records and hand them to the sink together with the new checkpoint.  The
checkpoint only moves when the sink confirms, so a failure anywhere leaves it
at the first version that is not safely in Kafka.

Errors decide the next state through ``ConnectorError.retriable``.  A
retriable sink error rewinds the reader to the committed checkpoint and
retries after a back-off.  Any other error halts the task at the failing
version, once the versions before it are published.
"""

from __future__ import annotations

import enum
import logging
import os
import time
from typing import Callable

from connector.config import ConnectorConfig, TaskConfig
from connector.decode import catalog_from_config, decode_message, msg_type_name
from connector.decode.catalog import CatalogChange
from connector.decode.model import SubmitMessage
from connector.errors import (
    ConfigError,
    ConnectorError,
    DecodeError,
    SinkError,
    UnsupportedFormatError,
    WalCorruptionError,
    WalError,
)
from connector.sink.producer import Checkpoint, TaskProducer
from connector.sink.records import OutRecord, RecordContext, build_records
from connector.tasks.vnode import VnodeInfo, read_vnode_info
from connector.wal import WalReader, wal_bounds
from connector.wal._format import WalEntry

__all__ = ["SourceTask", "TaskHalted", "TaskStatus"]

log = logging.getLogger(__name__)

# Message types whose bodies change the schema catalog (CREATE_TABLE,
# ALTER_TABLE, DROP_TABLE, CREATE_STB, ALTER_STB, DROP_STB).
_DDL_MSG_TYPES = frozenset({515, 517, 519, 531, 533, 535})

_MAX_RETRY_DELAY_S = 30.0


class TaskStatus(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    HALTED = "halted"
    STOPPED = "stopped"


class TaskHalted(ConnectorError):
    """Raised by ``SourceTask.start`` when a task cannot begin; the cause is chained."""


class SourceTask:
    """Publish one vnode WAL to one topic, resuming from the committed checkpoint."""

    def __init__(self, config: ConnectorConfig, task: TaskConfig, *,
                 index: int = 0,
                 clock: Callable[[], float] = time.monotonic,
                 producer: TaskProducer | None = None) -> None:
        self.config = config
        self.task = task
        self.name = task.name
        self._config_key = f"tasks[{index}]"
        self._clock = clock
        self.producer = producer or TaskProducer(config, task)
        self.status = TaskStatus.STARTING
        self.error: ConnectorError | None = None
        self.next_process_ver: int | None = None
        self.committed_ver: int | None = None
        if not os.path.isdir(task.wal_dir):
            raise ConfigError(f"{self._config_key}.wal_dir: {task.wal_dir!r} is not a directory; "
                              f"point it at a vnode's wal/ directory")
        self.vnode: VnodeInfo = read_vnode_info(
            task.wal_dir, configured_vg_id=task.vgroup_id, key=f"{self._config_key}.vgroup_id",
            configured_precision=task.precision, precision_key=f"{self._config_key}.precision")
        self._reader = WalReader(task.wal_dir)
        self._catalog = catalog_from_config(config.table_schemas)
        self._context: RecordContext | None = None
        self._retry_at = 0.0
        self._retry_delay = 0.5
        self._pending_changes: list[CatalogChange] = []
        self.transactions = 0
        self.versions_published = 0
        self.records_published = 0

    # -- start ---------------------------------------------------------------

    def start(self) -> None:
        """Connect to Kafka, read the checkpoint and position the reader; halts the task on failure."""
        try:
            self._start()
        except ConnectorError as err:
            self._halt(err, version=self.next_process_ver)
            raise TaskHalted(str(err)) from err

    def _start(self) -> None:
        self._context = RecordContext(connector=self.config.name, task=self.name,
                                      vg_id=self.vnode.vg_id, precision=self.vnode.precision)
        checkpoint = self.producer.start()
        bounds = wal_bounds(self.task.wal_dir)

        if checkpoint is not None:
            if checkpoint.vg_id is not None and checkpoint.vg_id != self.vnode.vg_id:
                raise WalError(
                    f"[{self.name}] the checkpoint {checkpoint.next_version} in group "
                    f"{self.config.group_id!r} belongs to vgroup {checkpoint.vg_id} "
                    f"(WAL {checkpoint.wal_dir}), but {self.task.wal_dir} is vgroup "
                    f"{self.vnode.vg_id}; refusing to resume")
            start_version = checkpoint.next_version
            log.info("[%s] resuming at nextProcessVer %d from the committed checkpoint of group %s "
                     "(WAL holds versions %d..%d)", self.name, start_version, self.config.group_id,
                     bounds.first_version, bounds.last_version)
        else:
            start_version = self._initial_version(bounds.first_version, bounds.last_version)

        self._restore_catalog(bounds.first_version, start_version)
        self._reader.seek(start_version)
        self.next_process_ver = start_version
        self.committed_ver = start_version
        self.status = TaskStatus.READY

    def _initial_version(self, first: int, last: int) -> int:
        position = self.task.initial_position
        if position == "earliest":
            version = first
        elif position == "latest":
            version = last + 1
        else:
            version = int(position)
        log.info("[%s] no checkpoint in group %s for topic %s; starting at version %d "
                 "(initial_position %s, WAL holds versions %d..%d)", self.name,
                 self.config.group_id, self.task.topic, version, position, first, last)
        return version

    def _restore_catalog(self, first: int, start_version: int) -> None:
        """Rebuild the schema catalog as it stood at the checkpoint.

        The schema-history topic holds every change committed with an earlier
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
            return
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
                    self._decode(entry)

    # -- steps -----------------------------------------------------------------

    def is_ready(self) -> bool:
        """True when the task may take WAL data now (running and not backing off after an error)."""
        return self.status is TaskStatus.READY and self._clock() >= self._retry_at

    def retry_pending(self) -> bool:
        """True while the task waits out the back-off after a retriable publish failure."""
        return self.status is TaskStatus.READY and self._clock() < self._retry_at

    def poll(self) -> bool:
        """Publish the next run of complete entries; return True if any entry was processed."""
        if not self.is_ready():
            return False
        records: list[OutRecord] = []
        processed = 0
        stop_error: ConnectorError | None = None
        next_version = self.next_process_ver
        assert next_version is not None

        while (processed < self.config.max_versions_per_transaction
               and len(records) < self.config.max_records_per_transaction):
            try:
                entry = self._reader.next_entry()
                if entry is None:
                    break
                message = self._decode(entry)
            except (WalCorruptionError, DecodeError) as err:
                stop_error = err
                break
            records.extend(self._records_for(entry, message))
            processed += 1
            next_version = entry.version + 1

        if processed and not self._publish(records, next_version):
            return False
        if stop_error is not None:
            self._halt(stop_error, version=self.next_process_ver)
        return processed > 0

    def _decode(self, entry: WalEntry) -> object:
        try:
            message = decode_message(entry.msg_type, entry.body, self._catalog)
            self._check_release(message)
            return message
        except DecodeError as err:
            err.args = (f"{entry.log_path}: entry at offset {entry.offset}, version "
                        f"{entry.version}, msgType {entry.msg_type}: {err}",)
            raise

    def _check_release(self, message: object) -> None:
        """Reject a SUBMIT whose table-block encoding contradicts ``connector.tdengine_release``.

        TDengine 3.3.0 added the encoding version in bits 8-15 of the block
        flags; a 3.2 server never sets it, and a 3.3 server always does.
        """
        release = self.config.tdengine_release
        if release is None or not isinstance(message, SubmitMessage):
            return
        expected = 1 if release >= (3, 3) else 0
        for block in message.blocks:
            if block.encoding_version != expected:
                configured = ".".join(str(part) for part in release)
                raise UnsupportedFormatError(
                    f"table block of uid {block.uid} has encoding version {block.encoding_version}, "
                    f"but TDengine {configured} (connector.tdengine_release) writes version "
                    f"{expected}; set tdengine_release to the release that wrote this WAL, or auto")

    def _records_for(self, entry: WalEntry, message: object) -> list[OutRecord]:
        assert self._context is not None
        return build_records(self._context, version=entry.version, ingest_ts=entry.ingest_ts,
                             msg_type=entry.msg_type,
                             msg_type_name=msg_type_name(entry.msg_type), message=message)

    def _publish(self, records: list[OutRecord], next_version: int) -> bool:
        checkpoint = Checkpoint(next_version=next_version, vg_id=self.vnode.vg_id,
                                wal_dir=self.task.wal_dir)
        # Changes stay pending until a publish succeeds: a rewind re-decodes the
        # same DDL, and the catalog records nothing for an update it already has.
        self._pending_changes.extend(self._catalog.drain_changes())
        try:
            self.producer.publish(records, checkpoint, self._pending_changes)
        except SinkError as err:
            if not err.retriable:
                self._halt(err, version=self.committed_ver)
                return False
            self._rewind_after(err)
            return False
        log.debug("[%s] committed versions %d..%d (%d records)", self.name,
                  self.committed_ver, next_version - 1, len(records))
        assert self.committed_ver is not None
        self._pending_changes = []
        self.transactions += 1
        self.versions_published += next_version - self.committed_ver
        self.records_published += len(records)
        self.next_process_ver = next_version
        self.committed_ver = next_version
        self._retry_delay = 0.5
        return True

    def _rewind_after(self, err: SinkError) -> None:
        """Go back to the committed checkpoint and wait before trying again."""
        assert self.committed_ver is not None
        log.warning("[%s] publishing from version %d failed, retrying in %.1f s: %s",
                    self.name, self.committed_ver, self._retry_delay, err)
        self._reader.seek(self.committed_ver)
        self.next_process_ver = self.committed_ver
        self._retry_at = self._clock() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, _MAX_RETRY_DELAY_S)

    def _halt(self, err: ConnectorError, *, version: int | None) -> None:
        self.status = TaskStatus.HALTED
        self.error = err
        where = f" at version {version}" if version is not None else " before it started"
        checkpoint = (f"the checkpoint stays at {self.committed_ver}" if self.committed_ver is not None
                      else "no checkpoint was committed")
        log.error("[%s] task halted%s; %s: %s", self.name, where, checkpoint, err)

    def stop(self) -> None:
        """Close the reader and the producer; committed work stays committed."""
        self._reader.close()
        self.producer.close()
        if self.status is not TaskStatus.HALTED:
            self.status = TaskStatus.STOPPED
        if self.committed_ver is None:
            log.info("[%s] stopped before reading its checkpoint", self.name)
            return
        log.info("[%s] stopped at nextProcessVer %d; this run committed %d version(s) and "
                 "%d record(s) in %d transaction(s)", self.name, self.committed_ver,
                 self.versions_published, self.records_published, self.transactions)
