"""Encoders for TDengine 3.x WAL message bodies: the inverse of ``connector.decode``.

``encode_message`` turns a decoded value object back into the body bytes
TDengine's own encoders write, so that ``encode_message(decode_message(b))``
equals ``b`` for the message types the decoders handle.  Row-format blocks
are rebuilt with TDengine's tuple-versus-KV choice, column-format blocks with
the SColData layout of the block's encoding version.  Fields that are not in
the value objects (``SMsgHead.contLen``, ``alterOriData``, colCmpr words) are
taken from the objects' ``fields`` dicts as the decoders leave them.
"""

from __future__ import annotations

from connector.decode.catalog import SchemaCatalog
from connector.decode.encode._head import patch_cont_len
from connector.decode.encode._srow import encode_row
from connector.decode.encode.ddl import encode_create_stb, encode_create_table, encode_drop_table
from connector.decode.encode.delete import encode_delete
from connector.decode.encode.submit import encode_submit
from connector.decode.encode._head import put_msg_head
from connector.decode.encode._buffer import Buffer
from connector.decode.model import DeleteMessage, DropTableMessage, OtherMessage, SchemaMessage, SubmitMessage
from connector.decode.msgtypes import (
    TDMT_SYNC_NOOP,
    TDMT_VND_ALTER_STB,
    TDMT_VND_COMMIT,
    TDMT_VND_CREATE_STB,
    TDMT_VND_CREATE_TABLE,
    TDMT_VND_DELETE,
    TDMT_VND_DROP_TABLE,
    TDMT_VND_SUBMIT,
    msg_type_name,
)
from connector.errors import UnsupportedFormatError

__all__ = [
    "encode_create_stb",
    "encode_create_table",
    "encode_delete",
    "encode_drop_table",
    "encode_message",
    "encode_row",
    "encode_submit",
    "message_type",
    "patch_cont_len",
]

_SCHEMA_KINDS = {"create-stb": TDMT_VND_CREATE_STB, "alter-stb": TDMT_VND_ALTER_STB, "create-table": TDMT_VND_CREATE_TABLE}
# Messages whose body is the SMsgHead alone (syncEntryBuildNoop, vnodeSync.c).
_HEAD_ONLY_TYPES = (TDMT_SYNC_NOOP, TDMT_VND_COMMIT)


def message_type(message: object) -> int:
    """Return the WAL ``msgType`` of a decoded message object."""
    if isinstance(message, SubmitMessage):
        return TDMT_VND_SUBMIT
    if isinstance(message, DeleteMessage):
        return TDMT_VND_DELETE
    if isinstance(message, DropTableMessage):
        return TDMT_VND_DROP_TABLE
    if isinstance(message, SchemaMessage) and message.kind in _SCHEMA_KINDS:
        return _SCHEMA_KINDS[message.kind]
    if isinstance(message, OtherMessage):
        for msg_type in _HEAD_ONLY_TYPES:
            if msg_type_name(msg_type) == message.kind:
                return msg_type
    raise UnsupportedFormatError(f"no message type is known for {type(message).__name__} {getattr(message, 'kind', '')!r}")


def encode_message(message: object, catalog: SchemaCatalog | None = None) -> bytes:
    """Encode one message body.

    ``catalog`` must hold the super-table schemas that give the tag ids of
    child tables in CREATE_TABLE and auto-create SUBMITs. Pass the catalog as
    it was when the message was decoded.  Raises UnsupportedFormatError for a
    message the encoders do not cover (ALTER_TABLE, BATCH_DEL, rollup super
    tables, JSON tags, …).
    """
    catalog = catalog if catalog is not None else SchemaCatalog()
    if isinstance(message, SubmitMessage):
        return encode_submit(message, catalog)
    if isinstance(message, DeleteMessage):
        return encode_delete(message)
    if isinstance(message, DropTableMessage):
        return encode_drop_table(message)
    if isinstance(message, SchemaMessage):
        if message.kind in ("create-stb", "alter-stb"):
            return encode_create_stb(message)
        if message.kind == "create-table":
            return encode_create_table(message, catalog)
    if isinstance(message, OtherMessage) and message.head is not None:
        message_type(message)  # only head-only kinds are accepted
        out = Buffer()
        put_msg_head(out, message.head)
        return out.getvalue()
    raise UnsupportedFormatError(f"cannot encode {type(message).__name__} {getattr(message, 'kind', '')!r}")
