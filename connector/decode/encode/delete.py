"""DELETE (msgType 579) bodies from a ``DeleteMessage``: the inverse of ``connector.decode.delete``.

SMsgHead, then the unframed SDeleteRes (``tEncodeDeleteRes``): U64 suid, I32v
nUid, U64 uid x n, I64 skey, I64 ekey, I64v affectedRows, CStr tableFName,
CStr tsColName, then the optional trailing I64 ctimeMs (3.0.6+) and I8 source
(3.3.0+).  ``source`` is only written after a ``ctime_ms``.
"""

from __future__ import annotations

from connector.decode.encode._buffer import Buffer
from connector.decode.encode._head import put_msg_head
from connector.decode.model import DeleteMessage

__all__ = ["encode_delete"]


def encode_delete(message: DeleteMessage) -> bytes:
    """Encode a DELETE body."""
    out = Buffer()
    put_msg_head(out, message.head)
    out.u64(message.suid)
    out.zigzag(len(message.uids), bits=32)
    for uid in message.uids:
        out.u64(uid)
    out.i64(message.skey)
    out.i64(message.ekey)
    out.zigzag(message.affected_rows)
    out.cstr(message.table_fname)
    out.cstr(message.ts_col_name)
    if message.ctime_ms is not None:
        out.i64(message.ctime_ms)
        if message.source is not None:
            out.i8(message.source)
    return out.getvalue()
