"""Reopening a WAL directory for writing: the parts of ``walCheckAndRepairMeta`` a writer needs.

The meta file is merged with the ``*.log`` files found (the directory wins;
meta records are kept for segments whose first version matches).  A segment
is trusted when its meta ``lastVer >= firstVer`` and its .log size equals the
meta ``fileSize``; otherwise its .log is walked forward from offset 0 and cut
after the last entry whose magic, checksums and version check, and its .idx
is cut or rebuilt to one slot per entry.

NOTE: TDengine (3.3.6+) scans backwards in 3 MiB windows and leaves trailing
garbage on the last segment; this forward walk always truncates it, which is
what 3.1 - 3.3.5 do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from connector.wal._format import HEAD_CRC_OFFSET, HEAD_SIZE, HEAD_STRUCT, IDX_STRUCT, MAGIC, MAX_BODY_LEN, crc32c
from connector.wal.writer._meta import SegmentInfo

__all__ = ["ScannedLog", "repair_segment", "scan_log"]


@dataclass(frozen=True, slots=True)
class ScannedLog:
    """The valid prefix of a .log: the version and .log offset of each complete entry."""

    entries: tuple[tuple[int, int], ...]
    end_offset: int


def scan_log(log_path: str, first_version: int) -> ScannedLog:
    """Walk the entries of a .log from its start and stop at the first one that does not check."""
    with open(log_path, "rb") as log_file:
        data = log_file.read()
    entries = []
    offset = 0
    expected = first_version
    while offset + HEAD_SIZE <= len(data):
        head = HEAD_STRUCT.unpack_from(data, offset)
        magic, cksum_head, cksum_body, version, _ingest, body_len = head[:6]
        if magic != MAGIC or version != expected or not 0 <= body_len <= MAX_BODY_LEN:
            break
        if crc32c(data[offset + HEAD_CRC_OFFSET : offset + HEAD_SIZE]) != cksum_head:
            break
        body_end = offset + HEAD_SIZE + body_len
        if body_end > len(data) or crc32c(data[offset + HEAD_SIZE : body_end]) != cksum_body:
            break
        entries.append((version, offset))
        offset = body_end
        expected += 1
    return ScannedLog(entries=tuple(entries), end_offset=offset)


def repair_segment(wal_dir: str, segment: SegmentInfo, log_name: str, idx_name: str) -> None:
    """Make ``segment`` match its files: cut the .log after its last valid entry and rewrite the .idx."""
    log_path = os.path.join(wal_dir, log_name)
    idx_path = os.path.join(wal_dir, idx_name)
    scanned = scan_log(log_path, segment.first_version)
    if os.path.getsize(log_path) != scanned.end_offset:
        os.truncate(log_path, scanned.end_offset)
    segment.last_version = scanned.entries[-1][0] if scanned.entries else segment.first_version - 1
    segment.file_size = scanned.end_offset

    expected_idx = b"".join(IDX_STRUCT.pack(version, offset) for version, offset in scanned.entries)
    try:
        with open(idx_path, "rb") as idx_file:
            current = idx_file.read()
    except FileNotFoundError:
        current = None
    if current != expected_idx:
        with open(idx_path, "wb") as idx_file:
            idx_file.write(expected_idx)
