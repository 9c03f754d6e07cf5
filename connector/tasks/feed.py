"""The scanner's side of a task: readiness, reader positioning and filling the input queue.

Everything here runs on the scanner thread under the task's lock.  Errors do
not escape: an error at version V becomes a HaltMarker in the queue, so the
sink step first publishes every version before V and then halts the task.
"""

from __future__ import annotations

import logging
from typing import Callable

from connector.config import TaskConfig
from connector.errors import ConnectorError, WalError, WalGapError
from connector.tasks.queue import GapMarker, HaltMarker, HandOffMarker, QueueItem
from connector.tasks.state import TaskState, TaskStatus
from connector.wal import WalReader, read_meta
from connector.wal.reader import first_retained_version

__all__ = ["WalFeed"]

log = logging.getLogger(__name__)


class WalFeed:
    """Move a vnode's WAL entries into one task's input queue, following the scan rules."""

    def __init__(self, state: TaskState, task: TaskConfig, reader: WalReader, *,
                 clock: Callable[[], float], gate: Callable[[], bool] | None = None) -> None:
        self.state = state
        self.task = task
        self.reader = reader
        self._clock = clock
        self._gate = gate
        self.sink_ready = True

    # -- rule 3 ------------------------------------------------------------------

    def ready_for_wal(self) -> bool:
        """True when the task may take WAL data in this pass.

        Every condition must hold: the task is READY and its sink connected.
        It is not a fill-history task that already queued its hand-off, nor
        a live task waiting for its fill-history task to hand off.  Its queue
        is not full, and no failed publish is waiting out its retry back-off.
        """
        state = self.state
        return (state.status is TaskStatus.READY
                and self.sink_ready
                and not state.feed_stopped
                and not state.handoff_queued
                and (self._gate is None or self._gate())
                and not state.queue.is_full()
                and self._clock() >= state.retry_at)

    # -- rule 4 ------------------------------------------------------------------

    def position_reader(self) -> None:
        """Apply the gap policy, the first seek and an operator's skip-to, in that order."""
        state = self.state
        with state.lock:
            version = state.next_process_ver
            assert version is not None
            try:
                first = first_retained_version(self.task.wal_dir)
            except WalError as err:
                self._stop_feeding(err, version)
                return
            if first is not None and version < first:
                self._apply_gap_policy(version, first)
            elif not state.reader_positioned:
                self._seek(version)
            if state.skip_to is not None and not state.feed_stopped:
                skip_to, state.skip_to = state.skip_to, None
                if skip_to > state.next_process_ver:  # type: ignore[operator]
                    self._skip(skip_to)

    def _apply_gap_policy(self, version: int, first: int) -> None:
        gap = WalGapError(
            f"[{self.state.name}] nextProcessVer {version} is older than the first version the WAL "
            f"retains, {first}: versions {version}..{first - 1} were removed by retention before "
            f"they were published; set gap_policy: forward to skip them with a gap record",
            requested=version, first_retained=first)
        if self.task.gap_policy == "fail":
            self._stop_feeding(gap, version)
            return
        marker = GapMarker(first_missing=version, last_missing=first - 1,
                           reason=f"WAL retention removed versions {version}..{first - 1}")
        if not self._put(marker):
            return
        log.warning("[%s] forwarding from nextProcessVer %d to the first retained version %d; a "
                    "gap record covers %d..%d (gap_policy: forward)", self.state.name, version,
                    first, version, first - 1)
        self._seek(first)

    def _skip(self, skip_to: int) -> None:
        version = self.state.next_process_ver
        assert version is not None
        marker = GapMarker(first_missing=version, last_missing=skip_to - 1,
                           reason=f"skipped by operator request to version {skip_to}")
        if not self._put(marker):
            self.state.skip_to = skip_to  # try again next pass
            return
        log.warning("[%s] skipping versions %d..%d on operator request", self.state.name, version,
                    skip_to - 1)
        self._seek(skip_to)

    def _seek(self, version: int) -> None:
        try:
            self.reader.seek(version)
        except WalError as err:
            self._stop_feeding(err, version)
            return
        self.state.next_process_ver = version
        self.state.reader_positioned = True

    # -- rules 5 and 6 ---------------------------------------------------------------

    def fill_queue(self) -> int:
        """Move complete entries into the queue; return how many items were queued.

        Stops when the WAL has no more complete entries, or when a
        fill-history task passes its range, or when ``publish_up_to: commit``
        holds back versions above the meta file's commitVer.  It also stops
        when the queue is full: the reader then seeks back to
        ``next_process_ver``, so nothing is lost or skipped.
        """
        state = self.state
        queued = 0
        with state.lock:
            if state.feed_stopped or not state.reader_positioned:
                return 0
            limit = self._commit_limit()
            while True:
                version = state.next_process_ver
                assert version is not None
                if state.fill_range is not None and version > state.fill_range[1]:
                    queued += self._queue_handoff()
                    break
                if limit is not None and version > limit:
                    break
                try:
                    entry = self.reader.next_entry()
                except WalError as err:
                    self._stop_feeding(err, self.reader.next_version or version)
                    queued += 1
                    break
                if self.reader.rewound is not None:
                    self._report_rewind()
                if entry is None:
                    break
                if not state.queue.put(entry):
                    self.reader.seek(entry.version)
                    break
                state.next_process_ver = entry.version + 1
                queued += 1
        return queued

    def _commit_limit(self) -> int | None:
        if self.task.publish_up_to != "commit":
            return None
        meta = read_meta(self.task.wal_dir)
        # commitVer reads -1 right after TDengine reopens a WAL: then nothing is released.
        return meta.commit_version if meta is not None else -1

    def _queue_handoff(self) -> int:
        state = self.state
        assert state.fill_range is not None
        if state.handoff_queued:
            return 0
        marker = HandOffMarker(from_version=state.fill_range[0], to_version=state.fill_range[1])
        if not self._put(marker):
            return 0
        state.handoff_queued = True
        log.info("[%s] fill-history range %d..%d read; queued the hand-off marker",
                 state.name, *state.fill_range)
        return 1

    def _report_rewind(self) -> None:
        state = self.state
        rewind = self.reader.rewound
        self.reader.rewound = None
        assert rewind is not None
        committed = state.committed_ver if state.committed_ver is not None else rewind.first_version
        published_through = min(rewind.last_read, committed - 1)
        if published_through >= rewind.first_version:
            changed = (f"different content for versions {rewind.first_version}..{rewind.changed_through}"
                       if rewind.changed_through >= rewind.first_version else "none of them")
            log.error("[%s] REWIND: versions %d..%d were already published, but the WAL now contains "
                      "%s (raft rollback or repair); the new entries are published again under "
                      "the same versions", state.name, rewind.first_version, published_through,
                      changed)
            state.rewinds.append((rewind.first_version, published_through, rewind.changed_through))
        dropped = state.queue.drop_from(rewind.first_version)
        if dropped:
            log.warning("[%s] dropped %d queued entries from version %d on that were rewound",
                        state.name, dropped, rewind.first_version)
        state.next_process_ver = rewind.first_version

    # -- helpers ---------------------------------------------------------------------

    def _put(self, item: QueueItem) -> bool:
        return self.state.queue.put(item)

    def _stop_feeding(self, error: ConnectorError, version: int) -> None:
        """Queue a HaltMarker, past the queue's bounds if need be, and take no more WAL data."""
        self.state.queue.force_put(HaltMarker(error=error, version=version))
        self.state.feed_stopped = True
