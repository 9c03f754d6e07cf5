"""SVCreateTbReq (one table of CREATE_TABLE or of a SUBMIT auto-create) and STag.

SVCreateTbReq, framed (tmsg.c ``tEncodeSVCreateTbReq``):

    I32v   flags          0x1 TD_CREATE_IF_NOT_EXISTS
    CStr   name
    I64    uid            filled in by the vnode before logging
    I64    btime          ms, filled in by the vnode
    I32    ttl            days
    I8     type           1 super, 2 child, 3 normal, 8 virtual normal, 9 virtual child
    I32    commentLen     -1 or 0: no comment; > 0: CStr comment follows
    child (2, 9):  CStr stbName, U8 tagNum, I64 suid, Binary STag, I32 nTagNames, CStr x nTagNames
    normal (3, 8): SSchemaWrapper
    optional trailing fields, read while the frame has bytes left:
    I32    sqlLen         3.3+ always, 3.1/3.2 only when > 0; Binary sql follows when > 0
    SColCmprWrapper       3.3.0+, super and normal tables (type 1, 3) only
    I8     hasExtSchema   3.3.6+, every type; then nCols x I32v typeMod when 1

STag (tdataformat.c ``tTagNew``), packed, little-endian:

    off size field
      0    1 flags     0x40 JSON tags, 0x20 LARGE (i16 offsets)
      1    2 len       the whole STag including this header
      3    2 nTag      stored tags; a NULL tag is not stored
      5    4 ver
      9      nTag offsets (u8, or i16 with LARGE), relative to the first byte after them
             values: key (I16v cid, or CStr name for JSON), I8 type, then fixed bytes or
             U32v length + bytes
"""

from __future__ import annotations

import struct
from typing import Final

from connector.decode._cursor import Cursor
from connector.decode._sschema import read_col_cmpr, read_ext_type_mods, read_schema_wrapper, with_type_mods
from connector.decode._values import read_value
from connector.decode.catalog import SchemaCatalog
from connector.decode.model import CreateTableRequest, TableSchema, TdType

__all__ = ["TABLE_TYPE_CHILD", "TABLE_TYPE_NORMAL", "decode_create_tb_req", "decode_stag"]

TABLE_TYPE_SUPER: Final = 1
TABLE_TYPE_CHILD: Final = 2
TABLE_TYPE_NORMAL: Final = 3
TABLE_TYPE_VIRTUAL_NORMAL: Final = 8
TABLE_TYPE_VIRTUAL_CHILD: Final = 9
_CHILD_TYPES: Final = (TABLE_TYPE_CHILD, TABLE_TYPE_VIRTUAL_CHILD)
_NORMAL_TYPES: Final = (TABLE_TYPE_NORMAL, TABLE_TYPE_VIRTUAL_NORMAL)
_VIRTUAL_TYPES: Final = (TABLE_TYPE_VIRTUAL_NORMAL, TABLE_TYPE_VIRTUAL_CHILD)

STAG_HEADER: Final = struct.Struct(
    "<"
    "B"  # flags
    "H"  # len
    "H"  # nTag
    "i"  # ver
)
TAG_FLG_JSON: Final = 0x40
TAG_FLG_LARGE: Final = 0x20
_SMALL_OFFSET: Final = struct.Struct("<B")
_LARGE_OFFSET: Final = struct.Struct("<h")
_MAX_TAG_NAMES: Final = 128  # TSDB_MAX_TAGS


def decode_create_tb_req(frame: Cursor, catalog: SchemaCatalog) -> CreateTableRequest:
    """Decode one SVCreateTbReq frame.

    Tag names come from the super table's newest schema in ``catalog``;
    without it a tag is named ``tag<cid>``.
    """
    flags = frame.zigzag("flags", bits=32)
    name = frame.text("name")
    uid = frame.i64("uid")
    btime = frame.i64("btime")
    ttl = frame.i32("ttl")
    table_type = frame.i8("type")
    comment_len = frame.i32("commentLen")
    comment = frame.text("comment") if comment_len > 0 else None
    extra: dict[str, object] = {"commentLen": comment_len}

    super_table_name = None
    suid = 0
    tag_num = 0
    tags: dict[str, object] = {}
    tag_names: tuple[str, ...] = ()
    schema = None
    n_cols = 0
    if table_type in _CHILD_TYPES:
        super_table_name = frame.text("stbName")
        tag_num = frame.u8("tagNum")
        suid = frame.i64("suid")
        stag_len = frame.varint("STag length", bits=32)
        tags, tag_types = decode_stag(frame.sub(stag_len, "STag"), catalog.latest_schema(suid))
        extra["tagTypes"] = tag_types
        n_names = frame.i32("nTagNames")
        if not 0 <= n_names <= _MAX_TAG_NAMES:
            raise frame.error(f"nTagNames {n_names} is invalid; expected 0..{_MAX_TAG_NAMES}")
        tag_names = tuple(frame.text(f"tag name {index}") for index in range(n_names))
    elif table_type in _NORMAL_TYPES:
        raw = read_schema_wrapper(frame, "schemaRow")
        n_cols = len(raw.columns)
        schema = TableSchema(suid=0, uid=uid, sver=raw.version, columns=raw.columns, name=name)
    else:
        raise frame.error(f"table {name!r}: type {table_type} is invalid; expected 2, 3, 8 or 9")

    sql = None
    sql_len = 0
    if not frame.at_end():
        sql_len = frame.i32("sqlLen")
        if sql_len > 0:
            sql = frame.binary("sql")
    extra["sqlLen"] = sql_len
    if table_type in _VIRTUAL_TYPES:
        # NOTE: the colRef layout of virtual tables (3.3.6+) is not decoded; the
        # frame length lets the rest of the request be skipped safely.
        frame.pos = frame.end
    else:
        if table_type == TABLE_TYPE_NORMAL and not frame.at_end():
            extra["colCmpr"] = read_col_cmpr(frame, "colCmpr")
        if not frame.at_end():
            type_mods = read_ext_type_mods(frame, n_cols, "ext schemas")
            extra["extSchemasTypeMod"] = type_mods
            if schema is not None and type_mods:
                schema = TableSchema(
                    suid=0, uid=uid, sver=schema.sver, columns=with_type_mods(schema.columns, type_mods), name=name
                )
    frame.expect_end()

    return CreateTableRequest(
        flags=flags,
        name=name,
        uid=uid,
        btime=btime,
        ttl=ttl,
        table_type=table_type,
        comment=comment,
        super_table_name=super_table_name,
        suid=suid,
        tag_num=tag_num,
        tags=tags,
        tag_names=tag_names,
        schema=schema,
        sql=sql,
        fields=extra,
    )


def decode_stag(cursor: Cursor, super_schema: TableSchema | None) -> tuple[dict[str, object], dict[str, TdType]]:
    """Decode the STag that fills ``cursor``'s range into ``{tag name: value}`` and ``{tag name: type}``.

    Tags of ``super_schema`` that the STag does not store map to None (NULL).
    """
    buffer = cursor.buffer
    stag_start = cursor.need(STAG_HEADER.size, "STag header")
    flags, total_len, n_tag, _version = STAG_HEADER.unpack_from(buffer, stag_start)
    cursor.pos = stag_start + STAG_HEADER.size
    if total_len != cursor.end - stag_start:
        raise cursor.error(f"STag len {total_len} differs from its Binary length {cursor.end - stag_start}", offset=stag_start)
    is_json = bool(flags & TAG_FLG_JSON)
    offset_layout = _LARGE_OFFSET if flags & TAG_FLG_LARGE else _SMALL_OFFSET
    offsets_cursor = cursor.sub(n_tag * offset_layout.size, "STag offsets")
    offsets = [offset_layout.unpack_from(buffer, offsets_cursor.pos + i * offset_layout.size)[0] for i in range(n_tag)]
    values_start = cursor.pos

    tag_columns = {column.col_id: column for column in super_schema.tags} if super_schema else {}
    result: dict[str, object] = {column.name or f"tag{column.col_id}": None for column in tag_columns.values()}
    types: dict[str, TdType] = {column.name or f"tag{column.col_id}": column.type for column in tag_columns.values()}
    data_end = values_start
    for index, offset in enumerate(offsets):
        if not 0 <= values_start + offset < cursor.end:
            raise cursor.error(f"STag entry {index}: offset {offset} points outside the STag")
        entry = Cursor(buffer, start=values_start + offset, end=cursor.end, what="STag")
        if is_json:
            name = entry.text(f"STag entry {index} key")
            column = None
        else:
            cid = entry.zigzag(f"STag entry {index} cid", bits=16)
            column = tag_columns.get(cid)
            name = column.name if column and column.name else f"tag{cid}"
        type_id = entry.i8(f"STag entry {index} type")
        try:
            td_type = TdType(type_id)
        except ValueError:
            raise entry.error(f"STag entry {index}: unknown type id {type_id}") from None
        types[name] = td_type
        if is_json and td_type == TdType.NULL:
            result[name] = None
        else:
            precision = column.precision if column else None
            scale = column.scale if column else None
            result[name] = read_value(entry, td_type, f"tag {name!r}", precision=precision, scale=scale)
        data_end = max(data_end, entry.pos)
    cursor.pos = data_end
    cursor.expect_end()
    return result, types
