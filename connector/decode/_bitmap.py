"""Per-cell NONE / NULL / VALUE states shared by SRow tuples and SColData.

Both formats store a state flag (an OR of HAS_NONE, HAS_NULL and HAS_VALUE)
and, when more than one state occurs, a bitmap: 1 bit per cell for two
states, 2 bits for all three, least significant bits first
(``GET_BIT1``/``GET_BIT2`` in include/common/tdataformat.h).
"""

from __future__ import annotations

from typing import Final

from connector.decode._cursor import Cursor
from connector.decode.model import NONE

__all__ = ["HAS_NONE", "HAS_NULL", "HAS_VALUE", "VALUE", "read_cell_states"]

HAS_NONE: Final = 0x01
HAS_NULL: Final = 0x02
HAS_VALUE: Final = 0x04

# Marks a cell whose value follows in the data part; NONE and None stand for themselves.
VALUE: Final = object()

# State flag -> (bits per cell, state of each bitmap code).
_BITMAP_STATES: Final = {
    HAS_NONE | HAS_NULL: (1, (NONE, None)),
    HAS_NONE | HAS_VALUE: (1, (NONE, VALUE)),
    HAS_NULL | HAS_VALUE: (1, (None, VALUE)),
    HAS_NONE | HAS_NULL | HAS_VALUE: (2, (NONE, None, VALUE)),
}


def read_cell_states(cursor: Cursor, flag: int, count: int, *, label: str, cell_name: str,
                     first_index: int = 0) -> list[object]:
    """Return the state of each of ``count`` cells, reading the bitmap at the cursor when there is one.

    ``flag`` must be a non-empty combination of the three HAS_* bits.  Error
    messages name a cell as ``cell_name`` plus its index counted from
    ``first_index``.
    """
    if flag in (HAS_NONE, HAS_NULL):
        return [NONE if flag == HAS_NONE else None] * count
    if flag == HAS_VALUE:
        return [VALUE] * count

    bits, mapping = _BITMAP_STATES[flag]
    per_byte = 8 // bits
    bitmap = cursor.bytes((count + per_byte - 1) // per_byte, f"{label} bitmap")
    mask = (1 << bits) - 1
    states = []
    for index in range(count):
        code = (bitmap[index // per_byte] >> ((index % per_byte) * bits)) & mask
        if code >= len(mapping):
            raise cursor.error(f"{label} bitmap: {cell_name} {index + first_index} has state code "
                               f"{code}, expected 0..{len(mapping) - 1}")
        states.append(mapping[code])
    return states
