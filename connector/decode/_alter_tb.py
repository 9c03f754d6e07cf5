"""ALTER_TABLE (msgType 517): SMsgHead + framed SVAlterTbReq, and its effect on the catalog.

SVAlterTbReq (tmsg.c ``tEncodeSVAlterTbReq`` / ``tDecodeSVAlterTbReq``, 3.3.6 era):

    CStr   tbName
    I8     action          TSDB_ALTER_TABLE_*
    I32    colId           fixed width, not a varint
    per action:
      4  UPDATE_TAG_VAL                  CStr tagName, I8 isNull, I8 tagType, Binary value unless isNull
      5  ADD_COLUMN                      CStr colName, I8 type, I8 flags, I32v bytes
      6  DROP_COLUMN                     CStr colName
      7  UPDATE_COLUMN_BYTES             CStr colName, I8 colModType, I32v colModBytes
      9  UPDATE_OPTIONS                  I8 updateTTL, I32v newTTL when updateTTL != 0,
                                         I32v newCommentLen, CStr newComment when > 0
      10 UPDATE_COLUMN_NAME              CStr colName, CStr colNewName
      13 UPDATE_COLUMN_COMPRESS          CStr colName, U32 compress
      14 ADD_COLUMN_WITH_COMPRESS_OPTION as 5, then U32 compress
      15 UPDATE_MULTI_TAG_VAL            I32v nTags, nTags x (I32v colId, CStr tagName, I8 isNull,
                                         I8 tagType, Binary value unless isNull)
    optional trailing fields, read while the frame has bytes left:
    I64    ctimeMs         3.0.6+, written by the vnode before logging
    I8     source          3.3+
    I32    typeMod         3.3.6+, actions 5 and 14 only (fixed width)

A tag value Binary contains the raw value: fixed types as their TYPE_BYTES
little-endian bytes, variable-length types without a length header, and a
JSON tag as a whole STag.

Catalog rules for a normal table (meta/metaTable2.c ``metaAddTableColumn``,
``metaDropTableColumn``, ``metaAlterTableColumnBytes``,
``metaAlterTableColumnName``): each of ADD, DROP, bytes change and rename
increments the schema version by one.  ADD appends a column whose colId is
the table's ``ncid``, then increments ``ncid``.  CREATE_TABLE starts ``ncid``
at the last colId + 1, and DROP never lowers it, so ``ncid`` equals the
highest colId in any schema version of the table + 1.  Options and
compression changes leave the schema version alone.  A request that TDengine
rejects (an existing column name, a missing column, dropping a key column,
shrinking a column) is still logged, and it changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from connector.decode._create_tb import decode_stag
from connector.decode._cursor import Cursor
from connector.decode._head import read_msg_head
from connector.decode._sschema import with_type_mods
from connector.decode.catalog import SchemaCatalog
from connector.decode.model import Column, MessageHead, TableSchema, TdType
from connector.decode.types import TYPE_BYTES, decode_fixed, decode_var, is_var_type, type_name
from connector.errors import DecodeError, UnsupportedFormatError

__all__ = ["ALTER_ACTION_NAMES", "AlterTableMessage", "decode_alter_table"]

TSDB_ALTER_TABLE_ADD_TAG: Final = 1
TSDB_ALTER_TABLE_DROP_TAG: Final = 2
TSDB_ALTER_TABLE_UPDATE_TAG_NAME: Final = 3
TSDB_ALTER_TABLE_UPDATE_TAG_VAL: Final = 4
TSDB_ALTER_TABLE_ADD_COLUMN: Final = 5
TSDB_ALTER_TABLE_DROP_COLUMN: Final = 6
TSDB_ALTER_TABLE_UPDATE_COLUMN_BYTES: Final = 7
TSDB_ALTER_TABLE_UPDATE_TAG_BYTES: Final = 8
TSDB_ALTER_TABLE_UPDATE_OPTIONS: Final = 9
TSDB_ALTER_TABLE_UPDATE_COLUMN_NAME: Final = 10
TSDB_ALTER_TABLE_ADD_TAG_INDEX: Final = 11
TSDB_ALTER_TABLE_DROP_TAG_INDEX: Final = 12
TSDB_ALTER_TABLE_UPDATE_COLUMN_COMPRESS: Final = 13
TSDB_ALTER_TABLE_ADD_COLUMN_WITH_COMPRESS_OPTION: Final = 14
TSDB_ALTER_TABLE_UPDATE_MULTI_TAG_VAL: Final = 15
TSDB_ALTER_TABLE_ALTER_COLUMN_REF: Final = 16
TSDB_ALTER_TABLE_REMOVE_COLUMN_REF: Final = 17
TSDB_ALTER_TABLE_ADD_COLUMN_WITH_COLUMN_REF: Final = 18

ALTER_ACTION_NAMES: Final[Mapping[int, str]] = {
    TSDB_ALTER_TABLE_ADD_TAG: "ADD_TAG",
    TSDB_ALTER_TABLE_DROP_TAG: "DROP_TAG",
    TSDB_ALTER_TABLE_UPDATE_TAG_NAME: "UPDATE_TAG_NAME",
    TSDB_ALTER_TABLE_UPDATE_TAG_VAL: "UPDATE_TAG_VAL",
    TSDB_ALTER_TABLE_ADD_COLUMN: "ADD_COLUMN",
    TSDB_ALTER_TABLE_DROP_COLUMN: "DROP_COLUMN",
    TSDB_ALTER_TABLE_UPDATE_COLUMN_BYTES: "UPDATE_COLUMN_BYTES",
    TSDB_ALTER_TABLE_UPDATE_TAG_BYTES: "UPDATE_TAG_BYTES",
    TSDB_ALTER_TABLE_UPDATE_OPTIONS: "UPDATE_OPTIONS",
    TSDB_ALTER_TABLE_UPDATE_COLUMN_NAME: "UPDATE_COLUMN_NAME",
    TSDB_ALTER_TABLE_ADD_TAG_INDEX: "ADD_TAG_INDEX",
    TSDB_ALTER_TABLE_DROP_TAG_INDEX: "DROP_TAG_INDEX",
    TSDB_ALTER_TABLE_UPDATE_COLUMN_COMPRESS: "UPDATE_COLUMN_COMPRESS",
    TSDB_ALTER_TABLE_ADD_COLUMN_WITH_COMPRESS_OPTION: "ADD_COLUMN_WITH_COMPRESS_OPTION",
    TSDB_ALTER_TABLE_UPDATE_MULTI_TAG_VAL: "UPDATE_MULTI_TAG_VAL",
    TSDB_ALTER_TABLE_ALTER_COLUMN_REF: "ALTER_COLUMN_REF",
    TSDB_ALTER_TABLE_REMOVE_COLUMN_REF: "REMOVE_COLUMN_REF",
    TSDB_ALTER_TABLE_ADD_COLUMN_WITH_COLUMN_REF: "ADD_COLUMN_WITH_COLUMN_REF",
}

_ADD_ACTIONS: Final = (TSDB_ALTER_TABLE_ADD_COLUMN, TSDB_ALTER_TABLE_ADD_COLUMN_WITH_COMPRESS_OPTION)
_TAG_ACTIONS: Final = (TSDB_ALTER_TABLE_UPDATE_TAG_VAL, TSDB_ALTER_TABLE_UPDATE_MULTI_TAG_VAL)
_MAX_TAGS: Final = 128  # TSDB_MAX_TAGS; a sanity bound on nTags
_PRIMARYKEY_TIMESTAMP_COL_ID: Final = 1
_COL_IS_KEY: Final = 0x04
_REQUEST_KEY_BYTES: Final = 16


@dataclass(frozen=True, slots=True)
class AlterTableMessage:
    """A decoded ALTER_TABLE (517) body and the catalog change it implies.

    ``uid`` is the altered table's uid, or None when the catalog has no table of that name.
    ``schema`` is the normal table's new schema version after a column
    change, and ``tags`` the child table's complete tag map after a tag
    update; both are None when the request changes neither (or TDengine
    would reject it).  ``request_key`` identifies the request, so that a
    rewound task decoding it again reuses the recorded result.  ``fields``
    keeps every decoded field under TDengine's names, with tag values
    already converted to cell values.
    """

    head: MessageHead
    table_name: str
    action: int
    request_key: str
    uid: int | None = None
    schema: TableSchema | None = None
    tags: Mapping[str, object] | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The message kind used by ``render_body``: always "alter-table"."""
        return "alter-table"


def decode_alter_table(body: bytes, catalog: SchemaCatalog) -> AlterTableMessage:
    """Decode an ALTER_TABLE body and work out its effect on the tables in ``catalog``.

    The catalog is only read; ``apply_to_catalog`` records the result.
    Raises DecodeError for a malformed body and UnsupportedFormatError for
    virtual-table and super-table-level actions.
    """
    cursor = Cursor(body, what="ALTER_TABLE")
    head = read_msg_head(cursor)
    frame_start = cursor.pos
    frame = cursor.frame("SVAlterTbReq")
    cursor.expect_end()
    # NOTE: requests without ctimeMs (before 3.0.6) that repeat byte for byte, such as ADD c,
    # DROP c, ADD c, share one key, so the second ADD is taken for a replay of the first.
    request_key = hashlib.blake2b(body[frame_start:cursor.pos], digest_size=_REQUEST_KEY_BYTES).hexdigest()

    fields = _read_request(frame, catalog)
    name = fields["tbName"]
    action = fields["action"]
    uid = catalog.table_uid(name)
    message = AlterTableMessage(head=head, table_name=name, action=action, request_key=request_key, uid=uid,
                                fields=fields)
    if uid is None:
        return message
    if action in _TAG_ACTIONS:
        return _with_tag_update(message, catalog, uid)
    return _with_schema_change(message, catalog, uid)


# -- decoding -------------------------------------------------------------------


def _read_request(frame: Cursor, catalog: SchemaCatalog) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    fields["tbName"] = frame.text("tbName")
    action_at = frame.pos
    action = frame.i8("action")
    fields["action"] = action
    fields["colId"] = frame.i32("colId")

    if action in (TSDB_ALTER_TABLE_ADD_COLUMN, TSDB_ALTER_TABLE_ADD_COLUMN_WITH_COMPRESS_OPTION):
        fields["colName"] = frame.text("colName")
        fields["type"] = frame.i8("type")
        fields["flags"] = frame.u8("flags")
        fields["bytes"] = frame.zigzag("bytes", bits=32)
        if action == TSDB_ALTER_TABLE_ADD_COLUMN_WITH_COMPRESS_OPTION:
            fields["compress"] = frame.u32("compress")
    elif action == TSDB_ALTER_TABLE_DROP_COLUMN:
        fields["colName"] = frame.text("colName")
    elif action == TSDB_ALTER_TABLE_UPDATE_COLUMN_BYTES:
        fields["colName"] = frame.text("colName")
        fields["colModType"] = frame.i8("colModType")
        fields["colModBytes"] = frame.zigzag("colModBytes", bits=32)
    elif action == TSDB_ALTER_TABLE_UPDATE_COLUMN_NAME:
        fields["colName"] = frame.text("colName")
        fields["colNewName"] = frame.text("colNewName")
    elif action == TSDB_ALTER_TABLE_UPDATE_TAG_VAL:
        fields.update(_read_tag_value(frame, catalog, fields["tbName"], "tag"))
    elif action == TSDB_ALTER_TABLE_UPDATE_MULTI_TAG_VAL:
        count_at = frame.pos
        count = frame.zigzag("nTags", bits=32)
        if not 0 <= count <= _MAX_TAGS:
            raise frame.error(f"nTags {count} is invalid; expected 0..{_MAX_TAGS}", offset=count_at)
        fields["nTags"] = count
        tags = []
        for index in range(count):
            item: dict[str, Any] = {"colId": frame.zigzag(f"tag {index} colId", bits=32)}
            item.update(_read_tag_value(frame, catalog, fields["tbName"], f"tag {index}"))
            tags.append(item)
        fields["tags"] = tags
    elif action == TSDB_ALTER_TABLE_UPDATE_OPTIONS:
        fields["updateTTL"] = frame.i8("updateTTL")
        if fields["updateTTL"]:
            fields["newTTL"] = frame.zigzag("newTTL", bits=32)
        fields["newCommentLen"] = frame.zigzag("newCommentLen", bits=32)
        if fields["newCommentLen"] > 0:
            fields["newComment"] = frame.text("newComment")
    elif action == TSDB_ALTER_TABLE_UPDATE_COLUMN_COMPRESS:
        fields["colName"] = frame.text("colName")
        fields["compress"] = frame.u32("compress")
    else:
        action_name = ALTER_ACTION_NAMES.get(action, "unknown")
        raise UnsupportedFormatError(
            f"ALTER_TABLE of table {fields['tbName']!r}: action {action} ({action_name}) is not decoded"
            f" (at body offset {action_at}); only actions 4, 5, 6, 7, 9, 10, 13, 14 and 15 are supported,"
            f" and virtual-table column references (16-18) are not"
        )

    if not frame.at_end():
        fields["ctimeMs"] = frame.i64("ctimeMs")
    if not frame.at_end():
        fields["source"] = frame.i8("source")
    if action in _ADD_ACTIONS and not frame.at_end():
        fields["typeMod"] = frame.i32("typeMod")
    frame.expect_end()
    return fields


def _read_tag_value(frame: Cursor, catalog: SchemaCatalog, table_name: str, label: str) -> dict[str, Any]:
    """Read ``CStr tagName, I8 isNull, I8 tagType, Binary value`` and convert the value."""
    tag_name = frame.text(f"{label} tagName")
    is_null = frame.i8(f"{label} isNull")
    type_at = frame.pos
    type_id = frame.i8(f"{label} tagType")
    try:
        tag_type = TdType(type_id)
    except ValueError:
        raise frame.error(f"{label} {tag_name!r}: unknown tagType {type_id}", offset=type_at) from None
    item: dict[str, Any] = {"tagName": tag_name, "isNull": is_null, "tagType": int(tag_type)}
    if is_null:
        item["tagVal"] = None
        return item

    value_at = frame.pos
    raw_length = frame.varint(f"{label} {tag_name!r} value length", bits=32)
    value = frame.sub(raw_length, f"{label} {tag_name!r} value")
    if tag_type == TdType.JSON:
        json_tags, _types = decode_stag(value, None)
        item["tagVal"] = json_tags
    elif is_var_type(tag_type):
        try:
            item["tagVal"] = decode_var(tag_type, frame.buffer[value.pos:value.end])
        except DecodeError as err:
            raise frame.error(f"{label} {tag_name!r}: {err}", offset=value_at) from None
    else:
        width = TYPE_BYTES.get(tag_type)
        if width != raw_length:
            raise frame.error(
                f"{label} {tag_name!r}: a {type_name(tag_type)} value has {width} bytes, the Binary has {raw_length}",
                offset=value_at,
            )
        column = _tag_column(catalog, table_name, tag_name)
        try:
            item["tagVal"] = decode_fixed(tag_type, frame.buffer, value.pos,
                                          precision=column.precision if column else None,
                                          scale=column.scale if column else None)
        except DecodeError as err:
            raise frame.error(f"{label} {tag_name!r}: {err}", offset=value_at) from None
    return item


def _tag_column(catalog: SchemaCatalog, table_name: str, tag_name: str) -> Column | None:
    uid = catalog.table_uid(table_name)
    entry = catalog.table(uid) if uid is not None else None
    schema = catalog.latest_schema(entry.suid) if entry is not None and entry.suid else None
    if schema is None:
        return None
    return next((column for column in schema.tags if column.name == tag_name), None)


# -- effect on the catalog --------------------------------------------------------


def _with_tag_update(message: AlterTableMessage, catalog: SchemaCatalog, uid: int) -> AlterTableMessage:
    entry = catalog.table(uid)
    if entry is None or not entry.suid:
        return message  # TDengine rejects tag updates of normal tables
    if message.action == TSDB_ALTER_TABLE_UPDATE_TAG_VAL:
        updates = [message.fields]
    else:
        updates = message.fields["tags"]

    tags = dict(entry.tags)
    for update in updates:
        value = update["tagVal"]
        if update["tagType"] == TdType.JSON:
            # A JSON tag is the table's only tag, and the catalog keeps its keys as tag names.
            tags = dict(value) if isinstance(value, Mapping) else {}
        else:
            tags[update["tagName"]] = value
    return replace(message, tags=tags)


def _with_schema_change(message: AlterTableMessage, catalog: SchemaCatalog, uid: int) -> AlterTableMessage:
    entry = catalog.table(uid)
    if entry is None or entry.suid:
        return message  # column changes of child tables come as ALTER_STB
    recorded = catalog.altered_sver(uid, message.request_key)
    if recorded is not None:
        return replace(message, schema=catalog.find_schema(0, uid, recorded))
    latest = catalog.latest_schema(uid)
    if latest is None:
        return message
    columns = _changed_columns(message, latest.columns, catalog, uid)
    if columns is None:
        return message
    schema = TableSchema(suid=0, uid=uid, sver=latest.sver + 1, columns=columns, name=entry.name)
    return replace(message, schema=schema)


def _changed_columns(
    message: AlterTableMessage, columns: tuple[Column, ...], catalog: SchemaCatalog, uid: int
) -> tuple[Column, ...] | None:
    """Return the column list after the request, or None when the schema does not change."""
    fields = message.fields
    action = message.action
    by_name = {column.name: index for index, column in enumerate(columns)}
    index = by_name.get(fields.get("colName"))

    if action in _ADD_ACTIONS:
        if index is not None:
            return None
        try:
            td_type = TdType(fields["type"])
        except ValueError:
            return None
        # NOTE: this equals TDengine's ncid only if the catalog has every schema version since
        # CREATE_TABLE. A catalog seeded from table_schemas after the highest column was dropped
        # assigns a colId that is too low, which mislabels KV-row and column-format cells.
        next_col_id = (catalog.max_column_id(uid) or _PRIMARYKEY_TIMESTAMP_COL_ID) + 1
        added = Column(col_id=next_col_id, type=td_type, bytes=fields["bytes"], name=fields["colName"],
                       flags=fields["flags"])
        type_mod = fields.get("typeMod")
        if type_mod is not None:
            (added,) = with_type_mods((added,), [type_mod])
        return columns + (added,)
    if action == TSDB_ALTER_TABLE_DROP_COLUMN:
        if index is None or columns[index].col_id == _PRIMARYKEY_TIMESTAMP_COL_ID or columns[index].flags & _COL_IS_KEY:
            return None
        return columns[:index] + columns[index + 1:]
    if action == TSDB_ALTER_TABLE_UPDATE_COLUMN_BYTES:
        if index is None:
            return None
        old = columns[index]
        if not is_var_type(old.type) or old.bytes >= fields["colModBytes"]:
            return None
        return _replace_column(columns, index, bytes=fields["colModBytes"])
    if action == TSDB_ALTER_TABLE_UPDATE_COLUMN_NAME:
        if index is None:
            return None
        return _replace_column(columns, index, name=fields["colNewName"])
    return None  # options and compression do not change the schema version


def _replace_column(columns: tuple[Column, ...], index: int, **changes: Any) -> tuple[Column, ...]:
    return columns[:index] + (replace(columns[index], **changes),) + columns[index + 1:]
