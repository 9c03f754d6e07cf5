"""ALTER_TABLE (517) bodies built by hand from the SVAlterTbReq layout, and their effect on the catalog."""

from __future__ import annotations

import pytest

from connector.decode import SchemaCatalog, decode_message, render_body
from connector.decode._alter_tb import AlterTableMessage
from connector.decode.catalog import CatalogChange
from connector.decode.model import Column, SubmitMessage, TableSchema, TdType
from connector.errors import DecodeError, UnsupportedFormatError

from ._wire import (
    binary,
    cstr,
    frame,
    i8,
    i32,
    i64,
    msg_head,
    row_tb_data,
    sschema,
    srow_header,
    submit_body,
    u8,
    u32,
    varint,
    zigzag,
)

ALTER_TABLE = 517
CREATE_TABLE = 515
SUBMIT = 513

NORMAL_UID = 7001
CHILD_UID = 7002
SUID = 9001
CTIME_MS = 1_700_000_000_123


def alter_body(request: bytes) -> bytes:
    """SMsgHead + framed SVAlterTbReq."""
    return msg_head(0, 2) + frame(request)


def trailer(*, source: int | None = 0, type_mod: int | None = None) -> bytes:
    out = i64(CTIME_MS)                # ctimeMs, written by the vnode
    if source is not None:
        out += i8(source)              # source
    if type_mod is not None:
        out += i32(type_mod)           # typeMod, fixed width, ADD actions only
    return out


def add_column_request(name: str = "current", type_id: int = TdType.FLOAT, width: int = 4) -> bytes:
    return (
        cstr("ntb")                    # tbName
        + i8(5)                        # action ADD_COLUMN
        + i32(0)                       # colId, unused by ADD
        + cstr(name)                   # colName
        + i8(type_id)                  # type
        + u8(0)                        # flags
        + zigzag(width)                # bytes
        + trailer(type_mod=0)
    )


def normal_table_catalog() -> SchemaCatalog:
    """A catalog holding normal table ntb (ts, a INT colId 2, s VARCHAR(8) colId 3) at sver 1."""
    catalog = SchemaCatalog()
    columns = (
        Column(1, TdType.TIMESTAMP, 8, "ts"),
        Column(2, TdType.INT, 4, "a"),
        Column(3, TdType.VARCHAR, 10, "s"),
    )
    catalog.add_schema(TableSchema(suid=0, uid=NORMAL_UID, sver=1, columns=columns, name="ntb"))
    catalog.add_table(NORMAL_UID, "ntb")
    return catalog


def child_table_catalog() -> SchemaCatalog:
    """A catalog holding super table meters (tags groupid INT, location VARCHAR(16)) and child d1."""
    catalog = SchemaCatalog()
    columns = (Column(1, TdType.TIMESTAMP, 8, "ts"), Column(2, TdType.INT, 4, "v"))
    tags = (Column(3, TdType.INT, 4, "groupid"), Column(4, TdType.VARCHAR, 18, "location"))
    catalog.add_schema(TableSchema(suid=SUID, uid=0, sver=1, columns=columns, tags=tags, name="meters",
                                   tag_version=1))
    catalog.add_table(CHILD_UID, "d1", suid=SUID, tags={"groupid": 1, "location": b"Beijing"})
    return catalog


def decode_alter(request: bytes, catalog: SchemaCatalog) -> AlterTableMessage:
    message = decode_message(ALTER_TABLE, alter_body(request), catalog)
    assert isinstance(message, AlterTableMessage)
    return message


# -- decoding each action ------------------------------------------------------------


def test_update_tag_val_int() -> None:
    catalog = child_table_catalog()
    request = (
        cstr("d1")                     # tbName
        + i8(4)                        # action UPDATE_TAG_VAL
        + i32(3)                       # colId of the tag
        + cstr("groupid")              # tagName
        + i8(0)                        # isNull
        + i8(TdType.INT)               # tagType
        + binary(i32(77))              # value: raw 4-byte INT
        + trailer()
    )
    message = decode_alter(request, catalog)

    assert message.fields["tbName"] == "d1"
    assert message.fields["colId"] == 3
    assert message.fields["tagVal"] == 77
    assert message.fields["ctimeMs"] == CTIME_MS
    assert message.fields["source"] == 0
    assert message.uid == CHILD_UID
    assert catalog.table(CHILD_UID).tags == {"groupid": 77, "location": b"Beijing"}


def test_update_tag_val_varchar() -> None:
    catalog = child_table_catalog()
    request = (
        cstr("d1")                     # tbName
        + i8(4)                        # action UPDATE_TAG_VAL
        + i32(4)                       # colId
        + cstr("location")             # tagName
        + i8(0)                        # isNull
        + i8(TdType.VARCHAR)           # tagType
        + binary(b"Hangzhou-Xihu")     # value: bare bytes, no length header
        + trailer()
    )
    message = decode_alter(request, catalog)

    assert message.fields["tagVal"] == b"Hangzhou-Xihu"
    assert catalog.table(CHILD_UID).tags["location"] == b"Hangzhou-Xihu"
    assert render_body(message)["tagVal"] == "Hangzhou-Xihu"


def test_update_tag_val_null() -> None:
    catalog = child_table_catalog()
    request = (
        cstr("d1")                     # tbName
        + i8(4)                        # action UPDATE_TAG_VAL
        + i32(3)                       # colId
        + cstr("groupid")              # tagName
        + i8(1)                        # isNull: no value follows
        + i8(TdType.INT)               # tagType
        + trailer()
    )
    message = decode_alter(request, catalog)

    assert message.fields["isNull"] == 1
    assert message.fields["tagVal"] is None
    assert catalog.table(CHILD_UID).tags["groupid"] is None


def test_update_tag_val_wrong_width() -> None:
    request = (
        cstr("d1")                     # tbName
        + i8(4)                        # action UPDATE_TAG_VAL
        + i32(3)                       # colId
        + cstr("groupid")              # tagName
        + i8(0)                        # isNull
        + i8(TdType.INT)               # tagType INT needs 4 bytes
        + binary(b"\x01\x02")          # value of 2 bytes
        + trailer()
    )
    with pytest.raises(DecodeError, match="INT value has 4 bytes"):
        decode_alter(request, child_table_catalog())


def test_update_multi_tag_val() -> None:
    catalog = child_table_catalog()
    request = (
        cstr("d1")                     # tbName
        + i8(15)                       # action UPDATE_MULTI_TAG_VAL
        + i32(0)                       # colId, unused
        + zigzag(2)                    # nTags
        + zigzag(3)                    # tag 0 colId
        + cstr("groupid")              # tag 0 tagName
        + i8(0)                        # tag 0 isNull
        + i8(TdType.INT)               # tag 0 tagType
        + binary(i32(-5))              # tag 0 value
        + zigzag(4)                    # tag 1 colId
        + cstr("location")             # tag 1 tagName
        + i8(1)                        # tag 1 isNull: no value
        + i8(TdType.VARCHAR)           # tag 1 tagType
        + trailer()
    )
    message = decode_alter(request, catalog)

    assert message.fields["nTags"] == 2
    assert [item["colId"] for item in message.fields["tags"]] == [3, 4]
    assert catalog.table(CHILD_UID).tags == {"groupid": -5, "location": None}
    assert render_body(message)["tags"][0]["tagVal"] == -5


def test_add_column_fields() -> None:
    message = decode_alter(add_column_request(), normal_table_catalog())

    assert message.fields["action"] == 5
    assert message.fields["colName"] == "current"
    assert message.fields["type"] == TdType.FLOAT
    assert message.fields["flags"] == 0
    assert message.fields["bytes"] == 4
    assert message.fields["typeMod"] == 0


def test_drop_column_fields() -> None:
    request = (
        cstr("ntb")                    # tbName
        + i8(6)                        # action DROP_COLUMN
        + i32(0)                       # colId
        + cstr("a")                    # colName
        + trailer()
    )
    message = decode_alter(request, normal_table_catalog())

    assert message.fields["colName"] == "a"
    assert "typeMod" not in message.fields


def test_update_column_bytes_fields() -> None:
    request = (
        cstr("ntb")                    # tbName
        + i8(7)                        # action UPDATE_COLUMN_BYTES
        + i32(0)                       # colId
        + cstr("s")                    # colName
        + i8(TdType.VARCHAR)           # colModType
        + zigzag(34)                   # colModBytes: VARCHAR(32) + 2
        + trailer()
    )
    message = decode_alter(request, normal_table_catalog())

    assert message.fields["colModType"] == TdType.VARCHAR
    assert message.fields["colModBytes"] == 34


def test_update_options_with_ttl_and_comment() -> None:
    request = (
        cstr("ntb")                    # tbName
        + i8(9)                        # action UPDATE_OPTIONS
        + i32(0)                       # colId
        + i8(1)                        # updateTTL
        + zigzag(30)                   # newTTL, days
        + zigzag(5)                    # newCommentLen
        + cstr("hello")                # newComment
        + trailer()
    )
    message = decode_alter(request, normal_table_catalog())

    assert message.fields["newTTL"] == 30
    assert message.fields["newCommentLen"] == 5
    assert message.fields["newComment"] == "hello"
    assert message.schema is None


def test_update_options_without_ttl() -> None:
    request = (
        cstr("ntb")                    # tbName
        + i8(9)                        # action UPDATE_OPTIONS
        + i32(0)                       # colId
        + i8(0)                        # updateTTL: no newTTL follows
        + zigzag(0)                    # newCommentLen: no comment follows
        + trailer()
    )
    message = decode_alter(request, normal_table_catalog())

    assert "newTTL" not in message.fields
    assert "newComment" not in message.fields
    assert message.fields["ctimeMs"] == CTIME_MS


def test_update_column_name_fields() -> None:
    request = (
        cstr("ntb")                    # tbName
        + i8(10)                       # action UPDATE_COLUMN_NAME
        + i32(0)                       # colId
        + cstr("a")                    # colName
        + cstr("amps")                 # colNewName
        + trailer()
    )
    message = decode_alter(request, normal_table_catalog())

    assert message.fields["colNewName"] == "amps"


def test_update_column_compress_fields() -> None:
    request = (
        cstr("ntb")                    # tbName
        + i8(13)                       # action UPDATE_COLUMN_COMPRESS
        + i32(2)                       # colId
        + cstr("a")                    # colName
        + u32(0x02000101)              # compress
        + trailer()
    )
    message = decode_alter(request, normal_table_catalog())

    assert message.fields["compress"] == 0x02000101
    assert message.schema is None


def test_add_column_with_compress_fields() -> None:
    request = (
        cstr("ntb")                    # tbName
        + i8(14)                       # action ADD_COLUMN_WITH_COMPRESS_OPTION
        + i32(0)                       # colId
        + cstr("d")                    # colName
        + i8(TdType.DECIMAL64)         # type
        + u8(0x80)                     # flags: COL_HAS_TYPE_MOD
        + zigzag(8)                    # bytes
        + u32(0x02000101)              # compress
        + trailer(type_mod=(10 << 8) | 2)
    )
    message = decode_alter(request, normal_table_catalog())

    assert message.fields["compress"] == 0x02000101
    added = message.schema.columns[-1]
    assert (added.precision, added.scale) == (10, 2)


def test_no_trailing_fields() -> None:
    request = (
        cstr("ntb")                    # tbName
        + i8(6)                        # action DROP_COLUMN
        + i32(0)                       # colId
        + cstr("a")                    # colName; a 3.0.5 request ends here
    )
    message = decode_alter(request, normal_table_catalog())

    assert "ctimeMs" not in message.fields
    assert "source" not in message.fields


@pytest.mark.parametrize("action", [1, 2, 3, 8, 11, 12, 16, 17, 18, 99])
def test_unsupported_actions_raise(action: int) -> None:
    request = (
        cstr("ntb")                    # tbName
        + i8(action)                   # action
        + i32(0)                       # colId
        + cstr("a")                    # colName (16-18 start with it)
    )
    with pytest.raises(UnsupportedFormatError, match=f"action {action} "):
        decode_alter(request, normal_table_catalog())


# -- truncation -------------------------------------------------------------------------


ALL_REQUESTS = {
    "add": add_column_request(),
    "tag": cstr("d1") + i8(4) + i32(3) + cstr("groupid") + i8(0) + i8(TdType.INT) + binary(i32(7)) + trailer(),
    "options": cstr("ntb") + i8(9) + i32(0) + i8(1) + zigzag(3) + zigzag(2) + cstr("hi") + trailer(),
}


@pytest.mark.parametrize("name", sorted(ALL_REQUESTS))
def test_truncated_body_raises(name: str) -> None:
    body = alter_body(ALL_REQUESTS[name])
    for cut in range(len(body)):
        with pytest.raises(DecodeError):
            decode_message(ALTER_TABLE, body[:cut], child_table_catalog())


@pytest.mark.parametrize("name", sorted(ALL_REQUESTS))
def test_truncated_request_raises(name: str) -> None:
    """A frame whose length matches its short content: only cuts after a whole trailing field decode."""
    request = ALL_REQUESTS[name]
    mandatory_end = len(request) - len(trailer(type_mod=0 if name == "add" else None))
    trailing_ends = {mandatory_end, mandatory_end + 8, mandatory_end + 9, len(request)}
    for cut in range(len(request)):
        body = alter_body(request[:cut])
        if cut in trailing_ends:
            decode_message(ALTER_TABLE, body, child_table_catalog())
            continue
        with pytest.raises(DecodeError):
            decode_message(ALTER_TABLE, body, child_table_catalog())


def test_trailing_bytes_after_frame_raise() -> None:
    body = alter_body(ALL_REQUESTS["add"]) + b"\x00"
    with pytest.raises(DecodeError, match="unread bytes"):
        decode_message(ALTER_TABLE, body, normal_table_catalog())


# -- catalog effects ----------------------------------------------------------------------


def test_add_column_new_schema_version() -> None:
    catalog = normal_table_catalog()
    message = decode_alter(add_column_request(), catalog)

    schema = catalog.find_schema(0, NORMAL_UID, 2)
    assert schema is not None
    assert message.schema == schema
    assert [column.col_id for column in schema.columns] == [1, 2, 3, 4]
    assert schema.columns[-1] == Column(4, TdType.FLOAT, 4, "current")


def test_add_after_drop_keeps_ncid() -> None:
    catalog = normal_table_catalog()
    drop_s = cstr("ntb") + i8(6) + i32(0) + cstr("s") + trailer()
    decode_alter(drop_s, catalog)
    decode_alter(add_column_request("t"), catalog)

    latest = catalog.latest_schema(NORMAL_UID)
    assert latest.sver == 3
    assert [(column.name, column.col_id) for column in latest.columns] == [("ts", 1), ("a", 2), ("t", 4)]


def test_rejected_requests_change_nothing() -> None:
    catalog = normal_table_catalog()
    rejected = [
        add_column_request("a"),                                             # column a exists
        cstr("ntb") + i8(6) + i32(0) + cstr("ts") + trailer(),               # drop the timestamp
        cstr("ntb") + i8(6) + i32(0) + cstr("nope") + trailer(),             # drop a missing column
        cstr("ntb") + i8(7) + i32(0) + cstr("s") + i8(8) + zigzag(6) + trailer(),   # shrink VARCHAR
        cstr("ntb") + i8(7) + i32(0) + cstr("a") + i8(4) + zigzag(8) + trailer(),   # widen an INT
        cstr("ntb") + i8(10) + i32(0) + cstr("nope") + cstr("x") + trailer(),       # rename a missing column
    ]
    for request in rejected:
        message = decode_alter(request, catalog)
        assert message.schema is None, message.fields

    assert catalog.latest_schema(NORMAL_UID).sver == 1


def test_bytes_and_rename_bump_sver() -> None:
    catalog = normal_table_catalog()
    decode_alter(cstr("ntb") + i8(7) + i32(0) + cstr("s") + i8(8) + zigzag(34) + trailer(), catalog)
    decode_alter(cstr("ntb") + i8(10) + i32(0) + cstr("a") + cstr("amps") + trailer(), catalog)

    latest = catalog.latest_schema(NORMAL_UID)
    assert latest.sver == 3
    assert latest.columns[1] == Column(2, TdType.INT, 4, "amps")
    assert latest.columns[2] == Column(3, TdType.VARCHAR, 34, "s")


def test_drop_key_column_changes_nothing() -> None:
    catalog = SchemaCatalog()
    columns = (Column(1, TdType.TIMESTAMP, 8, "ts"), Column(2, TdType.BIGINT, 8, "k", flags=0x04))
    catalog.add_schema(TableSchema(suid=0, uid=NORMAL_UID, sver=1, columns=columns, name="ntb"))
    catalog.add_table(NORMAL_UID, "ntb")

    message = decode_alter(cstr("ntb") + i8(6) + i32(0) + cstr("k") + trailer(), catalog)

    assert message.schema is None


def test_unknown_table_changes_nothing() -> None:
    catalog = SchemaCatalog()
    message = decode_alter(add_column_request(), catalog)

    assert message.uid is None
    assert message.schema is None
    assert catalog.schemas() == []


def test_redecode_after_rewind_is_idempotent() -> None:
    catalog = normal_table_catalog()
    add_current = add_column_request("current")
    drop_current = cstr("ntb") + i8(6) + i32(0) + cstr("current") + i64(CTIME_MS + 1) + i8(0)
    first = [decode_alter(request, catalog) for request in (add_current, drop_current)]

    again = [decode_alter(request, catalog) for request in (add_current, drop_current)]

    assert [message.schema.sver for message in first] == [2, 3]
    assert [message.schema for message in again] == [message.schema for message in first]
    assert catalog.latest_schema(NORMAL_UID).sver == 3


def test_changes_are_journaled_and_replay() -> None:
    source = normal_table_catalog()
    source.update(child_table_catalog())
    source.record_changes = True
    decode_alter(add_column_request(), source)
    tag_request = cstr("d1") + i8(4) + i32(3) + cstr("groupid") + i8(0) + i8(TdType.INT) + binary(i32(9)) + trailer()
    decode_alter(tag_request, source)

    changes = source.drain_changes()
    keys = [change.key for change in changes]
    assert f"schema/{NORMAL_UID}/2" in keys
    assert any(key.startswith(f"alter/{NORMAL_UID}/") for key in keys)
    assert f"table/{CHILD_UID}" in keys

    replayed = normal_table_catalog()
    replayed.update(child_table_catalog())
    for change in changes:
        replayed.apply_change(CatalogChange(change.key, change.value))
    assert replayed.to_dict() == source.to_dict()
    assert SchemaCatalog.from_dict(source.to_dict()).to_dict() == source.to_dict()

    decode_alter(add_column_request(), replayed)
    assert replayed.latest_schema(NORMAL_UID).sver == 2


def test_render_alter_table() -> None:
    catalog = normal_table_catalog()
    body = render_body(decode_alter(add_column_request(), catalog))

    assert body["kind"] == "alter-table"
    assert body["tbName"] == "ntb"
    assert body["action"] == 5
    assert body["actionName"] == "ADD_COLUMN"
    assert body["colName"] == "current"
    assert body["uid"] == NORMAL_UID
    assert body["schemaRow"]["version"] == 2
    assert body["schemaRow"]["schema"][-1]["colId"] == 4
    assert body["msgHead"]["vgId"] == 2


# -- CREATE_TABLE -> ALTER_TABLE -> SUBMIT -------------------------------------------------


def create_normal_table_body() -> bytes:
    request = frame(
        zigzag(0)                      # flags
        + cstr("ntb")                  # name
        + i64(NORMAL_UID)              # uid, filled by the vnode
        + i64(CTIME_MS)                # btime
        + i32(0)                       # ttl
        + i8(3)                        # type: normal table
        + i32(-1)                      # commentLen: no comment
        + zigzag(2)                    # schemaRow nCols
        + zigzag(1)                    # schemaRow version
        + sschema(TdType.TIMESTAMP, 0, 8, 1, "ts")
        + sschema(TdType.INT, 0, 4, 2, "a")
        + i32(0)                       # sqlLen
        + zigzag(2)                    # colCmpr nCols
        + zigzag(0)                    # colCmpr version
        + zigzag(1, bits=16) + u32(0x02000101)   # colCmpr entry: id, alg
        + zigzag(2, bits=16) + u32(0x02000101)   # colCmpr entry: id, alg
        + i8(0)                        # hasExtSchema
    )
    return msg_head(0, 2) + frame(
        zigzag(1)                      # nReqs
        + request                      # SVCreateTbReq, framed
        + i8(0)                        # source
    )


def test_create_alter_submit_sequence() -> None:
    catalog = SchemaCatalog()
    decode_message(CREATE_TABLE, create_normal_table_body(), catalog)
    decode_alter(add_column_request("current", TdType.FLOAT, 4), catalog)

    row = (
        srow_header(0x04, 0, 2, 16 + 8, 1_700_000_000_000)   # flag VALUE only, no PK, sver 2, len, ts
        + i32(42)                      # fixed part: a INT at offset 0
        + bytes.fromhex("0000c03f")    # fixed part: current FLOAT 1.5 at offset 4
    )
    body = submit_body(row_tb_data(uid=NORMAL_UID, sver=2, rows=[row], ctime_ms=CTIME_MS))
    message = decode_message(SUBMIT, body, catalog)

    assert isinstance(message, SubmitMessage)
    block = message.blocks[0]
    assert block.table_name == "ntb"
    assert [column.name for column in block.columns] == ["ts", "a", "current"]
    assert block.rows == ((1_700_000_000_000, 42, 1.5),)


def test_submit_at_old_sver_still_decodes() -> None:
    catalog = SchemaCatalog()
    decode_message(CREATE_TABLE, create_normal_table_body(), catalog)
    decode_alter(add_column_request(), catalog)

    row = srow_header(0x04, 0, 1, 16 + 4, 5) + i32(-1)   # sver 1 row: ts, a
    message = decode_message(SUBMIT, submit_body(row_tb_data(uid=NORMAL_UID, sver=1, rows=[row])), catalog)

    assert message.blocks[0].rows == ((5, -1),)


def test_varint_helper_matches_cursor() -> None:
    from connector.decode._cursor import Cursor

    for value in (0, 1, 127, 128, 300, 2**31 - 1):
        assert Cursor(varint(value)).varint("v") == value
    for value in (0, -1, 1, -2, 2**31 - 1, -(2**31)):
        assert Cursor(zigzag(value)).zigzag("v", bits=32) == value
