"""Cell values to stored bytes: the inverse of ``connector.decode.types.decode_fixed``/``decode_var``.

Fixed-width values are little-endian ``TYPE_BYTES[type]`` bytes; DECIMAL is the
unscaled value as a 16-byte two's-complement int128 (low u64, then high i64)
and DECIMAL64 an int64.  Variable-length values are the payload only; the
caller writes the U32v length where the layout has one.
"""

from __future__ import annotations

from typing import Final

from connector.decode.model import DecimalValue, TdType
from connector.decode.types import FIXED_LAYOUTS, TYPE_BYTES, is_var_type, type_name
from connector.errors import UnsupportedFormatError

__all__ = ["encode_fixed", "encode_var", "encode_value"]

_INT128_BYTES: Final = 16


def encode_fixed(td_type: TdType, value: object) -> bytes:
    """Return the ``TYPE_BYTES[td_type]`` stored bytes of a fixed-width value."""
    if td_type in (TdType.DECIMAL, TdType.DECIMAL64):
        unscaled = value.unscaled if isinstance(value, DecimalValue) else value
        if not isinstance(unscaled, int):
            raise TypeError(f"{type_name(td_type)} value must be a DecimalValue or int, got {value!r}")
        if td_type == TdType.DECIMAL:
            return unscaled.to_bytes(_INT128_BYTES, "little", signed=True)
        return FIXED_LAYOUTS[td_type].pack(unscaled)
    layout = FIXED_LAYOUTS.get(td_type)
    if layout is None:
        raise UnsupportedFormatError(f"type {type_name(td_type)} (id {int(td_type)}) has no fixed-width value")
    if td_type == TdType.BOOL:
        return layout.pack(1 if value else 0)
    return layout.pack(value)


def encode_var(td_type: TdType, value: object) -> bytes:
    """Return the payload of a variable-length value (NCHAR as UCS-4LE, the rest as given bytes)."""
    if td_type == TdType.NCHAR:
        if isinstance(value, str):
            return value.encode("utf-32-le")
        return bytes(value)  # type: ignore[arg-type]
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{type_name(td_type)} value must be bytes or str, got {value!r}")


def encode_value(td_type: TdType, value: object) -> bytes:
    """Return the fixed bytes, or for a var type the payload without its length prefix."""
    if is_var_type(td_type):
        return encode_var(td_type, value)
    if td_type not in TYPE_BYTES:
        raise UnsupportedFormatError(f"type {type_name(td_type)} (id {int(td_type)}) cannot be stored in a row")
    return encode_fixed(td_type, value)
