"""Read-only access to TDengine vnode WAL directories: meta file, segments, verified entries."""

from connector.wal._format import WalEntry
from connector.wal.meta import SegmentFile, SegmentMeta, WalMeta, list_segments, read_meta
from connector.wal.reader import WalBounds, WalReader, wal_bounds

__all__ = [
    "SegmentFile",
    "SegmentMeta",
    "WalBounds",
    "WalEntry",
    "WalMeta",
    "WalReader",
    "list_segments",
    "read_meta",
    "wal_bounds",
]
