"""Per-cell NONE / NULL / VALUE state flags and bitmaps, as SRow tuples and SColData store them.

Codes (``ROW_SET_BITMAP`` / ``tColDataAppendValue`` in tdataformat.c):

    flag              bits  NONE  NULL  VALUE
    NONE|NULL            1     0     1      -
    NONE|VALUE           1     0     -      1
    NULL|VALUE           1     -     0      1
    NONE|NULL|VALUE      2     0     1      2

A single-state flag has no bitmap.  Bits are packed least significant first,
and the unused bits of the last byte are 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from connector.decode._bitmap import HAS_NONE, HAS_NULL, HAS_VALUE
from connector.decode.model import NONE

__all__ = ["HAS_NONE", "HAS_NULL", "HAS_VALUE", "bitmap_size", "cell_flag", "encode_bitmap", "state_flag"]


# Flag -> (bits per cell, {state bit: code}).
_CODES: Final = {
    HAS_NONE | HAS_NULL: (1, {HAS_NONE: 0, HAS_NULL: 1}),
    HAS_NONE | HAS_VALUE: (1, {HAS_NONE: 0, HAS_VALUE: 1}),
    HAS_NULL | HAS_VALUE: (1, {HAS_NULL: 0, HAS_VALUE: 1}),
    HAS_NONE | HAS_NULL | HAS_VALUE: (2, {HAS_NONE: 0, HAS_NULL: 1, HAS_VALUE: 2}),
}


def cell_flag(value: object) -> int:
    """Return HAS_NONE, HAS_NULL or HAS_VALUE for one cell value."""
    if value is NONE:
        return HAS_NONE
    if value is None:
        return HAS_NULL
    return HAS_VALUE


def state_flag(values: Sequence[object]) -> int:
    """Return the OR of the cell flags of ``values`` (0 for no cells)."""
    flag = 0
    for value in values:
        flag |= cell_flag(value)
    return flag


def bitmap_size(flag: int, count: int) -> int:
    """Return the bitmap bytes for ``count`` cells under ``flag`` (BIT1_SIZE / BIT2_SIZE / 0)."""
    layout = _CODES.get(flag)
    if layout is None:
        return 0
    per_byte = 8 // layout[0]
    return (count + per_byte - 1) // per_byte


def encode_bitmap(flag: int, values: Sequence[object]) -> bytes:
    """Return the bitmap of ``values`` under ``flag``, or b"" when the flag needs none."""
    layout = _CODES.get(flag)
    if layout is None:
        return b""
    bits, codes = layout
    per_byte = 8 // bits
    bitmap = bytearray(bitmap_size(flag, len(values)))
    for index, value in enumerate(values):
        code = codes[cell_flag(value)]
        bitmap[index // per_byte] |= code << ((index % per_byte) * bits)
    return bytes(bitmap)
