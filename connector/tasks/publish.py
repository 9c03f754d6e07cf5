"""The sink side of a task: turn queued items into records and commit them with the checkpoint.

One ``step`` takes the items at the front of the queue (at most
``max_versions_per_transaction`` entries, and a marker only on its own),
decodes the entries, and publishes their records together with the new
checkpoint and the schema catalog's changes.  Only a confirmed publish moves
``committed_ver``.  A retriable failure rewinds the reader to the committed
checkpoint and blocks the task's output until a back-off passes.  Any other
failure halts the task at the first version that is not in Kafka.
"""

from __future__ import annotations

import logging
from typing import Callable

from connector.config import ConnectorConfig, TaskConfig
from connector.decode import decode_message, msg_type_name
from connector.decode.catalog import CatalogChange, SchemaCatalog
from connector.decode.model import SubmitMessage
from connector.errors import ConnectorError, DecodeError, SinkError, UnsupportedFormatError
from connector.sink.producer import Checkpoint, TaskProducer
from connector.sink.records import OutRecord, RecordContext, build_records, gap_record, handoff_record
from connector.tasks.queue import GapMarker, HaltMarker, HandOffMarker
from connector.tasks.state import TaskState, TaskStatus
from connector.wal import WalReader
from connector.wal._format import WalEntry

__all__ = ["Publisher"]

log = logging.getLogger(__name__)

_MAX_RETRY_DELAY_S = 30.0


class FailureStreak:
    """Log a run of the same retriable failure once, with counts instead of repeats.

    The first failure logs a warning with its cause.  Later ones only count,
    with a summary at most every ``summary_interval_s``.  The first success
    logs how many attempts failed and for how long.
    """

    def __init__(self, name: str, clock: Callable[[], float], *, summary_interval_s: float = 60.0) -> None:
        self.name = name
        self._clock = clock
        self._interval = summary_interval_s
        self.attempts = 0
        self._first_at = 0.0
        self._summary_at = 0.0

    def failed(self, version: int | None, err: Exception, retry_in_s: float) -> None:
        now = self._clock()
        self.attempts += 1
        if self.attempts == 1:
            self._first_at = self._summary_at = now
            log.warning("[%s] publishing from version %s failed; retrying with back-off "
                        "(first retry in %.1f s): %s", self.name, version, retry_in_s, err)
        elif now - self._summary_at >= self._interval:
            self._summary_at = now
            log.warning("[%s] still failing from version %s: %d attempts in %.0f s; last error: %s",
                        self.name, version, self.attempts, now - self._first_at, err)
        else:
            log.debug("[%s] attempt %d failed: %s", self.name, self.attempts, err)

    def succeeded(self) -> None:
        if self.attempts:
            log.warning("[%s] publishing recovered after %d failed attempt(s) over %.0f s",
                        self.name, self.attempts, self._clock() - self._first_at)
        self.attempts = 0


class Publisher:
    """Publish one task's queued items through its TaskProducer."""

    def __init__(self, state: TaskState, config: ConnectorConfig, task: TaskConfig, *,
                 producer: TaskProducer, catalog: SchemaCatalog, context: RecordContext,
                 reader: WalReader, vg_id: int, clock: Callable[[], float]) -> None:
        self.state = state
        self.config = config
        self.task = task
        self.producer = producer
        self.catalog = catalog
        self.context = context
        self._reader = reader
        self._vg_id = vg_id
        self._clock = clock
        self._retry_delay = 0.5
        self.failures = FailureStreak(state.name, clock)
        self._pending_changes: list[CatalogChange] = []
        self.last_commit_at = clock()
        self.transactions = 0
        self.versions_published = 0
        self.records_published = 0

    # -- the step ------------------------------------------------------------------

    def step(self) -> bool:
        """Publish the items at the front of the queue; return True if anything was committed or halted."""
        state = self.state
        if state.status in (TaskStatus.HALTED, TaskStatus.STOPPED) or self._clock() < state.retry_at:
            return False
        head = state.queue.peek()
        if head is None:
            return False
        if isinstance(head, WalEntry):
            return self._publish_entries()
        state.queue.take(1)
        if isinstance(head, GapMarker):
            record = gap_record(self.context, first_missing=head.first_missing,
                                last_missing=head.last_missing, reason=head.reason)
            return self._commit([record], head.last_missing + 1, first=head.first_missing)
        if isinstance(head, HandOffMarker):
            record = handoff_record(self.context, from_version=head.from_version,
                                    to_version=head.to_version)
            if self._commit([record], head.to_version + 1, first=head.to_version, handed_off=True):
                state.handed_off = True
                state.move_to(TaskStatus.DONE)
                log.info("[%s] published the hand-off marker after version %d; the live task "
                         "continues at %d", state.name, head.to_version, head.to_version + 1)
            return True
        assert isinstance(head, HaltMarker)
        self.halt(head.error, version=head.version)
        return True

    def _publish_entries(self) -> bool:
        state = self.state
        records: list[OutRecord] = []
        entries: list[WalEntry] = []
        stop: tuple[ConnectorError, int] | None = None
        while len(entries) < self.config.max_versions_per_transaction \
                and len(records) < self.config.max_records_per_transaction:
            head = state.queue.peek()
            if not isinstance(head, WalEntry):
                break
            try:
                message = self.decode(head)
            except DecodeError as err:
                stop = (err, head.version)
                break
            state.queue.take(1)
            entries.append(head)
            records.extend(build_records(self.context, version=head.version,
                                         ingest_ts=head.ingest_ts, msg_type=head.msg_type,
                                         msg_type_name=msg_type_name(head.msg_type),
                                         message=message))
        if entries and not self._commit(records, entries[-1].version + 1,
                                        first=entries[0].version):
            return True
        if stop is not None:
            state.queue.clear()
            self.halt(stop[0], version=stop[1])
        return True

    # -- decoding ------------------------------------------------------------------------

    def decode(self, entry: WalEntry) -> object:
        """Decode one entry, checking it against the configured release; errors name file, offset and version."""
        try:
            message = decode_message(entry.msg_type, entry.body, self.catalog)
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

    # -- committing ------------------------------------------------------------------------

    def _checkpoint(self, next_version: int, *, handed_off: bool = False) -> Checkpoint:
        return Checkpoint(next_version=next_version, vg_id=self._vg_id, wal_dir=self.task.wal_dir,
                          fill_range=self.state.fill_range,
                          handed_off=handed_off or self.state.handed_off)

    def _commit(self, records: list[OutRecord], next_version: int, *, first: int,
                handed_off: bool = False) -> bool:
        """Publish ``records`` with the checkpoint ``next_version``; False if the publish failed."""
        state = self.state
        # Changes stay pending until a publish succeeds: a rewind re-decodes the
        # same DDL, and the catalog records nothing for an update it already has.
        self._pending_changes.extend(self.catalog.drain_changes())
        try:
            self.producer.publish(records, self._checkpoint(next_version, handed_off=handed_off),
                                  self._pending_changes)
        except SinkError as err:
            if err.retriable:
                self._rewind_after(err)
            else:
                self.halt(err, version=state.committed_ver)
            return False
        log.debug("[%s] committed versions %d..%d (%d records)", state.name, first,
                  next_version - 1, len(records))
        self._pending_changes = []
        self.failures.succeeded()
        self.transactions += 1
        self.versions_published += max(next_version - first, 0)
        self.records_published += len(records)
        self._retry_delay = 0.5
        self.last_commit_at = self._clock()
        with state.lock:
            state.committed_ver = next_version
        return True

    def refresh_checkpoint(self) -> bool:
        """Re-commit the unchanged checkpoint so the broker's offset retention cannot expire it."""
        state = self.state
        if state.committed_ver is None or state.status not in (TaskStatus.READY, TaskStatus.PAUSED,
                                                               TaskStatus.DONE):
            return False
        if self._clock() - self.last_commit_at < self.config.checkpoint_refresh_interval_ms / 1000:
            return False
        if len(state.queue):
            return False
        committed = state.committed_ver
        if self._commit([], committed, first=committed):
            log.info("[%s] re-committed the idle checkpoint %d", state.name, committed)
            return True
        return False

    def _rewind_after(self, err: SinkError) -> None:
        """Go back to the committed checkpoint and block the task's output during a back-off."""
        state = self.state
        with state.lock:
            committed = state.committed_ver
            assert committed is not None
            self.failures.failed(committed, err, self._retry_delay)
            state.queue.clear()
            state.handoff_queued = False
            state.feed_stopped = False
            self._reader.seek(committed)
            state.next_process_ver = committed
            state.reader_positioned = True
            state.retry_at = self._clock() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, _MAX_RETRY_DELAY_S)

    def halt(self, err: ConnectorError, *, version: int | None) -> None:
        """Halt the task: log the error once with its version; the checkpoint stays."""
        state = self.state
        with state.lock:
            if state.status in (TaskStatus.HALTED, TaskStatus.STOPPED):
                return
            state.status = TaskStatus.HALTED
            state.error = err
            state.feed_stopped = True
        where = f" at version {version}" if version is not None else " before it started"
        checkpoint = (f"the checkpoint stays at {state.committed_ver}"
                      if state.committed_ver is not None else "no checkpoint was committed")
        log.error("[%s] task halted%s; %s: %s", state.name, where, checkpoint, err)
