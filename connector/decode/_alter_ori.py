"""SMAlterStbReq: the client's ALTER STABLE request that ALTER_STB carries as ``alterOriData``.

The mnode passes it through unchanged; the connector only shows it, since
the new schema is complete in SVCreateStbReq.schemaRow.  Framed
(tmsg.c ``tSerializeSMAlterStbReq``):

    CStr  name          "<acctId>.<db>.<stb>"
    I8    alterType     TSDB_ALTER_TABLE_*: 5 ADD_COLUMN, 6 DROP_COLUMN, 7 UPDATE_COLUMN_BYTES,
                        14 ADD_COLUMN_WITH_COMPRESS_OPTION, …
    I32   numOfFields
    field x n: I8 type, I32 bytes, CStr name; U32 compress when alterType is 14
    I32   ttl
    I32   commentLen;   CStr comment when > 0
    I64   keep          3.3.x only
    I32   sqlLen;       Binary sql when > 0
    I8    hasTypeMod    3.3.6+, only for alterType 5 and 14; then numOfFields x I32 typeMod

``keep`` sits in the middle, so the caller says whether this release writes
it: the 3.2 SVCreateStbReq ends right after alterOriData, and 3.3 adds
trailing fields.
"""

from __future__ import annotations

from typing import Any, Final

from connector.decode._cursor import Cursor

__all__ = ["decode_alter_ori_data"]

TSDB_ALTER_TABLE_ADD_COLUMN: Final = 5
TSDB_ALTER_TABLE_ADD_COLUMN_WITH_COMPRESS_OPTION: Final = 14
_MAX_FIELDS: Final = 4096


def decode_alter_ori_data(data: bytes, *, has_keep: bool) -> dict[str, Any]:
    """Decode alterOriData into a dict keyed by TDengine's field names (``sql`` stays bytes)."""
    outer = Cursor(data, what="alterOriData")
    frame = outer.frame("SMAlterStbReq")
    outer.expect_end()

    result: dict[str, Any] = {"name": frame.text("name")}
    alter_type = frame.i8("alterType")
    result["alterType"] = alter_type
    count = frame.i32("numOfFields")
    if not 0 <= count <= _MAX_FIELDS:
        raise frame.error(f"numOfFields {count} is invalid; expected 0..{_MAX_FIELDS}")
    result["numOfFields"] = count

    fields = []
    for index in range(count):
        field_type = frame.i8(f"field {index} type")
        field_bytes = frame.i32(f"field {index} bytes")
        field: dict[str, Any] = {"name": frame.text(f"field {index} name"), "type": field_type, "bytes": field_bytes}
        if alter_type == TSDB_ALTER_TABLE_ADD_COLUMN_WITH_COMPRESS_OPTION:
            field["compress"] = frame.u32(f"field {index} compress")
        fields.append(field)
    result["fields"] = fields

    result["ttl"] = frame.i32("ttl")
    comment_len = frame.i32("commentLen")
    result["commentLen"] = comment_len
    if comment_len > 0:
        result["comment"] = frame.cstr("comment")
    if has_keep:
        result["keep"] = frame.i64("keep")
    sql_len = frame.i32("sqlLen")
    if sql_len > 0:
        result["sql"] = frame.binary("sql")

    if has_keep:
        type_mods: list[int] = []
        has_type_mod = alter_type in (TSDB_ALTER_TABLE_ADD_COLUMN, TSDB_ALTER_TABLE_ADD_COLUMN_WITH_COMPRESS_OPTION)
        if has_type_mod and not frame.at_end() and frame.i8("hasTypeMod"):
            type_mods = [frame.i32(f"typeMod {index}") for index in range(count)]
        result["typeMods"] = type_mods
    frame.expect_end()
    return result
