"""SRow: one row of a row-format SUBMIT block (include/common/tdataformat.h, tdataformat.c).

Header (16 bytes, little-endian):

    off size field
      0    1 flag       low nibble: HAS_NONE 0x01 | HAS_NULL 0x02 | HAS_VALUE 0x04 over the
                        non-timestamp columns; high nibble: 0 tuple, 0x10/0x20/0x40 KV with
                        u8/u16/u32 offsets (KV_FLG_LIT/MID/BIG)
      1    1 numOfPKs   composite primary-key columns (0-2); "rsv" and 0 before 3.3.0
      2    2 sver       u16, equal to the block's sver
      4    4 len        u32, the whole row including this header
      8    8 ts         i64, the first (timestamp) column
     16      numOfPKs x (I8 type, U32v offset): primary-key index, skipped here because
             the key values are also stored as ordinary columns

Tuple data (high nibble 0), for columns 1..n-1 in schema order:
    bitmap      1 bit per column when exactly two states occur (NONE|NULL 0/1,
                NONE|VALUE 0/1, NULL|VALUE 0/1), 2 bits (NONE 0, NULL 1, VALUE 2) when
                all three occur, absent when only VALUE occurs; LSB first
    fixed part  only with HAS_VALUE: TYPE_BYTES per column; a var column's slot is
                an i32 offset into the var part
    var part    U32v length + bytes per var value
A row whose low nibble is exactly HAS_NONE or HAS_NULL has no data at all.

KV data (high nibble set):
    nCol        i16, columns stored (VALUE or NULL)
    offsets     nCol x u8/u16/u32, entry offsets from the start of the payload
    payload     per entry I16v cid (negative: column -cid is NULL), then the value:
                fixed bytes, or U32v length + bytes.  Columns not stored are NONE.
"""

from __future__ import annotations

import struct
from typing import Final

from connector.decode._bitmap import HAS_NONE, HAS_NULL, HAS_VALUE, VALUE, read_cell_states
from connector.decode._cursor import Cursor
from connector.decode._values import read_fixed, read_length_prefixed, read_value, slot_width
from connector.decode.model import NONE, Column, TableSchema
from connector.decode.types import is_var_type
from connector.errors import DecodeError

__all__ = ["HEADER", "KV_FLG_BIG", "KV_FLG_LIT", "KV_FLG_MID", "KV_OFFSET_LAYOUTS", "decode_row"]

HEADER: Final = struct.Struct(
    "<"
    "B"  # flag
    "B"  # numOfPKs
    "H"  # sver
    "I"  # len
    "q"  # ts
)

STATE_MASK: Final = 0x0F
KV_FLG_LIT: Final = 0x10
KV_FLG_MID: Final = 0x20
KV_FLG_BIG: Final = 0x40
KV_MASK: Final = KV_FLG_LIT | KV_FLG_MID | KV_FLG_BIG
TD_MAX_PK_COLS: Final = 2

KV_OFFSET_LAYOUTS: Final = {
    KV_FLG_LIT: struct.Struct("<B"),
    KV_FLG_MID: struct.Struct("<H"),
    KV_FLG_BIG: struct.Struct("<I"),
}
_TUPLE_SLOT_OFFSET: Final = struct.Struct("<i")



def decode_row(cursor: Cursor, schema: TableSchema, sver: int, row_index: int) -> tuple[tuple[object, ...], int, int]:
    """Decode one SRow at the cursor and return (values in schema order, flag, len)."""
    row_start = cursor.pos
    header = cursor.sub(HEADER.size, f"SRow {row_index} header")
    flag, num_pks, row_sver, row_len, ts = HEADER.unpack_from(cursor.buffer, header.pos)
    if row_len < HEADER.size:
        raise cursor.error(f"SRow {row_index}: len {row_len} is smaller than the {HEADER.size}-byte header", offset=row_start)
    cursor.pos = row_start
    row = cursor.sub(row_len, f"SRow {row_index} (len {row_len})")
    row.pos = row_start + HEADER.size
    if row_sver != sver:
        raise row.error(f"SRow {row_index}: sver {row_sver} differs from the block's sver {sver}", offset=row_start)
    if num_pks > TD_MAX_PK_COLS:
        raise row.error(f"SRow {row_index}: numOfPKs {num_pks} is invalid; expected 0..{TD_MAX_PK_COLS}", offset=row_start)
    for pk in range(num_pks):
        row.i8(f"primary-key index {pk} type")
        row.varint(f"primary-key index {pk} offset", bits=32)

    columns = schema.columns
    kv_kind = flag & KV_MASK
    if kv_kind:
        if kv_kind not in KV_OFFSET_LAYOUTS:
            raise row.error(f"SRow {row_index}: flag 0x{flag:02x} sets more than one KV offset width", offset=row_start)
        values = _decode_kv(row, columns, KV_OFFSET_LAYOUTS[kv_kind])
    elif flag & ~STATE_MASK:
        raise row.error(f"SRow {row_index}: unknown flag bits in 0x{flag:02x}", offset=row_start)
    else:
        values = _decode_tuple(row, columns, flag & STATE_MASK)
    values[0] = ts
    return tuple(values), flag, row_len


def _decode_tuple(row: Cursor, columns: tuple[Column, ...], states: int) -> list[object]:
    count = len(columns) - 1
    values: list[object] = [NONE] * len(columns)
    if states in (HAS_NONE, HAS_NULL):
        fill = NONE if states == HAS_NONE else None
        values[1:] = [fill] * count
        row.expect_end()
        return values
    if not states & (HAS_NONE | HAS_NULL | HAS_VALUE):
        raise row.error(f"tuple row flag has no state bits (0x{states:02x})")

    cell_states: list[object]
    cell_states = read_cell_states(row, states, count, label="tuple", cell_name="column",
                                   first_index=1)

    if not states & HAS_VALUE:
        values[1:] = cell_states
        row.expect_end()
        return values

    fixed_start = row.pos
    flen = sum(slot_width(column.type, f"column {column.name!r}") for column in columns[1:])
    row.need(flen, "tuple fixed part")
    var_start = fixed_start + flen
    data_end = var_start
    slot = fixed_start
    buffer = row.buffer
    for index, column in enumerate(columns[1:], start=1):
        width = slot_width(column.type, f"column {column.name!r}")
        state = cell_states[index - 1]
        if state is not VALUE:
            values[index] = state
        elif is_var_type(column.type):
            offset = _TUPLE_SLOT_OFFSET.unpack_from(buffer, slot)[0]
            if offset < 0 or var_start + offset > row.end:
                raise row.error(f"column {column.name!r}: var offset {offset} points outside the row", offset=slot)
            value_cursor = Cursor(buffer, start=var_start + offset, end=row.end, what=row.what)
            values[index] = read_length_prefixed(value_cursor, column.type, f"column {column.name!r}")
            data_end = max(data_end, value_cursor.pos)
        else:
            value_cursor = Cursor(buffer, start=slot, end=var_start, what=row.what)
            values[index] = read_fixed(value_cursor, column.type, f"column {column.name!r}", precision=column.precision, scale=column.scale)
        slot += width
    row.pos = data_end
    row.expect_end()
    return values


def _decode_kv(row: Cursor, columns: tuple[Column, ...], offset_layout: struct.Struct) -> list[object]:
    values: list[object] = [NONE] * len(columns)
    positions = {column.col_id: index for index, column in enumerate(columns)}
    n_col = row.i16("KV nCol")
    if n_col < 0 or n_col > len(columns):
        raise row.error(f"KV nCol {n_col} is invalid; the schema has {len(columns)} columns")
    offsets_cursor = row.sub(n_col * offset_layout.size, "KV offsets")
    offsets = [offset_layout.unpack_from(row.buffer, offsets_cursor.pos + i * offset_layout.size)[0] for i in range(n_col)]
    payload_start = row.pos
    data_end = payload_start
    for entry, offset in enumerate(offsets):
        entry_cursor = Cursor(row.buffer, start=payload_start + offset, end=row.end, what=row.what) if payload_start + offset <= row.end else None
        if entry_cursor is None:
            raise row.error(f"KV entry {entry}: offset {offset} points outside the row")
        cid = entry_cursor.zigzag(f"KV entry {entry} cid", bits=16)
        index = positions.get(abs(cid))
        if index is None or index == 0:
            raise row.error(f"KV entry {entry}: column id {abs(cid)} is not a non-timestamp column of the schema", offset=payload_start + offset)
        column = columns[index]
        if cid < 0:
            values[index] = None
        else:
            values[index] = read_value(entry_cursor, column.type, f"column {column.name!r}", precision=column.precision, scale=column.scale)
        data_end = max(data_end, entry_cursor.pos)
    row.pos = data_end
    try:
        row.expect_end()
    except DecodeError:
        raise row.error(f"KV payload ends at offset {data_end}, expected it to fill the row up to {row.end}") from None
    return values
