"""Schema structures shared by the DDL encoders (tmsg.h / tmsg.c, 3.x).

    SSchemaWrapper   I32v nCols, I32v version, nCols x SSchema
    SSchema          I8 type, I8 flags, I32v bytes, I16v colId, CStr name
    SColCmprWrapper  I32v nCols, I32v version, nCols x (I16v id, U32 alg)     (3.3.0+)
    ext schemas      I8 hasExtSchema; when 1, nCols x I32v typeMod            (3.3.6+)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connector.decode.encode._buffer import Buffer
from connector.decode.model import Column

__all__ = ["put_col_cmpr", "put_ext_type_mods", "put_schema_wrapper"]


def put_schema_wrapper(out: Buffer, version: int, columns: Sequence[Column]) -> None:
    """Append an SSchemaWrapper; a column without a name is written with an empty name."""
    out.zigzag(len(columns), bits=32)
    out.zigzag(version, bits=32)
    for column in columns:
        out.i8(int(column.type))
        out.u8(column.flags)
        out.zigzag(column.bytes, bits=32)
        out.zigzag(column.col_id, bits=16)
        out.cstr(column.name or "")


def put_col_cmpr(out: Buffer, wrapper: Mapping[str, Any]) -> None:
    """Append an SColCmprWrapper from the dict form the decoder keeps (``nCols``, ``version``, ``colCmpr``)."""
    entries = wrapper["colCmpr"]
    out.zigzag(len(entries), bits=32)
    out.zigzag(wrapper["version"], bits=32)
    for entry in entries:
        out.zigzag(entry["id"], bits=16)
        out.u32(entry["alg"])


def put_ext_type_mods(out: Buffer, type_mods: Sequence[int] | None) -> None:
    """Append the I8 ext-schema flag and, when ``type_mods`` is set, one I32v typeMod per column."""
    if not type_mods:
        out.i8(0)
        return
    out.i8(1)
    for type_mod in type_mods:
        out.zigzag(type_mod, bits=32)
