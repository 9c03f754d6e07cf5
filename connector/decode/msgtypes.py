"""WAL message type numbers and TDengine's names for them (include/common/tmsgdef.h).

The numbers are those of TDengine 3.0.1.6 - 3.2.x and 3.3.2+.  3.0.0.x -
3.0.1.5 numbered DELETE and BATCH_DEL differently, and 3.3.0/3.3.1 shifted
the numbers from TRIM on; the WAL does not record which release wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = [
    "MSG_TYPE_NAMES",
    "TDMT_SYNC_NOOP",
    "TDMT_VND_ALTER_STB",
    "TDMT_VND_ALTER_TABLE",
    "TDMT_VND_BATCH_DEL",
    "TDMT_VND_COMMIT",
    "TDMT_VND_CREATE_STB",
    "TDMT_VND_CREATE_TABLE",
    "TDMT_VND_DELETE",
    "TDMT_VND_DROP_STB",
    "TDMT_VND_DROP_TABLE",
    "TDMT_VND_SUBMIT",
    "msg_type_name",
]

TDMT_VND_SUBMIT: Final = 513
TDMT_VND_CREATE_TABLE: Final = 515
TDMT_VND_ALTER_TABLE: Final = 517
TDMT_VND_DROP_TABLE: Final = 519
TDMT_VND_CREATE_STB: Final = 531
TDMT_VND_ALTER_STB: Final = 533
TDMT_VND_DROP_STB: Final = 535
TDMT_VND_DELETE: Final = 579
TDMT_VND_BATCH_DEL: Final = 581
TDMT_VND_COMMIT: Final = 597
TDMT_SYNC_NOOP: Final = 1559

MSG_TYPE_NAMES: Final[Mapping[int, str]] = {
    513: "submit",
    515: "create-table",
    517: "alter-table",
    519: "drop-table",
    521: "update-tag-val",
    523: "vnode-table-meta",
    525: "vnode-tables-meta",
    527: "vnode-table-cfg",
    529: "vnode-batch-meta",
    531: "vnode-create-stb",
    533: "vnode-alter-stb",
    535: "vnode-drop-stb",
    **{537 + 2 * index: f"vnode-unused{index + 1}" for index in range(15)},
    567: "vnode-create-sma",
    569: "vnode-cancel-sma",
    571: "vnode-drop-sma",
    573: "vnode-submit-rsma",
    575: "vnode-fetch-rsma",
    577: "vnode-exec-rsma",
    579: "delete-data",
    581: "batch-delete",
    583: "alter-config",
    585: "alter-replica",
    587: "alter-confirm",
    589: "alter-hashrange",
    591: "vnode-compact",
    593: "vnode-drop-ttl-stb",
    595: "vnode-trim",
    597: "vnode-commit",
    599: "vnode-create-index",
    601: "vnode-drop-index",
    603: "vnode-disable-write",
    605: "vnode-query-compact-progress",
    607: "kill-compact",
    1025: "stream-task-deploy",
    1027: "stream-task-drop",
    1559: "sync-noop",
    2049: "vnode-tmq-subscribe",
    2051: "vnode-tmq-delete-sub",
    2053: "vnode-tmq-commit-offset",
}


def msg_type_name(msg_type: int) -> str:
    """Return TDengine's name for a message type, or ``"unknown-<n>"``."""
    return MSG_TYPE_NAMES.get(msg_type, f"unknown-{msg_type}")
