"""The public surface of connector.decode is exactly what callers are meant to use."""

from __future__ import annotations

import connector.decode as decode
from connector.decode.msgtypes import msg_type_name


def test_decode_package_exports() -> None:
    assert set(decode.__all__) == {
        "DecodedMessage",
        "SchemaCatalog",
        "TableEntry",
        "apply_to_catalog",
        "catalog_from_config",
        "decode_message",
        "load_table_schemas",
        "msg_type_name",
        "render_body",
    }
    for name in decode.__all__:
        assert hasattr(decode, name), name


def test_msg_type_names() -> None:
    assert msg_type_name(513) == "submit"
    assert msg_type_name(515) == "create-table"
    assert msg_type_name(517) == "alter-table"
    assert msg_type_name(519) == "drop-table"
    assert msg_type_name(531) == "vnode-create-stb"
    assert msg_type_name(533) == "vnode-alter-stb"
    assert msg_type_name(535) == "vnode-drop-stb"
    assert msg_type_name(579) == "delete-data"
    assert msg_type_name(581) == "batch-delete"
    assert msg_type_name(1559) == "sync-noop"
    assert msg_type_name(4242) == "unknown-4242"
