"""SchemaCatalog: config table_schemas validation, look-ups and the JSON round trip."""

from __future__ import annotations

import copy
import json
import math

import pytest

from connector.decode import SchemaCatalog, catalog_from_config, decode_message, load_table_schemas, render_body
from connector.decode.model import DecimalValue, TdType
from connector.errors import ConfigError

from ._fixture_data import FIXTURE_WALS, initial_catalog

METERS = {
    "super_table": "meters",
    "suid": 7890123456789012345,
    "sver": 1,
    "columns": [
        {"name": "ts", "type": "TIMESTAMP", "col_id": 1},
        {"name": "current", "type": "FLOAT", "col_id": 2},
        {"name": "location", "type": "VARCHAR", "col_id": 5, "bytes": 18},
        {"name": "amount", "type": "DECIMAL", "col_id": 6, "precision": 20, "scale": 4},
        {"name": "small", "type": "decimal", "col_id": 7, "precision": 10, "scale": 2},
        {"name": "count", "type": "INT UNSIGNED", "col_id": 8, "primary_key": True},
    ],
    "tags": [{"name": "groupid", "type": "INT", "col_id": 9}],
    "tables": [{"name": "d1001", "uid": 7890123456789010001}],
}


_DELETE = object()


def _with(path: tuple, value: object) -> list[dict]:
    """Return METERS as a one-entry config with the value at ``path`` replaced (or deleted)."""
    entry = copy.deepcopy(METERS)
    target = entry
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return [entry]


def test_config_entry_builds_schema_and_tables() -> None:
    catalog = catalog_from_config([METERS])

    schema = catalog.schema_for_block(7890123456789012345, 7890123456789010001, 1)
    by_name = {column.name: column for column in schema.columns}
    assert schema.name == "meters"
    assert by_name["ts"].bytes == 8
    assert by_name["amount"].type == TdType.DECIMAL
    assert (by_name["amount"].precision, by_name["amount"].scale) == (20, 4)
    assert by_name["small"].type == TdType.DECIMAL64
    assert by_name["count"].type == TdType.UINT
    assert by_name["count"].primary_key
    assert [tag.name for tag in schema.tags] == ["groupid"]
    assert catalog.table_name(7890123456789010001) == "d1001"
    assert catalog.table(7890123456789010001).suid == 7890123456789012345
    assert catalog.super_table_name(7890123456789012345) == "meters"


def test_config_normal_table_entry() -> None:
    entry = {"normal_table": "ntb", "uid": 42, "sver": 3, "columns": [{"name": "ts", "type": "TIMESTAMP", "col_id": 1}]}

    catalog = catalog_from_config([entry])

    assert catalog.schema_for_block(0, 42, 3).uid == 42
    assert catalog.table_name(42) == "ntb"


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        (_with(("columns", 2, "bytes"), _DELETE), "table_schemas[0].columns[2].bytes: missing"),
        (_with(("columns", 1, "bytes"), 8), "table_schemas[0].columns[1].bytes: 8 is invalid for FLOAT; expected 4"),
        (_with(("columns", 1, "type"), "REAL"), "table_schemas[0].columns[1].type: unknown TDengine type 'REAL'"),
        (_with(("columns", 3, "scale"), _DELETE), "table_schemas[0].columns[3]: a DECIMAL column needs both precision"),
        (_with(("columns", 3, "scale"), 30), "table_schemas[0].columns[3].scale: 30 is larger than precision 20"),
        (_with(("columns", 1, "precision"), 5), "precision and scale are allowed for DECIMAL columns only"),
        (_with(("columns", 0, "col_id"), 20), "the first column must be the TIMESTAMP with col_id 1"),
        (_with(("columns", 2, "col_id"), 2), "table_schemas[0].columns[2].col_id: 2 is used twice"),
        (_with(("columns", 2, "name"), "current"), "table_schemas[0].columns[2].name: 'current' is used twice"),
        (_with(("columns", 5, "primary_key"), "yes"), "table_schemas[0].columns[5].primary_key: expected true or false"),
        (_with(("columns", 1, "colour"), "red"), "table_schemas[0].columns[1]: unknown key(s) colour"),
        (_with(("suid",), "abc"), "table_schemas[0].suid: 'abc' is invalid; expected an integer"),
        (_with(("suid",), _DELETE), "table_schemas[0].suid: missing"),
        (_with(("sver",), -1), "table_schemas[0].sver: -1 is invalid"),
        (_with(("columns",), []), "table_schemas[0].columns: expected a non-empty list"),
        (_with(("tables", 0, "uid"), True), "table_schemas[0].tables[0].uid: True is invalid"),
        (_with(("tags", 0, "col_id"), 5), "table_schemas[0].tags[0].col_id: 5 is already used by a column"),
        (_with(("normal_table",), "x"), "expected exactly one of super_table or normal_table"),
        ([METERS, METERS], "table_schemas[1]: duplicate schema for id 7890123456789012345 sver 1"),
        ("meters", "table_schemas: expected a list of schema entries"),
    ],
)
def test_config_validation_errors(config, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        catalog_from_config(config)

    assert fragment in str(caught.value)


def test_invalid_config_adds_nothing() -> None:
    catalog = SchemaCatalog()
    broken = copy.deepcopy(METERS)
    broken["sver"] = 2
    broken["columns"][1]["type"] = "REAL"

    with pytest.raises(ConfigError):
        load_table_schemas(catalog, [METERS, broken])

    assert catalog.schemas() == []


def test_catalog_json_round_trip_after_ddl() -> None:
    wal = FIXTURE_WALS[1]
    expected = wal.load()
    entries = sorted(expected["entries"], key=lambda entry: entry["version"])
    catalog = initial_catalog(wal, expected)
    for entry in entries[:12]:
        decode_message(entry["msgType"], bytes.fromhex(entry["bodyHex"]), catalog)
    catalog.add_table(
        99,
        "odd_tags",
        suid=7200000000000000001,
        tags={"raw": b"\xff\x00", "nan": math.nan, "neg": -0.0, "dec": DecimalValue(-15, 5, 2), "none": None},
    )

    saved = json.loads(json.dumps(catalog.to_dict()))
    restored = SchemaCatalog.from_dict(saved)

    assert restored.to_dict() == catalog.to_dict()
    assert restored.schemas() == catalog.schemas()
    tags = restored.table(99).tags
    assert tags["raw"] == b"\xff\x00"
    assert math.isnan(tags["nan"])
    assert math.copysign(1.0, tags["neg"]) == -1.0
    assert tags["dec"] == DecimalValue(-15, 5, 2)
    assert tags["none"] is None
    for entry in entries[12:]:
        body = bytes.fromhex(entry["bodyHex"])
        left = render_body(decode_message(entry["msgType"], body, catalog), catalog)
        right = render_body(decode_message(entry["msgType"], body, restored), restored)
        assert left == right, f"v{entry['version']}"


def test_catalog_from_dict_rejects_unknown_version() -> None:
    with pytest.raises(ValueError) as caught:
        SchemaCatalog.from_dict({"formatVersion": 99})

    assert "format version 99" in str(caught.value)


def test_ddl_updates_catalog() -> None:
    wal = FIXTURE_WALS[1]
    expected = wal.load()
    catalog = SchemaCatalog()
    for entry in sorted(expected["entries"], key=lambda entry: entry["version"]):
        decode_message(entry["msgType"], bytes.fromhex(entry["bodyHex"]), catalog)

    suid = 7200000000000000001
    assert [schema.sver for schema in catalog.schemas()] == [1, 2, 3, 4]
    assert [column.name for column in catalog.latest_schema(suid).columns] == ["ts", "current", "voltage", "location", "humidity"]
    assert catalog.table_name(7200000000000010002) is None  # dropped at v12
    assert catalog.table_name(7200000000000010004) == "d1004"  # auto-created at v11
    assert catalog.table(7200000000000010003).tags == {"groupid": 30, "site": None}


def test_change_journal_replays_to_same_catalog() -> None:
    from connector.decode import decode_message
    from connector.decode.catalog import SchemaCatalog

    from ._fixture_data import FIXTURES

    expected = __import__("json").loads((FIXTURES / "ddl" / "wal.expected.json").read_text())
    source = SchemaCatalog()
    source.record_changes = True
    changes = []
    for entry in expected["entries"]:
        decode_message(entry["msgType"], bytes.fromhex(entry["bodyHex"]), source)
        changes += source.drain_changes()

    replayed = SchemaCatalog()
    for change in changes:
        replayed.apply_change(change)

    assert replayed.to_dict() == source.to_dict()
    assert source.drain_changes() == []
    assert any(change.value is None for change in changes)  # d1002 was dropped
    assert {change.key.split("/")[0] for change in changes} == {"schema", "table", "super-table"}


def test_change_journal_skips_unchanged_updates() -> None:
    from connector.decode.catalog import SchemaCatalog

    catalog = SchemaCatalog()
    catalog.record_changes = True
    catalog.add_table(7, "d7", suid=1, tags={"g": 1})
    catalog.add_table(7, "d7", suid=1, tags={"g": 1})
    catalog.drop_table(8)
    assert [change.key for change in catalog.drain_changes()] == ["table/7"]
