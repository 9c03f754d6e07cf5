"""SUBMIT (msgType 513) bodies: SSubmitReq2Msg followed by a framed SSubmitReq2.

Layout (TDengine 3.0.3+; tmsg.c ``tEncodeSubmitReq``, ``tEncodeSSubmitTbData``):

    SSubmitReq2Msg, 16 bytes
      off size field
        0    4 contLen       int32, host order (see _head.py)
        4    4 vgId          int32
        8    8 version       int64 BIG-endian: 1 = SSubmitReq2; 0 = the legacy
                             SSubmitReq of TDengine <= 3.0.2, not supported
    SSubmitReq2, framed
      U64v   nSubmitTbData
      SSubmitTbData x n, each framed:
        I32v    flags        low byte: SUBMIT_REQ_* bits below; bits 8-15: encoding
                             version (SUBMIT_REQUEST_VERSION 1 in 3.3.0+, 0 before)
        framed  SVCreateTbReq   only with SUBMIT_REQ_AUTO_CREATE_TABLE (_create_tb.py)
        I64     suid         0 for a normal table
        I64     uid
        I32v    sver
        column format: U64v nColData, SColData x n (_coldata.py)
        row format:    U64v nRow, SRow x n (_srow.py)
        I64     ctimeMs      optional trailing (3.0.6+)
        blob set             optional trailing with flag 0x10 (3.3.7+), not supported
"""

from __future__ import annotations

import struct
from typing import Final

from connector.decode._coldata import ColData, decode_col_data
from connector.decode._create_tb import decode_create_tb_req
from connector.decode._cursor import Cursor
from connector.decode._head import read_msg_head
from connector.decode._srow import HEADER as SROW_HEADER
from connector.decode._srow import decode_row
from connector.decode.catalog import SchemaCatalog
from connector.decode.model import NONE, Column, SubmitMessage, TableBlock, TableSchema, TdType
from connector.decode.types import TYPE_BYTES, is_var_type
from connector.errors import UnsupportedFormatError

__all__ = ["SUBMIT_REQ_AUTO_CREATE_TABLE", "SUBMIT_REQ_COLUMN_DATA_FORMAT", "decode_submit"]

SUBMIT_REQ_MSG_VERSION: Final = struct.Struct(">q")
SUBMIT_REQ2_VERSION: Final = 1

SUBMIT_REQ_AUTO_CREATE_TABLE: Final = 0x01
SUBMIT_REQ_COLUMN_DATA_FORMAT: Final = 0x02
SUBMIT_REQ_FROM_FILE: Final = 0x04
TD_REQ_FROM_TAOX: Final = 0x08
SUBMIT_REQ_WITH_BLOB: Final = 0x10  # 3.3.7; 3.3.6 uses the same bit for TD_REQ_FROM_SML
ENCODING_VERSION_SHIFT: Final = 8
ENCODING_VERSION_MASK: Final = 0xFF

# Smallest encodings, used to bound counts read from disk.
_MIN_TB_DATA_BYTES: Final = 4  # an empty frame
_MIN_COL_DATA_BYTES: Final = 4  # cid, type, nVal, flag


def decode_submit(body: bytes, catalog: SchemaCatalog) -> SubmitMessage:
    """Decode a SUBMIT body; row-format blocks take their schema from ``catalog``.

    Raises UnsupportedFormatError for the legacy (<= 3.0.2) layout and
    UnknownSchemaError for a row-format block whose (suid or uid, sver) the
    catalog lacks.  The catalog is not changed; ``decode_message`` records
    auto-created tables after the whole body decoded.
    """
    cursor = Cursor(body, what="SUBMIT")
    head = read_msg_head(cursor)
    version_at = cursor.pos
    req_version = cursor.be_i64("SSubmitReq2Msg.version")
    if req_version == 0:
        raise UnsupportedFormatError(
            "SUBMIT version field is 0: this is the legacy SSubmitReq of TDengine 3.0.0-3.0.2, which this"
            " connector does not decode; upgrade the server or start from a WAL written by 3.0.3 or later"
        )
    if req_version != SUBMIT_REQ2_VERSION:
        raise cursor.error(f"SSubmitReq2Msg.version is {req_version}, expected {SUBMIT_REQ2_VERSION}", offset=version_at)

    request = cursor.frame("SSubmitReq2")
    cursor.expect_end()
    count = request.varint("nSubmitTbData")
    if count > request.remaining // _MIN_TB_DATA_BYTES:
        raise request.error(f"nSubmitTbData {count} cannot fit in the {request.remaining} bytes left")
    blocks = tuple(_decode_tb_data(request.frame(f"SSubmitTbData {index}"), catalog) for index in range(count))
    request.expect_end()
    return SubmitMessage(head=head, req_version=req_version, blocks=blocks)


def _decode_tb_data(frame: Cursor, catalog: SchemaCatalog) -> TableBlock:
    flags = frame.zigzag("flags", bits=32)
    create_request = None
    if flags & SUBMIT_REQ_AUTO_CREATE_TABLE:
        create_request = decode_create_tb_req(frame.frame("SVCreateTbReq"), catalog)
    suid = frame.i64("suid")
    uid = frame.i64("uid")
    sver = frame.zigzag("sver", bits=32)
    encoding_version = (flags >> ENCODING_VERSION_SHIFT) & ENCODING_VERSION_MASK

    if flags & SUBMIT_REQ_COLUMN_DATA_FORMAT:
        columns, rows, col_meta = _decode_columns(frame, catalog, suid, uid, sver, encoding_version)
        row_meta: tuple[tuple[int, int], ...] = ()
    else:
        schema = catalog.schema_for_block(suid, uid, sver)
        columns = schema.columns
        rows, row_meta = _decode_rows(frame, schema, sver)
        col_meta = ()

    ctime_ms = None
    if not frame.at_end():
        ctime_ms = frame.i64("ctimeMs")
    if not frame.at_end() and flags & SUBMIT_REQ_WITH_BLOB:
        raise UnsupportedFormatError(
            f"SSubmitTbData of uid {uid} carries a blob set (TDengine 3.3.7+ BLOB columns), which is not supported"
        )
    frame.expect_end()

    table_name = create_request.name if create_request else catalog.table_name(uid)
    return TableBlock(
        flags=flags,
        suid=suid,
        uid=uid,
        sver=sver,
        row_format=not flags & SUBMIT_REQ_COLUMN_DATA_FORMAT,
        columns=columns,
        rows=rows,
        ctime_ms=ctime_ms,
        create_request=create_request,
        table_name=table_name,
        super_table_name=catalog.super_table_name(suid) if suid else None,
        row_meta=row_meta,
        col_meta=col_meta,
    )


def _decode_rows(
    frame: Cursor, schema: TableSchema, sver: int
) -> tuple[tuple[tuple[object, ...], ...], tuple[tuple[int, int], ...]]:
    count = frame.varint("nRow")
    if count > frame.remaining // SROW_HEADER.size:
        raise frame.error(f"nRow {count} cannot fit in the {frame.remaining} bytes left")
    rows = []
    meta = []
    for index in range(count):
        values, flag, length = decode_row(frame, schema, sver, index)
        rows.append(values)
        meta.append((flag, length))
    return tuple(rows), tuple(meta)


def _decode_columns(
    frame: Cursor, catalog: SchemaCatalog, suid: int, uid: int, sver: int, encoding_version: int
) -> tuple[tuple[Column, ...], tuple[tuple[object, ...], ...], tuple[dict[str, int], ...]]:
    count = frame.varint("nColData")
    if count > frame.remaining // _MIN_COL_DATA_BYTES:
        raise frame.error(f"nColData {count} cannot fit in the {frame.remaining} bytes left")
    schema = catalog.find_schema(suid, uid, sver)
    by_id = {column.col_id: column for column in schema.columns} if schema else {}
    decoded: list[ColData] = []
    for index in range(count):
        start = frame.pos
        col = decode_col_data(frame, encoding_version, by_id, index=index)
        if decoded and col.n_val != decoded[0].n_val:
            raise frame.error(f"SColData {index} has nVal {col.n_val}, but the first column has {decoded[0].n_val}", offset=start)
        if index == 0 and (col.cid != 1 or col.type != TdType.TIMESTAMP):
            raise frame.error(f"the first SColData must be the TIMESTAMP column 1, got cid {col.cid} type {col.type.name}", offset=start)
        schema_column = by_id.get(col.cid)
        if schema and (schema_column is None or schema_column.type != col.type):
            expected = schema_column.type.name if schema_column else "no such column"
            raise frame.error(
                f"SColData {index} (cid {col.cid}, type {col.type.name}) does not match the schema of sver {sver}: {expected}",
                offset=start,
            )
        decoded.append(col)

    n_rows = decoded[0].n_val if decoded else 0
    if schema:
        columns = schema.columns
    else:
        columns = tuple(
            Column(col_id=col.cid, type=col.type, bytes=_natural_bytes(col.type), name=None) for col in decoded
        )
    cells_by_id = {col.cid: col.cells for col in decoded}
    rows = tuple(
        tuple(cells_by_id[column.col_id][row] if column.col_id in cells_by_id else NONE for column in columns)
        for row in range(n_rows)
    )
    return columns, rows, tuple(col.meta() for col in decoded)


def _natural_bytes(td_type: TdType) -> int:
    # A column-format block does not carry the declared width of var columns: 0 means unknown.
    return 0 if is_var_type(td_type) else TYPE_BYTES.get(td_type, 0)
