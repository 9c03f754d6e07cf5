"""Reading one cell value from a cursor, shared by SRow, SColData and STag decoding."""

from __future__ import annotations

from connector.decode._cursor import Cursor
from connector.decode.model import TdType
from connector.decode.types import TYPE_BYTES, decode_fixed, decode_var, is_var_type, type_name
from connector.errors import DecodeError, UnsupportedFormatError

__all__ = ["read_fixed", "read_length_prefixed", "read_value", "slot_width"]


def slot_width(td_type: TdType, field: str) -> int:
    """Return the tuple/SColData slot width of a type, or raise for a type id TDengine does not store."""
    try:
        return TYPE_BYTES[td_type]
    except KeyError:
        raise UnsupportedFormatError(f"{field}: type {type_name(td_type)} (id {int(td_type)}) cannot be stored in a row") from None


def read_fixed(cursor: Cursor, td_type: TdType, field: str, *, precision: int | None, scale: int | None) -> object:
    """Read a fixed-width value of ``td_type`` at the cursor."""
    width = slot_width(td_type, field)
    start = cursor.need(width, field)
    cursor.pos = start + width
    try:
        return decode_fixed(td_type, cursor.buffer, start, precision=precision, scale=scale)
    except DecodeError as err:
        raise cursor.error(f"{field}: {err}", offset=start) from None


def read_length_prefixed(cursor: Cursor, td_type: TdType, field: str) -> object:
    """Read a U32v length and that many bytes, and convert them for ``td_type``."""
    start = cursor.pos
    raw = cursor.binary(field)
    try:
        return decode_var(td_type, raw)
    except DecodeError as err:
        raise cursor.error(f"{field}: {err}", offset=start) from None


def read_value(cursor: Cursor, td_type: TdType, field: str, *, precision: int | None, scale: int | None) -> object:
    """Read a value in KV/STag form: raw fixed bytes, or U32v length + bytes for var types."""
    if is_var_type(td_type):
        return read_length_prefixed(cursor, td_type, field)
    return read_fixed(cursor, td_type, field, precision=precision, scale=scale)
