"""SUBMIT (msgType 513) bodies from a ``SubmitMessage``: the inverse of ``connector.decode.submit``.

Layout: SSubmitReq2Msg (SMsgHead + big-endian version 1), then framed
SSubmitReq2 {U64v nSubmitTbData, framed SSubmitTbData x n}.  Per table
(``tEncodeSSubmitTbData``): I32v flags, [framed SVCreateTbReq], I64 suid,
I64 uid, I32v sver, rows (U64v nRow + SRow x n) or columns (U64v nColData +
SColData x n), then the optional I64 ctimeMs.  Blob sets (3.3.7+) are not
written.

``flags`` is written as given, so its bits 8-15 choose the encoding version:
1 (256/257/258, TDengine 3.3.0+) appends ``cflag`` to every SColData, 0
(0/1/2, 3.0.3-3.2.x) does not.
"""

from __future__ import annotations

from typing import Final

from connector.decode.catalog import SchemaCatalog
from connector.decode.encode._buffer import Buffer
from connector.decode.encode._coldata import encode_col_data
from connector.decode.encode._create_tb import put_create_tb_req
from connector.decode.encode._head import put_msg_head
from connector.decode.encode._srow import encode_row
from connector.decode.model import Column, SubmitMessage, TableBlock, TdType
from connector.errors import UnsupportedFormatError

__all__ = ["encode_submit", "encode_table_block"]

SUBMIT_REQ_AUTO_CREATE_TABLE: Final = 0x01
SUBMIT_REQ_COLUMN_DATA_FORMAT: Final = 0x02
ENCODING_VERSION_SHIFT: Final = 8
ENCODING_VERSION_MASK: Final = 0xFF
SUBMIT_REQ2_VERSION: Final = 1


def encode_submit(message: SubmitMessage, catalog: SchemaCatalog) -> bytes:
    """Encode a SUBMIT body; ``catalog`` supplies the tag ids of auto-created child tables."""
    if message.req_version != SUBMIT_REQ2_VERSION:
        raise UnsupportedFormatError(
            f"SUBMIT version {message.req_version} cannot be encoded; only SSubmitReq2 (version 1) is supported"
        )
    out = Buffer()
    put_msg_head(out, message.head)
    out.be_i64(message.req_version)
    with out.frame():
        out.varint(len(message.blocks))
        for block in message.blocks:
            encode_table_block(out, block, catalog)
    return out.getvalue()


def encode_table_block(out: Buffer, block: TableBlock, catalog: SchemaCatalog) -> None:
    """Append one framed SSubmitTbData."""
    encoding_version = (block.flags >> ENCODING_VERSION_SHIFT) & ENCODING_VERSION_MASK
    with out.frame():
        out.zigzag(block.flags, bits=32)
        if block.flags & SUBMIT_REQ_AUTO_CREATE_TABLE:
            if block.create_request is None:
                raise ValueError(f"table block of uid {block.uid} sets the auto-create flag but has no create request")
            put_create_tb_req(out, block.create_request, catalog, sql_len_always=encoding_version >= 1)
        out.i64(block.suid)
        out.i64(block.uid)
        out.zigzag(block.sver, bits=32)
        if block.flags & SUBMIT_REQ_COLUMN_DATA_FORMAT:
            _put_columns(out, block, encoding_version)
        else:
            out.varint(len(block.rows))
            for row in block.rows:
                out.raw(encode_row(block.columns, block.sver, row))
        if block.ctime_ms is not None:
            out.i64(block.ctime_ms)


def _put_columns(out: Buffer, block: TableBlock, encoding_version: int) -> None:
    """Append nColData and the SColData list.

    The decoded block's ``col_meta`` names the columns that were present and
    their ``cflag``; without it every column of ``block.columns`` is written,
    with the column's flags as ``cflag`` (``tColDataInit``).
    """
    positions = {column.col_id: index for index, column in enumerate(block.columns)}
    if block.col_meta:
        layout = [(meta["cid"], TdType(meta["type"]), meta.get("cflag")) for meta in block.col_meta]
    else:
        layout = [(column.col_id, column.type, column.flags) for column in block.columns]
    out.varint(len(layout))
    for cid, td_type, cflag in layout:
        index = positions.get(cid)
        if index is None:
            raise ValueError(f"table block of uid {block.uid}: SColData column {cid} is not in the block's columns")
        cells = [row[index] for row in block.rows]
        encode_col_data(out, cid, td_type, cells, _cflag(cflag, block.columns[index], encoding_version))


def _cflag(cflag: int | None, column: Column, encoding_version: int) -> int | None:
    if encoding_version < 1:
        return None
    return column.flags if cflag is None else cflag
