"""SColData: one column of a column-format SUBMIT block (tdataformat.c ``tEncodeColData*``).

    I16v  cid
    I8    type
    I32v  nVal       rows in the block
    I8    flag       HAS_NONE 0x01 | HAS_NULL 0x02 | HAS_VALUE 0x04
    bitmap           per row: 1 bit when exactly two states occur (NONE|NULL 0/1,
                     NONE|VALUE 0/1, NULL|VALUE 0/1), 2 bits (NONE 0, NULL 1, VALUE 2)
                     when all three occur, absent for a single state; LSB first
    values           only with HAS_VALUE:
                       var type:   nVal x i32 offsets, I32v nData, nData bytes;
                                   row i is bytes [off[i], off[i+1]) (the last up to nData)
                       fixed type: nVal x TYPE_BYTES
    I8    cflag      encoding version 1 (SUBMIT_REQUEST_VERSION, 3.3.0+) only

The encoding version comes from bits 8-15 of SSubmitTbData.flags; version 0
(3.0.3-3.2.x) has no cflag.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from connector.decode._bitmap import HAS_VALUE, VALUE, read_cell_states
from connector.decode._cursor import Cursor
from connector.decode._values import read_fixed, slot_width
from connector.decode.model import Column, TdType
from connector.decode.types import decode_var, is_var_type
from connector.errors import DecodeError, UnsupportedFormatError

__all__ = ["ColData", "decode_col_data"]

SUPPORTED_ENCODING_VERSIONS: Final = (0, 1)
_VAR_OFFSET: Final = struct.Struct("<i")


@dataclass(frozen=True, slots=True)
class ColData:
    """One decoded SColData: its header fields and one cell per row (before DECIMAL scaling)."""

    cid: int
    type: TdType
    n_val: int
    flag: int
    cflag: int | None
    cells: tuple[object, ...]

    def meta(self) -> dict[str, int]:
        """Return the header fields in the form TableBlock.col_meta keeps them."""
        item = {"cid": self.cid, "type": int(self.type), "nVal": self.n_val, "flag": self.flag}
        if self.cflag is not None:
            item["cflag"] = self.cflag
        return item


def decode_col_data(
    cursor: Cursor, encoding_version: int, schema_columns: Mapping[int, Column], *, index: int
) -> ColData:
    """Decode one SColData at the cursor.

    ``schema_columns`` maps col_id to the schema's column, when the schema is
    known; DECIMAL values take their precision and scale from it.
    """
    if encoding_version not in SUPPORTED_ENCODING_VERSIONS:
        raise UnsupportedFormatError(
            f"SColData encoding version {encoding_version} is not supported; expected one of {SUPPORTED_ENCODING_VERSIONS}"
        )
    label = f"SColData {index}"
    start = cursor.pos
    cid = cursor.zigzag(f"{label} cid", bits=16)
    type_id = cursor.i8(f"{label} type")
    try:
        td_type = TdType(type_id)
    except ValueError:
        raise cursor.error(f"{label}: unknown type id {type_id}", offset=start) from None
    n_val = cursor.zigzag(f"{label} nVal", bits=32)
    if n_val < 0:
        raise cursor.error(f"{label}: nVal {n_val} is negative", offset=start)
    flag = cursor.i8(f"{label} flag")
    if not 1 <= flag <= 7:
        raise cursor.error(f"{label}: flag {flag} is invalid; expected 1..7", offset=start)

    states = read_cell_states(cursor, flag, n_val, label=label, cell_name="row")

    column = schema_columns.get(cid)
    precision = column.precision if column else None
    scale = column.scale if column else None
    if flag & HAS_VALUE:
        if is_var_type(td_type):
            cells = _read_var_values(cursor, td_type, states, label)
        else:
            cells = _read_fixed_values(cursor, td_type, states, label, precision, scale)
    else:
        cells = states

    cflag = cursor.i8(f"{label} cflag") if encoding_version >= 1 else None
    return ColData(cid=cid, type=td_type, n_val=n_val, flag=flag, cflag=cflag, cells=tuple(cells))


def _read_var_values(cursor: Cursor, td_type: TdType, states: list[object], label: str) -> list[object]:
    n_val = len(states)
    offsets_cursor = cursor.sub(n_val * _VAR_OFFSET.size, f"{label} value offsets")
    offsets = [_VAR_OFFSET.unpack_from(cursor.buffer, offsets_cursor.pos + i * _VAR_OFFSET.size)[0] for i in range(n_val)]
    n_data = cursor.zigzag(f"{label} nData", bits=32)
    data = cursor.sub(n_data, f"{label} value data ({n_data} bytes)")
    cells: list[object] = []
    for row, state in enumerate(states):
        if state is not VALUE:
            cells.append(state)
            continue
        begin = offsets[row]
        end = offsets[row + 1] if row + 1 < n_val else n_data
        if not 0 <= begin <= end <= n_data:
            raise data.error(f"{label}: row {row} value range [{begin}, {end}) is outside nData {n_data}")
        raw = cursor.buffer[data.pos + begin : data.pos + end]
        try:
            cells.append(decode_var(td_type, raw))
        except DecodeError as err:
            raise data.error(f"{label} row {row}: {err}", offset=data.pos + begin) from None
    return cells


def _read_fixed_values(
    cursor: Cursor, td_type: TdType, states: list[object], label: str, precision: int | None, scale: int | None
) -> list[object]:
    width = slot_width(td_type, label)
    values = cursor.sub(width * len(states), f"{label} values")
    cells: list[object] = []
    for state in states:
        if state is VALUE:
            cells.append(read_fixed(values, td_type, label, precision=precision, scale=scale))
        else:
            values.pos += width
            cells.append(state)
    return cells
