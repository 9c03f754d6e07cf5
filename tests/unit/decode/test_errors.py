"""Malformed and unsupported bodies raise DecodeError subclasses with a position and a cause."""

from __future__ import annotations

import pytest

from connector.decode import SchemaCatalog, decode_message, render_body
from connector.decode._cursor import Cursor
from connector.decode.model import NONE, OtherMessage, SubmitMessage
from connector.errors import DecodeError, UnknownSchemaError, UnsupportedFormatError

from ._fixture_data import FIXTURE_WALS, initial_catalog

BASIC = FIXTURE_WALS[0]
BASIC_SUID = 7890123456789012345
D1001_UID = 7890123456789010001


def _entry(wal_index: int, version: int) -> dict:
    expected = FIXTURE_WALS[wal_index].load()
    return next(entry for entry in expected["entries"] if entry["version"] == version)


@pytest.mark.parametrize("wal", FIXTURE_WALS[:2] + FIXTURE_WALS[4:], ids=lambda wal: wal.test_id)
def test_truncated_bodies_raise_decode_error(wal) -> None:
    expected = wal.load()
    catalog = initial_catalog(wal, expected)
    raised = 0
    for entry in sorted(expected["entries"], key=lambda item: item["version"]):
        body = bytes.fromhex(entry["bodyHex"])
        for cut in range(len(body)):
            try:
                decode_message(entry["msgType"], body[:cut], catalog)
            except DecodeError as err:
                assert "offset" in str(err), f"v{entry['version']} cut {cut}: {err}"
                raised += 1
            except Exception as err:  # noqa: BLE001 - the point is that nothing else escapes
                pytest.fail(f"v{entry['version']} cut at {cut}: {type(err).__name__}: {err}")
            else:
                # Only a DELETE may lose its optional trailing fields and still be valid.
                assert entry["msgType"] in (579, 1559), f"v{entry['version']} decoded when cut at {cut}"
        decode_message(entry["msgType"], body, catalog)
    assert raised > 0


def test_truncated_submit_names_offset_and_sizes() -> None:
    body = bytes.fromhex(_entry(0, 1)["bodyHex"])
    catalog = initial_catalog(BASIC, BASIC.load())

    with pytest.raises(DecodeError) as caught:
        decode_message(513, body[:60], catalog)

    message = str(caught.value)
    assert "SSubmitReq2 frame length 353 is invalid" in message
    assert "at body offset 16" in message


def test_truncated_row_inside_frame_reports_row() -> None:
    body = bytearray(bytes.fromhex(_entry(0, 1)["bodyHex"]))
    # Shrink both frame lengths and the block by 10 bytes: the first SRow is cut short.
    catalog = initial_catalog(BASIC, BASIC.load())
    body[16:20] = (353 - 10).to_bytes(4, "little")
    body[21:25] = (74 - 10).to_bytes(4, "little")
    del body[90:100]

    with pytest.raises(DecodeError) as caught:
        decode_message(513, bytes(body), catalog)

    assert "SRow 0" in str(caught.value)
    assert "body offset" in str(caught.value)


def test_unknown_sver_names_suid_uid_and_sver() -> None:
    body = bytes.fromhex(_entry(0, 1)["bodyHex"])

    with pytest.raises(UnknownSchemaError) as caught:
        decode_message(513, body, SchemaCatalog())

    error = caught.value
    assert (error.suid, error.uid, error.sver) == (BASIC_SUID, D1001_UID, 1)
    assert f"suid {BASIC_SUID}" in str(error)
    assert f"uid {D1001_UID}" in str(error)
    assert "sver 1" in str(error)
    assert "table_schemas" in str(error)


def test_unknown_schema_leaves_catalog_unchanged() -> None:
    catalog = SchemaCatalog()
    ddl = FIXTURE_WALS[1].load()
    auto_create = next(entry for entry in ddl["entries"] if entry["version"] == 11)

    with pytest.raises(UnknownSchemaError):
        decode_message(513, bytes.fromhex(auto_create["bodyHex"]), catalog)

    assert catalog.table_name(7200000000000010004) is None


def test_column_format_decodes_without_schema() -> None:
    body = bytes.fromhex(_entry(0, 3)["bodyHex"])

    message = decode_message(513, body, SchemaCatalog())

    assert isinstance(message, SubmitMessage)
    block = message.blocks[0]
    assert [column.name for column in block.columns] == [None] * 5
    assert block.rows[0][0] == 1700000008000
    assert block.rows[0][4] == b"Beijing.Chaoyang"
    rendered = render_body(message)
    assert rendered["tables"][0]["rows"][0]["col5"] == "Beijing.Chaoyang"
    assert rendered["tables"][0]["tableName"] is None


def test_legacy_submit_is_unsupported() -> None:
    body = bytearray(bytes.fromhex(_entry(0, 1)["bodyHex"]))
    body[8:16] = bytes(8)

    with pytest.raises(UnsupportedFormatError) as caught:
        decode_message(513, bytes(body), SchemaCatalog())

    assert "3.0.0-3.0.2" in str(caught.value)


def test_submit_with_trailing_bytes_is_rejected() -> None:
    body = bytes.fromhex(_entry(0, 1)["bodyHex"]) + b"\x00"
    catalog = initial_catalog(BASIC, BASIC.load())

    with pytest.raises(DecodeError) as caught:
        decode_message(513, body, catalog)

    assert "1 unread bytes" in str(caught.value)


def test_row_sver_mismatch_is_rejected() -> None:
    body = bytearray(bytes.fromhex(_entry(0, 1)["bodyHex"]))
    catalog = initial_catalog(BASIC, BASIC.load())
    first_row = 16 + 4 + 1 + 4 + 2 + 8 + 8 + 1 + 1  # frames, flags, suid, uid, sver, nRow
    assert body[first_row + 2] == 1
    body[first_row + 2] = 9

    with pytest.raises(DecodeError) as caught:
        decode_message(513, bytes(body), catalog)

    assert "sver 9 differs from the block's sver 1" in str(caught.value)


def test_other_message_keeps_head() -> None:
    message = decode_message(9999, bytes.fromhex("0800000002000000"), SchemaCatalog())

    assert message == OtherMessage(head=message.head, kind="unknown-9999")
    assert (message.head.cont_len, message.head.vg_id) == (8, 2)


def test_other_message_without_head() -> None:
    message = decode_message(1559, b"\x01\x02", SchemaCatalog())

    assert message == OtherMessage(head=None, kind="sync-noop")
    assert render_body(message) == {"kind": "sync-noop"}


def test_kv_row_none_cells_stay_none() -> None:
    wal = FIXTURE_WALS[2]
    expected = wal.load()
    entry = next(item for item in expected["entries"] if item["version"] == 1)

    message = decode_message(513, bytes.fromhex(entry["bodyHex"]), initial_catalog(wal, expected))

    row = message.blocks[0].rows[11]
    names = [column.name for column in message.blocks[0].columns]
    assert row[names.index("c_binary")] is NONE
    assert row[names.index("c_uint")] is None


@pytest.mark.parametrize(
    ("data", "reader", "fragment"),
    [
        (b"\x80\x80", lambda cursor: cursor.varint("n"), "varint still open after 2 bytes"),
        (b"\xff" * 11, lambda cursor: cursor.varint("n"), "longer than 10 bytes"),
        (b"\x80\x80\x04", lambda cursor: cursor.varint("n", bits=16), "does not fit in 16 bits"),
        (b"\x03abc", lambda cursor: cursor.cstr("name"), "does not end in NUL"),
        (b"\x05\x00\x00\x00ab", lambda cursor: cursor.frame("X"), "X frame length 5 is invalid"),
        (b"\x01\x02\x03", lambda cursor: cursor.i32("contLen"), "expected 4 bytes, only 3 remain"),
    ],
)
def test_cursor_rejects_malformed_primitives(data: bytes, reader, fragment: str) -> None:
    with pytest.raises(DecodeError) as caught:
        reader(Cursor(data))

    assert fragment in str(caught.value)


def test_cursor_zigzag_round_values() -> None:
    cursor = Cursor(bytes([0x00, 0x01, 0x02, 0x03, 0x80, 0x04]))

    assert [cursor.zigzag("v") for _ in range(5)] == [0, -1, 1, -2, 256]
    assert cursor.at_end()


def test_drop_table_allows_bytes_after_frame() -> None:
    wal = FIXTURE_WALS[1]
    entry = next(item for item in wal.load()["entries"] if item["version"] == 12)
    # The vnode re-encodes DROP_TABLE in place without shrinking the buffer.
    body = bytes.fromhex(entry["bodyHex"]) + bytes(6)

    message = decode_message(519, body, SchemaCatalog())

    assert [table.name for table in message.tables] == ["d1002"]
