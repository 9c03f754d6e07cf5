"""Segment bookkeeping and the ``meta-ver<N>`` save of the WAL writer (walMeta.c, 3.3.6).

``walSaveMeta`` writes the cJSON text (no trailing NUL or newline) to
``meta-ver.tmp``, renames it to ``meta-ver<N+1>`` and deletes ``meta-ver<N>``,
where N is the current meta number (-1 when there is none, so the first save
creates ``meta-ver0``).  Every number is a decimal string.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Final

from connector.wal.writer._cjson import cjson_print

__all__ = ["SegmentInfo", "VersionState", "current_meta_number", "save_meta", "serialize_meta"]

META_TMP_NAME: Final = "meta-ver.tmp"
_META_NAME: Final = re.compile(r"^meta-ver(\d+)$")


@dataclass(slots=True)
class SegmentInfo:
    """One ``SWalFileInfo``: ``last_version`` is -1 and ``close_ts`` -1 while they are unknown."""

    first_version: int
    last_version: int
    create_ts: int
    close_ts: int
    file_size: int


@dataclass(slots=True)
class VersionState:
    """``SWalVer``: the versions the meta file records."""

    first_version: int = -1
    snapshot_version: int = -1
    commit_version: int = -1
    last_version: int = -1


def serialize_meta(versions: VersionState, segments: list[SegmentInfo]) -> bytes:
    """Return the meta file bytes for ``versions`` and ``segments`` (``walMetaSerialize``)."""
    document = {
        "meta": {
            "firstVer": str(versions.first_version),
            "snapshotVer": str(versions.snapshot_version),
            "commitVer": str(versions.commit_version),
            "lastVer": str(versions.last_version),
        },
        "files": [
            {
                "firstVer": str(segment.first_version),
                "lastVer": str(segment.last_version),
                "createTs": str(segment.create_ts),
                "closeTs": str(segment.close_ts),
                "fileSize": str(segment.file_size),
            }
            for segment in segments
        ],
    }
    return cjson_print(document).encode("utf-8")


def current_meta_number(wal_dir: str) -> int:
    """Return the highest N of the ``meta-ver<N>`` files in ``wal_dir``, or -1 when there is none."""
    numbers = [int(match.group(1)) for name in os.listdir(wal_dir) if (match := _META_NAME.match(name))]
    return max(numbers, default=-1)


def save_meta(wal_dir: str, versions: VersionState, segments: list[SegmentInfo], *, fsync: bool) -> str:
    """Save the meta file the way ``walSaveMeta`` does and return the new file's path."""
    number = current_meta_number(wal_dir)
    tmp_path = os.path.join(wal_dir, META_TMP_NAME)
    data = serialize_meta(versions, segments)
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    path = os.path.join(wal_dir, f"meta-ver{number + 1}")
    os.rename(tmp_path, path)
    if number >= 0:
        os.unlink(os.path.join(wal_dir, f"meta-ver{number}"))
    return path
