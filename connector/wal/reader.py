"""Read verified entries from a live TDengine WAL directory, in version order.

The reader opens files read-only and never locks or changes them.  It
distinguishes two situations that look alike on disk:

* the tail is not complete yet: the newest segment ends inside an entry, or
  its last entry fails a checksum and nothing was written after it.  TDengine
  writes the .idx slot, then the head, then the body with separate write()
  calls, so a reader can see any prefix of an entry.  ``next_entry`` returns
  None and the caller tries again later;
* corruption: a bad magic, checksum or version with later data behind it (a
  later .idx slot or a later segment).  ``next_entry`` raises
  WalCorruptionError naming the file, the byte offset and the version.

It also notices when entries it already returned change under it.  Raft
rollback (walRollback) truncates the uncommitted tail and TDengine writes
other entries under the same versions; restart repair truncates damaged
tails.  Whenever no new entry is available, the reader re-checks the last
entry it returned; if that entry is gone or different, it finds the first
version that changed, seeks back there and reports the range in ``rewound``.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from dataclasses import dataclass

from connector.errors import WalCorruptionError, WalError, WalGapError
from connector.wal._format import (
    HEAD_CRC_OFFSET,
    HEAD_SIZE,
    HEAD_STRUCT,
    IDX_SLOT_SIZE,
    IDX_STRUCT,
    MAGIC,
    MAX_BODY_LEN,
    WalEntry,
    crc32c,
)
from connector.wal.meta import SegmentFile, list_segments

__all__ = ["Rewind", "WalBounds", "WalReader", "first_retained_version", "wal_bounds"]

# How many returned entries the reader remembers to locate a rewind.  Raft
# only rolls back entries above the commit index, a short tail in practice.
REMEMBERED_ENTRIES = 4096

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WalBounds:
    """The versions a WAL directory holds: ``first_version`` to ``last_version``.

    ``last_version`` is ``first_version - 1`` when the WAL has no complete entry.
    """

    first_version: int
    last_version: int


@dataclass(frozen=True, slots=True)
class Rewind:
    """Versions the reader had returned that are no longer in the WAL as they were.

    ``first_version``..``last_read`` were returned before; the WAL now contains
    different entries for ``first_version``..``changed_through`` and none
    after ``changed_through`` yet (``changed_through`` < ``first_version``
    when every rewound version is simply gone).
    """

    first_version: int
    last_read: int
    changed_through: int


@dataclass(frozen=True, slots=True)
class _Returned:
    version: int
    log_path: str
    offset: int
    cksum_head: int
    cksum_body: int


@dataclass(slots=True)
class _Head:
    version: int
    ingest_ts: int
    body_len: int
    msg_type: int
    proto_ver: int
    is_weak: int
    seq_num: int
    term: int
    cksum_head: int
    cksum_body: int


class _Segment:
    """An open .log/.idx pair."""

    def __init__(self, info: SegmentFile) -> None:
        self.info = info
        self.first_version = info.first_version
        self.log_path = info.log_path
        self._log_fd = os.open(info.log_path, os.O_RDONLY)
        try:
            self._idx_fd: int | None = os.open(info.idx_path, os.O_RDONLY)
        except FileNotFoundError:
            self._idx_fd = None

    def close(self) -> None:
        os.close(self._log_fd)
        if self._idx_fd is not None:
            os.close(self._idx_fd)

    def log_size(self) -> int:
        return os.fstat(self._log_fd).st_size

    def read_log(self, offset: int, length: int) -> bytes:
        return os.pread(self._log_fd, length, offset)

    def idx_offset(self, version: int) -> int | None:
        """Return the .log offset that the .idx slot of ``version`` records, or None if it has none."""
        if self._idx_fd is None or version < self.first_version:
            return None
        raw = os.pread(self._idx_fd, IDX_SLOT_SIZE, (version - self.first_version) * IDX_SLOT_SIZE)
        if len(raw) < IDX_SLOT_SIZE:
            return None
        slot_version, offset = IDX_STRUCT.unpack(raw)
        if slot_version != version or offset < 0:
            return None
        return offset


def _parse_head(raw: bytes) -> tuple[int, _Head]:
    (magic, cksum_head, cksum_body, version, ingest_ts, body_len,
     msg_type, proto_ver, is_weak, seq_num, term) = HEAD_STRUCT.unpack(raw)
    head = _Head(version, ingest_ts, body_len, msg_type, proto_ver, is_weak,
                 seq_num, term, cksum_head, cksum_body)
    return magic, head


def _describe_head_problem(raw: bytes) -> str | None:
    """Return why a 56-byte head cannot be trusted, or None if it is sound."""
    magic, head = _parse_head(raw)
    if magic != MAGIC:
        return f"bad magic 0x{magic:016x} (expected 0x{MAGIC:016x})"
    actual = crc32c(raw[HEAD_CRC_OFFSET:])
    if actual != head.cksum_head:
        return f"head checksum mismatch: stored 0x{head.cksum_head:08x}, computed 0x{actual:08x}"
    if not 0 <= head.body_len <= MAX_BODY_LEN:
        return f"bodyLen {head.body_len} outside 0..{MAX_BODY_LEN}"
    return None


class WalReader:
    """Sequential reader over the segments of one vnode's ``wal/`` directory.

    Call ``seek(version)`` once, then ``next_entry()`` until it returns None
    (no complete entry yet); call it again later to pick up appended data.
    ``next_version`` is the version the next call will return.
    """

    def __init__(self, wal_dir: str | os.PathLike[str]) -> None:
        self.wal_dir = os.fspath(wal_dir)
        self._segment: _Segment | None = None
        self._offset = 0
        self.next_version: int | None = None
        self._returned: deque[_Returned] = deque(maxlen=REMEMBERED_ENTRIES)
        self.rewound: Rewind | None = None

    # -- positioning -------------------------------------------------------

    def close(self) -> None:
        if self._segment is not None:
            self._segment.close()
            self._segment = None

    def __enter__(self) -> WalReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def bounds(self) -> WalBounds:
        """Return the first retained version and the last complete version on disk now."""
        return wal_bounds(self.wal_dir)

    def seek(self, version: int) -> None:
        """Position the reader so that ``next_entry`` returns ``version``.

        Seeking to ``last_version + 1`` is allowed and waits for that entry.
        Raises WalGapError when retention already removed ``version`` and
        WalError when ``version`` is beyond the next one TDengine will write.
        """
        self.close()
        while self._returned and self._returned[-1].version >= version:
            self._returned.pop()
        segments = list_segments(self.wal_dir)
        if not segments:
            raise WalError(f"{self.wal_dir}: no WAL segments (*.log) found")
        if version < segments[0].first_version:
            raise WalGapError(
                f"{self.wal_dir}: version {version} is no longer in the WAL; the first "
                f"retained version is {segments[0].first_version}",
                requested=version,
                first_retained=segments[0].first_version,
            )

        target = max((s for s in segments if s.first_version <= version),
                     key=lambda s: s.first_version)
        segment = _Segment(target)
        offset = segment.idx_offset(version)
        if offset is None or not self._head_matches(segment, offset, version):
            if offset is not None:
                log.warning("%s: .idx slot of version %d points at offset %d, which does not "
                            "hold that version; scanning the .log instead",
                            segment.log_path, version, offset)
            offset = self._scan_to(segment, version, is_newest=target is segments[-1])
        self._segment = segment
        self._offset = offset
        self.next_version = version

    @staticmethod
    def _head_matches(segment: _Segment, offset: int, version: int) -> bool:
        raw = segment.read_log(offset, HEAD_SIZE)
        if len(raw) < HEAD_SIZE:
            # The slot is written before the entry; an entry still being written
            # at exactly this slot counts as found.
            return offset <= segment.log_size()
        if _describe_head_problem(raw) is not None:
            return False
        return _parse_head(raw)[1].version == version

    def _scan_to(self, segment: _Segment, version: int, *, is_newest: bool) -> int:
        """Walk the heads of ``segment`` from its start and return the offset of ``version``."""
        offset = 0
        expected = segment.first_version
        size = segment.log_size()
        while expected < version:
            raw = segment.read_log(offset, HEAD_SIZE)
            if len(raw) < HEAD_SIZE:
                break
            problem = _describe_head_problem(raw)
            head = _parse_head(raw)[1]
            if problem is not None or head.version != expected:
                raise WalCorruptionError(
                    f"{segment.log_path}: cannot reach version {version}: the entry at offset "
                    f"{offset} (expected version {expected}) is unreadable: "
                    f"{problem or f'it holds version {head.version}'}",
                    path=segment.log_path, offset=offset, version=expected,
                )
            offset += HEAD_SIZE + head.body_len
            expected += 1
        if expected < version or offset > size:
            last = expected - 1 if offset <= size else expected - 2
            if is_newest:
                raise WalError(
                    f"{self.wal_dir}: version {version} is ahead of the WAL, whose last complete "
                    f"version is {last}; the vnode may have been rebuilt or restored"
                )
            raise WalCorruptionError(
                f"{segment.log_path}: segment ends at offset {offset} after version {last}, "
                f"before version {version}",
                path=segment.log_path, offset=offset, version=expected,
            )
        return offset

    # -- reading -----------------------------------------------------------

    def next_entry(self) -> WalEntry | None:
        """Return the next complete, verified entry, or None if it is not fully written yet."""
        if self.next_version is None:
            raise WalError(f"{self.wal_dir}: seek() must be called before next_entry()")
        while True:
            segment = self._segment
            if segment is None:
                # The segment was left at its end: wait for the next one to appear.
                if not self._switch_to_next_segment(trailing_bytes=0):
                    return None
                continue
            entry = self._read_at(segment, self._offset)
            if entry is not None:
                self._offset = entry.end_offset
                self.next_version = entry.version + 1
                self._returned.append(_Returned(entry.version, entry.log_path, entry.offset,
                                                entry.cksum_head, entry.cksum_body))
                return entry
            trailing = segment.log_size() - self._offset
            if not self._switch_to_next_segment(trailing_bytes=trailing):
                if self._check_rewind():
                    continue
                return None

    # -- rewind detection -------------------------------------------------------

    def _still_there(self, returned: _Returned) -> bool:
        """True when the entry returned earlier is still at its place with the same checksums."""
        try:
            fd = os.open(returned.log_path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            raw = os.pread(fd, HEAD_SIZE, returned.offset)
        finally:
            os.close(fd)
        if len(raw) < HEAD_SIZE or _describe_head_problem(raw) is not None:
            return False
        head = _parse_head(raw)[1]
        return (head.version, head.cksum_head, head.cksum_body) == (
            returned.version, returned.cksum_head, returned.cksum_body)

    def _check_rewind(self) -> bool:
        """Detect that returned entries changed; if so seek back, set ``rewound`` and return True."""
        if not self._returned or self._still_there(self._returned[-1]):
            return False
        last_read = self._returned[-1].version
        while self._returned and not self._still_there(self._returned[-1]):
            self._returned.pop()
        first_changed = self._returned[-1].version + 1 if self._returned else None
        if first_changed is None:
            raise WalError(
                f"{self.wal_dir}: the WAL no longer contains the entries up to version {last_read} "
                f"that were read, and none of the last {REMEMBERED_ENTRIES} read entries is "
                f"intact; the vnode may have been replaced by a snapshot")
        bounds = wal_bounds(self.wal_dir)
        changed_through = min(bounds.last_version, last_read)
        self.rewound = Rewind(first_version=first_changed, last_read=last_read,
                              changed_through=changed_through)
        log.warning("%s: versions %d..%d were read before but the WAL changed under them "
                    "(rollback or repair); reading again from version %d",
                    self.wal_dir, first_changed, last_read, first_changed)
        self.seek(first_changed)
        return True

    def _read_at(self, segment: _Segment, offset: int) -> WalEntry | None:
        version = self.next_version
        assert version is not None
        raw_head = segment.read_log(offset, HEAD_SIZE)
        if len(raw_head) < HEAD_SIZE:
            return None

        problem = _describe_head_problem(raw_head)
        if problem is not None:
            if self._skip_leftover_bytes(segment, offset, version, problem):
                return self._read_at(segment, self._offset)
            self._raise_unless_tail(segment, offset, version, problem)
            return None
        head = _parse_head(raw_head)[1]
        if head.version != version:
            raise WalCorruptionError(
                f"{segment.log_path}: entry at offset {offset} contains version {head.version}, "
                f"expected version {version}",
                path=segment.log_path, offset=offset, version=version,
            )

        body = segment.read_log(offset + HEAD_SIZE, head.body_len)
        if len(body) < head.body_len:
            return None
        actual = crc32c(body)
        if actual != head.cksum_body:
            if self._skip_leftover_bytes(segment, offset, version, "body checksum mismatch"):
                return self._read_at(segment, self._offset)
            self._raise_unless_tail(
                segment, offset, version,
                f"body checksum mismatch: stored 0x{head.cksum_body:08x}, computed 0x{actual:08x} "
                f"over {head.body_len} bytes",
            )
            return None

        return WalEntry(
            version=head.version,
            ingest_ts=head.ingest_ts,
            body_len=head.body_len,
            msg_type=head.msg_type,
            proto_ver=head.proto_ver,
            is_weak=head.is_weak,
            seq_num=head.seq_num,
            term=head.term,
            cksum_head=head.cksum_head,
            cksum_body=head.cksum_body,
            body=body,
            segment_first_version=segment.first_version,
            log_path=segment.log_path,
            offset=offset,
        )

    def _skip_leftover_bytes(self, segment: _Segment, offset: int, version: int, problem: str) -> bool:
        """Move past bytes that TDengine left before the real entry of ``version``; True if it did.

        Since 3.3.6 TDengine's restart repair leaves a torn tail on the last
        segment in place and appends after it, so the .idx slot of the
        version points past the left-over bytes.  Only a slot that leads to
        an intact head of exactly this version is followed.
        """
        target = segment.idx_offset(version)
        if target is None or target <= offset:
            return False
        raw = segment.read_log(target, HEAD_SIZE)
        if len(raw) < HEAD_SIZE or _describe_head_problem(raw) is not None:
            return False
        if _parse_head(raw)[1].version != version:
            return False
        log.warning("%s: skipping %d bytes at offset %d that do not form an entry (%s); the .idx "
                    "slot of version %d points at offset %d", segment.log_path, target - offset,
                    offset, problem, version, target)
        self._offset = target
        return True

    def _raise_unless_tail(self, segment: _Segment, offset: int, version: int, problem: str) -> None:
        """Raise WalCorruptionError if anything was written after the entry at ``offset``.

        TDengine (3.0.2+) writes the .idx slot of a version before its entry, so
        a slot for ``version + 1`` or a later segment proves that this entry
        was complete once and is now damaged.  Without such proof the entry is
        still being written, and the caller waits.
        """
        later_data = segment.idx_offset(version + 1) is not None or any(
            s.first_version > segment.first_version for s in list_segments(self.wal_dir)
        )
        if later_data:
            raise WalCorruptionError(
                f"{segment.log_path}: corrupt entry at offset {offset}, version {version}: {problem}",
                path=segment.log_path, offset=offset, version=version,
            )
        log.debug("%s: entry at offset %d (version %d) is not complete yet: %s",
                  segment.log_path, offset, version, problem)

    def _switch_to_next_segment(self, *, trailing_bytes: int) -> bool:
        """Move to the segment that starts at ``next_version``; return False if there is none yet."""
        version = self.next_version
        assert version is not None
        current_first = self._segment.first_version if self._segment is not None else -1
        later = [s for s in list_segments(self.wal_dir) if s.first_version > current_first]
        if not later:
            return False
        following = later[0]
        if following.first_version != version:
            if self._segment is None:
                return False
            raise WalCorruptionError(
                f"{self._segment.log_path}: segment ends before version {version}, but the next "
                f"segment {os.path.basename(following.log_path)} starts at version "
                f"{following.first_version}; versions {version}..{following.first_version - 1} "
                f"are missing",
                path=self._segment.log_path, offset=self._offset, version=version,
            )
        if trailing_bytes > 0 and self._segment is not None:
            log.warning("%s: ignoring %d bytes after the last complete entry (version %d); "
                        "TDengine continued in %s",
                        self._segment.log_path, trailing_bytes, version - 1,
                        os.path.basename(following.log_path))
        self.close()
        self._segment = _Segment(following)
        self._offset = 0
        return True


def first_retained_version(wal_dir: str | os.PathLike[str]) -> int | None:
    """Return the first version of the oldest segment, or None when there is no segment."""
    segments = list_segments(wal_dir)
    return segments[0].first_version if segments else None


def wal_bounds(wal_dir: str | os.PathLike[str]) -> WalBounds:
    """Return the first and last complete versions of a WAL directory by reading its files.

    The last version comes from the newest non-empty segment, walked to its
    last complete entry; the meta file is not consulted because it lags.
    """
    segments = list_segments(wal_dir)
    if not segments:
        raise WalError(f"{os.fspath(wal_dir)}: no WAL segments (*.log) found")
    first = segments[0].first_version
    for info in reversed(segments):
        segment = _Segment(info)
        try:
            last = _last_complete_version(segment)
        finally:
            segment.close()
        if last >= info.first_version or info is segments[0]:
            return WalBounds(first_version=first, last_version=last)
    raise AssertionError("unreachable: the loop returns at the first segment")


def _last_complete_version(segment: _Segment) -> int:
    """Walk a segment's heads and return the version of its last complete entry."""
    offset = 0
    version = segment.first_version - 1
    size = segment.log_size()
    while offset + HEAD_SIZE <= size:
        raw = segment.read_log(offset, HEAD_SIZE)
        if _describe_head_problem(raw) is not None:
            break
        head = _parse_head(raw)[1]
        if head.version != version + 1 or offset + HEAD_SIZE + head.body_len > size:
            break
        offset += HEAD_SIZE + head.body_len
        version = head.version
    return version
