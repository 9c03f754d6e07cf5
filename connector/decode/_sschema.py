"""Schema structures shared by the DDL messages (include/common/tmsg.h, tmsg.c).

    SSchemaWrapper   I32v nCols, I32v version, nCols x SSchema
    SSchema          I8 type, I8 flags, I32v bytes, I16v colId, CStr name
    SColCmprWrapper  I32v nCols, I32v version, nCols x (I16v id, U32 alg)     (3.3.0+)
    ext schemas      nCols x I32v typeMod, after an I8 "has ext schema" flag  (3.3.6+);
                     DECIMAL typeMod = precision << 8 | scale
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from connector.decode._cursor import Cursor
from connector.decode.model import Column, TdType

__all__ = ["RawSchema", "read_col_cmpr", "read_ext_type_mods", "read_schema_wrapper", "with_type_mods"]

_MAX_COLUMNS: Final = 4096  # TSDB_MAX_COLUMNS; a sanity bound on counts read from disk
_TYPE_MOD_PRECISION_SHIFT: Final = 8
_TYPE_MOD_SCALE_MASK: Final = 0xFF


@dataclass(frozen=True, slots=True)
class RawSchema:
    """A decoded SSchemaWrapper: its version and columns in stored order."""

    version: int
    columns: tuple[Column, ...]


def read_schema_wrapper(cursor: Cursor, what: str) -> RawSchema:
    """Read an SSchemaWrapper."""
    start = cursor.pos
    n_cols = cursor.zigzag(f"{what} nCols", bits=32)
    if not 0 <= n_cols <= _MAX_COLUMNS:
        raise cursor.error(f"{what}: nCols {n_cols} is invalid; expected 0..{_MAX_COLUMNS}", offset=start)
    version = cursor.zigzag(f"{what} version", bits=32)
    columns = []
    for index in range(n_cols):
        field = f"{what} column {index}"
        type_id = cursor.i8(f"{field} type")
        flags = cursor.u8(f"{field} flags")
        width = cursor.zigzag(f"{field} bytes", bits=32)
        col_id = cursor.zigzag(f"{field} colId", bits=16)
        name = cursor.text(f"{field} name")
        try:
            td_type = TdType(type_id)
        except ValueError:
            raise cursor.error(f"{field} {name!r}: unknown type id {type_id}") from None
        columns.append(Column(col_id=col_id, type=td_type, bytes=width, name=name, flags=flags))
    return RawSchema(version=version, columns=tuple(columns))


def read_col_cmpr(cursor: Cursor, what: str) -> dict[str, Any]:
    """Read an SColCmprWrapper into ``{"nCols", "version", "colCmpr": [{"id", "alg"}]}``."""
    start = cursor.pos
    n_cols = cursor.zigzag(f"{what} nCols", bits=32)
    if not 0 <= n_cols <= _MAX_COLUMNS:
        raise cursor.error(f"{what}: nCols {n_cols} is invalid; expected 0..{_MAX_COLUMNS}", offset=start)
    version = cursor.zigzag(f"{what} version", bits=32)
    entries = []
    for index in range(n_cols):
        col_id = cursor.zigzag(f"{what} entry {index} id", bits=16)
        alg = cursor.u32(f"{what} entry {index} alg")
        entries.append({"id": col_id, "alg": alg})
    return {"nCols": n_cols, "version": version, "colCmpr": entries}


def read_ext_type_mods(cursor: Cursor, n_cols: int, what: str) -> list[int] | None:
    """Read the I8 ext-schema flag and, when it is set, one I32v typeMod per column."""
    if not cursor.i8(f"{what} hasExtSchema"):
        return None
    return [cursor.zigzag(f"{what} typeMod {index}", bits=32) for index in range(n_cols)]


def with_type_mods(columns: tuple[Column, ...], type_mods: list[int] | None) -> tuple[Column, ...]:
    """Return the columns with DECIMAL precision and scale taken from their typeMod."""
    if not type_mods:
        return columns
    result = []
    for column, type_mod in zip(columns, type_mods, strict=False):
        if column.type in (TdType.DECIMAL, TdType.DECIMAL64):
            column = Column(
                col_id=column.col_id,
                type=column.type,
                bytes=column.bytes,
                name=column.name,
                flags=column.flags,
                precision=type_mod >> _TYPE_MOD_PRECISION_SHIFT,
                scale=type_mod & _TYPE_MOD_SCALE_MASK,
            )
        result.append(column)
    return tuple(result) + columns[len(result):]
