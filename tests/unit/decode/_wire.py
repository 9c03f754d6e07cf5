"""Encoders for TDengine's message primitives, for building hand-made bodies in tests.

Each helper writes one primitive the way include/util/tencode.h does, so a
test body reads as one helper call per documented field.
"""

from __future__ import annotations

import struct


def i8(value: int) -> bytes:
    return struct.pack("<b", value)


def u8(value: int) -> bytes:
    return struct.pack("<B", value)


def i16(value: int) -> bytes:
    return struct.pack("<h", value)


def u16(value: int) -> bytes:
    return struct.pack("<H", value)


def i32(value: int) -> bytes:
    return struct.pack("<i", value)


def u32(value: int) -> bytes:
    return struct.pack("<I", value)


def i64(value: int) -> bytes:
    return struct.pack("<q", value)


def be_i64(value: int) -> bytes:
    return struct.pack(">q", value)


def varint(value: int) -> bytes:
    """Unsigned LEB128 (U16v/U32v/U64v)."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def zigzag(value: int, bits: int = 32) -> bytes:
    """Zigzag varint (I16v/I32v/I64v)."""
    return varint(((value << 1) ^ (value >> (bits - 1))) & ((1 << bits) - 1))


def binary(raw: bytes) -> bytes:
    """U32v length, then the bytes."""
    return varint(len(raw)) + raw


def cstr(text: str) -> bytes:
    """U32v length counting the NUL, then the UTF-8 bytes and the NUL."""
    return binary(text.encode() + b"\x00")


def frame(*parts: bytes) -> bytes:
    """I32 length, then the concatenated parts."""
    payload = b"".join(parts)
    return i32(len(payload)) + payload


def msg_head(cont_len: int = 0, vg_id: int = 2) -> bytes:
    """SMsgHead: I32 contLen, I32 vgId (host order in the WAL)."""
    return i32(cont_len) + i32(vg_id)


def sschema(type_id: int, flags: int, width: int, col_id: int, name: str) -> bytes:
    """SSchema: I8 type, I8 flags, I32v bytes, I16v colId, CStr name."""
    return i8(type_id) + u8(flags) + zigzag(width) + zigzag(col_id, bits=16) + cstr(name)


def srow_header(flag: int, num_pks: int, sver: int, length: int, ts: int) -> bytes:
    """SRow header: u8 flag, u8 numOfPKs, u16 sver, u32 len, i64 ts."""
    return u8(flag) + u8(num_pks) + u16(sver) + u32(length) + i64(ts)


def submit_body(*tb_data: bytes, vg_id: int = 2) -> bytes:
    """SUBMIT: SMsgHead, BE I64 version 1, framed SSubmitReq2 {U64v n, framed SSubmitTbData x n}."""
    return (
        msg_head(0, vg_id)          # SMsgHead contLen, vgId
        + be_i64(1)                 # SSubmitReq2Msg.version, big-endian 1
        + frame(
            varint(len(tb_data)),   # nSubmitTbData
            *tb_data,               # SSubmitTbData x n, each already framed
        )
    )


def row_tb_data(*, uid: int, sver: int, rows: list[bytes], suid: int = 0, ctime_ms: int | None = None) -> bytes:
    """A framed row-format SSubmitTbData with encoding version 1."""
    parts = [
        zigzag(0x100),              # flags: encoding version 1 in bits 8-15, row format
        i64(suid),                  # suid, 0 for a normal table
        i64(uid),                   # uid
        zigzag(sver),               # sver the rows were built with
        varint(len(rows)),          # nRow
        *rows,                      # SRow x nRow, copied raw
    ]
    if ctime_ms is not None:
        parts.append(i64(ctime_ms))  # ctimeMs, optional trailing
    return frame(*parts)
