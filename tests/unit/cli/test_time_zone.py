"""Output does not depend on the host time zone: inspect and serialized records, under two TZ values."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ..decode._fixture_data import FIXTURES, table_schemas_config

REPO_ROOT = Path(__file__).resolve().parents[3]
ZONES = ("UTC", "Asia/Shanghai")

# Serializes every record of a WAL with the connector's own code and prints a digest.
_SERIALIZE = """
import hashlib, sys
from connector.config import load_config
from connector.decode import catalog_from_config, decode_message, msg_type_name
from connector.sink.avro import RecordSerializer
from connector.sink.records import RecordContext, build_records
from connector.wal import WalReader

wal_dir, config_path, precision = sys.argv[1:4]
catalog = catalog_from_config(load_config(config_path, require_tasks=False).table_schemas)
serializer = RecordSerializer()
context = RecordContext(connector="c", task="t", vg_id=2, precision=precision)
digest = hashlib.sha256()
with WalReader(wal_dir) as reader:
    reader.seek(0)
    while (entry := reader.next_entry()) is not None:
        message = decode_message(entry.msg_type, entry.body, catalog)
        for record in build_records(context, version=entry.version, ingest_ts=entry.ingest_ts,
                                    msg_type=entry.msg_type, msg_type_name=msg_type_name(entry.msg_type),
                                    message=message):
            for part in serializer.serialize("topic", record.key, record.value):
                digest.update(part)
print(digest.hexdigest())
"""


def run_in_zone(zone: str, args: list[str]) -> bytes:
    env = {**os.environ, "TZ": zone}
    result = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True,
                            check=True)
    return result.stdout


def test_zones_differ_on_this_host() -> None:
    offsets = {run_in_zone(zone, ["-c", "import time; print(time.strftime('%z', time.localtime(0)))"])
               for zone in ZONES}
    assert len(offsets) == 2, "the host lacks zone data, so this module would prove nothing"


@pytest.mark.parametrize("folder,precision", [("types-ms", "ms"), ("types-ns", "ns")])
def test_output_identical_across_zones(folder: str, precision: str, tmp_path: Path) -> None:
    expected = json.loads((FIXTURES / folder / "wal.expected.json").read_text())
    config = tmp_path / "schemas.yaml"
    config.write_text(yaml.safe_dump({"table_schemas": table_schemas_config(expected)}))
    wal_dir = str(FIXTURES / folder / "wal")

    inspect = {zone: run_in_zone(zone, ["-m", "connector.cli", "inspect", wal_dir, "--json",
                                        "-c", str(config)]) for zone in ZONES}
    records = {zone: run_in_zone(zone, ["-c", _SERIALIZE, wal_dir, str(config), precision])
               for zone in ZONES}

    assert inspect["UTC"], "inspect printed nothing"
    assert hashlib.sha256(inspect["UTC"]).digest() == hashlib.sha256(inspect["Asia/Shanghai"]).digest()
    assert records["UTC"].strip()
    assert records["UTC"] == records["Asia/Shanghai"]
