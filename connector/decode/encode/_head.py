"""SMsgHead (8 bytes, host order in the WAL) and the fix-up of its ``contLen``."""

from __future__ import annotations

import struct
from typing import Final

from connector.decode.encode._buffer import Buffer
from connector.decode.model import MessageHead

__all__ = ["MSG_HEAD", "patch_cont_len", "put_msg_head"]

MSG_HEAD: Final = struct.Struct(
    "<"
    "i"  # contLen
    "i"  # vgId
)


def put_msg_head(out: Buffer, head: MessageHead) -> None:
    out.raw(MSG_HEAD.pack(head.cont_len, head.vg_id))


def patch_cont_len(body: bytes) -> bytes:
    """Return ``body`` with ``SMsgHead.contLen`` set to the body length, as a client-built message has it."""
    return MSG_HEAD.pack(len(body), MSG_HEAD.unpack_from(body)[1]) + body[MSG_HEAD.size:]
