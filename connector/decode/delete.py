"""DELETE (msgType 579) bodies: SMsgHead followed by an unframed SDeleteRes.

The vnode replaces the client's delete plan with the result of running it
(vnodeSvr.c ``vnodePreProcessDeleteMsg``), so the WAL contains (tmsg.c
``tEncodeDeleteRes``):

    SMsgHead      8 bytes, host order (_head.py)
    U64   suid           0 for a normal table
    I32v  nUid
    U64   uid x nUid
    I64   skey           deleted time range, both ends inclusive, in db precision
    I64   ekey
    I64v  affectedRows
    CStr  tableFName     the bare table name the DELETE named (super table or table)
    CStr  tsColName
    I64   ctimeMs        optional trailing (3.0.6+)
    I8    source         optional trailing (3.3.0+): 0 app, 0x08 taosX, …
"""

from __future__ import annotations

from typing import Final

from connector.decode._cursor import Cursor
from connector.decode._head import read_msg_head
from connector.decode.catalog import SchemaCatalog
from connector.decode.model import DeleteMessage

__all__ = ["decode_delete"]

_UID_BYTES: Final = 8


def decode_delete(body: bytes, catalog: SchemaCatalog) -> DeleteMessage:
    """Decode a DELETE body; table names of the uids come from ``catalog`` (None when unknown)."""
    cursor = Cursor(body, what="DELETE")
    head = read_msg_head(cursor)

    suid = cursor.u64("suid")
    count_at = cursor.pos
    count = cursor.zigzag("nUid", bits=32)
    if not 0 <= count <= cursor.remaining // _UID_BYTES:
        raise cursor.error(f"nUid {count} is invalid: {cursor.remaining} bytes are left for the uids", offset=count_at)
    uids = tuple(cursor.u64(f"uid {index}") for index in range(count))

    skey = cursor.i64("skey")
    ekey = cursor.i64("ekey")
    affected_rows = cursor.zigzag("affectedRows")
    table_fname = cursor.text("tableFName")
    ts_col_name = cursor.text("tsColName")

    ctime_ms = None if cursor.at_end() else cursor.i64("ctimeMs")
    source = None if cursor.at_end() else cursor.i8("source")
    cursor.expect_end()

    return DeleteMessage(
        head=head,
        suid=suid,
        uids=uids,
        skey=skey,
        ekey=ekey,
        affected_rows=affected_rows,
        table_fname=table_fname,
        ts_col_name=ts_col_name,
        ctime_ms=ctime_ms,
        source=source,
        table_names=tuple(catalog.table_name(uid) for uid in uids),
        super_table_name=catalog.super_table_name(suid) if suid else None,
    )
