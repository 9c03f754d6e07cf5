"""Little-endian primitives of TDengine's encoder (include/util/tencode.h), shared by decode and encode."""

from __future__ import annotations

import struct
from typing import Final

__all__ = ["BE_I64", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64", "VARINT_MORE", "VARINT_PAYLOAD"]

I8: Final = struct.Struct("<b")
U8: Final = struct.Struct("<B")
I16: Final = struct.Struct("<h")
U16: Final = struct.Struct("<H")
I32: Final = struct.Struct("<i")
U32: Final = struct.Struct("<I")
I64: Final = struct.Struct("<q")
U64: Final = struct.Struct("<Q")
# SSubmitReq2Msg.version is the one big-endian field (htobe64 on the client).
BE_I64: Final = struct.Struct(">q")

# Unsigned LEB128: 7 payload bits a byte, the high bit set on every byte but the last.
VARINT_MORE: Final = 0x80
VARINT_PAYLOAD: Final = 0x7F
