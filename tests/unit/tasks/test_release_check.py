"""A configured TDengine release must agree with the SUBMIT layout found in the WAL."""

from __future__ import annotations

import pytest

from connector.config import parse_config
from connector.errors import UnsupportedFormatError
from connector.tasks.task import SourceTask
from connector.wal import WalReader

from ..decode._fixture_data import FIXTURES

SCHEMAS = [{
    "super_table": "meters", "suid": 7890123456789012345, "sver": 1,
    "columns": [
        {"name": "ts", "type": "TIMESTAMP", "col_id": 1},
        {"name": "current", "type": "FLOAT", "col_id": 2},
        {"name": "voltage", "type": "INT", "col_id": 3},
        {"name": "phase", "type": "FLOAT", "col_id": 4},
        {"name": "location", "type": "VARCHAR", "col_id": 5, "bytes": 18},
    ],
}]


def decode_all(wal: str, release: str) -> int:
    config = parse_config({
        "connector": {"tdengine_release": release},
        "kafka": {"bootstrap_servers": "127.0.0.1:9"},
        "tasks": [{"name": "a", "wal_dir": str(FIXTURES / wal), "topic": "t", "vgroup_id": 2}],
        "table_schemas": SCHEMAS,
    })
    task = SourceTask(config, config.tasks[0])
    count = 0
    with WalReader(FIXTURES / wal) as reader:
        reader.seek(0)
        while (entry := reader.next_entry()) is not None:
            task.publisher.decode(entry)
            count += 1
    return count


@pytest.mark.parametrize("wal,release", [("basic", "3.3.6.0"), ("basic", "auto"),
                                         ("v3.2.2.2/basic", "3.2.2.2"), ("v3.2.2.2/basic", "auto")])
def test_matching_release_decodes(wal: str, release: str) -> None:
    assert decode_all(wal, release) == 21


@pytest.mark.parametrize("wal,release,found", [("basic", "3.2", 1), ("v3.2.2.2/basic", "3.3.6", 0)])
def test_contradicting_release_halts(wal: str, release: str, found: int) -> None:
    with pytest.raises(UnsupportedFormatError) as caught:
        decode_all(wal, release)
    message = str(caught.value)
    assert f"encoding version {found}" in message
    assert "connector.tdengine_release" in message
    assert "version 1," in message  # the WAL version of the first SUBMIT
