"""Bounds-checked reader for TDengine's message encoding (include/util/tencode.h).

Primitives, as TDengine's encoder writes them:

    I8/U8 … I64/U64   fixed width, little-endian
    U16v/U32v/U64v    varint: unsigned LEB128, 7 bits per byte, low group first
    I16v/I32v/I64v    zigzag, then varint: 0 → 0, -1 → 1, 1 → 2, -2 → 3, …
    Binary            U32v length N, then N bytes
    CStr              U32v length N (counting the NUL), then N bytes ending in 0x00
    framed(X)         I32 length L, then exactly L bytes holding X

A field added to a framed structure in a later release is an "optional
trailing field": decoders read it only while the frame has bytes left.

Every read checks the remaining length first and raises DecodeError naming
the field, its offset in the message body and the expected and actual byte
counts, so callers never see IndexError or struct.error.
"""

from __future__ import annotations

import struct
from typing import Final

from connector.errors import DecodeError
from connector.decode._primitives import BE_I64, I8, I16, I32, I64, U8, U16, U32, U64, VARINT_MORE, VARINT_PAYLOAD

__all__ = ["Cursor"]


# A 64-bit varint takes at most 10 bytes (ceil(64 / 7)).
_MAX_VARINT_BYTES: Final = 10


class Cursor:
    """A read position inside ``buf[start:end]``; offsets in errors are absolute in ``buf``.

    ``what`` names the structure being read (for example ``"SSubmitTbData"``)
    and appears in every error message.
    """

    __slots__ = ("_buf", "pos", "end", "what")

    def __init__(self, buf: bytes, *, start: int = 0, end: int | None = None, what: str = "body") -> None:
        self._buf = buf
        self.pos = start
        self.end = len(buf) if end is None else end
        self.what = what
        if not 0 <= start <= self.end <= len(buf):
            raise DecodeError(
                f"{what}: invalid range [{start}, {self.end}) in a {len(buf)}-byte buffer"
            )

    @property
    def buffer(self) -> bytes:
        """The whole underlying buffer (rows keep absolute offsets into it)."""
        return self._buf

    @property
    def remaining(self) -> int:
        """Bytes left before the end of this cursor's range."""
        return self.end - self.pos

    def at_end(self) -> bool:
        """True when nothing is left, the test TDengine calls ``tDecodeIsEnd``."""
        return self.pos >= self.end

    def error(self, message: str, *, offset: int | None = None) -> DecodeError:
        """Build a DecodeError that names this structure and an offset (default: the current one)."""
        where = self.pos if offset is None else offset
        return DecodeError(f"{self.what}: {message} (at body offset {where})")

    def need(self, size: int, field: str) -> int:
        """Check that ``size`` bytes remain for ``field`` and return the offset where they start."""
        if size < 0:
            raise self.error(f"{field}: negative length {size}")
        if size > self.end - self.pos:
            raise self.error(
                f"{field} is truncated: expected {size} bytes, only {self.end - self.pos} remain"
                f" before the end at offset {self.end}"
            )
        return self.pos

    def _unpack(self, layout: struct.Struct, field: str) -> int:
        start = self.need(layout.size, field)
        self.pos = start + layout.size
        return layout.unpack_from(self._buf, start)[0]

    def i8(self, field: str) -> int:
        return self._unpack(I8, field)

    def u8(self, field: str) -> int:
        return self._unpack(U8, field)

    def i16(self, field: str) -> int:
        return self._unpack(I16, field)

    def u16(self, field: str) -> int:
        return self._unpack(U16, field)

    def i32(self, field: str) -> int:
        return self._unpack(I32, field)

    def u32(self, field: str) -> int:
        return self._unpack(U32, field)

    def i64(self, field: str) -> int:
        return self._unpack(I64, field)

    def u64(self, field: str) -> int:
        return self._unpack(U64, field)

    def be_i64(self, field: str) -> int:
        """Read a big-endian int64 (only ``SSubmitReq2Msg.version`` uses one)."""
        return self._unpack(BE_I64, field)

    def varint(self, field: str, *, bits: int = 64) -> int:
        """Read an unsigned LEB128 varint (U16v/U32v/U64v) that must fit in ``bits`` bits."""
        start = self.pos
        value = 0
        shift = 0
        for index in range(_MAX_VARINT_BYTES):
            if self.pos >= self.end:
                raise self.error(
                    f"{field} is truncated: varint still open after {index} bytes at the end"
                    f" offset {self.end}",
                    offset=start,
                )
            byte = self._buf[self.pos]
            self.pos += 1
            value |= (byte & VARINT_PAYLOAD) << shift
            if not byte & VARINT_MORE:
                if value >> bits:
                    raise self.error(f"{field}: varint {value} does not fit in {bits} bits", offset=start)
                return value
            shift += 7
        raise self.error(f"{field}: varint longer than {_MAX_VARINT_BYTES} bytes", offset=start)

    def zigzag(self, field: str, *, bits: int = 64) -> int:
        """Read a zigzag varint (I16v/I32v/I64v)."""
        raw = self.varint(field, bits=bits)
        return (raw >> 1) ^ -(raw & 1)

    def bytes(self, size: int, field: str) -> bytes:
        """Read ``size`` raw bytes."""
        start = self.need(size, field)
        self.pos = start + size
        return self._buf[start : start + size]

    def binary(self, field: str) -> bytes:
        """Read a Binary: U32v length, then that many bytes."""
        size = self.varint(f"{field} length", bits=32)
        return self.bytes(size, field)

    def cstr(self, field: str) -> bytes:
        """Read a CStr and return its bytes without the terminating NUL."""
        start = self.pos
        raw = self.binary(field)
        if not raw or raw[-1] != 0:
            raise self.error(f"{field}: string of {len(raw)} bytes does not end in NUL", offset=start)
        return raw[:-1]

    def text(self, field: str) -> str:
        """Read a CStr that contains a name (UTF-8)."""
        start = self.pos
        raw = self.cstr(field)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise self.error(f"{field}: name {raw!r} is not valid UTF-8", offset=start) from err

    def frame(self, what: str) -> Cursor:
        """Read a frame header and return a cursor over exactly its payload.

        This cursor moves past the whole frame; the caller reads the payload
        through the returned cursor and calls ``expect_end`` on it.
        """
        start = self.pos
        length = self.i32(f"{what} frame length")
        if length < 0 or length > self.end - self.pos:
            raise self.error(
                f"{what} frame length {length} is invalid: expected 0..{self.end - self.pos}"
                f" (the bytes left after the length field)",
                offset=start,
            )
        inner = Cursor(self._buf, start=self.pos, end=self.pos + length, what=what)
        self.pos += length
        return inner

    def sub(self, size: int, what: str) -> Cursor:
        """Return a cursor over the next ``size`` bytes and move past them."""
        start = self.need(size, what)
        self.pos = start + size
        return Cursor(self._buf, start=start, end=start + size, what=what)

    def expect_end(self) -> None:
        """Raise DecodeError if any byte of this range was left unread."""
        if self.pos != self.end:
            raise self.error(
                f"{self.end - self.pos} unread bytes: the structure ends at offset {self.pos},"
                f" but its length says it fills the bytes up to offset {self.end}"
            )
