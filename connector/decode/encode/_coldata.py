"""Build one SColData the way ``tColDataAppendValue`` + ``tEncodeColData`` leave it (tdataformat.c).

The layout is in ``connector.decode._coldata``.  What the builder decides:

* ``flag`` is the OR of the cell states, and the bitmap uses the codes of ``_bitmap``.
  Its unused high bits are not always 0: when a single-state column meets its
  second state at row t, ``tColDataAppendValue`` fills the bitmap bytes up to
  row t with the old state's code (0x00 or 0xFF) and then sets bit t.  Bytes
  started later begin at 0 (``SET_BIT1_EX``), and a switch to the 2-bit
  bitmap rebuilds it from 0, so only a last byte that the fill reached keeps
  the fill in its unused bits, unless row t itself starts that byte;
* a var column's offset for a NONE or NULL row is the data length so far, so that
  row has zero length; a fixed column's slot for such a row is zero-filled;
* encoding version 1 (3.3.0+) appends ``cflag``, the schema column's flags
  (``tColDataInit``); version 0 (3.0.3-3.2.x) has none.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

from connector.decode.encode._bitmap import HAS_NONE, HAS_NULL, HAS_VALUE, bitmap_size, cell_flag, encode_bitmap, state_flag
from connector.decode.encode._buffer import Buffer
from connector.decode.encode._values import encode_value
from connector.decode.model import TdType
from connector.decode.types import TYPE_BYTES, is_var_type

__all__ = ["encode_col_data"]

_VAR_OFFSET: Final = struct.Struct("<i")


def encode_col_data(out: Buffer, cid: int, td_type: TdType, cells: Sequence[object], cflag: int | None) -> None:
    """Append one SColData; ``cflag`` None means encoding version 0 (no trailing cflag byte)."""
    flag = state_flag(cells)
    if not flag:
        raise ValueError(f"SColData of column {cid} has no rows; TDengine never writes an empty column")
    out.zigzag(cid, bits=16)
    out.i8(int(td_type))
    out.zigzag(len(cells), bits=32)
    out.i8(flag)
    out.raw(_bitmap(flag, cells))

    if flag & HAS_VALUE:
        if is_var_type(td_type):
            _put_var_values(out, td_type, cells)
        else:
            _put_fixed_values(out, td_type, cells)
    if cflag is not None:
        out.i8(cflag)


# Code of the first state in a 1-bit bitmap, by the final two-state flag: the
# fill tColDataAppendValue writes when the second state arrives.
_FILL_BY_FIRST_STATE: Final = {HAS_NONE: 0x00, HAS_NULL: 0x00, HAS_VALUE: 0xFF}
_ONE_BIT_FLAGS: Final = (HAS_NONE | HAS_NULL, HAS_NONE | HAS_VALUE, HAS_NULL | HAS_VALUE)


def _bitmap(flag: int, cells: Sequence[object]) -> bytes:
    bitmap = bytearray(encode_bitmap(flag, cells))
    if flag not in _ONE_BIT_FLAGS:
        return bytes(bitmap)
    first_state = cell_flag(cells[0])
    switch_row = next(row for row, value in enumerate(cells) if cell_flag(value) != first_state)
    last_byte = bitmap_size(flag, len(cells)) - 1
    fill = _FILL_BY_FIRST_STATE[first_state]
    # NONE|NULL stores NULL as 1, so a column that starts NULL fills with 0xFF.
    if flag == HAS_NONE | HAS_NULL and first_state == HAS_NULL:
        fill = 0xFF
    used_bits = len(cells) - last_byte * 8
    # SET_BIT1_EX zeroes a byte when it writes its bit 0, even right after the fill.
    if fill and last_byte == switch_row >> 3 and switch_row & 7 and used_bits < 8:
        bitmap[last_byte] |= (0xFF << used_bits) & 0xFF
    return bytes(bitmap)


def _put_var_values(out: Buffer, td_type: TdType, cells: Sequence[object]) -> None:
    offsets = bytearray()
    data = bytearray()
    for value in cells:
        offsets += _VAR_OFFSET.pack(len(data))
        if cell_flag(value) == HAS_VALUE:
            data += encode_value(td_type, value)
    out.raw(offsets)
    out.zigzag(len(data), bits=32)
    out.raw(data)


def _put_fixed_values(out: Buffer, td_type: TdType, cells: Sequence[object]) -> None:
    empty = bytes(TYPE_BYTES[td_type])
    for value in cells:
        out.raw(encode_value(td_type, value) if cell_flag(value) == HAS_VALUE else empty)
