"""The ``meta-ver<N>`` file and the segment listing of a WAL directory.

TDengine saves the meta file by writing ``meta-ver.tmp``, renaming it to
``meta-ver<N+1>`` and deleting ``meta-ver<N>`` (walMeta.c ``walSaveMeta``), so
after a crash two may exist; the highest N that parses is the current one.
Every number in it is a JSON string.  The meta lags the files: the .log and
.idx files are the source of truth, and the meta is only advisory.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from connector.errors import WalError
from connector.wal._format import idx_file_name

__all__ = ["SegmentFile", "SegmentMeta", "WalMeta", "list_segments", "read_meta"]

log = logging.getLogger(__name__)

_META_NAME = re.compile(r"^meta-ver(\d+)$")
_LOG_NAME = re.compile(r"^(\d+)\.log$")


@dataclass(frozen=True, slots=True)
class SegmentMeta:
    """One ``files[i]`` record of the meta file; ``last_version`` is -1 for a segment empty at save time."""

    first_version: int
    last_version: int
    create_ts: int
    close_ts: int
    file_size: int


@dataclass(frozen=True, slots=True)
class WalMeta:
    """The ``meta`` object of ``meta-ver<N>``; versions are -1 where TDengine has none."""

    path: str
    meta_version: int
    first_version: int
    snapshot_version: int
    commit_version: int
    last_version: int
    files: tuple[SegmentMeta, ...]


@dataclass(frozen=True, slots=True)
class SegmentFile:
    """A ``.log`` file found in the directory, with its paired ``.idx`` (which may be missing)."""

    first_version: int
    log_path: str
    idx_path: str


def list_segments(wal_dir: str | os.PathLike[str]) -> list[SegmentFile]:
    """List the .log segments of ``wal_dir`` sorted by first version (the 20-digit file stem)."""
    segments = []
    try:
        names = os.listdir(wal_dir)
    except OSError as err:
        raise WalError(f"{os.fspath(wal_dir)}: cannot list the WAL directory: {err.strerror}") from err
    for name in names:
        match = _LOG_NAME.match(name)
        if match is None:
            continue
        first = int(match.group(1))
        segments.append(
            SegmentFile(
                first_version=first,
                log_path=os.path.join(wal_dir, name),
                idx_path=os.path.join(wal_dir, idx_file_name(first)),
            )
        )
    segments.sort(key=lambda segment: segment.first_version)
    return segments


def read_meta(wal_dir: str | os.PathLike[str]) -> WalMeta | None:
    """Read the newest meta file that parses, or return None when there is none.

    A meta file that is empty or does not parse is logged and skipped, as
    TDengine itself rebuilds the segment list from the directory in that case.
    """
    candidates = []
    try:
        names = os.listdir(wal_dir)
    except OSError as err:
        raise WalError(f"{os.fspath(wal_dir)}: cannot list the WAL directory: {err.strerror}") from err
    for name in names:
        match = _META_NAME.match(name)
        if match is not None:
            candidates.append((int(match.group(1)), Path(wal_dir, name)))

    for meta_version, path in sorted(candidates, reverse=True):
        try:
            return _parse_meta(path, meta_version)
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("%s: skipping unreadable WAL meta file: %s", path, err)
    return None


def _parse_meta(path: Path, meta_version: int) -> WalMeta:
    document = json.loads(path.read_text(encoding="utf-8"))
    meta = document["meta"]
    files = tuple(
        SegmentMeta(
            first_version=int(item["firstVer"]),
            last_version=int(item["lastVer"]),
            create_ts=int(item["createTs"]),
            close_ts=int(item["closeTs"]),
            file_size=int(item["fileSize"]),
        )
        for item in document.get("files", [])
    )
    return WalMeta(
        path=str(path),
        meta_version=meta_version,
        first_version=int(meta["firstVer"]),
        snapshot_version=int(meta["snapshotVer"]),
        commit_version=int(meta["commitVer"]),
        last_version=int(meta["lastVer"]),
        files=files,
    )
