"""Growable output buffer with TDengine's message-encoding primitives (include/util/tencode.h).

The inverse of ``connector.decode._cursor.Cursor``:

    I8/U8 … I64/U64   fixed width, little-endian
    U16v/U32v/U64v    varint: unsigned LEB128, 7 bits per byte, low group first
    I16v/I32v/I64v    zigzag, then varint
    Binary            U32v length N, then N bytes
    CStr              U32v length N (counting the NUL), then the bytes and a 0x00
    framed(X)         I32 length L, then the L bytes of X; ``frame()`` back-patches L
                      as ``tStartEncode``/``tEndEncode`` do
"""

from __future__ import annotations

from connector.decode._primitives import BE_I64, I8, I16, I32, I64, U8, U16, U32, U64, VARINT_MORE, VARINT_PAYLOAD
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Buffer", "varint_size", "zigzag"]




def zigzag(value: int, bits: int) -> int:
    """Map a signed ``bits``-wide integer to its zigzag code (``ZIGZAGE`` in tcoding.h)."""
    mask = (1 << bits) - 1
    return ((value << 1) ^ (value >> (bits - 1))) & mask


def varint_size(value: int) -> int:
    """Return how many bytes the unsigned varint of ``value`` takes (``tPutU32v(NULL, v)``)."""
    size = 1
    while value > VARINT_PAYLOAD:
        value >>= 7
        size += 1
    return size


class Buffer:
    """Bytes being encoded; every ``put_*`` appends at the end."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data = bytearray()

    def __len__(self) -> int:
        return len(self._data)

    def getvalue(self) -> bytes:
        return bytes(self._data)

    def raw(self, data: bytes | bytearray | memoryview) -> None:
        self._data += data

    def i8(self, value: int) -> None:
        self._data += I8.pack(value)

    def u8(self, value: int) -> None:
        self._data += U8.pack(value)

    def i16(self, value: int) -> None:
        self._data += I16.pack(value)

    def u16(self, value: int) -> None:
        self._data += U16.pack(value)

    def i32(self, value: int) -> None:
        self._data += I32.pack(value)

    def u32(self, value: int) -> None:
        self._data += U32.pack(value)

    def i64(self, value: int) -> None:
        self._data += I64.pack(value)

    def u64(self, value: int) -> None:
        self._data += U64.pack(value)

    def be_i64(self, value: int) -> None:
        """Append a big-endian int64 (only ``SSubmitReq2Msg.version`` uses one)."""
        self._data += BE_I64.pack(value)

    def varint(self, value: int) -> None:
        """Append an unsigned LEB128 varint (U16v/U32v/U64v)."""
        if value < 0:
            raise ValueError(f"varint value {value} is negative; use zigzag() for signed fields")
        while value > VARINT_PAYLOAD:
            self._data.append((value & VARINT_PAYLOAD) | VARINT_MORE)
            value >>= 7
        self._data.append(value)

    def zigzag(self, value: int, *, bits: int = 64) -> None:
        """Append a zigzag varint (I16v/I32v/I64v)."""
        self.varint(zigzag(value, bits))

    def binary(self, data: bytes) -> None:
        """Append a Binary: U32v length, then the bytes."""
        self.varint(len(data))
        self._data += data

    def cstr(self, text: str | bytes) -> None:
        """Append a CStr: U32v (length + 1), the bytes, then a NUL."""
        raw = text.encode("utf-8") if isinstance(text, str) else text
        self.binary(raw + b"\x00")

    @contextmanager
    def frame(self) -> Iterator[None]:
        """Write a frame: an I32 placeholder, whatever the block appends, then patch the length."""
        start = len(self._data)
        self._data += b"\x00\x00\x00\x00"
        yield
        I32.pack_into(self._data, start, len(self._data) - start - I32.size)
