"""Writing TDengine 3.x vnode WAL directories byte for byte as TDengine's WAL code writes them."""

from connector.wal.writer._meta import SegmentInfo
from connector.wal.writer.writer import WalWriter

__all__ = ["SegmentInfo", "WalWriter"]
