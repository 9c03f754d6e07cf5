"""Schema-carrying messages: CREATE_STB / ALTER_STB, CREATE_TABLE and DROP_TABLE.

Every body starts with an 8-byte SMsgHead (_head.py); a framed request
follows.

CREATE_STB (531) and ALTER_STB (533) carry the complete super-table
definition, SVCreateStbReq (tmsg.c ``tEncodeSVCreateStbReq``):

    CStr   name
    I64    suid
    I8     rollup            rsmaParam follows when != 0 (not decoded)
    SSchemaWrapper schemaRow  data columns; version = the sver SUBMITs use
    SSchemaWrapper schemaTag  tags, with their own version
    I32    alterOriDataLen;  Binary alterOriData when > 0 (_alter_ori.py)
    optional trailing fields, read while the frame has bytes left (3.2 stops here):
    I8     source            3.3.0+
    I8     colCmpred         3.3.0+
    SColCmprWrapper colCmpr  3.3.0+
    I64    keep              3.3.6+
    I8     hasExtSchema      3.3.6+; then schemaRow.nCols x I32v typeMod when 1
    I8     virtualStb        3.3.6+

CREATE_TABLE (515), SVCreateTbBatchReq: I32v nReqs, nReqs x framed
SVCreateTbReq (_create_tb.py), then I8 source (3.3.0+, optional).

DROP_TABLE (519), SVDropTbBatchReq: I32v nReqs, nReqs x framed {CStr name,
U64 suid, I64 uid, I8 igNotExists, I8 isVirtual (3.3.6+, optional)}.  The
vnode re-encodes the batch into the original buffer without shrinking it, so
bytes may follow the frame.
"""

from __future__ import annotations

from typing import Any, Final

from connector.decode._alter_ori import decode_alter_ori_data
from connector.decode._create_tb import decode_create_tb_req
from connector.decode._cursor import Cursor
from connector.decode._head import read_msg_head
from connector.decode._sschema import read_col_cmpr, read_ext_type_mods, read_schema_wrapper, with_type_mods
from connector.decode.catalog import SchemaCatalog
from connector.decode.model import DroppedTable, DropTableMessage, SchemaMessage, TableSchema
from connector.errors import DecodeError

__all__ = ["decode_create_stb", "decode_create_table", "decode_drop_table"]

_MAX_BATCH: Final = 1_000_000  # sanity bound; each request needs several bytes anyway


def decode_create_stb(body: bytes, *, kind: str) -> SchemaMessage:
    """Decode a CREATE_STB or ALTER_STB body (``kind`` "create-stb" or "alter-stb").

    ``schemas`` contains the one super-table schema the message defines, and
    ``fields`` every other decoded field under TDengine's names.
    """
    cursor = Cursor(body, what=kind.upper())
    head = read_msg_head(cursor)
    frame = cursor.frame("SVCreateStbReq")
    cursor.expect_end()

    fields: dict[str, Any] = {}
    name = frame.text("name")
    suid = frame.i64("suid")
    rollup = frame.i8("rollup")
    fields.update(name=name, suid=suid, rollup=rollup)
    row = read_schema_wrapper(frame, "schemaRow")
    tags = read_schema_wrapper(frame, "schemaTag")
    if rollup:
        # NOTE: rsmaParam is not decoded, so the fields after it are skipped.
        frame.pos = frame.end
        alter_ori = None
    else:
        alter_len = frame.i32("alterOriDataLen")
        fields["alterOriDataLen"] = alter_len
        alter_ori = frame.binary("alterOriData") if alter_len > 0 else None
        if alter_ori is not None:
            fields["alterOriData"] = alter_ori

    type_mods = None
    has_trailing = not frame.at_end()
    if not frame.at_end():
        fields["source"] = frame.i8("source")
    if not frame.at_end():
        fields["colCmpred"] = frame.i8("colCmpred")
    if not frame.at_end():
        fields["colCmpr"] = read_col_cmpr(frame, "colCmpr")
    if not frame.at_end():
        fields["keep"] = frame.i64("keep")
    if not frame.at_end():
        type_mods = read_ext_type_mods(frame, len(row.columns), "ext schemas")
        fields["extSchemasTypeMod"] = type_mods
    if not frame.at_end():
        fields["virtualStb"] = frame.i8("virtualStb")
    frame.expect_end()

    if alter_ori is not None:
        try:
            fields["alterReq"] = decode_alter_ori_data(alter_ori, has_keep=has_trailing)
        except DecodeError:
            # alterOriData is informational: the full new schema is in schemaRow.
            fields["alterReq"] = None

    schema = TableSchema(
        suid=suid,
        uid=0,
        sver=row.version,
        columns=with_type_mods(row.columns, type_mods),
        tags=tags.columns,
        name=name,
        tag_version=tags.version,
    )
    return SchemaMessage(head=head, kind=kind, schemas=(schema,), fields=fields)


def decode_create_table(body: bytes, catalog: SchemaCatalog) -> SchemaMessage:
    """Decode a CREATE_TABLE batch; tag names come from the super-table schemas in ``catalog``.

    ``fields`` contains ``nReqs`` and, when present, ``source``.
    """
    cursor = Cursor(body, what="CREATE_TABLE")
    head = read_msg_head(cursor)
    frame = cursor.frame("SVCreateTbBatchReq")
    cursor.expect_end()
    count_at = frame.pos
    count = frame.zigzag("nReqs", bits=32)
    if not 0 <= count <= min(_MAX_BATCH, frame.remaining // 4):
        raise frame.error(f"nReqs {count} is invalid for the {frame.remaining} bytes left", offset=count_at)
    tables = [decode_create_tb_req(frame.frame(f"SVCreateTbReq {index}"), catalog) for index in range(count)]
    fields: dict[str, Any] = {"nReqs": count}
    if not frame.at_end():
        fields["source"] = frame.i8("source")
    frame.expect_end()
    schemas = tuple(table.schema for table in tables if table.schema is not None)
    return SchemaMessage(head=head, kind="create-table", schemas=schemas, tables=tuple(tables), fields=fields)


def decode_drop_table(body: bytes) -> DropTableMessage:
    """Decode a DROP_TABLE batch (bytes after the frame are allowed, see the module docstring)."""
    cursor = Cursor(body, what="DROP_TABLE")
    head = read_msg_head(cursor)
    frame = cursor.frame("SVDropTbBatchReq")
    count_at = frame.pos
    count = frame.zigzag("nReqs", bits=32)
    if not 0 <= count <= min(_MAX_BATCH, frame.remaining // 4):
        raise frame.error(f"nReqs {count} is invalid for the {frame.remaining} bytes left", offset=count_at)
    tables = []
    for index in range(count):
        item = frame.frame(f"SVDropTbReq {index}")
        name = item.text("name")
        suid = item.u64("suid")
        uid = item.i64("uid")
        ig_not_exists = item.i8("igNotExists")
        is_virtual = None if item.at_end() else item.i8("isVirtual")
        item.expect_end()
        tables.append(DroppedTable(name=name, suid=suid, uid=uid, ig_not_exists=ig_not_exists, is_virtual=is_virtual))
    frame.expect_end()
    return DropTableMessage(head=head, tables=tuple(tables))
