"""Loading the golden WAL fixtures and comparing rendered bodies with their expected.json."""

from __future__ import annotations

import copy
import json
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.decode import SchemaCatalog, catalog_from_config
from connector.decode.model import SubmitMessage, TdType

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tdengine-wal"

_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")
_NON_FINITE = {"NaN", "Infinity", "-Infinity"}


@dataclass(frozen=True)
class FixtureWal:
    """One WAL directory of the fixtures and how its catalog starts."""

    test_id: str
    expected_path: Path
    seed_from_expected: bool  # True when the WAL has no CREATE_STB entries of its own

    def load(self) -> dict[str, Any]:
        return json.loads(self.expected_path.read_text(encoding="utf-8"))


FIXTURE_WALS = (
    FixtureWal("basic-v3", FIXTURES / "basic.expected.json", seed_from_expected=True),
    FixtureWal("ddl-v3", FIXTURES / "ddl" / "wal.expected.json", seed_from_expected=False),
    FixtureWal("types-ms-v3", FIXTURES / "types-ms" / "wal.expected.json", seed_from_expected=True),
    FixtureWal("types-ns-v3", FIXTURES / "types-ns" / "wal.expected.json", seed_from_expected=True),
    FixtureWal("basic-v3.2.2.2", FIXTURES / "v3.2.2.2" / "basic.expected.json", seed_from_expected=True),
    FixtureWal("ddl-v3.2.2.2", FIXTURES / "v3.2.2.2" / "ddl.expected.json", seed_from_expected=False),
)


def table_schemas_config(expected: dict[str, Any]) -> list[dict[str, Any]]:
    """Translate expected.json ``schema``/``schemas`` + ``childTables`` into a ``table_schemas`` list.

    expected.json does not record which super table a child belongs to, so
    every child table is listed under the first schema. Decoding looks schemas
    up by the block's suid, so the choice does not change any result.
    """
    schemas = expected.get("schemas") or [expected["schema"]]
    children = expected.get("childTables") or expected.get("schema", {}).get("childTables", [])
    entries = []
    for index, schema in enumerate(schemas):
        entry: dict[str, Any] = {
            "super_table": schema["stable"],
            "suid": schema["suid"],
            "sver": schema["sver"],
            "columns": [_config_column(column) for column in schema["columns"]],
        }
        if schema.get("tags"):
            entry["tags"] = [_config_column(column) for column in schema["tags"]]
        if index == 0:
            entry["tables"] = [{"name": child["name"], "uid": child["uid"]} for child in children]
        entries.append(entry)
    return entries


def _config_column(column: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": column["name"],
        "type": column["typeName"],
        "col_id": column["colId"],
        "bytes": column["bytes"],
    }
    if "precision" in column:
        item["precision"] = column["precision"]
        item["scale"] = column["scale"]
    if column.get("flags", 0) & 0x04:
        item["primary_key"] = True
    return item


def initial_catalog(wal: FixtureWal, expected: dict[str, Any]) -> SchemaCatalog:
    """Return the catalog a connector would start with for this WAL."""
    if wal.seed_from_expected:
        return catalog_from_config(table_schemas_config(expected))
    return SchemaCatalog()


def float32_columns(message: object) -> list[set[str]]:
    """Return, per submit table, the names of its FLOAT columns."""
    if not isinstance(message, SubmitMessage):
        return []
    return [
        {column.name or f"col{column.col_id}" for column in block.columns if column.type == TdType.FLOAT}
        for block in message.blocks
    ]


def iter_differences(expected: Any, actual: Any, path: str, float32_keys: frozenset[str] = frozenset()) -> Iterator[str]:
    """Yield one line per value that differs; floats compare bit for bit.

    Keys in ``float32_keys`` hold FLOAT cells: the fixture prints them with
    ``%.9g``, which round-trips as a float32 but not always as a double.
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if key not in actual:
                yield f"{path}.{key}: missing, expected {expected[key]!r}"
            elif key not in expected:
                yield f"{path}.{key}: unexpected key with value {actual[key]!r}"
            else:
                yield from iter_differences(expected[key], actual[key], f"{path}.{key}", float32_keys)
        return
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            yield f"{path}: expected {len(expected)} items, got {len(actual)}"
            return
        for index, (left, right) in enumerate(zip(expected, actual)):
            yield from iter_differences(left, right, f"{path}[{index}]", float32_keys)
        return
    if not _same_scalar(expected, actual, path.rsplit(".", 1)[-1] in float32_keys):
        yield f"{path}: expected {expected!r}, got {actual!r}"


def _same_scalar(expected: Any, actual: Any, is_float32: bool) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, float) or isinstance(actual, float):
        if not isinstance(expected, (int, float)) or not isinstance(actual, (int, float)):
            return False
        layout = _F32 if is_float32 else _F64
        return layout.pack(float(expected)) == layout.pack(float(actual))
    if isinstance(expected, str) and expected in _NON_FINITE:
        return actual == expected
    return type(expected) is type(actual) and expected == actual


def is_nan_bits_default(value: float, *, float32: bool) -> bool:
    """True when a NaN has C's default quiet-NaN bits (0x7fc00000 / 0x7ff8000000000000)."""
    if not math.isnan(value):
        return False
    if float32:
        return _F32.pack(value) == bytes.fromhex("0000c07f")
    return _F64.pack(value) == bytes.fromhex("000000000000f87f")


# basic.expected.json predates the "autoCreate" key: there, a table without the
# key is one without auto-create, which render_body writes as "autoCreate": false.
DEFAULTED_TABLE_KEYS = {"autoCreate": False}


def body_differences(expected_body: dict, actual_body: dict, message: object) -> list[str]:
    """Compare a rendered body; FLOAT cells of submit rows are compared as float32."""
    expected_body = copy.deepcopy(expected_body)
    actual_body = copy.deepcopy(actual_body)
    problems: list[str] = []
    if isinstance(message, SubmitMessage):
        for expected_table in expected_body.get("tables", []):
            for key, default in DEFAULTED_TABLE_KEYS.items():
                expected_table.setdefault(key, default)
        float_keys = float32_columns(message)
        expected_tables = expected_body.get("tables", [])
        actual_tables = actual_body.get("tables", [])
        for index, (expected_table, actual_table) in enumerate(zip(expected_tables, actual_tables)):
            problems += iter_differences(
                expected_table.pop("rows", None),
                actual_table.pop("rows", None),
                f"tables[{index}].rows",
                frozenset(float_keys[index]),
            )
    problems += iter_differences(expected_body, actual_body, "body")
    return problems
