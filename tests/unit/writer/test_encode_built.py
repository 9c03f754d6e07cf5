"""Encode messages built by hand (no col_meta or row_meta) and decode them back."""

from __future__ import annotations

from connector.decode import SchemaCatalog, decode_message
from connector.decode.encode import encode_message, patch_cont_len
from connector.decode.model import NONE, Column, MessageHead, SubmitMessage, TableBlock, TableSchema, TdType

COLUMNS = (
    Column(col_id=1, type=TdType.TIMESTAMP, bytes=8, name="ts", flags=1),
    Column(col_id=2, type=TdType.INT, bytes=4, name="v", flags=1),
    Column(col_id=3, type=TdType.VARCHAR, bytes=10, name="s", flags=1),
)


def catalog() -> SchemaCatalog:
    result = SchemaCatalog()
    result.add_schema(TableSchema(suid=0, uid=77, sver=1, columns=COLUMNS, name="t"))
    return result


def submit(row_format: bool, rows: tuple[tuple[object, ...], ...]) -> SubmitMessage:
    block = TableBlock(flags=256 if row_format else 258, suid=0, uid=77, sver=1, row_format=row_format,
                       columns=COLUMNS, rows=rows, ctime_ms=1_700_000_000_500)
    return SubmitMessage(head=MessageHead(cont_len=0, vg_id=2), req_version=1, blocks=(block,))


ROWS = (
    (1_700_000_000_000, 42, b"abc"),
    (1_700_000_001_000, NONE, NONE),
    (1_700_000_002_000, None, None),
    (1_700_000_003_000, 7, None),
)


def test_row_format_round_trip() -> None:
    body = patch_cont_len(encode_message(submit(True, ROWS)))
    decoded = decode_message(513, body, catalog())
    assert decoded.head.cont_len == len(body)
    block = decoded.blocks[0]
    assert block.rows == ROWS
    # all-NONE and all-NULL rows are bare 16-byte tuples with flags 0x01 and 0x02
    assert block.row_meta[1] == (0x01, 16)
    assert block.row_meta[2] == (0x02, 16)


def test_column_format_round_trip() -> None:
    body = encode_message(submit(False, ROWS))
    block = decode_message(513, body, catalog()).blocks[0]
    assert block.rows == ROWS
    assert [meta["cflag"] for meta in block.col_meta] == [1, 1, 1]


def test_worked_example_row_bytes() -> None:
    # ts, INT 42 and VARCHAR "abc" fit a 28-byte tuple (flag 0x04), 2 bytes smaller than KV.
    from connector.decode.encode import encode_row

    columns = (COLUMNS[0], COLUMNS[1], Column(col_id=3, type=TdType.VARCHAR, bytes=10, name="s"))
    row = encode_row(columns, 1, (1_700_000_000_000, 42, b"abc"))
    assert row.hex() == "040001001c000000" "0068e5cf8b010000" "2a000000" "00000000" "03616263"
