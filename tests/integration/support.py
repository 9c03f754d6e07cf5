"""Helpers for the broker tests: WAL copies, configurations, and reading back what landed."""

from __future__ import annotations

import json
import shutil
import struct
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from confluent_kafka import Consumer, TopicPartition

from connector.config import ConnectorConfig, parse_config
from connector.sink.consume import iter_topic_records

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tdengine-wal"

# The basic fixture has no CREATE_STB entry, so its schema reaches the
# connector through table_schemas, as an operator would configure it.
BASIC_TABLE_SCHEMAS = [{
    "super_table": "meters",
    "suid": 7890123456789012345,
    "sver": 1,
    "columns": [
        {"name": "ts", "type": "TIMESTAMP", "col_id": 1},
        {"name": "current", "type": "FLOAT", "col_id": 2},
        {"name": "voltage", "type": "INT", "col_id": 3},
        {"name": "phase", "type": "FLOAT", "col_id": 4},
        {"name": "location", "type": "VARCHAR", "col_id": 5, "bytes": 18},
    ],
    "tables": [
        {"name": "d1001", "uid": 7890123456789010001},
        {"name": "d1002", "uid": 7890123456789010002},
        {"name": "d1003", "uid": 7890123456789010003},
    ],
}]


def copy_wal(source: str, target: Path) -> Path:
    """Copy a fixture WAL directory to ``target`` with write permission restored."""
    shutil.copytree(FIXTURES / source, target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


def expected_entries(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def make_config(bootstrap: str, wal_dir: Path, *, delivery_mode: str = "exactly_once",
                max_versions: int = 500, table_schemas: list | None = None,
                extra_kafka: dict | None = None) -> ConnectorConfig:
    """Return a configuration with one task and a connector name, topic and group unique to the test."""
    suffix = uuid.uuid4().hex[:10]
    raw = {
        "connector": {
            "name": f"test-{suffix}",
            "delivery_mode": delivery_mode,
            "max_versions_per_transaction": max_versions,
            "idle_scan_delay_ms": 20,
        },
        "kafka": {"bootstrap_servers": bootstrap, "operation_timeout_ms": 20_000,
                  **(extra_kafka or {})},
        "tasks": [{"name": "vnode2", "wal_dir": str(wal_dir), "topic": f"wal-test-{suffix}",
                   "vgroup_id": 2}],
        "table_schemas": BASIC_TABLE_SCHEMAS if table_schemas is None else table_schemas,
    }
    return parse_config(raw)


def committed_offset(config: ConnectorConfig) -> int:
    """Return the group's committed offset on partition 0 of the task topic (-1001 when none)."""
    consumer = Consumer({"bootstrap.servers": config.kafka.bootstrap_servers,
                         "group.id": config.group_id, "enable.auto.commit": False})
    try:
        partition = TopicPartition(config.tasks[0].topic, 0)
        return consumer.committed([partition], timeout=20)[0].offset
    finally:
        consumer.close()


def read_topic(config: ConnectorConfig) -> list[dict[str, Any]]:
    """Return every committed record of the task topic, decoded."""
    return list(iter_topic_records(config, config.tasks[0].topic, idle_timeout_s=3.0))


def float32_bits(value: float) -> int:
    return struct.unpack("<I", struct.pack("<f", value))[0]


def cell_from_record(column: dict[str, Any], value: Any) -> Any:
    """Turn a decoded Avro cell into the value convention of expected.json."""
    if value is None:
        return None
    if column["type"] == "VARCHAR" and isinstance(value, bytes):
        return {"hex": value.hex()}
    return value


def rows_by_name(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the rows of a SUBMIT record as dicts keyed by column name."""
    columns = record["columns"]
    return [
        {column["name"]: cell_from_record(column, cell) for column, cell in zip(columns, row)}
        for row in record["rows"]
    ]


def same_cell(expected: Any, actual: Any, type_name: str) -> bool:
    """Compare one cell exactly: FLOAT by its float32 bit pattern, everything else by value."""
    if type_name == "FLOAT" and expected is not None and actual is not None:
        return float32_bits(float(expected)) == float32_bits(actual)
    return expected == actual


def wait_for_committed(config: ConnectorConfig, target: int, *, timeout_s: float = 60.0,
                       check: Callable[[], None] | None = None) -> int:
    """Poll the committed checkpoint until it reaches ``target`` or ``timeout_s`` passes; return it.

    ``check`` runs on every round, so a caller can fail early (for example
    when the connector process exited).
    """
    deadline = time.monotonic() + timeout_s
    offset = committed_offset(config)
    while offset < target and time.monotonic() < deadline:
        if check is not None:
            check()
        time.sleep(0.2)
        offset = committed_offset(config)
    return offset
