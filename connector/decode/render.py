"""Render decoded messages as JSON-able dicts in the form of the golden fixtures' ``body``.

Cell and tag values:

    NULL                   None
    NONE (not bound)       the key is left out
    integers, timestamps   int (64-bit values stay exact Python ints)
    BOOL                   bool
    FLOAT, DOUBLE          float; NaN and infinities as "NaN", "Infinity", "-Infinity"
    VARCHAR / BINARY       str when the bytes are UTF-8 without NUL, else {"hex": …}
    VARBINARY, GEOMETRY    {"hex": …}
    NCHAR                  str
    DECIMAL64, DECIMAL     {"text": …, "unscaled": int, "scale": int}

``msgHead.byteOrder`` is descriptive text. It records whether the dnode
converted the head from network order (messages from clients and the mnode)
or the server built it in host order (DELETE, BATCH_DEL, SYNC_NOOP, COMMIT).
A FLOAT renders as the exact widened float32, which a ``%.9g`` text of the
same float32 may not equal as a double; compare FLOAT cells as float32.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from connector.decode._alter_tb import ALTER_ACTION_NAMES, AlterTableMessage
from connector.decode.catalog import SchemaCatalog
from connector.decode.model import (
    NONE,
    Column,
    CreateTableRequest,
    DecimalValue,
    DeleteMessage,
    DropTableMessage,
    MessageHead,
    OtherMessage,
    SchemaMessage,
    SubmitMessage,
    TableBlock,
    TableSchema,
    TdType,
)
from connector.decode.types import type_name

__all__ = ["render_body", "render_value"]

BYTE_ORDER_CONVERTED: Final = "little-endian (host): the dnode converted it with ntohl in vmPutMsgToQueue"
BYTE_ORDER_HOST: Final = "little-endian (host)"
# Message kinds whose head the server builds in host order.
_HOST_BUILT_KINDS: Final = frozenset({"delete", "sync-noop", "batch-delete", "vnode-commit"})
_HEX_TYPES: Final = frozenset({TdType.VARBINARY, TdType.GEOMETRY, TdType.BLOB, TdType.MEDIUMBLOB})


def render_body(message: object, catalog: SchemaCatalog | None = None) -> dict[str, Any]:
    """Return the fixture-style ``body`` dict of a decoded message.

    Table names come from the message; ``catalog`` fills in names the
    message lacks.
    """
    if isinstance(message, SubmitMessage):
        return _render_submit(message, catalog)
    if isinstance(message, DeleteMessage):
        return _render_delete(message, catalog)
    if isinstance(message, SchemaMessage):
        if message.kind == "create-table":
            return _render_create_table(message)
        return _render_create_stb(message)
    if isinstance(message, AlterTableMessage):
        return _render_alter_table(message)
    if isinstance(message, DropTableMessage):
        return _render_drop_table(message)
    if isinstance(message, OtherMessage):
        body: dict[str, Any] = {"kind": message.kind}
        if message.head is not None:
            body["msgHead"] = _render_head(message.head, message.kind)
        return body
    raise TypeError(f"cannot render {type(message).__name__}; expected a decoded message")


def render_value(value: object, td_type: TdType) -> object:
    """Render one cell or tag value (NONE must be filtered out by the caller)."""
    if value is None:
        return None
    if value is NONE:
        raise ValueError("NONE has no rendering; leave the key out")
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, DecimalValue):
        return {"text": decimal_text(value.unscaled, value.scale), "unscaled": value.unscaled, "scale": value.scale}
    if isinstance(value, bytes):
        if td_type in _HEX_TYPES:
            return {"hex": value.hex()}
        return _render_text(value)
    return value


def decimal_text(unscaled: int, scale: int) -> str:
    """Format an unscaled decimal as TDengine's ``decimalToStr`` does (zero prints as "0")."""
    if unscaled == 0:
        return "0"
    sign = "-" if unscaled < 0 else ""
    digits = str(abs(unscaled))
    if scale <= 0:
        return sign + digits
    digits = digits.rjust(scale + 1, "0")
    return f"{sign}{digits[:-scale]}.{digits[-scale:]}"


def _render_text(raw: bytes) -> object:
    if b"\x00" not in raw:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return {"hex": raw.hex()}


def _render_head(head: MessageHead, kind: str) -> dict[str, Any]:
    order = BYTE_ORDER_HOST if kind in _HOST_BUILT_KINDS else BYTE_ORDER_CONVERTED
    return {"vgId": head.vg_id, "contLen": head.cont_len, "byteOrder": order}


# -- SUBMIT -------------------------------------------------------------------


def _render_submit(message: SubmitMessage, catalog: SchemaCatalog | None) -> dict[str, Any]:
    return {
        "kind": "submit",
        "msgHead": _render_head(message.head, "submit"),
        "submitReqMsgVersion": message.req_version,
        "numTables": len(message.blocks),
        "tables": [_render_block(block, catalog) for block in message.blocks],
    }


def _render_block(block: TableBlock, catalog: SchemaCatalog | None) -> dict[str, Any]:
    name = block.table_name or (catalog.table_name(block.uid) if catalog else None)
    table: dict[str, Any] = {
        "tableName": name,
        "flags": block.flags,
        "format": "row" if block.row_format else "col",
        "autoCreate": block.create_request is not None,
    }
    if block.create_request is not None:
        table["createTbReq"] = _render_create_tb_req(block.create_request)
    table.update(suid=block.suid, uid=block.uid, sver=block.sver)
    if block.ctime_ms is not None:
        table["ctimeMs"] = block.ctime_ms
    if not block.row_format:
        table["colData"] = [dict(meta) for meta in block.col_meta]
    rows = []
    for index, values in enumerate(block.rows):
        row = _render_row(block.columns, values)
        if block.row_format:
            flag, length = block.row_meta[index]
            row["srowFlag"] = flag
            row["srowLen"] = length
        rows.append(row)
    table["rows"] = rows
    return table


def _render_row(columns: tuple[Column, ...], values: tuple[object, ...]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column, value in zip(columns, values, strict=True):
        if value is NONE:
            continue
        row[column.name or f"col{column.col_id}"] = render_value(value, column.type)
    return row


# -- DELETE -------------------------------------------------------------------


def _render_delete(message: DeleteMessage, catalog: SchemaCatalog | None) -> dict[str, Any]:
    names = list(message.table_names) or [None] * len(message.uids)
    if catalog is not None:
        names = [name or catalog.table_name(uid) for name, uid in zip(names, message.uids, strict=True)]
    body: dict[str, Any] = {
        "kind": "delete",
        "msgHead": _render_head(message.head, "delete"),
        "suid": message.suid,
        "uidList": list(message.uids),
    }
    if len(names) == 1:
        body["tableName"] = names[0]
    else:
        body["tableNames"] = names
    body.update(
        skey=message.skey,
        ekey=message.ekey,
        affectedRows=message.affected_rows,
        tableFName=message.table_fname,
        tsColName=message.ts_col_name,
    )
    if message.ctime_ms is not None:
        body["ctimeMs"] = message.ctime_ms
    if message.source is not None:
        body["source"] = message.source
    return body


# -- DDL ----------------------------------------------------------------------


def _render_schema_entry(column: Column) -> dict[str, Any]:
    return {
        "name": column.name,
        "colId": column.col_id,
        "type": int(column.type),
        "typeName": type_name(column.type),
        "bytes": column.bytes,
        "flags": column.flags,
    }


def _render_wrapper(columns: tuple[Column, ...], version: int | None) -> dict[str, Any]:
    return {"nCols": len(columns), "version": version, "schema": [_render_schema_entry(column) for column in columns]}


def _render_create_stb(message: SchemaMessage) -> dict[str, Any]:
    schema: TableSchema = message.schemas[0]
    fields = message.fields
    body: dict[str, Any] = {
        "kind": message.kind,
        "msgHead": _render_head(message.head, message.kind),
        "name": fields["name"],
        "suid": fields["suid"],
        "rollup": fields["rollup"],
        "schemaRow": _render_wrapper(schema.columns, schema.sver),
        "schemaTag": _render_wrapper(schema.tags, schema.tag_version),
    }
    for key, value in fields.items():
        if key in body:
            continue
        if key == "alterOriData":
            body["alterOriDataHex"] = value.hex()  # type: ignore[union-attr]
        elif key == "alterReq":
            body[key] = _render_alter_req(value) if value is not None else None
        else:
            body[key] = value
    return body


def _render_alter_req(request: Mapping[str, Any]) -> dict[str, Any]:
    rendered = dict(request)
    for key in ("sql", "comment"):
        if isinstance(rendered.get(key), bytes):
            rendered[key] = _render_text(rendered[key])
    return rendered


def _render_create_table(message: SchemaMessage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "create-table",
        "msgHead": _render_head(message.head, "create-table"),
        "nReqs": message.fields.get("nReqs", len(message.tables)),
    }
    if "source" in message.fields:
        body["source"] = message.fields["source"]
    body["reqs"] = [_render_create_tb_req(table) for table in message.tables]
    return body


def _render_create_tb_req(request: CreateTableRequest) -> dict[str, Any]:
    fields = request.fields
    item: dict[str, Any] = {
        "flags": request.flags,
        "name": request.name,
        "uid": request.uid,
        "btime": request.btime,
        "ttl": request.ttl,
        "type": request.table_type,
        "commentLen": fields.get("commentLen", -1 if request.comment is None else len(request.comment)),
    }
    if request.comment is not None:
        item["comment"] = request.comment
    if request.super_table_name is not None:
        item.update(
            stbName=request.super_table_name,
            tagNum=request.tag_num,
            suid=request.suid,
            tags=_render_tags(request),
            tagName=list(request.tag_names),
        )
    if request.schema is not None:
        item["schemaRow"] = _render_wrapper(request.schema.columns, request.schema.sver)
    item["sqlLen"] = fields.get("sqlLen", 0)
    if request.sql is not None:
        item["sql"] = _render_text(request.sql)
    return item


def _render_tags(request: CreateTableRequest) -> dict[str, Any]:
    types = request.fields.get("tagTypes", {})
    assert isinstance(types, Mapping)
    return {
        name: render_value(value, types.get(name, TdType.VARCHAR))
        for name, value in request.tags.items()
        if value is not None
    }


def _render_alter_table(message: AlterTableMessage) -> dict[str, Any]:
    """Render the SVAlterTbReq fields under TDengine's names, plus the table's uid and new schema when known."""
    body: dict[str, Any] = {"kind": message.kind, "msgHead": _render_head(message.head, message.kind)}
    for key, value in message.fields.items():
        if key == "tags":
            body[key] = [_render_tag_update(item) for item in value]
        elif key == "tagVal":
            body[key] = _render_tag_update(message.fields)[key]
        else:
            body[key] = value
        if key == "action":
            body["actionName"] = ALTER_ACTION_NAMES.get(value, f"UNKNOWN({value})")
    if message.uid is not None:
        body["uid"] = message.uid
    if message.schema is not None:
        body["schemaRow"] = _render_wrapper(message.schema.columns, message.schema.sver)
    return body


def _render_tag_update(item: Mapping[str, Any]) -> dict[str, Any]:
    rendered = dict(item)
    value = item.get("tagVal")
    tag_type = TdType(item["tagType"])
    if isinstance(value, Mapping):
        # A JSON tag value: its keys and values as decode_stag returned them.
        rendered["tagVal"] = {key: render_value(inner, TdType.VARCHAR) for key, inner in value.items()}
    else:
        rendered["tagVal"] = render_value(value, tag_type)
    return rendered


def _render_drop_table(message: DropTableMessage) -> dict[str, Any]:
    reqs = []
    for table in message.tables:
        item: dict[str, Any] = {
            "name": table.name,
            "suid": table.suid,
            "uid": table.uid,
            "igNotExists": table.ig_not_exists,
        }
        if table.is_virtual is not None:
            item["isVirtual"] = table.is_virtual
        reqs.append(item)
    return {
        "kind": "drop-table",
        "msgHead": _render_head(message.head, "drop-table"),
        "nReqs": len(message.tables),
        "reqs": reqs,
    }
