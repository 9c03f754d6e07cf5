"""SVCreateTbReq (CREATE_TABLE, SUBMIT auto-create) and STag, the inverse of ``connector.decode._create_tb``.

Which optional trailing fields are written:

    sqlLen        3.3+ writes it always, 3.1/3.2 only when > 0.  The decoded request
                  does not record which, so the caller passes ``sql_len_always``;
                  a request with colCmpr or ext-schema fields implies it.
    colCmpr       when the decoded fields have it (3.3.0+, normal tables)
    hasExtSchema  when the decoded fields have ``extSchemasTypeMod`` (3.3.6+, every type)

STag (``tTagNew``) stores its entries sorted by cid and leaves NULL tags out.
Its offsets are u8 while the values take at most 127 bytes, else i16 with the
LARGE flag.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Final

from connector.decode.catalog import SchemaCatalog
from connector.decode.encode._buffer import Buffer
from connector.decode.encode._sschema import put_col_cmpr, put_ext_type_mods, put_schema_wrapper
from connector.decode.encode._values import encode_value
from connector.decode.model import CreateTableRequest, TdType
from connector.decode.types import is_var_type
from connector.errors import UnsupportedFormatError

__all__ = ["DEFAULT_TAG_VERSION", "encode_stag", "put_create_tb_req"]

TABLE_TYPE_CHILD: Final = 2
TABLE_TYPE_NORMAL: Final = 3
TAG_FLG_LARGE: Final = 0x20
# tTagNew is called with version 1 by the parser (parInsertSql.c, parTranslater.c).
DEFAULT_TAG_VERSION: Final = 1
_SMALL_VALUES_MAX: Final = 0x7F  # INT8_MAX: larger value areas need i16 offsets

STAG_HEADER: Final = struct.Struct(
    "<"
    "B"  # flags
    "H"  # len
    "H"  # nTag
    "i"  # ver
)
_SMALL_OFFSET: Final = struct.Struct("<b")
_LARGE_OFFSET: Final = struct.Struct("<h")


def put_create_tb_req(out: Buffer, request: CreateTableRequest, catalog: SchemaCatalog, *,
                      sql_len_always: bool, tag_version: int = DEFAULT_TAG_VERSION) -> None:
    """Append one framed SVCreateTbReq."""
    fields = request.fields
    with out.frame():
        out.zigzag(request.flags, bits=32)
        out.cstr(request.name)
        out.i64(request.uid)
        out.i64(request.btime)
        out.i32(request.ttl)
        out.i8(request.table_type)
        comment_len = int(fields.get("commentLen", len(request.comment.encode()) + 1 if request.comment else -1))
        out.i32(comment_len)
        if comment_len > 0:
            out.cstr(request.comment or "")

        if request.table_type == TABLE_TYPE_CHILD:
            out.cstr(request.super_table_name or "")
            out.u8(request.tag_num)
            out.i64(request.suid)
            out.binary(encode_stag(request, catalog, version=tag_version))
            out.i32(len(request.tag_names))
            for name in request.tag_names:
                out.cstr(name)
        elif request.table_type == TABLE_TYPE_NORMAL:
            if request.schema is None:
                raise ValueError(f"normal table {request.name!r} has no schema to encode")
            put_schema_wrapper(out, request.schema.sver, request.schema.columns)
        else:
            raise UnsupportedFormatError(
                f"table {request.name!r}: encoding table type {request.table_type} is not supported; expected 2 or 3"
            )

        sql_len = int(fields.get("sqlLen", len(request.sql) if request.sql else 0))
        if sql_len_always or sql_len > 0 or "colCmpr" in fields or "extSchemasTypeMod" in fields:
            out.i32(sql_len)
            if sql_len > 0:
                out.binary(request.sql or b"")
        if request.table_type == TABLE_TYPE_NORMAL and "colCmpr" in fields:
            put_col_cmpr(out, fields["colCmpr"])  # type: ignore[arg-type]
        if "extSchemasTypeMod" in fields:
            put_ext_type_mods(out, fields["extSchemasTypeMod"])  # type: ignore[arg-type]


def encode_stag(request: CreateTableRequest, catalog: SchemaCatalog, *, version: int = DEFAULT_TAG_VERSION) -> bytes:
    """Return the STag of a child table's tags; tag ids come from the super table's schema in ``catalog``."""
    tag_types: Mapping[str, TdType] = request.fields.get("tagTypes", {})  # type: ignore[assignment]
    schema = catalog.latest_schema(request.suid)
    by_name = {column.name: column for column in schema.tags} if schema else {}

    entries: list[tuple[int, bytes]] = []
    for name, value in request.tags.items():
        if value is None:
            continue
        column = by_name.get(name)
        if column is not None:
            cid, td_type = column.col_id, TdType(tag_types.get(name, column.type))
        elif name.startswith("tag") and name[3:].isdigit() and name in tag_types:
            cid, td_type = int(name[3:]), TdType(tag_types[name])
        else:
            raise ValueError(f"table {request.name!r}: tag {name!r} is not a tag of super table {request.suid}")
        if td_type == TdType.JSON:
            raise UnsupportedFormatError(f"table {request.name!r}: encoding JSON tags is not supported")
        entry = Buffer()
        entry.zigzag(cid, bits=16)
        entry.i8(int(td_type))
        payload = encode_value(td_type, value)
        if is_var_type(td_type):
            entry.binary(payload)
        else:
            entry.raw(payload)
        entries.append((cid, entry.getvalue()))
    entries.sort(key=lambda item: item[0])

    values_size = sum(len(data) for _, data in entries)
    large = values_size > _SMALL_VALUES_MAX
    offset_layout = _LARGE_OFFSET if large else _SMALL_OFFSET
    total = STAG_HEADER.size + len(entries) * offset_layout.size + values_size
    out = Buffer()
    out.raw(STAG_HEADER.pack(TAG_FLG_LARGE if large else 0, total, len(entries), version))
    position = 0
    for _, data in entries:
        out.raw(offset_layout.pack(position))
        position += len(data)
    for _, data in entries:
        out.raw(data)
    return out.getvalue()
