"""Every TDengine type through a real broker, read back with fastavro and with confluent-kafka's deserializer."""

from __future__ import annotations

import math
import shutil
import struct
from pathlib import Path

import pytest

from connector.runtime import Runtime

from ..unit.decode._fixture_data import table_schemas_config
from .support import (
    FIXTURES,
    committed_offset,
    expected_entries,
    make_config,
    read_topic,
    record_differences,
    row_values,
)

pytestmark = pytest.mark.broker

# (fixture folder, WAL directory inside it, expected.json, needs table_schemas, task overrides)
CASES = {
    "types-ns": ("types-ns", "wal", "types-ns/wal.expected.json", True, {}),
    "types-ms": ("types-ms", "wal", "types-ms/wal.expected.json", True, {}),
    "ddl": ("ddl", "wal", "ddl/wal.expected.json", False, {"vgroup_id": 2, "precision": "ms"}),
    "v3.2.2.2-ddl": ("v3.2.2.2", "ddl", "v3.2.2.2/ddl.expected.json", False,
                     {"vgroup_id": 2, "precision": "ms"}),
}


def publish_case(name: str, bootstrap: str, tmp_path: Path, *, registry: bool) -> tuple:
    folder, wal_name, expected_file, needs_schemas, overrides = CASES[name]
    target = tmp_path / "vnode"
    shutil.copytree(FIXTURES / folder, target)
    expected = expected_entries(expected_file)
    schemas = table_schemas_config(expected) if needs_schemas else []
    extra = {"schema_registry_url": f"mock://{tmp_path.name}"} if registry else {}
    config = make_config(bootstrap, target / wal_name, max_versions=3, table_schemas=schemas,
                         extra_kafka=extra, task_overrides=overrides)
    assert Runtime(config).run(once=True) == 0
    return config, expected


@pytest.mark.parametrize("registry", [False, True], ids=["single-object", "registry"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_value_round_trips(name: str, registry: bool, kafka_bootstrap: str, tmp_path: Path) -> None:
    config, expected = publish_case(name, kafka_bootstrap, tmp_path, registry=registry)

    records = read_topic(config)
    problems = record_differences(CASES[name][2], records)
    assert not problems, "\n".join(problems[:30])
    assert committed_offset(config) == expected["lastVer"] + 1


def test_extreme_values_exact(kafka_bootstrap: str, tmp_path: Path) -> None:
    config, _ = publish_case("types-ns", kafka_bootstrap, tmp_path, registry=True)
    records = [r["value"] for r in read_topic(config) if r["value"]["kind"] == "SUBMIT"]
    assert {r["source"]["precision"] for r in records} == {"NANOSECONDS"}

    cells: dict[str, list] = {}
    for record in records:
        names = [c["name"] for c in record["columns"]]
        for row in row_values(record):
            for column_name, value in zip(names, row):
                cells.setdefault(column_name, []).append(value)

    assert 18446744073709551615 in cells["c_ubigint"]
    assert -(2**63) + 1 in cells["c_ts"]
    assert 2**63 - 1 in cells["c_ts"]
    assert bytes.fromhex("fffe806162c328") in cells["c_varchar"]
    assert any(isinstance(v, str) and "\U0001F600" in v for v in cells["c_nchar"])
    float_nans = [v for v in cells["c_float"] if isinstance(v, float) and math.isnan(v)]
    assert float_nans and all(struct.pack("<f", v) == bytes.fromhex("0000c07f") for v in float_nans)
    double_nans = [v for v in cells["c_double"] if isinstance(v, float) and math.isnan(v)]
    assert double_nans and all(struct.pack("<d", v) == bytes.fromhex("000000000000f87f")
                               for v in double_nans)
    assert any(isinstance(v, float) and v == 0.0 and math.copysign(1, v) < 0 for v in cells["c_double"])
