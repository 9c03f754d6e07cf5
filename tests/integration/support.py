"""Helpers for the broker tests: WAL copies, configurations, and reading back what landed."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import yaml
from confluent_kafka import Consumer, TopicPartition

from connector.config import ConnectorConfig, parse_config
from connector.decode.model import NONE, TdType
from connector.decode.render import render_value
from connector.sink.consume import iter_topic_records, row_values
from connector.wal._format import IDX_STRUCT

from ..unit.decode._fixture_data import iter_differences

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tdengine-wal"

# The basic fixture has no CREATE_STB entry, so its schema reaches the
# connector through table_schemas, as an operator would configure it.
BASIC_TABLE_SCHEMAS = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "config" / "fixture-basic.yaml").read_text())["table_schemas"]


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
                extra_kafka: dict | None = None,
                task_overrides: dict | None = None) -> ConnectorConfig:
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
                   **(task_overrides if task_overrides is not None else {"vgroup_id": 2})}],
        "table_schemas": BASIC_TABLE_SCHEMAS if table_schemas is None else table_schemas,
    }
    return parse_config(raw)


def committed_offset(config: ConnectorConfig, topic: str | None = None) -> int:
    """Return the group's committed offset on partition 0 of a task topic (-1001 when none).

    ``topic`` defaults to the first task's topic.
    """
    consumer = Consumer({"bootstrap.servers": config.kafka.bootstrap_servers,
                         "group.id": config.group_id, "enable.auto.commit": False})
    try:
        partition = TopicPartition(topic or config.tasks[0].topic, 0)
        return consumer.committed([partition], timeout=20)[0].offset
    finally:
        consumer.close()


def read_topic(config: ConnectorConfig) -> list[dict[str, Any]]:
    """Return every committed record of the task topic, decoded."""
    return list(iter_topic_records(config, config.tasks[0].topic, idle_timeout_s=3.0))


def rendered_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Render the rows of a SUBMIT record the way expected.json writes them (NONE cells left out)."""
    columns = record["columns"]
    rows = []
    for values in row_values(record):
        row = {}
        for column, value in zip(columns, values):
            if value is not NONE:
                row[column["name"]] = render_value(value, TdType[column["type"]])
        rows.append(row)
    return rows


def record_differences(expected_file: str, records: list[dict[str, Any]], *,
                       first_version: int | None = None) -> list[str]:
    """Compare published records with every SUBMIT row and DELETE range of a fixture WAL.

    Each entry from ``first_version`` on must appear exactly once: one record
    per table block of a SUBMIT, one per uid of a DELETE, none for other
    entries.  Cells are compared exactly; FLOAT cells by their float32 bits.
    """
    expected = expected_entries(expected_file)
    by_version: dict[int, list[dict[str, Any]]] = {}
    for record in records:
        value = record["value"]
        by_version.setdefault(value["source"]["walVersion"], []).append(value)

    problems: list[str] = []
    for entry in expected["entries"]:
        version = entry["version"]
        if first_version is not None and version < first_version:
            continue
        body = entry["body"]
        published = sorted(by_version.pop(version, []), key=lambda v: v["source"]["blockIndex"])
        where = f"v{version}"
        if body["kind"] == "submit":
            problems += _submit_differences(where, body, published)
        elif body["kind"] == "delete":
            problems += _delete_differences(where, body, published)
        elif published:
            problems.append(f"{where}: {body['kind']} entry published {len(published)} record(s)")
    for version in sorted(by_version):
        problems.append(f"v{version}: {len(by_version[version])} record(s) outside the expected range")
    return problems


def _submit_differences(where: str, body: dict[str, Any], published: list[dict[str, Any]]) -> list[str]:
    tables = body["tables"]
    if [v["kind"] for v in published] != ["SUBMIT"] * len(tables):
        return [f"{where}: expected {len(tables)} SUBMIT record(s), got {[v['kind'] for v in published]}"]
    problems: list[str] = []
    for index, (table, value) in enumerate(zip(tables, published)):
        here = f"{where} table {index}"
        source = value["source"]
        if (source["blockIndex"], source["blockCount"]) != (index, len(tables)):
            problems.append(f"{here}: block {source['blockIndex']}/{source['blockCount']}")
        for key, field in (("uid", "uid"), ("suid", "suid"), ("sver", "sver"), ("tableName", "tableName")):
            if value["table"][field] != table[key]:
                problems.append(f"{here}: {field} {value['table'][field]!r}, expected {table[key]!r}")
        float32_keys = frozenset(c["name"] for c in value["columns"] if c["type"] == "FLOAT")
        expected_rows = [{k: v for k, v in row.items() if k not in ("srowFlag", "srowLen")}
                         for row in table["rows"]]
        problems += iter_differences(expected_rows, rendered_rows(value), f"{here}.rows", float32_keys)
    return problems


def _delete_differences(where: str, body: dict[str, Any], published: list[dict[str, Any]]) -> list[str]:
    uids = body["uidList"]
    if [v["kind"] for v in published] != ["DELETE"] * len(uids):
        return [f"{where}: expected {len(uids)} DELETE record(s), got {[v['kind'] for v in published]}"]
    names = body.get("tableNames") or [body.get("tableName")] * len(uids)
    problems = []
    for uid, name, value in zip(uids, names, published):
        actual = (value["table"]["uid"], value["table"]["suid"], value["table"]["tableName"],
                  value["delete"]["startTs"], value["delete"]["endTs"], value["delete"]["affectedRows"])
        wanted = (uid, body["suid"], name, body["skey"], body["ekey"], body["affectedRows"])
        if actual != wanted:
            problems.append(f"{where}: DELETE record {actual}, expected {wanted}")
    return problems


def wait_for_committed(config: ConnectorConfig, target: int, *, timeout_s: float = 60.0,
                       check: Callable[[], None] | None = None, topic: str | None = None) -> int:
    """Poll the committed checkpoint until it reaches ``target`` or ``timeout_s`` passes; return it.

    ``check`` runs on every round, so a caller can fail early (for example
    when the connector process exited).
    """
    deadline = time.monotonic() + timeout_s
    offset = committed_offset(config, topic)
    while offset < target and time.monotonic() < deadline:
        if check is not None:
            check()
        time.sleep(0.2)
        offset = committed_offset(config, topic)
    return offset


def trim_wal(source: Path, target: Path, first_version: int, expected: dict[str, Any]) -> None:
    """Write a copy of a one-segment WAL that starts at ``first_version``, as retention would leave it.

    The entries before ``first_version`` are cut from the .log and the .idx
    slots of the rest are shifted to the new offsets.
    """
    entries = [e for e in expected["entries"] if e["version"] >= first_version]
    log_name = entries[0]["logFile"]
    base = entries[0]["logOffset"]
    data = (source / log_name).read_bytes()[base:]
    target.mkdir(parents=True, exist_ok=True)
    for old in target.iterdir():
        old.unlink()
    stem = f"{first_version:020d}"
    (target / f"{stem}.log").write_bytes(data)
    (target / f"{stem}.idx").write_bytes(b"".join(
        IDX_STRUCT.pack(e["version"], e["logOffset"] - base) for e in entries))
