"""Build one SColData the way ``tColDataAppendValue`` + ``tEncodeColData`` leave it (tdataformat.c).

The layout is in ``connector.decode._coldata``.  What the builder decides:

* ``flag`` is the OR of the cell states; the bitmap follows the codes of ``_bitmap``;
* a var column's offset for a NONE or NULL row is the data length so far, so that
  row has zero length; a fixed column's slot for such a row is zero-filled;
* encoding version 1 (3.3.0+) appends ``cflag``, the schema column's flags
  (``tColDataInit``); version 0 (3.0.3-3.2.x) has none.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

from connector.decode.encode._bitmap import HAS_VALUE, cell_flag, encode_bitmap, state_flag
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
    out.raw(encode_bitmap(flag, cells))

    if flag & HAS_VALUE:
        if is_var_type(td_type):
            _put_var_values(out, td_type, cells)
        else:
            _put_fixed_values(out, td_type, cells)
    if cflag is not None:
        out.i8(cflag)


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
