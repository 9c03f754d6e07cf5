"""Decoders for TDengine 3.x WAL message bodies.

``decode_message`` turns one WAL entry body into a value object from
``model`` and records the DDL it decodes in a ``SchemaCatalog``, so that
later SUBMITs of the same WAL decode.  ``render_body`` turns a decoded
message into the JSON-able form the golden fixtures record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from connector.decode._alter_tb import AlterTableMessage, decode_alter_table
from connector.decode._head import MSG_HEAD, read_msg_head
from connector.decode._cursor import Cursor
from connector.decode.catalog import SchemaCatalog, TableEntry
from connector.decode.catalog_config import catalog_from_config, load_table_schemas
from connector.decode.ddl import decode_create_stb, decode_create_table, decode_drop_table
from connector.decode.delete import decode_delete
from connector.decode.model import (
    DeleteMessage,
    DropTableMessage,
    OtherMessage,
    SchemaMessage,
    SubmitMessage,
)
from connector.decode.msgtypes import (
    TDMT_VND_ALTER_STB,
    TDMT_VND_ALTER_TABLE,
    TDMT_VND_CREATE_STB,
    TDMT_VND_CREATE_TABLE,
    TDMT_VND_DELETE,
    TDMT_VND_DROP_TABLE,
    TDMT_VND_SUBMIT,
    msg_type_name,
)
from connector.decode.render import render_body
from connector.decode.submit import decode_submit

__all__ = [
    "DecodedMessage",
    "SchemaCatalog",
    "TableEntry",
    "apply_to_catalog",
    "catalog_from_config",
    "decode_message",
    "load_table_schemas",
    "msg_type_name",
    "render_body",
]

DecodedMessage = (
    SubmitMessage | DeleteMessage | SchemaMessage | AlterTableMessage | DropTableMessage | OtherMessage
)

_DECODERS: Final[dict[int, Callable[[bytes, SchemaCatalog], DecodedMessage]]] = {
    TDMT_VND_SUBMIT: decode_submit,
    TDMT_VND_DELETE: decode_delete,
    TDMT_VND_CREATE_STB: lambda body, _catalog: decode_create_stb(body, kind="create-stb"),
    TDMT_VND_ALTER_STB: lambda body, _catalog: decode_create_stb(body, kind="alter-stb"),
    TDMT_VND_CREATE_TABLE: decode_create_table,
    TDMT_VND_ALTER_TABLE: decode_alter_table,
    TDMT_VND_DROP_TABLE: lambda body, _catalog: decode_drop_table(body),
}


def decode_message(msg_type: int, body: bytes, catalog: SchemaCatalog) -> DecodedMessage:
    """Decode one WAL entry body and record the schemas and tables it defines in ``catalog``.

    SUBMIT, DELETE, CREATE_STB, ALTER_STB, CREATE_TABLE, ALTER_TABLE and
    DROP_TABLE are decoded. Every other type becomes an OtherMessage, with its SMsgHead when
    the body has at least 8 bytes.  Raises DecodeError (and its subclasses
    UnknownSchemaError and UnsupportedFormatError) for a body that does not
    decode; the catalog is then left unchanged.
    """
    decoder = _DECODERS.get(msg_type)
    if decoder is None:
        head = read_msg_head(Cursor(body, what=msg_type_name(msg_type))) if len(body) >= MSG_HEAD.size else None
        return OtherMessage(head=head, kind=msg_type_name(msg_type))
    message = decoder(bytes(body), catalog)
    apply_to_catalog(message, catalog)
    return message


def apply_to_catalog(message: DecodedMessage, catalog: SchemaCatalog) -> None:
    """Record the schemas, created, altered and dropped tables of a decoded message."""
    if isinstance(message, SchemaMessage):
        catalog.add_schemas(message.schemas)
        for table in message.tables:
            catalog.add_table(table.uid, table.name, suid=table.suid, tags=table.tags)
    elif isinstance(message, SubmitMessage):
        for block in message.blocks:
            request = block.create_request
            if request is not None:
                catalog.add_table(block.uid, request.name, suid=request.suid, tags=request.tags)
    elif isinstance(message, AlterTableMessage):
        _apply_alter_table(message, catalog)
    elif isinstance(message, DropTableMessage):
        for table in message.tables:
            catalog.drop_table(table.uid)


def _apply_alter_table(message: AlterTableMessage, catalog: SchemaCatalog) -> None:
    if message.uid is None:
        return
    if message.schema is not None:
        catalog.add_schema(message.schema)
        catalog.record_alter(message.uid, message.request_key, message.schema.sver)
    if message.tags is not None:
        entry = catalog.table(message.uid)
        if entry is not None:
            catalog.add_table(entry.uid, entry.name, suid=entry.suid, tags=message.tags)
