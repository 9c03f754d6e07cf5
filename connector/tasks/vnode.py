"""Facts about the vnode a WAL directory belongs to: vgroup id and timestamp precision.

TDengine keeps them in ``<vnode dir>/vnode.json`` beside ``wal/`` (vnodeCfg.c
``vnodeEncodeConfig``; every number a JSON string, precision 0 = ms, 1 = us,
2 = ns).  A WAL copied without that file needs ``vgroup_id`` in the task
configuration; the precision is then unknown and records carry a null precision.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from connector.errors import ConfigError

__all__ = ["VnodeInfo", "read_vnode_info"]

log = logging.getLogger(__name__)

_PRECISIONS = {0: "ms", 1: "us", 2: "ns"}
_VNODE_DIR = re.compile(r"^vnode(\d+)$")


@dataclass(frozen=True, slots=True)
class VnodeInfo:
    vg_id: int
    precision: str | None  # "ms", "us", "ns", or None when vnode.json is absent
    db_name: str | None = None


def read_vnode_info(wal_dir: str, *, configured_vg_id: int | None, key: str,
                    configured_precision: str | None = None,
                    precision_key: str = "precision") -> VnodeInfo:
    """Find the vgroup id and precision for ``wal_dir``.

    The vgroup id comes from the configuration (``key`` names that setting in
    errors), else vnode.json, else a parent directory named ``vnode<N>``.
    The precision comes from vnode.json, else from the configuration.  A
    configured value that contradicts vnode.json is rejected.
    """
    vnode_dir = Path(wal_dir).resolve().parent
    vnode_json = vnode_dir / "vnode.json"
    file_vg_id = precision = db_name = None
    if vnode_json.is_file():
        try:
            config = json.loads(vnode_json.read_text(encoding="utf-8"))["config"]
            file_vg_id = int(config["vgId"])
            precision = _PRECISIONS.get(int(config["precision"]))
            db_name = config.get("dbname")
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"{vnode_json}: cannot read vgId and precision: {err}") from err

    if configured_precision is not None:
        if precision is not None and precision != configured_precision:
            raise ConfigError(f"{precision_key}: {configured_precision!r} contradicts precision "
                              f"{precision!r} in {vnode_json}; remove the setting")
        precision = configured_precision

    if configured_vg_id is not None:
        if file_vg_id is not None and file_vg_id != configured_vg_id:
            raise ConfigError(f"{key}: {configured_vg_id} contradicts vgId {file_vg_id} in "
                              f"{vnode_json}; remove the setting or point wal_dir at the right vnode")
        return VnodeInfo(configured_vg_id, precision, db_name)
    if file_vg_id is not None:
        return VnodeInfo(file_vg_id, precision, db_name)
    match = _VNODE_DIR.match(vnode_dir.name)
    if match is not None:
        return VnodeInfo(int(match.group(1)), precision, db_name)
    raise ConfigError(f"{key}: missing; {wal_dir} has no vnode.json beside it and is not under a "
                      f"vnode<N> directory, so set the vgroup id of this WAL explicitly")
