"""SRow rows with composite primary keys (numOfPKs > 0), built by hand and decoded through SUBMIT.

After the 16-byte header each row carries numOfPKs index entries, I8 type +
U32v offset.  The offset counts from the first byte after the last entry and
points at the key value: the fixed slot in a tuple row (after the bitmap),
the U32v length in the var part for a VARCHAR key, or the payload entry in a
KV row (2 + nCol * offset width + entry offset).  The key values are also
stored as ordinary columns, so the decoder skips the entries.
"""

from __future__ import annotations

import pytest

from connector.decode import SchemaCatalog, decode_message
from connector.decode.model import NONE, Column, SubmitMessage, TableSchema, TdType
from connector.errors import DecodeError

from ._wire import i8, i16, i32, i64, row_tb_data, srow_header, submit_body, u8, varint, zigzag

SUBMIT = 513
UID = 8001
SVER = 1
TS = 1_700_000_000_000
COL_IS_KEY = 0x04


def catalog_with(*columns: Column) -> SchemaCatalog:
    catalog = SchemaCatalog()
    schema_columns = (Column(1, TdType.TIMESTAMP, 8, "ts"), *columns)
    catalog.add_schema(TableSchema(suid=0, uid=UID, sver=SVER, columns=schema_columns, name="pk"))
    catalog.add_table(UID, "pk")
    return catalog


BIGINT_KEY = Column(2, TdType.BIGINT, 8, "k", flags=COL_IS_KEY)
VARCHAR_KEY = Column(2, TdType.VARCHAR, 10, "k", flags=COL_IS_KEY)
VALUE = Column(3, TdType.INT, 4, "v")


def decode_rows(catalog: SchemaCatalog, *rows: bytes) -> tuple[tuple[object, ...], ...]:
    body = submit_body(row_tb_data(uid=UID, sver=SVER, rows=list(rows)))
    message = decode_message(SUBMIT, body, catalog)
    assert isinstance(message, SubmitMessage)
    return message.blocks[0].rows


def test_key_column_is_primary_key() -> None:
    catalog = catalog_with(BIGINT_KEY, VALUE)
    columns = catalog.find_schema(0, UID, SVER).columns

    assert [column.primary_key for column in columns] == [True, True, False]


def test_tuple_bigint_key_offset_zero() -> None:
    data = (
        i8(TdType.BIGINT)              # PK index: type
        + varint(0)                    # PK index: offset of k's slot, no bitmap (flag 0x04)
        + i64(-7)                      # fixed part: k BIGINT at slot 0
        + i32(11)                      # fixed part: v INT at slot 8
    )
    row = srow_header(0x04, 1, SVER, 16 + len(data), TS) + data
    rows = decode_rows(catalog_with(BIGINT_KEY, VALUE), row)

    assert rows == ((TS, -7, 11),)


def test_tuple_with_bitmap_key_offset_one() -> None:
    data = (
        i8(TdType.BIGINT)              # PK index: type
        + varint(1)                    # PK index: offset 1, after the 1-byte bitmap
        + u8(0b01)                     # bitmap, NULL|VALUE: k VALUE (bit 0), v NULL (bit 1)
        + i64(2**40)                   # fixed part: k BIGINT
        + i32(0)                       # fixed part: v slot, zero for NULL
    )
    row = srow_header(0x06, 1, SVER, 16 + len(data), TS) + data
    rows = decode_rows(catalog_with(BIGINT_KEY, VALUE), row)

    assert rows == ((TS, 2**40, None),)


def test_tuple_varchar_key_offset_in_var_part() -> None:
    flen = 4 + 4                       # k slot (var offset) + v INT
    data = (
        i8(TdType.VARCHAR)             # PK index: type
        + varint(flen + 0)             # PK index: offset of k's U32v length in the var part
        + i32(0)                       # fixed part: k slot, var offset 0
        + i32(-3)                      # fixed part: v INT
        + varint(3) + b"abc"           # var part: k length + bytes
    )
    row = srow_header(0x04, 1, SVER, 16 + len(data), TS) + data
    rows = decode_rows(catalog_with(VARCHAR_KEY, VALUE), row)

    assert rows == ((TS, b"abc", -3),)


def test_kv_bigint_key_offset_past_index() -> None:
    k_entry = zigzag(2, bits=16) + i64(99)     # payload entry: cid 2, BIGINT
    v_entry = zigzag(3, bits=16) + i32(4)      # payload entry: cid 3, INT
    data = (
        i8(TdType.BIGINT)              # PK index: type
        + varint(2 + 2 * 1 + 0)        # PK index: nCol field + 2 u8 offsets + k entry offset 0
        + i16(2)                    # KV nCol
        + u8(0)                        # offset of k's entry
        + u8(len(k_entry))             # offset of v's entry
        + k_entry
        + v_entry
    )
    row = srow_header(0x14, 1, SVER, 16 + len(data), TS) + data
    rows = decode_rows(catalog_with(BIGINT_KEY, VALUE), row)

    assert rows == ((TS, 99, 4),)


def test_kv_varchar_key_with_value_missing() -> None:
    k_entry = zigzag(2, bits=16) + varint(2) + b"xy"   # payload entry: cid 2, VARCHAR
    data = (
        i8(TdType.VARCHAR)             # PK index: type
        + varint(2 + 1 * 1 + 0)        # PK index: nCol field + 1 u8 offset + entry offset 0
        + i16(1)                    # KV nCol: v is not stored, so it is NONE
        + u8(0)                        # offset of k's entry
        + k_entry
    )
    row = srow_header(0x14, 1, SVER, 16 + len(data), TS) + data
    rows = decode_rows(catalog_with(VARCHAR_KEY, VALUE), row)

    assert rows == ((TS, b"xy", NONE),)


def test_two_key_entries() -> None:
    second_key = Column(3, TdType.INT, 4, "k2", flags=COL_IS_KEY)
    data = (
        i8(TdType.BIGINT) + varint(0)  # PK index 0: k at slot 0
        + i8(TdType.INT) + varint(8)   # PK index 1: k2 at slot 8
        + i64(1)                       # fixed part: k
        + i32(2)                       # fixed part: k2
        + i32(3)                       # fixed part: v
    )
    row = srow_header(0x04, 2, SVER, 16 + len(data), TS) + data
    catalog = catalog_with(BIGINT_KEY, second_key, Column(4, TdType.INT, 4, "v"))

    assert decode_rows(catalog, row) == ((TS, 1, 2, 3),)


def test_rows_with_keys_and_without_mix() -> None:
    keyed = srow_header(0x04, 1, SVER, 16 + 2 + 12, TS) + i8(TdType.BIGINT) + varint(0) + i64(5) + i32(6)
    v_null = srow_header(0x06, 1, SVER, 16 + 2 + 13, TS + 1) + i8(TdType.BIGINT) + varint(1) + u8(0b01) + i64(5) + i32(0)

    rows = decode_rows(catalog_with(BIGINT_KEY, VALUE), keyed, v_null)

    assert rows == ((TS, 5, 6), (TS + 1, 5, None))


def test_too_many_key_entries_raise() -> None:
    data = (i8(TdType.BIGINT) + varint(0)) * 3 + i64(1) + i32(2)
    row = srow_header(0x04, 3, SVER, 16 + len(data), TS) + data

    with pytest.raises(DecodeError, match="numOfPKs 3 is invalid"):
        decode_rows(catalog_with(BIGINT_KEY, VALUE), row)


def test_truncated_key_entry_raises() -> None:
    data = i8(TdType.BIGINT) + b"\x80"  # offset varint still open at the end of the row
    row = srow_header(0x04, 1, SVER, 16 + len(data), TS) + data

    with pytest.raises(DecodeError, match="primary-key index 0 offset"):
        decode_rows(catalog_with(BIGINT_KEY, VALUE), row)

