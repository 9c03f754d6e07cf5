"""Write a TDengine 3.x vnode WAL directory the way TDengine's own WAL code does (libs/wal, 3.3.6).

``WalWriter`` mirrors these TDengine functions; the files it leaves are
byte-identical to theirs for the same calls, entries and clock values:

    append            walAppendLog: walCheckAndRoll, then walWriteImpl (3.0.2+ order:
                      .idx slot, 56-byte head, body, as three write() calls)
    roll              walRollImpl: close the segment (closeTs = now), open
                      <lastVer+1>.log/.idx, record it with lastVer -1, save meta
    commit            walCommit (memory only; the next meta save records it)
    begin_snapshot    walBeginSnapshot: remember the version, roll a non-empty segment
    end_snapshot      walEndSnapshot: snapshotVer, delete old segments, save meta
    rollback          walRollback: cut the segment holding the version, drop later ones
    close             walClose: save meta

A size roll happens before an append when the current .log is larger than
``seg_size_bytes`` (so a segment can pass the limit by one entry).

NOTE: time-based rolling (``rollPeriod``) and the extra meta save after
``walFsyncDataSizeLimit`` (100 MiB) unsynced bytes are not implemented.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from types import TracebackType

from connector.errors import WalError
from connector.wal._format import (
    HEAD_CRC_OFFSET,
    HEAD_SIZE,
    HEAD_STRUCT,
    IDX_SLOT_SIZE,
    IDX_STRUCT,
    MAGIC,
    crc32c,
    idx_file_name,
    log_file_name,
)
from connector.wal.meta import list_segments, read_meta
from connector.wal.writer._meta import SegmentInfo, VersionState, save_meta
from connector.wal.writer._recover import repair_segment

__all__ = ["WalWriter"]

log = logging.getLogger(__name__)

# WAL_PROTO_VER: the value of SWalCont.protoVer in every 3.x release.
WAL_PROTO_VER = 0


class WalWriter:
    """Appends entries to one vnode's ``wal/`` directory and maintains its segments and meta file.

    ``clock`` returns the wall clock in whole seconds; it supplies the meta
    ``createTs``/``closeTs`` values and the retention-period test, so tests can
    reproduce TDengine's files exactly.  ``retention_period_s`` (-1 never, 0 at
    once) and ``retention_size_bytes`` (<= 0 no limit) are the WAL retention
    settings ``end_snapshot`` applies.  ``first_version_zero`` reproduces
    3.3's ``walWriteImpl``, which sets meta ``firstVer`` to 0 on the first
    append into an empty WAL; 3.2 sets it to the appended version.

    An existing directory is reopened: its meta is merged with the segment
    files, damaged tails are cut, and ``commitVer`` is reset to
    ``snapshotVer`` as ``walAlignVersions`` does.
    """

    def __init__(
        self,
        wal_dir: str | os.PathLike[str],
        *,
        vg_id: int,
        seg_size_bytes: int = 0,
        retention_period_s: int = -1,
        retention_size_bytes: int = -1,
        clock: Callable[[], int] | None = None,
        fsync: bool = False,
        first_version_zero: bool = True,
    ) -> None:
        self.wal_dir = os.fspath(wal_dir)
        self.vg_id = vg_id
        self.seg_size_bytes = seg_size_bytes
        self.retention_period_s = retention_period_s
        self.retention_size_bytes = retention_size_bytes
        self._clock = clock or (lambda: int(time.time()))
        self._fsync = fsync
        self._first_version_zero = first_version_zero
        self._versions = VersionState()
        self._segments: list[SegmentInfo] = []
        self._log_fd: int | None = None
        self._idx_fd: int | None = None
        self._snapshotting_version = -1
        self._log_retention = 0
        os.makedirs(self.wal_dir, exist_ok=True)
        self._reopen()

    # -- state ---------------------------------------------------------------

    @property
    def first_version(self) -> int:
        return self._versions.first_version

    @property
    def last_version(self) -> int:
        return self._versions.last_version

    @property
    def commit_version(self) -> int:
        return self._versions.commit_version

    @property
    def snapshot_version(self) -> int:
        return self._versions.snapshot_version

    @property
    def segments(self) -> tuple[SegmentInfo, ...]:
        """Copies of the segment records, oldest first, as the next meta save would write them."""
        return tuple(SegmentInfo(s.first_version, s.last_version, s.create_ts, s.close_ts, s.file_size)
                     for s in self._segments)

    # -- appending -----------------------------------------------------------

    def append(
        self,
        msg_type: int,
        body: bytes,
        *,
        ingest_ts: int = 0,
        is_weak: int = 0,
        seq_num: int = 0,
        term: int = 0,
        version: int | None = None,
    ) -> int:
        """Append one entry and return its version (``last_version + 1``).

        ``ingest_ts`` is in microseconds (TDengine 3.3 writes the wall clock,
        3.0-3.2.2 write 0).  ``version``, when given, must be the next version.
        """
        index = self._versions.last_version + 1
        if version is not None and version != index:
            raise WalError(f"{self.wal_dir}: cannot append version {version}; the next version is {index}")
        self._check_and_roll()
        log_fd, idx_fd = self._write_files()
        segment = self._segments[-1]
        offset = segment.file_size

        head = bytearray(HEAD_STRUCT.pack(MAGIC, 0, crc32c(body), index, ingest_ts, len(body), msg_type,
                                          WAL_PROTO_VER, is_weak, seq_num, term))
        HEAD_STRUCT.pack_into(head, 0, MAGIC, crc32c(head[HEAD_CRC_OFFSET:]), crc32c(body), index, ingest_ts,
                              len(body), msg_type, WAL_PROTO_VER, is_weak, seq_num, term)
        _write_all(idx_fd, IDX_STRUCT.pack(index, offset))
        _write_all(log_fd, head)
        _write_all(log_fd, body)

        if self._versions.first_version == -1:
            self._versions.first_version = 0 if self._first_version_zero else index
        self._versions.last_version = index
        segment.last_version = index
        segment.file_size += HEAD_SIZE + len(body)
        return index

    def commit(self, version: int) -> None:
        """Record ``version`` as committed (``walCommit``); a lower version than the current one is ignored."""
        if version < self._versions.commit_version:
            return
        if version > self._versions.last_version:
            raise WalError(f"{self.wal_dir}: cannot commit version {version} beyond the last version "
                           f"{self._versions.last_version}")
        self._versions.commit_version = version

    def roll(self) -> bool:
        """Start a new segment at ``last_version + 1`` and save the meta; return False if the current one is empty.

        TDengine never rolls an empty segment on purpose; rolling one would
        record two segments with the same first version, so it is skipped.
        """
        if self._segments and self._segments[-1].file_size == 0:
            return False
        self._roll()
        return True

    def save_meta(self) -> str:
        """Save ``meta-ver<N+1>`` now and return its path."""
        if self._fsync:
            for fd in (self._idx_fd, self._log_fd):
                if fd is not None:
                    os.fsync(fd)
        return save_meta(self.wal_dir, self._versions, self._segments, fsync=self._fsync)

    # -- retention and rollback ----------------------------------------------

    def begin_snapshot(self, version: int, log_retention: int = 0) -> None:
        """Remember the version a vnode commit covers and roll a non-empty segment (``walBeginSnapshot``, 3.1+)."""
        self._snapshotting_version = version
        self._log_retention = log_retention
        if self._segments and self._segments[-1].file_size != 0:
            self._roll()

    def end_snapshot(self) -> list[int]:
        """Set ``snapshotVer``, delete the segments retention allows, save the meta (``walEndSnapshot``, 3.3.6).

        Segments up to ``snapshot - log_retention`` are candidates. Among
        them, the prefix up to the last one that is over the size limit or
        past its retention period is deleted (period 0 deletes them all).
        Returns the first versions of the deleted segments.
        """
        version = self._snapshotting_version
        if version == -1:
            raise WalError(f"{self.wal_dir}: end_snapshot() called without begin_snapshot()")
        self._versions.snapshot_version = version
        now = self._clock()
        limit = max(version - self._log_retention, self._versions.first_version - 1)
        self._snapshotting_version = -1
        return self._delete_prefix(limit, lambda segment, total: self._retention_allows(segment, total, now))

    def delete_segments_before(self, version: int) -> list[int]:
        """Delete every whole segment whose entries all precede ``version``, then save the meta.

        The same search as ``end_snapshot`` with no retention limits; the
        snapshot version is left unchanged.  Returns the deleted first versions.
        """
        return self._delete_prefix(version - 1, lambda _segment, _total: True)

    def rollback(self, version: int) -> None:
        """Remove ``version`` and every later entry (``walRollback``) and save the meta.

        The .log and .idx of the segment holding ``version`` are cut at its
        entry and .idx slot, later segments are deleted, and the next append
        continues in that segment.  Like TDengine, refuses versions that are
        committed, in the snapshot or not written.
        """
        versions = self._versions
        if version > versions.last_version or version <= versions.commit_version or version <= versions.snapshot_version:
            raise WalError(
                f"{self.wal_dir}: cannot roll back to version {version}: it must be in "
                f"({max(versions.commit_version, versions.snapshot_version)}, {versions.last_version}]"
            )
        self._close_write_files()
        keep = max(i for i, segment in enumerate(self._segments) if segment.first_version <= version)
        for segment in self._segments[keep + 1:]:
            self._unlink_segment(segment.first_version)
        del self._segments[keep + 1:]

        segment = self._segments[-1]
        idx_path = os.path.join(self.wal_dir, idx_file_name(segment.first_version))
        log_path = os.path.join(self.wal_dir, log_file_name(segment.first_version))
        slot = (version - segment.first_version) * IDX_SLOT_SIZE
        offset = self._checked_entry_offset(idx_path, log_path, slot, version)
        os.truncate(log_path, offset)
        os.truncate(idx_path, slot)

        versions.last_version = version - 1
        if versions.last_version < versions.first_version:
            versions.first_version = -1
        segment.last_version = version - 1
        segment.file_size = offset
        log.info("vgId:%d: WAL rolled back to version %d in %s", self.vg_id, version, log_path)
        self.save_meta()

    def truncate_after(self, version: int) -> None:
        """Keep entries up to and including ``version`` and remove the later ones (``rollback(version + 1)``)."""
        if version < self._versions.last_version:
            self.rollback(version + 1)

    # -- closing -------------------------------------------------------------

    def close(self) -> None:
        """Save the meta (``walClose``) and close the segment files."""
        if self._segments or self._versions.last_version >= 0:
            self.save_meta()
        self._close_write_files()

    def __enter__(self) -> WalWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # -- internals -----------------------------------------------------------

    def _check_and_roll(self) -> None:
        if not self._segments:
            self._roll()
        elif self.seg_size_bytes > 0 and self._segments[-1].file_size > self.seg_size_bytes:
            self._roll()

    def _roll(self) -> None:
        self._close_write_files()
        now = self._clock()
        first = self._versions.last_version + 1
        self._idx_fd = _open_append(os.path.join(self.wal_dir, idx_file_name(first)))
        self._log_fd = _open_append(os.path.join(self.wal_dir, log_file_name(first)))
        if self._segments:
            self._segments[-1].last_version = self._versions.last_version
            self._segments[-1].close_ts = now
        self._segments.append(SegmentInfo(first_version=first, last_version=-1, create_ts=now, close_ts=-1,
                                          file_size=0))
        log.debug("vgId:%d: WAL rolled to segment %s", self.vg_id, log_file_name(first))
        self.save_meta()

    def _write_files(self) -> tuple[int, int]:
        if self._log_fd is None or self._idx_fd is None:
            first = self._segments[-1].first_version
            self._close_write_files()
            self._idx_fd = _open_append(os.path.join(self.wal_dir, idx_file_name(first)))
            self._log_fd = _open_append(os.path.join(self.wal_dir, log_file_name(first)))
        return self._log_fd, self._idx_fd

    def _close_write_files(self) -> None:
        for fd in (self._idx_fd, self._log_fd):
            if fd is not None:
                os.close(fd)
        self._idx_fd = None
        self._log_fd = None

    def _retention_allows(self, segment: SegmentInfo, total_size: int, now: int) -> bool:
        if self.retention_size_bytes > 0 and total_size > self.retention_size_bytes:
            return True
        if self.retention_period_s == 0:
            return True
        return (self.retention_period_s > 0 and segment.close_ts >= 0
                and segment.close_ts + self.retention_period_s < now)

    def _delete_prefix(self, version: int, allows: Callable[[SegmentInfo, int], bool]) -> list[int]:
        """Delete segments up to the one whose last version is ``version`` (walEndSnapshot's search)."""
        holders = [i for i, segment in enumerate(self._segments) if segment.first_version <= version]
        deleted: list[SegmentInfo] = []
        if holders:
            end = holders[-1]
            if version > self._segments[end].last_version >= 0:
                raise WalError(f"{self.wal_dir}: version {version} is beyond segment "
                               f"{self._segments[end].first_version}, which ends at {self._segments[end].last_version}")
            if version == self._segments[end].last_version:
                end += 1
            total = sum(segment.file_size for segment in self._segments)
            until = -1
            for index, segment in enumerate(self._segments[:end]):
                if allows(segment, total):
                    total -= segment.file_size
                    until = index
            deleted = self._segments[: until + 1]
            del self._segments[: until + 1]
            if self._segments:
                self._versions.first_version = self._segments[0].first_version
            else:
                self._close_write_files()
                self._versions.first_version = self._versions.last_version + 1
        self.save_meta()
        for segment in deleted:
            self._unlink_segment(segment.first_version)
        if deleted:
            log.info("vgId:%d: deleted %d WAL segments up to version %d", self.vg_id, len(deleted),
                     deleted[-1].last_version)
        return [segment.first_version for segment in deleted]

    def _unlink_segment(self, first_version: int) -> None:
        for name in (log_file_name(first_version), idx_file_name(first_version)):
            try:
                os.unlink(os.path.join(self.wal_dir, name))
            except FileNotFoundError:
                pass

    @staticmethod
    def _checked_entry_offset(idx_path: str, log_path: str, slot: int, version: int) -> int:
        with open(idx_path, "rb") as idx_file:
            idx_file.seek(slot)
            raw_slot = idx_file.read(IDX_SLOT_SIZE)
        if len(raw_slot) != IDX_SLOT_SIZE or IDX_STRUCT.unpack(raw_slot)[0] != version:
            raise WalError(f"{idx_path}: the .idx slot at byte {slot} does not hold version {version}")
        offset = IDX_STRUCT.unpack(raw_slot)[1]
        with open(log_path, "rb") as log_file:
            log_file.seek(offset)
            raw_head = log_file.read(HEAD_SIZE)
        if len(raw_head) != HEAD_SIZE or crc32c(raw_head[HEAD_CRC_OFFSET:]) != HEAD_STRUCT.unpack(raw_head)[1]:
            raise WalError(f"{log_path}: no valid entry head at offset {offset} for version {version}")
        if HEAD_STRUCT.unpack(raw_head)[3] != version:
            raise WalError(f"{log_path}: the entry at offset {offset} is not version {version}")
        return offset

    def _reopen(self) -> None:
        """Load an existing directory as ``walOpen`` does; a directory without segments starts empty."""
        meta = read_meta(self.wal_dir)
        found = list_segments(self.wal_dir)
        by_first = {s.first_version: s for s in meta.files} if meta else {}
        update_meta = meta is not None and len(meta.files) != len(found)
        self._segments = []
        for segment_file in found:
            known = by_first.get(segment_file.first_version)
            if known is None:
                self._segments.append(SegmentInfo(segment_file.first_version, -1, -1, -1, -1))
            else:
                self._segments.append(SegmentInfo(known.first_version, known.last_version, known.create_ts,
                                                  known.close_ts, known.file_size))
        for segment in reversed(self._segments):
            size = os.path.getsize(os.path.join(self.wal_dir, log_file_name(segment.first_version)))
            if segment.last_version >= segment.first_version and size == segment.file_size:
                continue
            update_meta = True
            repair_segment(self.wal_dir, segment, log_file_name(segment.first_version),
                           idx_file_name(segment.first_version))

        versions = self._versions
        versions.snapshot_version = meta.snapshot_version if meta else -1
        versions.last_version = self._segments[-1].last_version if self._segments else -1
        versions.first_version = self._segments[0].first_version if self._segments else -1
        self._align_versions()
        for segment in self._segments[:-1]:
            if segment.close_ts == -1:
                mtime = int(os.path.getmtime(os.path.join(self.wal_dir, log_file_name(segment.first_version))))
                segment.close_ts = mtime
                update_meta = True
        if update_meta:
            self.save_meta()

    def _align_versions(self) -> None:
        """Apply ``walAlignVersions``; the snapshot version comes from the meta, not from vnode.json."""
        versions = self._versions
        if versions.first_version > versions.snapshot_version + 1:
            versions.first_version = versions.snapshot_version + 1
        if versions.last_version < versions.snapshot_version:
            if versions.last_version < versions.first_version:
                versions.first_version = versions.snapshot_version + 1
            versions.last_version = versions.snapshot_version
        versions.commit_version = versions.snapshot_version


def _open_append(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
