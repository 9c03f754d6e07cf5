"""CREATE_STB / ALTER_STB, CREATE_TABLE and DROP_TABLE bodies: the inverse of ``connector.decode.ddl``.

Each body is SMsgHead + one frame.  Optional trailing fields are written in
their order for as long as the decoded ``fields`` contain them, so a message
decoded from a 3.2 WAL (which stops earlier) encodes to the 3.2 bytes again.

SVCreateStbReq (``tEncodeSVCreateStbReq``): CStr name, I64 suid, I8 rollup,
SSchemaWrapper schemaRow, SSchemaWrapper schemaTag, I32 alterOriDataLen
(+ Binary alterOriData when > 0), then trailing I8 source, I8 colCmpred,
SColCmprWrapper, I64 keep, I8 hasExtSchema (+ typeMods), I8 virtualStb.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from connector.decode.catalog import SchemaCatalog
from connector.decode.encode._buffer import Buffer
from connector.decode.encode._create_tb import put_create_tb_req
from connector.decode.encode._head import put_msg_head
from connector.decode.encode._sschema import put_col_cmpr, put_ext_type_mods, put_schema_wrapper
from connector.decode.model import DropTableMessage, SchemaMessage
from connector.errors import UnsupportedFormatError

__all__ = ["encode_create_stb", "encode_create_table", "encode_drop_table"]

_STB_TRAILING: Final = ("source", "colCmpred", "colCmpr", "keep", "extSchemasTypeMod", "virtualStb")


def encode_create_stb(message: SchemaMessage) -> bytes:
    """Encode a CREATE_STB or ALTER_STB body from the message's one schema and its ``fields``."""
    if len(message.schemas) != 1:
        raise ValueError(f"{message.kind} needs exactly one schema, got {len(message.schemas)}")
    schema = message.schemas[0]
    fields = message.fields
    rollup = int(fields.get("rollup", 0))
    if rollup:
        raise UnsupportedFormatError(f"super table {schema.name!r}: rollup (rsmaParam) cannot be encoded")

    out = Buffer()
    put_msg_head(out, message.head)
    with out.frame():
        out.cstr(fields.get("name", schema.name or ""))
        out.i64(fields.get("suid", schema.suid))
        out.i8(rollup)
        put_schema_wrapper(out, schema.sver, schema.columns)
        tag_version = schema.tag_version if schema.tag_version is not None else 1
        put_schema_wrapper(out, tag_version, schema.tags)
        alter_ori = fields.get("alterOriData")
        out.i32(int(fields.get("alterOriDataLen", len(alter_ori) if alter_ori else 0)))
        if alter_ori:
            out.binary(alter_ori)
        _put_stb_trailing(out, fields)
    return out.getvalue()


def _put_stb_trailing(out: Buffer, fields: Mapping[str, Any]) -> None:
    for name in _STB_TRAILING:
        if name not in fields:
            return
        value = fields[name]
        if name == "colCmpr":
            put_col_cmpr(out, value)
        elif name == "keep":
            out.i64(value)
        elif name == "extSchemasTypeMod":
            put_ext_type_mods(out, value)
        else:
            out.i8(value)


def encode_create_table(message: SchemaMessage, catalog: SchemaCatalog) -> bytes:
    """Encode a CREATE_TABLE batch; ``catalog`` supplies the tag ids of the child tables' super tables.

    A trailing ``source`` in ``fields`` marks a 3.3+ batch, whose requests
    always carry ``sqlLen``.
    """
    out = Buffer()
    put_msg_head(out, message.head)
    is_33 = "source" in message.fields
    with out.frame():
        out.zigzag(len(message.tables), bits=32)
        for request in message.tables:
            put_create_tb_req(out, request, catalog, sql_len_always=is_33)
        if is_33:
            out.i8(message.fields["source"])
    return out.getvalue()


def encode_drop_table(message: DropTableMessage) -> bytes:
    """Encode a DROP_TABLE batch (no bytes after the frame; see the NOTE)."""
    out = Buffer()
    put_msg_head(out, message.head)
    # NOTE: a vnode that drops unknown tables while re-encoding leaves stale bytes
    # after the frame. The decoded message does not keep them, so they are not written.
    with out.frame():
        out.zigzag(len(message.tables), bits=32)
        for table in message.tables:
            with out.frame():
                out.cstr(table.name)
                out.u64(table.suid)
                out.i64(table.uid)
                out.i8(table.ig_not_exists)
                if table.is_virtual is not None:
                    out.i8(table.is_virtual)
    return out.getvalue()
