"""Build one SRow the way TDengine's ``tRowBuild`` does (source/common/src/tdataformat.c, 3.3.6).

Both layouts (see ``connector.decode._srow`` for the bytes) are sized first:

    tuple  16 + PK index + bitmap + fixed part (flen, only with HAS_VALUE) + var part
    KV     16 + PK index + 2 (nCol) + nCol x offset width + payload

and the tuple layout wins when ``tupleSize <= kvSize``.  The KV offset width
(u8/u16/u32) is chosen by the payload offset of the last stored entry, not by
the payload size.  A row whose non-timestamp cells are all NONE or all NULL is
a 16-byte tuple (plus PK index) with no data.

Primary-key index entries (``I8 type``, ``U32v offset``) exist for columns
flagged COL_IS_KEY; their offsets count from the byte after the last entry.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from connector.decode._srow import HEADER, KV_FLG_BIG, KV_FLG_LIT, KV_FLG_MID, KV_OFFSET_LAYOUTS
from connector.decode.encode._bitmap import HAS_NONE, HAS_NULL, HAS_VALUE, bitmap_size, cell_flag, encode_bitmap
from connector.decode.encode._buffer import Buffer, varint_size, zigzag
from connector.decode.encode._values import encode_value
from connector.decode.model import Column
from connector.decode.types import TYPE_BYTES, is_var_type

__all__ = ["HEADER", "encode_row"]

COL_IS_KEY: Final = 0x04
_U8_MAX: Final = 0xFF
_U16_MAX: Final = 0xFFFF
_KV_NCOL: Final = struct.Struct("<h")
_VAR_SLOT: Final = struct.Struct("<i")


@dataclass(slots=True)
class _Scan:
    """Sizes and flags that ``tRowBuildScan`` measures before it chooses a layout."""

    flag: int = 0
    stored: int = 0  # NULL + VALUE cells: the KV nCol
    var_size: int = 0
    kv_payload: int = 0
    kv_max_offset: int = 0
    # Per PK column: (type, tuple offset before the bitmap, KV payload offset).
    keys: list[tuple[int, int, int]] = field(default_factory=list)


def encode_row(columns: Sequence[Column], sver: int, values: Sequence[object]) -> bytes:
    """Return the SRow bytes of one row; ``values[i]`` belongs to ``columns[i]`` and ``values[0]`` is ts."""
    if len(values) != len(columns):
        raise ValueError(f"row has {len(values)} values for {len(columns)} columns")
    flen = sum(TYPE_BYTES[column.type] for column in columns[1:])
    payloads = [None if cell_flag(value) != HAS_VALUE else encode_value(column.type, value)
                for column, value in zip(columns, values)]
    scan = _scan(columns, values, payloads, flen)

    bitmap_bytes, fixed_size = _tuple_parts(scan.flag, len(columns) - 1, flen)
    tuple_keys = [(key_type, tuple_offset + bitmap_bytes) for key_type, tuple_offset, _ in scan.keys]
    tuple_size = HEADER.size + _keys_size(tuple_keys) + bitmap_bytes + fixed_size + scan.var_size

    kv_flag = _kv_width_flag(scan.kv_max_offset)
    kv_index_size = _KV_NCOL.size + scan.stored * KV_OFFSET_LAYOUTS[kv_flag].size
    kv_keys = [(key_type, kv_offset + kv_index_size) for key_type, _, kv_offset in scan.keys]
    kv_size = HEADER.size + _keys_size(kv_keys) + kv_index_size + scan.kv_payload

    out = Buffer()
    if tuple_size <= kv_size:
        out.raw(HEADER.pack(scan.flag, len(scan.keys), sver, tuple_size, values[0]))
        _put_keys(out, tuple_keys)
        if scan.flag not in (HAS_NONE, HAS_NULL):
            _put_tuple_data(out, columns, values, payloads, scan.flag, fixed_size)
    else:
        out.raw(HEADER.pack(kv_flag | scan.flag, len(scan.keys), sver, kv_size, values[0]))
        _put_keys(out, kv_keys)
        _put_kv_data(out, columns, values, payloads, kv_flag, scan.stored)
    return out.getvalue()


def _scan(columns: Sequence[Column], values: Sequence[object], payloads: list[bytes | None], flen: int) -> _Scan:
    scan = _Scan()
    for column, value, payload in zip(columns[1:], values[1:], payloads[1:]):
        state = cell_flag(value)
        scan.flag |= state
        if state == HAS_NULL:
            scan.stored += 1
            scan.kv_max_offset = scan.kv_payload
            scan.kv_payload += varint_size(zigzag(-column.col_id, 16))
        elif state == HAS_VALUE:
            assert payload is not None
            if column.flags & COL_IS_KEY:
                # The tuple offset of a var key points at its U32v length in the var part.
                tuple_offset = flen + scan.var_size if is_var_type(column.type) else _fixed_offset(columns, column)
                scan.keys.append((int(column.type), tuple_offset, scan.kv_payload))
            scan.stored += 1
            scan.kv_max_offset = scan.kv_payload
            cid_size = varint_size(zigzag(column.col_id, 16))
            if is_var_type(column.type):
                scan.var_size += varint_size(len(payload)) + len(payload)
                scan.kv_payload += cid_size + varint_size(len(payload)) + len(payload)
            else:
                scan.kv_payload += cid_size + len(payload)
    return scan


def _fixed_offset(columns: Sequence[Column], target: Column) -> int:
    offset = 0
    for column in columns[1:]:
        if column is target:
            return offset
        offset += TYPE_BYTES[column.type]
    raise ValueError(f"column {target.col_id} is not in the schema")


def _tuple_parts(flag: int, count: int, flen: int) -> tuple[int, int]:
    """Return (bitmap bytes, fixed-part bytes) of the tuple layout for ``flag``."""
    if flag in (HAS_NONE, HAS_NULL):
        return 0, 0
    return bitmap_size(flag, count), flen if flag & HAS_VALUE else 0


def _kv_width_flag(max_offset: int) -> int:
    if max_offset <= _U8_MAX:
        return KV_FLG_LIT
    if max_offset <= _U16_MAX:
        return KV_FLG_MID
    return KV_FLG_BIG


def _keys_size(keys: list[tuple[int, int]]) -> int:
    return sum(1 + varint_size(offset) for _, offset in keys)


def _put_keys(out: Buffer, keys: list[tuple[int, int]]) -> None:
    for key_type, offset in keys:
        out.i8(key_type)
        out.varint(offset)


def _put_tuple_data(out: Buffer, columns: Sequence[Column], values: Sequence[object],
                    payloads: list[bytes | None], flag: int, fixed_size: int) -> None:
    out.raw(encode_bitmap(flag, values[1:]))
    fixed = bytearray(fixed_size)
    var = Buffer()
    slot = 0
    for column, payload in zip(columns[1:], payloads[1:]):
        if payload is not None:
            if is_var_type(column.type):
                _VAR_SLOT.pack_into(fixed, slot, len(var))
                var.binary(payload)
            else:
                fixed[slot:slot + len(payload)] = payload
        slot += TYPE_BYTES[column.type]
    out.raw(fixed)
    out.raw(var.getvalue())


def _put_kv_data(out: Buffer, columns: Sequence[Column], values: Sequence[object],
                 payloads: list[bytes | None], kv_flag: int, stored: int) -> None:
    offsets = []
    payload_part = Buffer()
    for column, value, payload in zip(columns[1:], values[1:], payloads[1:]):
        state = cell_flag(value)
        if state == HAS_NONE:
            continue
        offsets.append(len(payload_part))
        if state == HAS_NULL:
            payload_part.zigzag(-column.col_id, bits=16)
            continue
        assert payload is not None
        payload_part.zigzag(column.col_id, bits=16)
        if is_var_type(column.type):
            payload_part.binary(payload)
        else:
            payload_part.raw(payload)
    out.raw(_KV_NCOL.pack(stored))
    layout = KV_OFFSET_LAYOUTS[kv_flag]
    for offset in offsets:
        out.raw(layout.pack(offset))
    out.raw(payload_part.getvalue())
