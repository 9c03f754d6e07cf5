"""On-disk layout of a TDengine 3.x vnode WAL (``<vnode dir>/wal/``).

Files, all little-endian:

    NNNNNNNNNNNNNNNNNNNN.log   entries; the 20-digit stem is the segment's first version
    NNNNNNNNNNNNNNNNNNNN.idx   one 16-byte slot per version of the paired .log
    meta-ver<N>                JSON, every number a string; the highest N is current

A .log is a run of entries with no padding between them.  Each entry is the
56-byte ``SWalCkHead`` followed by ``bodyLen`` body bytes:

    off size field
      0    8 magic        0xFAFBFCFDF4F3F2F1
      8    4 cksumHead    CRC-32C of bytes [16, 56)
     12    4 cksumBody    CRC-32C of the body
     16    8 version      raft index = vnode version, +1 per entry
     24    8 ingestTs     microseconds (3.3.0+); 0 in 3.0-3.2.2
     32    4 bodyLen
     36    2 msgType
     38    1 protoVer     always 0
     39    1 isWeek       raft "weak" flag (TDengine's spelling)
     40    8 seqNum
     48    8 term

Slot k of an .idx is ``{int64 ver, int64 offset}`` for version
``segment first version + k``; ``offset`` points at that entry's magic.

Sources: include/libs/wal/wal.h (SWalCkHead, SWalCont, WAL_MAGIC) and
source/libs/wal/inc/walInt.h (file names, SWalIdxEntry, checksum ranges).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

import crc32c as _crc32c

__all__ = [
    "HEAD_CRC_OFFSET",
    "HEAD_SIZE",
    "HEAD_STRUCT",
    "IDX_SLOT_SIZE",
    "IDX_STRUCT",
    "MAGIC",
    "MAX_BODY_LEN",
    "WalEntry",
    "crc32c",
    "idx_file_name",
    "log_file_name",
]

MAGIC: Final = 0xFAFBFCFDF4F3F2F1

HEAD_STRUCT: Final = struct.Struct(
    "<"
    "Q"  # magic
    "I"  # cksumHead
    "I"  # cksumBody
    "q"  # version
    "q"  # ingestTs
    "i"  # bodyLen
    "h"  # msgType
    "b"  # protoVer
    "b"  # isWeek
    "Q"  # seqNum
    "Q"  # term
)
HEAD_SIZE: Final = HEAD_STRUCT.size  # 56
# The head checksum covers SWalCont: everything after magic and the two checksums.
HEAD_CRC_OFFSET: Final = struct.calcsize("<QII")  # 16

IDX_STRUCT: Final = struct.Struct(
    "<"
    "q"  # ver
    "q"  # offset of the entry's magic in the .log
)
IDX_SLOT_SIZE: Final = IDX_STRUCT.size  # 16

# TDengine caps a single write at a few MiB (TSDB_MAX_MSG_SIZE is 1 GiB in the
# protocol, but the vnode write path rejects far smaller bodies).  A bodyLen
# above this bound is taken as a damaged head, not as a 1 GiB allocation.
MAX_BODY_LEN: Final = 1 << 30


def crc32c(data: bytes | memoryview) -> int:
    """Return the CRC-32C (Castagnoli) that TDengine's ``taosCalcChecksum(0, ...)`` computes."""
    return _crc32c.crc32c(data)


def log_file_name(first_version: int) -> str:
    return f"{first_version:020d}.log"


def idx_file_name(first_version: int) -> str:
    return f"{first_version:020d}.idx"


@dataclass(frozen=True, slots=True)
class WalEntry:
    """One complete, checksum-verified WAL entry and where it was found."""

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
    body: bytes
    segment_first_version: int
    log_path: str
    offset: int

    @property
    def end_offset(self) -> int:
        """Offset of the byte after this entry in its .log."""
        return self.offset + HEAD_SIZE + self.body_len
