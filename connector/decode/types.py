"""Per-type facts of TDengine's data types and conversion of stored bytes to cell values.

Sources: include/client/taos.h (type ids), source/common/src/ttypes.c
(``tDataTypes``: names and slot widths) and include/common/ttypes.h
(``IS_VAR_DATA_TYPE``), as of TDengine 3.3.6.

Fixed-width values are little-endian.  ``TYPE_BYTES`` is the width of a
type's slot in an SRow tuple and in SColData; for variable-length types the
slot contains a 4-byte offset.  DECIMAL (id 17) is a 16-byte two's-complement
int128 stored as the low u64 followed by the high i64; DECIMAL64 (id 21) is an
int64.  Both hold the unscaled value; precision and scale come from the schema.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Final

from connector.decode.model import DecimalValue, TdType
from connector.errors import DecodeError

__all__ = [
    "FIXED_LAYOUTS",
    "DECIMAL64_MAX_PRECISION",
    "DECIMAL_MAX_PRECISION",
    "TYPE_BYTES",
    "TYPE_NAMES",
    "VAR_TYPES",
    "VARSTR_HEADER_SIZE",
    "decode_fixed",
    "decode_var",
    "is_var_type",
    "type_from_name",
    "type_name",
]

# Length prefix counted in SSchema.bytes of variable-length columns (VARCHAR(16) → 18).
VARSTR_HEADER_SIZE: Final = 2
# TDengine stores DECIMAL(p, s) with p <= 18 as DECIMAL64 and wider ones as DECIMAL.
DECIMAL64_MAX_PRECISION: Final = 18
DECIMAL_MAX_PRECISION: Final = 38

# Variable-length types of 3.2 - 3.3.6 (IS_VAR_DATA_TYPE); BLOB types are 3.3.7+.
VAR_TYPES: Final = frozenset(
    {
        TdType.VARCHAR,
        TdType.NCHAR,
        TdType.JSON,
        TdType.VARBINARY,
        TdType.GEOMETRY,
        TdType.BLOB,
        TdType.MEDIUMBLOB,
    }
)

TYPE_BYTES: Final[Mapping[TdType, int]] = {
    TdType.BOOL: 1,
    TdType.TINYINT: 1,
    TdType.SMALLINT: 2,
    TdType.INT: 4,
    TdType.BIGINT: 8,
    TdType.FLOAT: 4,
    TdType.DOUBLE: 8,
    TdType.VARCHAR: 4,
    TdType.TIMESTAMP: 8,
    TdType.NCHAR: 4,
    TdType.UTINYINT: 1,
    TdType.USMALLINT: 2,
    TdType.UINT: 4,
    TdType.UBIGINT: 8,
    TdType.JSON: 4,
    TdType.VARBINARY: 4,
    TdType.DECIMAL: 16,
    # NOTE: 3.3.7 reserves 8 bytes for BLOB slots; BLOB values themselves are not decoded.
    TdType.BLOB: 8,
    TdType.MEDIUMBLOB: 8,
    TdType.GEOMETRY: 4,
    TdType.DECIMAL64: 8,
}

# Names as TDengine prints them (tDataTypes[].name); both DECIMAL ids print as DECIMAL.
TYPE_NAMES: Final[Mapping[TdType, str]] = {
    TdType.NULL: "NULL",
    TdType.BOOL: "BOOL",
    TdType.TINYINT: "TINYINT",
    TdType.SMALLINT: "SMALLINT",
    TdType.INT: "INT",
    TdType.BIGINT: "BIGINT",
    TdType.FLOAT: "FLOAT",
    TdType.DOUBLE: "DOUBLE",
    TdType.VARCHAR: "VARCHAR",
    TdType.TIMESTAMP: "TIMESTAMP",
    TdType.NCHAR: "NCHAR",
    TdType.UTINYINT: "TINYINT UNSIGNED",
    TdType.USMALLINT: "SMALLINT UNSIGNED",
    TdType.UINT: "INT UNSIGNED",
    TdType.UBIGINT: "BIGINT UNSIGNED",
    TdType.JSON: "JSON",
    TdType.VARBINARY: "VARBINARY",
    TdType.DECIMAL: "DECIMAL",
    TdType.BLOB: "BLOB",
    TdType.MEDIUMBLOB: "MEDIUMBLOB",
    TdType.GEOMETRY: "GEOMETRY",
    TdType.DECIMAL64: "DECIMAL",
}

# Names accepted by type_from_name, upper-cased and with single spaces.  DECIMAL
# is absent on purpose: its id depends on the precision (see type_from_name).
_NAME_TO_TYPE: Final[Mapping[str, TdType]] = {
    **{name: td_type for td_type, name in TYPE_NAMES.items() if name not in ("DECIMAL", "NULL")},
    "BINARY": TdType.VARCHAR,
    "UTINYINT": TdType.UTINYINT,
    "USMALLINT": TdType.USMALLINT,
    "UINT": TdType.UINT,
    "UBIGINT": TdType.UBIGINT,
    "DECIMAL64": TdType.DECIMAL64,
    "DECIMAL128": TdType.DECIMAL,
}

# Little-endian layout of each fixed-width type as stored in rows and columns.
FIXED_LAYOUTS: Final[Mapping[TdType, struct.Struct]] = {
    TdType.BOOL: struct.Struct("<b"),
    TdType.TINYINT: struct.Struct("<b"),
    TdType.SMALLINT: struct.Struct("<h"),
    TdType.INT: struct.Struct("<i"),
    TdType.BIGINT: struct.Struct("<q"),
    TdType.FLOAT: struct.Struct("<f"),
    TdType.DOUBLE: struct.Struct("<d"),
    TdType.TIMESTAMP: struct.Struct("<q"),
    TdType.UTINYINT: struct.Struct("<B"),
    TdType.USMALLINT: struct.Struct("<H"),
    TdType.UINT: struct.Struct("<I"),
    TdType.UBIGINT: struct.Struct("<Q"),
    TdType.DECIMAL64: struct.Struct("<q"),
}

_DECIMAL128: Final = struct.Struct(
    "<"
    "Q"  # low 64 bits
    "q"  # high 64 bits, signed
)


def is_var_type(td_type: TdType) -> bool:
    """True for types stored as a length plus bytes instead of a fixed slot."""
    return td_type in VAR_TYPES


def type_name(td_type: int) -> str:
    """Return TDengine's printed name of a type id, or ``"UNKNOWN(<id>)"``."""
    try:
        return TYPE_NAMES[TdType(td_type)]
    except ValueError:
        return f"UNKNOWN({td_type})"


def type_from_name(name: str, *, precision: int | None = None) -> TdType:
    """Parse a TDengine type name such as ``"TIMESTAMP"``, ``"BINARY"`` or ``"INT UNSIGNED"``.

    ``DECIMAL`` maps to DECIMAL64 when ``precision`` is at most 18 and to the
    128-bit DECIMAL otherwise, as TDengine chooses.  Raises ValueError for an
    unknown name or a DECIMAL without precision.
    """
    key = " ".join(name.upper().split())
    if key == "DECIMAL":
        if precision is None:
            raise ValueError("DECIMAL needs a precision to choose between DECIMAL64 and DECIMAL")
        return TdType.DECIMAL64 if precision <= DECIMAL64_MAX_PRECISION else TdType.DECIMAL
    try:
        return _NAME_TO_TYPE[key]
    except KeyError:
        allowed = ", ".join(sorted({*_NAME_TO_TYPE, "DECIMAL"}))
        raise ValueError(f"unknown TDengine type {name!r}; expected one of {allowed}") from None


def decode_fixed(
    td_type: TdType,
    buf: bytes,
    offset: int,
    *,
    precision: int | None = None,
    scale: int | None = None,
) -> object:
    """Convert the ``TYPE_BYTES[td_type]`` bytes at ``buf[offset:]`` into a cell value.

    The caller has checked the bounds.  DECIMAL types need ``precision`` and
    ``scale`` from the schema.
    """
    layout = FIXED_LAYOUTS.get(td_type)
    if layout is not None:
        value = layout.unpack_from(buf, offset)[0]
        if td_type == TdType.BOOL:
            return value != 0
        if td_type == TdType.DECIMAL64:
            return _decimal(value, precision, scale, td_type)
        return value
    if td_type == TdType.DECIMAL:
        low, high = _DECIMAL128.unpack_from(buf, offset)
        return _decimal((high << 64) | low, precision, scale, td_type)
    raise DecodeError(f"type {type_name(td_type)} (id {int(td_type)}) has no fixed-width value")


def _decimal(unscaled: int, precision: int | None, scale: int | None, td_type: TdType) -> DecimalValue:
    if precision is None or scale is None:
        raise DecodeError(
            f"a {type_name(td_type)} value (id {int(td_type)}) needs precision and scale from the schema"
        )
    return DecimalValue(unscaled=unscaled, precision=precision, scale=scale)


def decode_var(td_type: TdType, raw: bytes) -> object:
    """Convert the payload of a variable-length value into a cell value.

    VARCHAR/BINARY, VARBINARY, GEOMETRY, JSON and BLOB stay bytes; NCHAR is
    decoded from UCS-4LE.
    """
    if td_type == TdType.NCHAR:
        if len(raw) % 4:
            raise DecodeError(f"NCHAR value of {len(raw)} bytes is not a whole number of UCS-4 characters")
        try:
            return raw.decode("utf-32-le")
        except UnicodeDecodeError as err:
            raise DecodeError(f"NCHAR value {raw.hex()} is not valid UCS-4LE: {err.reason}") from err
    if td_type in VAR_TYPES:
        return bytes(raw)
    raise DecodeError(f"type {type_name(td_type)} (id {int(td_type)}) is not variable-length")
