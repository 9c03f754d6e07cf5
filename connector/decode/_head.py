"""SMsgHead, the 8 bytes in front of most vnode message bodies (include/common/tmsg.h).

    off size field
      0    4 contLen   int32
      4    4 vgId      int32

Both are in host (little-endian) order in the WAL: the dnode converts a
client's network-order head in place before the vnode logs it
(``vmPutMsgToQueue``), and heads built on the server are host order already.
Some rewritten messages keep a stale ``contLen``, so the WAL entry's bodyLen
is the only reliable length.
"""

from __future__ import annotations

import struct
from typing import Final

from connector.decode._cursor import Cursor
from connector.decode.model import MessageHead

__all__ = ["MSG_HEAD", "read_msg_head"]

MSG_HEAD: Final = struct.Struct(
    "<"
    "i"  # contLen
    "i"  # vgId
)


def read_msg_head(cursor: Cursor) -> MessageHead:
    """Read an SMsgHead at the cursor."""
    start = cursor.need(MSG_HEAD.size, "SMsgHead")
    cursor.pos = start + MSG_HEAD.size
    cont_len, vg_id = MSG_HEAD.unpack_from(cursor.buffer, start)
    return MessageHead(cont_len=cont_len, vg_id=vg_id)
